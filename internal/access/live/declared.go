package live

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/plan"
)

// Kinds of difference between a live policy and the declared one.
const (
	// Undeclared: the live policy grants a role to a member the stack does not declare there.
	Undeclared = "not declared"
	// Missing: the stack declares a grant the live policy lacks.
	Missing = "missing"
	// Deleted: a member IAM rewrote to deleted:... when its principal was deleted.
	Deleted = "deleted principal"
	// ConditionDiffers: the member holds the role under another condition than declared.
	ConditionDiffers = "condition differs"
)

// Statuses of one declared policy.
const (
	StatusEqual      = "equals declared"
	StatusDiffers    = "differs"
	StatusNotFound   = "not found"
	StatusUnreadable = "cannot read"
)

// How much of a policy the program owns.
const (
	OwnsWhole  = "whole policy"
	OwnsMember = "the runtime account's " + plan.RoleSecretAccessor
)

// Policy is one declared policy compared with the live one.
type Policy struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Resource is the full resource name (//run.googleapis.com/..., as the access report names
	// targets).
	Resource string `json:"resource"`
	// Owns says what of the policy the program declares: all of it, or one member's grant.
	Owns   string `json:"owns"`
	Status string `json:"status"`
	// Unread says why the policy could not be read and what would read it.
	Unread
	Differences []Difference `json:"differences"`
}

func (p Policy) label() string { return p.Kind + " " + p.Name }

// Difference is one way the live policy is not the declared one.
type Difference struct {
	Kind   string `json:"kind"`
	Role   string `json:"role"`
	Member string `json:"member"`
	// Live is the condition the live binding has (for Missing: none), Declared the one the
	// stack declares (for Undeclared and Deleted: none).
	Live     *Condition `json:"liveCondition,omitempty"`
	Declared *Condition `json:"declaredCondition,omitempty"`
	Fix      string     `json:"fix"`
}

// target is one declared policy and how to read it.
type target struct {
	Policy
	// member is the one member whose grants are compared, for a policy the program does not
	// own whole (a secret's); "" for a whole policy.
	member   string
	declared []Binding
	read     func(ctx context.Context, c *clients) ([]Binding, error)
	// permission and on say what reading the policy needs, where.
	permission, on string
	// removeCmd is the gcloud command that removes a member's role, for a grant `pulumi up
	// --refresh` leaves alone.
	removeCmd func(member, role string, conditional bool) string
}

