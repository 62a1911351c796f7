package tests

import (
	"slices"
	"strings"
	"testing"
)

// TestCallersProject: with callersProject, the caller accounts and their policies live in that
// project (with IAM and IAM Credentials enabled there), and everything else stays in gcp:project;
// emails, grants and the access report follow.
func TestCallersProject(t *testing.T) {
	cfg := stackYAML(t, minimal+`    - name: orders-front
      impersonators: [user:ann@acme.example]
    - name: billing-partner
      email: billing-runner@acme-billing-prod.iam.gserviceaccount.com
  private-run-api:callersProject: acme-test-callers
`)
	for _, dry := range []bool{false, true} {
		r := mustRun(t, cfg, runOpts{dryRun: dry})
		checkInvariants(t, r, cfg)
		checkReportMatchesProgram(t, r, cfg)
		for _, name := range []string{"orders-batch", "orders-front"} {
			if a := r.Find(t, tAccount, name); a.Str("project") != "acme-test-callers" {
				t.Errorf("preview=%v: caller %s created in %q", dry, name, a.Str("project"))
			}
			want := "projects/acme-test-callers/serviceAccounts/" + name + "@acme-test-callers.iam.gserviceaccount.com"
			if got := r.Find(t, tAccountPolicy, name+"-policy").Str("serviceAccountId"); got != want {
				t.Errorf("preview=%v: %s's policy on %s, want %s", dry, name, got, want)
			}
		}
		if a := r.Find(t, tAccount, "orders-api-runtime"); a.Str("project") != "acme-test" {
			t.Errorf("preview=%v: the runtime account moved to %q", dry, a.Str("project"))
		}
		invokers := invokersOf(t, r, "orders-api")
		for _, m := range []string{"serviceAccount:orders-batch@acme-test-callers.iam.gserviceaccount.com", "serviceAccount:billing-runner@acme-billing-prod.iam.gserviceaccount.com"} {
			if !slices.Contains(invokers, m) {
				t.Errorf("preview=%v: invokers %v lack %s", dry, invokers, m)
			}
		}
		var enabled []string
		for _, x := range r.ByType(tProjectAPI) {
			enabled = append(enabled, x.Str("project")+" "+x.Str("service"))
		}
		for _, want := range []string{"acme-test-callers iam.googleapis.com", "acme-test-callers iamcredentials.googleapis.com", "acme-test run.googleapis.com"} {
			if !slices.Contains(enabled, want) {
				t.Errorf("preview=%v: APIs enabled %v lack %s", dry, enabled, want)
			}
		}
		if slices.ContainsFunc(enabled, func(s string) bool { return strings.HasPrefix(s, "acme-test-callers run.") }) {
			t.Errorf("preview=%v: Cloud Run enabled in the callers' project: %v", dry, enabled)
		}
	}
	// Without it, nothing moves: the same URNs as a stack that never heard of callersProject.
	same := stackYAML(t, minimal+"  private-run-api:callersProject: acme-test\n")
	if a, b := urnSet(mustRun(t, stackYAML(t, minimal), runOpts{})), urnSet(mustRun(t, same, runOpts{})); !slices.Equal(a, b) {
		t.Errorf("callersProject equal to gcp:project registers %v, without it %v", b, a)
	}
}
