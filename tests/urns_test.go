package tests

import (
	"slices"
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
// longer does: the token-creator and OpenID bindings. README.md's upgrade step drops them from
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
