// Package iam builds every grant the program makes: service accounts with the whole IAM policy
// on them, the callers' accounts, the Cloud Run service's whole policy, the runtime account's
// access to its secrets, and the authz guard (a custom role held on an empty bucket).
//
// Who holds what is decided in package plan, never here: a policy arrives as the plan's
// []plan.Binding for its target (plan.Caller.AccountBindings, plan.Stack.ServiceBindings,
// plan.AuthzGuard.BucketBindings) and is rendered as it is into the resource's whole policy, so
// that nothing added by hand survives the next `pulumi up`.
package iam

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/plan"
)

// Named is a name the program computed up front (an account's resource name, a role's name, a
// service's name), carrying a property dependency on the resource that owns it. The value is
// known in a preview, so a reviewer sees every target in full; the dependency is a property
// dependency, so when the owner is replaced the engine also replaces (or updates) what names it.
// dependsOn alone would leave the dependent pointing at a resource that was deleted and created
// again without it.
func Named(ctx *pulumi.Context, name string, owner pulumi.Resource) pulumi.StringOutput {
	return pulumi.OutputWithDependencies(ctx.Context(), pulumi.String(name).ToStringOutput(), owner).(pulumi.StringOutput)
}

// PolicyData renders a whole allow policy (the plan's bindings, an expiry as an IAM condition)
// in the form the provider's getIAMPolicy data source gives it (data_source_google_iam_policy.go,
// v5.42.0): bindings of one role and condition merged, sorted by role and then condition,
// members sorted, marshalled as Google's cloudresourcemanager.Policy (policyDoc). It is computed
// here rather than through that data source: the provider compares policies by their bindings
// (compareIamPolicies), not by their text, and an invoke per policy was a provider round trip per
// caller on every preview. Every input is known, so a preview shows it all. A member listed in
// two merged bindings is listed once, as IAM stores it; a binding with no members is left out,
// since IAM refuses an empty binding and no binding is the same policy. No binding at all
// renders "{}", which removes whatever else was on the resource.
func PolicyData(bindings []plan.Binding) string {
	var policy policyDoc
	index := map[string]int{}
	for _, b := range bindings {
		if len(b.Members) == 0 {
			continue
		}
		id := b.Role
		var cond *policyExpr
		if b.Expires != nil {
			cond = &policyExpr{Title: b.ConditionTitle(), Expression: b.ConditionExpression()}
			id += "\x00" + cond.Title + "\x00" + cond.Expression
		}
		if i, ok := index[id]; ok {
			policy.Bindings[i].Members = union(policy.Bindings[i].Members, b.Members)
			continue
		}
		index[id] = len(policy.Bindings)
		policy.Bindings = append(policy.Bindings, &policyBinding{Role: b.Role, Members: union(nil, b.Members), Condition: cond})
	}
	sort.SliceStable(policy.Bindings, func(i, j int) bool { return bindingLess(policy.Bindings[i], policy.Bindings[j]) })
	doc, err := json.Marshal(&policy)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return string(doc)
}

// policyDoc, policyBinding and policyExpr are the fields of Google's cloudresourcemanager.Policy,
// Binding and Expr that a rendered policy holds, in the order and with the names Google's client
// marshals them (the provider marshals its policy documents with that client). A type of its own
// rather than the client's: the client's types marshal through MarshalJSON methods whose output
// encoding/json then scans and compacts again, a cost that showed under the scale benchmarks.
type policyDoc struct {
	Bindings []*policyBinding `json:"bindings,omitempty"`
}

type policyBinding struct {
	Condition *policyExpr `json:"condition,omitempty"`
	Members   []string    `json:"members,omitempty"`
	Role      string      `json:"role,omitempty"`
}

type policyExpr struct {
	Description string `json:"description,omitempty"`
	Expression  string `json:"expression,omitempty"`
	Location    string `json:"location,omitempty"`
	Title       string `json:"title,omitempty"`
}

// bindingLess orders bindings as the data source does: by role; one without a condition before
// one with; then by the condition's expression, title and description.
func bindingLess(a, b *policyBinding) bool {
	if a.Role != b.Role {
		return a.Role < b.Role
	}
	switch ca, cb := a.Condition, b.Condition; {
	case ca == nil || cb == nil:
		return ca == nil && cb != nil
	case ca.Expression != cb.Expression:
		return ca.Expression < cb.Expression
	case ca.Title != cb.Title:
		return ca.Title < cb.Title
	default:
		return ca.Description < cb.Description
	}
}

// union is a and b's members once each, sorted.
func union(a, b []string) []string {
	out := append(append([]string(nil), a...), b...)
	sort.Strings(out)
	return slices.Compact(out)
}

// with is opts and more in a new slice: appending to a caller's opts in a loop would let one
// resource's options leak into the next one's through a shared backing array.
func with(opts []pulumi.ResourceOption, more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(append(make([]pulumi.ResourceOption, 0, len(opts)+len(more)), opts...), more...)
}

// dependsOn is a policy's dependsOn: the resource the policy is on, then the lists in order,
// in a new slice (see with).
func dependsOn(target pulumi.Resource, lists ...[]pulumi.Resource) pulumi.ResourceOption {
	deps := []pulumi.Resource{target}
	for _, l := range lists {
		deps = append(deps, l...)
	}
	return pulumi.DependsOn(deps)
}
