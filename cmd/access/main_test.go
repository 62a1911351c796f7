package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/testdir"
)

const now = "-now=2026-11-23T00:00:00Z"

// modify is the change an onboarding pull request makes: a new caller, a default impersonator's
// expiry moved, and one caller removed.
func modify(t *testing.T, s string) string {
	t.Helper()
	for _, r := range [][2]string{
		{"    - name: billing-partner\n", "    - name: orders-audit\n      description: Monthly audit export of orders.\n    - name: billing-partner\n"},
		{`expires: "2027-03-31T00:00:00Z"`, `expires: "2027-06-30T00:00:00Z"`},
		{"    - name: cdn-purger\n      description: Purges CDN caches; passes the authz guard only, never calls the API.\n      invoke: false\n      authz: true\n", ""},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("the example stack changed: %q not found; update this test's edit", r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	return s
}

// project copies the documented example stack (tests/testdata/stacks/dev: Pulumi.yaml and
// Pulumi.dev.yaml as README.md describes them) into a temp dir. Never the repository's own
// Pulumi.dev.yaml: teams edit that one, and no valid edit may break a test.
func project(t *testing.T) (dir, devYAML string) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "tests", "testdata", "stacks", "dev", name))
		if err != nil {
			t.Fatal(err)
		}
		testdir.Write(t, filepath.Join(dir, name), string(data))
		if name == "Pulumi.dev.yaml" {
			devYAML = string(data)
		}
	}
	return dir, devYAML
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

const (
	audit = "orders-audit@acme-platform-dev.iam.gserviceaccount.com"
	purge = "cdn-purger@acme-platform-dev.iam.gserviceaccount.com"
)

// wantDiff are lines the onboarding change must show, one per grant, grouped by principal.
var wantDiff = []string{
	"grants 4 added, 4 removed, 2 changed; created resources 1 added, 1 removed, 0 changed",
	"  group:orders-api-developers@acme.example\n    - roles/iam.serviceAccountTokenCreator on service account " + purge + "\n    + roles/iam.serviceAccountTokenCreator on service account " + audit + "; no expiry; may impersonate caller orders-audit\n",
	"  serviceAccount:" + audit + "\n    + roles/iam.serviceAccountOpenIdTokenCreator on service account " + audit,
	"    + roles/run.invoker on service orders-api; no expiry; caller orders-audit may call the service\n",
	"    - projects/acme-platform-dev/roles/ordersApiAuthz on bucket acme-platform-dev-orders-api-authz\n",
	"    ~ roles/iam.serviceAccountTokenCreator on service account orders-batch@acme-platform-dev.iam.gserviceaccount.com: expiry 2027-03-31T00:00:00Z -> 2027-06-30T00:00:00Z\n",
	"  - service account " + purge + " (caller cdn-purger;",
	"  + service account " + audit + ` (caller orders-audit; "Monthly audit export of orders.")`,
}

func TestReport(t *testing.T) {
	dir, _ := project(t)
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"text", []string{
			"Access report for stack dev, project acme-platform-dev (expiries judged at 2026-11-23T00:00:00Z)",
			"Grants (17), by principal",
			"  user:kenji.ito@acme.example\n    roles/iam.serviceAccountTokenCreator  ",
			"  serviceAccount:billing-runner@acme-billing-prod.iam.gserviceaccount.com\n    roles/run.invoker  ",
			"Created (7)",
		}},
		{"markdown", []string{"### Access report: stack `dev`", "| `user:hana.sato@acme.example` | `roles/iam.serviceAccountTokenCreator` | service account `orders-batch@acme-platform-dev.iam.gserviceaccount.com` | 2027-03-31T00:00:00Z |"}},
		{"json", []string{`"project": "acme-platform-dev"`}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			code, out, errOut := runCLI(t, "-stack", "dev", "-dir", dir, "-format", tc.format, now)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, errOut)
			}
			contains(t, "report", out, tc.want...)
			if tc.format == "json" {
				var r struct {
					Grants []struct{ Principal, Role string }
				}
				if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Grants) != 17 {
					t.Errorf("JSON report: %d grants, err %v; want 17", len(r.Grants), err)
				}
			}
		})
	}
}

