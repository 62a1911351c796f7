package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const devBatch = "orders-batch@acme-platform-dev.iam.gserviceaccount.com"

const testStack = `config:
  gcp:project: acme-test
  gcp:region: asia-northeast1
  private-run-api:service:
    name: orders-api
    image: asia-northeast1-docker.pkg.dev/acme-test/apps/orders-api:1.0.0
  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - user:alice@acme.example
    - name: billing-partner
      email: billing-runner@acme-billing.iam.gserviceaccount.com
    - name: cdn-purger
      invoke: false
      authz: true
`

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func impersonated(email string) string {
	return `{"type":"impersonated_service_account","delegates":[],"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/` +
		email + `:generateAccessToken","source_credentials":{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}}`
}

const plainLogin = `{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}`

func TestRun(t *testing.T) {
	testDir := t.TempDir()
	write(t, filepath.Join(testDir, "Pulumi.yaml"), "name: private-run-api\nruntime: go\n")
	write(t, filepath.Join(testDir, "Pulumi.test.yaml"), testStack)
	write(t, filepath.Join(testDir, "Pulumi.broken.yaml"), "config:\n  private-run-api:callers: 3\n")

	tests := []struct {
		name string
		args []string
		// adc is written to gcloud's file in a fresh home; "" writes nothing.
		adc      string
		code     int
		stdout   []string
		stderr   []string
		noStdout bool
	}{
		{
			name:   "dev stack, plain user login",
			args:   []string{"-stack", "dev", "-caller", "orders-batch", "-dir", "../.."},
			adc:    plainLogin,
			code:   1,
			stdout: []string{"PROBLEM  Your credentials are a plain user login", "\n           gcloud auth application-default login --impersonate-service-account " + devBatch + "\n"},
		},
		{
			name:   "dev stack, impersonating orders-batch as a listed developer",
			args:   []string{"-stack", "dev", "-caller", "orders-batch", "-dir", "../..", "-me", "user:kenji.ito@acme.example"},
			adc:    impersonated(devBatch),
			code:   0,
			stdout: []string{"OK       Your credentials impersonate " + devBatch, "0 problems, 0 warnings"},
		},
		{
			name:   "test stack, developer not granted",
			args:   []string{"-stack", "test", "-caller", "orders-batch", "-dir", testDir, "-me", "bob@acme.example"},
			adc:    impersonated("orders-batch@acme-test.iam.gserviceaccount.com"),
			code:   1,
			stdout: []string{"PROBLEM  You (user:bob@acme.example) may not impersonate"},
		},
		{
			name:   "test stack, no credentials",
			args:   []string{"-stack", "test", "-caller", "orders-batch", "-dir", testDir},
			code:   1,
			stdout: []string{"No Application Default Credentials found", "could not find default credentials"},
		},
		{
			name:   "external caller",
			args:   []string{"-stack", "test", "-caller", "billing-partner", "-dir", testDir},
			adc:    plainLogin,
			code:   1,
			stdout: []string{"PROBLEM  Caller billing-partner is external: this stack grants no impersonation"},
		},
		{
			name:   "caller that may not invoke",
			args:   []string{"-stack", "test", "-caller", "cdn-purger", "-dir", testDir},
			adc:    impersonated("cdn-purger@acme-test.iam.gserviceaccount.com"),
			code:   1,
			stdout: []string{"PROBLEM  Caller cdn-purger may not invoke the service: every call as it gets 403"},
		},
		{
			name:     "unknown caller lists the callers",
			args:     []string{"-stack", "test", "-caller", "nope", "-dir", testDir},
			code:     2,
			stderr:   []string{`caller "nope" is not in stack test`, "billing-partner (external), cdn-purger, orders-batch"},
			noStdout: true,
		},
		{
			name:     "invalid stack config prints the program's problems",
			args:     []string{"-stack", "broken", "-caller", "orders-batch", "-dir", testDir},
			code:     2,
			stderr:   []string{"invalid stack config", "callers", "gcp:project"},
			noStdout: true,
		},
		{name: "no stack", args: []string{"-caller", "orders-batch"}, code: 2, stderr: []string{"pass -stack"}, noStdout: true},
		{name: "-online without -url", args: []string{"-stack", "dev", "-caller", "orders-batch", "-online"}, code: 2,
			stderr: []string{"-online needs -url", "pulumi stack output serviceUrl --stack dev"}, noStdout: true},
		{name: "-url without -online", args: []string{"-stack", "dev", "-caller", "orders-batch", "-url", "https://x.a.run.app"}, code: 2,
			stderr: []string{"add -online"}, noStdout: true},
		{name: "plain http URL", args: []string{"-stack", "dev", "-caller", "orders-batch", "-online", "-url", "http://x.a.run.app"}, code: 2,
			stderr: []string{"https URL"}, noStdout: true},
		{name: "stray argument", args: []string{"-stack", "dev", "orders-batch"}, code: 2, stderr: []string{`unexpected argument "orders-batch"`}, noStdout: true},
		{name: "unknown flag", args: []string{"-stak", "dev"}, code: 2, stderr: []string{"flag provided but not defined: -stak"}, noStdout: true},
		{name: "help", args: []string{"-h"}, code: 0, stderr: []string{"usage: go run ./cmd/doctor", "Exit status"}, noStdout: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if tc.adc != "" {
				write(t, filepath.Join(home, ".config", "gcloud", "application_default_credentials.json"), tc.adc)
			}
			env := func(k string) string {
				if k == "HOME" {
					return home
				}
				return ""
			}
			var stdout, stderr bytes.Buffer
			code := run(tc.args, env, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			if tc.noStdout && stdout.Len() > 0 {
				t.Errorf("want nothing on stdout, got:\n%s", stdout.String())
			}
		})
	}
}
