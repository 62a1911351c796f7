// Package tests runs the whole program under Pulumi's in-process mocks, with stack configs
// written as they would be in Pulumi.<stack>.yaml, and asserts on what was registered.
package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/entrypoint"
	"github.com/platform/private-run-api/internal/gcp/policydoc"
	"github.com/platform/private-run-api/internal/mocktest"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/program"
	"github.com/platform/private-run-api/internal/teststack"
)

const (
	project   = "private-run-api"
	stackName = "dev"
)

// Resource type tokens as the engine sees them.
const (
	tAccount       = "gcp:serviceaccount/account:Account"
	tAccountPolicy = "gcp:serviceaccount/iAMPolicy:IAMPolicy"
	tService       = "gcp:cloudrunv2/service:Service"
	tServicePolicy = "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy"
	tBucket        = "gcp:storage/bucket:Bucket"
	tBucketPolicy  = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
	tSecretIAM     = "gcp:secretmanager/secretIamMember:SecretIamMember"
	tCustomRole    = "gcp:projects/iAMCustomRole:IAMCustomRole"
	tProjectAPI    = "gcp:projects/service:Service"
	tComponentCall = "privateapi:iam:Callers"
	tComponentAPI  = "privateapi:services:PrivateApi"
	tComponentAPIs = "privateapi:services:Apis"
	tComponentAuth = "privateapi:iam:AuthzGuard"
)

// iamPolicy is a whole-policy resource's policyData (the service's, the bucket's, an account's),
// decoded.
type iamPolicy policydoc.Policy

// accountPolicy is the whole IAM policy of the account registered as name (a caller's name, or
// "<service>-runtime"), decoded.
func accountPolicy(tb testing.TB, r *result, name string) iamPolicy {
	tb.Helper()
	return policyOf(tb, r.Find(tb, tAccountPolicy, name+"-policy"))
}

// binding is the binding of role under the condition titled title ("" for none), if any.
func (p iamPolicy) binding(role, title string) (policydoc.Binding, bool) {
	for _, b := range p.Bindings {
		t := ""
		if b.Condition != nil {
			t = b.Condition.Title
		}
		if b.Role == role && t == title {
			return b, true
		}
	}
	return policydoc.Binding{}, false
}

// policyOf decodes a whole-policy resource's policyData; a policy that is not a known JSON string fails
// the test, since a reviewer could not read it in a preview.
func policyOf(tb testing.TB, x mocktest.Resource) iamPolicy {
	tb.Helper()
	v := x.Inputs["policyData"]
	if !v.IsString() {
		tb.Fatalf("%s: policyData is %v, not a known string: a preview would not show who holds the bucket", x.Name, v)
	}
	p, err := policydoc.Parse([]byte(v.StringValue()))
	if err != nil {
		tb.Fatalf("%s: policyData %q: %v", x.Name, v.StringValue(), err)
	}
	return iamPolicy(p)
}

// members is who holds role in a decoded policy, in its order.
func (p iamPolicy) members(role string) []string {
	for _, b := range p.Bindings {
		if b.Role == role {
			return b.Members
		}
	}
	return nil
}

// invokersOf is who may invoke the service name: the roles/run.invoker members of its policy.
func invokersOf(tb testing.TB, r *result, service string) []string {
	tb.Helper()
	return policyOf(tb, r.Find(tb, tServicePolicy, service+"-policy")).members("roles/run.invoker")
}