func TestDiffAgainstFile(t *testing.T) {
	dir, dev := project(t)
	same := filepath.Join(dir, "same.yaml")
	testdir.Write(t, same, dev)

	code, out, errOut := runCLI(t, "-stack", "dev", "-dir", dir, "-base", same, now)
	if code != 0 {
		t.Fatalf("same config: exit %d, want 0\n%s%s", code, out, errOut)
	}
	contains(t, "no-change output", out, "No access change in stack dev ("+same+" -> ")
	if strings.Contains(out, "roles/") {
		t.Errorf("no-change output lists grants:\n%s", out)
	}

	testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), modify(t, dev))
	code, out, errOut = runCLI(t, "-stack", "dev", "-dir", dir, "-base", same, now)
	if code != 3 {
		t.Fatalf("onboarding change: exit %d, want 3\n%s%s", code, out, errOut)
	}
	contains(t, "diff", out, wantDiff...)
	if strings.Contains(out, "kenji.ito") {
		t.Errorf("the diff mentions a principal whose access did not change:\n%s", out)
	}

	code, out, _ = runCLI(t, "-stack", "dev", "-dir", dir, "-base", same, "-format", "markdown", now)
	if code != 3 {
		t.Fatalf("markdown: exit %d, want 3", code)
	}
	contains(t, "markdown diff", out, "```diff\n", "\n+ roles/run.invoker on service orders-api; no expiry; caller orders-audit may call the service\n")
}

func TestInvalidConfigExits2WithoutReport(t *testing.T) {
	dir, dev := project(t)
	good := filepath.Join(dir, "good.yaml")
	testdir.Write(t, good, dev)
	bad := strings.Replace(dev, "    - name: orders-front\n", "    - name: Orders_Front\n", 1)
	bad = strings.Replace(bad, "    ingress: all\n", "    ingress: public\n", 1)
	if bad == dev {
		t.Fatal("edit did nothing")
	}

	t.Run("head", func(t *testing.T) {
		testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), bad)
		for _, args := range [][]string{{}, {"-base", good}, {"-format", "json"}} {
			code, out, errOut := runCLI(t, append([]string{"-stack", "dev", "-dir", dir, now}, args...)...)
			if code != 2 {
				t.Errorf("%v: exit %d, want 2", args, code)
			}
			if out != "" {
				t.Errorf("%v: an invalid config must print no report, got:\n%s", args, out)
			}
			contains(t, "stderr", errOut,
				"invalid stack config (2 problems); nothing was deployed:",
				`  - service.ingress "public": is not a known ingress`,
				`  - callers[1].name "Orders_Front": must be 6-30 chars`)
		}
		testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), dev)
	})

	t.Run("base", func(t *testing.T) {
		badBase := filepath.Join(dir, "bad.yaml")
		testdir.Write(t, badBase, bad)
		code, out, errOut := runCLI(t, "-stack", "dev", "-dir", dir, "-base", badBase, now)
		if code != 2 || out != "" {
			t.Errorf("invalid base: exit %d, stdout %q; want 2 and nothing", code, out)
		}
		contains(t, "stderr", errOut, "base "+badBase+": invalid stack config (2 problems)")
	})
}

func TestOtherFailuresExit1(t *testing.T) {
	dir, _ := project(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no stack", []string{"-dir", dir}, "-stack is required"},
		{"bad format", []string{"-stack", "dev", "-dir", dir, "-format", "yaml"}, `unknown format "yaml": use text, markdown or json`},
		{"bad now", []string{"-stack", "dev", "-dir", dir, "-now", "tomorrow"}, `-now "tomorrow" is not an RFC 3339 time`},
		{"unknown flag", []string{"-stack", "dev", "-bogus"}, "flag provided but not defined: -bogus"},
		{"stray argument", []string{"-stack", "dev", "-dir", dir, "dev"}, `unexpected argument "dev"`},
		{"missing stack file", []string{"-stack", "prod", "-dir", dir}, "Pulumi.prod.yaml: no such file"},
		{"base neither file nor revision", []string{"-stack", "dev", "-dir", dir, "-base", "no-such-rev"}, `-base "no-such-rev" is neither an existing file nor a git revision`},
		{"base option-like", []string{"-stack", "dev", "-dir", dir, "-base", "--output=/tmp/x"}, "is neither an existing file nor a git revision"},
		{"base outside a repository", []string{"-stack", "dev", "-dir", dir, "-base", "HEAD"}, "not a git repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; want 1 and no output", code, out)
			}
			contains(t, "stderr", errOut, tc.want)
		})
	}

	t.Run("help", func(t *testing.T) {
		code, out, errOut := runCLI(t, "-h")
		if code != 0 || out != "" {
			t.Errorf("-h: exit %d, stdout %q", code, out)
		}
		contains(t, "usage", errOut, "usage: go run ./cmd/access -stack NAME", "3  access changed", "-format string")
	})
}

