package tests

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exampleStackURNs are the URNs the example stack registers. A refactoring that moves a resource to
// another parent or type changes its URN, and the engine would then delete and re-create it (a
// service, an account, a bucket): this list changes only with an alias or on purpose.
var exampleStackURNs = []string{
	"urn:pulumi:dev::private-run-api::privateapi:iam:AuthzGuard$gcp:projects/iAMCustomRole:IAMCustomRole::authz-role",
	"urn:pulumi:dev::private-run-api::privateapi:iam:AuthzGuard$gcp:storage/bucket:Bucket::authz-bucket",
	"urn:pulumi:dev::private-run-api::privateapi:iam:AuthzGuard$gcp:storage/bucketIAMPolicy:BucketIAMPolicy::authz-policy",
	"urn:pulumi:dev::private-run-api::privateapi:iam:AuthzGuard::authz",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/account:Account::cdn-purger",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/account:Account::orders-batch",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/account:Account::orders-front",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMPolicy:IAMPolicy::cdn-purger-policy",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMPolicy:IAMPolicy::orders-batch-policy",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMPolicy:IAMPolicy::orders-front-policy",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers::callers",
	"urn:pulumi:dev::private-run-api::privateapi:services:Apis$gcp:projects/service:Service::apis-iam.googleapis.com",
	"urn:pulumi:dev::private-run-api::privateapi:services:Apis$gcp:projects/service:Service::apis-iamcredentials.googleapis.com",
	"urn:pulumi:dev::private-run-api::privateapi:services:Apis$gcp:projects/service:Service::apis-run.googleapis.com",
	"urn:pulumi:dev::private-run-api::privateapi:services:Apis$gcp:projects/service:Service::apis-secretmanager.googleapis.com",
	"urn:pulumi:dev::private-run-api::privateapi:services:Apis$gcp:projects/service:Service::apis-storage.googleapis.com",
	"urn:pulumi:dev::private-run-api::privateapi:services:Apis::apis",
	"urn:pulumi:dev::private-run-api::privateapi:services:PrivateApi$gcp:cloudrunv2/service:Service::orders-api",
	"urn:pulumi:dev::private-run-api::privateapi:services:PrivateApi$gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy::orders-api-policy",
	"urn:pulumi:dev::private-run-api::privateapi:services:PrivateApi$gcp:secretmanager/secretIamMember:SecretIamMember::orders-api-secret-acme-shared-secrets/payments-signing-key",
	"urn:pulumi:dev::private-run-api::privateapi:services:PrivateApi$gcp:secretmanager/secretIamMember:SecretIamMember::orders-api-secret-orders-db-password",
	"urn:pulumi:dev::private-run-api::privateapi:services:PrivateApi$gcp:serviceaccount/account:Account::orders-api-runtime",
	"urn:pulumi:dev::private-run-api::privateapi:services:PrivateApi$gcp:serviceaccount/iAMPolicy:IAMPolicy::orders-api-runtime-policy",
	"urn:pulumi:dev::private-run-api::privateapi:services:PrivateApi::orders-api",
}

// retiredURNs are what the example stack registered before the accounts' whole policies, and no
// longer does: the token-creator and OpenID bindings. The docs' upgrade step drops them from
// state before the first `up` of this version (TestUpgradeStepDropsExactlyTheRetiredURNs).
var retiredURNs = []string{
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::cdn-purger-openid-self",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::cdn-purger-token-creator",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::cdn-purger-token-creator-expires-20270331t000000z",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::orders-batch-openid-self",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::orders-batch-token-creator",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::orders-batch-token-creator-expires-20270331t000000z",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::orders-front-openid-self",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::orders-front-token-creator",
	"urn:pulumi:dev::private-run-api::privateapi:iam:Callers$gcp:serviceaccount/iAMBinding:IAMBinding::orders-front-token-creator-expires-20270331t000000z",
}

func TestExampleStackURNsAreStable(t *testing.T) {
	for _, dry := range []bool{false, true} {
		got := urnSet(mustRun(t, exampleStack(t), runOpts{dryRun: dry}))
		for _, u := range got {
			if !slices.Contains(exampleStackURNs, u) {
				t.Errorf("preview=%v: new URN %s", dry, u)
			}
		}
		for _, u := range exampleStackURNs {
			if !slices.Contains(got, u) {
				t.Errorf("preview=%v: URN %s is gone: the engine would delete that resource", dry, u)
			}
		}
	}
}

// TestUpgradeStepDropsExactlyTheRetiredURNs holds the docs' upgrade step (the `sh` block whose
// grep picks the URNs to drop from state) to what changed: it must pick every retired URN, or
// that binding's delete would refuse its members on the way, and none this version still
// registers, or the next `up` would create it again over the live resource. The step itself was
// run through the real engine (CLI v3.259.0, stand-in GCP plugin): the old bindings left the
// state, the next preview only created the policies, and the preview after `up` was clean.
func TestUpgradeStepDropsExactlyTheRetiredURNs(t *testing.T) {
	var pattern string
	for _, f := range docsFences(t, "sh") {
		if strings.Contains(f.Text, "pulumi state delete") && strings.Contains(f.Text, "iAMBinding") {
			m := regexp.MustCompile(`grep -o '([^']+)'`).FindStringSubmatch(f.Text)
			if m == nil {
				t.Fatalf("%s: the upgrade step picks URNs without grep -o '...'", f.Pos())
			}
			if pattern != "" {
				t.Fatalf("%s: a second upgrade step drops the accounts' old bindings; keep one", f.Pos())
			}
			pattern = m[1]
		}
	}
	if pattern == "" {
		t.Fatal("the docs have no upgrade step that drops the accounts' old bindings from state")
	}
	re := regexp.MustCompile(pattern)
	for _, u := range retiredURNs {
		if re.FindString(u) != u {
			t.Errorf("the upgrade step leaves %s in state: its delete would take the role out of the new policy", u)
		}
	}
	for _, u := range exampleStackURNs {
		if re.MatchString(u) {
			t.Errorf("the upgrade step drops %s, which this version still registers", u)
		}
	}
}
