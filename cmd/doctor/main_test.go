package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/platform/private-run-api/internal/fakegoogle"
	"github.com/platform/private-run-api/internal/testcheck"
	"github.com/platform/private-run-api/internal/testdir"
	"github.com/platform/private-run-api/internal/teststack"
)

// devDir holds the fixture copy of the dev stack: Pulumi.dev.yaml is what teams edit when they
// onboard a caller, and no test may depend on what it holds.
const devDir = "../../tests/testdata/stacks/dev"

const devBatch = "orders-batch@acme-platform-dev.iam.gserviceaccount.com"

const testStack = teststack.TokyoHeader + `  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - user:alice@acme.example
    - name: billing-partner
      email: billing-runner@acme-billing.iam.gserviceaccount.com
    - name: cdn-purger
      invoke: false
      authz: true
`

// write is testdir.Write; the README's tests use it too.
var write = testdir.Write

func impersonated(email string) string {
	return `{"type":"impersonated_service_account","delegates":[],"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/` +
		email + `:generateAccessToken","source_credentials":{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}}`
}

const plainLogin = `{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}`

// projectDir writes a project named as the program's, with stack test (testStack) and stack broken
// (an invalid config).
func projectDir(t *testing.T) string {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "Pulumi.yaml"), "name: private-run-api\nruntime: go\n")
	write(t, filepath.Join(dir, "Pulumi.test.yaml"), testStack)
	write(t, filepath.Join(dir, "Pulumi.broken.yaml"), "config:\n  private-run-api:callers: 3\n")
	return dir
}

