package ci_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/bootstrap/ci"
)

// The workflows are the other half of the bootstrap's contract: they must ask for the identities
// the bootstrap creates, in the places it trusts them, and nowhere else. actionlint checks their
// syntax; these tests check that contract and the repository's rules for every workflow file,
// including ones added later.

type workflow struct {
	name string // file name
	raw  string
	doc  struct {
		On          yaml.Node      `yaml:"on"`
		Permissions any            `yaml:"permissions"`
		Jobs        map[string]job `yaml:"jobs"`
	}
}

type job struct {
	If          string            `yaml:"if"`
	Needs       any               `yaml:"needs"`
	Environment any               `yaml:"environment"`
	Permissions any               `yaml:"permissions"`
	Concurrency map[string]any    `yaml:"concurrency"`
	Uses        string            `yaml:"uses"` // a reusable workflow
	Outputs     map[string]string `yaml:"outputs"`
	Steps       []step            `yaml:"steps"`
}

type step struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// perms is the job's permissions as scope -> level; write-all and read-all become every scope.
func (j job) perms() map[string]string {
	switch p := j.Permissions.(type) {
	case map[string]any:
		out := map[string]string{}
		for k, v := range p {
			out[k] = fmt.Sprint(v)
		}
		return out
	case string:
		return map[string]string{"*": strings.TrimSuffix(p, "-all")}
	}
	return nil
}

func (j job) uses(prefix string) *step {
	for i := range j.Steps {
		if strings.HasPrefix(j.Steps[i].Uses, prefix) {
			return &j.Steps[i]
		}
	}
	return nil
}

// runsCode is whether the job checks out the repository or runs a command: what a job must not
// do while it holds a token that can write.
func (j job) runsCode() bool {
	if j.Uses != "" {
		return true
	}
	for _, s := range j.Steps {
		if s.Run != "" || strings.HasPrefix(s.Uses, "actions/checkout@") {
			return true
		}
	}
	return false
}

// jobIDs are the workflow's job IDs, sorted.
func (w *workflow) jobIDs() []string { return slices.Sorted(maps.Keys(w.doc.Jobs)) }

// events are the workflow's triggers, whichever YAML shape `on` has.
func (w *workflow) events() []string {
	var out []string
	switch n := &w.doc.On; n.Kind {
	case yaml.ScalarNode:
		out = append(out, n.Value)
	case yaml.SequenceNode:
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
	case yaml.MappingNode:
		for i := 0; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	sort.Strings(out)
	return out
}

func parseWorkflow(name string, data []byte) (*workflow, error) {
	w := &workflow{name: name, raw: string(data)}
	if err := yaml.Unmarshal(data, &w.doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return w, nil
}

const workflowsDir = "../../.github/workflows"

// allWorkflows reads every workflow file, so a workflow added later is held to the same rules.
func allWorkflows(tb testing.TB) map[string]*workflow {
	tb.Helper()
	entries, err := os.ReadDir(workflowsDir)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]*workflow{}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yml") || strings.HasSuffix(e.Name(), ".yaml")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(workflowsDir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		w, err := parseWorkflow(e.Name(), data)
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = w
	}
	for _, want := range []string{"pr.yml", "access-report.yml", ci.DefaultDeployWorkflow, ci.DefaultAuditWorkflow} {
		if out[want] == nil {
			tb.Fatalf("no .github/workflows/%s", want)
		}
	}
	return out
}

const (
	authAction   = "google-github-actions/auth@"
	pulumiAction = "pulumi/actions@"
	scriptAction = "actions/github-script@"
	appAction    = "actions/create-github-app-token@"
	forkGuard    = "github.event.pull_request.head.repo.full_name == github.repository"
)

// idTokenJobs are the only jobs that may mint an OIDC token: the preview, the deploy and the
// scheduled audit.
var idTokenJobs = map[string]bool{"pr.yml/preview": true, ci.DefaultDeployWorkflow + "/up": true, ci.DefaultAuditWorkflow + "/live": true}

var pinnedUse = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)

// unpinned lists every action or reusable workflow not pinned to a full commit SHA; a tag or
// branch can be moved under the workflow by whoever controls the action's repository.
func unpinned(w *workflow) []string {
	var out []string
	check := func(where, uses string) {
		switch {
		case uses == "", strings.HasPrefix(uses, "./"):
		case strings.HasPrefix(uses, "docker://"):
			if !strings.Contains(uses, "@sha256:") {
				out = append(out, where+": "+uses+" is not pinned to a digest")
			}
		case !pinnedUse.MatchString(uses):
			out = append(out, where+": "+uses+" is not pinned to a full commit SHA")
		}
	}
	for id, j := range w.doc.Jobs {
		check(w.name+"/"+id, j.Uses)
		for i, s := range j.Steps {
			check(fmt.Sprintf("%s/%s step %d", w.name, id, i+1), s.Uses)
		}
	}
	// Every pinned line names its version for the reader and for Dependabot.
	versioned := regexp.MustCompile(`uses: \S+@[0-9a-f]{40} # v\d+\.\d+\.\d+$`)
	for i, line := range strings.Split(w.raw, "\n") {
		if strings.Contains(line, "uses: ") && strings.Contains(line, "@") && !strings.Contains(line, "uses: ./") && !versioned.MatchString(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))) {
			out = append(out, fmt.Sprintf("%s:%d: %q lacks a # vX.Y.Z comment after the SHA", w.name, i+1, strings.TrimSpace(line)))
		}
	}
	sort.Strings(out)
	return out
}

