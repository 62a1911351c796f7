package ci_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/config"
)

const (
	project   = "private-run-api-bootstrap"
	stackName = "example"
	// projectNumber is what the mock provider reports in the pool's and provider's names.
	projectNumber = "123456789012"
)

// Resource type tokens as the engine sees them.
const (
	tAPI        = "gcp:projects/service:Service"
	tPool       = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
	tProvider   = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
	tAccount    = "gcp:serviceaccount/account:Account"
	tAccountKey = "gcp:serviceaccount/key:Key"
	tSABinding  = "gcp:serviceaccount/iAMBinding:IAMBinding"
	tSAMember   = "gcp:serviceaccount/iAMMember:IAMMember"
	tProjMember = "gcp:projects/iAMMember:IAMMember"
	tProjBind   = "gcp:projects/iAMBinding:IAMBinding"
	tCustomRole = "gcp:projects/iAMCustomRole:IAMCustomRole"
	tBucketMem  = "gcp:storage/bucketIAMMember:BucketIAMMember"
	tBucketBind = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
)

// registered is one resource as the mock monitor received it.
type registered struct {
	Type, Name string
	Protect    bool
	Deps       []string
	Inputs     resource.PropertyMap
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

func (r registered) strMap(key string) map[string]string {
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

// member is the one principal a grant gives its role to: Member for additive grants, the only
// entry of Members for bindings.
func (r registered) members() []string {
	if m := r.str("member"); m != "" {
		return []string{m}
	}
	return r.strs("members")
}

// mocks records every registration; the engine calls it concurrently.
type mocks struct {
	dryRun bool
	mu     sync.Mutex
	res    []registered
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	m.res = append(m.res, registered{
		Type: args.TypeToken, Name: args.Name, Protect: args.RegisterRPC.GetProtect(),
		Deps: args.RegisterRPC.GetDependencies(), Inputs: args.Inputs,
	})
	m.mu.Unlock()
	state := args.Inputs.Copy()
	// In a preview the provider knows no computed output: return inputs only, so that anything
	// derived from one shows up as unknown.
	if !m.dryRun {
		in := func(k string) string { return args.Inputs[resource.PropertyKey(k)].StringValue() }
		poolName := func() string {
			return "projects/" + projectNumber + "/locations/global/workloadIdentityPools/" + in("workloadIdentityPoolId")
		}
		switch args.TypeToken {
		case tAccount:
			email := config.AccountEmail(in("project"), in("accountId"))
			state["email"] = resource.NewProperty(email)
			state["member"] = resource.NewProperty("serviceAccount:" + email)
			state["name"] = resource.NewProperty(config.AccountName(in("project"), email))
		case tPool:
			state["name"] = resource.NewProperty(poolName())
		case tProvider:
			state["name"] = resource.NewProperty(poolName() + "/providers/" + in("workloadIdentityPoolProviderId"))
		case tCustomRole:
			state["name"] = resource.NewProperty("projects/" + in("project") + "/roles/" + in("roleId"))
		}
	}
	return args.Name + "_id", state, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, fmt.Errorf("unexpected call to %s", args.Token)
}

// result is one run of the bootstrap program.
type result struct {
	err     error
	res     []registered
	outputs map[string]any
	known   map[string]bool
}

// run runs the program with a stack config (fully qualified keys to raw values); the config's
// keys are what PULUMI_CONFIG would list.
func run(tb testing.TB, cfg map[string]string, dryRun bool) *result {
	tb.Helper()
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	m := &mocks{dryRun: dryRun}
	r := &result{outputs: map[string]any{}, known: map[string]bool{}}
	exports := map[string]pulumi.Input{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := ci.RunWith(ctx, ci.Options{
			ConfigKeys: keys,
			Export:     func(name string, v pulumi.Input) { exports[name] = v },
		}); err != nil {
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
		info.DryRun = dryRun
	})
	r.err = err
	r.res = m.res
	sort.Slice(r.res, func(i, j int) bool {
		if r.res[i].Type != r.res[j].Type {
			return r.res[i].Type < r.res[j].Type
		}
		return r.res[i].Name < r.res[j].Name
	})
	return r
}

func mustRun(tb testing.TB, cfg map[string]string) *result {
	tb.Helper()
	r := run(tb, cfg, false)
	if r.err != nil {
		tb.Fatalf("program failed: %v", r.err)
	}
	return r
}

// base is a small valid config to vary from; with overrides applied ("" removes a key).
func base(overrides map[string]string) map[string]string {
	cfg := map[string]string{
		"gcp:project":                      "acme-test",
		project + ":repository":            "acme/private-run-api",
		project + ":runtimeServiceAccount": "orders-api-run@acme-test.iam.gserviceaccount.com",
		project + ":stateBucket":           "acme-test-pulumi-state",
	}
	for k, v := range overrides {
		if !strings.Contains(k, ":") {
			k = project + ":" + k
		}
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

func (r *result) byType(typ string) []registered {
	var out []registered
	for _, x := range r.res {
		if x.Type == typ {
			out = append(out, x)
		}
	}
	return out
}

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

// grantTypes are every resource type that gives a role to someone.
var grantTypes = []string{tSABinding, tSAMember, tProjMember, tProjBind, tBucketMem, tBucketBind}

// grant is a role given to a member on a target, whatever the resource type.
type grant struct {
	Type, Name, Target, Role, Member string
}

func (g grant) String() string {
	return fmt.Sprintf("%s %s on %s to %s", g.Type, g.Role, g.Target, g.Member)
}

func (r *result) grants() []grant {
	var out []grant
	for _, typ := range grantTypes {
		for _, x := range r.byType(typ) {
			target := x.str("project")
			switch typ {
			case tSABinding, tSAMember:
				target = x.str("serviceAccountId")
			case tBucketMem, tBucketBind:
				target = "bucket " + x.str("bucket")
			}
			for _, m := range x.members() {
				out = append(out, grant{Type: typ, Name: x.Name, Target: target, Role: x.str("role"), Member: m})
			}
		}
	}
	return out
}

func sa(id string) string { return "serviceAccount:" + id + "@acme-test.iam.gserviceaccount.com" }

func poolPrefix(pool string) string {
	return "principalSet://iam.googleapis.com/projects/" + projectNumber + "/locations/global/workloadIdentityPools/" + pool
}
