package iam

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/plan"
)

// AuthzGuardType is the component's type token.
const AuthzGuardType = "privateapi:iam:AuthzGuard"

// AuthzGuardArgs declare the authz guard: its custom role and its bucket.
type AuthzGuardArgs struct {
	Project string
	// Role is the custom role to create; nil when the guard uses one made elsewhere.
	Role *plan.Role
	// RoleName is the role granted on the bucket, created here or not.
	RoleName string
	// Bucket is nil when the guard is off: then only the role stays (see plan.AuthzGuard).
	Bucket *plan.Bucket
	// Bindings are the bucket's whole policy (plan.AuthzGuard.BucketBindings): every principal
	// that holds anything on the bucket.
	Bindings []plan.Binding
	Labels   map[string]string
	// MemberDeps are the accounts named in Bindings that this program creates: nothing is
	// granted to an account that does not exist yet.
	MemberDeps []pulumi.Resource
	DependsOn  []pulumi.Resource
}

// AuthzGuard is an empty bucket, a custom role holding only storage.buckets.get, and the bucket's
// whole IAM policy, which grants that role (never on the project, where it would reach every
// bucket) and nothing else.
type AuthzGuard struct {
	pulumi.ResourceState

	// Role is nil when the role was made elsewhere; Bucket is nil when the guard is off.
	Role   *projects.IAMCustomRole
	Bucket *storage.Bucket
	// RoleName is known in a preview.
	RoleName pulumi.StringOutput `pulumi:"role"`
}

// NewAuthzGuard registers the role and the bucket with its policy under one component.
func NewAuthzGuard(ctx *pulumi.Context, name string, args *AuthzGuardArgs, opts ...pulumi.ResourceOption) (*AuthzGuard, error) {
	g := &AuthzGuard{}
	if err := ctx.RegisterComponentResource(AuthzGuardType, name, g, opts...); err != nil {
		return nil, err
	}
	g.RoleName = pulumi.String(args.RoleName).ToStringOutput()
	if r := args.Role; r != nil {
		role, err := projects.NewIAMCustomRole(ctx, name+"-role", &projects.IAMCustomRoleArgs{
			Project: pulumi.String(args.Project),
			// Set explicitly: auto-naming appends "-xxxxxxx", which role IDs refuse.
			RoleId:      pulumi.String(r.ID),
			Title:       pulumi.String(r.Title),
			Description: pulumi.String(r.Description),
			Permissions: pulumi.ToStringArray(r.Permissions),
			Stage:       pulumi.String("GA"),
		}, pulumi.Parent(g), pulumi.DependsOn(args.DependsOn))
		if err != nil {
			return nil, err
		}
		g.Role = role
		g.RoleName = Named(ctx, args.RoleName, role)
	}
	outputs := pulumi.Map{"role": g.RoleName}
	if b := args.Bucket; b != nil {
		bucket, err := storage.NewBucket(ctx, name+"-bucket", &storage.BucketArgs{
			Project:                  pulumi.String(args.Project),
			Name:                     pulumi.String(b.Name),
			Location:                 pulumi.String(b.Location),
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
		g.Bucket = bucket
		if err := newBucketPolicy(ctx, name+"-policy", g, args); err != nil {
			return nil, err
		}
		outputs["bucket"] = bucket.Name
	}
	if err := ctx.RegisterResourceOutputs(g, outputs); err != nil {
		return nil, err
	}
	return g, nil
}

// newBucketPolicy owns the bucket's whole IAM policy. A new bucket carries convenience bindings
// (project owners and editors as legacyBucketOwner, viewers as legacyBucketReader), and both hold
// storage.buckets.get: a binding beside them would let every project member pass the guard.
func newBucketPolicy(ctx *pulumi.Context, name string, g *AuthzGuard, args *AuthzGuardArgs) error {
	doc := PolicyData(args.Bindings)
	// The bucket and the role reach the policy as properties, not dependsOn alone: when either is
	// replaced (a new location, a new role ID), the engine replaces or updates the policy with it,
	// instead of leaving the new bucket with Storage's default policy.
	policyData := pulumi.String(doc).ToStringOutput()
	if g.Role != nil {
		policyData = Named(ctx, doc, g.Role)
	}
	_, err := storage.NewBucketIAMPolicy(ctx, name, &storage.BucketIAMPolicyArgs{
		Bucket:     g.Bucket.Name,
		PolicyData: policyData,
	}, pulumi.Parent(g), dependsOn(g.Bucket, args.MemberDeps, args.DependsOn))
	return err
}
