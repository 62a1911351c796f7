package iam

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/plan"
)

// AccountArgs declare one service account and the IAM on it. The email, member and resource
// name come computed from config (as Fabric's iam-service-account module does), so bindings show
// real principals in a preview.
type AccountArgs struct {
	Project     string
	Account     plan.Account
	DisplayName string
	Description string
	// Bindings are the account's whole IAM policy (plan.Caller.AccountBindings for a caller's
	// account; none for the runtime account, which nobody may impersonate).
	Bindings []plan.Binding
	// Protect guards the account itself against deletion (not its bindings, which must follow
	// config freely).
	Protect bool
	// DependsOn lists what must exist first (the enabled APIs).
	DependsOn []pulumi.Resource
}

// NewAccount registers one account and its whole IAM policy; pass the parent component in opts.
// The account is named name and its policy name+"-policy". It is not a component of its own:
// a component per account costs the engine a registration and an outputs call each, which under
// the benchmarks was a third more work per caller (docs/scale.md, "Scale").
func NewAccount(ctx *pulumi.Context, name string, args *AccountArgs, opts ...pulumi.ResourceOption) (*serviceaccount.Account, error) {
	acct, err := serviceaccount.NewAccount(ctx, name, &serviceaccount.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.Account.ID),
		DisplayName: pulumi.String(args.DisplayName),
		Description: pulumi.String(args.Description),
	}, with(opts, pulumi.DependsOn(args.DependsOn), pulumi.Protect(args.Protect))...)
	if err != nil {
		return nil, err
	}
	// The account's whole allow policy: the declared bindings and nothing else, so that a
	// token creator, actAs or key admin added by hand is gone after the next `pulumi up
	// --refresh`. The provider writes it with policy version 3 and no etag (a blind overwrite,
	// which keeps expiry conditions), and a delete writes an empty policy. The account's name is
	// computed from config (known in a preview) and carries a property dependency on acct:
	// nothing is granted on an account that does not exist yet, and a replaced account takes its
	// policy with it.
	if _, err := serviceaccount.NewIAMPolicy(ctx, name+"-policy", &serviceaccount.IAMPolicyArgs{
		ServiceAccountId: Named(ctx, args.Account.Name, acct),
		PolicyData:       pulumi.String(PolicyData(args.Bindings)),
	}, with(opts, dependsOn(acct, args.DependsOn))...); err != nil {
		return nil, err
	}
	return acct, nil
}
