// Package ci declares the identities CI/CD uses to preview and deploy the main stack, and what
// the admin must own so that those identities cannot climb: a Workload Identity pool and GitHub
// OIDC provider pinned to one repository by its numeric IDs, a preview account only pull
// requests may impersonate and that reads nothing but the state, a deploy account only the
// deploy workflow on the deploy branch in the deploy environment may impersonate, the custom
// roles both need, the runtime account the service runs as and the authz guard's role. It is a
// separate, admin-run stack because the main stack must not own the identity that deploys it.
// Run is the one entry point bootstrap/main.go and the tests call.
package ci

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// Config keys in the bootstrap project's namespace (`<project>:<key>`). Any other key in that
// namespace is an error, so a typo is reported instead of silently falling back to a default.
const (
	KeyCIProject          = "ciProject"
	KeyRepository         = "repository"
	KeyRepositoryID       = "repositoryId"
	KeyRepositoryOwnerID  = "repositoryOwnerId"
	KeyDeployBranch       = "deployBranch"
	KeyDeployWorkflow     = "deployWorkflow"
	KeyDeployEnvironment  = "deployEnvironment"
	KeyPoolID             = "poolId"
	KeyProviderID         = "providerId"
	KeyPreviewAccountID   = "previewAccountId"
	KeyDeployAccountID    = "deployAccountId"
	KeyRuntimeAccountID   = "runtimeAccountId"
	KeyStateBucket        = "stateBucket"
	KeyAuthzBucket        = "authzBucket"
	KeyAuthzRoleID        = "authzRoleId"
	KeyDeployRoleID       = "deployRoleId"
	KeyAuthzBucketRoleID  = "authzBucketRoleId"
	KeyEnableAPIs         = "enableApis"
	KeyProtect            = "protect"
	KeySecrets            = "secrets"
	KeySecretRoleID       = "secretRoleId"
	KeyVPC                = "vpc"
	KeyProjectNumber      = "projectNumber"
	KeyAuditAccountID     = "auditAccountId"
	KeyAuditWorkflow      = "auditWorkflow"
	KeyAuditRoleID        = "auditRoleId"
	KeyAuditBucketRoleID  = "auditBucketRoleId"
	KeyAuditSecretRoleID  = "auditSecretRoleId"
	KeyCallersProject     = "callersProject"
	KeyCallersRoleID      = "callersRoleId"
	KeyAuditCallersRoleID = "auditCallersRoleId"
	KeyCIProjectNumber    = "ciProjectNumber"

	// KeyGCPProject is the provider's own key: the main stack's project, where the service, its
	// accounts, the authz guard and the custom roles live.
	KeyGCPProject = "gcp:project"
)

// Defaults for the optional keys.
const (
	DefaultDeployBranch       = "main"
	DefaultDeployWorkflow     = "deploy.yml"
	DefaultDeployEnvironment  = "production"
	DefaultPoolID             = "github"
	DefaultProviderID         = "github-actions"
	DefaultPreviewAccountID   = "ci-preview"
	DefaultDeployAccountID    = "ci-deploy"
	DefaultAuthzRoleID        = "privateRunApiAuthz"
	DefaultDeployRoleID       = "privateRunApiDeployer"
	DefaultAuthzBucketRoleID  = "privateRunApiAuthzBucketDeployer"
	DefaultSecretRoleID       = "privateRunApiSecretIamDeployer"
	DefaultAuditAccountID     = "ci-audit"
	DefaultAuditWorkflow      = "access-live.yml"
	DefaultAuditRoleID        = "privateRunApiAuditor"
	DefaultAuditBucketRoleID  = "privateRunApiAuthzBucketAuditor"
	DefaultAuditSecretRoleID  = "privateRunApiSecretIamAuditor"
	DefaultCallersRoleID      = "privateRunApiCallersDeployer"
	DefaultAuditCallersRoleID = "privateRunApiCallersAuditor"
)

// Place is where the bootstrap works: the main stack's projects, the CI project, and the
// repository whose workflows may impersonate the CI accounts. Config reads it and Stack
// declares in it.
type Place struct {
	// Project is the main stack's project (gcp:project): the service, its runtime account, the
	// authz guard, and the custom roles the CI accounts hold there.
	Project string
	// CallersProject is where the main stack creates its caller accounts (the main stack's
	// private-run-api:callersProject), Project unless config names another. The deploy account's
	// service-account permissions are granted there only: no IAM condition narrows them, so the
	// project's accounts are their reach, and a project of its own holds nothing but callers.
	CallersProject string
	// CIProject holds what the deploy account must not reach: the pool, the provider, the CI
	// accounts and the state buckets. It must differ from Project and CallersProject.
	CIProject string
	// CIProjectNumber is CIProject's number. Google names the pool by it, so the principal sets
	// that may impersonate the CI accounts are computed from it up front and a preview shows
	// them.
	CIProjectNumber string
	// Repository is "owner/repo" as GitHub spells it: the deploy workflow's job_workflow_ref and
	// the token's sub carry it, so the deploy binding compares it byte for byte.
	Repository string
	// RepositoryID and RepositoryOwnerID pin the repository and its owner by numbers GitHub never
	// reuses: a repository re-created under a freed name matches neither.
	RepositoryID      string
	RepositoryOwnerID string
}

