// Package ci declares the identities CI/CD uses to preview and deploy the main stack: a Workload
// Identity pool and GitHub OIDC provider that trust one repository, a read-only preview account
// any branch of that repository may impersonate, and a deploy account only the deploy branch may
// impersonate. It is a separate stack because the main stack cannot create the identity that
// deploys it. Run is the one entry point bootstrap/main.go and the tests call.
package ci

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/platform/private-run-api/config"
)

// Config keys in the bootstrap project's namespace (`<project>:<key>`). Any other key in that
// namespace is an error, so a typo is reported instead of silently falling back to a default.
const (
	KeyRepository            = "repository"
	KeyRepositoryID          = "repositoryId"
	KeyDeployBranch          = "deployBranch"
	KeyPoolID                = "poolId"
	KeyProviderID            = "providerId"
	KeyPreviewAccountID      = "previewAccountId"
	KeyDeployAccountID       = "deployAccountId"
	KeyRuntimeServiceAccount = "runtimeServiceAccount"
	KeyStateBucket           = "stateBucket"
	KeyBucketRoleID          = "bucketRoleId"
	KeyEnableAPIs            = "enableApis"
	KeyProtect               = "protect"

	// KeyGCPProject is the provider's own key, read so that emails are known up front.
	KeyGCPProject = "gcp:project"
)

// Keys lists every key the bootstrap program reads in its namespace.
var Keys = []string{
	KeyRepository, KeyRepositoryID, KeyDeployBranch, KeyPoolID, KeyProviderID,
	KeyPreviewAccountID, KeyDeployAccountID, KeyRuntimeServiceAccount, KeyStateBucket,
	KeyBucketRoleID, KeyEnableAPIs, KeyProtect,
}

// Defaults for the optional keys.
const (
	DefaultDeployBranch     = "main"
	DefaultPoolID           = "github"
	DefaultProviderID       = "github-actions"
	DefaultPreviewAccountID = "ci-preview"
	DefaultDeployAccountID  = "ci-deploy"
	DefaultBucketRoleID     = "ciBucketDeployer"
)

// Config is the bootstrap stack's configuration after decoding and defaulting.
type Config struct {
	// Project hosts the pool, the CI accounts and the main stack's resources (gcp:project).
	Project string
	// Repository is the GitHub repository, "owner/repo", exactly as GitHub spells it: the
	// provider's condition compares it to the token's repository claim byte for byte.
	Repository string
	// RepositoryID, when set, also pins the repository's numeric ID, which survives renames and
	// cannot be taken over by someone who recreates a deleted owner/repo name.
	RepositoryID string
	// DeployBranch is the only branch whose workflows may impersonate the deploy account.
	DeployBranch string
	PoolID       string
	ProviderID   string
	// PreviewAccountID and DeployAccountID name the two CI service accounts.
	PreviewAccountID string
	DeployAccountID  string
	// RuntimeServiceAccount is the main stack's runtimeServiceAccount output: Cloud Run needs
	// actAs on it to deploy a service that runs as it.
	RuntimeServiceAccount string
	// StateBucket holds the main stack's Pulumi state (PULUMI_BACKEND_URL=gs://<bucket>).
	StateBucket string
	// BucketRoleID names the custom role that lets the deploy account manage the authz bucket.
	BucketRoleID string
	// EnableAPIs enables the APIs Workload Identity Federation needs (never disabling them).
	EnableAPIs bool
	// Protect guards the pool, the provider and the two accounts against deletion.
	Protect bool
}

// Load decodes and validates the bootstrap config. namespace is the Pulumi project name; allKeys,
// when known, lists every key the stack sets so that unknown ones are reported. The error, if
// any, is a *config.Error listing every problem at once, so one run shows everything to fix.
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
			ps.add(key, short(raw), "is a mapping or a list, expected a string", "set it as plain text: pulumi config set "+key+" <value>")
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
		ps.add(key, short(raw), "is not true or false", "write true or false")
		return def
	}

	project, _ := src(KeyGCPProject)
	c := &Config{
		Project:               strings.TrimSpace(project),
		Repository:            str(KeyRepository, ""),
		RepositoryID:          str(KeyRepositoryID, ""),
		DeployBranch:          str(KeyDeployBranch, DefaultDeployBranch),
		PoolID:                str(KeyPoolID, DefaultPoolID),
		ProviderID:            str(KeyProviderID, DefaultProviderID),
		PreviewAccountID:      str(KeyPreviewAccountID, DefaultPreviewAccountID),
		DeployAccountID:       str(KeyDeployAccountID, DefaultDeployAccountID),
		RuntimeServiceAccount: str(KeyRuntimeServiceAccount, ""),
		StateBucket:           str(KeyStateBucket, ""),
		BucketRoleID:          str(KeyBucketRoleID, DefaultBucketRoleID),
		EnableAPIs:            boolean(KeyEnableAPIs, true),
		Protect:               boolean(KeyProtect, true),
	}
	// A value that did not decode was replaced by its default (or nothing): validation would
	// only report it again, worse ("is missing"), so its path keeps the decoding problem alone.
	decoded := map[string]bool{}
	for _, p := range ps {
		decoded[p.Path] = true
	}
	var checks problems
	validate(&checks, c)
	for _, p := range checks {
		if !decoded[p.Path] {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return nil, &config.Error{Problems: ps}
	}
	return c, nil
}

