package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/platform/private-run-api/policy/rules"
)

// serveEnv makes the test binary run the pack's main instead of the tests, so that the tests can
// talk to the real analyzer server over gRPC, as the Pulumi engine does, without the Pulumi CLI.
const serveEnv = "PRIVATE_RUN_API_POLICY_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// wantLevels are the default enforcement levels as designed: mandatory for every security rule,
// advisory for the expiry of grants to people, which has legitimate exceptions.
var wantLevels = map[string]policyx.EnforcementLevel{
	"no-public-principals":                    policyx.EnforcementLevelMandatory,
	"impersonation-only-on-service-accounts":  policyx.EnforcementLevelMandatory,
	"impersonation-only-to-named-principals":  policyx.EnforcementLevelMandatory,
	"no-service-account-keys":                 policyx.EnforcementLevelMandatory,
	"run-as-dedicated-service-account":        policyx.EnforcementLevelMandatory,
	"bucket-uniform-access-public-prevention": policyx.EnforcementLevelMandatory,
	"authz-role-only-buckets-get":             policyx.EnforcementLevelMandatory,
	"run-invoker-service-accounts-only":       policyx.EnforcementLevelMandatory,
	"impersonation-grants-expire":             policyx.EnforcementLevelAdvisory,
	"authz-bucket-iam-one-policy":             policyx.EnforcementLevelMandatory,
	"custom-role-grants":                      policyx.EnforcementLevelMandatory,
}

// stackPolicies are the policies that read the whole stack.
var stackPolicies = []string{"authz-bucket-iam-one-policy", "custom-role-grants"}

func TestPackDeclaresEveryPolicy(t *testing.T) {
	pack, err := newPack(nil)
	if err != nil {
		t.Fatal(err)
	}
	if pack.Name() != packName || pack.Version().String() != packVersion {
		t.Errorf("pack %s %s", pack.Name(), pack.Version())
	}
	remediation := map[string]string{}
	for _, p := range rules.ResourcePolicies() {
		remediation[p.Name] = p.Remediation
	}
	for _, p := range rules.StackPolicies() {
		remediation[p.Name] = p.Remediation
	}
	var names []string
	for _, p := range pack.Policies() {
		names = append(names, p.Name())
		want, ok := wantLevels[p.Name()]
		if !ok {
			t.Errorf("policy %s is not in this test's table of levels", p.Name())
		}
		if p.EnforcementLevel() != want {
			t.Errorf("%s: level %s, want %s", p.Name(), rules.LevelName(p.EnforcementLevel()), rules.LevelName(want))
		}
		if p.Description() == "" || remediation[p.Name()] == "" {
			t.Errorf("%s: no description or no remediation", p.Name())
		}
		switch p.(type) {
		case policyx.ResourceValidationPolicy:
			if slices.Contains(stackPolicies, p.Name()) {
				t.Errorf("%s registered as a resource policy", p.Name())
			}
		case policyx.StackValidationPolicy:
			if !slices.Contains(stackPolicies, p.Name()) {
				t.Errorf("%s registered as a stack policy", p.Name())
			}
		default:
			t.Errorf("%s is neither a resource nor a stack validation policy", p.Name())
		}
		if s := p.ConfigSchema(); s != nil {
			// The server sends the schema as a protobuf Struct, which takes only JSON-shaped Go
			// values ([]any, not []string): a schema it cannot convert fails GetAnalyzerInfo.
			for k, v := range s.Properties {
				if _, err := structpb.NewValue(v); err != nil {
					t.Errorf("%s: schema of %s does not convert: %v", p.Name(), k, err)
				}
			}
		}
	}
	if len(names) != len(wantLevels) {
		t.Errorf("pack registers %v, want the %d of this test's table", names, len(wantLevels))
	}
}

type recorder struct{ msgs, urns []string }

func (r *recorder) ReportViolation(message, urn string) {
	r.msgs = append(r.msgs, message)
	r.urns = append(r.urns, urn)
}

