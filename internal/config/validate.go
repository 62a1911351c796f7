package config

import (
	"fmt"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"golang.org/x/text/unicode/runenames"
)

var (
	runNameRe   = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	envNameRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	emailRe     = regexp.MustCompile(`^[^@\s:/A-Z]+@[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`)
	domainRe    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`)
	principalRe = regexp.MustCompile(`^principal(Set)?://[a-z0-9.-]+/\S+$`)
	locationRe  = regexp.MustCompile(`^[A-Za-z]+[A-Za-z0-9-]*[A-Za-z0-9]$`)
	labelKeyRe  = regexp.MustCompile(`^[a-z][-a-z0-9_]{0,62}$`)
	labelValRe  = regexp.MustCompile(`^[-a-z0-9_]{0,63}$`)
	roleNameRe  = regexp.MustCompile(`^(projects/([^/]+)|organizations/[0-9]+)/roles/[a-zA-Z0-9_.]{3,64}$`)
	// workloadPoolRe is a principal or principal set of a workload identity pool (GitHub Actions,
	// GKE, any federated workload), as opposed to a workforce pool's, which holds people.
	workloadPoolRe = regexp.MustCompile(`(?i)^principal(set)?://iam\.googleapis\.com/projects/[^/]+/locations/[^/]+/workloadidentitypools/`)
)

// ConsumerMailDomains are mail domains anyone can have an address at: a `domain:` grant to one
// is a grant to everyone with a Google account there.
var ConsumerMailDomains = []string{"gmail.com", "googlemail.com"}

// BootstrapCIAccountIDs are the account IDs the bootstrap stack gives its CI accounts by default
// (bootstrap/ci: DefaultPreviewAccountID, DefaultDeployAccountID; tests/ hold the two lists
// equal). The main stack cannot know the CI project or IDs a bootstrap was given instead, so an
// external caller with one of these IDs is refused in any project: the preview account is
// impersonated by every pull request's preview job, and neither CI account has any business
// calling the service. A false alarm costs a rename; a missed one lets a pull request call it.
var BootstrapCIAccountIDs = map[string]string{"ci-preview": "preview", "ci-deploy": "deploy"}

const (
	memberPrefixes = `user:, group:, serviceAccount:, domain:, principal:// or principalSet://`
)

// reservedEnv are names Cloud Run sets itself and refuses in a service's env.
var reservedEnv = map[string]bool{"PORT": true, "K_SERVICE": true, "K_REVISION": true, "K_CONFIGURATION": true}

// validate checks the decoded config as a whole and returns every problem, in config order.
func validate(c *Config, broken reported) diag.List {
	var ps problems
	validateProject(&ps, c)
	validateService(&ps, c)
	validateRuntime(&ps, c)
	validateImpersonators(&ps, broken, diag.NewPath(KeyImpersonators), c.Impersonators, runtimeMember(c))
	validateCallers(&ps, broken, c)
	validateAuthz(&ps, c)
	validateLabels(&ps, c.Labels)
	return ps
}

func validateProject(ps *problems, c *Config) {
	switch {
	case c.Project == "":
		ps.Add(diag.Required, diag.NewPath(KeyGCPProject), "", "is missing", "run `pulumi config set gcp:project <project-id>`")
	case !gcp.ProjectID.MatchString(c.Project):
		ps.Add(diag.Invalid, diag.NewPath(KeyGCPProject), c.Project, "is not a project ID (6-30 chars of a-z, 0-9 and \"-\", starting with a letter)", "use the project ID, not its name or number")
	}
	if p := c.CallersProject; p != "" && !gcp.ProjectID.MatchString(p) {
		ps.Add(diag.Invalid, diag.NewPath(KeyCallersProject), p, "is not a project ID (6-30 chars of a-z, 0-9 and \"-\", starting with a letter)", "use the ID of the project that holds the caller accounts, or leave callersProject out to keep them in gcp:project")
	}
}