// Config is the bootstrap stack's configuration after decoding and defaulting.
type Config struct {
	Place
	// DeployBranch, DeployWorkflow (a file in .github/workflows) and DeployEnvironment are the
	// only branch, workflow and environment whose jobs may impersonate the deploy account.
	DeployBranch      string
	DeployWorkflow    string
	DeployEnvironment string
	PoolID            string
	ProviderID        string
	// PreviewAccountID and DeployAccountID name the two CI accounts (in CIProject).
	PreviewAccountID string
	DeployAccountID  string
	// RuntimeAccountID names the account the Cloud Run service runs as (in Project). The
	// bootstrap owns it so that the deploy account holds actAs on it without owning it, and so
	// that it exists before the main stack's first deploy.
	RuntimeAccountID string
	// StateBucket holds the main stack's Pulumi state (PULUMI_BACKEND_URL=gs://<bucket>).
	StateBucket string
	// AuthzBucket is the main stack's authz bucket: the only bucket the deploy account may
	// change, and whose IAM policy it may set.
	AuthzBucket string
	// AuthzRoleID, DeployRoleID and AuthzBucketRoleID name the custom roles created in Project.
	AuthzRoleID       string
	DeployRoleID      string
	AuthzBucketRoleID string
	// EnableAPIs enables the APIs both projects need (never disabling them).
	EnableAPIs bool
	// Protect guards the pool, the provider, the accounts and the authz role against deletion.
	Protect bool
	// Secrets are the Secret Manager secrets the main stack grants its runtime account access to
	// (service.secrets), by full name, each once. The deploy account may set the IAM policy of
	// these secrets and of no other.
	Secrets []Secret
	// SecretRoleID names the custom role holding the secret-policy permissions, created in each
	// project that holds one of Secrets: a project-level custom role can be granted only on that
	// project and what it contains.
	SecretRoleID string
	// VPC is the subnetwork (Direct VPC egress) or Serverless VPC Access connector the main
	// stack's service uses; nil for none.
	VPC *VPCResource
	// ProjectNumber is Project's number. Cloud Run's service agent is named after it, and it needs
	// a grant only when VPC lives in another project.
	ProjectNumber string
	// AuditAccountID names the read-only audit account (in CIProject) that the audit workflow
	// (AuditWorkflow, a file in .github/workflows read from DeployBranch) alone may impersonate,
	// on a schedule or run by hand.
	AuditAccountID string
	AuditWorkflow  string
	// AuditRoleID, AuditBucketRoleID and AuditSecretRoleID name the audit account's custom roles:
	// in Project, in Project for the authz bucket alone, and in each other project of Secrets.
	AuditRoleID       string
	AuditBucketRoleID string
	AuditSecretRoleID string
	// CallersRoleID and AuditCallersRoleID name the deploy and audit accounts' custom roles in
	// CallersProject: the caller accounts and their policies, and their reads.
	CallersRoleID      string
	AuditCallersRoleID string
}

// Secret is one Secret Manager secret by project ID and secret ID.
type Secret struct {
	Project, ID string
}

// Name is the secret's resource name, projects/<project>/secrets/<id>.
func (s Secret) Name() string { return "projects/" + s.Project + "/secrets/" + s.ID }

// Kinds of VPC resource the main stack's service can send egress through.
const (
	VPCSubnetwork = "subnetwork"
	VPCConnector  = "connector"
)

// VPCResource is a subnetwork or a connector by full name.
type VPCResource struct {
	Kind, Project, Region, Name string
}

// FullName is the resource name as Cloud Run and IAM take it.
func (v VPCResource) FullName() string {
	if v.Kind == VPCConnector {
		return "projects/" + v.Project + "/locations/" + v.Region + "/connectors/" + v.Name
	}
	return "projects/" + v.Project + "/regions/" + v.Region + "/subnetworks/" + v.Name
}

