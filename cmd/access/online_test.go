package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/api/option"

	"github.com/platform/private-run-api/internal/fakegoogle"
	"github.com/platform/private-run-api/internal/testdir"
	"github.com/platform/private-run-api/internal/teststack"
)

// fakeGoogle answers every request of -live and -usage with one status and body, and records
// the Authorization header each came with. The report's own tests (access/live) vary the
// answers; these check the command around them: flags, exit statuses, credentials.
// With credentials false the clients get no credentials of their own (a test machine has none);
// with true they get none from the test, so that -iam-token-file's token is what they send.
func fakeGoogle(t *testing.T, code int, body string, credentials ...bool) *fakegoogle.Server {
	t.Helper()
	srv := fakegoogle.New(t, func(string, []byte) (int, string, bool) { return code, body, true })
	old := apiOptions
	apiOptions = []option.ClientOption{srv.Endpoint()}
	if len(credentials) == 0 || !credentials[0] {
		// An HTTP client of the test's own: the clients then send no credentials at all.
		apiOptions = srv.Options()
	}
	t.Cleanup(func() { apiOptions = old })
	return srv
}

const forbidden = fakegoogle.Forbidden

// emptyStack declares no caller: every policy it owns is empty, so empty live policies equal it.
func emptyStack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testdir.Write(t, filepath.Join(dir, "Pulumi.yaml"), teststack.ProjectFile)
	testdir.Write(t, filepath.Join(dir, "Pulumi.test.yaml"), teststack.Header)
	return dir
}

func TestLiveExitStatuses(t *testing.T) {
	dev, _ := project(t)
	for _, tc := range []struct {
		name, dir, stack string
		code             int
		body             string
		exit             int
		out              []string
	}{
		{"live equals declared", emptyStack(t), "test", 200, `{}`, 0, []string{"Live access of stack test, project acme-test", "live equals declared", "project acme-test: nobody"}},
		{"live differs", dev, "dev", 200, `{}`, 3, []string{"live differs from declared", "(missing)", "`pulumi up --refresh --stack dev` grants it"}},
		{"nothing readable", dev, "dev", 403, forbidden, 4, []string{"could not read 8 declared policies; nothing else differs", "cannot read", "audit account"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakeGoogle(t, tc.code, tc.body)
			code, out, errOut := runCLI(t, "-stack", tc.stack, "-dir", tc.dir, "-live", now)
			if code != tc.exit || errOut != "" {
				t.Fatalf("exit %d, stderr %q; want %d:\n%s", code, errOut, tc.exit, out)
			}
			contains(t, "report", out, tc.out...)
		})
	}
}

func TestUsageExitStatusesAndFormats(t *testing.T) {
	dev, _ := project(t)
	fakeGoogle(t, 403, forbidden)
	code, out, errOut := runCLI(t, "-stack", "dev", "-dir", dev, "-usage", "-since", "7d", "-format", "json", now)
	if code != 4 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 4 (nothing could be read):\n%s", code, errOut, out)
	}
	var u struct {
		From, To string
		Complete bool
		Sources  []struct{ Project, Error string }
	}
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if u.From != "2026-11-16T00:00:00Z" || u.To != "2026-11-23T00:00:00Z" || u.Complete || len(u.Sources) != 1 || !strings.Contains(u.Sources[0].Error, "403") {
		t.Errorf("usage JSON %+v, want a 7-day window ending at -now, and the unreadable project", u)
	}
}

func TestTokenFileIsSentAsBearer(t *testing.T) {
	srv := fakeGoogle(t, 200, `{}`, true)
	old := stdin
	stdin = strings.NewReader("ya29.token-from-gcloud\n")
	t.Cleanup(func() { stdin = old })
	if code, out, errOut := runCLI(t, "-stack", "test", "-dir", emptyStack(t), "-live", "-iam-token-file", "-", now); code != 0 {
		t.Fatalf("exit %d, stderr %q:\n%s", code, errOut, out)
	}
	srv.CheckBearer(t, "ya29.token-from-gcloud")
}

func TestOnlineFlagMistakesExit1(t *testing.T) {
	dir, _ := project(t)
	empty := filepath.Join(t.TempDir(), "empty")
	testdir.Write(t, empty, "\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-live", "-usage"}, "-live and -usage are two reports"},
		{[]string{"-live", "-base", "origin/main"}, "-base compares two stack files"},
		{[]string{"-iam-token-file", "-"}, "-iam-token-file is only read by -live and -usage"},
		{[]string{"-live", "-since", "7d"}, "-since is only read by -usage"},
		{[]string{"-usage", "-since", "a month"}, `-since "a month" is not a window`},
		{[]string{"-usage", "-since", "0d"}, `-since "0d" is not a window`},
		{[]string{"-live", "-timeout", "0s"}, "-timeout 0s is not a positive duration"},
		{[]string{"-live", "-iam-token-file", empty}, "holds no single access token"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fakeGoogle(t, 500, `{}`)
			code, out, errOut := runCLI(t, append([]string{"-stack", "dev", "-dir", dir}, tc.args...)...)
			if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing printed, and %q", code, out, errOut, tc.want)
			}
		})
	}
}