func validateService(ps *problems, c *Config) {
	s := c.Service
	switch {
	case s.Name == "":
		ps.Add(diag.Required, diag.NewPath("service").Child("name"), "", "is missing", `set service.name, e.g. "orders-api"`)
	case len(s.Name) >= 50 || !runNameRe.MatchString(s.Name):
		ps.Add(diag.Invalid, diag.NewPath("service").Child("name"), s.Name, `must be 1-49 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-"`, "rename the service")
	}
	validateImage(ps, s.Image)
	switch r := c.ServiceRegion(); {
	case r == "":
		ps.Add(diag.Required, diag.NewPath("service").Child("region"), "", "is missing and gcp:region is not set", "set service.region, or run `pulumi config set gcp:region <region>`")
	case !gcp.Region.MatchString(r):
		path := diag.NewPath("service").Child("region")
		if s.Region == "" {
			path = diag.NewPath(KeyGCPRegion)
		}
		ps.Add(diag.Invalid, path, r, "is not a Cloud Run region", `use a region such as "asia-northeast1" or "us-central1"`)
	}
	if _, ok := IngressValues[c.IngressOrDefault()]; !ok {
		ps.Add(diag.NotSupported, diag.NewPath("service").Child("ingress"), s.Ingress, "is not a known ingress", fmt.Sprintf("use %q (default), %q or %q", IngressAll, IngressInternal, IngressInternalAndLB))
	}
	if s.Port < 0 || s.Port > 65535 {
		ps.Add(diag.Invalid, diag.NewPath("service").Child("port"), fmt.Sprint(s.Port), "is not a TCP port", "use 1-65535, or leave it out for Cloud Run's 8080")
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		switch {
		case !envNameRe.MatchString(k):
			ps.Add(diag.Invalid, diag.NewPath("service").Child("env").Child(k), "", "is not a valid environment variable name", "use letters, digits and _, not starting with a digit")
		case reservedEnv[k]:
			ps.Add(diag.Forbidden, diag.NewPath("service").Child("env").Child(k), "", "is reserved: Cloud Run sets it itself", "remove it (use service.port for the port)")
		}
	}
	if s.MinInstances != nil && *s.MinInstances < 0 {
		ps.Add(diag.Invalid, diag.NewPath("service").Child("minInstances"), fmt.Sprint(*s.MinInstances), "is negative", "use 0 or more")
	}
	if s.MaxInstances != nil && *s.MaxInstances < 1 {
		ps.Add(diag.Invalid, diag.NewPath("service").Child("maxInstances"), fmt.Sprint(*s.MaxInstances), "must be at least 1", "use 1 or more, or leave it out")
	}
	if s.MinInstances != nil && *s.MinInstances >= 0 && c.MaxInstances() >= 1 && *s.MinInstances > c.MaxInstances() {
		if s.MaxInstances != nil {
			ps.Add(diag.Invalid, diag.NewPath("service").Child("minInstances"), fmt.Sprint(*s.MinInstances), fmt.Sprintf("is more than service.maxInstances (%d)", *s.MaxInstances), "lower minInstances or raise maxInstances")
		} else {
			ps.Add(diag.Invalid, diag.NewPath("service").Child("minInstances"), fmt.Sprint(*s.MinInstances), fmt.Sprintf("is more than the default maxInstances (%d)", DefaultMaxInstances), "set service.maxInstances too, at least as high")
		}
	}
	switch s.ImageOwner {
	case "", ImageOwnerStack, ImageOwnerPipeline:
	default:
		ps.Add(diag.NotSupported, diag.NewPath("service").Child("imageOwner"), s.ImageOwner, "is not a known image owner", fmt.Sprintf("use %q (default: every `pulumi up` deploys service.image) or %q (the app's pipeline deploys new images after the first)", ImageOwnerStack, ImageOwnerPipeline))
	}
	if s.RuntimeAccount != "" {
		own := "@" + strings.TrimPrefix(gcp.AccountEmail(c.Project, "x"), "x@")
		switch bad := unreadable(s.RuntimeAccount); {
		case bad != "":
			ps.Add(diag.Invalid, diag.NewPath("service").Child("runtimeAccount"), s.RuntimeAccount, bad, retypeASCII)
		case s.RuntimeAccountID != "":
			ps.Add(diag.Forbidden, diag.NewPath("service").Child("runtimeAccountId"), s.RuntimeAccountID, "is set together with service.runtimeAccount", "remove one: runtimeAccount names an existing account, runtimeAccountId one the program creates")
		case gcp.DefaultServiceAccount.MatchString(s.RuntimeAccount):
			ps.Add(diag.Forbidden, diag.NewPath("service").Child("runtimeAccount"), s.RuntimeAccount, "is a default service account, which holds broad project roles", "give the service a dedicated account with no roles")
		case !gcp.ServiceAccountEmail.MatchString(s.RuntimeAccount) || !strings.HasSuffix(s.RuntimeAccount, own):
			ps.Add(diag.Invalid, diag.NewPath("service").Child("runtimeAccount"), s.RuntimeAccount, "is not a service account of "+c.Project, "write the email of an account in "+c.Project+", ending in "+own+" (the bootstrap stack's runtimeServiceAccount output)")
		}
	} else if s.Name != "" || s.RuntimeAccountID != "" {
		if id := c.RuntimeAccountID(); !gcp.ValidAccountID(id) {
			fix := "choose another service.runtimeAccountId"
			if s.RuntimeAccountID == "" {
				fix = `it is derived from service.name; set service.runtimeAccountId explicitly, e.g. "` + suggestAccountID(s.Name+"-run") + `"`
			}
			ps.Add(diag.Invalid, diag.NewPath("service").Child("runtimeAccountId"), id, gcp.AccountIDRule, fix)
		}
	}
}

