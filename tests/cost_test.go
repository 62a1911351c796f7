package tests

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/gcp/policydoc"
	"github.com/platform/private-run-api/internal/mocktest"
	"github.com/platform/private-run-api/internal/plan"
)

// The cost of change, counted: the generated 100-caller stack is run before and after one edit,
// and the two runs are compared by URN and inputs, as `pulumi preview` would compare them. The
// IAM policy writes each edit costs on the real cloud are counted from the same diff, for this
// program's whole policies and for a design with one member resource per grant.

// costDiff is what a second run does to the first.
type costDiff struct {
	added, removed, changed []string // "type name", sorted
	// depsOnly lists resources whose inputs are equal but whose dependencies differ.
	depsOnly []string
	writes   policyWrites
}

// policyWrites counts IAM policy writes (each one getIamPolicy + setIamPolicy, serialised per
// policy by the provider, retried on 409/412 for up to about 30 s).
type policyWrites struct {
	// Bindings is this program's cost: one write per whole-policy resource created, updated or
	// deleted (the provider overwrites a whole policy without reading it first).
	Bindings int
	// Members is what one member resource per grant (IAMMember) would cost: one
	// read-modify-write per member added to or removed from a role (and condition).
	Members int
	// Policies is how many distinct allow policies the edit writes.
	Policies int
	// MaxBindings and MaxMembers are the most writes on one policy: they run one after another.
	MaxBindings, MaxMembers int
}

func isIAMBinding(typ string) bool {
	return typ == tAccountPolicy || typ == tServicePolicy || typ == tBucketPolicy
}

// grantees are the grants of a whole policy, one "role condition member" each: what one member
// resource per grant would create or delete.
func grantees(r mocktest.Resource) []string {
	var out []string
	p, _ := policydoc.Parse([]byte(r.Str("policyData")))
	for _, b := range p.Bindings {
		cond := ""
		if b.Condition != nil {
			cond = b.Condition.Expression
		}
		for _, m := range b.Members {
			out = append(out, b.Role+" "+cond+" "+m)
		}
	}
	return out
}

// policyNameOf names the allow policy an IAM resource writes.
func policyNameOf(r mocktest.Resource) string {
	switch r.Type {
	case tAccountPolicy:
		return "account " + r.Str("serviceAccountId")
	case tServicePolicy:
		return "service " + r.Str("project") + "/" + r.Str("location") + "/" + r.Str("name")
	case tBucketPolicy:
		return "bucket " + r.Str("bucket")
	}
	return ""
}

// memberGrants is how many member resources turn over when a policy goes from before to after
// (either may be absent): grants added plus grants removed.
func memberGrants(before, after *mocktest.Resource) int {
	var mb, ma []string
	if before != nil {
		mb = grantees(*before)
	}
	if after != nil {
		ma = grantees(*after)
	}
	n := 0
	for _, m := range ma {
		if !slices.Contains(mb, m) {
			n++
		}
	}
	for _, m := range mb {
		if !slices.Contains(ma, m) {
			n++
		}
	}
	return n
}

func diffRuns(before, after *result) costDiff {
	var d costDiff
	b, a := before.URNs(), after.URNs()
	bindings, members := map[string]int{}, map[string]int{}
	count := func(x mocktest.Resource, prev, next *mocktest.Resource) {
		if !isIAMBinding(x.Type) {
			return
		}
		p := policyNameOf(x)
		bindings[p]++
		members[p] += memberGrants(prev, next)
	}
	for urn, x := range a {
		prev, ok := b[urn]
		switch {
		case !ok:
			d.added = append(d.added, x.Type+" "+x.Name)
			count(x, nil, &x)
		case !prev.Inputs.DeepEquals(x.Inputs) || prev.Protect != x.Protect:
			d.changed = append(d.changed, x.Type+" "+x.Name)
			count(x, &prev, &x)
		case !slices.Equal(sortedCopy(prev.Deps), sortedCopy(x.Deps)):
			d.depsOnly = append(d.depsOnly, x.Type+" "+x.Name)
		}
	}
	for urn, x := range b {
		if _, ok := a[urn]; !ok {
			d.removed = append(d.removed, x.Type+" "+x.Name)
			count(x, &x, nil)
		}
	}
	for p, n := range bindings {
		d.writes.Bindings += n
		d.writes.Members += members[p]
		d.writes.Policies++
		d.writes.MaxBindings = max(d.writes.MaxBindings, n)
		d.writes.MaxMembers = max(d.writes.MaxMembers, members[p])
	}
	sort.Strings(d.added)
	sort.Strings(d.removed)
	sort.Strings(d.changed)
	sort.Strings(d.depsOnly)
	return d
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// names lists "type name" entries, for expectations.
func names(typ string, ns ...string) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = typ + " " + n
	}
	return out
}