// prCode matches what fetches or names a pull request's code in a workflow that runs with the
// base repository's secrets and tokens.
var prCode = regexp.MustCompile(`github\.event\.pull_request\.head|github\.head_ref|github\.event\.workflow_run\.(head_|pull_requests)|refs/pull/|pull/\$\{\{|gh pr checkout|merge_commit_sha`)

// materialises matches a command that would turn fetched commits into files, or run what it
// reads: in a job that names pull request code, that is the pull request's code running.
var materialises = regexp.MustCompile(`\bgit\b[^\n|;&]*\s(checkout|switch|worktree|restore|reset|read-tree|checkout-index|archive|stash|merge|rebase|cherry-pick|pull|am|apply|submodule|clone)\b|gh pr checkout|\|\s*(ba|z|da)?sh\b|\beval\b|\bsource\s`)

// privilegedEvent is whether the workflow's runs hold the base repository's secrets and a token
// that can write, whoever opened the pull request, and carry ref=refs/heads/main.
func (w *workflow) privilegedEvent() bool {
	for _, e := range w.events() {
		if e == "pull_request_target" || e == "workflow_run" {
			return true
		}
	}
	return false
}

func (s step) text() string {
	text := s.Run
	for _, m := range []map[string]string{s.With, s.Env} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			text += "\n" + k + ": " + m[k]
		}
	}
	return text
}

// holds lists what a job holds that pull request code must never reach: a write scope, an
// environment (and its secrets), or a secret.
func (j job) holds() []string {
	var out []string
	for scope, level := range j.perms() {
		if level == "write" {
			out = append(out, scope+": write")
		}
	}
	if j.Environment != nil {
		out = append(out, fmt.Sprintf("environment %v", j.Environment))
	}
	for _, s := range j.Steps {
		if strings.Contains(s.text(), "secrets.") {
			out = append(out, "secrets")
			break
		}
	}
	sort.Strings(out)
	return out
}

// untrustedCodeInPrivilegedRuns lists every way a pull_request_target or workflow_run workflow
// could run a pull request's code with its secrets or write token. Such a workflow may read a pull
// request's commits as data only: fetched as git objects, in a job that holds nothing (a read
// token, no secret, no environment), never checked out or executed; and a job that holds anything
// runs nothing from the repository at all. These runs share the default branch's cache, so none
// reads or writes one. A tripwire for review, which CODEOWNERS requires for workflows.
func untrustedCodeInPrivilegedRuns(w *workflow) []string {
	if !w.privilegedEvent() {
		return nil
	}
	var out []string
	for id, j := range w.doc.Jobs {
		where := fmt.Sprintf("%s/%s on %v", w.name, id, w.events())
		names := false
		for i, s := range j.Steps {
			text := s.text()
			if !prCode.MatchString(text) {
				continue
			}
			names = true
			if strings.HasPrefix(s.Uses, "actions/checkout@") {
				out = append(out, fmt.Sprintf("%s step %d checks out pull request code", where, i+1))
			}
		}
		if names {
			if h := j.holds(); len(h) > 0 {
				out = append(out, fmt.Sprintf("%s fetches pull request code while holding %v", where, h))
			}
			for i, s := range j.Steps {
				if materialises.MatchString(strings.ReplaceAll(s.Run, "merge-base", "mergebase")) {
					out = append(out, fmt.Sprintf("%s step %d fetches pull request code and checks out or runs something", where, i+1))
				}
			}
		}
		if h := j.holds(); len(h) > 0 && j.runsCode() {
			out = append(out, fmt.Sprintf("%s holds %v and checks out or runs code", where, h))
		}
		for i, s := range j.Steps {
			switch {
			case strings.HasPrefix(s.Uses, "actions/cache@"):
				out = append(out, fmt.Sprintf("%s step %d uses the default branch's cache", where, i+1))
			case strings.HasPrefix(s.Uses, "actions/setup-go@") && s.With["cache"] != "false":
				out = append(out, fmt.Sprintf("%s step %d: setup-go caches unless cache: false", where, i+1))
			}
		}
	}
	sort.Strings(out)
	return out
}