func TestDiffAgainstGitRevision(t *testing.T) {
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	// The program lives in a subdirectory of the repository, so that "rev:./file" must resolve
	// from -dir rather than from the repository root.
	repo := t.TempDir()
	src, dev := project(t)
	dir := filepath.Join(repo, "infra")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pulumiYAML, err := os.ReadFile(filepath.Join(src, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	testdir.Write(t, filepath.Join(dir, "Pulumi.yaml"), string(pulumiYAML))
	testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), dev)
	testdir.Commit(t, repo, "dev stack")

	code, out, errOut := runCLI(t, "-stack", "dev", "-dir", dir, "-base", "HEAD", now)
	if code != 0 {
		t.Fatalf("unchanged working tree: exit %d, want 0\n%s%s", code, out, errOut)
	}
	contains(t, "output", out, "No access change in stack dev (HEAD (")

	testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), modify(t, dev))
	code, out, errOut = runCLI(t, "-stack", "dev", "-dir", dir, "-base", "HEAD", now)
	if code != 3 {
		t.Fatalf("modified working tree: exit %d, want 3\n%s%s", code, out, errOut)
	}
	contains(t, "diff", out, wantDiff...)

	// Once committed, the change is the base: nothing left to report.
	testdir.Git(t, repo, "commit", "-q", "-am", "onboard orders-audit")
	if code, out, _ = runCLI(t, "-stack", "dev", "-dir", dir, "-base", "HEAD", now); code != 0 {
		t.Errorf("after commit: exit %d, want 0\n%s", code, out)
	}
	// ...and the previous commit shows it again.
	if code, out, _ = runCLI(t, "-stack", "dev", "-dir", dir, "-base", "HEAD~1", now); code != 3 || !strings.Contains(out, "+ roles/run.invoker on service orders-api") {
		t.Errorf("against HEAD~1: exit %d, want 3 with the new invoker\n%s", code, out)
	}

	// An unknown revision in a repository is a failure, not an empty base.
	code, out, errOut = runCLI(t, "-stack", "dev", "-dir", dir, "-base", "origin/main", now)
	if code != 1 || out != "" {
		t.Errorf("unknown revision: exit %d, stdout %q; want 1 and no output", code, out)
	}
	contains(t, "stderr", errOut, `-base "origin/main" is neither an existing file nor a git revision`, "shallow CI checkout")

	// A stack that does not exist at the base grants nothing there: all of it is added.
	testdir.Write(t, filepath.Join(dir, "Pulumi.staging.yaml"), dev)
	code, out, errOut = runCLI(t, "-stack", "staging", "-dir", dir, "-base", "HEAD", now)
	if code != 3 {
		t.Fatalf("new stack: exit %d, want 3\n%s%s", code, out, errOut)
	}
	contains(t, "new stack diff", out, ", without Pulumi.staging.yaml -> ", "grants 17 added, 0 removed, 0 changed; created resources 7 added, 0 removed, 0 changed")
	if strings.Contains(out, "\n    - ") || strings.Contains(out, "\n    ~ ") {
		t.Errorf("a new stack can only add:\n%s", out)
	}
}

// prRepo is a repository as the access report's CI job sees it: main holds the example stack,
// and a pull request's head commit (refs/pull/head) edits files; nothing of it is checked out.
func prRepo(t *testing.T, edit func(dir string)) (repo string) {
	t.Helper()
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	repo, _ = project(t)
	testdir.Write(t, filepath.Join(repo, "main.go"), "package main\n")
	testdir.Commit(t, repo, "main")
	testdir.Git(t, repo, "checkout", "-q", "-b", "pr")
	edit(repo)
	testdir.Commit(t, repo, "pull request")
	testdir.Git(t, repo, "update-ref", "refs/pull/head", "HEAD")
	// The working tree goes back to main: -head must read the pull request from git alone.
	testdir.Git(t, repo, "checkout", "-q", "main")
	return repo
}

