// Package tests runs the whole program under Pulumi's in-process mocks, with stack configs
// written as they would be in Pulumi.<stack>.yaml, and asserts on what was registered.
package tests

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/platform/private-run-api/config"
	"github.com/platform/private-run-api/stack"
)

const (
	project   = "private-run-api"
	stackName = "dev"
)

// Resource type tokens as the engine sees them.
const (
	tAccount       = "gcp:serviceaccount/account:Account"
	tAccountIAM    = "gcp:serviceaccount/iAMBinding:IAMBinding"
	tService       = "gcp:cloudrunv2/service:Service"
	tServiceIAM    = "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding"
	tBucket        = "gcp:storage/bucket:Bucket"
	tBucketIAM     = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
	tCustomRole    = "gcp:projects/iAMCustomRole:IAMCustomRole"
	tProjectAPI    = "gcp:projects/service:Service"
	tComponentCall = "privateapi:iam:Callers"
	tComponentAPI  = "privateapi:services:PrivateApi"
	tComponentAPIs = "privateapi:services:Apis"
	tComponentAuth = "privateapi:iam:AuthzGuard"
)

// fixedNow is the clock the tests run at; expiries before it have passed.
var fixedNow = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// registered is one resource as the mock monitor received it.
type registered struct {
	Type, Name, URN, Parent string
	Custom, Protect         bool
	Deps                    []string
	Inputs                  resource.PropertyMap
}

func (r registered) str(key string) string {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

func (r registered) strs(key string) []string {
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

func (r registered) obj(key string) resource.PropertyMap {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || !v.IsObject() {
		return nil
	}
	return v.ObjectValue()
}

// mocks records every registration; the engine calls it concurrently.
type mocks struct {
	dryRun bool
	mu     sync.Mutex
	res    []registered
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rpc := args.RegisterRPC
	parentType := tokens.Type("")
	if p := resource.URN(rpc.GetParent()); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	urn := resource.NewURN(tokens.QName(stackName), tokens.PackageName(project), parentType, tokens.Type(args.TypeToken), args.Name)
	parent := rpc.GetParent()
	if resource.URN(parent).Type() == resource.RootStackType {
		parent = ""
	}
	m.mu.Lock()
	m.res = append(m.res, registered{
		Type: args.TypeToken, Name: args.Name, URN: string(urn), Parent: parent,
		Custom: args.Custom, Protect: rpc.GetProtect(), Deps: rpc.GetDependencies(), Inputs: args.Inputs,
	})
	m.mu.Unlock()
	if !args.Custom {
		return "", resource.PropertyMap{}, nil
	}
	state := args.Inputs.Copy()
	// In a preview the provider knows no computed output: return inputs only, so that anything
	// the program derived from a computed output shows up as unknown.
	if !m.dryRun {
		in := func(k string) string { return args.Inputs[resource.PropertyKey(k)].StringValue() }
		switch args.TypeToken {
		case tAccount:
			email := fmt.Sprintf("%s@%s.iam.gserviceaccount.com", in("accountId"), in("project"))
			state["email"] = resource.NewProperty(email)
			state["member"] = resource.NewProperty("serviceAccount:" + email)
			state["name"] = resource.NewProperty("projects/" + in("project") + "/serviceAccounts/" + email)
		case tService:
			state["uri"] = resource.NewProperty("https://" + in("name") + "-abcdefghij-an.a.run.app")
		case tCustomRole:
			state["name"] = resource.NewProperty("projects/" + in("project") + "/roles/" + in("roleId"))
		case tBucket:
			state["url"] = resource.NewProperty("gs://" + in("name"))
		}
	}
	return args.Name + "_id", state, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, fmt.Errorf("unexpected call to %s", args.Token)
}

// result is one run of the program.
type result struct {
	err      error
	res      []registered
	warnings []string
	// outputs are the stack outputs; known says which were known (false in a preview for
	// anything derived from a computed output).
	outputs map[string]any
	known   map[string]bool
}

type runOpts struct {
	dryRun bool
	now    time.Time
	// engineKeys leaves the key list to the program, which reads PULUMI_CONFIG as it does under
	// the Pulumi language host; otherwise the keys of cfg are passed in.
	engineKeys bool
}

// run runs the program with a stack config (fully qualified keys to raw values).
func run(tb testing.TB, cfg map[string]string, o runOpts) *result {
	tb.Helper()
	if o.now.IsZero() {
		o.now = fixedNow
	}
	var keys []string
	if !o.engineKeys {
		keys = []string{}
		for k := range cfg {
			keys = append(keys, k)
		}
	}
	m := &mocks{dryRun: o.dryRun}
	r := &result{outputs: map[string]any{}, known: map[string]bool{}}
	var mu sync.Mutex
	exports := map[string]pulumi.Input{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		err := stack.RunWith(ctx, stack.Options{
			Now:        func() time.Time { return o.now },
			Warn:       func(msg string) { mu.Lock(); r.warnings = append(r.warnings, msg); mu.Unlock() },
			ConfigKeys: keys,
			Export:     func(name string, v pulumi.Input) { exports[name] = v },
		})
		if err != nil {
			return err
		}
		for name, v := range exports {
			got, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(v))
			if err != nil {
				return fmt.Errorf("output %s: %w", name, err)
			}
			r.outputs[name], r.known[name] = got.Value, got.Known
		}
		return nil
	}, pulumi.WithMocks(project, stackName, m), func(info *pulumi.RunInfo) {
		info.Config = cfg
		info.DryRun = o.dryRun
	})
	r.err = err
	r.res = m.res
	sort.Slice(r.res, func(i, j int) bool { return r.res[i].URN < r.res[j].URN })
	return r
}