// expressionsInScripts lists every ${{ }} expression inside a run: script or a github-script
// script. An expression is pasted into the script's text before it runs, so a pull request's
// title, branch name or any output derived from them becomes code; values go through env.
func expressionsInScripts(w *workflow) []string {
	var out []string
	for id, j := range w.doc.Jobs {
		for i, s := range j.Steps {
			script := s.Run
			if strings.HasPrefix(s.Uses, scriptAction) {
				script = s.With["script"]
			}
			if strings.Contains(script, "${{") {
				out = append(out, fmt.Sprintf("%s/%s step %d puts a ${{ }} expression in its script; pass it through env", w.name, id, i+1))
			}
		}
	}
	sort.Strings(out)
	return out
}

// idTokenOutsideKnownJobs lists every place a workflow lets a job mint an OIDC token other than
// the three jobs the bootstrap's bindings expect.
func idTokenOutsideKnownJobs(w *workflow) []string {
	var out []string
	grants := func(p any) bool {
		switch p := p.(type) {
		case string:
			return p == "write-all"
		case map[string]any:
			return fmt.Sprint(p["id-token"]) == "write"
		}
		return false
	}
	if grants(w.doc.Permissions) {
		out = append(out, w.name+": the workflow's own permissions grant id-token: write to every job")
	}
	for id, j := range w.doc.Jobs {
		if grants(j.Permissions) && !idTokenJobs[w.name+"/"+id] {
			out = append(out, w.name+"/"+id+": id-token: write outside the preview, deploy and audit jobs")
		}
	}
	sort.Strings(out)
	return out
}

func TestEveryWorkflowPinsActionsAndKeepsOIDCAndPRCodeApart(t *testing.T) {
	for name, w := range allWorkflows(t) {
		var findings []string
		for _, check := range []func(*workflow) []string{unpinned, untrustedCodeInPrivilegedRuns, expressionsInScripts, idTokenOutsideKnownJobs} {
			findings = append(findings, check(w)...)
		}
		for _, p := range findings {
			t.Errorf("%s", p)
		}
		if m, ok := w.doc.Permissions.(map[string]any); !ok || len(m) != 0 {
			t.Errorf("%s: top-level permissions = %v, want {} so that every job states its own", name, w.doc.Permissions)
		}
		if strings.Contains(w.raw, "credentials_json") || strings.Contains(w.raw, "GOOGLE_CREDENTIALS") {
			t.Errorf("%s mentions a service account key; CI authenticates by federation only", name)
		}
		for id, j := range w.doc.Jobs {
			perms := j.perms()
			if perms == nil {
				t.Errorf("%s: job %s states no permissions", name, id)
			}
			for scope, level := range perms {
				switch {
				case level == "read" || level == "none":
				case scope == "id-token" && level == "write":
					if j.uses(authAction) == nil {
						t.Errorf("%s: job %s may mint OIDC tokens but never authenticates", name, id)
					}
				case level == "write":
					// A token that can write is held only where nothing from the repository runs.
					if j.runsCode() {
						t.Errorf("%s: job %s holds %s: write and checks out or runs code", name, id, scope)
					}
					// The access report's check comes from its App; no workflow token posts checks.
					if scope == "checks" {
						t.Errorf("%s: job %s holds checks: write; only the access-report App writes checks", name, id)
					}
					if scope == "pull-requests" && j.uses(scriptAction) == nil {
						t.Errorf("%s: job %s may write to pull requests but never comments", name, id)
					}
				default:
					t.Errorf("%s: job %s has %s: %s", name, id, scope, level)
				}
			}
			if j.uses(authAction) != nil && perms["id-token"] != "write" {
				t.Errorf("%s: job %s authenticates without id-token: write", name, id)
			}
			if p := j.uses(pulumiAction); p != nil && p.With["comment-on-pr"] == "true" {
				t.Errorf("%s: job %s lets the Pulumi action comment, which needs a write token where the program runs", name, id)
			}
		}
	}
}

// The checkers catch what they are for: the workflows of testdata/workflow-checks.yaml are each
// wrong in one way, or one a checker must let through.
func TestWorkflowCheckers(t *testing.T) {
	checkers := map[string]func(*workflow) []string{
		"unpinned":                      unpinned,
		"untrustedCodeInPrivilegedRuns": untrustedCodeInPrivilegedRuns,
		"expressionsInScripts":          expressionsInScripts,
		"idTokenOutsideKnownJobs":       idTokenOutsideKnownJobs,
	}
	// A case's fields, lower-cased, are its keys in the file.
	type checkCase struct {
		Name, File, Check, Workflow string
		Bad                         bool
	}
	judged := map[bool]map[string]int{true: {}, false: {}}
	for _, tc := range readCases[checkCase](t, "workflow-checks.yaml") {
		judged[tc.Bad][tc.Check]++
		t.Run(tc.Name, func(t *testing.T) {
			check := checkers[tc.Check]
			if check == nil {
				t.Fatalf("check %q is none of the checkers", tc.Check)
			}
			if tc.File == "" {
				tc.File = "x.yml"
			}
			w, err := parseWorkflow(tc.File, []byte(tc.Workflow))
			if err != nil {
				t.Fatal(err)
			}
			if got := check(w); (len(got) > 0) != tc.Bad {
				t.Errorf("findings %q, want bad=%v", got, tc.Bad)
			}
		})
	}
	// Every checker is shown both a workflow it must flag and one it must let through.
	for name := range checkers {
		for _, bad := range []bool{true, false} {
			if judged[bad][name] == 0 {
				t.Errorf("testdata/workflow-checks.yaml has no workflow with bad: %v for %s", bad, name)
			}
		}
	}
}

