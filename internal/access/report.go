package access

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/plan"
)

// Target kinds, as the report prints them.
const (
	KindService        = "service"
	KindServiceAccount = "service account"
	KindCustomRole     = "custom role"
	KindBucket         = "bucket"
	KindSecret         = "secret"
)

// Target is the resource a grant is made on.
type Target struct {
	Kind string `json:"kind"`
	// Name is what a person recognises: the service name, the account email, the bucket name.
	Name string `json:"name"`
	// Resource is the full resource name; it identifies the target in a diff.
	Resource string `json:"resource"`
}

func (t Target) String() string { return t.Kind + " " + t.Name }

// Grant is one principal holding one role on one target, until Expires (nil: no expiry).
type Grant struct {
	Principal string     `json:"principal"`
	Role      string     `json:"role"`
	Target    Target     `json:"target"`
	Expires   *time.Time `json:"expires,omitempty"`
	// Why says which part of the config the grant serves, for a reviewer who did not write it.
	Why string `json:"why"`
}

// key identifies a grant across two reports; the expiry is an attribute, so that a moved expiry
// is one change rather than a removal and an addition.
func (g Grant) key() string { return g.Principal + "\x00" + g.Role + "\x00" + g.Target.Resource }

// Item is one resource the program creates whose existence matters for access.
type Item struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Resource string `json:"resource"`
	// Detail is compared across reports: a change in it is an access change (a role's
	// permissions, a service's ingress or runtime account).
	Detail string `json:"detail"`
	// Note is shown but not compared (a caller's description), so rewording is not a change.
	Note string `json:"note,omitempty"`
}

func (i Item) key() string { return i.Kind + "\x00" + i.Resource }

// Report is everything a plan grants and creates.
type Report struct {
	Stack   string `json:"stack"`
	Project string `json:"project,omitempty"`
	// At is the time expiries were judged against: a grant whose expiry had passed is absent.
	At        time.Time `json:"evaluatedAt"`
	Grants    []Grant   `json:"grants"`
	Inventory []Item    `json:"inventory"`
	// Outside names who else can get in without any grant in this report: access held at project
	// level or above, which the program neither grants nor can remove.
	Outside  []string `json:"outside"`
	Warnings []string `json:"warnings"`
}

// Access that project-level roles give, whatever the program declares.
const (
	OutsideInvoke = "Anyone holding run.routes.invoke on the project, its folder or organization can call every Cloud Run service in the project, this one included: roles/owner, roles/editor, roles/run.admin, and roles/run.invoker or roles/run.servicesInvoker granted there (or a custom role with that permission). `access -live` lists who holds it today, with every other permission that reaches the API."
	OutsideGuard  = "Anyone holding storage.buckets.get on the project, its folder or organization passes the authz guard: not Owner, Editor or Viewer (Cloud Storage's basic roles lack it at project level), but many predefined roles, e.g. roles/storage.admin, roles/storage.bucketViewer, roles/iam.securityAuditor, roles/firebase.viewer (or a custom role with that permission). The bucket's own policy holds only the authz role: Cloud Storage's convenience bindings for project owners, editors and viewers are removed. `access -live` lists who holds it today."
)

