package gcp

import "testing"

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

func TestValidAccountID(t *testing.T) {
	for id, want := range map[string]bool{
		"orders-batch": true, "abcdef": true, "abcde": false, "a23456789012345678901234567890": true,
		"a234567890123456789012345678901": false, "Orders": false, "orders-": false, "1orders": false, "orders_batch": false,
	} {
		if got := ValidAccountID(id); got != want {
			t.Errorf("ValidAccountID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestBucketNameProblem(t *testing.T) {
	for name, want := range map[string]string{
		"acme-dev-orders-api-authz": "",
		"authz.orders.acme.example": "", // well-formed; whether dots are allowed is the caller's call
		"ab":                        `must be 3-63 chars of a-z, 0-9, "-", "_" and ".", starting and ending with a letter or digit`,
		"Upper-case":                `must be 3-63 chars of a-z, 0-9, "-", "_" and ".", starting and ending with a letter or digit`,
		"goog-authz":                `must not start with "goog"`,
		"my-google-bucket":          `must not contain "google"`,
		"a..b":                      `must not contain ".."`,
		"192.168.5.4":               "must not be an IP address",
	} {
		if got := BucketNameProblem(name); got != want {
			t.Errorf("BucketNameProblem(%q) = %q, want %q", name, got, want)
		}
	}
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
