package ci

import (
	"sort"
	"strings"

	"github.com/platform/private-run-api/config"
)

// GitHubIssuer is the issuer of the OIDC tokens GitHub Actions mints for a job.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// Roles the bootstrap grants, and the role a principal set needs to impersonate an account.
const (
	RoleWorkloadIdentityUser = "roles/iam.workloadIdentityUser"
	RoleServiceAccountUser   = "roles/iam.serviceAccountUser"
	RoleStateReader          = "roles/storage.objectViewer"
	RoleStateWriter          = "roles/storage.objectUser"
)

// Role is a role with the reason the account holds it; the README lists the same reasons.
type Role struct {
	Role string
	Why  string
}

// PreviewRoles are the preview account's project-level roles: read-only, and together enough for
// `pulumi preview --refresh` to read every resource type the main program declares.
var PreviewRoles = []Role{
	{"roles/run.viewer", "reads the Cloud Run service (run.services.get) and its invoker policy"},
	{"roles/iam.serviceAccountViewer", "reads the runtime and caller service accounts (iam.serviceAccounts.get)"},
	{"roles/iam.roleViewer", "reads the authz guard's custom role (iam.roles.get)"},
	{"roles/storage.bucketViewer", "reads the authz bucket's metadata (storage.buckets.get), never its objects"},
	{"roles/iam.securityReviewer", "reads the IAM policies the program binds (storage.buckets.getIamPolicy has no narrower read-only role) and changes none"},
	{"roles/serviceusage.serviceUsageViewer", "reads which APIs are enabled (serviceusage.services.get)"},
}

// DeployRoles are the deploy account's project-level predefined roles: what `pulumi up --refresh`
// of the main program needs. The authz bucket is managed through a custom role (BucketPermissions)
// instead of roles/storage.admin, which would also read and write every object in the project.
var DeployRoles = []Role{
	{"roles/run.admin", "creates and updates the Cloud Run service and sets its invoker binding (run.services.setIamPolicy, which roles/run.developer lacks)"},
	{"roles/iam.serviceAccountAdmin", "creates the runtime and caller accounts and sets the token-creator and OpenID bindings on them; it holds neither actAs nor key creation"},
	{"roles/iam.roleAdmin", "creates and updates the authz guard's custom role"},
	{"roles/serviceusage.serviceUsageAdmin", "enables the run, iam, iamcredentials and storage APIs (projects.Service); the program never disables them"},
}

// BucketPermissions are the custom role's permissions: create the authz bucket, keep its
// settings, and set its IAM binding, with no access to any object.
var BucketPermissions = []string{
	"storage.buckets.create",
	"storage.buckets.delete",
	"storage.buckets.get",
	"storage.buckets.getIamPolicy",
	"storage.buckets.list",
	"storage.buckets.setIamPolicy",
	"storage.buckets.update",
}

// APIs are what Workload Identity Federation needs in the project: IAM (pools, providers),
// Security Token Service (exchanging the GitHub token), IAM Credentials (minting the service
// account's token) and Resource Manager, which Google's federation setup lists alongside them.
var APIs = []string{"cloudresourcemanager.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com"}

// Scopes a grant can have.
const (
	ScopeProject        = "project"
	ScopeServiceAccount = "serviceAccount"
	ScopeBucket         = "bucket"
)

// Grant is one role given to one CI account on one resource.
type Grant struct {
	// Key is a stable suffix for the grant's logical name.
	Key    string
	Scope  string
	Target string // project ID, service account resource name, or bucket name
	Role   string
	Member string
	Why    string
	// CustomRole marks the grant of the bucket custom role, which must exist first.
	CustomRole bool
}

// Impersonation lets a set of federated GitHub identities impersonate a CI account. The
// principal set is the pool's resource name followed by "/" + Attribute + "/" + Value.
type Impersonation struct {
	Account   config.Account
	Attribute string
	Value     string
}

// PrincipalSet is the member string once the pool's resource name is known.
func (i Impersonation) PrincipalSet(poolName string) string {
	return "principalSet://iam.googleapis.com/" + poolName + "/" + i.Attribute + "/" + i.Value
}

// Plan is everything the bootstrap declares, with every name computed from config up front.
type Plan struct {
	Project    string
	Repository string
	PoolID     string
	ProviderID string
	// AttributeMapping and AttributeCondition configure the provider.
	AttributeMapping   map[string]string
	AttributeCondition string
	Preview            config.Account
	Deploy             config.Account
	// PreviewAccess is any workflow run of the repository (pull requests included); DeployAccess
	// is only runs whose ref is the deploy branch.
	PreviewAccess Impersonation
	DeployAccess  Impersonation
	DeployRef     string
	BucketRole    CustomRole
	Grants        []Grant
	StateBucket   string
	APIs          []string
	EnableAPIs    bool
	Protect       bool
}