var (
	projectRe   = regexp.MustCompile(`^([a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	ownerRe     = regexp.MustCompile(`^[A-Za-z0-9](-?[A-Za-z0-9])*$`)
	repoNameRe  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	numericRe   = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	branchRe    = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	wifIDRe     = regexp.MustCompile(`^[a-z0-9-]{4,32}$`)
	accountIDRe = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)
	saEmailRe   = regexp.MustCompile(`^[a-z][-a-z0-9]*@[a-z0-9][-a-z0-9.]*\.iam\.gserviceaccount\.com$`)
	roleIDRe    = regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`)
	bucketRe    = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]{1,61}[a-z0-9]$`)
)

func validate(ps *problems, c *Config) {
	switch {
	case c.Project == "":
		ps.add(KeyGCPProject, "", "is missing", "run `pulumi config set gcp:project <project-id>` with the main stack's project")
	case !projectRe.MatchString(c.Project):
		ps.add(KeyGCPProject, c.Project, `is not a project ID (6-30 chars of a-z, 0-9 and "-", starting with a letter)`, "use the project ID, not its name or number")
	}
	validateRepository(ps, c)
	if c.RepositoryID != "" && !numericRe.MatchString(c.RepositoryID) {
		ps.add(KeyRepositoryID, c.RepositoryID, "is not a GitHub repository ID (a positive whole number)", "read it with `gh api repos/OWNER/REPO --jq .id`, or leave it out")
	}
	validateBranch(ps, c.DeployBranch)
	for _, id := range []struct{ key, value string }{{KeyPoolID, c.PoolID}, {KeyProviderID, c.ProviderID}} {
		switch {
		case !wifIDRe.MatchString(id.value):
			ps.add(id.key, id.value, `must be 4-32 chars of a-z, 0-9 and "-"`, fmt.Sprintf("rename it, e.g. %q", map[string]string{KeyPoolID: DefaultPoolID, KeyProviderID: DefaultProviderID}[id.key]))
		case strings.HasPrefix(id.value, "gcp-"):
			ps.add(id.key, id.value, `starts with "gcp-", which Google reserves`, "choose an ID without that prefix")
		}
	}
	validAccounts := true
	for _, a := range []struct{ key, value string }{{KeyPreviewAccountID, c.PreviewAccountID}, {KeyDeployAccountID, c.DeployAccountID}} {
		if len(a.value) < 6 || len(a.value) > 30 || !accountIDRe.MatchString(a.value) {
			validAccounts = false
			ps.add(a.key, a.value, `must be 6-30 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-"`, "rename the account")
		}
	}
	if validAccounts && c.PreviewAccountID == c.DeployAccountID {
		ps.add(KeyDeployAccountID, c.DeployAccountID, "is the same account as previewAccountId", "give the deploy account its own ID: one account must stay read-only")
	}
	validateRuntime(ps, c)
	validateStateBucket(ps, c.StateBucket)
	if !roleIDRe.MatchString(c.BucketRoleID) {
		ps.add(KeyBucketRoleID, c.BucketRoleID, "must be 3-64 chars of a-z, A-Z, 0-9, _ and . (no hyphen)", fmt.Sprintf("rename it, e.g. %q", DefaultBucketRoleID))
	}
}

