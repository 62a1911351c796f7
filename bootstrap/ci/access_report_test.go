package ci_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/platform/private-run-api/internal/testdir"
)

// The access report's verdict is decided by .github/scripts/access-report.sh, which the
// access-report workflow runs from the default branch. These tests run that script against a stub
// of the access tool in a real git repository, so that every exit status and JSON shape the tool
// can produce maps to the check run conclusion the runbook promises.

// The access report's workflow, script, environment, check and App, as the runbook sets them up.
const (
	accessReportWorkflow    = "access-report.yml"
	accessReportScript      = "../../.github/scripts/access-report.sh"
	accessReportEnvironment = "access-report"
	accessReportCheck       = "access report"
	appClientIDVar          = "ACCESS_REPORT_APP_CLIENT_ID"
	appKeySecret            = "ACCESS_REPORT_APP_PRIVATE_KEY"
)

// gitRepo makes a repository whose main has moved on since the pull request branched: main is
// base -> later, the pull request is base -> head. It returns the directory and the commits.
func gitRepo(t *testing.T) (dir, base, later, head string) {
	t.Helper()
	dir = t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		return testdir.Git(t, dir, args...)
	}
	write := func(name, text string) { testdir.Write(t, filepath.Join(dir, name), text) }
	write("Pulumi.dev.yaml", "config: {}\n")
	base = testdir.Commit(t, dir, "base")
	write("later.txt", "merged after the branch point\n")
	later = testdir.Commit(t, dir, "later")
	run("checkout", "-q", "-b", "pr", base)
	write("Pulumi.dev.yaml", "config: {callers: []}\n")
	head = testdir.Commit(t, dir, "head")
	run("checkout", "-q", "main")
	return dir, base, later, head
}

