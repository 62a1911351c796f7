// Package mocktest is test support for running Pulumi programs under mocks.
//
// Mocks records what a program registers and answers as a provider would, with the computed
// outputs each suite configures; Run runs a program on it and awaits the program's exports;
// Result and Resource are what the tests assert on.
package mocktest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Resource is one resource as the mock monitor received it. Parent is "" for a child of the
// stack.
type Resource struct {
	Type, Name, URN, Parent string
	Custom, Protect         bool
	Deps                    []string
	// PropertyDeps are the resources each input was taken from: the dependencies for which the
	// engine replaces this resource along with a replaced one (dependsOn alone does not).
	PropertyDeps map[string][]string
	// IgnoreChanges are the input paths the engine leaves alone after creation.
	IgnoreChanges []string
	Inputs        resource.PropertyMap
	// Outputs are what the mock answered the registration with (none for a component).
	Outputs resource.PropertyMap
}

// Str is the string input key, or "" if it is not set or not a string.
func (r Resource) Str(key string) string {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// Strs is the array input key with each element as a string, "<type>" for an element that is
// not one; nil if key is not set or not an array.
func (r Resource) Strs(key string) []string {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		} else {
			out = append(out, "<"+e.TypeString()+">")
		}
	}
	return out
}

// Obj is the object input key, or nil if it is not set or not an object.
func (r Resource) Obj(key string) resource.PropertyMap {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || !v.IsObject() {
		return nil
	}
	return v.ObjectValue()
}

// StrMap is the string-valued entries of the object input key, or nil if it is not set or not
// an object.
func (r Resource) StrMap(key string) map[string]string {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || !v.IsObject() {
		return nil
	}
	out := map[string]string{}
	for k, e := range v.ObjectValue() {
		if e.IsString() {
			out[string(k)] = e.StringValue()
		}
	}
	return out
}

// Outputs adds to state, a copy of a custom resource's inputs, what the provider computes for a
// resource of type typ from those inputs.
type Outputs func(typ string, inputs, state resource.PropertyMap)

// Reply is what a mock provider answers a registration with: for a component, no ID and no
// state; for a custom resource, an ID made from its name and its inputs, with what o computes
// added unless dryRun. In a preview the provider knows no computed output: it returns inputs
// only, so that anything the program derived from a computed output shows up as unknown. A nil
// o computes nothing.
func (o Outputs) Reply(args pulumi.MockResourceArgs, dryRun bool) (string, resource.PropertyMap) {
	if !args.Custom {
		return "", resource.PropertyMap{}
	}
	state := args.Inputs.Copy()
	if !dryRun && o != nil {
		o(args.TypeToken, args.Inputs, state)
	}
	return args.Name + "_id", state
}

// Calls answers the provider functions the programs call as the GCP provider does, and fails
// any other.
type Calls struct{}

// Call answers gcp:organizations/getIAMPolicy as the provider's data source renders a policy
// document (terraform-provider-google, data_source_google_iam_policy.go): bindings of one role
// and condition merged, sorted by role then condition, members sorted, marshalled as
// cloudresourcemanager.Policy is, so that tests see the JSON a real preview would show.
func (Calls) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if args.Token != "gcp:organizations/getIAMPolicy:getIAMPolicy" {
		return resource.PropertyMap{}, fmt.Errorf("unexpected call to %s", args.Token)
	}
	doc, err := PolicyData(args.Args)
	if err != nil {
		return nil, err
	}
	out := args.Args.Copy()
	out["policyData"] = resource.NewProperty(doc)
	out["id"] = resource.NewProperty(fmt.Sprintf("%x", sha256.Sum256([]byte(doc)))[:10])
	return out, nil
}

// policyCondition and policyBinding mirror cloudresourcemanager's JSON field order.
type policyCondition struct {
	Description string `json:"description,omitempty"`
	Expression  string `json:"expression,omitempty"`
	Location    string `json:"location,omitempty"`
	Title       string `json:"title,omitempty"`
}

type policyBinding struct {
	Condition *policyCondition `json:"condition,omitempty"`
	Members   []string         `json:"members,omitempty"`
	Role      string           `json:"role,omitempty"`
}

// PolicyData renders getIAMPolicy's arguments into the provider's policy document.
func PolicyData(args resource.PropertyMap) (string, error) {
	merged := map[string]*policyBinding{}
	if v, ok := args["bindings"]; ok && v.IsArray() {
		for _, e := range v.ArrayValue() {
			if !e.IsObject() {
				return "", fmt.Errorf("getIAMPolicy: binding %v is not an object", e)
			}
			o := e.ObjectValue()
			b := policyBinding{Role: str(o, "role")}
			if c, ok := o["condition"]; ok && c.IsObject() {
				co := c.ObjectValue()
				b.Condition = &policyCondition{Description: str(co, "description"), Expression: str(co, "expression"), Title: str(co, "title")}
			}
			if m, ok := o["members"]; ok && m.IsArray() {
				for _, x := range m.ArrayValue() {
					if !x.IsString() {
						return "", fmt.Errorf("getIAMPolicy: member %v is not a known string", x)
					}
					b.Members = append(b.Members, x.StringValue())
				}
			}
			key := b.Role
			if b.Condition != nil {
				key += fmt.Sprintf("-[%s]-[%s]-[%s]", b.Condition.Expression, b.Condition.Title, b.Condition.Description)
			}
			if prev, ok := merged[key]; ok {
				prev.Members = append(prev.Members, b.Members...)
			} else {
				merged[key] = &b
			}
		}
	}
	var policy struct {
		Bindings []*policyBinding `json:"bindings,omitempty"`
	}
	for _, b := range merged {
		sort.Strings(b.Members)
		policy.Bindings = append(policy.Bindings, b)
	}
	condKey := func(c *policyCondition) string {
		if c == nil {
			return ""
		}
		return c.Expression + "\x00" + c.Title + "\x00" + c.Description
	}
	sort.Slice(policy.Bindings, func(i, j int) bool {
		a, b := policy.Bindings[i], policy.Bindings[j]
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		return condKey(a.Condition) < condKey(b.Condition)
	})
	doc, err := json.Marshal(policy)
	return string(doc), err
}