// CustomRole is the deploy account's bucket role.
type CustomRole struct {
	ID          string
	Name        string
	Title       string
	Description string
	Permissions []string
}

// Resolve derives the plan from a validated config.
func Resolve(c *Config) *Plan {
	preview := account(c.Project, c.PreviewAccountID)
	deploy := account(c.Project, c.DeployAccountID)
	ref := "refs/heads/" + c.DeployBranch
	cond := "assertion.repository == " + quote(c.Repository)
	if c.RepositoryID != "" {
		cond += " && assertion.repository_id == " + quote(c.RepositoryID)
	}
	p := &Plan{
		Project:    c.Project,
		Repository: c.Repository,
		PoolID:     c.PoolID,
		ProviderID: c.ProviderID,
		AttributeMapping: map[string]string{
			"google.subject":             "assertion.sub",
			"attribute.actor":            "assertion.actor",
			"attribute.repository":       "assertion.repository",
			"attribute.repository_id":    "assertion.repository_id",
			"attribute.repository_owner": "assertion.repository_owner",
			"attribute.ref":              "assertion.ref",
			// One attribute holding both, so that the deploy binding pins the repository and the
			// branch together: a principal set filters on a single attribute, and a ref alone
			// would also match the deploy branch of any other repository a provider in this pool
			// might one day trust.
			"attribute.repo_ref": `assertion.repository + "@" + assertion.ref`,
		},
		AttributeCondition: cond,
		Preview:            preview,
		Deploy:             deploy,
		PreviewAccess:      Impersonation{Account: preview, Attribute: "attribute.repository", Value: c.Repository},
		DeployAccess:       Impersonation{Account: deploy, Attribute: "attribute.repo_ref", Value: c.Repository + "@" + ref},
		DeployRef:          ref,
		BucketRole: CustomRole{
			ID:          c.BucketRoleID,
			Name:        "projects/" + c.Project + "/roles/" + c.BucketRoleID,
			Title:       "CI deploy: authz bucket",
			Description: "Lets the CI deploy account create the main stack's authz bucket and set its IAM binding, without access to any object.",
			Permissions: append([]string(nil), BucketPermissions...),
		},
		StateBucket: c.StateBucket,
		APIs:        append([]string(nil), APIs...),
		EnableAPIs:  c.EnableAPIs,
		Protect:     c.Protect,
	}
	for _, r := range PreviewRoles {
		p.Grants = append(p.Grants, Grant{Key: "preview-" + roleKey(r.Role), Scope: ScopeProject, Target: c.Project, Role: r.Role, Member: preview.Member, Why: r.Why})
	}
	p.Grants = append(p.Grants, Grant{Key: "preview-state-reader", Scope: ScopeBucket, Target: c.StateBucket, Role: RoleStateReader, Member: preview.Member,
		Why: "reads the main stack's Pulumi state; a preview takes no lock in a gs:// backend, so it writes nothing"})
	for _, r := range DeployRoles {
		p.Grants = append(p.Grants, Grant{Key: "deploy-" + roleKey(r.Role), Scope: ScopeProject, Target: c.Project, Role: r.Role, Member: deploy.Member, Why: r.Why})
	}
	p.Grants = append(p.Grants,
		Grant{Key: "deploy-bucket-role", Scope: ScopeProject, Target: c.Project, Role: p.BucketRole.Name, Member: deploy.Member, CustomRole: true,
			Why: "creates the authz bucket and sets its IAM binding (" + strings.Join(BucketPermissions, ", ") + ")"},
		Grant{Key: "deploy-act-as-runtime", Scope: ScopeServiceAccount, Target: config.AccountName(c.Project, c.RuntimeServiceAccount), Role: RoleServiceAccountUser, Member: deploy.Member,
			Why: "Cloud Run refuses to deploy a service that runs as an account unless the deployer has iam.serviceAccounts.actAs on it; granted on the runtime account only (CIS 1.6)"},
		Grant{Key: "deploy-state-writer", Scope: ScopeBucket, Target: c.StateBucket, Role: RoleStateWriter, Member: deploy.Member,
			Why: "reads and writes the main stack's Pulumi state and its lock files"},
	)
	return p
}

// RolesOf lists the roles granted to member, sorted, each once.
func (p *Plan) RolesOf(member string) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range p.Grants {
		if g.Member == member && !seen[g.Role] {
			seen[g.Role] = true
			out = append(out, g.Role)
		}
	}
	sort.Strings(out)
	return out
}

func account(project, id string) config.Account {
	email := config.AccountEmail(project, id)
	return config.Account{ID: id, Email: email, Member: "serviceAccount:" + email, Name: config.AccountName(project, email)}
}

// roleKey turns "roles/run.viewer" into "run-viewer" for a logical name.
func roleKey(role string) string {
	r := strings.NewReplacer(".", "-", "/", "-")
	return r.Replace(strings.TrimPrefix(role, "roles/"))
}