func TestCostOfChange(t *testing.T) {
	base := genCallers(100)
	before := mustRun(t, base.raw(t), runOpts{})
	created := base.created()
	if created != 96 {
		t.Fatalf("the generated stack creates %d accounts; the counts below assume 96", created)
	}

	edit := func(fn func(s *genStack)) genStack {
		s := base.clone()
		fn(&s)
		return s
	}
	guarded := config.Caller{
		Name: "caller-new-guarded", Description: "Onboarded with the guard and a temporary developer.", Authz: true,
		Impersonators: []config.Impersonator{{Member: "user:temp-dev@acme.example", Expires: "2027-06-30T00:00:00Z"}},
	}
	many := config.Caller{Name: "caller-new-busy"}
	for i := range 50 {
		many.Impersonators = append(many.Impersonators, config.Impersonator{Member: fmt.Sprintf("user:busy-%02d@acme.example", i)})
	}
	defaultTokenCreators := make([]string, 0, created)
	for _, c := range base.Callers {
		if !c.External() {
			defaultTokenCreators = append(defaultTokenCreators, tAccountPolicy+" "+c.Name+"-policy")
		}
	}
	// caller-0021 is created, passes the guard and has one own impersonator expiring 2027-03-31.
	if c := base.Callers[21]; c.Name != "caller-0021" || c.External() || !c.Authz || !c.Invokes() || len(c.Impersonators) != 1 || c.Impersonators[0].Expires != genExpiries[0] {
		t.Fatalf("generator changed: callers[21] = %+v", c)
	}
	if c := base.Callers[9]; !c.External() || !c.Authz || !c.Invokes() {
		t.Fatalf("generator changed: callers[9] = %+v", c)
	}

	// What the changes touch: a created caller's account and the account's policy; the service's
	// policy, which names every invoker; the authz bucket's, which names every guarded caller.
	callerResources := func(name string) []string {
		return slices.Concat(names(tAccount, name), names(tAccountPolicy, name+"-policy"))
	}
	service := names(tServicePolicy, "orders-api-policy")
	serviceAndGuard := slices.Concat(service, names(tBucketPolicy, "authz-policy"))

	cases := []struct {
		name                    string
		stack                   genStack
		added, removed, changed []string
		writes                  policyWrites
	}{
		{
			name: "onboard a caller that invokes",
			stack: edit(func(s *genStack) {
				s.Callers = append([]config.Caller{{Name: "caller-new"}}, s.Callers...) // first: every position shifts
			}),
			added:   callerResources("caller-new"),
			changed: service,
			// One write of the new account's policy, one of the service's; member by member the
			// account's policy takes the two defaults and itself, one after another.
			writes: policyWrites{Bindings: 2, Members: 4, Policies: 2, MaxBindings: 1, MaxMembers: 3},
		},
		{
			name:    "onboard a caller that invokes and passes the guard",
			stack:   edit(func(s *genStack) { s.Callers = slices.Insert(s.Callers, 50, guarded) }),
			added:   callerResources("caller-new-guarded"),
			changed: serviceAndGuard,
			writes:  policyWrites{Bindings: 3, Members: 6, Policies: 3, MaxBindings: 1, MaxMembers: 4},
		},
		{
			name:    "onboard a caller with 50 impersonators",
			stack:   edit(func(s *genStack) { s.Callers = append(s.Callers, many) }),
			added:   callerResources("caller-new-busy"),
			changed: service,
			// 52 token creators and the account itself: 53 serial writes member by member, one
			// write of the whole policy.
			writes: policyWrites{Bindings: 2, Members: 54, Policies: 2, MaxBindings: 1, MaxMembers: 53},
		},
		{
			name:    "remove a caller",
			stack:   edit(func(s *genStack) { s.Callers = slices.Delete(s.Callers, 21, 22) }),
			removed: callerResources("caller-0021"),
			changed: serviceAndGuard,
			writes:  policyWrites{Bindings: 3, Members: 6, Policies: 3, MaxBindings: 1, MaxMembers: 4},
		},
		{
			name:    "remove an external caller",
			stack:   edit(func(s *genStack) { s.Callers = slices.Delete(s.Callers, 9, 10) }),
			changed: serviceAndGuard,
			writes:  policyWrites{Bindings: 2, Members: 2, Policies: 2, MaxBindings: 1, MaxMembers: 1},
		},
		{
			name: "add a default impersonator",
			stack: edit(func(s *genStack) {
				s.Impersonators = append(s.Impersonators, config.Impersonator{Member: "user:new-dev@acme.example"})
			}),
			changed: defaultTokenCreators,
			writes:  policyWrites{Bindings: 96, Members: 96, Policies: 96, MaxBindings: 1, MaxMembers: 1},
		},
		{
			name: "reorder every list",
			stack: edit(func(s *genStack) {
				slices.Reverse(s.Callers)
				slices.Reverse(s.Impersonators)
				for i := range s.Callers {
					slices.Reverse(s.Callers[i].Impersonators)
				}
			}),
		},
	}
	var table strings.Builder
	table.WriteString("| change | added | removed | changed | writes (bindings) | writes (member per grant) | policies | most serial writes on one policy (bindings / members) |\n|---|---|---|---|---|---|---|---|\n")
	row := func(name string, d costDiff) {
		fmt.Fprintf(&table, "| %s | %d | %d | %d | %d | %d | %d | %d / %d |\n", name, len(d.added), len(d.removed), len(d.changed),
			d.writes.Bindings, d.writes.Members, d.writes.Policies, d.writes.MaxBindings, d.writes.MaxMembers)
	}

	// The first deploy, from nothing: every whole policy is written once (96 caller accounts,
	// the runtime account, the service, the bucket: 99); member by member, the service's policy
	// alone takes one write per invoking caller, in sequence. Members: 96 x 2 defaults + 12 own
	// without expiry + 34 expiring + 96 self-grants + 95 invokers + 37 guarded = 466.
	first := diffRuns(&result{}, before)
	if want := (policyWrites{Bindings: 99, Members: 466, Policies: 99, MaxBindings: 1, MaxMembers: 95}); first.writes != want {
		t.Errorf("first deploy writes = %+v, want %+v", first.writes, want)
	}
	if len(first.added) != len(before.Resources) {
		t.Errorf("first deploy adds %d of %d resources", len(first.added), len(before.Resources))
	}
	row("first deploy (100 callers)", first)

	for _, tc := range cases {
		after := mustRun(t, tc.stack.raw(t), runOpts{})
		d := diffRuns(before, after)
		check := func(what string, got, want []string) {
			t.Helper()
			want = sortedCopy(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s %d:\n got %q\nwant %q", tc.name, what, len(got), got, want)
			}
		}
		check("added", d.added, tc.added)
		check("removed", d.removed, tc.removed)
		check("changed", d.changed, tc.changed)
		check("dependencies changed without inputs", d.depsOnly, nil)
		if d.writes != tc.writes {
			t.Errorf("%s: IAM policy writes = %+v, want %+v", tc.name, d.writes, tc.writes)
		}
		row(tc.name, d)
	}
	t.Logf("IAM policy writes per change, generated 100-caller stack:\n%s", table.String())
}

