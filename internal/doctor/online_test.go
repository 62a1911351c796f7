package doctor

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/fakegoogle"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/testdir"
)

// TestOnlineStatus and TestOnlineError cover how outcomes are explained; TestOnlineAgainstServers
// and TestOnlineTimeout run the real path against a token endpoint and a service on httptest.

func onlineCaller(invoke bool) plan.Caller {
	return plan.Caller{Name: "orders-batch", Invoke: invoke, Created: true,
		Account: plan.Account{Email: batchEmail, Member: "serviceAccount:" + batchEmail}}
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
		sev     Status
		summary string
		detail  string
	}{
		{"200", 200, "ok", true, OK, "answered 200 OK", ""},
		{"401 is the audience or token", 401, "", true, Problem, "did not accept the ID token", "audience must be the service's run.app URL or one of its custom audiences; it was " + aud},
		{"403 from Cloud Run, grant in the stack", 403, runForbidden, true, Problem, "the caller may not invoke it", "allow about 2 minutes"},
		{"403 from Cloud Run, invoke false", 403, runForbidden, false, Problem, "the caller may not invoke it", "invoke: false"},
		{"403 from the application", 403, `{"error":"denied by authz guard"}`, true, Problem, "403 Forbidden", "the application refused the call"},
		{"404 passed IAM", 404, "not found", true, Warning, "authentication passed", "check the path"},
		{"500 passed IAM", 500, "boom", true, Warning, "the application failed", "logs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := onlineStatus(tc.code, tc.body, aud, nil, onlineCaller(tc.invoke))
			if f.Status != tc.sev || !strings.Contains(f.Summary, tc.summary) {
				t.Errorf("got %s %q; want %s containing %q", f.Status, f.Summary, tc.sev, tc.summary)
			}
			if !strings.Contains(strings.Join(f.Detail, " "), tc.detail) {
				t.Errorf("detail %q lacks %q", f.Detail, tc.detail)
			}
		})
	}
}

// TestOnlineStatusCustomAudiences: a refused token is explained by what the stack declares.
func TestOnlineStatusCustomAudiences(t *testing.T) {
	const (
		url    = "https://orders-api-abc123-an.a.run.app"
		custom = "https://orders-api.acme-test.internal"
	)
	declared := []string{custom}
	tests := []struct {
		name     string
		audience string
		custom   []string
		detail   []string
		absent   string
	}{
		{"a declared custom audience: not deployed yet", custom, declared,
			[]string{"The token was for " + custom + ", a custom audience the stack declares (service.audiences).", "only once that is deployed"}, "pass one with -audience"},
		{"the URL's origin while the stack declares custom audiences", url, declared,
			[]string{"it was " + url + ".", "The stack declares " + custom + " (service.audiences): pass one with -audience"}, "a custom audience the stack declares"},
		{"no custom audiences", url, nil, []string{"it was " + url + ".", "pass the run.app URL instead"}, "The stack declares"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := onlineStatus(http.StatusUnauthorized, "", tc.audience, tc.custom, onlineCaller(true))
			detail := strings.Join(f.Detail, " ")
			if f.Status != Problem || !strings.Contains(f.Summary, "did not accept the ID token") {
				t.Errorf("got %s %q", f.Status, f.Summary)
			}
			for _, d := range tc.detail {
				if !strings.Contains(detail, d) {
					t.Errorf("detail %q lacks %q", f.Detail, d)
				}
			}
			if strings.Contains(detail, tc.absent) {
				t.Errorf("detail %q has %q", f.Detail, tc.absent)
			}
		})
	}
	if f := onlineStatus(200, "ok", custom, declared, onlineCaller(true)); f.Status != OK || !strings.Contains(strings.Join(f.Detail, " "), "The ID token's audience was "+custom+".") {
		t.Errorf("200 does not say which audience passed: %s %q %q", f.Status, f.Summary, f.Detail)
	}
}

