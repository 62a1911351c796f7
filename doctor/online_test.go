package doctor

import (
	"errors"
	"strings"
	"testing"

	"github.com/platform/private-run-api/config"
)

// The online call itself needs Google Cloud and is not run here; these cover how its outcomes
// are explained.

func onlineCaller(invoke bool) config.CallerPlan {
	return config.CallerPlan{Name: "orders-batch", Invoke: invoke, Created: true,
		Account: config.Account{Email: batchEmail, Member: "serviceAccount:" + batchEmail}}
}

func TestAudience(t *testing.T) {
	tests := []struct {
		url, want string
		ok        bool
	}{
		{"https://orders-api-abc123-an.a.run.app", "https://orders-api-abc123-an.a.run.app", true},
		{"https://orders-api-abc123-an.a.run.app/v1/orders?x=1", "https://orders-api-abc123-an.a.run.app", true},
		{"http://orders-api-abc123-an.a.run.app", "", false},
		{"orders-api-abc123-an.a.run.app", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := Audience(tc.url)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("Audience(%q) = %q, %v; want %q, ok=%v", tc.url, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "pulumi stack output serviceUrl") {
			t.Errorf("Audience(%q) error does not say where the URL comes from: %v", tc.url, err)
		}
	}
}

func TestOnlineStatus(t *testing.T) {
	const aud = "https://orders-api-abc123-an.a.run.app"
	runForbidden := "<html><body><h1>Error: Forbidden</h1><h2>Your client does not have permission to get URL <code>/</code> from this server.</h2></body></html>"
	tests := []struct {
		name    string
		code    int
		body    string
		invoke  bool
		sev     Severity
		summary string
		detail  string
	}{
		{"200", 200, "ok", true, OK, "answered 200 OK", ""},
		{"401 is the audience or token", 401, "", true, Problem, "did not accept the ID token", "audience must be the service's run.app URL; it was " + aud},
		{"403 from Cloud Run, grant in the stack", 403, runForbidden, true, Problem, "the caller may not invoke it", "allow about 2 minutes"},
		{"403 from Cloud Run, invoke false", 403, runForbidden, false, Problem, "the caller may not invoke it", "invoke: false"},
		{"403 from the application", 403, `{"error":"denied by authz guard"}`, true, Problem, "403 Forbidden", "the application refused the call"},
		{"404 passed IAM", 404, "not found", true, Warning, "authentication passed", "check the path"},
		{"500 passed IAM", 500, "boom", true, Warning, "the application failed", "logs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := onlineStatus(tc.code, tc.body, aud, onlineCaller(tc.invoke))
			if f.Severity != tc.sev || !strings.Contains(f.Summary, tc.summary) {
				t.Errorf("got %s %q; want %s containing %q", f.Severity, f.Summary, tc.sev, tc.summary)
			}
			if !strings.Contains(strings.Join(f.Detail, " "), tc.detail) {
				t.Errorf("detail %q lacks %q", f.Detail, tc.detail)
			}
		})
	}
}

func TestOnlineError(t *testing.T) {
	tests := []struct {
		err     string
		summary string
		command string
	}{
		{`idtoken: unsupported credentials type: "authorized_user"`, "not a service account identity", batchLogin},
		{"google: could not find default credentials. See https://cloud.google.com/docs/authentication/external/set-up-adc for more information", "no Application Default Credentials", batchLogin},
		{`impersonate: status code 403: {"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).","status":"PERMISSION_DENIED"}}`, "permission denied", "gcloud auth application-default revoke"},
		{`Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`, "permission denied", "gcloud auth application-default revoke"},
		{`IAM Service Account Credentials API has not been used in project 123 before or it is disabled. SERVICE_DISABLED`, "IAM Credentials API is disabled", "gcloud services enable iamcredentials.googleapis.com --project acme-test"},
		{`oauth2: "invalid_grant" "reauth related error (invalid_rapt)"`, "login has expired", batchLogin},
		{`Get "https://orders-api-abc123-an.a.run.app": context deadline exceeded`, "timed out", ""},
		{`dial tcp: lookup orders-api: no such host`, "failed before the service answered", ""},
	}
	for _, tc := range tests {
		f := onlineError(errors.New(tc.err), onlineCaller(true))
		if f.Severity != Problem || !strings.Contains(f.Summary, tc.summary) {
			t.Errorf("%q: got %s %q; want PROBLEM containing %q", tc.err, f.Severity, f.Summary, tc.summary)
		}
		if tc.command != "" && !strings.Contains(strings.Join(f.Commands, "\n"), tc.command) {
			t.Errorf("%q: commands %q lack %q", tc.err, f.Commands, tc.command)
		}
		if !strings.Contains(strings.Join(f.Detail, " "), tc.err) {
			t.Errorf("%q: the original error is not shown: %q", tc.err, f.Detail)
		}
	}
}