func TestPullRequestsReachOnlyThePreviewAccountAndNeverFromForks(t *testing.T) {
	w := allWorkflows(t)["pr.yml"]
	if got := w.events(); strings.Join(got, ",") != strings.Join(ci.PreviewEvents, ",") {
		t.Errorf("pr.yml runs on %v; the preview account trusts %v tokens only", got, ci.PreviewEvents)
	}
	if strings.Contains(w.raw, ci.VarDeployServiceAccount) {
		t.Errorf("pr.yml names %s: pull requests must never reach the deploy account", ci.VarDeployServiceAccount)
	}
	want := []string{"checks", "preview", "preview-comment"}
	got := w.jobIDs()
	if strings.Join(got, ",") != strings.Join(sorted(want), ",") {
		// The access report lives in access-report.yml: a copy here would run the pull
		// request's own version of this file, which proves nothing.
		t.Errorf("pr.yml has jobs %v, want %v", got, want)
	}
	for id, j := range w.doc.Jobs {
		perms := j.perms()
		usesSecrets := strings.Contains(fmt.Sprint(j), "secrets.") || j.uses(authAction) != nil || perms["pull-requests"] == "write"
		if usesSecrets && !strings.Contains(j.If, forkGuard) {
			t.Errorf("pr.yml: job %s uses secrets, a cloud identity or a write token without the fork guard (if: %q)", id, j.If)
		}
		if auth := j.uses(authAction); auth != nil {
			if auth.With["service_account"] != "${{ vars."+ci.VarPreviewServiceAccount+" }}" ||
				auth.With["workload_identity_provider"] != "${{ vars."+ci.VarWorkloadIdentityProvider+" }}" {
				t.Errorf("pr.yml: job %s authenticates as %v", id, auth.With)
			}
		}
	}

	// One CI definition: the checks job runs .ci/run and nothing else.
	checks := w.doc.Jobs["checks"]
	var runs []string
	for _, s := range checks.Steps {
		if s.Run != "" {
			runs = append(runs, strings.TrimSpace(s.Run))
		}
	}
	if strings.Join(runs, ";") != "bash .ci/run" {
		t.Errorf("checks runs %q, want only `bash .ci/run`", runs)
	}

	// The preview runs the pull request's program with no write token and no refresh, and the
	// policy pack of the base branch: a pull request cannot weaken the rules its own preview is
	// held to. (The pack runs beside the pull request's program, so this catches mistakes, not an
	// attacker; deploy.yml enforces the pack on main.)
	preview := w.doc.Jobs["preview"]
	p := preview.uses(pulumiAction)
	if p == nil || p.With["command"] != "preview" || p.With["cloud-url"] != "${{ vars."+ci.VarBackendURL+" }}" {
		t.Fatalf("preview job's pulumi step = %+v", p)
	}
	if p.With["refresh"] != "false" {
		t.Errorf("preview refresh = %q; a refresh reads the authz bucket, which the preview account must not be able to", p.With["refresh"])
	}
	for scope, level := range preview.perms() {
		if level == "write" && scope != "id-token" {
			t.Errorf("preview job holds %s: write while running the pull request's code", scope)
		}
	}
	checkouts := map[string]map[string]string{}
	for _, s := range preview.Steps {
		if strings.HasPrefix(s.Uses, "actions/checkout@") {
			checkouts[s.With["path"]] = s.With
		}
	}
	if len(checkouts) != 2 || checkouts["pr"] == nil || checkouts["pr"]["ref"] != "" || checkouts["base"]["ref"] != "${{ github.base_ref }}" {
		t.Errorf("preview checks out %v, want the pull request in pr and the base branch in base", checkouts)
	}
	if p.With["work-dir"] != "pr" || p.With["policyPacks"] != "${{ github.workspace }}/base/policy" {
		t.Errorf("preview runs in %q with policy packs %q, want pr and the base branch's ${{ github.workspace }}/base/policy", p.With["work-dir"], p.With["policyPacks"])
	}
	if sg := preview.uses("actions/setup-go@"); sg == nil || sg.With["go-version-file"] != "pr/go.mod" {
		t.Errorf("preview takes its Go version from %+v, want pr/go.mod", sg)
	}
	s := w.doc.Jobs["preview-comment"].uses(scriptAction)
	if s == nil || !strings.Contains(s.With["script"], "updateComment") || !strings.Contains(s.With["script"], "'<!-- pulumi-preview -->'") {
		t.Error("preview-comment does not update its comment in place")
	}
	if s == nil || !strings.Contains(s.With["script"], "fence") {
		t.Error("preview-comment does not fence the untrusted plan")
	}
}