// Build derives the report from a plan. A nil plan is a stack that does not exist (a stack file
// missing at the base revision): it grants and creates nothing.
func Build(stack string, st *plan.Stack, at time.Time) Report {
	r := Report{Stack: stack, At: at.UTC(), Grants: []Grant{}, Inventory: []Item{}, Outside: []string{}, Warnings: []string{}}
	if st == nil {
		return r
	}
	r.Outside = append(r.Outside, OutsideInvoke)
	if st.Authz != nil && st.Authz.Bucket != nil {
		r.Outside = append(r.Outside, OutsideGuard)
	}
	r.Project = st.Project
	for _, w := range st.Warnings {
		r.Warnings = append(r.Warnings, w.String())
	}

	svc := serviceTarget(st)
	byMember := map[string]string{} // caller account member -> caller name, for Why
	for _, c := range st.Callers {
		byMember[c.Account.Member] = c.Name
	}
	// Deduplicating by key keeps the longest expiry, as IAM does when a member appears in two
	// bindings of one role: the union of the bindings is what the member can do.
	grants := map[string]Grant{}
	add := func(g Grant) {
		if prev, ok := grants[g.key()]; ok && !longer(g.Expires, prev.Expires) {
			return
		}
		grants[g.key()] = g
	}
	for _, m := range st.Invokers {
		why := "caller " + byMember[m] + " may call the service"
		if byMember[m] == "" {
			why = "may call the service"
		}
		add(Grant{Principal: m, Role: plan.RoleInvoker, Target: svc, Why: why})
	}
	for _, c := range st.Callers {
		acct := accountTarget(c.Account)
		for _, b := range c.AccountBindings() {
			why := "may impersonate caller " + c.Name
			switch {
			case b.Role == plan.RoleOpenIDTokenCreator:
				why = "caller " + c.Name + " mints ID tokens as itself when impersonated (Go idtoken needs it)"
			case b.Key == plan.KeyRunAsDeployers:
				why = "may deploy workloads that run as caller " + c.Name
			case b.Key == plan.KeyRunAsGKE:
				why = "GKE workload that runs as caller " + c.Name
			case b.Key == plan.KeyRunAsCloudRun:
				why = "Cloud Run service agent of another project, whose services run as caller " + c.Name
			}
			for _, m := range b.Members {
				add(Grant{Principal: m, Role: b.Role, Target: acct, Expires: utc(b.Expires), Why: why})
			}
		}
	}
	if a := st.Authz; a != nil && a.Bucket != nil {
		bucket := bucketTarget(a.Bucket.Name)
		for _, m := range a.Bucket.Members {
			why := "caller " + byMember[m] + " passes the authz guard"
			if byMember[m] == "" {
				why = "passes the authz guard"
			}
			add(Grant{Principal: m, Role: a.RoleName, Target: bucket, Why: why})
		}
	}
	for _, sec := range st.Service.Secrets {
		add(Grant{Principal: st.Service.Runtime.Member, Role: plan.RoleSecretAccessor, Target: secretTarget(sec),
			Why: "the service reads it as " + secretUses(st.Service, sec)})
	}
	for _, g := range grants {
		r.Grants = append(r.Grants, g)
	}
	sortGrants(r.Grants)

	if st.Service.Name != "" {
		rt := st.Service.Runtime
		r.Inventory = append(r.Inventory,
			Item{Kind: KindService, Name: st.Service.Name, Resource: svc.Resource, Detail: serviceDetail(st.Service)},
		)
		if st.Service.RuntimeCreated {
			r.Inventory = append(r.Inventory, Item{Kind: KindServiceAccount, Name: rt.Email, Resource: accountTarget(rt).Resource,
				Detail: runtimeDetail(st)})
		}
	}
	for _, c := range st.Callers {
		if !c.Created {
			continue
		}
		r.Inventory = append(r.Inventory, Item{Kind: KindServiceAccount, Name: c.Account.Email,
			Resource: accountTarget(c.Account).Resource, Detail: "caller " + c.Name, Note: c.Description})
	}
	if a := st.Authz; a != nil {
		role := Item{Kind: KindCustomRole, Name: a.RoleName, Resource: "//iam.googleapis.com/" + a.RoleName,
			Detail: "made elsewhere (authz.role); it must hold only " + plan.AuthzPermission}
		if a.Role != nil {
			perms := append([]string(nil), a.Role.Permissions...)
			slices.Sort(perms)
			role.Detail, role.Note = "permissions: "+strings.Join(perms, ", "), a.Role.Title
		}
		r.Inventory = append(r.Inventory, role)
		if b := a.Bucket; b != nil {
			r.Inventory = append(r.Inventory, Item{Kind: KindBucket, Name: b.Name, Resource: bucketTarget(b.Name).Resource,
				Detail: "location " + b.Location + "; empty; its whole IAM policy is the authz role for its members, nothing else"})
		}
	}
	slices.SortStableFunc(r.Inventory, func(x, y Item) int {
		return cmp.Or(cmp.Compare(kindOrder[x.Kind], kindOrder[y.Kind]), cmp.Compare(x.Name, y.Name))
	})
	return r
}

