// Package iam owns identities and who may use them: service accounts with the role bindings on
// them, and the authz guard (a custom role held on an empty bucket).
package iam

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/config"
)

// ServiceAccountType is the component's type token.
const ServiceAccountType = "privateapi:iam:ServiceAccount"

// ServiceAccountArgs declare one service account and the IAM on it. The email, member and
// resource name come computed from config (as Cloud Foundation Fabric's iam-service-account
// module does), so bindings show real principals in a preview.
type ServiceAccountArgs struct {
	Project     string
	Account     config.Account
	DisplayName string
	Description string
	// Bindings are authoritative bindings on the account: the program owns it, so a grant added
	// by hand for the same role and condition is removed on the next `pulumi up`.
	Bindings []config.Binding
	// Protect guards the account itself against deletion (not its bindings, which must follow
	// config freely).
	Protect bool
	// DependsOn lists what must exist first (the enabled APIs).
	DependsOn []pulumi.Resource
}

// ServiceAccount is a service account with role-keyed bindings on it.
type ServiceAccount struct {
	pulumi.ResourceState

	Account *serviceaccount.Account
	// Email, Member and Name are known in a preview.
	Email  pulumi.StringOutput `pulumi:"email"`
	Member pulumi.StringOutput `pulumi:"member"`
	Name   pulumi.StringOutput `pulumi:"name"`
}

// NewServiceAccount registers the account and its bindings as children of one component named
// name; children's names start with name so that instances never collide.
func NewServiceAccount(ctx *pulumi.Context, name string, args ServiceAccountArgs, opts ...pulumi.ResourceOption) (*ServiceAccount, error) {
	sa := &ServiceAccount{}
	if err := ctx.RegisterComponentResource(ServiceAccountType, name, sa, opts...); err != nil {
		return nil, err
	}
	acct, err := declareAccount(ctx, name, args, sa)
	if err != nil {
		return nil, err
	}
	sa.Account = acct
	sa.Email = pulumi.String(args.Account.Email).ToStringOutput()
	sa.Member = pulumi.String(args.Account.Member).ToStringOutput()
	sa.Name = pulumi.String(args.Account.Name).ToStringOutput()
	// Plain values, known from config: outputs here would each be awaited before the call.
	if err := ctx.RegisterResourceOutputs(sa, pulumi.Map{
		"email":  pulumi.String(args.Account.Email),
		"member": pulumi.String(args.Account.Member),
		"name":   pulumi.String(args.Account.Name),
	}); err != nil {
		return nil, err
	}
	return sa, nil
}

// declareAccount registers one account and its authoritative bindings under parent; the
// bindings' names start with name.
func declareAccount(ctx *pulumi.Context, name string, args ServiceAccountArgs, parent pulumi.Resource) (*serviceaccount.Account, error) {
	acct, err := serviceaccount.NewAccount(ctx, name, &serviceaccount.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.Account.ID),
		DisplayName: pulumi.String(args.DisplayName),
		Description: pulumi.String(args.Description),
	}, pulumi.Parent(parent), pulumi.DependsOn(args.DependsOn), pulumi.Protect(args.Protect))
	if err != nil {
		return nil, err
	}
	// The account's name is computed from config, not read from acct, so the dependency is
	// explicit: nothing is granted on an account that does not exist yet.
	deps := append([]pulumi.Resource{acct}, args.DependsOn...)
	for _, b := range args.Bindings {
		bargs := &serviceaccount.IAMBindingArgs{
			ServiceAccountId: pulumi.String(args.Account.Name),
			Role:             pulumi.String(b.Role),
			Members:          pulumi.ToStringArray(b.Members),
		}
		if b.Expires != nil {
			bargs.Condition = &serviceaccount.IAMBindingConditionArgs{
				Title:      pulumi.String(b.ConditionTitle()),
				Expression: pulumi.String(b.ConditionExpression()),
			}
		}
		if _, err := serviceaccount.NewIAMBinding(ctx, name+"-"+b.Key, bargs, pulumi.Parent(parent), pulumi.DependsOn(deps)); err != nil {
			return nil, err
		}
	}
	return acct, nil
}
