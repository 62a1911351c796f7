package iam

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/plan"
)

// AccountArgs declare one service account and the IAM on it. The email, member and resource
// name come computed from config (as Fabric's iam-service-account module does), so bindings show
// real principals in a preview.
type AccountArgs struct {
	Project     string
	Account     plan.Account
	DisplayName string
	Description string
	// IAM and IAMBindings are the authoritative bindings on the account (see package doc).
	IAM         map[string][]string
	IAMBindings map[string]Binding
	// Protect guards the account itself against deletion (not its bindings, which must follow
	// config freely).
	Protect bool
	// DependsOn lists what must exist first (the enabled APIs).
	DependsOn []pulumi.Resource
}

// NewAccount registers one account and its bindings; pass the parent component in opts. The
// account is named name and its bindings' names start with it. It is not a component of its own:
// a component per account costs the engine a registration and an outputs call each, which under
// the benchmarks was a third more work per caller (README, "Scale").
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
	// The account's name is computed from config (known in a preview) and carries a property
	// dependency on acct: nothing is granted on an account that does not exist yet, and a
	// replaced account takes its bindings with it.
	deps := append([]pulumi.Resource{acct}, args.DependsOn...)
	target := Named(ctx, args.Account.Name, acct)
	for _, b := range Bindings(args.IAM, args.IAMBindings) {
		bargs := &serviceaccount.IAMBindingArgs{
			ServiceAccountId: target,
			Role:             pulumi.String(b.Role),
			Members:          pulumi.ToStringArray(b.Members),
		}
		if c := b.Condition; c != nil {
			bargs.Condition = &serviceaccount.IAMBindingConditionArgs{Title: pulumi.String(c.Title), Expression: pulumi.String(c.Expression)}
		}
		if _, err := serviceaccount.NewIAMBinding(ctx, name+"-"+b.Key, bargs, with(opts, pulumi.DependsOn(deps))...); err != nil {
			return nil, err
		}
	}
	return acct, nil
}