// The trusted report: pull_request_target (the default branch's copy of the workflow), the tool
// built from the default branch, the pull request's head read as data, and a check run posted
// with the App's token from an environment only the default branch may use.
func TestAccessReportIsTheAppsCheckFromTheDefaultBranch(t *testing.T) {
	all := allWorkflows(t)
	w := all[accessReportWorkflow]
	if w == nil {
		t.Fatalf("no .github/workflows/%s", accessReportWorkflow)
	}
	var on struct {
		Target struct {
			Branches []string `yaml:"branches"`
		} `yaml:"pull_request_target"`
	}
	if err := w.doc.On.Decode(&on); err != nil || strings.Join(w.events(), ",") != "pull_request_target" || strings.Join(on.Target.Branches, ",") != ci.DefaultDeployBranch {
		t.Errorf("%s runs on %v for branches %v, want pull_request_target into %s only", w.name, w.events(), on.Target.Branches, ci.DefaultDeployBranch)
	}
	if strings.Contains(w.raw, "vars.GCP_") || strings.Contains(w.raw, authAction) || strings.Contains(w.raw, pulumiAction) {
		t.Errorf("%s reaches for a Google identity or Pulumi; the provider refuses pull_request_target tokens, and the report needs none", w.name)
	}
	got := w.jobIDs()
	if strings.Join(got, ",") != "check,comment,report" {
		t.Fatalf("%s has jobs %v, want check, comment and report", w.name, got)
	}

	// report: a read token and nothing else; the default branch checked out, the head fetched.
	report := w.doc.Jobs["report"]
	if p := report.perms(); len(p) != 1 || p["contents"] != "read" || report.Environment != nil || len(report.holds()) != 0 {
		t.Errorf("report holds %v (environment %v), want contents: read only", p, report.Environment)
	}
	var checkouts []step
	var script string
	for _, s := range report.Steps {
		if strings.HasPrefix(s.Uses, "actions/checkout@") {
			checkouts = append(checkouts, s)
		}
		script += s.text() + "\n"
	}
	if len(checkouts) != 1 || checkouts[0].With["ref"] != "${{ github.sha }}" || checkouts[0].With["path"] != "base" ||
		checkouts[0].With["persist-credentials"] != "false" || checkouts[0].With["fetch-depth"] != "0" {
		t.Errorf("report checks out %+v, want one checkout of ${{ github.sha }} (the default branch) in base, full history, no credentials kept", checkouts)
	}
	for _, want := range []string{
		"HEAD_SHA: ${{ github.event.pull_request.head.sha }}",
		`git -C base fetch --no-tags origin "+${HEAD_SHA}:refs/remotes/pr/head"`,
		`(cd base && go build -o "$RUNNER_TEMP/access" ./cmd/access)`,
		`ACCESS="$RUNNER_TEMP/access" DIR=base STACK="$PULUMI_STACK" BASE_REV="$GITHUB_SHA"`,
		"bash base/.github/scripts/access-report.sh",
		`GOWORK: off`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("report does not run %q", want)
		}
	}
	if sg := report.uses("actions/setup-go@"); sg == nil || sg.With["go-version-file"] != "base/go.mod" || sg.With["cache"] != "false" {
		t.Errorf("report sets up Go as %+v, want base/go.mod and no cache", sg)
	}
	// The script the report runs is held to the same rule as the workflow's own scripts.
	data, err := os.ReadFile(accessReportScript)
	if err != nil {
		t.Fatal(err)
	}
	if m := materialises.FindString(strings.ReplaceAll(string(data), "merge-base", "mergebase")); m != "" {
		t.Errorf("%s checks out or runs something (%q)", accessReportScript, m)
	}

	// check: the App's token, from the environment, and nothing run.
	check := w.doc.Jobs["check"]
	if check.Environment != accessReportEnvironment || len(check.perms()) != 0 || check.runsCode() || !strings.Contains(check.If, "!cancelled()") {
		t.Errorf("check: environment %v, permissions %v, runs code %v, if %q; want %s, {}, nothing run, and a post even when report failed",
			check.Environment, check.perms(), check.runsCode(), check.If, accessReportEnvironment)
	}
	app := check.uses(appAction)
	if app == nil || app.ID == "" || app.With["client-id"] != "${{ vars."+appClientIDVar+" }}" || app.With["private-key"] != "${{ secrets."+appKeySecret+" }}" {
		t.Fatalf("check mints the App's token as %+v", app)
	}
	var perms []string
	for k, v := range app.With {
		if strings.HasPrefix(k, "permission-") {
			perms = append(perms, k+": "+v)
		}
	}
	if strings.Join(perms, ",") != "permission-checks: write" {
		t.Errorf("the App's token asks for %v, want permission-checks: write only", perms)
	}
	post := check.uses(scriptAction)
	if post == nil || post.With["github-token"] != "${{ steps."+app.ID+".outputs.token }}" {
		t.Fatalf("check posts with %+v, want the App's token", post)
	}
	for _, want := range []string{"github.rest.checks.create", "name: process.env.CHECK_NAME", "head_sha: context.payload.pull_request.head.sha", "conclusion = 'failure'"} {
		if !strings.Contains(post.With["script"], want) {
			t.Errorf("check's script lacks %q", want)
		}
	}
	if !strings.Contains(w.raw, "CHECK_NAME: "+accessReportCheck+"\n") {
		t.Errorf("%s does not name its check %q, the name branch protection requires", w.name, accessReportCheck)
	}

	// comment: a copy for reading, which says where the truth is.
	comment := w.doc.Jobs["comment"].uses(scriptAction)
	if comment == nil || !strings.Contains(comment.With["script"], "updateComment") || !strings.Contains(comment.With["script"], "'<!-- access-report -->'") ||
		!strings.Contains(comment.With["script"], "'grants access'") || !strings.Contains(comment.With["script"], "The authority is") {
		t.Error("comment does not update one comment in place, label the pull request and point to the check as the authority")
	}
	if p := w.doc.Jobs["comment"].perms(); len(p) != 1 || p["pull-requests"] != "write" || w.doc.Jobs["comment"].Environment != nil {
		t.Errorf("comment holds %v, want pull-requests: write only", p)
	}

	// The App's key, its environment and check runs belong to this one job of this one workflow.
	for name, other := range all {
		for id, j := range other.doc.Jobs {
			if name == w.name && id == "check" {
				continue
			}
			text := fmt.Sprint(j)
			if strings.Contains(text, appKeySecret) || strings.Contains(text, appAction) || j.Environment == accessReportEnvironment || strings.Contains(text, "checks.create") || strings.Contains(text, "check-runs") {
				t.Errorf("%s/%s reaches the App, its environment or the check runs API", name, id)
			}
		}
	}
}