// runDoctor runs the command with args in a fresh home whose gcloud file holds adc ("" writes
// none), reports it when the exit status is not code, and returns what it wrote to stdout and
// stderr.
func runDoctor(t *testing.T, args []string, adc string, code int) (string, string) {
	t.Helper()
	home := t.TempDir()
	if adc != "" {
		write(t, filepath.Join(home, ".config", "gcloud", "application_default_credentials.json"), adc)
	}
	env := func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	if got := run(args, system{env: env, stdout: &stdout, stderr: &stderr}); got != code {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, code, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// runCase is one run of the command: its arguments, gcloud's credentials file (adc; "" writes
// none), the exit status, and what the output must hold (want: stdout for TestRun, stderr for
// TestRunRefuses).
type runCase struct {
	name string
	args []string
	adc  string
	code int
	want []string
}

// TestRun: a diagnosis is a report on stdout, and the exit status says whether it holds a problem.
func TestRun(t *testing.T) {
	testDir := projectDir(t)
	tests := []runCase{
		{
			name: "dev stack, plain user login",
			args: []string{"-stack", "dev", "-caller", "orders-batch", "-dir", devDir},
			adc:  plainLogin,
			code: 1,
			want: []string{"PROBLEM  Your credentials are a plain user login", "\n           gcloud auth application-default login --impersonate-service-account " + devBatch + "\n"},
		},
		{
			name: "dev stack, impersonating orders-batch as a listed developer",
			args: []string{"-stack", "dev", "-caller", "orders-batch", "-dir", devDir, "-me", "user:kenji.ito@acme.example"},
			adc:  impersonated(devBatch),
			code: 0,
			want: []string{"OK       Your credentials impersonate " + devBatch, "0 problems, 0 warnings"},
		},
		{
			name: "test stack, developer not granted",
			args: []string{"-stack", "test", "-caller", "orders-batch", "-dir", testDir, "-me", "bob@acme.example"},
			adc:  impersonated("orders-batch@acme-test.iam.gserviceaccount.com"),
			code: 1,
			want: []string{"PROBLEM  You (user:bob@acme.example) may not impersonate"},
		},
		{
			name: "test stack, no credentials",
			args: []string{"-stack", "test", "-caller", "orders-batch", "-dir", testDir},
			code: 1,
			want: []string{"No Application Default Credentials found", "could not find default credentials"},
		},
		{
			name: "external caller",
			args: []string{"-stack", "test", "-caller", "billing-partner", "-dir", testDir},
			adc:  plainLogin,
			code: 1,
			want: []string{"PROBLEM  Caller billing-partner is external: this stack grants no impersonation"},
		},
		{
			name: "caller that may not invoke",
			args: []string{"-stack", "test", "-caller", "cdn-purger", "-dir", testDir},
			adc:  impersonated("cdn-purger@acme-test.iam.gserviceaccount.com"),
			code: 1,
			want: []string{"PROBLEM  Caller cdn-purger may not invoke the service: every call as it gets 403"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _ := runDoctor(t, tc.args, tc.adc, tc.code)
			testcheck.Contains(t, "stdout", stdout, tc.want...)
		})
	}
}

// TestRunRefuses: a command line the doctor cannot act on, an unknown caller or an invalid stack
// exits 2 with the reason on stderr, and -h exits 0 with the usage there; none writes to stdout.
func TestRunRefuses(t *testing.T) {
	testDir := projectDir(t)
	tests := []runCase{
		{
			name: "unknown caller lists the callers",
			args: []string{"-stack", "test", "-caller", "nope", "-dir", testDir},
			code: 2,
			want: []string{`caller "nope" is not in stack test`, "billing-partner (external), cdn-purger, orders-batch"},
		},
		{
			name: "invalid stack config prints the program's problems",
			args: []string{"-stack", "broken", "-caller", "orders-batch", "-dir", testDir},
			code: 2,
			want: []string{"invalid stack config", "callers", "gcp:project"},
		},
		{name: "no stack", args: []string{"-caller", "orders-batch"}, code: 2, want: []string{"pass -stack"}},
		{name: "-online without -url", args: []string{"-stack", "dev", "-caller", "orders-batch", "-online"}, code: 2,
			want: []string{"-online needs -url", "pulumi stack output serviceUrl --stack dev"}},
		{name: "-url without -online", args: []string{"-stack", "dev", "-caller", "orders-batch", "-url", "https://x.a.run.app"}, code: 2,
			want: []string{"add -online"}},
		{name: "plain http URL", args: []string{"-stack", "dev", "-caller", "orders-batch", "-online", "-url", "http://x.a.run.app"}, code: 2,
			want: []string{"https URL"}},
		{name: "-audience without -online", args: []string{"-stack", "dev", "-caller", "orders-batch", "-audience", "https://x.a.run.app"}, code: 2,
			want: []string{"-audience is only used by -online"}},
		{name: "-audience the stack does not declare", args: []string{"-stack", "test", "-dir", testDir, "-caller", "orders-batch", "-online", "-url", "https://x.a.run.app", "-audience", "https://orders-api.internal"},
			adc: impersonated("orders-batch@acme-test.iam.gserviceaccount.com"), code: 2,
			want: []string{`-audience "https://orders-api.internal" is not an audience service orders-api accepts: the stack declares no custom audience`}},
		{name: "-online without -caller", args: []string{"-stack", "dev", "-online", "-url", "https://x.a.run.app"}, code: 2,
			want: []string{"-online calls as a caller: pass -caller NAME"}},
		{name: "-iam-token-file without -who-else", args: []string{"-stack", "dev", "-caller", "orders-batch", "-iam-token-file", "-"}, code: 2,
			want: []string{"-iam-token-file is only used by -who-else"}},
		{name: "zero timeout", args: []string{"-stack", "dev", "-caller", "orders-batch", "-timeout", "0s"}, code: 2,
			want: []string{"-timeout must be positive"}},
		{name: "-who-else on an invalid stack", args: []string{"-stack", "broken", "-who-else", "-dir", testDir}, code: 2,
			want: []string{"invalid stack config"}},
		{name: "stray argument", args: []string{"-stack", "dev", "orders-batch"}, code: 2, want: []string{`unexpected argument "orders-batch"`}},
		{name: "unknown flag", args: []string{"-stak", "dev"}, code: 2, want: []string{"flag provided but not defined: -stak"}},
		{name: "help", args: []string{"-h"}, code: 0, want: []string{"usage: go run ./cmd/doctor", "-who-else", "-timeout", "Exit status"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr := runDoctor(t, tc.args, tc.adc, tc.code)
			testcheck.Contains(t, "stderr", stderr, tc.want...)
			if stdout != "" {
				t.Errorf("want nothing on stdout, got:\n%s", stdout)
			}
		})
	}
}

// fakePolicies answers the project's and the service's IAM policy reads (any other read with an
// empty object), and records the Authorization header each read came with.
func fakePolicies(t *testing.T) *fakegoogle.Server {
	return fakegoogle.New(t, func(path string, _ []byte) (int, string, bool) {
		switch path {
		case "/v3/projects/acme-test:getIamPolicy":
			return 200, `{"bindings":[{"role":"roles/editor","members":["user:boss@acme.example","deleted:user:gone@acme.example?uid=1"]}]}`, true
		case "/v2/projects/acme-test/locations/asia-northeast1/services/orders-api:getIamPolicy":
			return 200, `{"bindings":[{"role":"roles/run.invoker","members":["serviceAccount:orders-batch@acme-test.iam.gserviceaccount.com","serviceAccount:cdn-purger@acme-test.iam.gserviceaccount.com"]}]}`, true
		}
		return 200, `{}`, true
	})
}

func TestRunWhoElse(t *testing.T) {
	testDir := projectDir(t)
	home := t.TempDir()
	write(t, filepath.Join(home, ".config", "gcloud", "application_default_credentials.json"), plainLogin)
	env := func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		// stdout holds these in this order.
		stdout []string
		absent []string
	}{
		{
			name:   "alone, reading as yourself from stdin",
			args:   []string{"-stack", "test", "-dir", testDir, "-who-else", "-iam-token-file", "-"},
			stdin:  "ya29.a0-token\n",
			code:   0,
			stdout: []string{"Who else can call service orders-api (project acme-test): outside this program's control", "INFO     1 principal can call every Cloud Run service in project acme-test", "user:boss@acme.example (roles/editor)", "WARNING  A deleted principal is still bound: deleted:user:gone@acme.example?uid=1", "gcloud projects remove-iam-policy-binding acme-test --member='deleted:user:gone@acme.example?uid=1' --role='roles/editor'"},
			absent: []string{"Local access doctor"},
		},
		{
			// The offline diagnosis decides the exit status; the report only adds to the output.
			name:   "with a caller whose diagnosis has a problem",
			args:   []string{"-stack", "test", "-dir", testDir, "-caller", "orders-batch", "-who-else", "-iam-token-file", "-"},
			stdin:  "ya29.a0-token",
			code:   1,
			stdout: []string{"Local access doctor: stack test, caller orders-batch", "PROBLEM  Your credentials are a plain user login", "\n\nWho else can call service orders-api", "A deleted principal is still bound"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakePolicies(t)
			var stdout, stderr bytes.Buffer
			code := run(tc.args, system{env: env, stdin: strings.NewReader(tc.stdin), stdout: &stdout, stderr: &stderr,
				apiOptions: []option.ClientOption{srv.Endpoint()}})
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			at := 0
			for _, s := range tc.stdout {
				i := strings.Index(out[at:], s)
				if i < 0 {
					t.Errorf("stdout lacks %q after offset %d:\n%s", s, at, out)
					continue
				}
				at += i + len(s)
			}
			for _, s := range tc.absent {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%s", s, out)
				}
			}
			srv.Close() // waits for the handlers, so what it recorded is complete
			srv.CheckBearer(t, "ya29.a0-token")
		})
	}
}