// validateImage parses the image as Docker and containerd do (distribution/reference), so that a
// reference Cloud Run would refuse fails in preview rather than halfway through a deploy.
func validateImage(ps *problems, image string) {
	const example = `e.g. "us-docker.pkg.dev/cloudrun/container/hello" or "REGISTRY/PATH@sha256:<64 hex digits>"`
	switch {
	case strings.TrimSpace(image) == "":
		ps.Add(diag.Required, diag.NewPath("service").Child("image"), "", "is missing", "set service.image to a container image, "+example)
		return
	case strings.Contains(image, "://"):
		ps.Add(diag.Invalid, diag.NewPath("service").Child("image"), image, "is a URL, not a container image reference", "drop the scheme: write REGISTRY/PATH[:TAG][@DIGEST], "+example)
		return
	}
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		rule := "is not a container image reference (" + err.Error() + ")"
		fix := "write REGISTRY/PATH[:TAG][@DIGEST] in lower case, " + example
		switch {
		// The parser wraps its sentinel errors in text, so match on what they say.
		case strings.Contains(err.Error(), "lowercase"):
			fix = "write the repository path in lower case (only a tag may have upper-case letters)"
		case strings.Contains(image, "@"):
			fix = "write the digest in full, @sha256: followed by 64 hex digits"
		}
		ps.Add(diag.Invalid, diag.NewPath("service").Child("image"), image, rule, fix)
	}
}

// suggestAccountID turns a bad name into one that passes, for the fix text.
func suggestAccountID(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	if out == "" || out[0] < 'a' || out[0] > 'z' {
		out = "sa-" + out
	}
	if len(out) > 30 {
		out = strings.TrimRight(out[:30], "-")
	}
	for len(out) < 6 {
		out += "-sa"
	}
	return out
}

// retypeASCII is the fix for a value with a character a reviewer cannot see for what it is.
const retypeASCII = "retype it in ASCII: IAM principals are ASCII, and a look-alike character names someone else"

// unreadable names the first character of s that a reviewer cannot see for what it is, with its
// position (1-based, in characters): a non-ASCII one (a Cyrillic "а" looks like a Latin "a") or
// a control character. "" when there is none.
func unreadable(s string) string {
	i := 0
	for _, r := range s {
		i++
		switch { // an invalid byte arrives as U+FFFD REPLACEMENT CHARACTER, and is named so
		case r < 0x20 || r == 0x7f:
			return fmt.Sprintf("has the control character %U at character %d, which a reviewer cannot see", r, i)
		case r > 0x7f:
			return fmt.Sprintf("has %U %s at character %d, which a reviewer cannot tell from an ASCII character", r, runenames.Name(r), i)
		}
	}
	return ""
}

