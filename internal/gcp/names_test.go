package gcp

import (
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/testcheck"
)

func TestAccountNames(t *testing.T) {
	for _, tc := range []struct{ project, id, email, domain string }{
		{"acme-dev", "orders-batch", "orders-batch@acme-dev.iam.gserviceaccount.com", "@acme-dev.iam.gserviceaccount.com"},
		{"example.com:acme-proj", "orders-batch", "orders-batch@acme-proj.example.com.iam.gserviceaccount.com", "@acme-proj.example.com.iam.gserviceaccount.com"},
	} {
		if got := AccountEmail(tc.project, tc.id); got != tc.email {
			t.Errorf("AccountEmail(%q, %q) = %q, want %q", tc.project, tc.id, got, tc.email)
		}
		if got := AccountDomain(tc.project); got != tc.domain {
			t.Errorf("AccountDomain(%q) = %q, want %q", tc.project, got, tc.domain)
		}
	}
	if got := AccountName("p", "a@p.iam.gserviceaccount.com"); got != "projects/p/serviceAccounts/a@p.iam.gserviceaccount.com" {
		t.Errorf("AccountName = %q", got)
	}
}

// The boundaries of verify.ValidateRFC1035Name(6, 30) (terraform-provider-google-beta v5.42.0),
// google_service_account.account_id's validator.
func TestValidAccountID(t *testing.T) {
	testcheck.Answers(t, "ValidAccountID", ValidAccountID, map[string]bool{
		"orders-batch": true, "abcdef": true, "abcde": false, "a23456789012345678901234567890": true,
		"a234567890123456789012345678901": false, "Orders": false, "orders-": false, "1orders": false, "orders_batch": false,
		"a----b": true, "-abcde": false, "abcde\n": false, "ab.def": false,
	})
}

// The boundaries of verify.ValidateIAMCustomRoleID (v5.42.0): 3-64 of [a-zA-Z0-9_.], exactly.
func TestRoleID(t *testing.T) {
	testcheck.Answers(t, "RoleID", RoleID.MatchString, map[string]bool{
		"abc": true, "ab": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		"orders_api.Authz9": true, "_.0": true, "orders-api": false, "orders api": false, "ordersApiAuthz\n": false,
	})
}

// The connector's ID as the Serverless VPC Access API checks it (at least 2 chars, starting with
// a letter, not ending with "-"), at most 24 chars.
func TestConnectorID(t *testing.T) {
	for id, want := range map[string]bool{
		"ab": true, "a": false, "a" + strings.Repeat("b", 23): true, "a" + strings.Repeat("b", 24): false,
		"orders-conn": true, "orders-": false, "1orders": false, "Orders": false,
	} {
		if got := ConnectorID.MatchString(id); got != want {
			t.Errorf("ConnectorID(%q) = %v, want %v", id, got, want)
		}
		full := "projects/acme-net/locations/asia-northeast1/connectors/" + id
		if got := ConnectorName.MatchString(full); got != want {
			t.Errorf("ConnectorName(%q) = %v, want %v", full, got, want)
		}
	}
}

// Every boundary of verify.ValidateGCSName (v5.42.0), google_storage_bucket.name's validator,
// plus Google's 222-char cap on dotted names: a name the provider refuses is refused here.
func TestBucketNameProblem(t *testing.T) {
	part63 := strings.Repeat("a", 63)
	testcheck.Answers(t, "BucketNameProblem", BucketNameProblem, map[string]string{
		"acme-dev-orders-api-authz": "",
		"authz.orders.acme.example": "", // well-formed; whether dots are allowed is the caller's call
		"abc":                       "",
		"a_b":                       "",
		strings.Repeat("a", 63):     "",
		part63 + "." + part63 + "." + part63 + "." + strings.Repeat("a", 30): "", // 222 chars
		"ab":                    BucketNameRule,
		"Upper-case":            BucketNameRule,
		"has space":             BucketNameRule,
		"-dash-first":           BucketNameRule,
		"dash-last-":            BucketNameRule,
		"_underscore":           BucketNameRule,
		".dot-first":            BucketNameRule,
		"a|b":                   BucketNameRule,
		"caf\u00e9-bucket":      BucketNameRule,
		strings.Repeat("a", 64): BucketNameRule,
		part63 + "." + part63 + "." + part63 + "." + strings.Repeat("a", 31): BucketNameRule, // 223
		"a..b":                     `must not contain ".."`,
		part63 + "a.example":       `has a dot-separated part of 64 chars ("` + part63 + `a"): each may have at most 63`,
		"goog-authz":               `must not start with "goog"`,
		"goog":                     `must not start with "goog"`,
		"my-google-bucket":         `must not contain "google" or a close misspelling: Cloud Storage reads every 0 as o, so "g00gle" and "go0gle" count too`,
		"acme-g00gle-authz":        `must not contain "google" or a close misspelling: Cloud Storage reads every 0 as o, so "g00gle" and "go0gle" count too`,
		"acme-g0ogle-orders-authz": `must not contain "google" or a close misspelling: Cloud Storage reads every 0 as o, so "g00gle" and "go0gle" count too`,
		"acme-go0gle-authz":        `must not contain "google" or a close misspelling: Cloud Storage reads every 0 as o, so "g00gle" and "go0gle" count too`,
		"acme-googl-authz":         "",
		"acme-g0gle-authz":         "",
		"192.168.5.4":              "must not look like an IP address (four dot-separated groups of 1-3 digits, such as 192.168.5.4 or 999.1.1.1)",
		"999.1.1.1":                "must not look like an IP address (four dot-separated groups of 1-3 digits, such as 192.168.5.4 or 999.1.1.1)",
		"1.2.3.4.5":                "",
		"1234.1.1.1":               "",
		"1.1.1":                    "",
	})
}

func TestRegionAcceptsMultiPartNames(t *testing.T) {
	// Both programs use this one pattern; the bootstrap's own copy once refused regions that the
	// main program accepted.
	for _, r := range []string{"asia-northeast1", "us-central1", "northamerica-northeast1", "europe-west10"} {
		if !Region.MatchString(r) {
			t.Errorf("region %q refused", r)
		}
	}
	for _, r := range []string{"tokyo", "US", "asia-northeast"} {
		if Region.MatchString(r) {
			t.Errorf("region %q accepted", r)
		}
	}
}

func TestServiceAgent(t *testing.T) {
	testcheck.Answers(t, "ServiceAgent", ServiceAgent.MatchString, map[string]bool{
		"service-123456789012@serverless-robot-prod.iam.gserviceaccount.com":  true,
		"service-123456789012@gcp-sa-cloudbuild.iam.gserviceaccount.com":      true,
		"service-org-123456789012@gcp-sa-logging.iam.gserviceaccount.com":     true,
		"service-folder-42@gcp-sa-logging.iam.gserviceaccount.com":            true,
		"p123456789012-abcdef@gcp-sa-logging.iam.gserviceaccount.com":         true,
		"123456789012@cloudservices.gserviceaccount.com":                      true,
		"123456789012@cloudbuild.gserviceaccount.com":                         true,
		"123456789012-compute@developer.gserviceaccount.com":                  true, // a default account, refused before
		"acme@appspot.gserviceaccount.com":                                    true,
		"orders-batch@acme-dev.iam.gserviceaccount.com":                       false,
		"service-runner@acme-dev.iam.gserviceaccount.com":                     false,
		"billing-runner@acme-billing-prod.iam.gserviceaccount.com":            false,
		"orders-batch@acme-proj.example.com.iam.gserviceaccount.com":          false,
		"service-123456789012@serverless-robot-prod.iam.gserviceaccount.com.": false,
	})
}