// targets are every policy the plan declares, in the order the report prints them: the
// service, the accounts (runtime first), the bucket, the secrets.
func targets(p *plan.Stack) []*target {
	var out []*target
	if p.Service.Name != "" {
		name := fmt.Sprintf("projects/%s/locations/%s/services/%s", p.Project, p.Service.Region, p.Service.Name)
		decl := merged(p.ServiceBindings()) // what the program deploys: no invoker is no binding
		out = append(out, &target{
			Policy:   Policy{Kind: access.KindService, Name: p.Service.Name, Resource: "//run.googleapis.com/" + name, Owns: OwnsWhole},
			declared: decl, permission: "run.services.getIamPolicy", on: "the service",
			read: func(ctx context.Context, c *clients) ([]Binding, error) {
				pol, err := c.run.Projects.Locations.Services.GetIamPolicy(name).OptionsRequestedPolicyVersion(policyVersion).Context(ctx).Do()
				if err != nil {
					return nil, err
				}
				return bindingsOf(pol)
			},
		})
	}
	account := func(a plan.Account, what string, decl []Binding) *target {
		return &target{
			// By the name the plan computed, never by the stack's project: caller accounts may
			// live in a project of their own.
			Policy:   Policy{Kind: access.KindServiceAccount, Name: a.Email + " (" + what + ")", Resource: "//iam.googleapis.com/" + a.Name, Owns: OwnsWhole},
			declared: decl, permission: "iam.serviceAccounts.getIamPolicy", on: "the account or its project",
			read: func(ctx context.Context, c *clients) ([]Binding, error) {
				pol, err := c.iam.Projects.ServiceAccounts.GetIamPolicy(a.Name).OptionsRequestedPolicyVersion(policyVersion).Context(ctx).Do()
				if err != nil {
					return nil, err
				}
				return bindingsOf(pol)
			},
		}
	}
	if p.Service.RuntimeCreated {
		// The runtime account's policy is empty: nobody may act as the service.
		out = append(out, account(p.Service.Runtime, "runtime account", nil))
	}
	for _, c := range p.Callers {
		if c.Created {
			out = append(out, account(c.Account, "caller "+c.Name, merged(c.AccountBindings())))
		}
	}
	if a := p.Authz; a != nil && a.Bucket != nil {
		bucket := a.Bucket.Name
		decl := merged(a.BucketBindings())
		out = append(out, &target{
			Policy:   Policy{Kind: access.KindBucket, Name: bucket, Resource: "//storage.googleapis.com/projects/_/buckets/" + bucket, Owns: OwnsWhole},
			declared: decl, permission: "storage.buckets.getIamPolicy", on: "the bucket",
			read: func(ctx context.Context, c *clients) ([]Binding, error) {
				pol, err := c.storage.Buckets.GetIamPolicy(bucket).OptionsRequestedPolicyVersion(policyVersion).Context(ctx).Do()
				if err != nil {
					return nil, err
				}
				return bindingsOf(pol)
			},
		})
	}
	runtime := p.Service.Runtime.Member
	for _, sec := range p.Service.Secrets {
		out = append(out, &target{
			Policy:   Policy{Kind: access.KindSecret, Name: sec.Name, Resource: "//secretmanager.googleapis.com/" + sec.Name, Owns: OwnsMember},
			member:   runtime,
			declared: []Binding{{Role: plan.RoleSecretAccessor, Members: []string{runtime}}},
			// The secret is its owners': the program adds one member and reads only it.
			permission: "secretmanager.secrets.getIamPolicy", on: "the secret",
			read: func(ctx context.Context, c *clients) ([]Binding, error) {
				pol, err := c.secrets.Projects.Secrets.GetIamPolicy(sec.Name).OptionsRequestedPolicyVersion(policyVersion).Context(ctx).Do()
				if err != nil {
					return nil, err
				}
				return bindingsOf(pol)
			},
			removeCmd: func(member, role string, conditional bool) string {
				cmd := fmt.Sprintf("gcloud secrets remove-iam-policy-binding %s --project=%s --member=%s --role=%s", sec.ID, sec.Project, shellQuote(member), shellQuote(role))
				if conditional {
					cmd += " --all"
				}
				return cmd
			},
		})
	}
	return out
}

// merged is the plan's bindings as IAM stores them: one binding per role and condition, each
// member once (iam.PolicyData renders the program's policies the same way).
func merged(bs []plan.Binding) []Binding {
	var out []Binding
	index := map[string]int{}
	for _, b := range bs {
		var c *Condition
		if b.Expires != nil {
			c = newCondition(b.ConditionTitle(), b.ConditionExpression())
		}
		k := b.Role + "\x00" + c.key()
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Binding{Role: b.Role, Condition: c})
		}
		out[i].Members = append(out[i].Members, b.Members...)
	}
	return out
}

// grant is one member holding one role under one condition.
type grant struct {
	role, member string
	cond         *Condition
}

func (g grant) key() string { return g.role + "\x00" + g.cond.key() + "\x00" + g.member }

func grants(bs []Binding, keep func(member string) bool) map[string]grant {
	out := map[string]grant{}
	for _, b := range bs {
		for _, m := range b.Members {
			if keep == nil || keep(m) {
				g := grant{role: b.Role, member: m, cond: b.Condition}
				out[g.key()] = g
			}
		}
	}
	return out
}

