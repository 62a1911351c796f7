package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/platform/private-run-api/internal/gcp"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/platform/private-run-api/internal/mocktest"
)

// invariantStacks are varied valid stacks; every invariant must hold for each, in preview and in
// update mode.
var invariantStacks = map[string]string{
	"minimal": minimal,
	"guard off, apis off, internal ingress": `
config:
  gcp:project: acme-test
  gcp:region: europe-west1
  private-run-api:service:
    name: ledger
    image: europe-docker.pkg.dev/acme/apps/ledger@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    ingress: internal
    protect: false
  private-run-api:impersonators: [group:ledger-devs@acme.example]
  private-run-api:callers:
    - name: ledger-batch
    - name: ledger-front
      invoke: false
  private-run-api:authz:
    enabled: false
  private-run-api:enableApis: false
`,
	"callers named like the program's own resources": base + `  private-run-api:impersonators: [user:dev@acme.example]
  private-run-api:callers:
    - name: orders-api
    - name: orders-api-runtime
    - name: authz-role
      authz: true
    - name: authz-bucket
    - name: authz-members
    - name: apis-run
    - name: orders-api-run-invoker
    - name: orders-api-token-creator
`,
	"external only, expiring grants": `
config:
  gcp:project: acme-test
  private-run-api:service:
    name: pricing
    image: gcr.io/acme/pricing:2
    region: asia-northeast1
    runtimeAccountId: pricing-runtime
  private-run-api:callers:
    - name: partner-one
      email: caller@partner-prod.iam.gserviceaccount.com
      authz: true
    - name: pricing-job
      impersonators:
        - member: user:a@acme.example
          expires: "2027-01-01T00:00:00Z"
        - member: principalSet://iam.googleapis.com/locations/global/workforcePools/acme/group/devs
          expires: "2026-01-01T00:00:00Z"
        - serviceAccount:service-123@gcp-sa-pubsub.iam.gserviceaccount.com
`,
}

// allowedTypes is every resource type the program may register. A project-level IAM resource, a
// service-account key or anything else unexpected fails the test by not being listed here.
var allowedTypes = map[string]bool{
	tAccount: true, tAccountPolicy: true, tService: true, tServicePolicy: true, tBucket: true, tBucketPolicy: true, tSecretIAM: true,
	tCustomRole: true, tProjectAPI: true, tComponentCall: true, tComponentAPI: true, tComponentAPIs: true, tComponentAuth: true,
}

func TestInvariants(t *testing.T) {
	stacks := map[string]map[string]string{"dev": exampleStack(t)}
	for name, text := range invariantStacks {
		stacks[name] = stackYAML(t, text)
	}
	for name, cfg := range stacks {
		for _, dry := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/preview=%v", name, dry), func(t *testing.T) {
				r := mustRun(t, cfg, runOpts{dryRun: dry})
				if len(r.Resources) == 0 {
					t.Fatal("nothing registered")
				}
				checkInvariants(t, r, cfg)
			})
		}
	}
}