func TestRunWhoElseWithoutCredentials(t *testing.T) {
	testDir := projectDir(t)
	// Google's libraries read the real environment: point them at a file that does not exist.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(testDir, "missing.json"))
	var stdout, stderr bytes.Buffer
	code := run([]string{"-stack", "test", "-dir", testDir, "-who-else"}, system{env: func(string) string { return "" }, stdout: &stdout, stderr: &stderr})
	if code != 0 {
		t.Errorf("exit %d, want 0: the report never fails the doctor\n%s%s", code, stdout.String(), stderr.String())
	}
	want := "gcloud auth print-access-token | go run ./cmd/doctor -stack test -dir '" + testDir + "' -who-else -iam-token-file -"
	if !strings.Contains(stdout.String(), "WARNING  Could not read any IAM policy") || !strings.Contains(stdout.String(), want) {
		t.Errorf("want the no-credentials warning and %q:\n%s", want, stdout.String())
	}
}

func TestRunBadToken(t *testing.T) {
	for _, stdin := range []string{"", "two tokens", strings.Repeat("x", 20<<10), "tok\x1b[2J"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"-stack", "test", "-who-else", "-iam-token-file", "-"}, system{env: func(string) string { return "" }, stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr})
		if code != 2 || !strings.Contains(stderr.String(), "expected one OAuth access token") || stdout.Len() > 0 {
			t.Errorf("token %.20q: exit %d, stderr %q; want 2 and the expected-token message", stdin, code, stderr.String())
		}
	}
}

