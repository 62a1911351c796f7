package config

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// The callers key (and the caller files of callersDir: callerfiles.go), with their run-as grants.

// Caller is a service allowed to call the private API: either an account this program creates
// (Name is its account ID) or an existing account named by Email.
type Caller struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Email names an existing service account (another project's, say). The program then creates
	// nothing for the caller and grants no impersonation on it.
	Email         string         `json:"email,omitempty"`
	Impersonators []Impersonator `json:"impersonators,omitempty"`
	// Invoke grants roles/run.invoker on the private service; default true.
	Invoke *bool `json:"invoke,omitempty"`
	// Authz grants the authz guard's custom role on its bucket; default false.
	Authz bool `json:"authz,omitempty"`
	// RunAs says who may run workloads as the caller's account (see RunAs, below); only for an
	// account the program creates.
	RunAs *RunAs `json:"runAs,omitempty"`

	// path is where the caller is declared, for messages: callers[2], or
	// callers/orders-audit.yaml: for a caller file.
	path diag.Path
}

// Path is where the caller is declared: its entry of the inline list (callers[2]) or its file
// (callers/orders-audit.yaml:), for the messages that name it.
func (c Caller) Path() diag.Path { return c.path }

// CallerPath is where the i-th caller is declared: its own path, or (for a caller built by hand)
// its index in the callers list.
func (c *Config) CallerPath(i int) diag.Path {
	if p := c.Callers[i].path; p.String() != "" {
		return p
	}
	return diag.NewPath(KeyCallers).Index(i)
}

// External reports whether the caller is an existing account named by email.
func (c Caller) External() bool { return c.Email != "" }

// Invokes reports whether the caller may invoke the private service (default true).
func (c Caller) Invokes() bool { return c.Invoke == nil || *c.Invoke }

// CallerEmail is the caller's account email: its own for an external caller, computed otherwise.
func (c *Config) CallerEmail(caller Caller) string {
	if caller.External() {
		return caller.Email
	}
	return gcp.AccountEmail(c.CallerAccountsProject(), caller.Name)
}

func decodeCaller(ps *problems, broken reported, path diag.Path, raw json.RawMessage) Caller {
	var c Caller
	if strictDecode(string(raw), &c) == nil {
		return c
	}
	// Something is wrong: decode again field by field to report every problem with its path.
	c = Caller{}
	fields, _ := decodeObject(ps, path, raw, &c, "a mapping with name and optional description, email, impersonators, invoke, authz, runAs", "impersonators")
	if fields == nil {
		broken[path.String()] = true
		return Caller{}
	}
	if fields["impersonators"] != nil {
		c.Impersonators = decodeImpersonators(ps, broken, path.Child("impersonators"), fields["impersonators"])
	}
	return c
}

// BootstrapCIAccountIDs are the account IDs the bootstrap stack gives its CI accounts by default
// (bootstrap/ci: DefaultPreviewAccountID, DefaultDeployAccountID; tests/ hold the two lists
// equal). The main stack cannot know the CI project or IDs a bootstrap was given instead, so an
// external caller with one of these IDs is refused in any project: the preview account is
// impersonated by every pull request's preview job, and neither CI account has any business
// calling the service. A false alarm costs a rename; a missed one lets a pull request call it.
var BootstrapCIAccountIDs = map[string]string{"ci-preview": "preview", "ci-deploy": "deploy"}

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

// RunAs says who may run workloads as a caller's account. The program owns the whole allow
// policy of every account it creates, so anything a caller service needs in order to run as its
// account is declared here, or the next `pulumi up` removes it.
type RunAs struct {
	// Deployers may deploy workloads that run as the account (gcloud run deploy
	// --service-account ...): roles/iam.serviceAccountUser on the account. Users, groups and
	// service accounts (a caller team's own CI account), never a set of principals.
	Deployers []string `json:"deployers,omitempty"`
	// GKEWorkloads are Kubernetes service accounts that run as the account through GKE Workload
	// Identity: roles/iam.workloadIdentityUser on the account, to
	// serviceAccount:PROJECT_ID.svc.id.goog[NAMESPACE/KSA] or the principal:// form of the same.
	GKEWorkloads []string `json:"gkeWorkloads,omitempty"`
	// CloudRunProjects are the numbers of other projects whose Cloud Run services run as the
	// account: their Cloud Run service agent
	// (service-NUMBER@serverless-robot-prod.iam.gserviceaccount.com) gets
	// roles/iam.serviceAccountTokenCreator on the account, which cross-project service account
	// use needs (with the organization policy iam.disableCrossProjectServiceAccountUsage off in
	// the account's project). A service in the account's own project needs none.
	CloudRunProjects []string `json:"cloudRunProjects,omitempty"`
}