// TestResourcesDoNotGrowWithImpersonators: a caller's resources depend on how many distinct
// expiries it has, never on how many people may impersonate it.
func TestResourcesDoNotGrowWithImpersonators(t *testing.T) {
	withOwn := func(k int) *result {
		s := genCallers(100)
		for i := range s.Callers {
			if s.Callers[i].External() {
				continue
			}
			s.Callers[i].Impersonators = nil
			for j := range k {
				s.Callers[i].Impersonators = append(s.Callers[i].Impersonators, config.Impersonator{Member: fmt.Sprintf("user:dev-%02d@acme.example", j)})
			}
		}
		return mustRun(t, s.raw(t), runOpts{})
	}
	one, fifty := withOwn(1), withOwn(50)
	if len(one.Resources) != len(fifty.Resources) {
		t.Errorf("%d resources with 1 impersonator per caller, %d with 50", len(one.Resources), len(fifty.Resources))
	}
	if d := diffRuns(one, fifty); len(d.added)+len(d.removed) != 0 {
		t.Errorf("going from 1 to 50 impersonators per caller adds %q and removes %q", d.added, d.removed)
	}
	// 96 created callers: an account and its policy each, plus the 11 fixed cloud resources
	// (the runtime account's policy among them) and 4 fixed components.
	if want := 96*2 + 15; len(fifty.Resources) != want {
		t.Errorf("%d resources, want %d", len(fifty.Resources), want)
	}
	if b, _ := accountPolicy(t, fifty, "caller-0000").binding(plan.RoleTokenCreator, ""); len(b.Members) != 52 {
		t.Errorf("token-creator binding holds %d members, want 50 own + 2 defaults", len(b.Members))
	}
}
