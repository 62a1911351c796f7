package ci

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/iam"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/secretmanager"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/entrypoint"
)

// GitHub variables the workflows read; the stack exports their values under the same names
// (output githubVariables) so that setting them is a copy, not a translation.
const (
	VarWorkloadIdentityProvider = "GCP_WORKLOAD_IDENTITY_PROVIDER"
	VarPreviewServiceAccount    = "GCP_PREVIEW_SERVICE_ACCOUNT"
	VarDeployServiceAccount     = "GCP_DEPLOY_SERVICE_ACCOUNT"
	VarAuditServiceAccount      = "GCP_AUDIT_SERVICE_ACCOUNT"
	VarBackendURL               = "PULUMI_BACKEND_URL"
)

// Run is the whole bootstrap program: pulumi.Run(ci.Run) in bootstrap/main.go.
func Run(ctx *pulumi.Context) error { return RunWith(ctx, entrypoint.Options{}) }

// RunWith is Run with options. An invalid config returns a *diag.ConfigError listing every problem,
// before any resource is registered.
func RunWith(ctx *pulumi.Context, opts entrypoint.Options) error {
	opts = opts.WithDefaults(ctx)
	cfg, err := Load(ctx.Project(), ctx.GetConfig, opts.ConfigKeys)
	if err != nil {
		return err
	}
	outputs, err := Declare(ctx, Resolve(cfg))
	if err != nil {
		return err
	}
	outputs.ExportTo(opts.Export)
	return nil
}