func validateRepository(ps *problems, c *Config) {
	r := c.Repository
	if r == "" {
		ps.add(KeyRepository, "", "is missing", "run `pulumi config set repository OWNER/REPO` with the repository whose workflows deploy the main stack")
		return
	}
	if strings.Contains(r, "://") || strings.HasPrefix(r, "github.com/") || strings.HasPrefix(r, "git@") {
		ps.add(KeyRepository, r, "is a URL, expected OWNER/REPO", `write only the owner and the name, e.g. "acme/private-run-api"`)
		return
	}
	owner, name, ok := strings.Cut(r, "/")
	switch {
	case !ok || strings.Contains(name, "/"):
		ps.add(KeyRepository, r, "is not OWNER/REPO", `write the owner and the repository name separated by one "/", e.g. "acme/private-run-api"`)
	case len(owner) > 39 || !ownerRe.MatchString(owner):
		ps.add(KeyRepository, r, "has an owner GitHub would refuse (1-39 letters, digits and single hyphens, not starting or ending with a hyphen)", "copy the owner from the repository's URL")
	case len(name) > 100 || !repoNameRe.MatchString(name) || name == "." || name == ".." || strings.HasSuffix(name, ".git"):
		ps.add(KeyRepository, r, `has a repository name GitHub would refuse (1-100 letters, digits, ".", "-" and "_", without ".git")`, "copy the name from the repository's URL")
	}
}

func validateBranch(ps *problems, b string) {
	bad := func(rule, fix string) { ps.add(KeyDeployBranch, b, rule, fix) }
	switch {
	case strings.HasPrefix(b, "refs/"):
		bad("is a full ref, expected a branch name", fmt.Sprintf("write %q: refs/heads/ is added for you", strings.TrimPrefix(b, "refs/heads/")))
	case strings.ContainsAny(b, "*?["):
		bad("is a pattern; the deploy account trusts exactly one branch", `name one branch, e.g. "main"`)
	case !branchRe.MatchString(b) || strings.Contains(b, "..") || strings.Contains(b, "//") ||
		strings.HasPrefix(b, "/") || strings.HasPrefix(b, "-") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") || len(b) > 200:
		bad("is not a branch name git accepts", `use letters, digits, ".", "_", "-" and "/", e.g. "main"`)
	}
}

func validateRuntime(ps *problems, c *Config) {
	e := c.RuntimeServiceAccount
	switch {
	case e == "":
		ps.add(KeyRuntimeServiceAccount, "", "is missing", "set it to the main stack's runtimeServiceAccount output (`pulumi stack output runtimeServiceAccount -s dev` in the repository root)")
	case !saEmailRe.MatchString(e):
		ps.add(KeyRuntimeServiceAccount, e, "is not a user-managed service account email", "copy the main stack's runtimeServiceAccount output; default accounts (compute, App Engine) are refused because deploying as them needs actAs on an Editor")
	case c.Project != "" && projectRe.MatchString(c.Project) && !strings.HasSuffix(e, "@"+accountDomain(c.Project)):
		ps.add(KeyRuntimeServiceAccount, e, "is not an account of gcp:project "+c.Project, "the main stack creates its runtime account in its own project: copy its runtimeServiceAccount output")
	default:
		for _, id := range []string{c.PreviewAccountID, c.DeployAccountID} {
			if strings.HasPrefix(e, id+"@") {
				ps.add(KeyRuntimeServiceAccount, e, "is one of the CI accounts this stack creates", "name the Cloud Run service's runtime account")
			}
		}
	}
}

func validateStateBucket(ps *problems, b string) {
	switch {
	case b == "":
		ps.add(KeyStateBucket, "", "is missing", "create the state bucket (README, step 1) and run `pulumi config set stateBucket <bucket>`")
	case strings.HasPrefix(b, "gs://"):
		ps.add(KeyStateBucket, b, "is a URL, expected a bucket name", fmt.Sprintf("write %q", strings.TrimSuffix(strings.TrimPrefix(b, "gs://"), "/")))
	case !bucketRe.MatchString(b) || strings.Contains(b, ".."):
		ps.add(KeyStateBucket, b, `is not a bucket name (3-63 chars of a-z, 0-9, "-", "_" and ".", starting and ending with a letter or digit)`, "copy the bucket's name")
	default:
		if _, err := netip.ParseAddr(b); err == nil {
			ps.add(KeyStateBucket, b, "is an IP address, not a bucket name", "copy the bucket's name")
		}
	}
}

// accountDomain is the part after "@" in the emails of project's service accounts.
func accountDomain(project string) string {
	email := config.AccountEmail(project, "x")
	return email[strings.Index(email, "@")+1:]
}

type problems []config.Problem

func (ps *problems) add(path, value, rule, fix string) {
	*ps = append(*ps, config.Problem{Path: path, Value: value, Rule: rule, Fix: fix})
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