// checkInvariants holds a run of mustRun, r, of the stack cfg to what every stack must keep.
func checkInvariants(t *testing.T, r *result, cfg map[string]string) {
	t.Helper()
	project := cfg["gcp:project"]
	// Resources land in the stack's project, or (caller accounts, their policies and the APIs
	// they need) in callersProject when the stack names one.
	projects := map[string]bool{project: true}
	var callersProject string
	if raw, ok := cfg["private-run-api:callersProject"]; ok {
		callersProject = strings.Trim(raw, `"`)
		projects[callersProject] = true
	}
	accounts := map[string]mocktest.Resource{} // member -> account resource
	for _, a := range r.ByType(tAccount) {
		accounts["serviceAccount:"+gcp.AccountEmail(a.Str("project"), a.Str("accountId"))] = a
		if a.Str("project") != project && !strings.Contains(a.Parent, tComponentCall) {
			t.Errorf("account %s is in %s: only caller accounts may live in callersProject", a.Name, a.Str("project"))
		}
	}
	// Every account the program creates has its whole IAM policy owned, exactly once; nothing
	// else binds on an account.
	policies := map[string]int{}
	for _, x := range r.ByType(tAccountPolicy) {
		policies[x.Str("serviceAccountId")]++
	}
	for _, a := range r.ByType(tAccount) {
		name := "projects/" + a.Str("project") + "/serviceAccounts/" + gcp.AccountEmail(a.Str("project"), a.Str("accountId"))
		if policies[name] != 1 {
			t.Errorf("account %s has %d whole IAM policies, want 1", a.Name, policies[name])
		}
	}
	// The guardrails policy pack's mandatory rules, written once in policy/rules: no public
	// principal anywhere (bindings, members, policyData), impersonation roles only on service
	// accounts, no keys, the service on a dedicated account, locked-down buckets, the authz role
	// holding only storage.buckets.get, and the authz bucket's IAM as one whole policy.
	for _, v := range checkPolicies(t, policyResources(r)) {
		if v.Level != policyx.EnforcementLevelAdvisory {
			t.Errorf("policy pack: %s", v)
		}
	}
	// No URN registered twice: mustRun, which ran r, checks that of every run.
	for _, x := range r.Resources {
		if !allowedTypes[x.Type] {
			t.Errorf("unexpected resource type %s (%s): only resource-level IAM is allowed", x.Type, x.Name)
		}
		if x.Custom && x.Type != tBucketPolicy && x.Type != tAccountPolicy && x.Type != tSecretIAM && !projects[x.Str("project")] {
			t.Errorf("%s %s: project %q, want %q set explicitly", x.Type, x.Name, x.Str("project"), project)
		}
		switch x.Type {
		case tBucketPolicy:
			checkBucketPolicy(t, r, x, accounts)
		case tServicePolicy:
			checkServicePolicy(t, r, x, accounts)
		case tSecretIAM:
			// Only the runtime account, only the accessor role, only on a named secret.
			runAs := ""
			for _, svc := range r.ByType(tService) {
				runAs = "serviceAccount:" + svc.Obj("template")["serviceAccount"].StringValue()
			}
			if x.Str("role") != plan.RoleSecretAccessor || x.Str("member") != runAs || x.Str("secretId") == "" || x.Str("project") == "" {
				t.Errorf("%s: %s to %s on %s/%s; only the runtime account may read a secret, and only with %s", x.Name, x.Str("role"), x.Str("member"), x.Str("project"), x.Str("secretId"), plan.RoleSecretAccessor)
			}
			if a, ok := accounts[x.Str("member")]; ok && !slices.Contains(x.PropertyDeps["member"], a.URN) {
				t.Errorf("%s: member is not the runtime account's output", x.Name)
			}
		case tAccountPolicy:
			checkAccountPolicy(t, x, accounts)
		case tService:
			checkNoSecretValues(t, x)
			runAs := x.Obj("template")["serviceAccount"]
			if !runAs.IsString() {
				t.Fatalf("service %s runs as %v: it must name its own account", x.Name, runAs)
			}
			email := runAs.StringValue()
			// Its own account: one the program creates, or (service.runtimeAccount) one of the same
			// project made by the bootstrap stack, never an account of the program's callers.
			if _, ok := accounts["serviceAccount:"+email]; !ok && !strings.HasSuffix(email, "@"+strings.TrimPrefix(gcp.AccountEmail(project, "x"), "x@")) {
				t.Errorf("service runs as %s, which is neither created here nor an account of %s", email, project)
			}
			for _, c := range r.ByType(tAccount) {
				if strings.Contains(c.Parent, tComponentCall) && gcp.AccountEmail(project, c.Str("accountId")) == email {
					t.Errorf("service runs as caller account %s", email)
				}
			}
		case tBucket:
			if x.Inputs["forceDestroy"].BoolValue() || x.Obj("versioning")["enabled"].BoolValue() {
				t.Errorf("bucket %s: forceDestroy or versioning on", x.Name)
			}
		}
	}
}

// checkServicePolicy: the service's IAM is one whole policy, fully known in a preview, that holds
// only roles/run.invoker, for known members, once each created account exists; and it names its
// service through the service's output, so a replaced service gets its policy back.
func checkServicePolicy(t *testing.T, r *result, x mocktest.Resource, accounts map[string]mocktest.Resource) {
	t.Helper()
	svcs := r.ByType(tService)
	if len(svcs) != 1 || svcs[0].Str("name") != x.Str("name") || !slices.Contains(x.PropertyDeps["name"], svcs[0].URN) {
		t.Errorf("%s: policy of service %q is not taken from the service's output (property dependencies %v)", x.Name, x.Str("name"), x.PropertyDeps)
	}
	if n := len(r.ByType(tServicePolicy)); n != 1 {
		t.Errorf("%d service policies registered; the service has exactly one", n)
	}
	for _, b := range policyOf(t, x).Bindings {
		if b.Role != "roles/run.invoker" || len(b.Members) == 0 || b.Condition != nil {
			t.Errorf("%s: binding %+v; the service's policy holds only unconditioned invokers", x.Name, b)
		}
		for _, m := range b.Members {
			if a, ok := accounts[m]; ok && !slices.Contains(x.Deps, a.URN) {
				t.Errorf("%s grants to %s before its account exists (no dependency)", x.Name, m)
			}
		}
	}
}