// TestOnlineAudience: which audience -online mints its token for, and which -audience values it
// refuses before any network call.
func TestOnlineAudience(t *testing.T) {
	const (
		url   = "https://orders-api-abc123-an.a.run.app/v1/orders"
		lb    = "https://api.acme.example/orders"
		one   = "https://orders-api.acme-test.internal"
		two   = "https://orders-api.acme-test.api.acme.example"
		other = "https://orders-api-xyz-uc.a.run.app"
	)
	with := plan.Service{Name: "orders-api", Audiences: []string{two, one}, PrimaryAudience: one}
	without := plan.Service{Name: "orders-api"}
	tests := []struct {
		name      string
		svc       plan.Service
		given, at string
		want      string
		err       string
	}{
		{"default: the first custom audience as written", with, "", url, one, ""},
		{"default without custom audiences: the URL's origin", without, "", url, "", ""},
		{"another declared one", with, two, lb, two, ""},
		{"the URL's own origin", with, "https://orders-api-abc123-an.a.run.app", url, "https://orders-api-abc123-an.a.run.app", ""},
		{"a run.app URL while calling a load balancer", with, other, lb, other, ""},
		{"the load balancer's name, which the service does not accept", without, "https://api.acme.example", "https://orders-api-abc123-an.a.run.app", "",
			`-audience "https://api.acme.example" is not an audience service orders-api accepts: the stack declares no custom audience (service.audiences)`},
		{"an undeclared custom audience", with, "https://orders-api.acme-prod.internal", url, "",
			"the stack declares " + two + ", " + one + " (service.audiences), and Cloud Run also accepts the service's run.app URL"},
		{"a run.app URL with a path", with, other + "/v1", lb, "", "is not an audience"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OnlineAudience(tc.svc, tc.given, tc.at)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one containing %q", err, tc.err)
			case tc.err == "" && (err != nil || got != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
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
		if f.Status != Problem || !strings.Contains(f.Summary, tc.summary) {
			t.Errorf("%q: got %s %q; want PROBLEM containing %q", tc.err, f.Status, f.Summary, tc.summary)
		}
		if tc.command != "" && !strings.Contains(strings.Join(f.Commands, "\n"), tc.command) {
			t.Errorf("%q: commands %q lack %q", tc.err, f.Commands, tc.command)
		}
		if !strings.Contains(strings.Join(f.Detail, " "), tc.err) {
			t.Errorf("%q: the original error is not shown: %q", tc.err, f.Detail)
		}
	}
}

// onlineWithin runs Online and fails the test if it has not returned within limit: without a
// bound of its own, Online would block for as long as a hanging server holds the request.
func onlineWithin(t *testing.T, req OnlineRequest, limit time.Duration) (Finding, time.Duration) {
	t.Helper()
	type result struct {
		f       Finding
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		f := Online(context.Background(), req)
		done <- result{f, time.Since(start)}
	}()
	select {
	case r := <-done:
		return r.f, r.elapsed
	case <-time.After(limit):
		t.Fatalf("Online did not return within %s (timeout %s)", limit, req.Timeout)
		return Finding{}, 0
	}
}

// The environment is process-wide, so these tests do not run in parallel.
func useADC(t *testing.T, path string) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	t.Setenv("GOOGLE_API_GO_EXPERIMENTAL_ENABLE_NEW_AUTH_LIB", "")
}

func TestOnlineAgainstServers(t *testing.T) {
	runForbidden := "<html><body><h1>Error: Forbidden</h1><h2>Your client does not have permission to get URL <code>/v1/orders</code> from this server.</h2></body></html>"
	tests := []struct {
		name    string
		code    int
		body    string
		sev     Status
		summary string
		detail  string
	}{
		{"200", http.StatusOK, `{"orders":[]}`, OK, "The service answered 200 OK to a call as " + batchEmail, "The ID token's audience was https://127.0.0.1:"},
		{"401", http.StatusUnauthorized, "", Problem, "401 Unauthorized: it did not accept the ID token", "audience must be the service's run.app URL or one of its custom audiences; it was https://127.0.0.1:"},
		{"403 from Cloud Run", http.StatusForbidden, runForbidden, Problem, "403 Forbidden: the caller may not invoke it", batchEmail + " lacks roles/run.invoker"},
		{"403 from the application", http.StatusForbidden, `{"error":"denied"}`, Problem, "403 Forbidden", "the application refused the call"},
		// A redirect is reported, not followed: following it would send the ID token along.
		{"302 is not followed", http.StatusFound, "", OK, "The service answered 302 Found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := fakegoogle.NewService(t, batchEmail)
			useADC(t, g.KeyFile)
			g.Code, g.Body = tc.code, tc.body
			f, _ := onlineWithin(t, OnlineRequest{URL: g.Target.URL + "/v1/orders?limit=1", Caller: onlineCaller(true), Timeout: 20 * time.Second, Transport: g.Target.Client().Transport}, time.Minute)
			if f.Status != tc.sev || !strings.Contains(f.Summary, tc.summary) {
				t.Errorf("got %s %q; want %s containing %q\n%v", f.Status, f.Summary, tc.sev, tc.summary, f.Detail)
			}
			if !strings.Contains(strings.Join(f.Detail, " "), tc.detail) {
				t.Errorf("detail %q lacks %q", f.Detail, tc.detail)
			}
			// The audience is the scheme and host only: no path, no query.
			if got := g.Audiences(); len(got) != 1 || got[0] != g.Target.URL {
				t.Errorf("ID tokens minted for audiences %q; want exactly [%q]", got, g.Target.URL)
			}
			if got := g.Calls(); len(got) != 1 || got[0] != "/v1/orders Bearer "+g.IDToken {
				t.Errorf("the target got %q; want one call with the minted ID token", got)
			}
			if got := g.Leaked(); len(got) > 0 {
				t.Errorf("the redirect was followed with Authorization %q", got)
			}
		})
	}
}