// Load decodes and validates the bootstrap config. namespace is the Pulumi project name; allKeys,
// when known, lists every key the stack sets so that unknown ones are reported. The error, if
// any, is a *diag.ConfigError listing every problem at once, so one run shows everything to fix.
func Load(namespace string, src config.Source, allKeys []string) (*Config, error) {
	ps := problems(config.UnknownKeys(namespace, allKeys, Keys, "the bootstrap program"))

	str := func(key, def string) string {
		raw, ok := src(namespace + ":" + key)
		raw = strings.TrimSpace(raw)
		if !ok || raw == "" {
			return def
		}
		// Structured values reach the program as JSON text; a mapping or list here means the key
		// was set with --path or as YAML structure, and would otherwise be used verbatim.
		if strings.HasPrefix(raw, "{") || strings.HasPrefix(raw, "[") {
			ps.add(diag.Invalid, key, short(raw), "is a mapping or a list, expected a string", "set it as plain text: pulumi config set "+key+" <value>")
			return def
		}
		return raw
	}
	boolean := func(key string, def bool) bool {
		raw, ok := src(namespace + ":" + key)
		raw = strings.TrimSpace(raw)
		if !ok || raw == "" {
			return def
		}
		switch raw {
		case "true":
			return true
		case "false":
			return false
		}
		ps.add(diag.NotSupported, key, short(raw), "is not true or false", "write true or false")
		return def
	}

	project, _ := src(KeyGCPProject)
	c := &Config{
		Place: Place{
			Project:           strings.TrimSpace(project),
			CIProject:         str(KeyCIProject, ""),
			Repository:        str(KeyRepository, ""),
			RepositoryID:      str(KeyRepositoryID, ""),
			RepositoryOwnerID: str(KeyRepositoryOwnerID, ""),
		},
		DeployBranch:      str(KeyDeployBranch, DefaultDeployBranch),
		DeployWorkflow:    str(KeyDeployWorkflow, DefaultDeployWorkflow),
		DeployEnvironment: str(KeyDeployEnvironment, DefaultDeployEnvironment),
		PoolID:            str(KeyPoolID, DefaultPoolID),
		ProviderID:        str(KeyProviderID, DefaultProviderID),
		PreviewAccountID:  str(KeyPreviewAccountID, DefaultPreviewAccountID),
		DeployAccountID:   str(KeyDeployAccountID, DefaultDeployAccountID),
		RuntimeAccountID:  str(KeyRuntimeAccountID, ""),
		StateBucket:       str(KeyStateBucket, ""),
		AuthzBucket:       str(KeyAuthzBucket, ""),
		AuthzRoleID:       str(KeyAuthzRoleID, DefaultAuthzRoleID),
		DeployRoleID:      str(KeyDeployRoleID, DefaultDeployRoleID),
		AuthzBucketRoleID: str(KeyAuthzBucketRoleID, DefaultAuthzBucketRoleID),
		EnableAPIs:        boolean(KeyEnableAPIs, true),
		Protect:           boolean(KeyProtect, true),
		SecretRoleID:      str(KeySecretRoleID, DefaultSecretRoleID),
		ProjectNumber:     str(KeyProjectNumber, ""),
		AuditAccountID:    str(KeyAuditAccountID, DefaultAuditAccountID),
		AuditWorkflow:     str(KeyAuditWorkflow, DefaultAuditWorkflow),
		AuditRoleID:       str(KeyAuditRoleID, DefaultAuditRoleID),
		AuditBucketRoleID: str(KeyAuditBucketRoleID, DefaultAuditBucketRoleID),
		AuditSecretRoleID: str(KeyAuditSecretRoleID, DefaultAuditSecretRoleID),
	}
	// The callers' project and roles are read last, as they always were: decoding problems are
	// listed in the order the keys are read.
	c.CallersProject = str(KeyCallersProject, "")
	c.CIProjectNumber = str(KeyCIProjectNumber, "")
	c.CallersRoleID = str(KeyCallersRoleID, DefaultCallersRoleID)
	c.AuditCallersRoleID = str(KeyAuditCallersRoleID, DefaultAuditCallersRoleID)
	rawSecrets := stringList(&ps, src, namespace, KeySecrets)
	rawVPC := str(KeyVPC, "")
	// A value that did not decode was replaced by its default (or nothing): validation would
	// only report it again, worse ("is missing"), so its path keeps the decoding problem alone.
	decoded := map[string]bool{}
	for _, p := range ps {
		decoded[p.Path] = true
	}
	var checks problems
	validate(&checks, c)
	if c.CallersProject == "" {
		c.CallersProject = c.Project
	}
	c.Secrets = validateSecrets(&checks, c, rawSecrets)
	c.VPC = validateVPC(&checks, c, rawVPC)
	for _, p := range checks {
		if !decoded[p.Path] {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return nil, &diag.ConfigError{Diagnostics: diag.List(ps)}
	}
	return c, nil
}

var (
	ownerRe       = regexp.MustCompile(`^[A-Za-z0-9](-?[A-Za-z0-9])*$`)
	repoNameRe    = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	numericRe     = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	branchRe      = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	workflowRe    = regexp.MustCompile(`^[A-Za-z0-9._-]+\.ya?ml$`)
	environmentRe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	wifIDRe       = regexp.MustCompile(`^[a-z0-9-]{4,32}$`)
)

// Length limits the binding values and Google's limits follow from.
const (
	maxOwner       = 39
	maxRepoName    = 100
	maxBranch      = 200
	maxWorkflow    = 100
	maxEnvironment = 255
)

func validate(ps *problems, c *Config) {
	validProjects := true
	for _, p := range []struct{ key, value, missingFix string }{
		{KeyGCPProject, c.Project, "run `pulumi config set gcp:project <project-id>` with the main stack's project"},
		{KeyCIProject, c.CIProject, "create a project for the CI identities and the state (README, step 1) and run `pulumi config set ciProject <project-id>`"},
	} {
		switch {
		case p.value == "":
			validProjects = false
			ps.add(diag.Required, p.key, "", "is missing", p.missingFix)
		case !gcp.ProjectID.MatchString(p.value):
			validProjects = false
			ps.add(diag.Invalid, p.key, p.value, `is not a project ID (6-30 chars of a-z, 0-9 and "-", starting with a letter)`, "use the project ID, not its name or number")
		}
	}
	if validProjects && c.CIProject == c.Project {
		ps.add(diag.Forbidden, KeyCIProject, c.CIProject, "is the main stack's project (gcp:project)",
			"use a separate project: the deploy account may set the IAM policy of every service account in the callers' project (gcp:project unless callersProject names another; no IAM condition narrows that), so its own account, the pool and the state must live elsewhere")
	}
	switch p := c.CallersProject; {
	case p == "":
	case !gcp.ProjectID.MatchString(p):
		ps.add(diag.Invalid, KeyCallersProject, p, `is not a project ID (6-30 chars of a-z, 0-9 and "-", starting with a letter)`, "use the ID of the project the main stack's private-run-api:callersProject names, or leave callersProject out to keep the caller accounts in gcp:project")
	case p == c.CIProject:
		ps.add(diag.Forbidden, KeyCallersProject, p, "is ciProject",
			"give the caller accounts a project of their own (or leave callersProject out for gcp:project): the deploy account may set the IAM policy of every service account in the callers' project, the CI accounts included if they lived there")
	}
	validateCIProjectNumber(ps, c)
	validateRepository(ps, c)
	for _, id := range []struct{ key, value, what string }{
		{KeyRepositoryID, c.RepositoryID, "gh api repos/OWNER/REPO --jq .id"},
		{KeyRepositoryOwnerID, c.RepositoryOwnerID, "gh api repos/OWNER/REPO --jq .owner.id"},
	} {
		switch {
		case id.value == "":
			ps.add(diag.Required, id.key, "", "is missing", "read it with `"+id.what+"`: the provider pins the repository by this number, which a renamed or re-created repository does not carry")
		case !numericRe.MatchString(id.value):
			ps.add(diag.Invalid, id.key, id.value, "is not a GitHub numeric ID (a positive whole number of at most 20 digits)", "read it with `"+id.what+"`")
		}
	}
	if c.ProjectNumber != "" && !numericRe.MatchString(c.ProjectNumber) {
		ps.add(diag.Invalid, KeyProjectNumber, c.ProjectNumber, "is not a project number (a positive whole number)", "read it with `gcloud projects describe <gcp:project> --format='value(projectNumber)'`")
	}
	if c.ProjectNumber != "" && c.ProjectNumber == c.CIProjectNumber {
		ps.add(diag.Duplicate, KeyCIProjectNumber, c.CIProjectNumber, "is projectNumber, gcp:project's number; two projects never share one", "write ciProject's own number, which `"+describeNumber(c.CIProject)+"` prints")
	}
	validateBranch(ps, c.DeployBranch)
	validWorkflows := true
	for _, w := range []struct{ key, value, def string }{{KeyDeployWorkflow, c.DeployWorkflow, DefaultDeployWorkflow}, {KeyAuditWorkflow, c.AuditWorkflow, DefaultAuditWorkflow}} {
		if len(w.value) > maxWorkflow || !workflowRe.MatchString(w.value) {
			validWorkflows = false
			ps.add(diag.Invalid, w.key, w.value, `is not a workflow file name (letters, digits, ".", "_" and "-", ending in .yml or .yaml, no directory)`, fmt.Sprintf("name the file in .github/workflows, e.g. %q", w.def))
		}
	}
	if validWorkflows && c.AuditWorkflow == c.DeployWorkflow {
		ps.add(diag.Duplicate, KeyAuditWorkflow, c.AuditWorkflow, "is the deploy workflow", fmt.Sprintf("give the scheduled audit its own file, e.g. %q: a file whose runs may deploy must not also run on a schedule", DefaultAuditWorkflow))
	}
	if len(c.DeployEnvironment) > maxEnvironment || !environmentRe.MatchString(c.DeployEnvironment) {
		ps.add(diag.Invalid, KeyDeployEnvironment, c.DeployEnvironment, `is not an environment name this stack accepts (1-255 letters, digits, ".", "_" and "-")`, fmt.Sprintf("name the GitHub environment the deploy job runs in, e.g. %q", DefaultDeployEnvironment))
	}
	for _, id := range []struct{ key, value string }{{KeyPoolID, c.PoolID}, {KeyProviderID, c.ProviderID}} {
		switch {
		case !wifIDRe.MatchString(id.value):
			ps.add(diag.Invalid, id.key, id.value, `must be 4-32 chars of a-z, 0-9 and "-"`, fmt.Sprintf("rename it, e.g. %q", map[string]string{KeyPoolID: DefaultPoolID, KeyProviderID: DefaultProviderID}[id.key]))
		case strings.HasPrefix(id.value, "gcp-"):
			ps.add(diag.Invalid, id.key, id.value, `starts with "gcp-", which Google reserves`, "choose an ID without that prefix")
		}
	}
	validAccounts := true
	for _, a := range []struct{ key, value string }{{KeyPreviewAccountID, c.PreviewAccountID}, {KeyDeployAccountID, c.DeployAccountID}, {KeyRuntimeAccountID, c.RuntimeAccountID}, {KeyAuditAccountID, c.AuditAccountID}} {
		switch {
		case a.value == "":
			validAccounts = false
			ps.add(diag.Required, a.key, "", "is missing", `name the account the Cloud Run service runs as, e.g. "orders-api-run"`)
		case !gcp.ValidAccountID(a.value):
			validAccounts = false
			ps.add(diag.Invalid, a.key, a.value, `must be 6-30 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-"`, "rename the account")
		}
	}
	if validAccounts && c.PreviewAccountID == c.DeployAccountID {
		ps.add(diag.Duplicate, KeyDeployAccountID, c.DeployAccountID, "is the same account as previewAccountId", "give the deploy account its own ID: one account must stay read-only")
	}
	if validAccounts {
		for _, other := range []struct{ key, value string }{{KeyPreviewAccountID, c.PreviewAccountID}, {KeyDeployAccountID, c.DeployAccountID}} {
			if c.AuditAccountID == other.value {
				ps.add(diag.Duplicate, KeyAuditAccountID, c.AuditAccountID, "is the same account as "+other.key, fmt.Sprintf("give the audit account its own ID, e.g. %q: its binding trusts the scheduled audit workflow, which must reach nothing but reads", DefaultAuditAccountID))
			}
		}
	}
	for _, b := range []struct{ key, value, missingFix string }{
		{KeyStateBucket, c.StateBucket, "create the state bucket in ciProject (README, step 1) and run `pulumi config set stateBucket <bucket>`"},
		{KeyAuthzBucket, c.AuthzBucket, "set it to the main stack's authz bucket: private-run-api:authz.bucket in Pulumi.<stack>.yaml, or its default <project>-<service>-authz"},
	} {
		validateBucket(ps, b.key, b.value, b.missingFix)
	}
	if c.StateBucket != "" && c.StateBucket == c.AuthzBucket {
		ps.add(diag.Forbidden, KeyAuthzBucket, c.AuthzBucket, "is the state bucket", "name the main stack's authz bucket: the deploy account may set its IAM policy, never the state's")
	}
	validRoles := true
	for _, r := range []struct{ key, value, def string }{
		{KeyAuthzRoleID, c.AuthzRoleID, DefaultAuthzRoleID},
		{KeyDeployRoleID, c.DeployRoleID, DefaultDeployRoleID},
		{KeyAuthzBucketRoleID, c.AuthzBucketRoleID, DefaultAuthzBucketRoleID},
		{KeySecretRoleID, c.SecretRoleID, DefaultSecretRoleID},
		{KeyAuditRoleID, c.AuditRoleID, DefaultAuditRoleID},
		{KeyAuditBucketRoleID, c.AuditBucketRoleID, DefaultAuditBucketRoleID},
		{KeyAuditSecretRoleID, c.AuditSecretRoleID, DefaultAuditSecretRoleID},
		{KeyCallersRoleID, c.CallersRoleID, DefaultCallersRoleID},
		{KeyAuditCallersRoleID, c.AuditCallersRoleID, DefaultAuditCallersRoleID},
	} {
		if !gcp.RoleID.MatchString(r.value) {
			validRoles = false
			ps.add(diag.Invalid, r.key, r.value, "must be 3-64 chars of a-z, A-Z, 0-9, _ and . (no hyphen)", fmt.Sprintf("rename it, e.g. %q", r.def))
		}
	}
	if validRoles {
		seen := map[string]string{}
		// The secret role is created in each secret's project, the main project included, and the
		// callers' roles in the callers' project, which may be the main one: no ID may be taken
		// twice.
		for _, r := range []struct{ key, value string }{{KeyAuthzRoleID, c.AuthzRoleID}, {KeyDeployRoleID, c.DeployRoleID}, {KeyAuthzBucketRoleID, c.AuthzBucketRoleID}, {KeySecretRoleID, c.SecretRoleID},
			{KeyAuditRoleID, c.AuditRoleID}, {KeyAuditBucketRoleID, c.AuditBucketRoleID}, {KeyAuditSecretRoleID, c.AuditSecretRoleID},
			{KeyCallersRoleID, c.CallersRoleID}, {KeyAuditCallersRoleID, c.AuditCallersRoleID}} {
			if other, dup := seen[r.value]; dup {
				ps.add(diag.Duplicate, r.key, r.value, "is the same role ID as "+other, "give each custom role its own ID")
			}
			seen[r.value] = r.key
		}
	}
}

// projectNumberRe is a project number as Google prints it: no leading zero, and (as the main
// program's runAs.cloudRunProjects accepts) 6 to 19 digits.
var projectNumberRe = regexp.MustCompile(`^[1-9][0-9]{5,18}$`)

// validateCIProjectNumber checks the number the pool's name, and so every principal set, is built
// from. A wrong one is caught by Google's name for the pool on the first `pulumi up` (see Declare);
// a missing or malformed one here, before anything is registered.
func validateCIProjectNumber(ps *problems, c *Config) {
	n := c.CIProjectNumber
	switch {
	case n == "":
		ps.add(diag.Required, KeyCIProjectNumber, "", "is missing; Google names the Workload Identity pool by ciProject's number, and the bindings that say who may impersonate the CI accounts name the pool",
			"run `pulumi config set ciProjectNumber \"$("+describeNumber(c.CIProject)+")\"`")
	case gcp.ProjectID.MatchString(n):
		ps.add(diag.Invalid, KeyCIProjectNumber, n, "is a project ID, not a project number", "write the number `"+describeNumber(c.CIProject)+"` prints")
	case !projectNumberRe.MatchString(n):
		ps.add(diag.Invalid, KeyCIProjectNumber, n, "is not a project number (6-19 digits, not starting with 0)", "write the number `"+describeNumber(c.CIProject)+"` prints")
	}
}

// describeNumber is the command that prints a project's number.
func describeNumber(project string) string {
	if project == "" {
		project = "<ciProject>"
	}
	return "gcloud projects describe " + project + " --format='value(projectNumber)'"
}

func validateRepository(ps *problems, c *Config) {
	r := c.Repository
	if r == "" {
		ps.add(diag.Required, KeyRepository, "", "is missing", "run `pulumi config set repository OWNER/REPO` with the repository whose workflows deploy the main stack")
		return
	}
	if strings.Contains(r, "://") || strings.HasPrefix(r, "github.com/") || strings.HasPrefix(r, "git@") {
		ps.add(diag.Invalid, KeyRepository, r, "is a URL, expected OWNER/REPO", `write only the owner and the name, e.g. "acme/private-run-api"`)
		return
	}
	owner, name, ok := strings.Cut(r, "/")
	switch {
	case !ok || strings.Contains(name, "/"):
		ps.add(diag.Invalid, KeyRepository, r, "is not OWNER/REPO", `write the owner and the repository name separated by one "/", e.g. "acme/private-run-api"`)
	case len(owner) > maxOwner || !ownerRe.MatchString(owner):
		ps.add(diag.Invalid, KeyRepository, r, "has an owner GitHub would refuse (1-39 letters, digits and single hyphens, not starting or ending with a hyphen)", "copy the owner from the repository's URL")
	case len(name) > maxRepoName || !repoNameRe.MatchString(name) || name == "." || name == ".." || strings.HasSuffix(name, ".git"):
		ps.add(diag.Invalid, KeyRepository, r, `has a repository name GitHub would refuse (1-100 letters, digits, ".", "-" and "_", without ".git")`, "copy the name from the repository's URL")
	}
}

func validateBranch(ps *problems, b string) {
	bad := func(rule, fix string) { ps.add(diag.Invalid, KeyDeployBranch, b, rule, fix) }
	switch {
	case strings.HasPrefix(b, "refs/"):
		bad("is a full ref, expected a branch name", fmt.Sprintf("write %q: refs/heads/ is added for you", strings.TrimPrefix(b, "refs/heads/")))
	case strings.ContainsAny(b, "*?["):
		bad("is a pattern; the deploy account trusts exactly one branch", `name one branch, e.g. "main"`)
	case !branchRe.MatchString(b) || strings.Contains(b, "..") || strings.Contains(b, "//") ||
		strings.HasPrefix(b, "/") || strings.HasPrefix(b, "-") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") || len(b) > maxBranch:
		bad("is not a branch name git accepts", `use letters, digits, ".", "_", "-" and "/", e.g. "main"`)
	}
}

func validateBucket(ps *problems, key, b, missingFix string) {
	switch {
	case b == "":
		ps.add(diag.Required, key, "", "is missing", missingFix)
	case strings.HasPrefix(b, "gs://"):
		ps.add(diag.Invalid, key, b, "is a URL, expected a bucket name", fmt.Sprintf("write %q", strings.TrimSuffix(strings.TrimPrefix(b, "gs://"), "/")))
	default:
		if rule := gcp.BucketNameProblem(b); rule != "" {
			ps.add(diag.Invalid, key, b, "is not a bucket name: it "+rule, "copy the bucket's name")
		}
	}
}

// listItem is one entry of a list value: its text, and whether it was a string at all (an entry
// that was not is reported while decoding and left out of validation).
type listItem struct {
	value string
	ok    bool
}

// stringList decodes a list of strings. Pulumi hands a YAML list to the program as JSON text; a
// plain string here is a list written as a scalar, which would otherwise be read as one entry.
func stringList(ps *problems, src config.Source, namespace, key string) []listItem {
	raw, ok := src(namespace + ":" + key)
	raw = strings.TrimSpace(raw)
	if !ok || raw == "" {
		return nil
	}
	var entries []any
	if !strings.HasPrefix(raw, "[") || json.Unmarshal([]byte(raw), &entries) != nil {
		ps.add(diag.Invalid, key, short(raw), "is not a list", "write it as a YAML list, one full name per entry (see Pulumi.example.yaml)")
		return nil
	}
	out := make([]listItem, len(entries))
	for i, e := range entries {
		s, isString := e.(string)
		if !isString {
			text, _ := json.Marshal(e)
			ps.add(diag.Invalid, fmt.Sprintf("%s[%d]", key, i), short(string(text)), "is not a string", `write the full name as text, e.g. "projects/<project>/secrets/<id>"`)
			continue
		}
		out[i] = listItem{value: strings.TrimSpace(s), ok: true}
	}
	return out
}

var (
	secretNameRe  = regexp.MustCompile(`^projects/([^/]+)/secrets/([^/]+)$`)
	secretVersion = regexp.MustCompile(`^(projects/[^/]+/secrets/[^/]+)/versions/[^/]+$`)
	subnetworkRe  = regexp.MustCompile(`^projects/([^/]+)/regions/([^/]+)/subnetworks/([^/]+)$`)
	connectorRe   = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/connectors/([^/]+)$`)
	networkRe     = regexp.MustCompile(`^projects/[^/]+/global/networks/[^/]+$`)
	barePathSegRe = regexp.MustCompile(`^[^/]+$`)
)

// validateSecrets checks each secret name and returns the valid ones, each once.
func validateSecrets(ps *problems, c *Config, items []listItem) []Secret {
	var out []Secret
	seen := map[string]int{}
	for i, it := range items {
		if !it.ok {
			continue
		}
		path, v := fmt.Sprintf("%s[%d]", KeySecrets, i), it.value
		m := secretNameRe.FindStringSubmatch(v)
		switch {
		case v == "":
			ps.add(diag.Invalid, path, "", "is empty", "remove the entry, or write the secret's full name projects/<project>/secrets/<id>")
			continue
		case secretVersion.MatchString(v):
			ps.add(diag.Invalid, path, v, "names a secret version, not a secret", fmt.Sprintf("write %q: access is granted on the secret, whatever version the service reads", secretVersion.FindStringSubmatch(v)[1]))
			continue
		case m == nil && barePathSegRe.MatchString(v) && gcp.SecretID.MatchString(v):
			ps.add(diag.Invalid, path, v, "is a secret ID, not a full secret name", fmt.Sprintf("write %q if it is in gcp:project, or name its own project: the bootstrap grants on the secret and creates a role in its project", "projects/"+c.Project+"/secrets/"+v))
			continue
		case m == nil:
			ps.add(diag.Invalid, path, v, "is not a full secret name (projects/<project>/secrets/<id>)", "copy the name from `gcloud secrets describe <id> --project <project> --format='value(name)'`, with the project ID in place of its number")
			continue
		case !gcp.ProjectID.MatchString(m[1]):
			ps.add(diag.Invalid, path, v, "names its project by something other than a project ID", "write the project ID (6-30 chars of a-z, 0-9 and \"-\"), not its number: the role it needs is created in that project by ID")
			continue
		case !gcp.SecretID.MatchString(m[2]):
			ps.add(diag.Invalid, path, v, `has a secret ID Secret Manager would refuse (1-255 letters, digits, "-" and "_")`, "copy the secret's ID as Secret Manager spells it")
			continue
		case m[1] == c.CIProject:
			ps.add(diag.Forbidden, path, v, "is in ciProject", "keep the main stack's secrets in gcp:project or a secrets project: the deploy account must hold nothing in ciProject but the state")
			continue
		case m[1] == c.CallersProject && c.CallersProject != c.Project:
			ps.add(diag.Forbidden, path, v, "is in callersProject", "keep the main stack's secrets in gcp:project or a secrets project: the callers' project holds the caller accounts and nothing else")
			continue
		}
		if j, dup := seen[v]; dup {
			ps.add(diag.Duplicate, path, v, fmt.Sprintf("is listed twice (also %s[%d])", KeySecrets, j), "list each secret once")
			continue
		}
		seen[v] = i
		out = append(out, Secret{Project: m[1], ID: m[2]})
	}
	return out
}

// validateVPC checks the VPC resource and, when it lives in another project, that the project
// number needed to name Cloud Run's service agent is there.
func validateVPC(ps *problems, c *Config, v string) *VPCResource {
	if v == "" {
		return nil
	}
	fullFix := "write projects/<project>/regions/<region>/subnetworks/<name> (Direct VPC egress) or projects/<project>/locations/<region>/connectors/<name> (a connector)"
	var r *VPCResource
	if m := subnetworkRe.FindStringSubmatch(v); m != nil {
		r = &VPCResource{Kind: VPCSubnetwork, Project: m[1], Region: m[2], Name: m[3]}
	} else if m := connectorRe.FindStringSubmatch(v); m != nil {
		r = &VPCResource{Kind: VPCConnector, Project: m[1], Region: m[2], Name: m[3]}
	}
	switch {
	case networkRe.MatchString(v):
		ps.add(diag.Invalid, KeyVPC, v, "is a network; the bootstrap needs the subnetwork", "name the subnetwork the service uses: with only a network, Cloud Run uses the subnetwork of the same name in the service's region")
		return nil
	case r == nil && barePathSegRe.MatchString(v):
		ps.add(diag.Invalid, KeyVPC, v, "is a short name, which does not say its project or region", fullFix)
		return nil
	case r == nil:
		ps.add(diag.Invalid, KeyVPC, v, "is not a subnetwork or a Serverless VPC Access connector", fullFix)
		return nil
	case !gcp.ProjectID.MatchString(r.Project):
		ps.add(diag.Invalid, KeyVPC, v, "names its project by something other than a project ID", "write the project ID, not its number")
		return nil
	case !gcp.Region.MatchString(r.Region):
		ps.add(diag.Invalid, KeyVPC, v, "has no region Google would accept (e.g. asia-northeast1)", "copy the region from the resource's name")
		return nil
	case r.Kind == VPCSubnetwork && !gcp.ResourceName.MatchString(r.Name):
		ps.add(diag.Invalid, KeyVPC, v, `has a subnetwork name Compute Engine would refuse (1-63 chars of a-z, 0-9 and "-", starting with a letter)`, "copy the subnetwork's name")
		return nil
	case r.Kind == VPCConnector && !gcp.ConnectorID.MatchString(r.Name):
		ps.add(diag.Invalid, KeyVPC, v, `has a connector name Serverless VPC Access would refuse (2-24 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-")`, "copy the connector's name")
		return nil
	case r.Project == c.CIProject:
		ps.add(diag.Forbidden, KeyVPC, v, "is in ciProject", "use the main project's network or a Shared VPC host project: the CI project holds the identities and the state only")
		return nil
	case r.Project == c.CallersProject && c.CallersProject != c.Project:
		ps.add(diag.Forbidden, KeyVPC, v, "is in callersProject", "use the main project's network or a Shared VPC host project: a network in the callers' project means the Compute Engine API, and with it the default compute account (Editor), which the deploy account could take over")
		return nil
	}
	if r.Project != c.Project && c.ProjectNumber == "" {
		ps.add(diag.Required, KeyProjectNumber, "", "is missing; vpc is in another project, where Cloud Run's service agent (named by this number) needs a grant",
			fmt.Sprintf("run `pulumi config set projectNumber \"$(gcloud projects describe %s --format='value(projectNumber)')\"`", c.Project))
	}
	return r
}

type problems diag.List

func (ps *problems) add(t diag.Type, path, value, rule, fix string) {
	*ps = append(*ps, diag.Diagnostic{Severity: diag.Error, Type: t, Path: path, Value: value, Rule: rule, Fix: fix})
}

func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// quote renders s as a CEL string literal. Validation already keeps quotes and backslashes out of
// every value that reaches an expression; quoting still makes the expression unambiguous.
func quote(s string) string { return strconv.Quote(s) }