func TestResourcePolicyReportsRemediation(t *testing.T) {
	pack, err := newPack(nil)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(pack.Policies(), func(p policyx.Policy) bool { return p.Name() == "no-service-account-keys" })
	p := pack.Policies()[i].(policyx.ResourceValidationPolicy)
	rec := &recorder{}
	err = p.Validate(context.Background(), policyx.ResourceValidationArgs{Manager: rec, Resource: policyx.AnalyzerResource{
		Type: "gcp:serviceaccount/key:Key", Name: "k", URN: "urn:k"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 1 || !strings.Contains(rec.msgs[0], `Key "k" creates a key`) || !strings.Contains(rec.msgs[0], "\nHow to fix: Delete the key") {
		t.Errorf("reported %q", rec.msgs)
	}
	// A bad config is an error for the engine to show, not a violation.
	err = p.Validate(context.Background(), policyx.ResourceValidationArgs{Manager: rec, Config: map[string]any{"typo": 1},
		Resource: policyx.AnalyzerResource{Type: "gcp:serviceaccount/key:Key"}})
	if err == nil || !strings.Contains(err.Error(), `policy config of no-service-account-keys: unknown config property "typo"`) {
		t.Errorf("bad config: err = %v", err)
	}
}

// pack is the pack's process, started as the engine starts it: it prints its port and serves
// the Analyzer protocol.
type pack struct {
	client pulumirpc.AnalyzerClient
	cmd    *exec.Cmd
}

func startPack(t *testing.T, stderr io.Writer) *pack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		port <- strings.TrimSpace(line)
	}()
	var addr string
	select {
	case addr = <-port:
	case <-time.After(30 * time.Second):
		t.Fatal("the pack printed no port")
	}
	conn, err := grpc.NewClient("127.0.0.1:"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &pack{client: pulumirpc.NewAnalyzerClient(conn), cmd: cmd}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// configure sends what the engine sends before analysing (pkg/engine LoadLocalPolicyPackAnalyzers):
// ConfigureStack, GetAnalyzerInfo, then Configure with every policy's level and properties, the
// schema defaults filled in and the given policy config file applied over them.
func (p *pack) configure(t *testing.T, configJSON string) *pulumirpc.AnalyzerInfo {
	t.Helper()
	root := "."
	if _, err := p.client.Handshake(ctx(t), &pulumirpc.AnalyzerHandshakeRequest{RootDirectory: &root, ProgramDirectory: &root}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.client.ConfigureStack(ctx(t), &pulumirpc.AnalyzerStackConfigureRequest{
		Stack: "dev", Project: "private-run-api", Organization: "acme", DryRun: true}); err != nil {
		t.Fatal(err)
	}
	info, err := p.client.GetAnalyzerInfo(ctx(t), &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	p.reconfigure(t, info, configJSON)
	return info
}

func (p *pack) reconfigure(t *testing.T, info *pulumirpc.AnalyzerInfo, configJSON string) {
	t.Helper()
	c, err := rules.ParseConfig([]byte(configJSON))
	if err != nil {
		t.Fatal(err)
	}
	req := &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: map[string]*pulumirpc.PolicyConfig{}}
	for _, pi := range info.Policies {
		props := map[string]any{}
		if s := pi.GetConfigSchema().GetProperties(); s != nil {
			for k, v := range s.AsMap() {
				if d, ok := v.(map[string]any)["default"]; ok {
					props[k] = d
				}
			}
		}
		for k, v := range c.Props[pi.Name] {
			props[k] = v
		}
		st, err := structpb.NewStruct(props)
		if err != nil {
			t.Fatal(err)
		}
		req.PolicyConfig[pi.Name] = &pulumirpc.PolicyConfig{EnforcementLevel: pulumirpc.EnforcementLevel(c.Levels[pi.Name]), Properties: st}
	}
	if _, err := p.client.Configure(ctx(t), req); err != nil {
		t.Fatal(err)
	}
}

func marshal(t *testing.T, props map[string]any) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(resource.NewPropertyMapFromMap(props),
		plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipInternalKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type diag struct{ policy, level, urn, message string }

func diags(ds []*pulumirpc.AnalyzeDiagnostic) []diag {
	var out []diag
	for _, d := range ds {
		out = append(out, diag{d.PolicyName, rules.LevelName(policyx.EnforcementLevel(d.EnforcementLevel)), d.Urn, d.Message})
	}
	return out
}

func (p *pack) analyze(t *testing.T, typ, name string, props map[string]any) []diag {
	t.Helper()
	resp, err := p.client.Analyze(ctx(t), &pulumirpc.AnalyzeRequest{
		Type: typ, Name: name, Urn: "urn:pulumi:dev::proj::" + typ + "::" + name, Properties: marshal(t, props)})
	if err != nil {
		t.Fatalf("Analyze %s: %v", name, err)
	}
	return diags(resp.Diagnostics)
}

func (p *pack) analyzeStack(t *testing.T, rs map[string][2]any) []diag {
	t.Helper()
	req := &pulumirpc.AnalyzeStackRequest{}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range rs {
			if !yield(k) {
				return
			}
		}
	}) {
		typ := rs[name][0].(string)
		req.Resources = append(req.Resources, &pulumirpc.AnalyzerResource{
			Type: typ, Name: name, Urn: "urn:pulumi:dev::proj::" + typ + "::" + name, Properties: marshal(t, rs[name][1].(map[string]any))})
	}
	resp, err := p.client.AnalyzeStack(ctx(t), req)
	if err != nil {
		t.Fatalf("AnalyzeStack: %v", err)
	}
	return diags(resp.Diagnostics)
}

var unknown = resource.MakeComputed(resource.NewProperty(""))

const sa = "serviceAccount:orders-batch@acme-dev.iam.gserviceaccount.com"

// TestPackOverTheAnalyzerProtocol runs the pack's process and drives it as `pulumi preview
// --policy-pack ./policy --policy-pack-config <file>` would.
func TestPackOverTheAnalyzerProtocol(t *testing.T) {
	p := startPack(t, os.Stderr)
	info := p.configure(t, `{}`)

	if info.Name != packName || info.Version != packVersion || !info.SupportsConfig {
		t.Errorf("analyzer info: %s %s supportsConfig=%v", info.Name, info.Version, info.SupportsConfig)
	}
	got := map[string]policyx.EnforcementLevel{}
	for _, pi := range info.Policies {
		got[pi.Name] = policyx.EnforcementLevel(pi.EnforcementLevel)
		if pi.Description == "" {
			t.Errorf("%s: no description over the wire", pi.Name)
		}
	}
	if len(got) != len(wantLevels) {
		t.Errorf("policies over the wire: %v", got)
	}
	for name, l := range wantLevels {
		if got[name] != l {
			t.Errorf("%s: level %s over the wire, want %s", name, rules.LevelName(got[name]), rules.LevelName(l))
		}
	}

	t.Run("defaults", func(t *testing.T) {
		ds := p.analyze(t, "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding", "inv", map[string]any{
			"role": "roles/run.invoker", "members": []any{sa, "allUsers"}})
		policies := map[string]string{}
		for _, d := range ds {
			policies[d.policy] = d.level
			if !strings.Contains(d.message, "\nHow to fix: ") || d.urn != "urn:pulumi:dev::proj::gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding::inv" {
				t.Errorf("diagnostic %+v", d)
			}
		}
		if len(ds) != 2 || policies["no-public-principals"] != "mandatory" || policies["run-invoker-service-accounts-only"] != "mandatory" {
			t.Errorf("public invoker: %+v", ds)
		}
		if ds := p.analyze(t, "gcp:serviceaccount/iAMBinding:IAMBinding", "tc", map[string]any{
			"role": "roles/iam.serviceAccountTokenCreator", "members": []any{"user:kenji@acme.example"}}); len(ds) != 1 ||
			ds[0].policy != "impersonation-grants-expire" || ds[0].level != "advisory" {
			t.Errorf("token creator for a person without expiry: %+v", ds)
		}
		if ds := p.analyze(t, "gcp:serviceaccount/key:Key", "k", map[string]any{"serviceAccountId": "x"}); len(ds) != 1 {
			t.Errorf("key: %+v", ds)
		}
		if ds := p.analyze(t, "gcp:storage/bucket:Bucket", "b", map[string]any{
			"uniformBucketLevelAccess": true, "publicAccessPrevention": "enforced"}); len(ds) != 0 {
			t.Errorf("a good bucket: %+v", ds)
		}
		if ds := p.analyze(t, "gcp:storage/bucketAccessControl:BucketAccessControl", "ac", map[string]any{
			"bucket": "b", "entity": "allUsers", "role": "READER"}); len(ds) != 1 || ds[0].policy != "no-public-principals" || ds[0].level != "mandatory" {
			t.Errorf("a public bucket ACL: %+v", ds)
		}
		if ds := p.analyze(t, "gcp:projects/iAMMember:IAMMember", "editor", map[string]any{
			"role": "roles/editor", "member": sa}); len(ds) != 1 || ds[0].policy != "impersonation-only-on-service-accounts" {
			t.Errorf("project-level editor: %+v", ds)
		}
		// Issue 18: this condition hung the pack's process until CI gave up.
		if ds := p.analyze(t, "gcp:serviceaccount/iAMMember:IAMMember", "tc", map[string]any{
			"role": "roles/iam.serviceAccountTokenCreator", "member": "user:kenji@acme.example",
			"condition": map[string]any{"title": "t", "expression": `(request.time < timestamp("2020-01-01T00:00:00Z")) == false`}}); len(ds) != 1 ||
			ds[0].policy != "impersonation-grants-expire" || !strings.Contains(ds[0].message, "does not surely expire") {
			t.Errorf("a condition that never ends the grant: %+v", ds)
		}
	})

	t.Run("unknowns in a preview", func(t *testing.T) {
		// Unknowns cross the wire as the engine's sentinel; reading one as a string would panic
		// and end the pack's process.
		for typ, props := range map[string]map[string]any{
			"gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding": {"role": "roles/run.invoker", "members": unknown},
			"gcp:storage/bucketIAMPolicy:BucketIAMPolicy":        {"bucket": unknown, "policyData": unknown},
			"gcp:cloudrunv2/service:Service":                     {"template": map[string]any{"serviceAccount": unknown}},
			"gcp:storage/bucket:Bucket":                          {"uniformBucketLevelAccess": unknown, "publicAccessPrevention": unknown},
			"gcp:projects/iAMCustomRole:IAMCustomRole":           {"roleId": "x_authz", "permissions": unknown},
			"gcp:serviceaccount/iAMMember:IAMMember":             {"role": "roles/iam.serviceAccountUser", "member": "user:a@acme.example", "condition": unknown},
		} {
			if ds := p.analyze(t, typ, "u", props); len(ds) != 0 {
				t.Errorf("%s with unknowns: %+v", typ, ds)
			}
		}
	})

	t.Run("stack policy", func(t *testing.T) {
		guard := "projects/acme-dev/roles/ordersApiAuthz"
		ds := p.analyzeStack(t, map[string][2]any{
			"authz-role": {"gcp:projects/iAMCustomRole:IAMCustomRole", map[string]any{
				"project": "acme-dev", "roleId": "ordersApiAuthz", "permissions": []any{"storage.buckets.get"}}},
			"authz-members": {"gcp:storage/bucketIAMBinding:BucketIAMBinding", map[string]any{
				"bucket": "b/acme-dev-orders-api-authz", "role": guard, "members": []any{sa}}},
		})
		if len(ds) != 1 || ds[0].policy != "authz-bucket-iam-one-policy" || ds[0].level != "mandatory" ||
			ds[0].urn != "urn:pulumi:dev::proj::gcp:storage/bucketIAMBinding:BucketIAMBinding::authz-members" {
			t.Errorf("partial grant of the guard role: %+v", ds)
		}
		ds = p.analyzeStack(t, map[string][2]any{
			"minter": {"gcp:projects/iAMCustomRole:IAMCustomRole", map[string]any{
				"project": "acme-dev", "roleId": "minter", "permissions": []any{"iam.serviceAccounts.getAccessToken"}}},
			"everywhere": {"gcp:projects/iAMMember:IAMMember", map[string]any{
				"project": "acme-dev", "role": "projects/acme-dev/roles/minter", "member": sa}},
		})
		if len(ds) != 1 || ds[0].policy != "custom-role-grants" || ds[0].level != "mandatory" ||
			!strings.Contains(ds[0].message, "[impersonation-only-on-service-accounts]") {
			t.Errorf("a custom token minter at project level: %+v", ds)
		}
	})

	t.Run("config sets levels and properties", func(t *testing.T) {
		p.reconfigure(t, info, `{
			"no-service-account-keys": "disabled",
			"impersonation-grants-expire": {"enforcementLevel": "mandatory"},
			"authz-bucket-iam-one-policy": "advisory",
			"run-invoker-service-accounts-only": {"allowedMembers": ["group:oncall@acme.example"]}
		}`)
		if ds := p.analyze(t, "gcp:serviceaccount/key:Key", "k", map[string]any{}); len(ds) != 0 {
			t.Errorf("disabled policy reported: %+v", ds)
		}
		if ds := p.analyze(t, "gcp:serviceaccount/iAMMember:IAMMember", "tc", map[string]any{
			"role": "roles/iam.serviceAccountTokenCreator", "member": "user:kenji@acme.example"}); len(ds) != 1 || ds[0].level != "mandatory" {
			t.Errorf("raised to mandatory: %+v", ds)
		}
		if ds := p.analyze(t, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "inv", map[string]any{
			"role": "roles/run.invoker", "member": "group:oncall@acme.example"}); len(ds) != 0 {
			t.Errorf("allowed member reported: %+v", ds)
		}
		ds := p.analyzeStack(t, map[string][2]any{
			"r": {"gcp:projects/iAMCustomRole:IAMCustomRole", map[string]any{"project": "p", "roleId": "g", "permissions": []any{"storage.buckets.get"}}},
			"m": {"gcp:storage/bucketIAMMember:BucketIAMMember", map[string]any{"bucket": "b", "role": "projects/p/roles/g", "member": sa}},
		})
		if len(ds) != 1 || ds[0].level != "advisory" {
			t.Errorf("stack policy lowered to advisory: %+v", ds)
		}
	})

	t.Run("a bad property fails the run", func(t *testing.T) {
		req := &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: map[string]*pulumirpc.PolicyConfig{}}
		props, _ := structpb.NewStruct(map[string]any{"allowedMember": []any{"group:x@acme.example"}})
		req.PolicyConfig["run-invoker-service-accounts-only"] = &pulumirpc.PolicyConfig{
			EnforcementLevel: pulumirpc.EnforcementLevel_MANDATORY, Properties: props}
		if _, err := p.client.Configure(ctx(t), req); err != nil {
			t.Fatal(err)
		}
		_, err := p.client.Analyze(ctx(t), &pulumirpc.AnalyzeRequest{Type: "gcp:serviceaccount/key:Key", Name: "k", Urn: "urn:k",
			Properties: marshal(t, map[string]any{})})
		if err == nil || !strings.Contains(err.Error(), `unknown config property "allowedMember"`) {
			t.Errorf("misspelt property: err = %v", err)
		}
	})
}

// TestPackDiesWithoutStackConfigure pins an upstream bug of policyx (v3.259.0) that blocks two
// CLI commands: `pulumi policy publish` and `pulumi policy analyze` load the pack without a stack
// and ask for its metadata without calling ConfigureStack first, but policyx builds the pack only
// in ConfigureStack, so GetAnalyzerInfo dereferences a nil pack and the process dies
// (pulumi/pulumi#24646, open). `pulumi preview` and `pulumi up` configure the stack first and are
// not affected. When this test fails after an SDK upgrade, those commands work: update
// README.md ("Checking a stack's state" and "Publishing") and turn this test around.
func TestPackDiesWithoutStackConfigure(t *testing.T) {
	var stderr bytes.Buffer
	p := startPack(t, &stderr)
	root := "."
	if _, err := p.client.Handshake(ctx(t), &pulumirpc.AnalyzerHandshakeRequest{RootDirectory: &root, ProgramDirectory: &root}); err != nil {
		t.Fatal(err)
	}
	_, err := p.client.GetAnalyzerInfo(ctx(t), &emptypb.Empty{})
	if err == nil {
		t.Fatal("GetAnalyzerInfo answered without ConfigureStack: policyx is fixed, update README.md and this test")
	}
	werr := p.cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(werr, &exit) {
		t.Fatalf("the pack did not die: GetAnalyzerInfo err = %v, wait = %v", err, werr)
	}
	if !strings.Contains(stderr.String(), "nil pointer dereference") || !strings.Contains(stderr.String(), "GetAnalyzerInfo") {
		t.Errorf("the pack died of something else:\n%s", stderr.String())
	}
}