// TestOnlineCustomAudience runs the real path with a custom audience: the ID token is minted
// for it, and the call still goes to the URL.
func TestOnlineCustomAudience(t *testing.T) {
	const custom = "https://orders-api.acme-test.internal"
	g := fakegoogle.NewService(t, batchEmail)
	useADC(t, g.KeyFile)
	f, _ := onlineWithin(t, OnlineRequest{URL: g.Target.URL + "/v1/orders", Audience: custom, Audiences: []string{custom},
		Caller: onlineCaller(true), Timeout: 20 * time.Second, Transport: g.Target.Client().Transport}, time.Minute)
	if f.Status != OK || !strings.Contains(strings.Join(f.Detail, " "), "The ID token's audience was "+custom+".") {
		t.Errorf("got %s %q %q", f.Status, f.Summary, f.Detail)
	}
	if got := g.Audiences(); len(got) != 1 || got[0] != custom {
		t.Errorf("ID tokens minted for audiences %q; want exactly [%q]", got, custom)
	}
	if got := g.Calls(); len(got) != 1 || got[0] != "/v1/orders Bearer "+g.IDToken {
		t.Errorf("the target (the URL) got %q; want one call with the minted ID token", got)
	}
}

func TestOnlineTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	tests := []struct {
		name        string
		tokenHangs  bool
		targetHangs bool
		step        string
	}{
		// The service account's token exchange runs without any context (golang.org/x/oauth2/jwt),
		// so only the doctor's own bound can stop it.
		{"token endpoint hangs", true, false, "minting an ID token"},
		{"service hangs", false, true, "calling https://127.0.0.1:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := fakegoogle.NewService(t, batchEmail)
			useADC(t, g.KeyFile)
			g.TokenHangs, g.TargetHangs = tc.tokenHangs, tc.targetHangs
			f, elapsed := onlineWithin(t, OnlineRequest{URL: g.Target.URL, Caller: onlineCaller(true), Timeout: timeout, Transport: g.Target.Client().Transport}, 30*time.Second)
			if f.Status != Problem || f.Summary != "The online check timed out after 500ms" {
				t.Errorf("got %s %q; want PROBLEM timed out after 500ms", f.Status, f.Summary)
			}
			if !strings.Contains(strings.Join(f.Detail, " "), tc.step) || !strings.Contains(strings.Join(f.Detail, " "), "-timeout") {
				t.Errorf("detail %q does not say what was pending (%q) and how to allow longer", f.Detail, tc.step)
			}
			if elapsed < timeout {
				t.Errorf("returned after %s, before the %s timeout", elapsed, timeout)
			}
		})
	}
}

func TestOnlineCredentialErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, adc, summary string
	}{
		{"plain user login", userADC(), "not a service account identity"},
		{"missing file", "", "Could not mint an ID token: GOOGLE_APPLICATION_CREDENTIALS names a file Go cannot read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "missing.json")
			if tc.adc != "" {
				path = testdir.Write(t, filepath.Join(dir, "adc.json"), tc.adc)
			}
			useADC(t, path)
			f, _ := onlineWithin(t, OnlineRequest{URL: "https://orders-api-abc123-an.a.run.app", Caller: onlineCaller(true), Timeout: 10 * time.Second}, time.Minute)
			if f.Status != Problem || !strings.Contains(f.Summary, tc.summary) {
				t.Errorf("got %s %q %q; want PROBLEM containing %q", f.Status, f.Summary, f.Detail, tc.summary)
			}
		})
	}
}