// ValidateMember checks one IAM principal and returns (type, rule, fix) when it is bad.
func ValidateMember(m string) (diag.Type, string, string) {
	if rule := unreadable(m); rule != "" {
		return diag.Invalid, rule, retypeASCII
	}
	lower := strings.ToLower(m)
	if strings.HasPrefix(lower, "deleted:") {
		return diag.Forbidden, "is how IAM shows a principal that was deleted", "remove it from the stack config; a deleted principal can be granted nothing (docs/operations.md, \"Deleted principals\")"
	}
	if lower == "allusers" || lower == "allauthenticatedusers" || strings.HasPrefix(lower, "principalset://goog/public") {
		return diag.Forbidden, "makes the grant public", "name the developers or groups instead; this program never grants to everyone"
	}
	kind, rest, ok := strings.Cut(m, ":")
	if !ok {
		return diag.Invalid, "has no principal type", "prefix it with one of " + memberPrefixes + `, e.g. "user:` + m + `"`
	}
	switch kind {
	case "user", "group", "serviceAccount":
		if rest != strings.ToLower(rest) {
			return diag.Invalid, "has upper-case letters", fmt.Sprintf("write %q: IAM stores members in lower case, and a mixed-case one would show a change on every preview", kind+":"+strings.ToLower(rest))
		}
		if !emailRe.MatchString(rest) {
			return diag.Invalid, "is not " + kind + ":EMAIL", "write the full email, e.g. " + kind + ":someone@example.com"
		}
		if kind == "serviceAccount" && !gcp.ServiceAccountEmail.MatchString(rest) {
			return diag.Invalid, "is not a service account email", "service account emails end in .gserviceaccount.com"
		}
	case "domain":
		if !domainRe.MatchString(rest) {
			return diag.Invalid, "is not domain:DOMAIN", "write a lower-case domain, e.g. domain:example.com"
		}
		if slices.Contains(ConsumerMailDomains, rest) {
			return diag.Forbidden, "is a consumer mail domain: anyone can open an account there, so the grant would be to everyone", "name the developers (user:...) or a group of your organisation instead"
		}
	case "principal", "principalSet":
		if !principalRe.MatchString(m) {
			return diag.Invalid, "is not a principal identifier", "write it as principal://iam.googleapis.com/... or principalSet://iam.googleapis.com/..."
		}
	default:
		return diag.Invalid, "has an unknown principal type " + fmt.Sprintf("%q", kind), "use one of " + memberPrefixes
	}
	return "", "", ""
}

// runtimeMember is the runtime account's member when the config names the service or its
// account, "" otherwise.
func runtimeMember(c *Config) string {
	if c.Service.Name == "" && c.Service.RuntimeAccountID == "" && c.Service.RuntimeAccount == "" {
		return ""
	}
	return "serviceAccount:" + c.RuntimeEmail()
}

// validateImpersonators checks a list of impersonators; runtime is the runtime account's member
// ("" when unknown).
func validateImpersonators(ps *problems, broken reported, path diag.Path, imps []Impersonator, runtime string) {
	seen := map[string]int{}
	for i, imp := range imps {
		p := path.Index(i)
		if broken[p.String()] {
			continue
		}
		if imp.Member == "" {
			ps.Add(diag.Required, p.Child("member"), "", "is missing", `write a member such as "user:alice@example.com"`)
		} else if typ, rule, fix := ValidateMember(imp.Member); rule != "" {
			ps.Add(typ, p.Child("member"), imp.Member, rule, fix)
		} else if workloadPoolRe.MatchString(imp.Member) {
			ps.Add(diag.Forbidden, p.Child("member"), imp.Member, "is a workload identity pool's principal: the CI jobs (a pull request's preview too) or other workloads it admits could impersonate the caller", "impersonators are people: name developers or a group; a workload that calls the API is a caller of its own")
		} else if runtime != "" && imp.Member == runtime {
			ps.Add(diag.Forbidden, p.Child("member"), imp.Member, "is the service's runtime account: the service could mint tokens as the caller, and so act as every caller it may impersonate", "remove it; the service needs no caller's identity")
		} else if j, dup := seen[imp.Member]; dup {
			ps.Add(diag.Duplicate, p.Child("member"), imp.Member, fmt.Sprintf("is listed twice (also %s[%d])", path, j), "keep one entry")
		} else {
			seen[imp.Member] = i
		}
		if imp.Expires != "" {
			if _, err := ParseExpiry(imp.Expires); err != nil {
				if t, ok := engineTimestamp(imp.Expires); ok {
					ps.Add(diag.Invalid, p.Child("expires"), imp.Expires, "is how the Pulumi engine passes on an unquoted YAML timestamp, not the RFC 3339 time the stack file wrote", fmt.Sprintf("quote it in the stack file: expires: %q", t.Format(time.RFC3339)))
				} else {
					ps.Add(diag.Invalid, p.Child("expires"), imp.Expires, "is not an RFC 3339 time", `write e.g. "2027-01-31T00:00:00Z" (UTC) or "2027-01-31T09:00:00+09:00"`)
				}
			}
		}
	}
}

