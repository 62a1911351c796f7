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
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/organizations"
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
// conditions) with the provider's own renderer, getIAMPolicy, so that its form is the one the
// provider compares with what Google returns; every input is known, so a preview shows it all.
// Bindings of one role under one condition (or none) become one binding with each member once, as
// IAM itself stores them (getIAMPolicy merges such bindings but keeps a member listed in both
// twice, which would read back once and show a change on every preview). No binding at all
// renders "{}", which removes whatever else was on the resource.
func PolicyData(ctx *pulumi.Context, iam map[string][]string, keyed map[string]Binding, opts ...pulumi.InvokeOption) (string, error) {
	var bindings []organizations.GetIAMPolicyBinding
	index := map[string]int{}
	for _, b := range Bindings(iam, keyed) {
		id := b.Role
		if c := b.Condition; c != nil {
			id += "\x00" + c.Title + "\x00" + c.Expression
		}
		if i, ok := index[id]; ok {
			bindings[i].Members = union(bindings[i].Members, b.Members)
			continue
		}
		gb := organizations.GetIAMPolicyBinding{Role: b.Role, Members: append([]string(nil), b.Members...)}
		if c := b.Condition; c != nil {
			gb.Condition = &organizations.GetIAMPolicyBindingCondition{Title: c.Title, Expression: c.Expression}
		}
		index[id] = len(bindings)
		bindings = append(bindings, gb)
	}
	doc, err := organizations.LookupIAMPolicy(ctx, &organizations.LookupIAMPolicyArgs{Bindings: bindings}, opts...)
	if err != nil {
		return "", err
	}
	return doc.PolicyData, nil
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

// invokeOpts are the options of opts that also apply to an invoke (a parent, a provider), so that
// an invoke made for a resource resolves its provider as the resource does.
func invokeOpts(opts []pulumi.ResourceOption) []pulumi.InvokeOption {
	var out []pulumi.InvokeOption
	for _, o := range opts {
		if io, ok := o.(pulumi.InvokeOption); ok {
			out = append(out, io)
		}
	}
	return out
}