// fixedNow is the clock the tests run at; expiries before it have passed.
var fixedNow = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// computed adds what the provider computes for the program's resources to state, a copy of
// inputs; the mocks and benchMocks both answer with it.
func computed(typ string, inputs, state resource.PropertyMap) {
	in := func(k string) string { return inputs[resource.PropertyKey(k)].StringValue() }
	switch typ {
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

// newMocks records every registration of the program's stack.
func newMocks(dryRun bool) *mocktest.Mocks {
	return &mocktest.Mocks{Project: project, Stack: stackName, DryRun: dryRun, Outputs: computed}
}

// result is one run of the program.
type result struct {
	mocktest.Result
	warnings []string
}

type runOpts struct {
	dryRun bool
	now    time.Time
	// engineKeys leaves the key list to the program, which reads PULUMI_CONFIG as it does under
	// the Pulumi language host; otherwise the keys of cfg are passed in.
	engineKeys bool
	// root is the project root caller files are read from; default the example stack's
	// directory, testdata/stacks/dev.
	root string
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
	root := o.root
	if root == "" {
		root = filepath.Join("testdata", "stacks", "dev")
	}
	r := &result{}
	var mu sync.Mutex
	r.Result = *mocktest.Run(newMocks(o.dryRun), cfg, func(ctx *pulumi.Context, export func(string, pulumi.Input)) error {
		return program.RunWith(ctx, entrypoint.Options{
			Now:        func() time.Time { return o.now },
			Warn:       func(msg string) { mu.Lock(); r.warnings = append(r.warnings, msg); mu.Unlock() },
			ConfigKeys: keys,
			Export:     export,
			Files:      os.DirFS(root),
		})
	})
	mocktest.WriteRegistrations(tb, "main", cfg, &r.Result)
	// The engine refuses a program that registers one URN twice; the mocks do not, so every
	// stack any test runs is checked here.
	seen := make(map[string]bool, len(r.Resources))
	for _, x := range r.Resources {
		if seen[x.URN] {
			tb.Errorf("URN registered twice: %s", x.URN)
		}
		seen[x.URN] = true
	}
	return r
}

// mustRun runs and fails the test on error.
func mustRun(t testing.TB, cfg map[string]string, o runOpts) *result {
	t.Helper()
	r := run(t, cfg, o)
	if r.Err != nil {
		t.Fatalf("program failed: %v", r.Err)
	}
	return r
}

// stackYAML turns the `config:` section of a stack file into the engine's raw config, through
// the same reader the tools use.
func stackYAML(tb testing.TB, text string) map[string]string {
	tb.Helper()
	return teststack.Parse(tb, text).Values
}

// stackFile is the stack file testdata/<name>.yaml, read as stackYAML reads a stack's text.
func stackFile(tb testing.TB, name string) map[string]string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	return stackYAML(tb, string(data))
}

// exampleStack is the documented example stack: testdata/stacks/dev, a copy of Pulumi.dev.yaml
// as README.md describes it. The tests that count its grants and resources read this copy, never
// Pulumi.dev.yaml itself: that file is what a team edits to onboard a caller, and a valid edit
// must break no test (tests/stackfiles_test.go holds the real stack files to what any valid edit
// keeps true).
func exampleStack(tb testing.TB) map[string]string {
	tb.Helper()
	return readStack(tb, filepath.Join("testdata", "stacks", "dev"), stackName).Values
}

// readStack reads a stack of the project in dir as the tools do, as the engine would pass it.
func readStack(tb testing.TB, dir, stack string) config.StackFile {
	tb.Helper()
	sf, err := config.ReadStack(config.Dir(dir), stack)
	if err != nil {
		tb.Fatalf("reading stack %s in %s: %v", stack, dir, err)
	}
	if sf.Namespace != project {
		tb.Fatalf("%s names project %q, tests expect %q", dir, sf.Namespace, project)
	}
	return sf
}

// base is the start every small test stack shares: a project, a region and a service. Stacks add
// their callers and what they vary; the bad-config cases add what makes them bad.
const base = teststack.Header

// minimal is a small valid stack to vary from.
const minimal = base + `  private-run-api:callers:
    - name: orders-batch
`

// accountGrant is one binding of an account's whole policy.
type accountGrant struct {
	Members []string
	// Condition is the binding's condition expression, "" for none.
	Condition string
}

// accountGrants flattens every account policy the run registered into its bindings, named as
// "<account>-<what>": "orders-batch-token-creator", "orders-batch-token-creator-expires-<title>",
// "orders-batch-openid-self", "orders-batch-run-as-deployers", "orders-batch-run-as-gke", where
// <account> is the policy's name without "-policy" (a caller's name, "<service>-runtime").
func accountGrants(tb testing.TB, r *result) map[string]accountGrant {
	tb.Helper()
	out := map[string]accountGrant{}
	for _, x := range r.ByType(tAccountPolicy) {
		acct := strings.TrimSuffix(x.Name, "-policy")
		for _, b := range policyOf(tb, x).Bindings {
			var name string
			switch b.Role {
			case plan.RoleTokenCreator:
				name = acct + "-token-creator"
			case plan.RoleOpenIDTokenCreator:
				name = acct + "-openid-self"
			case plan.RoleServiceAccountUser:
				name = acct + "-run-as-deployers"
			case plan.RoleWorkloadIdentityUser:
				name = acct + "-run-as-gke"
			default:
				tb.Fatalf("%s grants %s, which accountGrants does not name", x.Name, b.Role)
			}
			g := accountGrant{Members: b.Members}
			if b.Condition != nil {
				name += "-" + b.Condition.Title
				g.Condition = b.Condition.Expression
			}
			if _, dup := out[name]; dup {
				tb.Fatalf("%s: two bindings named %s", x.Name, name)
			}
			out[name] = g
		}
	}
	return out
}