// compare lists how live differs from t's declared bindings, sorted by role, then member. A
// member of a deleted principal is reported as such, whether or not it was declared; a member
// holding a declared role under another condition is one ConditionDiffers, not an addition and
// a removal.
func (t *target) compare(stack string, live []Binding) []Difference {
	var keep func(string) bool
	if t.member != "" {
		keep = func(m string) bool { return m == t.member || undeleted(m) == t.member }
	}
	want, got := grants(t.declared, nil), grants(live, keep)
	var extra, lacking []grant
	for k, g := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, g)
		}
	}
	for k, g := range want {
		if _, ok := got[k]; !ok {
			lacking = append(lacking, g)
		}
	}
	byKey := func(gs []grant) {
		sort.Slice(gs, func(a, b int) bool { return gs[a].key() < gs[b].key() })
	}
	byKey(extra)
	byKey(lacking)

	declaredMembers := map[string]bool{} // role + member the stack declares, whatever the condition
	for _, g := range want {
		declaredMembers[g.role+"\x00"+g.member] = true
	}
	// partner is the unpaired declared grant of g's role and member that g stands in for under
	// another condition, -1 for none.
	paired := map[int]bool{}
	partner := func(g grant) int {
		for i, l := range lacking {
			if !paired[i] && l.role == g.role && l.member == g.member {
				return i
			}
		}
		return -1
	}
	up := "`pulumi up --refresh --stack " + stack + "`"
	var out []Difference
	for _, g := range extra {
		if isDeleted(g.member) {
			was := undeleted(g.member)
			fix := "IAM rewrote the member when the principal was deleted; it grants nothing, but granting " + was + " again fails until it is gone. "
			switch {
			case declaredMembers[g.role+"\x00"+was]:
				fix += "Pulumi." + stack + ".yaml still names " + was + ": remove it there first, then run " + up + "."
			case t.member != "":
				fix += "Remove it: " + t.removeCmd(g.member, g.role, g.cond != nil)
			default:
				fix += up + " rewrites the policy without it."
			}
			out = append(out, Difference{Kind: Deleted, Role: g.role, Member: g.member, Live: g.cond, Fix: fix})
			continue
		}
		if i := partner(g); i >= 0 {
			paired[i] = true
			out = append(out, Difference{Kind: ConditionDiffers, Role: g.role, Member: g.member, Live: g.cond, Declared: lacking[i].cond,
				Fix: up + " puts the declared condition back."})
			continue
		}
		fix := "someone granted it outside the program; " + up + " removes it. If it should stay, declare it in Pulumi." + stack + ".yaml."
		if t.member != "" {
			fix = "not the program's to remove (it owns only this one grant on the secret); remove it by hand: " + t.removeCmd(g.member, g.role, g.cond != nil)
		}
		out = append(out, Difference{Kind: Undeclared, Role: g.role, Member: g.member, Live: g.cond, Fix: fix})
	}
	for i, l := range lacking {
		if !paired[i] {
			out = append(out, Difference{Kind: Missing, Role: l.role, Member: l.member, Declared: l.cond,
				Fix: "declared but not in the live policy (not deployed yet, or removed by hand): " + up + " grants it."})
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Role != out[b].Role {
			return out[a].Role < out[b].Role
		}
		return out[a].Member < out[b].Member
	})
	return out
}

// summary counts the differences of a report by kind, for its headline.
func summary(ps []Policy) string {
	n := map[string]int{}
	total := 0
	for _, p := range ps {
		for _, d := range p.Differences {
			n[d.Kind]++
			total++
		}
		if p.Status == StatusNotFound {
			n[StatusNotFound]++
			total++
		}
	}
	var parts []string
	for _, k := range []string{Undeclared, Missing, ConditionDiffers, Deleted, StatusNotFound} {
		if n[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
		}
	}
	return fmt.Sprintf("%d difference(s): %s", total, strings.Join(parts, ", "))
}