func TestHeadRevisionIsReadFromGitAlone(t *testing.T) {
	type summary struct {
		Changed       bool     `json:"changed"`
		OutsideConfig []string `json:"outsideConfig"`
		Head          string   `json:"head"`
	}
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, dir string)
		code    int
		outside []string
		want    []string
	}{
		{
			name: "a stack file only",
			edit: func(t *testing.T, dir string) {
				data, _ := os.ReadFile(filepath.Join(dir, "Pulumi.dev.yaml"))
				testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), modify(t, string(data)))
			},
			code: 3,
			want: wantDiff,
		},
		{
			name: "code beside the stack file",
			edit: func(t *testing.T, dir string) {
				data, _ := os.ReadFile(filepath.Join(dir, "Pulumi.dev.yaml"))
				testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), modify(t, string(data)))
				testdir.Write(t, filepath.Join(dir, "main.go"), "package main\n\n// grants more\n")
				if err := os.Mkdir(filepath.Join(dir, "policy"), 0o755); err != nil {
					t.Fatal(err)
				}
				testdir.Write(t, filepath.Join(dir, "policy", "rules.go"), "package policy\n")
			},
			code:    3,
			outside: []string{"main.go", "policy/rules.go"},
			want:    []string{"!! This change also touches files besides stack files", "!!   main.go", "!!   policy/rules.go"},
		},
		{
			// Moving a list into Pulumi.yaml as a project default keeps it deployed: the engine
			// applies it. The report must show the attacker's grants, not the list's removal.
			name: "impersonators moved into Pulumi.yaml",
			edit: func(t *testing.T, dir string) {
				data, _ := os.ReadFile(filepath.Join(dir, "Pulumi.dev.yaml"))
				s := string(data)
				start := strings.Index(s, "  private-run-api:impersonators:\n")
				end := strings.Index(s, "  private-run-api:callers:\n")
				if start < 0 || end < start {
					t.Fatal("the example stack changed: no impersonators list before the callers")
				}
				testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), s[:start]+s[end:])
				testdir.Write(t, filepath.Join(dir, "Pulumi.yaml"), "name: private-run-api\nruntime: go\nconfig:\n  impersonators:\n    - group:orders-api-developers@acme.example\n    - member: user:hana.sato@acme.example\n      expires: \"2027-03-31T00:00:00Z\"\n    - user:attacker@evil.example\n")
			},
			code:    3,
			outside: []string{"Pulumi.yaml"},
			want:    []string{"grants 3 added, 0 removed, 0 changed", "  user:attacker@evil.example\n    + roles/iam.serviceAccountTokenCreator on service account cdn-purger@", "+ roles/iam.serviceAccountTokenCreator on service account orders-batch@"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := prRepo(t, func(dir string) { tc.edit(t, dir) })
			code, out, errOut := runCLI(t, "-stack", "dev", "-dir", repo, "-base", "main", "-head", "refs/pull/head", now)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			contains(t, "diff", out, tc.want...)
			if len(tc.outside) == 0 && strings.Contains(out, "besides stack files") {
				t.Errorf("a change of stack files only has the banner:\n%s", out)
			}
			_, js, _ := runCLI(t, "-stack", "dev", "-dir", repo, "-base", "main", "-head", "refs/pull/head", "-format", "json", now)
			var s summary
			if err := json.Unmarshal([]byte(js), &s); err != nil {
				t.Fatalf("json: %v\n%s", err, js)
			}
			if strings.Join(s.OutsideConfig, " ") != strings.Join(tc.outside, " ") || !s.Changed || !strings.HasPrefix(s.Head, "refs/pull/head (") {
				t.Errorf("json summary = %+v, want outsideConfig %v", s, tc.outside)
			}
			_, md, _ := runCLI(t, "-stack", "dev", "-dir", repo, "-base", "main", "-head", "refs/pull/head", "-format", "markdown", now)
			if (len(tc.outside) > 0) != strings.HasPrefix(md, "> [!WARNING]\n") {
				t.Errorf("markdown banner is wrong for outsideConfig %v:\n%s", tc.outside, md)
			}
		})
	}
}