// Declare registers the plan's resources and returns the stack outputs.
func Declare(ctx *pulumi.Context, p *Stack) (entrypoint.Outputs, error) {
	apis := map[string][]pulumi.Resource{}
	if p.EnableAPIs {
		for _, group := range p.APIs {
			for _, api := range group.APIs {
				svc, err := projects.NewService(ctx, group.Key+"-"+api, &projects.ServiceArgs{
					Project: pulumi.String(group.Project),
					Service: pulumi.String(api),
					// Other workloads, and the main stack, rely on these APIs: destroying the
					// bootstrap must not switch them off.
					DisableOnDestroy:         pulumi.Bool(false),
					DisableDependentServices: pulumi.Bool(false),
				})
				if err != nil {
					return nil, err
				}
				apis[group.Project] = append(apis[group.Project], svc)
			}
		}
	}
	ciAPIs, appAPIs := pulumi.DependsOn(apis[p.CIProject]), pulumi.DependsOn(apis[p.Project])
	protect := pulumi.Protect(p.Protect)

	// A deleted pool or provider is kept for 30 days and its ID cannot be reused meanwhile, so an
	// accidental destroy would cut CI off for a month: both are protected like the accounts.
	pool, err := iam.NewWorkloadIdentityPool(ctx, "github-pool", &iam.WorkloadIdentityPoolArgs{
		Project:                pulumi.String(p.CIProject),
		WorkloadIdentityPoolId: pulumi.String(p.PoolID),
		DisplayName:            pulumi.String("GitHub Actions"),
		Description:            pulumi.String(limit("Workflows of "+p.Repository+" only. Add no provider for another repository: bindings on this pool trust its attributes.", 256)),
	}, ciAPIs, protect)
	if err != nil {
		return nil, err
	}
	_, err = iam.NewWorkloadIdentityPoolProvider(ctx, "github-provider", &iam.WorkloadIdentityPoolProviderArgs{
		Project:                        pulumi.String(p.CIProject),
		WorkloadIdentityPoolId:         pool.WorkloadIdentityPoolId,
		WorkloadIdentityPoolProviderId: pulumi.String(p.ProviderID),
		DisplayName:                    pulumi.String("GitHub " + shortName(p.Repository)),
		Description:                    pulumi.String(limit("GitHub Actions OIDC tokens of repository ID "+p.RepositoryID+" ("+p.Repository+"), for "+strings.Join(AcceptedEvents(), ", ")+" runs only.", 256)),
		AttributeMapping:               pulumi.ToStringMap(p.Mapping.CEL()),
		AttributeCondition:             pulumi.String(p.Condition.CEL()),
		Oidc: &iam.WorkloadIdentityPoolProviderOidcArgs{
			IssuerUri: pulumi.String(GitHubIssuer),
			// No allowed audiences: Google then accepts only the provider's own resource URL,
			// which is the audience google-github-actions/auth requests by default.
		},
	}, ciAPIs, protect)
	if err != nil {
		return nil, err
	}

	preview, err := newCIAccount(ctx, "preview", p.CIProject, p.PreviewAccess, p.PoolName, pool, ciAPIs, protect,
		"CI preview (state only)", "Impersonated by pull_request runs of "+p.Repository+" to run `pulumi preview`. Reads the main stack's state and nothing else.")
	if err != nil {
		return nil, err
	}
	deploy, err := newCIAccount(ctx, "deploy", p.CIProject, p.DeployAccess, p.PoolName, pool, ciAPIs, protect,
		"CI deploy", "Impersonated only by "+p.DeployWorkflowRef+" in environment "+p.DeployEnvironment+", to run `pulumi up` of the main stack.")
	if err != nil {
		return nil, err
	}
	audit, err := newCIAccount(ctx, "audit", p.CIProject, p.AuditAccess, p.PoolName, pool, ciAPIs, protect,
		"CI audit (read-only)", "Impersonated only by "+p.AuditWorkflowRef+" on "+strings.Join(AuditEvents, " or ")+", to run access -live. Reads IAM policies and audit logs, nothing else.")
	if err != nil {
		return nil, err
	}
	runtime, err := serviceaccount.NewAccount(ctx, "runtime-account", &serviceaccount.AccountArgs{
		Project:     pulumi.String(p.Project),
		AccountId:   pulumi.String(p.Runtime.ID),
		DisplayName: pulumi.String("Cloud Run runtime"),
		// The main stack references this account (service.runtimeAccount) and grants it only
		// secretAccessor on the secrets the service reads (each on that secret alone).
		Description: pulumi.String("Identity the private Cloud Run service runs as. Owned by the CI bootstrap so that the deploy account may act as it without owning it. Grant it only what the service itself calls."),
	}, appAPIs, protect)
	if err != nil {
		return nil, err
	}
	created := map[string]pulumi.Resource{p.Preview.Member: preview, p.Deploy.Member: deploy, p.Audit.Member: audit, p.Runtime.Name: runtime}

	roles := map[string]pulumi.Resource{}
	for _, r := range p.Roles {
		role, err := projects.NewIAMCustomRole(ctx, r.Key, &projects.IAMCustomRoleArgs{
			Project: pulumi.String(r.Project),
			// Set explicitly: auto-naming appends "-xxxxxxx", which role IDs refuse.
			RoleId:      pulumi.String(r.ID),
			Title:       pulumi.String(r.Title),
			Description: pulumi.String(limit(r.Description, 256)),
			Permissions: pulumi.ToStringArray(r.PermissionNames()),
			Stage:       pulumi.String("GA"),
		}, pulumi.DependsOn(apis[r.Project]), pulumi.Protect(r.Protect && p.Protect))
		if err != nil {
			return nil, err
		}
		roles[r.Key] = role
	}

	for _, g := range p.Grants {
		// Members and targets are computed up front, so the order is made explicit: nothing is
		// granted to an account, on an account, or with a role, that does not exist yet.
		var deps []pulumi.Resource
		for _, k := range []string{g.Member, g.Target} {
			if r, ok := created[k]; ok {
				deps = append(deps, r)
			}
		}
		if g.CustomRole != "" {
			deps = append(deps, roles[g.CustomRole])
		}
		opt := pulumi.DependsOn(deps)
		switch {
		case g.Scope == ScopeProject && !g.Authoritative:
			args := &projects.IAMMemberArgs{Project: pulumi.String(g.Target), Role: pulumi.String(g.Role), Member: pulumi.String(g.Member)}
			if c := g.Condition; c != nil {
				args.Condition = &projects.IAMMemberConditionArgs{
					Title: pulumi.String(c.Title), Description: pulumi.String(c.Description), Expression: pulumi.String(c.Expression),
				}
			}
			_, err = projects.NewIAMMember(ctx, g.Key, args, opt)
		case g.Scope == ScopeServiceAccount && g.Authoritative && g.Condition == nil:
			// The bootstrap owns the account: anyone else added for this role is removed on the
			// next `pulumi up`.
			_, err = serviceaccount.NewIAMBinding(ctx, g.Key, &serviceaccount.IAMBindingArgs{
				ServiceAccountId: pulumi.String(g.Target), Role: pulumi.String(g.Role), Members: pulumi.StringArray{pulumi.String(g.Member)},
			}, opt)
		case g.Scope == ScopeBucket && !g.Authoritative && g.Condition == nil:
			// The state bucket is the admin's: other grants of the same role on it must survive.
			_, err = storage.NewBucketIAMMember(ctx, g.Key, &storage.BucketIAMMemberArgs{
				Bucket: pulumi.String(g.Target), Role: pulumi.String(g.Role), Member: pulumi.String(g.Member),
			}, opt)
		case g.Scope == ScopeSecret && !g.Authoritative && g.Condition == nil:
			// The secret is not the bootstrap's: its owners' bindings, and the accessor binding
			// the main stack adds, must survive.
			project, id, _ := cutResourceName(g.Target, "secrets")
			_, err = secretmanager.NewSecretIamMember(ctx, g.Key, &secretmanager.SecretIamMemberArgs{
				Project: pulumi.String(project), SecretId: pulumi.String(id), Role: pulumi.String(g.Role), Member: pulumi.String(g.Member),
			}, opt)
		case g.Scope == ScopeSubnetwork && !g.Authoritative && g.Condition == nil:
			// A Shared VPC subnetwork belongs to the network's owners, who grant it to others too.
			project, name, region := cutResourceName(g.Target, "subnetworks")
			_, err = compute.NewSubnetworkIAMMember(ctx, g.Key, &compute.SubnetworkIAMMemberArgs{
				Project: pulumi.String(project), Region: pulumi.String(region), Subnetwork: pulumi.String(name),
				Role: pulumi.String(g.Role), Member: pulumi.String(g.Member),
			}, opt)
		default:
			err = fmt.Errorf("grant %s: no resource declares a %s grant (authoritative %v, conditioned %v)", g.Key, g.Scope, g.Authoritative, g.Condition != nil)
		}
		if err != nil {
			return nil, err
		}
	}

	// Token minting as the caller accounts is recorded only as a Data Access audit log of the IAM
	// API, in the project that holds the accounts. The config is part of that project's IAM
	// policy, which the deploy account must never be able to set: hence here, in the admin-run
	// stack. Authoritative for this one service (the provider replaces that service's audit
	// config and leaves the others), with no exempted members, so that nobody mints unrecorded.
	if _, err := projects.NewIAMAuditConfig(ctx, "iam-data-access-audit", &projects.IAMAuditConfigArgs{
		Project: pulumi.String(p.AuditLog.Project),
		Service: pulumi.String(p.AuditLog.Service),
		AuditLogConfigs: projects.IAMAuditConfigAuditLogConfigArray{
			&projects.IAMAuditConfigAuditLogConfigArgs{LogType: pulumi.String(p.AuditLog.LogType)},
		},
	}, pulumi.DependsOn(apis[p.AuditLog.Project])); err != nil {
		return nil, err
	}

	mainConfig := pulumi.StringMap{}
	for k, v := range p.MainStackConfig() {
		mainConfig[k] = pulumi.String(v)
	}
	return entrypoint.Outputs{
		// The provider's full resource name, computed from ciProjectNumber: the value of
		// workload_identity_provider in the workflows, shown in the first preview.
		"workloadIdentityProvider": pulumi.String(p.ProviderName),
		// The pool's name as Google gives it, held to the one the bindings were computed from:
		// a wrong ciProjectNumber fails the update here, naming the right number, instead of
		// leaving bindings that no GitHub run ever matches.
		"workloadIdentityPool":  checkPoolName(pool.Name, p),
		"previewServiceAccount": pulumi.String(p.Preview.Email),
		"deployServiceAccount":  pulumi.String(p.Deploy.Email),
		"runtimeServiceAccount": pulumi.String(p.Runtime.Email),
		"authzRole":             pulumi.String(p.AuthzRoleName()),
		"attributeCondition":    pulumi.String(p.Condition.CEL()),
		"deployWorkflowRef":     pulumi.String(p.DeployWorkflowRef),
		"deployEnvironment":     pulumi.String(p.DeployEnvironment),
		"auditServiceAccount":   pulumi.String(p.Audit.Email),
		"auditWorkflowRef":      pulumi.String(p.AuditWorkflowRef),
		"auditLogging": pulumi.StringMap{
			"project":         pulumi.String(p.AuditLog.Project),
			"service":         pulumi.String(p.AuditLog.Service),
			"logType":         pulumi.String(p.AuditLog.LogType),
			"exemptedMembers": pulumi.String("none"),
			"filter":          pulumi.String(AuditLogFilter),
		},
		"mainStackConfig": mainConfig,
		"githubVariables": pulumi.StringMap{
			VarWorkloadIdentityProvider: pulumi.String(p.ProviderName),
			VarPreviewServiceAccount:    pulumi.String(p.Preview.Email),
			VarDeployServiceAccount:     pulumi.String(p.Deploy.Email),
			VarAuditServiceAccount:      pulumi.String(p.Audit.Email),
			VarBackendURL:               pulumi.String("gs://" + p.StateBucket),
		},
	}, nil
}

