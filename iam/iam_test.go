package iam

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/platform/private-run-api/internal/mocktest"
)

// TestPolicyDataIsTheProvidersRendering holds PolicyData to the mocks' getIAMPolicy, a second
// rendering written from the provider's data source (data_source_google_iam_policy.go v5.42.0),
// over random policies: roles with and without conditions, bindings of one role and condition
// split across role-keyed and keyed entries, members repeated, nothing.
func TestPolicyDataIsTheProvidersRendering(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	roles := []string{"roles/run.invoker", "roles/iam.serviceAccountTokenCreator", "roles/iam.serviceAccountOpenIdTokenCreator", "projects/p/roles/authz"}
	members := []string{"user:a@x.example", "user:b@x.example", "group:g@x.example", "serviceAccount:s@p.iam.gserviceaccount.com"}
	conds := []*Condition{nil, {Title: "expires-20270131t000000z", Expression: `request.time < timestamp("2027-01-31T00:00:00Z")`}, {Title: "expires-20261231t000000z", Expression: `request.time < timestamp("2026-12-31T00:00:00Z")`}}
	pick := func(list []string) []string {
		var out []string
		for _, m := range list {
			if rng.IntN(2) == 0 {
				out = append(out, m)
			}
		}
		return out
	}
	exact := 0
	for n := range 500 {
		byRole := map[string][]string{}
		keyed := map[string]Binding{}
		for _, r := range pick(roles) {
			byRole[r] = pick(members)
		}
		for k := range rng.IntN(5) {
			keyed[fmt.Sprint("k", k)] = Binding{Role: roles[rng.IntN(len(roles))], Members: pick(members), Condition: conds[rng.IntN(len(conds))]}
		}
		var args []any
		for _, b := range Bindings(byRole, keyed) {
			m := map[string]any{"role": b.Role, "members": toAny(b.Members)}
			if c := b.Condition; c != nil {
				m["condition"] = map[string]any{"title": c.Title, "expression": c.Expression}
			}
			args = append(args, m)
		}
		want, err := mocktest.PolicyData(resource.NewPropertyMapFromMap(map[string]any{"bindings": args}))
		if err != nil {
			t.Fatal(err)
		}
		if dupMembersOnly(byRole, keyed) {
			continue // the data source would list a member twice; IAM, and PolicyData, once
		}
		exact++
		if got := PolicyData(byRole, keyed); got != want {
			t.Fatalf("case %d: PolicyData(%v, %v) =\n %s\nthe provider renders\n %s", n, byRole, keyed, got, want)
		}
	}
	if exact < 100 {
		t.Errorf("only %d of 500 random policies were compared", exact)
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// dupMembersOnly is true when bindings that merge share a member: the data source then lists it
// twice, which IAM stores (and PolicyData renders) once.
func dupMembersOnly(byRole map[string][]string, keyed map[string]Binding) bool {
	seen := map[string]bool{}
	for _, b := range Bindings(byRole, keyed) {
		id := b.Role
		if b.Condition != nil {
			id += b.Condition.Title
		}
		for _, m := range b.Members {
			if seen[id+m] {
				return true
			}
			seen[id+m] = true
		}
	}
	return false
}
