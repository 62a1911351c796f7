package live

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	logging "google.golang.org/api/logging/v2"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/bounded"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/plan"
)

// Token minting as a service account (GenerateAccessToken, GenerateIdToken, SignJwt, SignBlob)
// needs permissions of type ADMIN_READ, so it is recorded only as a Data Access audit log of the
// IAM API, in the project that holds the account, under the service name below.
const (
	mintingService = "iamcredentials.googleapis.com"
	auditedService = "iam.googleapis.com"
	allServices    = "allServices"
	adminRead      = "ADMIN_READ"
	pageSize       = 1000 // entries.list's largest page
	// DefaultMaxPages bounds the paging of one project's entries: Cloud Logging allows 60
	// entries.list calls a minute per project, and 50 pages of 1,000 entries read a month of
	// heavy use.
	DefaultMaxPages = 50
)

// UsageRequest is what Usage reads.
type UsageRequest struct {
	Request
	// Config is the stack's config: a proposal to drop unused grants edits it.
	Config *config.Config
	// Since is the window, ending at Request.At.
	Since time.Duration
	// MaxPages bounds the entries.list pages read per project (DefaultMaxPages when 0).
	MaxPages int
}

// Usage is who minted tokens as each caller account over a window, and which declared
// impersonators did not.
type Usage struct {
	Stack   string    `json:"stack"`
	Project string    `json:"project"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Sources are the projects whose logs were read, with whether token minting is recorded
	// there and whether every entry of the window was read.
	Sources []Source `json:"sources"`
	// Complete is true when every source records token minting, nobody is exempted from it, and
	// every entry of the window was read: only then are grants judged unused.
	Complete bool `json:"complete"`
	// Unnamed are tokens minted as a caller account by principals the config does not name on
	// that account (not declared now, or never): the first thing to look at.
	Unnamed  []Minting       `json:"unnamed"`
	Accounts []AccountUsage  `json:"accounts"`
	Unused   []UnusedGrant   `json:"unused"`
	Unjudged []IndirectGrant `json:"cannotJudge"`
	// Unmatched counts entries that named no caller account of the stack.
	Unmatched int `json:"unmatchedEntries"`
	// Proposal is the config change that drops the unused grants; nil when there is none, or
	// when the window could not be read in full.
	Proposal *Proposal `json:"proposal,omitempty"`
	Notes    []string  `json:"notes"`
	Error    string    `json:"error,omitempty"`
}

// Source is one project's Data Access logs.
type Source struct {
	Project string `json:"project"`
	// Recorded is true when the project's audit config logs ADMIN_READ for the IAM API (or for
	// all services).
	Recorded bool `json:"recorded"`
	// Exempted are the members that config exempts: their minting is never recorded.
	Exempted []string `json:"exempted"`
	Entries  int      `json:"entries"`
	Pages    int      `json:"pages"`
	// Truncated is true when the paging bound stopped the read before the window's end.
	Truncated bool `json:"truncated"`
	// Unread says why the project's token minting could not be read (its policy or logs could
	// not be read, or the minting is not recorded) and what would read it.
	Unread
}

// CallerAccount is a caller of the config and the email of its account, which each finding of
// the usage report is about.
type CallerAccount struct {
	Caller  string `json:"caller"`
	Account string `json:"account"`
}

func callerAccount(c plan.Caller) CallerAccount {
	return CallerAccount{Caller: c.Name, Account: c.Account.Email}
}

// Minting is one principal's use of one method as one account.
type Minting struct {
	CallerAccount
	Principal string    `json:"principal"`
	Method    string    `json:"method"`
	Count     int       `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	// Refused is true for calls IAM refused: they used no grant.
	Refused bool `json:"refused"`
	// Through says which grant of the config explains it, or that none does.
	Through string `json:"through"`
}

// AccountUsage is everyone who minted as one caller account.
type AccountUsage struct {
	CallerAccount
	Minted []Minting `json:"minted"`
}

// UnusedGrant is a declared impersonator who minted nothing as the account in the window.
type UnusedGrant struct {
	CallerAccount
	Member  string     `json:"member"`
	Expires *time.Time `json:"expires,omitempty"`
}

