package tests

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/platform/private-run-api/internal/mocktest"
)

const (
	devProject = "acme-platform-dev"
	devGroup   = "group:orders-api-developers@acme.example"
	devHana    = "user:hana.sato@acme.example"
	devKenji   = "user:kenji.ito@acme.example"
	devURL     = "https://orders-api-abcdefghij-an.a.run.app"
)

func sa(id string) string {
	return "serviceAccount:" + id + "@" + devProject + ".iam.gserviceaccount.com"
}

// TestDevStackResources checks the example stack (tests/testdata/stacks/dev, the fixture copy of
// Pulumi.dev.yaml) resource by resource.
func TestDevStackResources(t *testing.T) {
	r := mustRun(t, exampleStack(t), runOpts{})

	var got []string
	for _, x := range r.Resources {
		got = append(got, x.Type+" "+x.Name)
	}
	sort.Strings(got)
	want := []string{
		tCustomRole + " authz-role",
		tProjectAPI + " apis-iam.googleapis.com",
		tProjectAPI + " apis-iamcredentials.googleapis.com",
		tProjectAPI + " apis-run.googleapis.com",
		tProjectAPI + " apis-storage.googleapis.com",
		tService + " orders-api",
		tServicePolicy + " orders-api-policy",
		tAccount + " cdn-purger",
		tAccount + " orders-api-runtime",
		tAccount + " orders-batch",
		tAccount + " orders-front",
		tAccountPolicy + " cdn-purger-policy",
		tAccountPolicy + " orders-api-runtime-policy",
		tAccountPolicy + " orders-batch-policy",
		tAccountPolicy + " orders-front-policy",
		tBucket + " authz-bucket",
		tBucketPolicy + " authz-policy",
		tSecretIAM + " orders-api-secret-orders-db-password",
		tSecretIAM + " orders-api-secret-acme-shared-secrets/payments-signing-key",
		tProjectAPI + " apis-secretmanager.googleapis.com",
		tComponentAuth + " authz",
		tComponentCall + " callers",
		tComponentAPIs + " apis",
		tComponentAPI + " orders-api",
	}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("registered resources differ\n got: %v\nwant: %v", got, want)
	}

	api := r.Find(t, tComponentAPI, "orders-api")
	apis := r.Find(t, tComponentAPIs, "apis")
	guard := r.Find(t, tComponentAuth, "authz")
	callers := r.Find(t, tComponentCall, "callers")
	if callers.Parent != "" {
		t.Errorf("callers component has parent %s", callers.Parent)
	}

	t.Run("service", func(t *testing.T) {
		svc := r.Find(t, tService, "orders-api")
		checkParent(t, svc, api)
		if !svc.Protect {
			t.Error("the service is not protected; protect defaults to true")
		}
		for k, want := range map[string]string{"name": "orders-api", "location": "asia-northeast1", "project": devProject, "ingress": "INGRESS_TRAFFIC_ALL"} {
			if got := svc.Str(k); got != want {
				t.Errorf("service %s = %q, want %q", k, got, want)
			}
		}
		tpl := svc.Obj("template")
		if got := tpl["serviceAccount"].StringValue(); got != "orders-api-run@"+devProject+".iam.gserviceaccount.com" {
			t.Errorf("template.serviceAccount = %q", got)
		}
		// The whole template, as the dev stack asks for it: secrets as references (the env var
		// carries no value), Direct VPC egress, sizing, behaviour and both probes.
		got, err := json.MarshalIndent(resource.NewObjectProperty(tpl).Mappable(), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != devTemplate {
			t.Errorf("template differs:\n got %s\nwant %s", got, devTemplate)
		}
		labels := svc.Obj("labels")
		if labels["team"].StringValue() != "platform" || labels["env"].StringValue() != "dev" || len(labels) != 2 {
			t.Errorf("labels = %v", labels)
		}
		checkDependsOn(t, r, svc, "runtime account", r.Find(t, tAccount, "orders-api-runtime"))
		checkPropertyDep(t, svc, "template", r.Find(t, tAccount, "orders-api-runtime"))
		checkDependsOn(t, r, svc, "Cloud Run API", r.Find(t, tProjectAPI, "apis-run.googleapis.com"))
	})

	t.Run("secret access", func(t *testing.T) {
		runtime := r.Find(t, tAccount, "orders-api-runtime")
		svc := r.Find(t, tService, "orders-api")
		for name, want := range map[string][2]string{
			"orders-api-secret-orders-db-password":                       {devProject, "orders-db-password"},
			"orders-api-secret-acme-shared-secrets/payments-signing-key": {"acme-shared-secrets", "payments-signing-key"},
		} {
			m := r.Find(t, tSecretIAM, name)
			checkParent(t, m, api)
			if m.Str("project") != want[0] || m.Str("secretId") != want[1] || m.Str("role") != "roles/secretmanager.secretAccessor" ||
				m.Str("member") != "serviceAccount:orders-api-run@"+devProject+".iam.gserviceaccount.com" {
				t.Errorf("%s inputs = %v", name, m.Inputs)
			}
			checkPropertyDep(t, m, "member", runtime)
			// Cloud Run checks access to each secret when it deploys a revision.
			checkDependsOn(t, r, svc, name, m)
		}
	})

	t.Run("runtime account", func(t *testing.T) {
		acct := r.Find(t, tAccount, "orders-api-runtime")
		checkParent(t, acct, api)
		if !acct.Protect {
			t.Error("runtime account not protected")
		}
		if acct.Str("accountId") != "orders-api-run" || acct.Str("project") != devProject {
			t.Errorf("runtime account inputs = %v", acct.Inputs)
		}
		// Its whole policy is owned and empty: nobody may act as the service, and a token
		// creator added by hand on it is removed.
		policy := r.Find(t, tAccountPolicy, "orders-api-runtime-policy")
		checkParent(t, policy, api)
		if got := policy.Str("policyData"); got != "{}" {
			t.Errorf("runtime account's policy = %s, want {}", got)
		}
		if policy.Str("serviceAccountId") != "projects/"+devProject+"/serviceAccounts/orders-api-run@"+devProject+".iam.gserviceaccount.com" {
			t.Errorf("runtime policy targets %s", policy.Str("serviceAccountId"))
		}
		checkPropertyDep(t, policy, "serviceAccountId", acct)
	})

	t.Run("service policy", func(t *testing.T) {
		b := r.Find(t, tServicePolicy, "orders-api-policy")
		checkParent(t, b, api)
		if b.Protect {
			t.Error("the service policy is protected: removing the last invoker could never apply")
		}
		// The whole policy, as the provider's getIAMPolicy renders it: the declared invokers and
		// nothing else, so a role added by hand on the service is gone on the next up.
		want := `{"bindings":[{"members":["serviceAccount:billing-runner@acme-billing-prod.iam.gserviceaccount.com","` + sa("orders-batch") + `","` + sa("orders-front") + `"],"role":"roles/run.invoker"}]}`
		if got := b.Str("policyData"); got != want {
			t.Errorf("service policy = %s\nwant %s", got, want)
		}
		if b.Str("name") != "orders-api" || b.Str("location") != "asia-northeast1" || b.Str("project") != devProject {
			t.Errorf("service policy inputs = %v", b.Inputs)
		}
		checkDependsOn(t, r, b, "service", r.Find(t, tService, "orders-api"))
		checkPropertyDep(t, b, "name", r.Find(t, tService, "orders-api"))
		checkDependsOn(t, r, b, "orders-batch account", r.Find(t, tAccount, "orders-batch"))
		checkDependsOn(t, r, b, "orders-front account", r.Find(t, tAccount, "orders-front"))
	})

	t.Run("caller accounts", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			permanent []string
		}{
			{"orders-batch", []string{devGroup, devKenji}},
			{"orders-front", []string{devGroup}},
			{"cdn-purger", []string{devGroup}},
		} {
			comp := callers
			acct := r.Find(t, tAccount, tc.name)
			checkParent(t, acct, comp)
			if acct.Protect {
				t.Errorf("caller account %s is protected; removing a caller must be possible", tc.name)
			}
			if acct.Str("accountId") != tc.name || acct.Str("displayName") != "Caller "+tc.name || acct.Str("description") == "" {
				t.Errorf("%s account inputs = %v", tc.name, acct.Inputs)
			}
			name := "projects/" + devProject + "/serviceAccounts/" + tc.name + "@" + devProject + ".iam.gserviceaccount.com"

			// The account's whole policy, as the provider's getIAMPolicy renders it: the
			// permanent token creators, the expiring one under its condition, the OpenID
			// self-grant, and nothing else.
			policy := r.Find(t, tAccountPolicy, tc.name+"-policy")
			if policy.Str("serviceAccountId") != name {
				t.Errorf("%s targets %s, want %s", policy.Name, policy.Str("serviceAccountId"), name)
			}
			// Sorted by role, then condition, as the provider renders (and IAM returns) it.
			want := `{"bindings":[{"members":["` + sa(tc.name) + `"],"role":"roles/iam.serviceAccountOpenIdTokenCreator"},` +
				`{"members":["` + strings.Join(tc.permanent, `","`) + `"],"role":"roles/iam.serviceAccountTokenCreator"},` +
				`{"condition":{"expression":"request.time \u003c timestamp(\"2027-03-31T00:00:00Z\")","title":"expires-20270331t000000z"},"members":["` + devHana + `"],"role":"roles/iam.serviceAccountTokenCreator"}]}`
			if got := policy.Str("policyData"); got != want {
				t.Errorf("%s = %s\nwant %s", policy.Name, got, want)
			}
			checkParent(t, policy, comp)
			checkDependsOn(t, r, policy, "its account", acct)
			checkPropertyDep(t, policy, "serviceAccountId", acct)
		}
	})

	t.Run("authz guard", func(t *testing.T) {
		role := r.Find(t, tCustomRole, "authz-role")
		bucket := r.Find(t, tBucket, "authz-bucket")
		policy := r.Find(t, tBucketPolicy, "authz-policy")
		for _, x := range []mocktest.Resource{role, bucket, policy} {
			checkParent(t, x, guard)
		}
		if role.Str("roleId") != "ordersApiAuthz" || role.Str("title") != "Orders API authz guard" || role.Str("stage") != "GA" {
			t.Errorf("role inputs = %v", role.Inputs)
		}
		if got := role.Strs("permissions"); !reflect.DeepEqual(got, []string{"storage.buckets.get"}) {
			t.Errorf("role permissions = %v", got)
		}
		if bucket.Str("name") != "acme-platform-dev-orders-api-authz" || bucket.Str("location") != "ASIA-NORTHEAST1" {
			t.Errorf("bucket inputs = %v", bucket.Inputs)
		}
		if bucket.Obj("labels")["team"].StringValue() != "platform" {
			t.Errorf("bucket labels = %v", bucket.Obj("labels"))
		}
		// The whole policy, exactly as the provider's getIAMPolicy renders it: the convenience
		// bindings Cloud Storage adds to a new bucket are gone because nothing else is in it.
		wantPolicy := `{"bindings":[{"members":["` + sa("cdn-purger") + `","` + sa("orders-front") + `"],"role":"projects/` + devProject + `/roles/ordersApiAuthz"}]}`
		if policy.Str("bucket") != "acme-platform-dev-orders-api-authz" || policy.Str("policyData") != wantPolicy {
			t.Errorf("bucket policy inputs = %v\nwant policyData %s", policy.Inputs, wantPolicy)
		}
		// Property dependencies: a replaced bucket or role takes the policy with it.
		checkPropertyDep(t, policy, "bucket", bucket)
		checkPropertyDep(t, policy, "policyData", role)
		checkDependsOn(t, r, policy, "cdn-purger account", r.Find(t, tAccount, "cdn-purger"))
	})

	t.Run("apis", func(t *testing.T) {
		for _, x := range r.ByType(tProjectAPI) {
			checkParent(t, x, apis)
			if x.Inputs["disableOnDestroy"].BoolValue() || x.Inputs["disableDependentServices"].BoolValue() {
				t.Errorf("%s would disable an API on destroy", x.Name)
			}
		}
	})

	t.Run("outputs", func(t *testing.T) {
		wantStr := map[string]string{
			"serviceUrl":            devURL,
			"audience":              devURL, // no custom audiences: the URL is the audience
			"serviceName":           "orders-api",
			"region":                "asia-northeast1",
			"runtimeServiceAccount": "orders-api-run@" + devProject + ".iam.gserviceaccount.com",
			"authzBucket":           "acme-platform-dev-orders-api-authz",
			"authzRole":             "projects/" + devProject + "/roles/ordersApiAuthz",
		}
		for k, want := range wantStr {
			if got, _ := r.Outputs[k].(string); got != want {
				t.Errorf("output %s = %v, want %q", k, r.Outputs[k], want)
			}
		}
		callers := r.Outputs["callers"].(map[string]any)
		if len(callers) != 4 {
			t.Fatalf("callers output has %d entries: %v", len(callers), callers)
		}
		front := callers["orders-front"].(map[string]any)
		if front["email"] != "orders-front@"+devProject+".iam.gserviceaccount.com" || front["member"] != sa("orders-front") ||
			front["invoke"] != true || front["authz"] != true || front["created"] != true {
			t.Errorf("orders-front output = %v", front)
		}
		partner := callers["billing-partner"].(map[string]any)
		if partner["created"] != false || partner["email"] != "billing-runner@acme-billing-prod.iam.gserviceaccount.com" {
			t.Errorf("billing-partner output = %v", partner)
		}
		if _, ok := partner["impersonateCommand"]; ok {
			t.Error("an external caller got an impersonation command")
		}
		logins := r.Outputs["impersonationCommands"].(map[string]string)
		if got := logins["orders-batch"]; got != "gcloud auth application-default login --impersonate-service-account orders-batch@"+devProject+".iam.gserviceaccount.com" {
			t.Errorf("impersonation command = %v", got)
		}
		if len(logins) != 3 {
			t.Errorf("impersonation commands for %d callers, want 3: %v", len(logins), logins)
		}
		invokes := r.Outputs["invokeCommands"].(map[string]string)
		if _, ok := invokes["cdn-purger"]; ok || len(invokes) != 2 {
			t.Errorf("invoke commands = %v; want orders-batch and orders-front only", invokes)
		}
		if cmd := invokes["orders-front"]; !strings.Contains(cmd, "--audiences="+devURL) || !strings.Contains(cmd, "--impersonate-service-account=orders-front@") {
			t.Errorf("invoke command = %q", cmd)
		}
	})

	if len(r.warnings) != 0 {
		t.Errorf("the example stack warns: %v", r.warnings)
	}
}

