package iam

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// CallersType is the component's type token.
const CallersType = "privateapi:iam:Callers"

// CallersArgs declare every caller account the program creates.
type CallersArgs struct {
	// Accounts are keyed by caller name, which is also each account's ID and logical name.
	Accounts []*AccountArgs
}

// Callers holds the caller accounts and the bindings on them under one component. One component
// for all callers rather than one per caller: a component costs the engine a registration and an
// outputs call, a third more work per caller under the benchmarks (see docs/scale.md), while
// `pulumi preview` still groups each caller's resources by their shared name prefix.
type Callers struct {
	pulumi.ResourceState

	// Accounts are the created accounts by caller name, for grants elsewhere to depend on.
	Accounts map[string]*serviceaccount.Account
}

// NewCallers registers the component and, under it, each account with its bindings. There is
// one instance per stack, so children are named by caller alone ("orders-batch",
// "orders-batch-policy"): no second instance can collide with them, and a caller's
// resources keep their names whatever else the stack holds. It registers no outputs that depend
// on the callers, so onboarding one changes nothing on the component itself.
func NewCallers(ctx *pulumi.Context, name string, args *CallersArgs, opts ...pulumi.ResourceOption) (*Callers, error) {
	c := &Callers{Accounts: make(map[string]*serviceaccount.Account, len(args.Accounts))}
	if err := ctx.RegisterComponentResource(CallersType, name, c, opts...); err != nil {
		return nil, err
	}
	for _, a := range args.Accounts {
		acct, err := NewAccount(ctx, a.Account.ID, a, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.Accounts[a.Account.ID] = acct
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{}); err != nil {
		return nil, err
	}
	return c, nil
}