func validateCallers(ps *problems, broken reported, c *Config) {
	names := map[string]diag.Path{}
	emails := map[string]string{}
	runtime := runtimeMember(c)
	if runtime != "" {
		emails[c.RuntimeEmail()] = "the service's runtime account"
	}
	invokers, guarded := 0, 0
	base := newPolicyBase(c.Impersonators)
	for i, caller := range c.Callers {
		p := c.CallerPath(i)
		if broken[p.String()] {
			continue
		}
		twice := false
		switch {
		case caller.Name == "":
			ps.Add(diag.Required, p.Child("name"), "", "is missing", `give every caller a name, e.g. "batch-job"; it is the caller's stable key and, unless email is set, its account ID`)
		case !gcp.ValidAccountID(caller.Name):
			ps.Add(diag.Invalid, p.Child("name"), caller.Name, gcp.AccountIDRule, fmt.Sprintf("rename it, e.g. %q", suggestAccountID(caller.Name)))
		default:
			if other, dup := names[caller.Name]; dup {
				ps.Add(diag.Duplicate, p.Child("name"), caller.Name, "is declared twice (also "+strings.TrimSuffix(other.String(), ":")+")", "give each caller its own name, and declare it once: in the callers list or in its file")
				twice = true
			} else {
				names[caller.Name] = p
			}
		}
		if len(caller.Description) > 256 {
			ps.Add(diag.TooLong, p.Child("description"), short(caller.Description), "is longer than 256 bytes", "shorten it")
		}
		if caller.External() {
			id, _, _ := strings.Cut(caller.Email, "@")
			ciAccount, isCI := BootstrapCIAccountIDs[id]
			switch bad := unreadable(caller.Email); {
			case bad != "":
				ps.Add(diag.Invalid, p.Child("email"), caller.Email, bad, retypeASCII)
			case !gcp.ServiceAccountEmail.MatchString(caller.Email):
				ps.Add(diag.Invalid, p.Child("email"), caller.Email, "is not a lower-case service account email", "write the account's email as IAM shows it, ending in .gserviceaccount.com")
			case gcp.DefaultServiceAccount.MatchString(caller.Email):
				ps.Add(diag.Forbidden, p.Child("email"), caller.Email, "is a default service account, which every workload without its own account runs as", "give the calling service a dedicated service account and name that one")
			case gcp.ServiceAgent.MatchString(caller.Email):
				ps.Add(diag.Forbidden, p.Child("email"), caller.Email, "is a Google service agent, which acts for everyone allowed to use its service in its project: all of them could call the API", "name the calling workload's own service account (<id>@<project>.iam.gserviceaccount.com)")
			case isCI:
				ps.Add(diag.Forbidden, p.Child("email"), caller.Email, "has the ID the bootstrap stack gives its CI "+ciAccount+" account: CI jobs (every pull request's preview, for the preview account) could call the API", "remove it; CI needs no caller grant. Name the workload that calls the API; if it really is not a CI account, give it another ID")
			}
			if len(caller.Impersonators) > 0 {
				ps.Add(diag.Forbidden, p.Child("impersonators"), "", "is set on a caller named by email; the program grants no impersonation on accounts it does not own", "remove impersonators here, or drop email to let the program create the account")
			}
			if !caller.Invokes() && !caller.Authz {
				ps.Add(diag.Forbidden, p, caller.Name, "grants nothing: invoke and authz are both false for an account named by email", "remove the caller, or set invoke or authz to true")
			}
		}
		if !twice && caller.Name != "" && (caller.External() || gcp.ValidAccountID(caller.Name)) {
			email := c.CallerEmail(caller)
			if other, dup := emails[email]; dup {
				ps.Add(diag.Duplicate, p, email, "is the same account as "+other, "each account may be declared once")
			} else {
				emails[email] = p.String()
			}
		}
		validateImpersonators(ps, broken, p.Child("impersonators"), caller.Impersonators, runtime)
		validateRunAs(ps, p.Child("runAs"), caller.RunAs, caller.External())
		if !caller.External() {
			validatePolicySize(ps, p.Child("impersonators"), base, caller.Impersonators, "serviceAccount:"+c.CallerEmail(caller), caller.RunAs.Members())
		}
		if caller.Invokes() {
			invokers++
		}
		if caller.Authz {
			guarded++
			if !c.Authz.On() {
				ps.Add(diag.Forbidden, p.Child("authz"), "true", "asks for the authz guard, but authz.enabled is false", "set authz.enabled to true, or authz to false on this caller")
			}
		}
	}
	if invokers > gcp.MaxPrincipalsPerPolicy {
		ps.Add(diag.TooMany, diag.NewPath(KeyCallers), fmt.Sprint(invokers), fmt.Sprintf("callers that invoke exceed IAM's %d principals in the service's allow policy", gcp.MaxPrincipalsPerPolicy), "grant roles/run.invoker to a group instead of many accounts, or split the service")
	}
	if guarded > gcp.MaxPrincipalsPerPolicy {
		ps.Add(diag.TooMany, diag.NewPath(KeyCallers), fmt.Sprint(guarded), fmt.Sprintf("callers with authz exceed IAM's %d principals in the bucket's allow policy", gcp.MaxPrincipalsPerPolicy), "split the callers across guards")
	}
}