// CloudRunAgent is the Cloud Run service agent of the project with this number.
func CloudRunAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@serverless-robot-prod.iam.gserviceaccount.com"
}

// Members are every principal the run-as grants name, for counting a policy's principals.
func (r *RunAs) Members() []string {
	if r == nil {
		return nil
	}
	out := append(append([]string(nil), r.Deployers...), r.GKEWorkloads...)
	for _, n := range r.CloudRunProjects {
		out = append(out, CloudRunAgent(n))
	}
	return out
}

var (
	// gkeLegacyRe is a Kubernetes service account as GKE Workload Identity names it for IAM:
	// serviceAccount:PROJECT_ID.svc.id.goog[NAMESPACE/KSA] (a domain-scoped project ID keeps its
	// "example.com:" prefix). Namespaces are DNS labels, service account names DNS subdomains.
	gkeLegacyRe = regexp.MustCompile(`^serviceAccount:([a-z][-a-z0-9.]*:)?[a-z][-a-z0-9]{4,28}[a-z0-9]\.svc\.id\.goog\[[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\]$`)
	// gkePrincipalRe is the same workload as a principal of the project's workload pool.
	gkePrincipalRe  = regexp.MustCompile(`^principal://iam\.googleapis\.com/projects/[1-9][0-9]{5,18}/locations/global/workloadIdentityPools/([a-z][-a-z0-9.]*:)?[a-z][-a-z0-9]{4,28}[a-z0-9]\.svc\.id\.goog/subject/ns/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/sa/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	projectNumberRe = regexp.MustCompile(`^[1-9][0-9]{5,18}$`)
)

// validateRunAs checks a caller's run-as grants: each principal one a review can read and that
// names one workload or person, never a set; no entry twice.
func validateRunAs(ps *problems, path diag.Path, r *RunAs, external bool) {
	if r == nil {
		return
	}
	if external {
		ps.Add(diag.Forbidden, path, "", "is set on a caller named by email; the program owns no policy on an account it does not create", "grant run-as roles on that account where it is managed, or drop email to let the program create the account")
		return
	}
	seen := map[string]string{}
	// dup reports a member already granted by another entry; shown is how the entry writes it.
	dup := func(p diag.Path, member, shown string) {
		if other, ok := seen[member]; ok {
			ps.Add(diag.Duplicate, p, shown, "is listed twice (also "+other+")", "keep one entry")
			return
		}
		seen[member] = p.String()
	}
	for i, m := range r.Deployers {
		p := path.Child("deployers").Index(i)
		kind, _, _ := strings.Cut(m, ":")
		switch typ, rule, fix := ValidateMember(m); {
		case rule != "":
			ps.Add(typ, p, m, rule, fix)
		case kind != "user" && kind != "group" && kind != "serviceAccount" && kind != "principal":
			ps.Add(diag.Forbidden, p, m, "names a set of principals, every one of whom could deploy code that runs as the caller", "name the people, a group, or the caller team's CI service account")
		default:
			dup(p, m, m)
		}
	}
	for i, m := range r.GKEWorkloads {
		p := path.Child("gkeWorkloads").Index(i)
		if !gkeLegacyRe.MatchString(m) && !gkePrincipalRe.MatchString(m) {
			ps.Add(diag.Invalid, p, m, "is not a Kubernetes service account of GKE Workload Identity", "write serviceAccount:PROJECT_ID.svc.id.goog[NAMESPACE/KSA], or principal://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/PROJECT_ID.svc.id.goog/subject/ns/NAMESPACE/sa/KSA")
			continue
		}
		dup(p, m, m)
	}
	for i, n := range r.CloudRunProjects {
		p := path.Child("cloudRunProjects").Index(i)
		if !projectNumberRe.MatchString(n) {
			ps.Add(diag.Invalid, p, n, "is not a project number", fmt.Sprintf("write the number (digits) of the project whose Cloud Run services run as the caller: %s", "gcloud projects describe PROJECT_ID --format='value(projectNumber)'"))
			continue
		}
		dup(p, CloudRunAgent(n), n)
	}
}
