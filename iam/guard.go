package iam

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/config"
)

// AuthzGuardType is the component's type token.
const AuthzGuardType = "privateapi:iam:AuthzGuard"

// AuthzGuardArgs declare the guard from its plan.
type AuthzGuardArgs struct {
	Project string
	Plan    config.GuardPlan
	Labels  map[string]string
	// MemberDeps are the accounts named in Plan.Members that this program creates: nothing is
	// granted to an account that does not exist yet.
	MemberDeps []pulumi.Resource
	DependsOn  []pulumi.Resource
}

// AuthzGuard is an empty bucket, a custom role holding only storage.buckets.get, and the binding
// of that role on that bucket (never on the project, where it would reach every bucket).
type AuthzGuard struct {
	pulumi.ResourceState

	Bucket *storage.Bucket
	Role   *projects.IAMCustomRole
	// BucketName and RoleName are known in a preview.
	BucketName pulumi.StringOutput `pulumi:"bucket"`
	RoleName   pulumi.StringOutput `pulumi:"role"`
}

// NewAuthzGuard registers the guard's resources under one component.
func NewAuthzGuard(ctx *pulumi.Context, name string, args AuthzGuardArgs, opts ...pulumi.ResourceOption) (*AuthzGuard, error) {
	g := &AuthzGuard{}
	if err := ctx.RegisterComponentResource(AuthzGuardType, name, g, opts...); err != nil {
		return nil, err
	}
	p := args.Plan
	role, err := projects.NewIAMCustomRole(ctx, name+"-role", &projects.IAMCustomRoleArgs{
		Project: pulumi.String(args.Project),
		// Set explicitly: auto-naming appends "-xxxxxxx", which role IDs refuse.
		RoleId:      pulumi.String(p.RoleID),
		Title:       pulumi.String(p.RoleTitle),
		Description: pulumi.String(p.Description),
		Permissions: pulumi.ToStringArray(p.Permissions),
		Stage:       pulumi.String("GA"),
	}, pulumi.Parent(g), pulumi.DependsOn(args.DependsOn))
	if err != nil {
		return nil, err
	}
	bucket, err := storage.NewBucket(ctx, name+"-bucket", &storage.BucketArgs{
		Project:                  pulumi.String(args.Project),
		Name:                     pulumi.String(p.Bucket),
		Location:                 pulumi.String(p.Location),
		UniformBucketLevelAccess: pulumi.Bool(true),
		PublicAccessPrevention:   pulumi.String("enforced"),
		// The bucket never holds objects: nothing to version, and nothing that should ever be
		// deleted along with it by force.
		Versioning:   &storage.BucketVersioningArgs{Enabled: pulumi.Bool(false)},
		ForceDestroy: pulumi.Bool(false),
		Labels:       pulumi.ToStringMap(args.Labels),
	}, pulumi.Parent(g), pulumi.DependsOn(args.DependsOn))
	if err != nil {
		return nil, err
	}
	g.Bucket, g.Role = bucket, role
	// IAM refuses a binding with no members; with nobody allowed, no binding is the same policy.
	if len(p.Members) > 0 {
		deps := append([]pulumi.Resource{bucket, role}, args.MemberDeps...)
		if _, err := storage.NewBucketIAMBinding(ctx, name+"-members", &storage.BucketIAMBindingArgs{
			Bucket:  pulumi.String(p.Bucket),
			Role:    pulumi.String(p.RoleName),
			Members: pulumi.ToStringArray(p.Members),
		}, pulumi.Parent(g), pulumi.DependsOn(append(deps, args.DependsOn...))); err != nil {
			return nil, err
		}
	}
	g.BucketName = pulumi.String(p.Bucket).ToStringOutput()
	g.RoleName = pulumi.String(p.RoleName).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{"bucket": g.BucketName, "role": g.RoleName}); err != nil {
		return nil, err
	}
	return g, nil
}