func str(m resource.PropertyMap, k string) string {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Mocks is a pulumi.MockResourceMonitor that records every registration (the engine registers
// concurrently) and answers as Outputs.Reply does.
type Mocks struct {
	// Project and Stack make the URNs; Run runs the program as this project's stack.
	Project, Stack string
	// DryRun answers as in a preview: inputs only. Run also tells the program it previews.
	DryRun bool
	// Outputs computes the outputs of custom resources outside a preview; nil for none.
	Outputs Outputs
	Calls

	mu  sync.Mutex
	res []Resource
}

// NewResource records the registration and answers it.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rpc := args.RegisterRPC
	parentType := tokens.Type("")
	if p := resource.URN(rpc.GetParent()); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	urn := resource.NewURN(tokens.QName(m.Stack), tokens.PackageName(m.Project), parentType, tokens.Type(args.TypeToken), args.Name)
	parent := rpc.GetParent()
	if resource.URN(parent).Type() == resource.RootStackType {
		parent = ""
	}
	id, state := m.Outputs.Reply(args, m.DryRun)
	m.mu.Lock()
	m.res = append(m.res, Resource{
		Type: args.TypeToken, Name: args.Name, URN: string(urn), Parent: parent,
		Custom: args.Custom, Protect: rpc.GetProtect(), Deps: rpc.GetDependencies(), Inputs: args.Inputs,
		PropertyDeps: propertyDeps(rpc.GetPropertyDependencies()), IgnoreChanges: rpc.GetIgnoreChanges(),
		Outputs: state,
	})
	m.mu.Unlock()
	return id, state, nil
}

func propertyDeps(in map[string]*pulumirpc.RegisterResourceRequest_PropertyDependencies) map[string][]string {
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = v.GetUrns()
	}
	return out
}

// Resources are the registrations so far, in the order they arrived.
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Resource(nil), m.res...)
}

// Program is a program under test with its stack outputs sent to export rather than to
// ctx.Export.
type Program func(ctx *pulumi.Context, export func(name string, v pulumi.Input)) error

// Result is one run of a program.
type Result struct {
	Err error
	// Resources are what the program registered, by URN.
	Resources []Resource
	// Outputs are the stack outputs; Known says which were known (false in a preview for
	// anything derived from a computed output).
	Outputs map[string]any
	Known   map[string]bool
}

// Run runs program on m as stack m.Stack of project m.Project, with the raw stack config cfg
// (fully qualified keys to raw values), as a preview if m.DryRun, and awaits every output the
// program exported.
func Run(m *Mocks, cfg map[string]string, program Program) *Result {
	r := &Result{Outputs: map[string]any{}, Known: map[string]bool{}}
	exports := map[string]pulumi.Input{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := program(ctx, func(name string, v pulumi.Input) { exports[name] = v }); err != nil {
			return err
		}
		for name, v := range exports {
			got, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(v))
			if err != nil {
				return fmt.Errorf("output %s: %w", name, err)
			}
			r.Outputs[name], r.Known[name] = got.Value, got.Known
		}
		return nil
	}, pulumi.WithMocks(m.Project, m.Stack, m), func(info *pulumi.RunInfo) {
		info.Config = cfg
		info.DryRun = m.DryRun
	})
	r.Err = err
	r.Resources = m.Resources()
	sort.Slice(r.Resources, func(i, j int) bool { return r.Resources[i].URN < r.Resources[j].URN })
	return r
}

// ByType returns the registered resources of one type.
func (r *Result) ByType(typ string) []Resource {
	var out []Resource
	for _, x := range r.Resources {
		if x.Type == typ {
			out = append(out, x)
		}
	}
	return out
}

// Find returns the one resource of typ named name, and fails tb if there is none.
func (r *Result) Find(tb testing.TB, typ, name string) Resource {
	tb.Helper()
	for _, x := range r.Resources {
		if x.Type == typ && x.Name == name {
			return x
		}
	}
	tb.Fatalf("no %s named %q among %d resources:\n%s", typ, name, len(r.Resources), r.Listing())
	return Resource{}
}

// Listing is every resource's type and name, a line each.
func (r *Result) Listing() string {
	var b strings.Builder
	for _, x := range r.Resources {
		fmt.Fprintf(&b, "  %s %s\n", x.Type, x.Name)
	}
	return b.String()
}

// URNs indexes the resources by URN.
func (r *Result) URNs() map[string]Resource {
	out := make(map[string]Resource, len(r.Resources))
	for _, x := range r.Resources {
		out[x.URN] = x
	}
	return out
}
