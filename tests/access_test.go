package tests

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/plan"
)

// The access report is only worth reading if it lists exactly what the program deploys. These
// tests run the program under mocks and derive grants from the registered IAM resources alone,
// then compare them with the report built from the plan.

// accessCases are stacks that exercise every way a grant is made or left out.
var accessCases = []struct {
	name string
	// stack is the case's stack file, testdata/access/<stack>.yaml; "" means the example stack.
	stack string
	// want are grants that must be among the deployed ones ("principal role resource expiry"),
	// so that a case cannot pass by both sides being empty or by a case losing its point.
	want []string
	// grants is how many grants the case deploys.
	grants int
	// warning must be among the program's warnings, and so among the report's.
	warning string
}{
	{
		name: "dev stack",
		want: []string{
			"user:hana.sato@acme.example roles/iam.serviceAccountTokenCreator //iam.googleapis.com/projects/acme-platform-dev/serviceAccounts/orders-front@acme-platform-dev.iam.gserviceaccount.com 2027-03-31T00:00:00Z",
			"serviceAccount:billing-runner@acme-billing-prod.iam.gserviceaccount.com roles/run.invoker //run.googleapis.com/projects/acme-platform-dev/locations/asia-northeast1/services/orders-api never",
			"serviceAccount:cdn-purger@acme-platform-dev.iam.gserviceaccount.com projects/acme-platform-dev/roles/ordersApiAuthz //storage.googleapis.com/projects/_/buckets/acme-platform-dev-orders-api-authz never",
			"serviceAccount:orders-api-run@acme-platform-dev.iam.gserviceaccount.com roles/secretmanager.secretAccessor //secretmanager.googleapis.com/projects/acme-shared-secrets/secrets/payments-signing-key never",
		},
		grants: 17,
	},
	{
		name:   "minimal",
		stack:  "minimal",
		want:   []string{"serviceAccount:orders-batch@acme-test.iam.gserviceaccount.com roles/run.invoker //run.googleapis.com/projects/acme-test/locations/us-central1/services/orders-api never"},
		grants: 1,
	},
	{
		// Expired, future, overlapping and per-caller expiries: one account ends up with three
		// token-creator bindings (no expiry, and two distinct expiries).
		name:  "expiries",
		stack: "expiries",
		want: []string{
			"user:ann@acme.example roles/iam.serviceAccountTokenCreator //iam.googleapis.com/projects/acme-test/serviceAccounts/orders-batch@acme-test.iam.gserviceaccount.com 2027-01-31T00:00:00Z",
			"user:bob@acme.example roles/iam.serviceAccountTokenCreator //iam.googleapis.com/projects/acme-test/serviceAccounts/orders-front@acme-test.iam.gserviceaccount.com never",
			"user:ann@acme.example roles/iam.serviceAccountTokenCreator //iam.googleapis.com/projects/acme-test/serviceAccounts/orders-front@acme-test.iam.gserviceaccount.com 2027-06-30T00:00:00Z",
			"user:carol@acme.example roles/iam.serviceAccountTokenCreator //iam.googleapis.com/projects/acme-test/serviceAccounts/orders-front@acme-test.iam.gserviceaccount.com 2026-12-24T09:00:00Z",
		},
		grants:  11,
		warning: "impersonators[1] \"user:gone@acme.example\": expired at 2026-01-01T00:00:00Z",
	},
	{
		name:  "external callers",
		stack: "external-callers",
		want: []string{
			"serviceAccount:billing@acme-billing.iam.gserviceaccount.com roles/run.invoker //run.googleapis.com/projects/acme-test/locations/us-central1/services/orders-api never",
			"serviceAccount:audit@acme-audit.iam.gserviceaccount.com projects/acme-test/roles/orders_api_authz //storage.googleapis.com/projects/_/buckets/acme-test-orders-api-authz never",
		},
		// No impersonation on accounts the program does not own, though a default exists.
		grants: 3,
	},
	{
		name:  "guard off",
		stack: "guard-off",
		want: []string{
			"user:ann@acme.example roles/iam.serviceAccountTokenCreator //iam.googleapis.com/projects/acme-test/serviceAccounts/orders-front@acme-test.iam.gserviceaccount.com never",
			"serviceAccount:orders-front@acme-test.iam.gserviceaccount.com roles/iam.serviceAccountOpenIdTokenCreator //iam.googleapis.com/projects/acme-test/serviceAccounts/orders-front@acme-test.iam.gserviceaccount.com never",
		},
		grants: 4,
	},
	{
		// Custom audiences are part of the service's detail: the report must list exactly the
		// ones the service is sent.
		name:   "custom audiences",
		stack:  "custom-audiences",
		want:   []string{"serviceAccount:orders-batch@acme-test.iam.gserviceaccount.com roles/run.invoker //run.googleapis.com/projects/acme-test/locations/us-central1/services/orders-api never"},
		grants: 1,
	},
	{
		name:  "nobody invokes",
		stack: "nobody-invokes",
		want: []string{
			"serviceAccount:orders-batch@acme-test.iam.gserviceaccount.com projects/acme-test/roles/orders_api_authz //storage.googleapis.com/projects/_/buckets/acme-test-orders-api-authz never",
		},
		grants:  1,
		warning: "no caller may invoke the private service",
	},
}