// newCIAccount creates one CI account and the one authoritative binding of
// roles/iam.workloadIdentityUser on it, for each principal set of access in the pool poolName.
// The binding is authoritative because the bootstrap owns the account: anyone added by hand is
// removed on the next `pulumi up --refresh`. Its members are computed from config, not from the
// pool's output, so that a preview shows them; it waits for the pool all the same.
func newCIAccount(ctx *pulumi.Context, name, project string, access Impersonation, poolName string, pool *iam.WorkloadIdentityPool,
	apis, protect pulumi.ResourceOption, display, description string) (*serviceaccount.Account, error) {
	acct, err := serviceaccount.NewAccount(ctx, name+"-account", &serviceaccount.AccountArgs{
		Project:     pulumi.String(project),
		AccountId:   pulumi.String(access.Account.ID),
		DisplayName: pulumi.String(display),
		// Google refuses a description over 256 bytes; a long repository and branch name
		// should cost the tail of a sentence, not the deploy.
		Description: pulumi.String(limit(description, 256)),
	}, apis, protect)
	if err != nil {
		return nil, err
	}
	if _, err := serviceaccount.NewIAMBinding(ctx, name+"-workload-identity-user", &serviceaccount.IAMBindingArgs{
		ServiceAccountId: pulumi.String(access.Account.Name),
		Role:             pulumi.String(RoleWorkloadIdentityUser),
		Members:          pulumi.ToStringArray(access.PrincipalSets(poolName)),
	}, pulumi.DependsOn([]pulumi.Resource{acct, pool})); err != nil {
		return nil, err
	}
	return acct, nil
}

