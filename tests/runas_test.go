package tests

import (
	"reflect"
	"testing"

	"github.com/platform/private-run-api/internal/plan"
)

// runAsBadConfigCases are the ways a caller's runAs can be wrong; TestBadConfigs runs them.
func runAsBadConfigCases() []badConfigCase {
	return []badConfigCase{
		{
			name: "run-as grants a review cannot pin to one workload",
			diags: []string{
				"Forbidden callers[0].runAs.deployers[0]", "Forbidden callers[0].runAs.deployers[1]", "Forbidden callers[0].runAs.deployers[2]",
				"Duplicate callers[0].runAs.deployers[4]",
				"Invalid callers[0].runAs.gkeWorkloads[0]", "Invalid callers[0].runAs.gkeWorkloads[1]",
				"Invalid callers[0].runAs.cloudRunProjects[0]", "Duplicate callers[0].runAs.cloudRunProjects[2]",
			},
			yaml: base + `  private-run-api:callers:
    - name: orders-sync
      runAs:
        deployers:
          - domain:acme.example
          - principalSet://iam.googleapis.com/locations/global/workforcePools/acme/group/devs
          - allUsers
          - group:sync-deployers@acme.example
          - group:sync-deployers@acme.example
        gkeWorkloads:
          - serviceAccount:acme-gke.svc.id.goog[sync]
          - principalSet://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/acme-gke.svc.id.goog/namespace/sync
        cloudRunProjects: [acme-orders, "123456789012", "123456789012"]
`,
			want: []string{
				`callers[0].runAs.deployers[0] "domain:acme.example": names a set of principals, every one of whom could deploy code that runs as the caller`,
				`callers[0].runAs.deployers[2] "allUsers": makes the grant public`,
				`callers[0].runAs.deployers[4] "group:sync-deployers@acme.example": is listed twice (also callers[0].runAs.deployers[3])`,
				`callers[0].runAs.gkeWorkloads[0] "serviceAccount:acme-gke.svc.id.goog[sync]": is not a Kubernetes service account of GKE Workload Identity; write serviceAccount:PROJECT_ID.svc.id.goog[NAMESPACE/KSA]`,
				`callers[0].runAs.cloudRunProjects[0] "acme-orders": is not a project number`,
			},
		},
		{
			name:  "run-as on an account the program does not create",
			diags: []string{"Forbidden callers[0].runAs"},
			yaml: base + `  private-run-api:callers:
    - name: billing-partner
      email: billing-runner@acme-billing-prod.iam.gserviceaccount.com
      runAs:
        deployers: [group:billing@acme.example]
`,
			want: []string{`callers[0].runAs: is set on a caller named by email; the program owns no policy on an account it does not create`},
		},
	}
}

// TestRunAsGrantsLandInTheAccountsPolicy: what a caller's workloads need in order to run as its
// account is in that account's whole policy, each with its role, beside the impersonators, and
// in the access report.
func TestRunAsGrantsLandInTheAccountsPolicy(t *testing.T) {
	cfg := stackYAML(t, base+`  private-run-api:impersonators: [group:devs@acme.example]
  private-run-api:callers:
    - name: orders-sync
      runAs:
        deployers: [serviceAccount:ci@acme-sync.iam.gserviceaccount.com, group:sync-deployers@acme.example]
        gkeWorkloads:
          - serviceAccount:acme-gke.svc.id.goog[sync/orders-sync]
          - principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/acme-gke.svc.id.goog/subject/ns/sync/sa/worker
        cloudRunProjects: ["210987654321"]
    - name: orders-batch
`)
	for _, dry := range []bool{false, true} {
		r := mustRun(t, cfg, runOpts{dryRun: dry})
		checkInvariants(t, r, cfg)
		checkReportMatchesProgram(t, r, cfg)
		grants := accountGrants(t, r)
		for name, want := range map[string][]string{
			"orders-sync-run-as-deployers": {"group:sync-deployers@acme.example", "serviceAccount:ci@acme-sync.iam.gserviceaccount.com"},
			"orders-sync-run-as-gke": {
				"principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/acme-gke.svc.id.goog/subject/ns/sync/sa/worker",
				"serviceAccount:acme-gke.svc.id.goog[sync/orders-sync]",
			},
			// The other project's Cloud Run service agent shares the one unconditioned
			// token-creator binding with the impersonators: IAM keeps one per role.
			"orders-sync-token-creator": {"group:devs@acme.example", "serviceAccount:service-210987654321@serverless-robot-prod.iam.gserviceaccount.com"},
		} {
			if got := grants[name].Members; !reflect.DeepEqual(got, want) {
				t.Errorf("preview=%v: %s = %v, want %v", dry, name, got, want)
			}
		}
		// Another caller's policy holds none of it.
		for name := range grants {
			if name == "orders-batch-run-as-deployers" || name == "orders-batch-run-as-gke" {
				t.Errorf("preview=%v: %s: run-as grants leaked to another caller", dry, name)
			}
		}
		if b, ok := accountPolicy(t, r, "orders-sync").binding(plan.RoleServiceAccountUser, ""); !ok || b.Condition != nil {
			t.Errorf("preview=%v: no unconditioned actAs binding on orders-sync: %+v", dry, b)
		}
	}
}