// checkBucketPolicy: the authz bucket's IAM is one whole policy, fully known in a preview, that
// grants only the authz custom role, to known members, once each account exists; and it names
// its bucket through the bucket's output, so a replaced bucket gets its policy back.
func checkBucketPolicy(t *testing.T, r *result, x mocktest.Resource, accounts map[string]mocktest.Resource) {
	t.Helper()
	buckets := r.ByType(tBucket)
	if len(buckets) != 1 || buckets[0].Str("name") != x.Str("bucket") {
		t.Errorf("%s: policy of bucket %q; buckets registered: %d", x.Name, x.Str("bucket"), len(buckets))
	} else if !slices.Contains(x.PropertyDeps["bucket"], buckets[0].URN) {
		t.Errorf("%s: bucket is not taken from the bucket's output (property dependencies %v)", x.Name, x.PropertyDeps)
	}
	for _, b := range policyOf(t, x).Bindings {
		if !strings.Contains(b.Role, "/roles/") || strings.HasPrefix(b.Role, "roles/") {
			t.Errorf("%s grants %q: only the authz custom role belongs on the bucket", x.Name, b.Role)
		}
		if len(b.Members) == 0 || b.Condition != nil {
			t.Errorf("%s: binding %+v (empty or conditioned)", x.Name, b)
		}
		for _, m := range b.Members {
			if a, ok := accounts[m]; ok && !slices.Contains(x.Deps, a.URN) {
				t.Errorf("%s grants to %s before its account exists (no dependency)", x.Name, m)
			}
		}
	}
}

// checkNoSecretValues: a secret reaches the container only as a reference. An env entry that reads
// a secret carries no value, and nothing in the service's inputs is a secret's payload (the
// program has none: no SecretVersion is an allowed type), so neither state nor a preview holds one.
func checkNoSecretValues(t *testing.T, svc mocktest.Resource) {
	t.Helper()
	for _, c := range svc.Obj("template")["containers"].ArrayValue() {
		envs, ok := c.ObjectValue()["envs"]
		if !ok {
			continue
		}
		for _, e := range envs.ArrayValue() {
			o := e.ObjectValue()
			if _, ref := o["valueSource"]; ref {
				if v, has := o["value"]; has {
					t.Errorf("env %v reads a secret and also carries a value %v", o["name"], v)
				}
				if o["valueSource"].ObjectValue()["secretKeyRef"].ObjectValue()["secret"].StringValue() == "" {
					t.Errorf("env %v: secret reference without a secret", o["name"])
				}
			}
		}
	}
	walkStrings(svc.Inputs, func(path, s string) {
		if strings.Contains(strings.ToLower(path), "secretdata") || strings.Contains(strings.ToLower(path), "payload") {
			t.Errorf("service input %s carries secret data", path)
		}
	})
}

// walkStrings calls fn for every string in a property map, with a dotted path.
func walkStrings(m resource.PropertyMap, fn func(path, s string)) {
	var walk func(path string, v resource.PropertyValue)
	walk = func(path string, v resource.PropertyValue) {
		switch {
		case v.IsString():
			fn(path, v.StringValue())
		case v.IsArray():
			for i, e := range v.ArrayValue() {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case v.IsObject():
			for k, e := range v.ObjectValue() {
				walk(path+"."+string(k), e)
			}
		}
	}
	for k, v := range m {
		walk(string(k), v)
	}
}

// accountRoles are the only roles the program grants on an account: impersonation for named
// developers, the OpenID self-grant, and the run-as grants a caller's workloads need.
var accountRoles = map[string]bool{
	plan.RoleTokenCreator: true, plan.RoleOpenIDTokenCreator: true,
	plan.RoleServiceAccountUser: true, plan.RoleWorkloadIdentityUser: true,
}

// checkAccountPolicy: an account's whole policy is fully known in a preview, names an account
// the program creates (as a property, so a replaced account takes its policy along), grants only
// the account roles, and waits for every account it names.
func checkAccountPolicy(t *testing.T, x mocktest.Resource, accounts map[string]mocktest.Resource) {
	t.Helper()
	id := x.Inputs["serviceAccountId"]
	if !id.IsString() {
		t.Errorf("%s: target is not known: %v", x.Name, id)
		return
	}
	email := id.StringValue()[strings.LastIndex(id.StringValue(), "/")+1:]
	if a, ok := accounts["serviceAccount:"+email]; !ok {
		t.Errorf("%s owns the policy of %s, an account this program does not create", x.Name, id.StringValue())
	} else if !slices.Contains(x.PropertyDeps["serviceAccountId"], a.URN) {
		t.Errorf("%s does not take its account as a property: a replaced account would keep the old policy", x.Name)
	}
	seen := map[string]bool{}
	for _, b := range policyOf(t, x).Bindings {
		if !accountRoles[b.Role] {
			t.Errorf("%s grants %s on an account", x.Name, b.Role)
		}
		key := b.Role
		if b.Condition != nil {
			key += " if " + b.Condition.Expression
		}
		if seen[key] {
			t.Errorf("%s holds two bindings of %s: IAM stores one, and every preview would differ", x.Name, key)
		}
		seen[key] = true
		if len(b.Members) == 0 {
			t.Errorf("%s: a binding of %s with no members", x.Name, b.Role)
		}
		for _, m := range b.Members {
			if a, ok := accounts[m]; ok && !slices.Contains(x.Deps, a.URN) {
				t.Errorf("%s grants to %s before its account exists (no dependency)", x.Name, m)
			}
		}
	}
}