// checkPoolName is the pool's name as Google reports it, or an error when it is not the name the
// principal sets were built from: then ciProjectNumber is not ciProject's number.
func checkPoolName(got pulumi.StringOutput, p *Stack) pulumi.StringOutput {
	return got.ApplyT(func(name string) (string, error) {
		if name == p.PoolName {
			return name, nil
		}
		number := strings.TrimPrefix(name, "projects/")
		number, _, _ = strings.Cut(number, "/")
		return "", fmt.Errorf("the Workload Identity pool is %s at Google, not %s: ciProjectNumber %s is not the number of ciProject %s (it is %s). "+
			"Until it is, no GitHub run can impersonate the CI accounts: their bindings name a pool that does not exist. "+
			"Run `pulumi config set ciProjectNumber %s` and `pulumi up --refresh` again",
			name, p.PoolName, p.CIProjectNumber, p.CIProject, number, number)
	}).(pulumi.StringOutput)
}

// cutResourceName splits projects/<project>/secrets/<id> or
// projects/<project>/regions/<region>/subnetworks/<name> into the project, the last segment and
// the region ("" for a secret). Config validation guarantees the form.
func cutResourceName(name, collection string) (project, last, region string) {
	parts := strings.Split(name, "/")
	project, last = parts[1], parts[len(parts)-1]
	if collection == "subnetworks" {
		region = parts[3]
	}
	return project, last, region
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