// IndirectGrant is a grant audit entries cannot judge: a group, domain or principal set (the
// entries name the individual who minted, never what granted it), an exempted member, or a
// run-as grant, with the individuals seen through it.
type IndirectGrant struct {
	CallerAccount
	Member      string   `json:"member"`
	Why         string   `json:"why"`
	SeenThrough []string `json:"seenThrough"`
}

// Proposal is the config change that drops the unused grants, and the access diff it makes.
type Proposal struct {
	Changes []ConfigChange `json:"changes"`
	Diff    access.Diff    `json:"diff"`
}

// ConfigChange is one edit of the stack config, by config path.
type ConfigChange struct {
	// Action is "remove" (the entry at Path), "add" (Member to the list at Path) or
	// "set expires" (of the entry at Path).
	Action  string `json:"action"`
	Path    string `json:"path"`
	Member  string `json:"member"`
	Expires string `json:"expires,omitempty"`
	Why     string `json:"why"`
}

// ExitStatus is 0 when every declared impersonator used its grant and nobody else minted,
// ExitDiffers when a grant went unused or someone the config does not name minted, and
// ExitIncomplete when neither can be said for want of a complete read.
func (u *Usage) ExitStatus() int {
	switch {
	case len(u.Unnamed) > 0 || len(u.Unused) > 0:
		return ExitDiffers
	case !u.Complete || u.Error != "":
		return ExitIncomplete
	}
	return access.ExitOK
}

// auditEntry is the part of an audit log entry's protoPayload (google.cloud.audit.AuditLog) the
// report reads.
type auditEntry struct {
	ServiceName        string `json:"serviceName"`
	MethodName         string `json:"methodName"`
	ResourceName       string `json:"resourceName"`
	AuthenticationInfo struct {
		PrincipalEmail   string `json:"principalEmail"`
		PrincipalSubject string `json:"principalSubject"`
	} `json:"authenticationInfo"`
	Request struct {
		Name string `json:"name"`
	} `json:"request"`
	Status *struct {
		Code int `json:"code"`
	} `json:"status"`
}

// entry is one minting, as the report counts it.
type entry struct {
	account, principal, method string
	at                         time.Time
	refused                    bool
}

// UsageOf reads the Data Access logs of the projects holding the plan's caller accounts over the
// window and reports their use. The error is for a report that could not start.
func UsageOf(ctx context.Context, req UsageRequest) (*Usage, error) {
	p := req.Plan
	u := &Usage{Stack: req.Stack, Project: p.Project, To: req.At.UTC(), From: req.At.Add(-req.Since).UTC(),
		Sources: []Source{}, Unnamed: []Minting{}, Accounts: []AccountUsage{}, Unused: []UnusedGrant{}, Unjudged: []IndirectGrant{}, Notes: []string{}}
	if req.MaxPages <= 0 {
		req.MaxPages = DefaultMaxPages
	}
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	c, err := newClients(ctx, req.Options)
	if err != nil {
		return nil, fmt.Errorf("no Google API client: %w; sign in with `gcloud auth application-default login`, or pass -iam-token-file", err)
	}
	type read struct {
		sources []Source
		entries []entry
	}
	got, ok := bounded.Run(ctx, func(ctx context.Context) read {
		var r read
		for _, project := range callerProjects(p) {
			s, es := readSource(ctx, c, project, u.From, u.To, req.MaxPages)
			r.sources = append(r.sources, s)
			r.entries = append(r.entries, es...)
		}
		return r
	})
	if !ok {
		u.Error = fmt.Sprintf("the report timed out after %s: Cloud Logging did not answer in time; check your network, or run it again with a longer -timeout or a shorter -since", req.Timeout)
		return u, nil
	}
	u.Sources = got.sources
	u.Complete = len(u.Sources) > 0
	for _, s := range u.Sources {
		u.Complete = u.Complete && s.Recorded && s.Error == "" && !s.Truncated
	}
	judge(u, p, expiredEntries(req.Config, req.At), got.entries)
	if u.Complete && len(u.Unused) > 0 {
		u.Proposal, err = propose(req, u.Unused)
		if err != nil {
			u.Notes = append(u.Notes, "No change is proposed: "+err.Error())
		}
	}
	u.Notes = append(u.Notes, windowNote(u))
	return u, nil
}

