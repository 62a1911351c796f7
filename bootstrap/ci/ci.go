package ci

import (
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/iam"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/config"
)

// GitHub repository variables the workflows read; the stack exports their values under the same
// names (output githubVariables) so that setting them is a copy, not a translation.
const (
	VarWorkloadIdentityProvider = "GCP_WORKLOAD_IDENTITY_PROVIDER"
	VarPreviewServiceAccount    = "GCP_PREVIEW_SERVICE_ACCOUNT"
	VarDeployServiceAccount     = "GCP_DEPLOY_SERVICE_ACCOUNT"
	VarBackendURL               = "PULUMI_BACKEND_URL"
)

// Options adjust RunWith for tests; the zero value is what `pulumi up` uses.
type Options struct {
	// Export receives each stack output; default ctx.Export.
	Export func(name string, value pulumi.Input)
	// ConfigKeys lists every config key the stack sets, for reporting unknown ones; default read
	// from PULUMI_CONFIG, where the Pulumi language host passes the whole stack config.
	ConfigKeys []string
}

// Run is the whole bootstrap program: pulumi.Run(ci.Run) in bootstrap/main.go.
func Run(ctx *pulumi.Context) error { return RunWith(ctx, Options{}) }

// RunWith is Run with options. An invalid config returns a *config.Error listing every problem,
// before any resource is registered.
func RunWith(ctx *pulumi.Context, opts Options) error {
	if opts.Export == nil {
		opts.Export = ctx.Export
	}
	if opts.ConfigKeys == nil {
		opts.ConfigKeys = config.EngineConfigKeys()
	}
	cfg, err := Load(ctx.Project(), ctx.GetConfig, opts.ConfigKeys)
	if err != nil {
		return err
	}
	outputs, err := Declare(ctx, Resolve(cfg))
	if err != nil {
		return err
	}
	names := make([]string, 0, len(outputs))
	for k := range outputs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		opts.Export(name, outputs[name])
	}
	return nil
}

// Outputs are the stack outputs Declare produces, by name.
type Outputs map[string]pulumi.Input