// policyBase is what every created caller's allow policy holds before its own impersonators: the
// default impersonators, counted once rather than once per caller.
type policyBase struct {
	members map[string]bool
	groups  int
}

func newPolicyBase(defaults []Impersonator) policyBase {
	b := policyBase{members: make(map[string]bool, len(defaults))}
	for _, imp := range defaults {
		if !b.members[imp.Member] {
			b.members[imp.Member] = true
			if isGroupOrDomain(imp.Member) {
				b.groups++
			}
		}
	}
	return b
}

func isGroupOrDomain(m string) bool {
	return strings.HasPrefix(m, "group:") || strings.HasPrefix(m, "domain:")
}

// validatePolicySize checks one caller account's allow policy: its effective impersonators, plus
// the account itself for the OpenID self-grant (twice if it is also listed as an impersonator of
// itself: each occurrence counts). It costs O(len(own)), whatever the defaults.
//
// runAs are the members of the account's run-as bindings; each is another occurrence, since it
// sits in a binding of another role.
func validatePolicySize(ps *problems, path diag.Path, base policyBase, own []Impersonator, self string, runAs []string) {
	n, groups := len(base.members), base.groups
	seen := map[string]bool{}
	for _, imp := range own {
		if base.members[imp.Member] || seen[imp.Member] {
			continue
		}
		seen[imp.Member] = true
		n++
		if isGroupOrDomain(imp.Member) {
			groups++
		}
	}
	n++ // the account itself, holding the OpenID self-grant
	if base.members[self] || seen[self] {
		n++
	}
	for _, m := range runAs {
		n++
		if isGroupOrDomain(m) {
			groups++
		}
	}
	if n > gcp.MaxPrincipalsPerPolicy {
		ps.Add(diag.TooMany, path, fmt.Sprint(n), fmt.Sprintf("impersonators (with the defaults, the account itself and its run-as grants) exceed IAM's %d principals in one allow policy", gcp.MaxPrincipalsPerPolicy), "grant impersonation to a group instead of individual developers")
	}
	if groups > gcp.MaxGroupsPerPolicy {
		ps.Add(diag.TooMany, path, fmt.Sprint(groups), fmt.Sprintf("groups and domains (with the defaults) exceed IAM's %d per allow policy", gcp.MaxGroupsPerPolicy), "nest the groups in fewer groups")
	}
}

