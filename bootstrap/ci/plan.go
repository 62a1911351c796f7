package ci

import (
	"slices"
	"sort"

	"github.com/platform/private-run-api/internal/gcp"
	"github.com/platform/private-run-api/internal/plan"
)

// GitHubIssuer is the issuer of the OIDC tokens GitHub Actions mints for a job.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// Google's limits on what the provider produces: google.subject at most 127 bytes (a longer one
// fails the token exchange), the attribute condition at most 4096 characters.
const (
	MaxSubjectBytes   = 127
	MaxConditionChars = 4096
)

// Predefined roles the bootstrap grants, each on one resource only.
const (
	RoleWorkloadIdentityUser = "roles/iam.workloadIdentityUser"
	RoleServiceAccountUser   = "roles/iam.serviceAccountUser"
	RoleStateReader          = "roles/storage.objectViewer"
	RoleStateWriter          = "roles/storage.objectUser"
	// Granted to Cloud Run's service agent in a Shared VPC host project, never to a CI account.
	RoleNetworkUser   = "roles/compute.networkUser"
	RoleNetworkViewer = "roles/compute.networkViewer"
	RoleVPCAccessUser = "roles/vpcaccess.user"
)

// APISecretManager is enabled in the main project when the main stack reads secrets: the main
// program runs with enableApis false and its deploy account cannot enable services.
const APISecretManager = plan.APISecretManager

// RunServiceAgent is the member of Cloud Run's service agent of the project with this number.
// Cloud Run attaches a revision to a VPC as this agent, not as the deployer.
func RunServiceAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@serverless-robot-prod.iam.gserviceaccount.com"
}

// AuthzPermission is the one permission of the authz guard's role: the guard asks Google whether
// a caller's token holds it on the authz bucket.
const AuthzPermission = "storage.buckets.get"

// GitHub events whose tokens the provider accepts. Any other event (pull_request_target,
// workflow_run, issue_comment, ...) is refused before any binding is looked at: those run with
// ref=refs/heads/main while acting on input from a pull request or an outsider. A schedule
// token is accepted only from the audit workflow read from the deploy branch (the provider's
// condition pins its job_workflow_ref), so no other workflow gains a scheduled identity.
const (
	EventPullRequest      = "pull_request"
	EventPush             = "push"
	EventWorkflowDispatch = "workflow_dispatch"
	EventSchedule         = "schedule"
)

// PreviewEvents may impersonate the preview account; DeployEvents may trigger the deploy
// workflow; AuditEvents may run the audit workflow. The deploy and audit bindings pin their
// workflow file and branch, so the event lists only have to keep the others out.
var (
	PreviewEvents = []string{EventPullRequest}
	DeployEvents  = []string{EventPush, EventWorkflowDispatch}
	AuditEvents   = []string{EventSchedule, EventWorkflowDispatch}
)