// mustRun runs and fails the test on error.
func mustRun(t testing.TB, cfg map[string]string, o runOpts) *result {
	t.Helper()
	r := run(t, cfg, o)
	if r.err != nil {
		t.Fatalf("program failed: %v", r.err)
	}
	return r
}

// stackYAML turns the `config:` section of a stack file into the engine's raw config, through
// the same reader the tools use.
func stackYAML(tb testing.TB, text string) map[string]string {
	tb.Helper()
	sf, err := config.ParseStackYAML(project, "test.yaml", []byte(text))
	if err != nil {
		tb.Fatalf("test config does not parse: %v", err)
	}
	return sf.Values
}

// devStack reads the example stack from the repository.
func devStack(tb testing.TB) map[string]string {
	tb.Helper()
	sf, err := config.ReadStack(filepath.Join(".."), stackName)
	if err != nil {
		tb.Fatalf("reading Pulumi.dev.yaml: %v", err)
	}
	if sf.Namespace != project {
		tb.Fatalf("Pulumi.yaml names project %q, tests expect %q", sf.Namespace, project)
	}
	return sf.Values
}

// byType returns the registered resources of one type.
func (r *result) byType(typ string) []registered {
	var out []registered
	for _, x := range r.res {
		if x.Type == typ {
			out = append(out, x)
		}
	}
	return out
}

// find returns the one resource of typ named name.
func (r *result) find(tb testing.TB, typ, name string) registered {
	tb.Helper()
	for _, x := range r.res {
		if x.Type == typ && x.Name == name {
			return x
		}
	}
	tb.Fatalf("no %s named %q among %d resources:\n%s", typ, name, len(r.res), r.listing())
	return registered{}
}

func (r *result) listing() string {
	var b strings.Builder
	for _, x := range r.res {
		fmt.Fprintf(&b, "  %s %s\n", x.Type, x.Name)
	}
	return b.String()
}

// urns indexes resources by URN.
func (r *result) urns() map[string]registered {
	out := make(map[string]registered, len(r.res))
	for _, x := range r.res {
		out[x.URN] = x
	}
	return out
}

// minimal is a small valid stack to vary from.
const minimal = `
config:
  gcp:project: acme-test
  gcp:region: us-central1
  private-run-api:service:
    name: orders-api
    image: us-docker.pkg.dev/cloudrun/container/hello
  private-run-api:callers:
    - name: orders-batch
`