// stubTool writes an access tool that answers from the STUB_* environment and records its
// arguments, one run per line, in STUB_ARGS.
func stubTool(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "access")
	script := `#!/usr/bin/env bash
printf '%s\n' "$*" >>"$STUB_ARGS"
format=""
while [ $# -gt 0 ]; do
  if [ "$1" = -format ]; then format=$2; fi
  shift
done
printf '%s' "$STUB_ERR" >&2
if [ "$format" = json ]; then
  printf '%s' "$STUB_JSON"
  exit "$STUB_JSON_CODE"
fi
printf '%s' "$STUB_MD"
exit "$STUB_MD_CODE"
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// parseOutputs reads a GITHUB_OUTPUT file: name=value lines and name<<DELIMITER blocks.
func parseOutputs(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(data, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var body []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("output %s: no closing delimiter %q", name, delim)
			}
			out[name] = strings.Join(body, "\n")
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("output line %q is neither name=value nor name<<delimiter", line)
		}
		out[name] = value
	}
	return out
}

type stub struct {
	mdCode, jsonCode string
	md, json, err    string
}

type scriptRun struct {
	outputs map[string]string
	summary string
	args    []string
}

func runAccessReport(t *testing.T, s stub, extra ...string) scriptRun {
	t.Helper()
	dir, base, later, head := gitRepo(t)
	tmp := t.TempDir()
	output, summary, args := filepath.Join(tmp, "output"), filepath.Join(tmp, "summary"), filepath.Join(tmp, "args")
	cmd := exec.Command("bash", accessReportScript)
	cmd.Env = append(os.Environ(),
		"ACCESS="+stubTool(t), "DIR="+dir, "STACK=dev", "BASE_REV="+later, "HEAD_SHA="+head,
		"GITHUB_OUTPUT="+output, "GITHUB_STEP_SUMMARY="+summary, "STUB_ARGS="+args,
		"STUB_MD_CODE="+s.mdCode, "STUB_JSON_CODE="+s.jsonCode, "STUB_MD="+s.md, "STUB_JSON="+s.json, "STUB_ERR="+s.err,
	)
	cmd.Env = append(cmd.Env, extra...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("access-report.sh: %v\n%s", err, out)
	}
	read := func(path string) string {
		data, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(data)
	}
	r := scriptRun{outputs: parseOutputs(t, read(output)), summary: read(summary)}
	if a := strings.TrimSpace(read(args)); a != "" {
		r.args = strings.Split(a, "\n")
	}
	// The tool compares the pull request's head with the commit it branched from, never with
	// main's tip (which would count main's later commits as the pull request's).
	for _, a := range r.args {
		want := "-stack dev -dir " + dir + " -base " + base + " -head " + head + " -format "
		if !strings.HasPrefix(a, want) {
			t.Errorf("tool ran with %q, want %q + format", a, want)
		}
	}
	return r
}

func TestAccessReportScriptDecidesTheCheck(t *testing.T) {
	const md = "### Access changes in stack dev\n\n```diff\n+ roles/run.invoker\n```\n"
	cases := []struct {
		name       string
		stub       stub
		code       string
		conclusion string
		title      string // a substring
		report     string // a substring
	}{
		{"no access change", stub{"0", "0", md, `{"outsideConfig":[]}`, ""}, "0", "success", "No access change", md},
		{"access changes", stub{"3", "3", md, `{"grants":[],"outsideConfig":[]}`, ""}, "3", "success", "Access changes", md},
		{"code changes beside the config", stub{"3", "3", md, `{"outsideConfig":["main.go","policy/pack.go"]}`, ""}, "3", "neutral", "2 changed file(s) beyond the stack config", md},
		{"only code changes", stub{"0", "0", md, `{"outsideConfig":[".github/workflows/pr.yml"]}`, ""}, "0", "neutral", "1 changed file(s)", md},
		{"no outsideConfig", stub{"0", "0", md, `{"grants":[]}`, ""}, "0", "failure", "no outsideConfig list", "no outsideConfig list"},
		{"outsideConfig not a list", stub{"3", "3", md, `{"outsideConfig":"main.go"}`, ""}, "3", "failure", "no outsideConfig list", ""},
		{"JSON is not JSON", stub{"3", "3", md, `grants: none`, ""}, "3", "failure", "no outsideConfig list", ""},
		{"the runs disagree", stub{"3", "1", md, "", "cannot read head"}, "3", "failure", "JSON run exited 1", "cannot read head"},
		{"invalid config", stub{"2", "2", "", "", "Pulumi.dev.yaml: callers[0].name: invalid value \"x y\""}, "2", "failure", "invalid", `callers[0].name: invalid value "x y"`},
		{"tool error", stub{"1", "1", "", "", "unknown revision"}, "1", "failure", "failed (exit 1)", "unknown revision"},
		{"tool crash", stub{"134", "134", "", "", "panic"}, "134", "failure", "failed (exit 134)", "panic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runAccessReport(t, tc.stub)
			o := r.outputs
			if o["code"] != tc.code || o["conclusion"] != tc.conclusion || !strings.Contains(o["title"], tc.title) {
				t.Errorf("code %q conclusion %q title %q, want %q %q %q", o["code"], o["conclusion"], o["title"], tc.code, tc.conclusion, tc.title)
			}
			if !strings.Contains(o["report"], tc.report) {
				t.Errorf("report %q does not contain %q", o["report"], tc.report)
			}
			if strings.Contains(o["title"], "\n") || o["title"] == "" {
				t.Errorf("title %q is not one line", o["title"])
			}
			if len(r.args) != 2 || !strings.HasSuffix(r.args[0], "-format markdown") || !strings.HasSuffix(r.args[1], "-format json") {
				t.Errorf("tool runs %q, want one markdown and one json run", r.args)
			}
			if !strings.Contains(r.summary, strings.TrimSpace(o["report"])) {
				t.Errorf("the job summary %q lacks the report", r.summary)
			}
		})
	}
}

// Text from the pull request (here, the tool's error about its config) cannot close the code
// block it is shown in, and a report too long for a check run is cut at a character boundary.
func TestAccessReportScriptFencesAndCutsUntrustedText(t *testing.T) {
	t.Run("fence", func(t *testing.T) {
		evil := "Pulumi.dev.yaml: bad value\n~~~~~\n# forged heading\n~~~~~"
		r := runAccessReport(t, stub{"2", "2", "", "", evil})
		rep := r.outputs["report"]
		if !strings.Contains(rep, "\n~~~~~~\n"+evil+"\n~~~~~~") {
			t.Errorf("report does not fence the error in a run of 6 tildes:\n%s", rep)
		}
	})
	t.Run("cut", func(t *testing.T) {
		long := "### report\n" + strings.Repeat("é", 40000) // 80000 bytes
		r := runAccessReport(t, stub{"3", "3", long, `{"outsideConfig":[]}`, ""}, "LIMIT=30001")
		rep := r.outputs["report"]
		if !utf8.ValidString(rep) {
			t.Error("the cut report is not valid UTF-8")
		}
		if len(rep) > 30001+200 || !strings.Contains(rep, "(cut at 30001 bytes") {
			t.Errorf("report of %d bytes, want at most the limit and a note that it was cut", len(rep))
		}
		if !strings.Contains(r.summary, long) {
			t.Error("the job summary does not hold the whole report")
		}
		if r.outputs["conclusion"] != "success" {
			t.Errorf("conclusion %q", r.outputs["conclusion"])
		}
	})
}

// A head commit the checkout does not hold (the fetch failed) is a failure, not an empty report.
func TestAccessReportScriptFailsWithoutTheHead(t *testing.T) {
	dir, _, later, _ := gitRepo(t)
	tmp := t.TempDir()
	output := filepath.Join(tmp, "output")
	cmd := exec.Command("bash", accessReportScript)
	cmd.Env = append(os.Environ(), "ACCESS="+stubTool(t), "DIR="+dir, "STACK=dev", "BASE_REV="+later,
		"HEAD_SHA="+strings.Repeat("0", 40), "GITHUB_OUTPUT="+output, "STUB_ARGS="+filepath.Join(tmp, "args"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("access-report.sh: %v\n%s", err, out)
	}
	data, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	o := parseOutputs(t, string(data))
	if o["conclusion"] != "failure" || !strings.Contains(o["title"], "No merge base") {
		t.Errorf("conclusion %q title %q, want a failure naming the merge base", o["conclusion"], o["title"])
	}
	if _, err := os.Stat(filepath.Join(tmp, "args")); !os.IsNotExist(err) {
		t.Error("the tool ran without a merge base")
	}
}
