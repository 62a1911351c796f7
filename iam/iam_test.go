package iam

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/platform/private-run-api/internal/mocktest"
	"github.com/platform/private-run-api/internal/plan"
)

// TestPolicyDataIsTheProvidersRendering holds PolicyData to the mocks' getIAMPolicy, a second
// rendering written from the provider's data source (data_source_google_iam_policy.go v5.42.0),
// over random policies: roles with and without conditions, bindings of one role and condition
// split across entries, members repeated, bindings with no members, nothing.
func TestPolicyDataIsTheProvidersRendering(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	roles := []string{"roles/run.invoker", "roles/iam.serviceAccountTokenCreator", "roles/iam.serviceAccountOpenIdTokenCreator", "projects/p/roles/authz"}
	members := []string{"user:a@x.example", "user:b@x.example", "group:g@x.example", "serviceAccount:s@p.iam.gserviceaccount.com"}
	expiry := func(s string) *time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return &t
	}
	expiries := []*time.Time{nil, expiry("2027-01-31T00:00:00Z"), expiry("2026-12-31T00:00:00Z")}
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
		var bindings []plan.Binding
		for _, r := range pick(roles) {
			bindings = append(bindings, plan.Binding{Key: r, Role: r, Members: pick(members)})
		}
		for k := range rng.IntN(5) {
			bindings = append(bindings, plan.Binding{Key: fmt.Sprint("k", k), Role: roles[rng.IntN(len(roles))], Members: pick(members), Expires: expiries[rng.IntN(len(expiries))]})
		}
		var args []any
		for _, b := range bindings {
			if len(b.Members) == 0 {
				continue // IAM refuses an empty binding; the program declares none (see PolicyData)
			}
			m := map[string]any{"role": b.Role, "members": toAny(b.Members)}
			if b.Expires != nil {
				m["condition"] = map[string]any{"title": b.ConditionTitle(), "expression": b.ConditionExpression()}
			}
			args = append(args, m)
		}
		want, err := mocktest.PolicyData(resource.NewPropertyMapFromMap(map[string]any{"bindings": args}))
		if err != nil {
			t.Fatal(err)
		}
		if dupMembersOnly(bindings) {
			continue // the data source would list a member twice; IAM, and PolicyData, once
		}
		exact++
		if got := PolicyData(bindings); got != want {
			t.Fatalf("case %d: PolicyData(%+v) =\n %s\nthe provider renders\n %s", n, bindings, got, want)
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
func dupMembersOnly(bindings []plan.Binding) bool {
	seen := map[string]bool{}
	for _, b := range bindings {
		id := b.Role
		if b.Expires != nil {
			id += b.ConditionTitle()
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
