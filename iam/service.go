package iam

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/secretmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/plan"
)

// ServicePolicyArgs declare a Cloud Run service's whole IAM policy.
type ServicePolicyArgs struct {
	Project string
	Region  string
	// Name is the service's name, known in a preview; Service is the resource that owns it.
	Name    string
	Service pulumi.Resource
	// Bindings are the whole policy: plan.Stack.ServiceBindings, the callers that invoke.
	Bindings []plan.Binding
	// MemberDeps are the accounts named in Bindings that this program creates: nothing is
	// granted to an account that does not exist yet.
	MemberDeps []pulumi.Resource
	DependsOn  []pulumi.Resource
}

// NewServicePolicy registers the service's whole IAM policy, the declared invokers and nothing
// else; pass the service's parent component in opts. A binding per role would leave a hand-added
// roles/run.admin (or allUsers, once no caller invokes) in place.
func NewServicePolicy(ctx *pulumi.Context, name string, args *ServicePolicyArgs, opts ...pulumi.ResourceOption) (*cloudrunv2.ServiceIamPolicy, error) {
	return cloudrunv2.NewServiceIamPolicy(ctx, name, &cloudrunv2.ServiceIamPolicyArgs{
		Project:    pulumi.String(args.Project),
		Location:   pulumi.String(args.Region),
		Name:       Named(ctx, args.Name, args.Service), // a replaced service takes its policy with it
		PolicyData: pulumi.String(PolicyData(args.Bindings)),
	}, with(opts, dependsOn(args.Service, args.MemberDeps, args.DependsOn))...)
}

// SecretAccessArgs declare an account's read access to the secrets it reads.
type SecretAccessArgs struct {
	// Secrets are the distinct secrets (plan.Service.Secrets).
	Secrets []config.SecretRef
	// Member is the account's IAM member; when this program creates the account, it carries a
	// property dependency on it (Named).
	Member pulumi.StringInput
	// DependsOn lists what must exist first: the account when created here, the enabled APIs.
	DependsOn []pulumi.Resource
}

// NewSecretAccess grants Member plan.RoleSecretAccessor on each secret alone, never on the
// project, as name+"-secret-"+key; pass the parent component in opts. The grant is additive
// (IAMMember): the secret is not the program's, and an authoritative binding would remove whoever
// else reads it. It returns the grants, for a service that must wait for them: Cloud Run checks
// access to every secret when it deploys a revision.
func NewSecretAccess(ctx *pulumi.Context, name string, args *SecretAccessArgs, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	for _, sec := range args.Secrets {
		m, err := secretmanager.NewSecretIamMember(ctx, name+"-secret-"+sec.Key, &secretmanager.SecretIamMemberArgs{
			Project:  pulumi.String(sec.Project),
			SecretId: pulumi.String(sec.ID),
			Role:     pulumi.String(plan.RoleSecretAccessor),
			Member:   args.Member,
		}, with(opts, pulumi.DependsOn(args.DependsOn))...)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