func TestDeployRunsOnlyTheBoundWorkflowOnMainInProduction(t *testing.T) {
	w := allWorkflows(t)[ci.DefaultDeployWorkflow]
	for _, e := range w.events() {
		allowed := false
		for _, d := range ci.DeployEvents {
			allowed = allowed || e == d
		}
		if !allowed {
			t.Errorf("%s runs on %s, which the provider refuses", w.name, e)
		}
	}
	var on struct {
		Push struct {
			Branches []string `yaml:"branches"`
		} `yaml:"push"`
	}
	if err := w.doc.On.Decode(&on); err != nil || len(on.Push.Branches) != 1 || on.Push.Branches[0] != ci.DefaultDeployBranch {
		t.Errorf("%s runs on pushes to %v, want only %s (the branch the deploy account trusts)", w.name, on.Push.Branches, ci.DefaultDeployBranch)
	}
	var deployers int
	for id, j := range w.doc.Jobs {
		auth := j.uses(authAction)
		if auth == nil {
			continue
		}
		deployers++
		if id != "up" {
			t.Errorf("%s: job %s authenticates; only up may", w.name, id)
		}
		if auth.With["service_account"] != "${{ vars."+ci.VarDeployServiceAccount+" }}" {
			t.Errorf("%s: job %s authenticates as %q", w.name, id, auth.With["service_account"])
		}
		if j.Environment != ci.DefaultDeployEnvironment {
			t.Errorf("%s: job %s runs in environment %v, want %s: the token's sub names it, and the binding requires it", w.name, id, j.Environment, ci.DefaultDeployEnvironment)
		}
		if !strings.Contains(j.If, "github.ref == 'refs/heads/"+ci.DefaultDeployBranch+"'") {
			t.Errorf("%s: job %s is not limited to the deploy branch (if: %q)", w.name, id, j.If)
		}
		if g, _ := j.Concurrency["group"].(string); g == "" || j.Concurrency["cancel-in-progress"] != false {
			t.Errorf("%s: job %s concurrency = %v, want a group per stack that never cancels a running update", w.name, id, j.Concurrency)
		}
		p := j.uses(pulumiAction)
		if p == nil || p.With["command"] != "up" || p.With["cloud-url"] != "${{ vars."+ci.VarBackendURL+" }}" || p.With["refresh"] != "true" || p.With["policyPacks"] != "policy" {
			t.Errorf("%s: job %s pulumi step = %+v", w.name, id, p)
		}
	}
	if deployers != 1 {
		t.Errorf("%s authenticates in %d jobs, want 1", w.name, deployers)
	}
	if strings.Contains(w.raw, ci.VarPreviewServiceAccount) {
		t.Errorf("%s names the preview account", w.name)
	}
	test := w.doc.Jobs["test"]
	if len(test.Steps) == 0 || strings.TrimSpace(test.Steps[len(test.Steps)-1].Run) != "bash .ci/run" {
		t.Errorf("%s: job test does not run bash .ci/run", w.name)
	}
}