// Declare registers the plan's resources and returns the stack outputs.
func Declare(ctx *pulumi.Context, p *Plan) (Outputs, error) {
	project := pulumi.String(p.Project)
	var apis []pulumi.Resource
	if p.EnableAPIs {
		for _, api := range p.APIs {
			svc, err := projects.NewService(ctx, "api-"+api, &projects.ServiceArgs{
				Project: project,
				Service: pulumi.String(api),
				// Other workloads, and the main stack, rely on these APIs: destroying the
				// bootstrap must not switch them off.
				DisableOnDestroy:         pulumi.Bool(false),
				DisableDependentServices: pulumi.Bool(false),
			})
			if err != nil {
				return nil, err
			}
			apis = append(apis, svc)
		}
	}
	protect := pulumi.Protect(p.Protect)

	// A deleted pool or provider is kept for 30 days and its ID cannot be reused meanwhile, so an
	// accidental destroy would cut CI off for a month: both are protected like the accounts.
	pool, err := iam.NewWorkloadIdentityPool(ctx, "github-pool", &iam.WorkloadIdentityPoolArgs{
		Project:                project,
		WorkloadIdentityPoolId: pulumi.String(p.PoolID),
		DisplayName:            pulumi.String("GitHub Actions"),
		Description:            pulumi.String(limit("Workflows of "+p.Repository+" only. Add no provider for another repository: bindings on this pool trust its attributes.", 256)),
	}, pulumi.DependsOn(apis), protect)
	if err != nil {
		return nil, err
	}
	provider, err := iam.NewWorkloadIdentityPoolProvider(ctx, "github-provider", &iam.WorkloadIdentityPoolProviderArgs{
		Project:                        project,
		WorkloadIdentityPoolId:         pool.WorkloadIdentityPoolId,
		WorkloadIdentityPoolProviderId: pulumi.String(p.ProviderID),
		DisplayName:                    pulumi.String("GitHub " + shortName(p.Repository)),
		Description:                    pulumi.String(limit("GitHub Actions OIDC tokens of "+p.Repository+"; every other repository is refused by the attribute condition.", 256)),
		AttributeMapping:               pulumi.ToStringMap(p.AttributeMapping),
		// GitHub signs tokens for every repository with the same issuer: without this condition
		// any workflow on GitHub could exchange its token in this pool.
		AttributeCondition: pulumi.String(p.AttributeCondition),
		Oidc: &iam.WorkloadIdentityPoolProviderOidcArgs{
			IssuerUri: pulumi.String(GitHubIssuer),
			// No allowed audiences: Google then accepts only the provider's own resource URL,
			// which is the audience google-github-actions/auth requests by default.
		},
	}, pulumi.DependsOn(apis), protect)
	if err != nil {
		return nil, err
	}

	preview, err := newAccount(ctx, "preview", p, p.PreviewAccess, pool, apis, protect,
		"CI preview (read-only)", "Impersonated by every workflow of "+p.Repository+", pull requests included, to run `pulumi preview`. Holds read-only roles only.")
	if err != nil {
		return nil, err
	}
	deploy, err := newAccount(ctx, "deploy", p, p.DeployAccess, pool, apis, protect,
		"CI deploy", "Impersonated only by workflows of "+p.Repository+" running on "+p.DeployRef+", to run `pulumi up`.")
	if err != nil {
		return nil, err
	}
	accounts := map[string]pulumi.Resource{p.Preview.Member: preview, p.Deploy.Member: deploy}

	role, err := projects.NewIAMCustomRole(ctx, "deploy-bucket-role", &projects.IAMCustomRoleArgs{
		Project: project,
		// Set explicitly: auto-naming appends "-xxxxxxx", which role IDs refuse.
		RoleId:      pulumi.String(p.BucketRole.ID),
		Title:       pulumi.String(p.BucketRole.Title),
		Description: pulumi.String(p.BucketRole.Description),
		Permissions: pulumi.ToStringArray(p.BucketRole.Permissions),
		Stage:       pulumi.String("GA"),
	}, pulumi.DependsOn(apis))
	if err != nil {
		return nil, err
	}

	for _, g := range p.Grants {
		// Members and targets are computed up front, so the order is made explicit: nothing is
		// granted to an account, or with a role, that does not exist yet.
		deps := []pulumi.Resource{accounts[g.Member]}
		if g.CustomRole {
			deps = append(deps, role)
		}
		opt := pulumi.DependsOn(deps)
		// Every grant here is additive (a member, never a binding): the project, the runtime
		// account and the state bucket belong to other owners, whose grants of the same roles
		// must survive.
		switch g.Scope {
		case ScopeProject:
			_, err = projects.NewIAMMember(ctx, g.Key, &projects.IAMMemberArgs{
				Project: pulumi.String(g.Target), Role: pulumi.String(g.Role), Member: pulumi.String(g.Member),
			}, opt)
		case ScopeServiceAccount:
			_, err = serviceaccount.NewIAMMember(ctx, g.Key, &serviceaccount.IAMMemberArgs{
				ServiceAccountId: pulumi.String(g.Target), Role: pulumi.String(g.Role), Member: pulumi.String(g.Member),
			}, opt)
		case ScopeBucket:
			_, err = storage.NewBucketIAMMember(ctx, g.Key, &storage.BucketIAMMemberArgs{
				Bucket: pulumi.String(g.Target), Role: pulumi.String(g.Role), Member: pulumi.String(g.Member),
			}, opt)
		default:
			err = fmt.Errorf("grant %s: unknown scope %q", g.Key, g.Scope)
		}
		if err != nil {
			return nil, err
		}
	}

	backend := pulumi.String("gs://" + p.StateBucket)
	return Outputs{
		// The provider's full resource name carries the project number, which only Google knows:
		// it is the value of workload_identity_provider in the workflows.
		"workloadIdentityProvider": provider.Name,
		"workloadIdentityPool":     pool.Name,
		"previewServiceAccount":    pulumi.String(p.Preview.Email),
		"deployServiceAccount":     pulumi.String(p.Deploy.Email),
		"attributeCondition":       pulumi.String(p.AttributeCondition),
		"deployRef":                pulumi.String(p.DeployRef),
		"githubVariables": pulumi.StringMap{
			VarWorkloadIdentityProvider: provider.Name,
			VarPreviewServiceAccount:    pulumi.String(p.Preview.Email),
			VarDeployServiceAccount:     pulumi.String(p.Deploy.Email),
			VarBackendURL:               backend,
		},
	}, nil
}

// newAccount creates one CI account and the one authoritative binding of
// roles/iam.workloadIdentityUser on it. The binding is authoritative because the bootstrap owns
// the account: anyone added by hand is removed on the next `pulumi up`.
func newAccount(ctx *pulumi.Context, name string, p *Plan, access Impersonation, pool *iam.WorkloadIdentityPool,
	apis []pulumi.Resource, protect pulumi.ResourceOption, display, description string) (*serviceaccount.Account, error) {
	acct, err := serviceaccount.NewAccount(ctx, name+"-account", &serviceaccount.AccountArgs{
		Project:     pulumi.String(p.Project),
		AccountId:   pulumi.String(access.Account.ID),
		DisplayName: pulumi.String(display),
		// Google refuses a description over 256 bytes; a long repository and branch name
		// should cost the tail of a sentence, not the deploy.
		Description: pulumi.String(limit(description, 256)),
	}, pulumi.DependsOn(apis), protect)
	if err != nil {
		return nil, err
	}
	member := pool.Name.ApplyT(func(poolName string) string { return access.PrincipalSet(poolName) }).(pulumi.StringOutput)
	if _, err := serviceaccount.NewIAMBinding(ctx, name+"-workload-identity-user", &serviceaccount.IAMBindingArgs{
		ServiceAccountId: pulumi.String(access.Account.Name),
		Role:             pulumi.String(RoleWorkloadIdentityUser),
		Members:          pulumi.StringArray{member},
	}, pulumi.DependsOn([]pulumi.Resource{acct})); err != nil {
		return nil, err
	}
	return acct, nil
}

// limit cuts s to at most n bytes, on a rune boundary.
func limit(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// shortName keeps the provider's display name within Google's 32 characters.
func shortName(repo string) string {
	if len(repo) > 25 {
		return repo[:22] + "..."
	}
	return repo
}