// callerProjects are the projects holding the accounts the stack creates for its callers, by
// their resource names: the audit entries of minting land in the account's own project.
func callerProjects(p *plan.Stack) []string {
	set := map[string]bool{}
	for _, c := range p.Callers {
		if c.Created {
			if rest, ok := strings.CutPrefix(c.Account.Name, "projects/"); ok {
				project, _, _ := strings.Cut(rest, "/")
				set[project] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for project := range set {
		out = append(out, project)
	}
	slices.Sort(out)
	return out
}

// readSource checks that project records token minting, then reads its minting entries of the
// window, following the pages up to maxPages.
func readSource(ctx context.Context, c *clients, project string, from, to time.Time, maxPages int) (Source, []entry) {
	s := Source{Project: project, Exempted: []string{}}
	pol, err := c.crm.Projects.GetIamPolicy("projects/"+project, crmPolicyRequest()).Context(ctx).Do()
	if err != nil {
		problem, fix := cannotRead(err, "resourcemanager.projects.getIamPolicy", "project "+project, true)
		s.Error, s.Fix = "could not check that token minting is recorded: "+problem, fix
		return s, nil
	}
	for _, ac := range pol.AuditConfigs {
		if ac.Service != auditedService && ac.Service != allServices {
			continue
		}
		for _, lc := range ac.AuditLogConfigs {
			if lc.LogType == adminRead {
				s.Recorded = true
				s.Exempted = append(s.Exempted, lc.ExemptedMembers...)
			}
		}
	}
	slices.Sort(s.Exempted)
	s.Exempted = slices.Compact(s.Exempted)
	if !s.Recorded {
		s.Error = "token minting is not recorded: the project's audit config has no ADMIN_READ Data Access logs for " + auditedService
		s.Fix = "run the bootstrap (bootstrap/README.md, \"Recording token minting\"), which sets it; nothing before that is recorded"
		return s, nil
	}
	filter := fmt.Sprintf(`logName="projects/%s/logs/cloudaudit.googleapis.com%%2Fdata_access" AND protoPayload.serviceName=%q AND timestamp>=%q AND timestamp<%q`,
		project, mintingService, from.Format(time.RFC3339), to.Format(time.RFC3339))
	var out []entry
	token := ""
	for {
		if s.Pages == maxPages {
			s.Truncated = true
			break
		}
		resp, err := c.logging.Entries.List(&logging.ListLogEntriesRequest{
			ResourceNames: []string{"projects/" + project}, Filter: filter, OrderBy: "timestamp asc", PageSize: pageSize, PageToken: token,
		}).Context(ctx).Do()
		if err != nil {
			problem, fix := cannotRead(err, "logging.privateLogEntries.list", "project "+project, true)
			s.Error, s.Fix = "could not read the Data Access logs: "+problem, fix
			return s, out
		}
		s.Pages++
		for _, e := range resp.Entries {
			s.Entries++
			if m, ok := mintingOf(e); ok {
				out = append(out, m)
			}
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	return s, out
}

// mintingOf reads one log entry: the account minted as (the request's name, else the monitored
// resource's email label), the principal (the individual who called, by email, or a federated
// principal by subject), the method and whether IAM allowed it.
func mintingOf(e *logging.LogEntry) (entry, bool) {
	var a auditEntry
	if len(e.ProtoPayload) == 0 || json.Unmarshal(e.ProtoPayload, &a) != nil || a.ServiceName != mintingService {
		return entry{}, false
	}
	m := entry{method: a.MethodName, refused: a.Status != nil && a.Status.Code != 0}
	if i := strings.LastIndex(m.method, "."); i >= 0 { // a full name: ...IAMCredentials.SignJwt
		m.method = m.method[i+1:]
	}
	m.at, _ = time.Parse(time.RFC3339Nano, e.Timestamp)
	for _, name := range []string{a.Request.Name, labelOf(e, "email_id"), a.ResourceName} {
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		if strings.Contains(name, "@") {
			m.account = name
			break
		}
	}
	switch email, subject := a.AuthenticationInfo.PrincipalEmail, a.AuthenticationInfo.PrincipalSubject; {
	case email != "" && strings.HasSuffix(email, ".gserviceaccount.com"):
		m.principal = "serviceAccount:" + email
	case email != "":
		m.principal = "user:" + email
	case subject != "":
		m.principal = subject
	default:
		m.principal = "unknown (the entry names no principal)"
	}
	return m, true
}

func labelOf(e *logging.LogEntry, key string) string {
	if e.Resource == nil {
		return ""
	}
	return e.Resource.Labels[key]
}

// indirect is whether a member grants to more than one individual, so that entries, which name
// individuals, cannot tell whether it was used.
func indirect(member string) bool {
	return strings.HasPrefix(member, "group:") || strings.HasPrefix(member, "domain:") || strings.HasPrefix(member, "principalSet://")
}

// expiredEntries are the config's impersonators whose expiry has passed, by caller and member:
// the plan grants them nothing any more, so a token they minted earlier in the window is by a
// principal the config no longer declares.
func expiredEntries(cfg *config.Config, at time.Time) map[string]map[string]time.Time {
	out := map[string]map[string]time.Time{}
	if cfg == nil {
		return out
	}
	add := func(caller string, imps []config.Impersonator) {
		for _, imp := range imps {
			if t, err := config.ParseExpiry(imp.Expires); err == nil && !t.After(at) {
				if out[caller] == nil {
					out[caller] = map[string]time.Time{}
				}
				if prev, ok := out[caller][imp.Member]; !ok || t.After(prev) {
					out[caller][imp.Member] = t
				}
			}
		}
	}
	for _, c := range cfg.Callers {
		if !c.External() {
			add(c.Name, cfg.Impersonators)
			add(c.Name, c.Impersonators)
		}
	}
	return out
}

// judge counts the entries by account and principal and judges every declared grant.
func judge(u *Usage, p *plan.Stack, expired map[string]map[string]time.Time, entries []entry) {
	type key struct {
		account, principal, method string
		refused                    bool
	}
	counts := map[key]*Minting{}
	byEmail := map[string]plan.Caller{}
	for _, c := range p.Callers {
		if c.Created {
			byEmail[c.Account.Email] = c
		}
	}
	for _, e := range entries {
		c, ok := byEmail[e.account]
		if !ok {
			u.Unmatched++
			continue
		}
		k := key{e.account, e.principal, e.method, e.refused}
		m := counts[k]
		if m == nil {
			m = &Minting{CallerAccount: callerAccount(c), Principal: e.principal, Method: e.method, First: e.at, Last: e.at, Refused: e.refused}
			counts[k] = m
		}
		m.Count++
		if e.at.Before(m.First) {
			m.First = e.at
		}
		if e.at.After(m.Last) {
			m.Last = e.at
		}
	}
	exempted := map[string]bool{}
	for _, s := range u.Sources {
		for _, m := range s.Exempted {
			exempted[m] = true
		}
	}
	for _, c := range p.Callers {
		if !c.Created {
			continue
		}
		acct := AccountUsage{CallerAccount: callerAccount(c), Minted: []Minting{}}
		direct := map[string]*time.Time{} // individual impersonators, with their expiry
		var groups []string
		for _, b := range c.Impersonators {
			for _, m := range b.Members {
				if indirect(m) {
					groups = append(groups, m)
				} else {
					direct[m] = b.Expires
				}
			}
		}
		runAs := map[string]string{}
		for _, b := range c.RunAs {
			for _, m := range b.Members {
				runAs[m] = b.Role
			}
		}
		used := map[string]bool{}
		seenIndirect := map[string][]string{}
		for _, m := range counts {
			if m.Account != c.Account.Email {
				continue
			}
			switch _, isDirect := direct[m.Principal]; {
			case m.Principal == c.Account.Member && m.Method == "GenerateIdToken" && c.OpenIDSelf:
				m.Through = "the account itself (its OpenID self-grant)"
			case isDirect:
				m.Through = "impersonator declared in config"
				if !m.Refused {
					used[m.Principal] = true
				}
			case runAs[m.Principal] != "":
				m.Through = "run-as grant (" + runAs[m.Principal] + ")"
			default:
				var could []string
				for _, g := range groups {
					if d, ok := strings.CutPrefix(g, "domain:"); ok && !strings.HasSuffix(m.Principal, "@"+d) {
						continue
					}
					could = append(could, g)
					if !m.Refused && !slices.Contains(seenIndirect[g], m.Principal) {
						seenIndirect[g] = append(seenIndirect[g], m.Principal)
					}
				}
				through := ""
				if len(could) > 0 {
					through = "possibly through " + strings.Join(could, ", ") + " (audit entries do not say)"
				}
				switch t, ok := expired[c.Name][m.Principal]; {
				case ok && !m.Last.After(t):
					m.Through = "declared no longer: its entry expired at " + utc(t) + ", after these tokens were minted; remove the stale entry from config"
				case ok:
					m.Through = "declared no longer: its entry expired at " + utc(t) + ", yet it minted after that, through a grant outside the program (access -live shows it)"
					if through != "" {
						m.Through += ", or " + through
					}
				case through != "":
					m.Through = "not named in config; " + through
				default:
					m.Through = "no grant in config names it: granted outside the program, or declared no longer"
				}
				if !m.Refused {
					u.Unnamed = append(u.Unnamed, *m)
				}
			}
			acct.Minted = append(acct.Minted, *m)
		}
		sortMintings(acct.Minted)
		u.Accounts = append(u.Accounts, acct)

		for _, g := range slices.Compact(slices.Sorted(slices.Values(groups))) {
			seen := seenIndirect[g]
			slices.Sort(seen)
			u.Unjudged = append(u.Unjudged, IndirectGrant{CallerAccount: callerAccount(c), Member: g, SeenThrough: append([]string{}, seen...),
				Why: "audit entries name the individual who minted, never the group, domain or principal set that granted it; never proposed for removal"})
		}
		for _, m := range slices.Sorted(maps.Keys(runAs)) {
			u.Unjudged = append(u.Unjudged, IndirectGrant{CallerAccount: callerAccount(c), Member: m, SeenThrough: []string{},
				Why: "run-as grant (" + runAs[m] + "): acting as the account to deploy or run workloads is not token minting these entries record; never proposed for removal"})
		}
		for _, m := range slices.Sorted(maps.Keys(direct)) {
			switch {
			case exempted[m]:
				u.Unjudged = append(u.Unjudged, IndirectGrant{CallerAccount: callerAccount(c), Member: m, SeenThrough: []string{},
					Why: "exempted from the project's Data Access logs: its minting is never recorded"})
			case !used[m] && u.Complete:
				u.Unused = append(u.Unused, UnusedGrant{CallerAccount: callerAccount(c), Member: m, Expires: direct[m]})
			}
		}
	}
	sortMintings(u.Unnamed)
	if !u.Complete {
		u.Notes = append(u.Notes, "No grant is judged unused: the window could not be read in full (see the sources above).")
	}
}

func sortMintings(ms []Minting) {
	slices.SortFunc(ms, func(x, y Minting) int {
		refused := func(m Minting) int {
			if m.Refused {
				return 1
			}
			return 0
		}
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.Principal, y.Principal), cmp.Compare(x.Method, y.Method), cmp.Compare(refused(x), refused(y)))
	})
}

func windowNote(u *Usage) string {
	return fmt.Sprintf("The window is %s to %s. Entries exist only from when Data Access logging for %s was turned on (the bootstrap), and Cloud Logging keeps them for the _Default bucket's retention (30 days unless changed): "+
		"days before either count as unused. A grant made during the window had less time to be used.", utc(u.From), utc(u.To), auditedService)
}