// The CLI the workflows install runs the program built with go.mod's SDK: a CLI older than the
// SDK can refuse the program, so the two move together.
func TestWorkflowsPinThePulumiCLIOfGoMod(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/pulumi/pulumi/sdk/v3 v(\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/pulumi/pulumi/sdk/v3")
	}
	for name, w := range allWorkflows(t) {
		for id, j := range w.doc.Jobs {
			if p := j.uses(pulumiAction); p != nil && p.With["pulumi-version"] != string(m[1]) {
				t.Errorf("%s: job %s installs Pulumi %q, go.mod has SDK %s", name, id, p.With["pulumi-version"], m[1])
			}
		}
	}
}

// The deploy job's Pulumi CLI is downloaded by the action without a pinned checksum. Until a job
// verifies one, the README must say so as an accepted risk.
func TestUnverifiedPulumiCLIIsAnAcceptedRisk(t *testing.T) {
	w := allWorkflows(t)[ci.DefaultDeployWorkflow]
	verified := strings.Contains(w.raw, "sha256sum") || strings.Contains(w.raw, "shasum -a 256")
	if verified {
		return
	}
	risk := readmeSection(t, "Residual risk")
	if !strings.Contains(risk, "Pulumi CLI") || !strings.Contains(risk, "checksum") {
		t.Error("deploy.yml installs the Pulumi CLI without a checksum and the README's residual-risk section does not say so")
	}
}

// What only GitHub can hold (the App, its environment, branch protection) is set up by hand from
// the runbook, so the runbook must name exactly what the workflow uses.
func TestRunbookSetsUpTheAccessReportApp(t *testing.T) {
	section := readmeSection(t, "The access report App")
	for _, want := range []string{
		"`" + accessReportEnvironment + "`", "`" + appClientIDVar + "`", "`" + appKeySecret + "`",
		"`" + accessReportCheck + "`", "**Checks: Read and write**", "the branch\n   rule `main`",
		"Require review from Code Owners", "/" + accessReportWorkflow + "`", "pull_request_target",
		"from a specific App", "neutral",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("the runbook's App section does not say %q", want)
		}
	}
	w := allWorkflows(t)[accessReportWorkflow]
	if !strings.Contains(w.raw, "environment: "+accessReportEnvironment+"\n") {
		t.Errorf("%s does not use the environment %s the runbook creates", w.name, accessReportEnvironment)
	}
}