func checkParent(t *testing.T, child, parent mocktest.Resource) {
	t.Helper()
	if child.Parent != parent.URN {
		t.Errorf("%s %s: parent %q, want %q", child.Type, child.Name, child.Parent, parent.URN)
	}
}

func checkDependsOn(t *testing.T, r *result, x mocktest.Resource, what string, dep mocktest.Resource) {
	t.Helper()
	if !slices.Contains(x.Deps, dep.URN) {
		t.Errorf("%s %s does not depend on the %s (%s); deps: %v", x.Type, x.Name, what, dep.URN, x.Deps)
	}
}

// checkPropertyDep fails unless x took its input prop from owner: the dependency for which the
// engine replaces x along with a replaced owner (dependsOn alone does not).
func checkPropertyDep(t *testing.T, x mocktest.Resource, prop string, owner mocktest.Resource) {
	t.Helper()
	if !slices.Contains(x.PropertyDeps[prop], owner.URN) {
		t.Errorf("%s %s: input %s has no property dependency on %s; it has %v", x.Type, x.Name, prop, owner.URN, x.PropertyDeps)
	}
}

// devTemplate is the Cloud Run template the example stack declares.
const devTemplate = `{
  "containers": [
    {
      "envs": [
        {
          "name": "DB_PASSWORD",
          "valueSource": {
            "secretKeyRef": {
              "secret": "orders-db-password",
              "version": "latest"
            }
          }
        },
        {
          "name": "LOG_LEVEL",
          "value": "info"
        }
      ],
      "image": "asia-northeast1-docker.pkg.dev/acme-platform-dev/apps/orders-api:1.4.2",
      "livenessProbe": {
        "failureThreshold": 3,
        "httpGet": {
          "path": "/healthz"
        },
        "initialDelaySeconds": 0,
        "periodSeconds": 30,
        "timeoutSeconds": 1
      },
      "ports": [
        {
          "containerPort": 8080
        }
      ],
      "resources": {
        "cpuIdle": true,
        "limits": {
          "cpu": "1",
          "memory": "1Gi"
        },
        "startupCpuBoost": true
      },
      "startupProbe": {
        "failureThreshold": 12,
        "httpGet": {
          "path": "/healthz"
        },
        "initialDelaySeconds": 0,
        "periodSeconds": 5,
        "timeoutSeconds": 1
      },
      "volumeMounts": [
        {
          "mountPath": "/secrets/payments",
          "name": "secrets-payments-bdc02d"
        }
      ]
    }
  ],
  "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
  "maxInstanceRequestConcurrency": 40,
  "scaling": {
    "maxInstanceCount": 5,
    "minInstanceCount": 0
  },
  "serviceAccount": "orders-api-run@acme-platform-dev.iam.gserviceaccount.com",
  "timeout": "60s",
  "volumes": [
    {
      "name": "secrets-payments-bdc02d",
      "secret": {
        "items": [
          {
            "path": "signing-key.pem",
            "version": "3"
          }
        ],
        "secret": "projects/acme-shared-secrets/secrets/payments-signing-key"
      }
    }
  ],
  "vpcAccess": {
    "egress": "PRIVATE_RANGES_ONLY",
    "networkInterfaces": [
      {
        "network": "orders-vpc",
        "subnetwork": "orders-private",
        "tags": [
          "orders-api"
        ]
      }
    ]
  }
}`