// AcceptedEvents are the events whose tokens the provider exchanges at all, each once.
func AcceptedEvents() []string {
	var out []string
	for _, e := range slices.Concat(PreviewEvents, DeployEvents, AuditEvents) {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// Attributes the CI accounts' bindings match. A principal set filters on one attribute, so each
// is a composite of everything its account must pin.
const (
	// AttrPreview is "<repository_id>:<event_name>": preview binds "<id>:pull_request".
	AttrPreview = "attribute.repo_event"
	// AttrDeploy is "<repository_id>:<job_workflow_ref>:<sub>". job_workflow_ref is the workflow
	// file and the ref it was read from (a pull request's copy of deploy.yml reads
	// refs/pull/N/merge); sub names the environment whenever the job declares one.
	AttrDeploy = "attribute.deploy_job"
	// AttrAudit is "<repository_id>:<job_workflow_ref>:<event_name>": the audit binding names
	// the audit workflow on the deploy branch once per event it runs on.
	AttrAudit = "attribute.audit_job"
)

// Permission is one permission of a custom role and why the role holds it; the README lists the
// same reasons.
type Permission struct {
	Name string
	Why  string
}

// DeployPermissions is the deploy account's role in the main stack's project, without a
// condition: Google's list of services that evaluate resource attributes in IAM Conditions does
// not have run.googleapis.com (serviceusage reads are harmless), and bucket creation is checked
// against the project, where no bucket name can be matched. The project holds only the program's
// resources, so the reach of these permissions is the program's. No service-account permission
// is here: those are CallersPermissions, granted in the callers' project alone.
var DeployPermissions = []Permission{
	{"run.services.create", "creates the Cloud Run service"},
	{"run.services.get", "reads it (refresh, and every update)"},
	{"run.services.update", "deploys new revisions and settings"},
	{"run.services.delete", "removes it when the stack says so"},
	{"run.services.getIamPolicy", "reads the invoker binding"},
	{"run.services.setIamPolicy", "sets the one authoritative roles/run.invoker binding"},
	{"run.operations.get", "waits for the service's long-running operations"},
	{"storage.buckets.create", "creates the authz bucket once; Cloud Storage checks it against the project, so no bucket-name condition can scope it"},
	{"serviceusage.services.get", "reads an API enablement that a main stack still on enableApis true holds; enables nothing"},
	{"serviceusage.services.list", "the same read, as the provider lists a project's enabled services"},
}

// CallersPermissions is the deploy account's role in the callers' project (callersProject,
// gcp:project by default), without a condition: iam.googleapis.com is not among the services
// that evaluate resource attributes in IAM Conditions, so these reach every account of that
// project, which therefore holds the caller accounts alone. None is for the runtime account,
// which lives in gcp:project, where the deploy account needs actAs on it and nothing else: only
// when the callers' project is gcp:project do these reach it too.
var CallersPermissions = []Permission{
	{"iam.serviceAccounts.create", "creates a caller account when a caller is onboarded, with no admin run"},
	{"iam.serviceAccounts.get", "reads the caller accounts (refresh, and every update)"},
	{"iam.serviceAccounts.update", "keeps a caller account's display name and description"},
	{"iam.serviceAccounts.delete", "removes a caller that leaves the config"},
	{"iam.serviceAccounts.getIamPolicy", "reads a caller account's whole policy"},
	{"iam.serviceAccounts.setIamPolicy", "sets that whole policy (token creators, its own ID-token grant, runAs); reaches every account of the callers' project, hence that project holds the caller accounts alone"},
}

// AuthzBucketPermissions is the deploy account's role on the authz bucket alone, by an IAM
// Condition on the bucket's resource name (Cloud Storage honours resource.name for buckets that
// use uniform bucket-level access, as the authz bucket does).
var AuthzBucketPermissions = []Permission{
	{"storage.buckets.get", "reads the bucket (refresh); also what passes the guard, so the deploy account is a de facto guard caller"},
	{"storage.buckets.update", "keeps uniform access, public access prevention and labels"},
	{"storage.buckets.delete", "removes the bucket when the guard is turned off"},
	{"storage.buckets.getIamPolicy", "reads the bucket's one authoritative policy"},
	{"storage.buckets.setIamPolicy", "sets that policy: the guard's role for its callers, nothing else"},
	{"storage.objects.list", "the provider checks the bucket is empty before deleting it"},
}

// AuditPermissions is the audit account's role in the main stack's project, without a
// condition: what `access -live` reads there. Policies only, and two metadata reads; never
// storage.buckets.get, which would pass the authz guard.
var AuditPermissions = []Permission{
	{"resourcemanager.projects.get", "reads the project's ancestry (projects.getAncestry), to walk up to its folders and organization"},
	{"resourcemanager.projects.getIamPolicy", "reads the project's policy: who holds access there"},
	{"iam.roles.get", "reads the permissions of the project's custom roles held at project level"},
	{"run.services.getIamPolicy", "reads the service's whole policy"},
	{"secretmanager.secrets.getIamPolicy", "reads the runtime account's accessor binding on the secrets of this project"},
}

// AuditCallersPermissions is the audit account's role in the callers' project, without a
// condition: the caller accounts' policies and the logs of minting their tokens, which land in
// the accounts' own project, and the project's policy, which holds the Data Access audit config.
var AuditCallersPermissions = []Permission{
	{"resourcemanager.projects.get", "reads the callers' project's ancestry, to walk up to its folders and organization"},
	{"resourcemanager.projects.getIamPolicy", "reads the callers' project's policy: who holds access there, and the Data Access audit config -usage checks"},
	{"iam.roles.get", "reads the permissions of the custom roles held at project level there"},
	{"iam.serviceAccounts.getIamPolicy", "reads the whole policy of each caller account"},
	{"logging.privateLogEntries.list", "reads the Data Access audit logs that record token minting as the caller accounts (-usage)"},
}

// AuditBucketPermissions is the audit account's role on the authz bucket alone, by the same
// condition as the deploy account's bucket role.
var AuditBucketPermissions = []Permission{
	{"storage.buckets.getIamPolicy", "reads the authz bucket's whole policy, and no other bucket's"},
}

// AuditSecretPermissions is the audit account's role on each secret the main stack reads in
// another project, granted on that secret only.
var AuditSecretPermissions = []Permission{
	{"secretmanager.secrets.getIamPolicy", "reads the runtime account's accessor binding on this secret"},
}

// AuditLogService and AuditLogType are the Data Access audit config the bootstrap sets in the
// project of the caller accounts: Service Account Credentials' four methods
// (GenerateAccessToken, GenerateIdToken, SignBlob, SignJwt) need ADMIN_READ permissions, and their
// Data Access logs cannot be enabled apart from the IAM API's.
const (
	AuditLogService = "iam.googleapis.com"
	AuditLogType    = "ADMIN_READ"
	// AuditLogFilter finds the token-minting entries in Cloud Logging.
	AuditLogFilter = `protoPayload.serviceName="iamcredentials.googleapis.com"`
)

// AuditLog is one project's Data Access audit config for one service, owned whole for that
// service: no exempted members.
type AuditLog struct {
	Project, Service, LogType string
}

// SecretIAMPermissions is the deploy account's role on each secret the main stack reads, granted
// on that secret only. They are what the provider's SecretIamMember calls: getIamPolicy to read
// (refresh, and before each change) and setIamPolicy to add or remove the runtime account's
// accessor binding. secretmanager.secrets.get is not among them because the provider never
// calls secrets.get for an IAM member, and secretmanager.versions.access (the value) never is.
var SecretIAMPermissions = []Permission{
	{"secretmanager.secrets.getIamPolicy", "reads the secret's policy, on refresh and before adding or removing the runtime account's accessor binding"},
	{"secretmanager.secrets.setIamPolicy", "adds the runtime account's roles/secretmanager.secretAccessor binding (and takes it out when the secret leaves the config); it could grant anyone anything on this secret, see Residual risk"},
}

// APIs each project needs. The CI project runs the token exchange (sts), mints the CI accounts'
// tokens (iamcredentials) and holds the pool (iam). The main stack's project gets the APIs the
// main program uses, and a callers' project of its own those the main program enables there
// (iam for the accounts, iamcredentials for minting their tokens), so that its CI stack runs
// with enableApis false and the deploy account needs no right to enable services.
var (
	CIAPIs      = []string{"cloudresourcemanager.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com"}
	AppAPIs     = []string{"cloudresourcemanager.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "run.googleapis.com", "storage.googleapis.com"}
	CallersAPIs = []string{"cloudresourcemanager.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com"}
)

// Scopes a grant can have.
const (
	ScopeProject        = "project"
	ScopeServiceAccount = "serviceAccount"
	ScopeBucket         = "bucket"
	ScopeSecret         = "secret"
	ScopeSubnetwork     = "subnetwork"
)

// IAMCondition narrows a grant to some resources; the grant applies only where Expression holds.
type IAMCondition struct {
	Title       string
	Description string
	Expression  string
}

// Grant is one role given to one principal on one resource.
type Grant struct {
	// Key is a stable suffix for the grant's logical name.
	Key    string
	Scope  string
	Target string // project ID, service account, secret or subnetwork resource name, or bucket name
	Role   string
	Member string
	Why    string
	// CustomRole is the Key of the Stack.Roles entry the grant gives, which must exist first.
	CustomRole string
	Condition  *IAMCondition
	// Authoritative grants are one binding owning the role on a resource this stack owns; the
	// rest are members added beside whatever other owners grant.
	Authoritative bool
}

// Impersonation lets sets of federated GitHub identities impersonate a CI account: those whose
// Attribute is one of Values.
type Impersonation struct {
	Account   plan.Account
	Attribute string
	Values    []string
}

// PrincipalSets are the member strings, one per value, in the pool of this resource name.
func (i Impersonation) PrincipalSets(poolName string) []string {
	out := make([]string, len(i.Values))
	for j, v := range i.Values {
		out[j] = "principalSet://iam.googleapis.com/" + poolName + "/" + i.Attribute + "/" + v
	}
	return out
}

// CustomRole is a role the bootstrap creates in a project.
type CustomRole struct {
	// Key is a stable suffix for the role's logical name.
	Key         string
	Project     string
	ID          string
	Name        string
	Title       string
	Description string
	Permissions []Permission
	// Protect is set on a role others depend on: deleting the authz role would lock every
	// caller out of the guard, and its ID stays blocked for weeks.
	Protect bool
}

// PermissionNames lists the role's permissions.
func (r CustomRole) PermissionNames() []string {
	out := make([]string, len(r.Permissions))
	for i, p := range r.Permissions {
		out[i] = p.Name
	}
	return out
}

// ProjectAPIs are the APIs enabled in one project.
type ProjectAPIs struct {
	// Key is a stable prefix for the enablements' logical names.
	Key     string
	Project string
	APIs    []string
}

// Keys of the custom roles.
const (
	RoleKeyAuthz       = "authz-role"
	RoleKeyDeploy      = "deploy-role"
	RoleKeyAuthzBucket = "deploy-authz-bucket-role"
	RoleKeyAudit       = "audit-role"
	RoleKeyAuditBucket = "audit-authz-bucket-role"
	// The two roles in the callers' project.
	RoleKeyCallers      = "deploy-callers-role"
	RoleKeyAuditCallers = "audit-callers-role"
)

// SecretRoleKey is the key of the secret-policy role in project: one role per project that holds
// a named secret, since a project's custom role can be granted only within that project.
func SecretRoleKey(project string) string { return "deploy-secret-role-" + project }

// AuditSecretRoleKey is the key of the audit account's secret-policy reader role in project, one
// per project other than gcp:project that holds a named secret.
func AuditSecretRoleKey(project string) string { return "audit-secret-role-" + project }

// Stack is everything the bootstrap declares, with every name computed from config up front.
type Stack struct {
	Place
	PoolID     string
	ProviderID string
	// PoolName and ProviderName are the resource names Google gives the pool and the provider,
	// computed from CIProjectNumber: the principal sets are built from PoolName, so a preview
	// shows who may impersonate each CI account.
	PoolName     string
	ProviderName string
	// Mapping and Condition configure the provider.
	Mapping   Mapping
	Condition TokenCondition
	Preview   plan.Account
	Deploy    plan.Account
	Audit     plan.Account
	Runtime   plan.Account
	// PreviewAccess is pull_request runs of the repository; DeployAccess is only the deploy
	// workflow read from the deploy branch, in a job of the deploy environment; AuditAccess is
	// only the audit workflow read from the deploy branch, on a schedule or run by hand.
	PreviewAccess     Impersonation
	DeployAccess      Impersonation
	AuditAccess       Impersonation
	DeployRef         string
	DeployWorkflowRef string
	DeployEnvironment string
	AuditWorkflowRef  string
	// AuditLog is the Data Access audit config that records token minting as the caller
	// accounts.
	AuditLog    AuditLog
	Roles       []CustomRole
	Grants      []Grant
	StateBucket string
	AuthzBucket string
	// Secrets are the secrets the main stack reads; VPC is its subnetwork or connector, nil for
	// none; RunAgent is the member of Cloud Run's service agent of the main project, "" unless
	// VPC is in another project.
	Secrets    []Secret
	VPC        *VPCResource
	RunAgent   string
	APIs       []ProjectAPIs
	EnableAPIs bool
	Protect    bool
}

// Role returns the custom role with key.
func (p *Stack) Role(key string) CustomRole {
	for _, r := range p.Roles {
		if r.Key == key {
			return r
		}
	}
	return CustomRole{}
}

// holds is the grant of the custom role with roleKey to member on the project the role is made
// in, the widest a project-level custom role can reach; condition, when set, narrows it.
func (p *Stack) holds(key, roleKey, member string, condition *IAMCondition, why string) Grant {
	r := p.Role(roleKey)
	return Grant{Key: key, Scope: ScopeProject, Target: r.Project, Role: r.Name, Member: member, CustomRole: roleKey, Condition: condition, Why: why}
}

// AuthzRoleName is the full name of the authz guard's role, which the main stack references.
func (p *Stack) AuthzRoleName() string { return p.Role(RoleKeyAuthz).Name }

// BucketResourceName is a bucket's name as IAM Conditions see it.
func BucketResourceName(bucket string) string { return "projects/_/buckets/" + bucket }

// Resolve derives the plan from a validated config.
func Resolve(c *Config) *Stack {
	preview := account(c.CIProject, c.PreviewAccountID)
	deploy := account(c.CIProject, c.DeployAccountID)
	audit := account(c.CIProject, c.AuditAccountID)
	runtime := account(c.Project, c.RuntimeAccountID)
	ref := "refs/heads/" + c.DeployBranch
	workflowRef := c.Repository + "/.github/workflows/" + c.DeployWorkflow + "@" + ref
	auditRef := c.Repository + "/.github/workflows/" + c.AuditWorkflow + "@" + ref

	// Every event but schedule on its own; schedule only from the audit workflow on the deploy
	// branch, so that no other workflow gains an identity by adding a schedule trigger.
	events := AnyOf{}
	for _, e := range AcceptedEvents() {
		if e == EventSchedule {
			events = append(events, AllOf{{"event_name", e}, {"job_workflow_ref", auditRef}})
			continue
		}
		events = append(events, AllOf{{"event_name", e}})
	}
	var auditValues []string
	for _, e := range AuditEvents {
		auditValues = append(auditValues, c.RepositoryID+":"+auditRef+":"+e)
	}
	poolName := PoolName(c.CIProjectNumber, c.PoolID)
	p := &Stack{
		Place:        c.Place,
		PoolName:     poolName,
		ProviderName: poolName + "/providers/" + c.ProviderID,
		PoolID:       c.PoolID,
		ProviderID:   c.ProviderID,
		Mapping: Mapping{
			// At most 127 bytes whatever the repository's name: numbers and an event name only
			// (see MaxSubjectBytes). The run ID leads from an audit log line to the run.
			"google.subject":                {Claim("repository_id"), Lit(":"), Claim("event_name"), Lit(":"), Claim("run_id"), Lit(":"), Claim("run_attempt")},
			"attribute.actor":               {Claim("actor")},
			"attribute.event_name":          {Claim("event_name")},
			"attribute.ref":                 {Claim("ref")},
			"attribute.repository":          {Claim("repository")},
			"attribute.repository_id":       {Claim("repository_id")},
			"attribute.repository_owner_id": {Claim("repository_owner_id")},
			"attribute.workflow_ref":        {Claim("job_workflow_ref")},
			AttrPreview:                     {Claim("repository_id"), Lit(":"), Claim("event_name")},
			// sub, not environment: the environment claim is absent from jobs without one, and a
			// mapping that reads an absent claim risks failing their token exchange.
			AttrDeploy: {Claim("repository_id"), Lit(":"), Claim("job_workflow_ref"), Lit(":"), Claim("sub")},
			AttrAudit:  {Claim("repository_id"), Lit(":"), Claim("job_workflow_ref"), Lit(":"), Claim("event_name")},
		},
		// GitHub signs tokens for every repository with the same issuer: without this condition
		// any workflow on GitHub could exchange its token in this pool.
		Condition: TokenCondition{
			{{{"repository_id", c.RepositoryID}}},
			{{{"repository_owner_id", c.RepositoryOwnerID}}},
			events,
		},
		Preview: preview,
		Deploy:  deploy,
		Audit:   audit,
		Runtime: runtime,
		PreviewAccess: Impersonation{Account: preview, Attribute: AttrPreview,
			Values: []string{c.RepositoryID + ":" + EventPullRequest}},
		DeployAccess: Impersonation{Account: deploy, Attribute: AttrDeploy,
			Values: []string{c.RepositoryID + ":" + workflowRef + ":" + EnvironmentSubject(c.Repository, c.DeployEnvironment)}},
		AuditAccess:       Impersonation{Account: audit, Attribute: AttrAudit, Values: auditValues},
		DeployRef:         ref,
		DeployWorkflowRef: workflowRef,
		DeployEnvironment: c.DeployEnvironment,
		AuditWorkflowRef:  auditRef,
		AuditLog:          AuditLog{Project: c.CallersProject, Service: AuditLogService, LogType: AuditLogType},
		StateBucket:       c.StateBucket,
		AuthzBucket:       c.AuthzBucket,
		Secrets:           append([]Secret(nil), c.Secrets...),
		VPC:               c.VPC,
		APIs: []ProjectAPIs{
			{Key: "ci-api", Project: c.CIProject, APIs: append([]string(nil), CIAPIs...)},
			{Key: "app-api", Project: c.Project, APIs: append([]string(nil), AppAPIs...)},
		},
		EnableAPIs: c.EnableAPIs,
		Protect:    c.Protect,
	}
	if len(c.Secrets) > 0 {
		p.APIs[1].APIs = append(p.APIs[1].APIs, APISecretManager)
	}
	if c.CallersProject != c.Project {
		p.APIs = append(p.APIs, ProjectAPIs{Key: "callers-api", Project: c.CallersProject, APIs: append([]string(nil), CallersAPIs...)})
	}
	// The roles live in gcp:project unless they name another project.
	p.Roles = []CustomRole{
		{Key: RoleKeyAuthz, ID: c.AuthzRoleID, Title: "Authz guard",
			Description: "Held on the authz bucket " + c.AuthzBucket + " by the callers the guard lets through. Created by the admin-run bootstrap so that the deploy account needs no right on roles.",
			Permissions: []Permission{{AuthzPermission, "what the guard tests a caller's token for on the authz bucket"}}, Protect: true},
		{Key: RoleKeyDeploy, ID: c.DeployRoleID, Title: "CI deploy",
			Description: "What pulumi up of the main stack needs in this project where no IAM condition applies. Holds no right on roles, keys, projects, tokens or service accounts.",
			Permissions: DeployPermissions},
		{Key: RoleKeyCallers, ID: c.CallersRoleID, Project: c.CallersProject, Title: "CI deploy: caller accounts",
			Description: "Create, update and delete the caller accounts of the private-run-api main stack (" + c.Project + ") and set their whole IAM policies. Reaches every account of this project: keep it to the caller accounts.",
			Permissions: CallersPermissions},
		{Key: RoleKeyAuthzBucket, ID: c.AuthzBucketRoleID, Title: "CI deploy: authz bucket",
			Description: "Manage the authz bucket and set its IAM policy. Granted only with a condition naming that bucket.",
			Permissions: AuthzBucketPermissions},
		{Key: RoleKeyAudit, ID: c.AuditRoleID, Title: "CI audit (read-only)",
			Description: "What access -live reads in this project: IAM policies, custom roles and the ancestry. No storage.buckets.get: it would pass the authz guard.",
			Permissions: AuditPermissions},
		{Key: RoleKeyAuditCallers, ID: c.AuditCallersRoleID, Project: c.CallersProject, Title: "CI audit: caller accounts (read-only)",
			Description: "What access -live and access -usage read in the callers' project of the private-run-api main stack (" + c.Project + "): the caller accounts' policies, the project's policy and ancestry, and the Data Access logs of token minting.",
			Permissions: AuditCallersPermissions},
		{Key: RoleKeyAuditBucket, ID: c.AuditBucketRoleID, Title: "CI audit: authz bucket policy",
			Description: "Read the authz bucket's IAM policy. Granted only with a condition naming that bucket.",
			Permissions: AuditBucketPermissions},
	}
	for i := range p.Roles {
		r := &p.Roles[i]
		if r.Project == "" {
			r.Project = c.Project
		}
		r.Name = "projects/" + r.Project + "/roles/" + r.ID
		r.Permissions = slices.Clone(r.Permissions) // the lists are package variables
	}
	authzOnly := &IAMCondition{
		Title:       "authz-bucket-only",
		Description: "Only the main stack's authz bucket " + c.AuthzBucket + ".",
		Expression:  "resource.name == " + quote(BucketResourceName(c.AuthzBucket)),
	}
	p.Grants = []Grant{
		{Key: "preview-state-reader", Scope: ScopeBucket, Target: c.StateBucket, Role: RoleStateReader, Member: preview.Member,
			Why: "reads the main stack's Pulumi state, which is all a preview without refresh reads; a gs:// backend takes no lock for a preview"},
		p.holds("deploy-role", RoleKeyDeploy, deploy.Member, nil,
			"manages the Cloud Run service and its invoker binding, and creates the authz bucket"),
		p.holds("deploy-callers-role", RoleKeyCallers, deploy.Member, nil,
			"manages the caller accounts and their whole policies, in the callers' project only"),
		p.holds("deploy-authz-bucket", RoleKeyAuthzBucket, deploy.Member, authzOnly,
			"manages the authz bucket and sets its policy, and no other bucket's (not the state's, not the bootstrap's)"),
		{Key: "deploy-act-as-runtime", Scope: ScopeServiceAccount, Target: runtime.Name, Role: RoleServiceAccountUser, Member: deploy.Member, Authoritative: true,
			Why: "Cloud Run refuses to deploy a service that runs as an account unless the deployer has iam.serviceAccounts.actAs on it; granted on the runtime account only (CIS 1.6)"},
		{Key: "deploy-state-writer", Scope: ScopeBucket, Target: c.StateBucket, Role: RoleStateWriter, Member: deploy.Member,
			Why: "reads and writes the main stack's Pulumi state and its lock files"},
		p.holds("audit-role", RoleKeyAudit, audit.Member, nil,
			"reads the policies, custom roles and ancestry of the main project that access -live compares with the main stack's plan"),
		p.holds("audit-callers-role", RoleKeyAuditCallers, audit.Member, nil,
			"reads the caller accounts' policies, the callers' project's policy and ancestry, and the token-minting logs there (access -live, access -usage)"),
		p.holds("audit-authz-bucket-policy", RoleKeyAuditBucket, audit.Member, authzOnly,
			"reads the authz bucket's policy, and no other bucket's; never the bucket itself, which would pass the guard"),
	}
	p.addSecretGrants(c)
	p.addVPCGrants(c)
	return p
}

// addSecretGrants gives the deploy account the secret-policy role on each named secret, and the
// audit account its reader role on each named secret outside gcp:project (its project role reads
// those of gcp:project), each role created in the secret's own project.
func (p *Stack) addSecretGrants(c *Config) {
	p.addPerSecret(c, secretGrant{prefix: "deploy", member: p.Deploy.Member, roleKey: SecretRoleKey, roleID: c.SecretRoleID,
		title: "CI deploy: secret IAM policy", does: "Read and set", account: "deploy", perms: SecretIAMPermissions,
		why: "the main stack adds the runtime account's accessor binding on this secret (additive); nothing on any other secret"})
	p.addPerSecret(c, secretGrant{prefix: "audit", member: p.Audit.Member, roleKey: AuditSecretRoleKey, roleID: c.AuditSecretRoleID,
		title: "CI audit: secret IAM policy", does: "Read", account: "audit", perms: AuditSecretPermissions, otherProjectsOnly: true,
		why: "access -live reads the runtime account's accessor binding on this secret; nothing on any other secret"})
}

// secretGrant is one account's custom role on each named secret.
type secretGrant struct {
	prefix, member, roleID, title, does, account, why string
	roleKey                                           func(project string) string
	perms                                             []Permission
	// otherProjectsOnly skips the secrets of gcp:project.
	otherProjectsOnly bool
}

func (p *Stack) addPerSecret(c *Config, g secretGrant) {
	roleNames := map[string]string{}
	for _, sec := range c.Secrets {
		if g.otherProjectsOnly && sec.Project == c.Project {
			continue
		}
		key := g.roleKey(sec.Project)
		if _, ok := roleNames[sec.Project]; !ok {
			name := "projects/" + sec.Project + "/roles/" + g.roleID
			roleNames[sec.Project] = name
			p.Roles = append(p.Roles, CustomRole{Key: key, Project: sec.Project, ID: g.roleID, Name: name, Title: g.title,
				Description: g.does + " the IAM policy of the secrets the private-run-api main stack (" + c.Project + ") lets its runtime account read. Granted on each such secret only, to the CI " + g.account + " account. Cannot read a secret's value.",
				Permissions: append([]Permission(nil), g.perms...)})
		}
		p.Grants = append(p.Grants, Grant{
			// The secret's full name is its stable key: "/" appears in neither a project ID nor a
			// secret ID, so no two secrets share a logical name, whatever their order in config.
			Key: g.prefix + "-secret-iam-" + sec.Project + "/" + sec.ID, Scope: ScopeSecret, Target: sec.Name(),
			Role: roleNames[sec.Project], Member: g.member, CustomRole: key, Why: g.why,
		})
	}
}

// addVPCGrants lets Cloud Run's service agent attach revisions to a subnetwork or connector of a
// Shared VPC host project. In the main project the agent's own role (roles/run.serviceAgent)
// already covers it, and the deploy account needs no network permission in either case: Cloud
// Run uses the network as its service agent.
func (p *Stack) addVPCGrants(c *Config) {
	v := c.VPC
	if v == nil || v.Project == c.Project {
		return
	}
	p.RunAgent = RunServiceAgent(c.ProjectNumber)
	switch v.Kind {
	case VPCSubnetwork:
		p.Grants = append(p.Grants,
			Grant{Key: "run-agent-subnet-network-user", Scope: ScopeSubnetwork, Target: v.FullName(), Role: RoleNetworkUser, Member: p.RunAgent,
				Why: "Direct VPC egress: Cloud Run's service agent takes addresses from this subnetwork for each instance; granted on the subnetwork only"},
			Grant{Key: "run-agent-network-viewer", Scope: ScopeProject, Target: v.Project, Role: RoleNetworkViewer, Member: p.RunAgent,
				Why: "Direct VPC egress in a Shared VPC: the read-only half of Google's narrower option (network viewer on the host project, network user on the subnetwork)"})
	case VPCConnector:
		p.Grants = append(p.Grants,
			Grant{Key: "run-agent-vpcaccess-user", Scope: ScopeProject, Target: v.Project, Role: RoleVPCAccessUser, Member: p.RunAgent,
				Why: "a connector in another project: Cloud Run's service agent must use it; connectors have no IAM policy of their own, so the host project is the narrowest scope"})
	}
}

// EnvironmentSubject is the sub claim GitHub puts in the token of a job that declares
// environment env (unless the repository customised its subject template).
func EnvironmentSubject(repository, env string) string {
	return "repo:" + repository + ":environment:" + env
}

// RolesOf lists the roles granted to member, sorted, each once.
func (p *Stack) RolesOf(member string) []string {
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

// MainStackConfig is what the main stack's Pulumi.<stack>.yaml must say so that it references
// what this stack owns instead of creating it, and needs no right this stack withholds.
// The callers' project is there only when it is not gcp:project, the main program's default.
func (p *Stack) MainStackConfig() map[string]string {
	out := map[string]string{
		"private-run-api:authz.role":             p.AuthzRoleName(),
		"private-run-api:authz.bucket":           p.AuthzBucket,
		"private-run-api:service.runtimeAccount": p.Runtime.Email,
		"private-run-api:enableApis":             "false",
	}
	if p.CallersProject != p.Project {
		out["private-run-api:callersProject"] = p.CallersProject
	}
	return out
}

// PoolName is the resource name Google gives a Workload Identity pool: by the number of its
// project, never the ID, and only once it exists; computing it lets every binding that names the
// pool be shown in a preview.
func PoolName(projectNumber, poolID string) string {
	return "projects/" + projectNumber + "/locations/global/workloadIdentityPools/" + poolID
}

func account(project, id string) plan.Account {
	return plan.AccountOf(project, id, gcp.AccountEmail(project, id))
}