// runAccessCase runs the program and builds the report on the same config: the example stack,
// or the case's own stack file.
func runAccessCase(t *testing.T, stack string) (*result, access.Report) {
	t.Helper()
	cfg := exampleStack(t)
	if stack != "" {
		cfg = stackFile(t, filepath.Join("access", stack))
	}
	return mustRun(t, cfg, runOpts{}), accessReportFor(t, cfg)
}

func TestAccessReportMatchesDeployedGrants(t *testing.T) {
	for _, tc := range accessCases {
		t.Run(tc.name, func(t *testing.T) {
			r, report := runAccessCase(t, tc.stack)

			deployed := accessDeployedGrants(t, r)
			reported := map[string]bool{}
			for _, g := range report.Grants {
				reported[accessGrantKey(g.Principal, g.Role, g.Target.Resource, g.Expires)] = true
			}
			accessSameSets(t, deployed, reported)
			for _, w := range tc.want {
				if !deployed[w] {
					t.Errorf("case expects the program to deploy %s; deployed:\n  %s", w, strings.Join(slices.Sorted(maps.Keys(deployed)), "\n  "))
				}
			}
			// The program logs the plan's warnings; the report must show the same ones.
			if strings.Join(report.Warnings, "\n") != strings.Join(r.warnings, "\n") {
				t.Errorf("report warnings %q differ from the program's %q", report.Warnings, r.warnings)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(r.warnings, "\n"), tc.warning) {
				t.Errorf("the program's warnings %q lack %q", r.warnings, tc.warning)
			}
			if len(deployed) != tc.grants || len(report.Grants) != tc.grants {
				t.Errorf("%d grants deployed, %d reported; the case expects %d", len(deployed), len(report.Grants), tc.grants)
			}
		})
	}
}

func TestAccessReportMatchesDeployedInventory(t *testing.T) {
	for _, tc := range accessCases {
		t.Run(tc.name, func(t *testing.T) {
			r, report := runAccessCase(t, tc.stack)
			accessSameSets(t, accessDeployedInventory(r), accessReportedInventory(report))
			// Accounts are the runtime account plus one per created caller; at least the runtime
			// one and the service always exist, so an empty comparison cannot pass.
			if len(r.ByType(tAccount)) < 1 || len(r.ByType(tService)) != 1 {
				t.Errorf("expected a runtime account and one service, got %d accounts, %d services", len(r.ByType(tAccount)), len(r.ByType(tService)))
			}
		})
	}
}

// checkReportMatchesProgram holds the access report of cfg to what the program registered for it
// in r: the same grants, the same created resources, the same warnings.
func checkReportMatchesProgram(t *testing.T, r *result, cfg map[string]string) {
	t.Helper()
	report := accessReportFor(t, cfg)
	reported := map[string]bool{}
	for _, g := range report.Grants {
		reported[accessGrantKey(g.Principal, g.Role, g.Target.Resource, g.Expires)] = true
	}
	accessSameSets(t, accessDeployedGrants(t, r), reported)
	accessSameSets(t, accessDeployedInventory(r), accessReportedInventory(report))
	if strings.Join(report.Warnings, "\n") != strings.Join(r.warnings, "\n") {
		t.Errorf("report warnings %q differ from the program's %q", report.Warnings, r.warnings)
	}
}

// accessReportedInventory is the report's created resources, keyed as accessDeployedInventory
// keys what was registered. An account's detail is the report's own words for its purpose, so
// accounts compare by resource name only; every other item's detail is read back from inputs.
func accessReportedInventory(report access.Report) map[string]bool {
	reported := map[string]bool{}
	for _, it := range report.Inventory {
		if strings.HasPrefix(it.Detail, "made elsewhere") {
			continue // listed for the reviewer (authz.role), registered by another stack
		}
		if it.Kind == access.KindServiceAccount {
			reported[it.Kind+" "+it.Resource] = true
		} else {
			reported[it.Kind+" "+it.Resource+" "+it.Detail] = true
		}
	}
	return reported
}

