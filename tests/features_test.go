package tests

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExpiredGrantsWarnAndGrantNothing(t *testing.T) {
	// On 2027-04-01 the dev stack's expiring grant (impersonators[1], until 2027-03-31) has passed.
	r := mustRun(t, exampleStack(t), runOpts{now: time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)})
	grants := accountGrants(t, r)
	for name, g := range grants {
		if strings.Contains(name, "expires") || slices.Contains(g.Members, devHana) {
			t.Errorf("expired grant still declared: %s %v", name, g.Members)
		}
	}
	if len(r.warnings) != 1 {
		t.Fatalf("warnings = %q, want one", r.warnings)
	}
	want := "impersonators[1] \"user:hana.sato@acme.example\": expired at 2027-03-31T00:00:00Z and grants nothing; remove the entry from the stack config"
	if r.warnings[0] != want {
		t.Errorf("warning = %q\nwant %q", r.warnings[0], want)
	}
	// The permanent grants stay.
	if got := grants["orders-batch-token-creator"].Members; !reflect.DeepEqual(got, []string{devGroup, devKenji}) {
		t.Errorf("members = %v", got)
	}
}

func TestExpiryMerging(t *testing.T) {
	r := mustRun(t, stackFile(t, "expiry-merging"), runOpts{})

	got := map[string][]string{}
	cond := map[string]string{}
	for name, g := range accountGrants(t, r) {
		if strings.HasPrefix(name, "orders-api-runtime") {
			continue
		}
		got[name] = g.Members
		if g.Condition != "" {
			cond[name] = g.Condition
		}
	}
	want := map[string][]string{
		// A permanent default wins over the caller's own expiring entry.
		"orders-batch-token-creator": {"user:perm@acme.example"},
		// Two expiries for one member: the later one (2027-02-01 00:00 UTC) wins.
		"orders-batch-token-creator-expires-20270201t000000z": {"user:both@acme.example"},
		"orders-batch-openid-self":                            {"serviceAccount:orders-batch@acme-test.iam.gserviceaccount.com"},
		"orders-front-token-creator":                          {"user:perm@acme.example"},
		"orders-front-token-creator-expires-20270101t000000z": {"user:both@acme.example"},
		// An expired default is replaced by the caller's own later grant.
		"orders-front-token-creator-expires-20261231t000000z": {"user:gone@acme.example"},
		"orders-front-openid-self":                            {"serviceAccount:orders-front@acme-test.iam.gserviceaccount.com"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("token-creator bindings:\n got %v\nwant %v", got, want)
	}
	if c := cond["orders-batch-token-creator-expires-20270201t000000z"]; c != `request.time < timestamp("2027-02-01T00:00:00Z")` {
		t.Errorf("condition = %q", c)
	}
	if len(r.warnings) != 2 {
		t.Errorf("warnings = %q; want the expired default and the expired group", r.warnings)
	}
	for _, w := range []string{"impersonators[2] \"user:gone@acme.example\": expired", "callers[0].impersonators[2] \"group:only-expired@acme.example\": expired"} {
		if !slices.ContainsFunc(r.warnings, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("no warning starting %q in %q", w, r.warnings)
		}
	}
}

func TestCallerWithNoImpersonators(t *testing.T) {
	r := mustRun(t, stackYAML(t, minimal), runOpts{})
	if p := accountPolicy(t, r, "orders-batch"); len(p.Bindings) != 0 {
		t.Errorf("%d bindings on an account nobody may impersonate; the OpenID self-grant is only for impersonated accounts", len(p.Bindings))
	}
	if logins := r.Outputs["impersonationCommands"].(map[string]string); len(logins) != 0 {
		t.Errorf("impersonation commands = %v", logins)
	}
	// The guard defaults to on, with derived names.
	bucket := r.Find(t, tBucket, "authz-bucket")
	role := r.Find(t, tCustomRole, "authz-role")
	if bucket.Str("name") != "acme-test-orders-api-authz" || bucket.Str("location") != "US-CENTRAL1" || role.Str("roleId") != "orders_api_authz" {
		t.Errorf("derived guard names: bucket %q in %q, role %q", bucket.Str("name"), bucket.Str("location"), role.Str("roleId"))
	}
	// Nobody passes the guard: the bucket's whole policy is empty, which also removes the
	// convenience bindings Cloud Storage gives project owners, editors and viewers.
	if p := r.Find(t, tBucketPolicy, "authz-policy"); p.Str("policyData") != "{}" {
		t.Errorf("bucket policy with no caller passing the guard = %s, want {}", p.Str("policyData"))
	}
	svc := r.Find(t, tService, "orders-api")
	c := svc.Obj("template")["containers"].ArrayValue()[0].ObjectValue()
	// The port is always sent, Cloud Run's 8080 without service.port: the provider keeps the
	// last port when none is sent, so removing service.port would otherwise change nothing.
	if ports := c["ports"].ArrayValue(); len(ports) != 1 || ports[0].ObjectValue()["containerPort"].NumberValue() != 8080 {
		t.Errorf("ports without service.port = %v, want [8080]", c["ports"])
	}
	// Both bounds are always sent, Cloud Run's defaults when config has none: a removed bound
	// must really go back to its default, which leaving the field out would not do.
	sc := svc.Obj("template")["scaling"].ObjectValue()
	if sc["minInstanceCount"].NumberValue() != 0 || sc["maxInstanceCount"].NumberValue() != 100 {
		t.Errorf("scaling without min/max instances = %v, want 0 and 100", sc)
	}
}

func TestExternalCallers(t *testing.T) {
	r := mustRun(t, stackYAML(t, base+`
  private-run-api:impersonators: [user:dev@acme.example]
  private-run-api:callers:
    - name: partner-invoker
      email: caller@partner-prod.iam.gserviceaccount.com
    - name: partner-guarded
      email: guarded@partner-prod.iam.gserviceaccount.com
      invoke: false
      authz: true
`), runOpts{})
	if n := len(r.ByType(tAccount)); n != 1 {
		t.Errorf("%d accounts; want only the runtime account", n)
	}
	if n := len(r.ByType(tAccountPolicy)); n != 1 {
		t.Errorf("%d account policies; want only the runtime account's: the program owns no policy on an account it does not create", n)
	}
	if got := invokersOf(t, r, "orders-api"); !reflect.DeepEqual(got, []string{"serviceAccount:caller@partner-prod.iam.gserviceaccount.com"}) {
		t.Errorf("invokers = %v", got)
	}
	g := policyOf(t, r.Find(t, tBucketPolicy, "authz-policy"))
	if len(g.Bindings) != 1 || !reflect.DeepEqual(g.Bindings[0].Members, []string{"serviceAccount:guarded@partner-prod.iam.gserviceaccount.com"}) {
		t.Errorf("guard policy = %+v", g)
	}
	callers := r.Outputs["callers"].(map[string]any)
	if c := callers["partner-guarded"].(map[string]any); c["created"] != false || c["invoke"] != false || c["authz"] != true {
		t.Errorf("partner-guarded output = %v", c)
	}
}

func TestGuardOffAndAPIsOff(t *testing.T) {
	r := mustRun(t, stackYAML(t, invariantStacks["guard off, apis off, internal ingress"]), runOpts{})
	for _, typ := range []string{tBucket, tBucketPolicy, tProjectAPI, tComponentAPIs} {
		if n := len(r.ByType(typ)); n != 0 {
			t.Errorf("%d %s registered", n, typ)
		}
	}
	// The role stays with the guard off: a deleted custom role's ID is blocked for up to 37
	// days, so turning the guard on again would otherwise fail.
	if role := r.Find(t, tCustomRole, "authz-role"); role.Str("roleId") != "ledger_authz" {
		t.Errorf("role with the guard off: %v", role.Inputs)
	}
	if r.Outputs["authzRole"] != "projects/acme-test/roles/ledger_authz" {
		t.Errorf("authzRole output = %v", r.Outputs["authzRole"])
	}
	for _, k := range []string{"authzBucket"} {
		if _, ok := r.Outputs[k]; ok {
			t.Errorf("output %s exported with the guard off", k)
		}
	}
	svc := r.Find(t, tService, "ledger")
	if svc.Str("ingress") != "INGRESS_TRAFFIC_INTERNAL_ONLY" {
		t.Errorf("ingress = %q", svc.Str("ingress"))
	}
	if svc.Protect || r.Find(t, tAccount, "ledger-runtime").Protect {
		t.Error("protect: false still protects")
	}
	if got := invokersOf(t, r, "ledger"); !reflect.DeepEqual(got, []string{"serviceAccount:ledger-batch@acme-test.iam.gserviceaccount.com"}) {
		t.Errorf("invokers = %v; ledger-front has invoke: false", got)
	}
}

func TestAPIsOnEverythingDependsOnThem(t *testing.T) {
	r := mustRun(t, exampleStack(t), runOpts{})
	apis := r.ByType(tProjectAPI)
	// run, iam, iamcredentials, storage, and secretmanager for the secret in the dev project.
	if len(apis) != 5 {
		t.Fatalf("%d APIs enabled, want 5", len(apis))
	}
	for _, x := range r.Resources {
		if !x.Custom || x.Type == tProjectAPI {
			continue
		}
		for _, api := range apis {
			if !slices.Contains(x.Deps, api.URN) {
				t.Errorf("%s %s does not depend on %s", x.Type, x.Name, api.Name)
			}
		}
	}
}

func TestNoInvokers(t *testing.T) {
	r := mustRun(t, stackYAML(t, base+`
  private-run-api:callers:
    - name: cdn-purger
      invoke: false
      authz: true
`), runOpts{})
	// Nobody invokes: the service's whole policy is empty, so an allUsers added by hand is gone.
	if p := r.Find(t, tServicePolicy, "orders-api-policy"); p.Str("policyData") != "{}" {
		t.Errorf("service policy with no invoker = %s, want {}", p.Str("policyData"))
	}
	if len(r.warnings) != 1 || !strings.Contains(r.warnings[0], "no caller may invoke the private service") {
		t.Errorf("warnings = %q", r.warnings)
	}
}

func TestPreviewIsLegible(t *testing.T) {
	r := mustRun(t, exampleStack(t), runOpts{dryRun: true})
	if r.Known["serviceUrl"] {
		t.Errorf("serviceUrl known in a preview (%v): the mocks do not model preview", r.Outputs["serviceUrl"])
	}
	for _, k := range []string{"callers", "impersonationCommands", "runtimeServiceAccount", "invokers", "authzRole"} {
		if !r.Known[k] {
			t.Errorf("output %s unknown in a preview; it is computed from config", k)
		}
	}
	// Every binding names its principals and target, as `pulumi preview` will print them.
	if got := invokersOf(t, r, "orders-api"); len(got) != 3 || got[1] != sa("orders-batch") {
		t.Errorf("invoker members in preview = %v", got)
	}
	b := r.Find(t, tAccountPolicy, "orders-front-policy")
	if b.Str("serviceAccountId") != "projects/"+devProject+"/serviceAccounts/orders-front@"+devProject+".iam.gserviceaccount.com" {
		t.Errorf("serviceAccountId in preview = %v", b.Inputs["serviceAccountId"])
	}
	if p := policyOf(t, b); len(p.Bindings) != 3 {
		t.Errorf("orders-front's policy in preview = %+v", p)
	}
	if g := policyOf(t, r.Find(t, tBucketPolicy, "authz-policy")); len(g.Bindings) != 1 || g.Bindings[0].Role != "projects/"+devProject+"/roles/ordersApiAuthz" {
		t.Errorf("bucket policy in preview = %+v", g)
	}
}

// TestUnknownKeysFromEngine runs the program as the language host does, with the whole stack
// config in PULUMI_CONFIG, and expects a typo'd top-level key to be refused.
func TestUnknownKeysFromEngine(t *testing.T) {
	cfg := exampleStack(t)
	cfg["private-run-api:enableAPIs"] = "false" // wrong case: would silently keep APIs on
	data, _ := json.Marshal(cfg)
	t.Setenv("PULUMI_CONFIG", string(data))
	r := run(t, cfg, runOpts{engineKeys: true})
	if r.Err == nil || !strings.Contains(r.Err.Error(), `private-run-api:enableAPIs: is not a config key this program reads; did you mean "private-run-api:enableApis"?`) {
		t.Fatalf("err = %v", r.Err)
	}
	if len(r.Resources) != 0 {
		t.Errorf("%d resources registered", len(r.Resources))
	}

	// Without PULUMI_CONFIG the program cannot list keys and still runs.
	t.Setenv("PULUMI_CONFIG", "")
	if r := run(t, exampleStack(t), runOpts{engineKeys: true}); r.Err != nil || len(r.Resources) == 0 {
		t.Errorf("without PULUMI_CONFIG: err=%v, %d resources", r.Err, len(r.Resources))
	}
}

func TestDomainScopedProject(t *testing.T) {
	r := mustRun(t, stackYAML(t, `
config:
  gcp:project: "example.com:orders-prod"
  gcp:region: us-central1
  private-run-api:service:
    name: orders-api
    image: gcr.io/acme/x
  private-run-api:impersonators: [user:dev@example.com]
  private-run-api:callers:
    - name: orders-batch
  private-run-api:authz:
    enabled: false
`), runOpts{})
	want := "serviceAccount:orders-batch@orders-prod.example.com.iam.gserviceaccount.com"
	if got := invokersOf(t, r, "orders-api"); !reflect.DeepEqual(got, []string{want}) {
		t.Errorf("member = %v, want %s", got, want)
	}
}

func TestExpiredDefaultWarnsWithoutCallerAccounts(t *testing.T) {
	r := mustRun(t, stackYAML(t, base+`
  private-run-api:impersonators:
    - member: user:gone@acme.example
      expires: "2026-01-01T00:00:00Z"
  private-run-api:callers:
    - name: partner
      email: caller@partner.iam.gserviceaccount.com
`), runOpts{})
	if len(r.warnings) != 1 || !strings.HasPrefix(r.warnings[0], "impersonators[0] \"user:gone@acme.example\": expired at 2026-01-01T00:00:00Z") {
		t.Errorf("warnings = %q", r.warnings)
	}
}
