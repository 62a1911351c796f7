// Package iam owns identities and who may use them: service accounts with the IAM on them, the
// callers' accounts, and the authz guard (a custom role held on an empty bucket).
//
// Every component states IAM the same way, as Cloud Foundation Fabric's modules do: IAM maps a
// role to its members, and IAMBindings are bindings under a stable key, with an optional
// condition. On the resources callers reach (the service, the authz bucket) the two render into
// the resource's whole policy, so that nothing added by hand survives the next `pulumi up`; on a
// caller's account each becomes one authoritative binding.
package iam

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Binding is one role, its members and an optional condition.
type Binding struct {
	Role      string
	Members   []string
	Condition *Condition
}

// Condition is an IAM condition, such as an expiry: `request.time < timestamp("...")`.
type Condition struct {
	Title, Expression string
}

// Named is a name the program computed up front (an account's resource name, a role's name, a
// service's name), carrying a property dependency on the resource that owns it. The value is
// known in a preview, so a reviewer sees every target in full; the dependency is a property
// dependency, so when the owner is replaced the engine also replaces (or updates) what names it.
// dependsOn alone would leave the dependent pointing at a resource that was deleted and created
// again without it.
func Named(ctx *pulumi.Context, name string, owner pulumi.Resource) pulumi.StringOutput {
	return pulumi.OutputWithDependencies(ctx.Context(), pulumi.String(name).ToStringOutput(), owner).(pulumi.StringOutput)
}

// Bindings merges role-keyed IAM and keyed bindings into one list of (logical name suffix,
// binding), sorted by suffix so that registration order never depends on a map. A role-keyed
// entry's suffix is the role ("roles/run.invoker" -> "run-invoker"); a role with no members is
// left out, since IAM refuses an empty binding and no binding is the same policy.
func Bindings(iam map[string][]string, keyed map[string]Binding) []KeyedBinding {
	var out []KeyedBinding
	for role, members := range iam {
		if len(members) > 0 {
			out = append(out, KeyedBinding{Key: RoleKey(role), Binding: Binding{Role: role, Members: members}})
		}
	}
	for k, b := range keyed {
		if len(b.Members) > 0 {
			out = append(out, KeyedBinding{Key: k, Binding: b})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out
}

// KeyedBinding is a binding with the suffix of its logical name.
type KeyedBinding struct {
	Key string
	Binding
}

// RoleKey turns "roles/run.invoker" into "run-invoker" for a logical name.
func RoleKey(role string) string {
	return strings.NewReplacer(".", "-", "/", "-").Replace(strings.TrimPrefix(role, "roles/"))
}

// PolicyData renders a whole allow policy (role-keyed IAM and keyed bindings with their
// conditions) in the form the provider's getIAMPolicy data source gives it
// (data_source_google_iam_policy.go, v5.42.0): bindings of one role and condition merged, sorted
// by role and then condition, members sorted, marshalled as Google's
// cloudresourcemanager.Policy (policyDoc). It is computed here rather than through that data source: the
// provider compares policies by their bindings (compareIamPolicies), not by their text, and an
// invoke per policy was a provider round trip per caller on every preview. Every input is known,
// so a preview shows it all. A member listed in two merged bindings is listed once, as IAM stores
// it. No binding at all renders "{}", which removes whatever else was on the resource.
func PolicyData(iam map[string][]string, keyed map[string]Binding) string {
	var policy policyDoc
	index := map[string]int{}
	for _, b := range Bindings(iam, keyed) {
		id := b.Role
		var cond *policyExpr
		if c := b.Condition; c != nil {
			id += "\x00" + c.Title + "\x00" + c.Expression
			cond = &policyExpr{Title: c.Title, Expression: c.Expression}
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