// accessDeployedInventory is every account, role, bucket and service the program registered.
func accessDeployedInventory(r *result) map[string]bool {
	deployed := map[string]bool{}
	for _, x := range r.ByType(tAccount) {
		email := x.Str("accountId") + "@" + x.Str("project") + ".iam.gserviceaccount.com"
		deployed[access.KindServiceAccount+" //iam.googleapis.com/projects/"+x.Str("project")+"/serviceAccounts/"+email] = true
	}
	for _, x := range r.ByType(tCustomRole) {
		perms := x.Strs("permissions")
		slices.Sort(perms)
		deployed[access.KindCustomRole+" //iam.googleapis.com/projects/"+x.Str("project")+"/roles/"+x.Str("roleId")+" permissions: "+strings.Join(perms, ", ")] = true
	}
	for _, x := range r.ByType(tBucket) {
		deployed[access.KindBucket+" //storage.googleapis.com/projects/_/buckets/"+x.Str("name")+" location "+x.Str("location")+"; empty; its whole IAM policy is the authz role for its members, nothing else"] = true
	}
	for _, x := range r.ByType(tService) {
		runAs := x.Obj("template")["serviceAccount"].StringValue()
		detail := fmt.Sprintf("%s //run.googleapis.com/projects/%s/locations/%s/services/%s region %s, ingress %s, runs as %s",
			access.KindService, x.Str("project"), x.Str("location"), x.Str("name"), x.Str("location"), x.Str("ingress"), runAs)
		// The custom audiences as the service is sent them, in the order it is sent them.
		if auds := x.Strs("customAudiences"); len(auds) > 0 {
			detail += "; accepts ID tokens for its URL and the custom audiences " + strings.Join(auds, ", ")
		}
		deployed[detail] = true
	}
	return deployed
}

// accessReportFor builds the report the way cmd/access does: decode, validate, resolve, build.
func accessReportFor(t *testing.T, cfg map[string]string) access.Report {
	t.Helper()
	c, err := config.Load(project, config.MapSource(cfg), slices.Sorted(maps.Keys(cfg)))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return access.Build(stackName, plan.Resolve(c, fixedNow), fixedNow)
}

var accessConditionRe = regexp.MustCompile(`^request\.time < timestamp\("([^"]+)"\)$`)

// accessDeployedGrants reads every IAM binding the program registered. A resource type that can grant
// access and is not understood here fails the test: a new kind of grant must reach the report.
func accessDeployedGrants(t *testing.T, r *result) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, x := range r.Resources {
		if !x.Custom {
			continue
		}
		switch x.Type {
		case tServicePolicy:
			target := fmt.Sprintf("//run.googleapis.com/projects/%s/locations/%s/services/%s", x.Str("project"), x.Str("location"), x.Str("name"))
			for _, b := range policyOf(t, x).Bindings {
				if b.Condition != nil {
					t.Errorf("%s has a condition the report cannot show", x.Name)
				}
				for _, m := range b.Members {
					out[accessGrantKey(m, b.Role, target, nil)] = true
				}
			}
		case tAccountPolicy:
			for _, b := range policyOf(t, x).Bindings {
				var expires *time.Time
				if c := b.Condition; c != nil {
					m := accessConditionRe.FindStringSubmatch(c.Expression)
					if m == nil {
						t.Errorf("%s: condition %q is not an expiry; the report would misstate it", x.Name, c.Expression)
						continue
					}
					at, err := time.Parse(time.RFC3339, m[1])
					if err != nil {
						t.Errorf("%s: condition time %q: %v", x.Name, m[1], err)
						continue
					}
					expires = &at
				}
				for _, m := range b.Members {
					out[accessGrantKey(m, b.Role, "//iam.googleapis.com/"+x.Str("serviceAccountId"), expires)] = true
				}
			}
		case tBucketPolicy:
			for _, b := range policyOf(t, x).Bindings {
				if b.Condition != nil {
					t.Errorf("%s has a condition the report cannot show", x.Name)
				}
				for _, m := range b.Members {
					out[accessGrantKey(m, b.Role, "//storage.googleapis.com/projects/_/buckets/"+x.Str("bucket"), nil)] = true
				}
			}
		case tSecretIAM:
			if x.Obj("condition") != nil {
				t.Errorf("%s has a condition the report cannot show", x.Name)
			}
			out[accessGrantKey(x.Str("member"), x.Str("role"), "//secretmanager.googleapis.com/projects/"+x.Str("project")+"/secrets/"+x.Str("secretId"), nil)] = true
		case tCustomRole, tAccount, tService, tBucket, tProjectAPI:
			// Not grants; the inventory test covers the ones the report lists.
		default:
			t.Errorf("resource type %s (%s) is not known to the access report test: if it grants access, add it to access.Build and here", x.Type, x.Name)
		}
	}
	return out
}

// accessSameSets fails t for each key deployed holds and reported lacks, and for each the
// other way round.
func accessSameSets(t *testing.T, deployed, reported map[string]bool) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(deployed)) {
		if !reported[k] {
			t.Errorf("deployed but not in the report: %s", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(reported)) {
		if !deployed[k] {
			t.Errorf("in the report but not deployed: %s", k)
		}
	}
}

func accessGrantKey(principal, role, resourceName string, expires *time.Time) string {
	return strings.Join([]string{principal, role, resourceName, access.FormatExpiry(expires)}, " ")
}