// TestConfigTheToolCannotSeeExits2: what the engine would resolve and a file reader cannot is
// refused as an invalid config, with no report, never left out of it.
func TestConfigTheToolCannotSeeExits2(t *testing.T) {
	dir, dev := project(t)
	for _, tc := range []struct{ name, file, text, want string }{
		{"ESC environment", "Pulumi.dev.yaml", "environment:\n  - acme/orders-dev\n" + dev, "imports Pulumi ESC environments"},
		{"secret", "Pulumi.dev.yaml", strings.Replace(dev, "  private-run-api:labels:\n    team: platform\n    env: dev\n", "  private-run-api:labels:\n    secure: v1:abc\n", 1), "private-run-api:labels: is a secret (secure:)"},
		{"secret in Pulumi.yaml", "Pulumi.yaml", "name: private-run-api\nruntime: go\nconfig:\n  labels:\n    type: string\n    secret: true\n", "Pulumi.yaml declares it secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig, _ := os.ReadFile(filepath.Join(dir, tc.file))
			t.Cleanup(func() { testdir.Write(t, filepath.Join(dir, tc.file), string(orig)) })
			if tc.file == "Pulumi.dev.yaml" && tc.text == dev {
				t.Fatal("the edit did not apply")
			}
			testdir.Write(t, filepath.Join(dir, tc.file), tc.text)
			code, out, errOut := runCLI(t, "-stack", "dev", "-dir", dir, now)
			if code != 2 || out != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			contains(t, "stderr", errOut, tc.want)
		})
	}
}

// TestCallerFilesAreConfig: a pull request that onboards a caller by adding its file is read, file
// and all, from git alone, reports the caller's grants, and touches nothing besides config.
func TestCallerFilesAreConfig(t *testing.T) {
	repo := prRepo(t, func(dir string) {
		data, _ := os.ReadFile(filepath.Join(dir, "Pulumi.dev.yaml"))
		testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), string(data)+"  private-run-api:callersDir: callers\n")
		if err := os.Mkdir(filepath.Join(dir, "callers"), 0o755); err != nil {
			t.Fatal(err)
		}
		testdir.Write(t, filepath.Join(dir, "callers", "orders-audit.yaml"), "description: Monthly audit export of orders.\nauthz: true\n")
	})
	code, out, errOut := runCLI(t, "-stack", "dev", "-dir", repo, "-base", "main", "-head", "refs/pull/head", now)
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", code, out, errOut)
	}
	contains(t, "diff", out, "+ roles/run.invoker on service orders-api; no expiry; caller orders-audit may call the service",
		"+ service account orders-audit@acme-platform-dev.iam.gserviceaccount.com (caller orders-audit")
	if strings.Contains(out, "besides stack files") {
		t.Errorf("a caller file counts as config, yet the diff has the banner:\n%s", out)
	}

	// A broken caller file in the working tree: exit 2, naming the file and the path in it.
	testdir.Git(t, repo, "checkout", "-q", "pr")
	testdir.Write(t, filepath.Join(repo, "callers", "orders-audit.yaml"), "invok: false\n")
	code, out, errOut = runCLI(t, "-stack", "dev", "-dir", repo, now)
	if code != 2 || out != "" {
		t.Errorf("broken caller file: exit %d, stdout %q; want 2 and nothing", code, out)
	}
	contains(t, "stderr", errOut, `callers/orders-audit.yaml:invok: is not a known key; did you mean "invoke"?`)
}

// TestConfigTheEngineCannotPassExits2: a stack whose config is over what the Go language host can
// pass in PULUMI_CONFIG is refused with its size, the limit and the fix, before any engine fails.
func TestConfigTheEngineCannotPassExits2(t *testing.T) {
	dir, dev := project(t)
	var b strings.Builder
	b.WriteString(dev)
	b.WriteString("  private-run-api:labels2:\n") // unknown, but the size is checked first
	for i := 0; b.Len() < 140_000; i++ {
		fmt.Fprintf(&b, "    key%05d: %s\n", i, strings.Repeat("v", 40))
	}
	testdir.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), b.String())
	code, out, errOut := runCLI(t, "-stack", "dev", "-dir", dir, now)
	if code != 2 || out != "" {
		t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
	}
	contains(t, "stderr", errOut, `config "1`, "bytes\": is more config than the engine can hand the program", "131072 bytes", "move callers into files (callersDir")
}