func validateAuthz(ps *problems, c *Config) {
	if c.Authz.On() && c.Project != "" && (c.Service.Name != "" || c.Authz.Bucket != "") {
		validateBucket(ps, c)
	}
	// The role is checked whether or not the guard is on: the program creates it either way (it
	// outlives the guard), and a bad ID would fail only halfway through `pulumi up`.
	if c.Authz.Role != "" {
		validateExistingRole(ps, c)
	} else if c.Service.Name != "" || c.Authz.RoleID != "" {
		if id := c.RoleID(); !gcp.RoleID.MatchString(id) {
			fix := "use letters, digits, _ and . only (no hyphen)"
			if c.Authz.RoleID == "" {
				fix = "it is derived from service.name; set authz.roleId explicitly, e.g. \"privateApiAuthz\""
			}
			ps.Add(diag.Invalid, diag.NewPath("authz").Child("roleId"), id, "must be 3-64 chars of a-z, A-Z, 0-9, _ and .", fix)
		}
	}
	if t := c.RoleTitle(); len(t) > 100 {
		ps.Add(diag.TooLong, diag.NewPath("authz").Child("roleTitle"), short(t), "is longer than 100 bytes", "shorten it")
	}
	if !c.Authz.On() {
		return
	}
	if loc := c.BucketLocation(); loc != "" && !locationRe.MatchString(loc) {
		ps.Add(diag.Invalid, diag.NewPath("authz").Child("location"), c.Authz.Location, "is not a Cloud Storage location", `use a region ("asia-northeast1"), a dual-region or a multi-region ("US", "EU", "ASIA")`)
	}
}

// validateExistingRole checks authz.role, a custom role made elsewhere. A project's custom role can
// be granted only on that project's resources, so it must be gcp:project's.
func validateExistingRole(ps *problems, c *Config) {
	a := c.Authz
	m := roleNameRe.FindStringSubmatch(a.Role)
	switch {
	case m == nil:
		ps.Add(diag.Invalid, diag.NewPath("authz").Child("role"), a.Role, "is not a custom role's full name", `write "projects/<project>/roles/<roleId>" or "organizations/<number>/roles/<roleId>", as the bootstrap stack's authzRole output gives it`)
	case m[2] != "" && c.Project != "" && m[2] != c.Project:
		ps.Add(diag.Forbidden, diag.NewPath("authz").Child("role"), a.Role, fmt.Sprintf("is a custom role of project %q, which cannot be granted on a bucket of %q", m[2], c.Project), "create the role in "+c.Project+", or name an organization-level role")
	}
	if a.RoleID != "" {
		ps.Add(diag.Forbidden, diag.NewPath("authz").Child("roleId"), a.RoleID, "is set together with authz.role", "remove authz.roleId: the program creates no role when authz.role names one")
	}
	if a.RoleTitle != "" {
		ps.Add(diag.Forbidden, diag.NewPath("authz").Child("roleTitle"), short(a.RoleTitle), "is set together with authz.role", "remove authz.roleTitle: the program creates no role when authz.role names one")
	}
}

func validateBucket(ps *problems, c *Config) {
	name := c.BucketName()
	fix := "choose another authz.bucket"
	if c.Authz.Bucket == "" {
		fix = "it is derived from gcp:project and service.name; set authz.bucket explicitly"
	}
	path := diag.NewPath("authz").Child("bucket")
	switch rule := gcp.BucketNameProblem(name); {
	case rule != "":
		ps.Add(diag.Invalid, path, name, rule, fix)
	case strings.Contains(name, ".") && !c.Authz.BucketDomainVerified:
		ps.Add(diag.Forbidden, path, name, "has a dot: Cloud Storage creates such a bucket only for a domain verified as the deployer's", `remove the dots, or set authz.bucketDomainVerified: true once the domain is verified (Search Console)`)
	}
}

func validateLabels(ps *problems, labels map[string]string) {
	if len(labels) > 64 {
		ps.Add(diag.TooMany, diag.NewPath(KeyLabels), fmt.Sprint(len(labels)), "has more than 64 labels", "keep at most 64")
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !labelKeyRe.MatchString(k) {
			ps.Add(diag.Invalid, diag.NewPath("labels").Child(k), "", `is not a label key (1-63 chars of a-z, 0-9, "-" and "_", starting with a letter)`, "rename the key")
		}
		if v := labels[k]; !labelValRe.MatchString(v) {
			ps.Add(diag.Invalid, diag.NewPath("labels").Child(k), v, `is not a label value (0-63 chars of a-z, 0-9, "-" and "_")`, "write it in lower case, without spaces")
		}
	}
}