// useKey points GOOGLE_APPLICATION_CREDENTIALS at a service account's key file (Google's
// libraries read the real environment; the old auth path, which the doctor's -online takes), and
// returns the environment run sees.
func useKey(t *testing.T, keyFile string) func(string) string {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", keyFile)
	t.Setenv("GOOGLE_API_GO_EXPERIMENTAL_ENABLE_NEW_AUTH_LIB", "")
	return func(k string) string {
		if k == "GOOGLE_APPLICATION_CREDENTIALS" {
			return keyFile
		}
		return ""
	}
}

// TestRunOnlineTimeout checks that -timeout reaches the online check: a service account key whose
// token endpoint never answers must end in a timeout finding, not a hang.
func TestRunOnlineTimeout(t *testing.T) {
	testDir := projectDir(t)
	svc := fakegoogle.NewService(t, "orders-batch@acme-test.iam.gserviceaccount.com")
	svc.TokenHangs = true
	env := useKey(t, svc.KeyFile)

	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run([]string{"-stack", "test", "-dir", testDir, "-caller", "orders-batch", "-online", "-url", "https://orders-api-abc123-an.a.run.app", "-timeout", "300ms"},
			system{env: env, stdout: &stdout, stderr: &stderr, transport: svc.Target.Client().Transport})
	}()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(stdout.String(), "PROBLEM  The online check timed out after 300ms") {
			t.Errorf("exit %d, want 1 and the timeout finding:\n%s%s", code, stdout.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the doctor did not return")
	}
}

// TestRunOnlineCustomAudience: with service.audiences set, -online mints the ID token for the
// first one (or for -audience) and still sends the request to -url, as the README's Go example
// does. fakegoogle.Service plays the token endpoint of a service account key and the service.
func TestRunOnlineCustomAudience(t *testing.T) {
	const (
		primary = "https://orders-api.acme-test.internal"
		second  = "https://orders-api.acme-test.api.acme.example"
	)
	testDir := t.TempDir()
	write(t, filepath.Join(testDir, "Pulumi.yaml"), "name: private-run-api\nruntime: go\n")
	write(t, filepath.Join(testDir, "Pulumi.test.yaml"), teststack.TokyoHeader+"    audiences: ["+primary+", "+second+"]\n"+`  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - user:alice@acme.example
`)
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"default: the first custom audience", nil, primary},
		{"-audience picks another declared one", []string{"-audience", second}, second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := fakegoogle.NewService(t, "orders-batch@acme-test.iam.gserviceaccount.com")
			env := useKey(t, svc.KeyFile)
			var stdout, stderr bytes.Buffer
			args := append([]string{"-stack", "test", "-dir", testDir, "-caller", "orders-batch", "-online", "-url", svc.Target.URL + "/v1/orders", "-timeout", "20s"}, tc.extra...)
			code := run(args, system{env: env, stdout: &stdout, stderr: &stderr, transport: svc.Target.Client().Transport})
			out := stdout.String()
			// A key file is a PROBLEM offline (the setup avoids keys); the online call itself passes.
			if !strings.Contains(out, "OK       The service answered 200 OK to a call as orders-batch@acme-test.iam.gserviceaccount.com") ||
				!strings.Contains(out, "The ID token's audience was "+tc.want+".") {
				t.Errorf("exit %d:\n%s%s", code, out, stderr.String())
			}
			if minted := svc.Audiences(); len(minted) != 1 || minted[0] != tc.want {
				t.Errorf("ID tokens minted for %q, want [%q]", minted, tc.want)
			}
			if calls := svc.Calls(); len(calls) != 1 || calls[0] != "/v1/orders Bearer "+svc.IDToken {
				t.Errorf("calls to -url: %q; want one to /v1/orders with the minted token", calls)
			}
		})
	}
}