var kindOrder = map[string]int{KindService: 0, KindServiceAccount: 1, KindCustomRole: 2, KindBucket: 3, KindSecret: 4}

// secretTarget names a Secret Manager secret the service reads; the program does not create it.
func secretTarget(s config.SecretRef) Target {
	return Target{Kind: KindSecret, Name: s.Name, Resource: "//secretmanager.googleapis.com/" + s.Name}
}

// secretUses says how the service sees a secret, for a reviewer: "env DB_PASSWORD, file /s/key".
func secretUses(sp plan.Service, s config.SecretRef) string {
	var uses []string
	for _, e := range sp.SecretEnvs {
		if e.Ref == s.Ref {
			uses = append(uses, "env "+e.Name+" ("+e.Version+")")
		}
	}
	for _, v := range sp.SecretVolumes {
		if v.Ref == s.Ref {
			for _, it := range v.Items {
				uses = append(uses, "file "+v.MountPath+"/"+it.Path+" ("+it.Version+")")
			}
		}
	}
	return strings.Join(uses, ", ")
}

func serviceTarget(p *plan.Stack) Target {
	return Target{Kind: KindService, Name: p.Service.Name,
		Resource: "//run.googleapis.com/projects/" + p.Project + "/locations/" + p.Service.Region + "/services/" + p.Service.Name}
}

// accountTarget uses the email in the resource name, as the IAM binding's serviceAccountId does,
// so that external and created accounts are named alike.
func accountTarget(a plan.Account) Target {
	name := a.Name
	if name == "" {
		// External callers carry no resource name in the plan; "-" is IAM's wildcard project,
		// which resolves the account by its email.
		name = "projects/-/serviceAccounts/" + a.Email
	}
	return Target{Kind: KindServiceAccount, Name: a.Email, Resource: "//iam.googleapis.com/" + name}
}

func bucketTarget(name string) Target {
	return Target{Kind: KindBucket, Name: name, Resource: "//storage.googleapis.com/projects/_/buckets/" + name}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// longer reports whether expiry a outlasts b; nil is forever.
func longer(a, b *time.Time) bool {
	switch {
	case b == nil:
		return false
	case a == nil:
		return true
	}
	return a.After(*b)
}

func sameExpiry(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func sortGrants(gs []Grant) {
	slices.SortFunc(gs, func(x, y Grant) int {
		return cmp.Or(cmp.Compare(x.Principal, y.Principal), cmp.Compare(x.Role, y.Role), cmp.Compare(x.Target.Resource, y.Target.Resource))
	})
}

// FormatExpiry prints an expiry as the config writes it, or "never".
func FormatExpiry(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// serviceDetail is what the service accepts and how it runs: its region, ingress and runtime
// account, and its custom audiences when it has any. The audiences are part of the compared
// detail: each one is a token other services may also accept (see config/audiences.go), so
// adding, removing or changing one is an access change.
func serviceDetail(s plan.Service) string {
	d := "region " + s.Region + ", ingress " + s.Ingress + ", runs as " + s.Runtime.Email
	if len(s.Audiences) > 0 {
		d += "; accepts ID tokens for its URL and the custom audiences " + strings.Join(s.Audiences, ", ")
	}
	return d
}

func runtimeDetail(st *plan.Stack) string {
	d := "runtime account of " + st.Service.Name + "; this program grants it no role"
	if n := len(st.Service.Secrets); n > 0 {
		d = fmt.Sprintf("runtime account of %s; this program grants it only %s on the %d secret(s) it reads", st.Service.Name, plan.RoleSecretAccessor, n)
	}
	return d
}