// The scheduled audit: access-live.yml runs on its schedule and by hand only, from main, as the
// audit account in its one job that holds no write token, for every stack deploy.yml deploys;
// the job that writes the issue holds issues: write alone and runs nothing from the repository.
func TestAccessLiveRunsFromMainAsTheAuditAccountAndKeepsOneIssue(t *testing.T) {
	all := allWorkflows(t)
	w := all[ci.DefaultAuditWorkflow]
	if got := w.events(); strings.Join(got, ",") != strings.Join(sorted(ci.AuditEvents), ",") {
		t.Errorf("%s runs on %v; the audit binding trusts %v tokens only", w.name, got, ci.AuditEvents)
	}
	var on struct {
		Schedule []struct {
			Cron string `yaml:"cron"`
		} `yaml:"schedule"`
	}
	if err := w.doc.On.Decode(&on); err != nil || len(on.Schedule) != 1 {
		t.Fatalf("%s schedules %+v (%v), want one cron", w.name, on.Schedule, err)
	}
	if f := strings.Fields(on.Schedule[0].Cron); len(f) != 5 || strings.ContainsAny(f[0]+f[1], "*/,-") || f[2] != "*" || f[3] != "*" || f[4] != "*" {
		t.Errorf("%s runs on cron %q, want once a day (a fixed minute and hour, every day)", w.name, on.Schedule[0].Cron)
	}
	jobs := w.jobIDs()
	if strings.Join(jobs, ",") != "issue,live" {
		t.Fatalf("%s has jobs %v, want issue and live", w.name, jobs)
	}

	live := w.doc.Jobs["live"]
	if p := live.perms(); len(p) != 2 || p["contents"] != "read" || p["id-token"] != "write" || live.Environment != nil {
		t.Errorf("live holds %v (environment %v), want contents: read and id-token: write only", p, live.Environment)
	}
	if !strings.Contains(live.If, "github.ref == 'refs/heads/"+ci.DefaultDeployBranch+"'") {
		t.Errorf("live is not limited to the default branch (if: %q)", live.If)
	}
	auth := live.uses(authAction)
	if auth == nil || auth.With["service_account"] != "${{ vars."+ci.VarAuditServiceAccount+" }}" ||
		auth.With["workload_identity_provider"] != "${{ vars."+ci.VarWorkloadIdentityProvider+" }}" {
		t.Fatalf("live authenticates as %+v, want the audit account", auth)
	}
	var script string
	for _, s := range live.Steps {
		script += s.Run + "\n"
		if strings.HasPrefix(s.Uses, "actions/checkout@") && (s.With["ref"] != "" || s.With["persist-credentials"] != "false") {
			t.Errorf("live checks out %v, want the default branch's commit and no credentials kept", s.With)
		}
	}
	for _, want := range []string{`go build -o "$RUNNER_TEMP/access" ./cmd/access`, `"$RUNNER_TEMP/access" -live -stack "$stack" -format markdown`, "for stack in $STACKS; do", `3) if [ "$code" = 0 ]; then code=3; fi ;;`} {
		if !strings.Contains(script, want) {
			t.Errorf("live does not run %q", want)
		}
	}
	// Every stack deploy.yml deploys is audited.
	stacks := map[string]string{}
	for _, name := range []string{w.name, ci.DefaultDeployWorkflow} {
		var env struct {
			Env map[string]string `yaml:"env"`
		}
		if err := yaml.Unmarshal([]byte(all[name].raw), &env); err != nil {
			t.Fatal(err)
		}
		stacks[name] = env.Env["STACKS"] + env.Env["PULUMI_STACK"]
	}
	if got, want := strings.Fields(stacks[w.name]), strings.Fields(stacks[ci.DefaultDeployWorkflow]); len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s audits stacks %q, deploy.yml deploys %q", w.name, got, want)
	}

	issue := w.doc.Jobs["issue"]
	if p := issue.perms(); len(p) != 1 || p["issues"] != "write" || issue.runsCode() || issue.Environment != nil {
		t.Errorf("issue holds %v, runs code %v; want issues: write only and nothing run", p, issue.runsCode())
	}
	post := issue.uses(scriptAction)
	if post == nil {
		t.Fatal("issue posts with no github-script")
	}
	for _, want := range []string{"'<!-- access-live -->'", "github.rest.issues.create", "github.rest.issues.update", "state: 'closed'", "process.env.CODE === '3'", "creator: 'github-actions[bot]'"} {
		if !strings.Contains(post.With["script"], want) {
			t.Errorf("issue's script lacks %q", want)
		}
	}
	if post.With["github-token"] != "" {
		t.Errorf("issue posts with %q, want the workflow's own GITHUB_TOKEN", post.With["github-token"])
	}

	// The audit account is this workflow's alone.
	for name, other := range all {
		if name != w.name && strings.Contains(other.raw, ci.VarAuditServiceAccount) {
			t.Errorf("%s names %s; only %s may use the audit account", name, ci.VarAuditServiceAccount, w.name)
		}
		if name != w.name && slices.Contains(other.events(), ci.EventSchedule) {
			t.Errorf("%s runs on a schedule; the provider accepts schedule tokens of %s only", name, w.name)
		}
	}
}

// pulumiUp finds `pulumi up` in a step's script with what follows it, up to the end of the
// command: the pattern tests/docs_test.go finds it in the docs with.
var pulumiUp = regexp.MustCompile("pulumi up\\b[^`\\n|;&)]*")

// Every workflow that runs `up` refreshes, as every documented `pulumi up` does (tests/docs_test.go):
// without it the engine diffs against its state, sees nothing of a grant made by hand, and
// leaves it; with it, the program's whole policies put every policy back.
func TestWorkflowsRefreshOnUp(t *testing.T) {
	ups := 0
	for name, w := range allWorkflows(t) {
		for id, j := range w.doc.Jobs {
			for _, s := range j.Steps {
				if strings.HasPrefix(s.Uses, "pulumi/actions@") && s.With["command"] == "up" {
					ups++
					if s.With["refresh"] != "true" {
						t.Errorf("%s/%s runs `up` with refresh %q, want true", name, id, s.With["refresh"])
					}
				}
				for _, cmd := range pulumiUp.FindAllString(s.Run, -1) {
					if !strings.Contains(cmd, "--refresh") {
						t.Errorf("%s/%s runs %q without --refresh", name, id, cmd)
					}
				}
			}
		}
	}
	if ups == 0 {
		t.Error("no workflow runs `up`: the deploy moved, and this test no longer checks it")
	}
}
