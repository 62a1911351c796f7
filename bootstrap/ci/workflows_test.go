package ci_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	for _, want := range []string{"pr.yml", ci.DefaultDeployWorkflow} {
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
	forkGuard    = "github.event.pull_request.head.repo.full_name == github.repository"
)

// idTokenJobs are the only jobs that may mint an OIDC token: the preview and the deploy.
var idTokenJobs = map[string]bool{"pr.yml/preview": true, ci.DefaultDeployWorkflow + "/up": true}

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

// dangerousCheckouts lists every step of a pull_request_target or workflow_run workflow that
// checks out or fetches code from a pull request: those runs hold the base repository's secrets
// and a write token, and GitHub's token for them carries ref=refs/heads/main.
func dangerousCheckouts(w *workflow) []string {
	dangerous := false
	for _, e := range w.events() {
		if e == "pull_request_target" || e == "workflow_run" {
			dangerous = true
		}
	}
	if !dangerous {
		return nil
	}
	var out []string
	for id, j := range w.doc.Jobs {
		for i, s := range j.Steps {
			text := s.Run
			for k, v := range s.With {
				text += "\n" + k + ": " + v
			}
			for k, v := range s.Env {
				text += "\n" + k + ": " + v
			}
			if prCode.MatchString(text) {
				out = append(out, fmt.Sprintf("%s/%s step %d fetches pull request code on %v", w.name, id, i+1, w.events()))
			}
		}
	}
	sort.Strings(out)
	return out
}

// idTokenOutsideKnownJobs lists every place a workflow lets a job mint an OIDC token other than
// the two jobs the bootstrap's bindings expect.
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
			out = append(out, w.name+"/"+id+": id-token: write outside the preview and deploy jobs")
		}
	}
	sort.Strings(out)
	return out
}

func TestEveryWorkflowPinsActionsAndKeepsOIDCAndPRCodeApart(t *testing.T) {
	for name, w := range allWorkflows(t) {
		for _, p := range append(append(unpinned(w), dangerousCheckouts(w)...), idTokenOutsideKnownJobs(w)...) {
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

// The checkers catch what they are for: these workflows are each wrong in one way.
func TestWorkflowCheckers(t *testing.T) {
	sha := strings.Repeat("a", 40)
	cases := []struct {
		name, file, yaml string
		check            func(*workflow) []string
		bad              bool
	}{
		{"tag", "x.yml", "on: push\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4\n", unpinned, true},
		{"short SHA", "x.yml", "on: push\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@8e8c483 # v6.0.1\n", unpinned, true},
		{"reusable workflow by branch", "x.yml", "on: push\njobs:\n  a:\n    uses: acme/ci/.github/workflows/x.yml@main\n", unpinned, true},
		{"SHA without version", "x.yml", "on: push\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@" + sha + "\n", unpinned, true},
		{"pinned", "x.yml", "on: push\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@" + sha + " # v6.0.1\n      - uses: ./local\n", unpinned, false},
		{"pull_request_target checks out the head", "x.yml", "on: pull_request_target\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@" + sha + " # v6.0.1\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n", dangerousCheckouts, true},
		{"workflow_run fetches the head", "x.yml", "on:\n  workflow_run:\n    workflows: [pr]\n    types: [completed]\njobs:\n  a:\n    steps:\n      - run: git fetch origin ${{ github.event.workflow_run.head_sha }}\n", dangerousCheckouts, true},
		{"pull_request_target with gh pr checkout", "x.yml", "on: [pull_request_target]\njobs:\n  a:\n    steps:\n      - run: gh pr checkout 1\n", dangerousCheckouts, true},
		{"pull_request_target labels only", "x.yml", "on: pull_request_target\njobs:\n  a:\n    steps:\n      - uses: actions/labeler@" + sha + " # v5.0.0\n", dangerousCheckouts, false},
		{"pull_request checks out the head", "x.yml", "on: pull_request\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@" + sha + " # v6.0.1\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n", dangerousCheckouts, false},
		{"id-token for the workflow", "x.yml", "on: push\npermissions:\n  id-token: write\njobs:\n  a:\n    permissions: {}\n", idTokenOutsideKnownJobs, true},
		{"write-all", "x.yml", "on: push\njobs:\n  a:\n    permissions: write-all\n", idTokenOutsideKnownJobs, true},
		{"id-token in another job of pr.yml", "pr.yml", "on: pull_request\njobs:\n  checks:\n    permissions:\n      id-token: write\n", idTokenOutsideKnownJobs, true},
		{"id-token in the deploy job", ci.DefaultDeployWorkflow, "on: push\njobs:\n  up:\n    permissions:\n      id-token: write\n", idTokenOutsideKnownJobs, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := parseWorkflow(tc.file, []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.check(w); (len(got) > 0) != tc.bad {
				t.Errorf("findings %q, want bad=%v", got, tc.bad)
			}
		})
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
	for _, id := range []string{"checks", "access", "access-comment", "preview", "preview-comment"} {
		if _, ok := w.doc.Jobs[id]; !ok {
			t.Errorf("pr.yml has no job %s", id)
		}
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

	// The access report is built from the base branch and reads the pull request's stack file.
	access := w.doc.Jobs["access"]
	var script string
	for _, s := range access.Steps {
		script += s.Run + "\n"
		for k, v := range s.Env {
			script += k + "=" + v + "\n"
		}
	}
	for _, want := range []string{
		`git -C pr worktree add --detach ../base "origin/$BASE_REF"`,
		`(cd base && go build -o "$RUNNER_TEMP/access" ./cmd/access)`,
		`-dir pr -base "origin/$BASE_REF" -format markdown`,
		"GOWORK=off",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("access job does not run %q", want)
		}
	}
	if co := access.uses("actions/checkout@"); co == nil || co.With["path"] != "pr" || co.With["fetch-depth"] != "0" {
		t.Errorf("access job checks out the pull request as %+v, want path pr with full history", co)
	}
	if sg := access.uses("actions/setup-go@"); sg == nil || sg.With["go-version-file"] != "base/go.mod" {
		t.Errorf("access job takes its Go version from %+v, want base/go.mod", sg)
	}
	if access.perms()["id-token"] != "" || access.perms()["pull-requests"] != "" {
		t.Errorf("access job permissions %v", access.perms())
	}

	// The preview runs the pull request's program with no write token and no refresh.
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
	for job, marker := range map[string]string{"access-comment": "'<!-- access-report -->'", "preview-comment": "'<!-- pulumi-preview -->'"} {
		s := w.doc.Jobs[job].uses(scriptAction)
		if s == nil || !strings.Contains(s.With["script"], "updateComment") || !strings.Contains(s.With["script"], marker) {
			t.Errorf("%s does not update its comment in place", job)
		}
	}
	if s := w.doc.Jobs["access-comment"].uses(scriptAction); s == nil || !strings.Contains(s.With["script"], "'grants access'") {
		t.Error("access-comment does not label the pull request")
	}
	if s := w.doc.Jobs["preview-comment"].uses(scriptAction); s == nil || !strings.Contains(s.With["script"], "fence") {
		t.Error("preview-comment does not fence the untrusted plan")
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
		if p == nil || p.With["command"] != "up" || p.With["cloud-url"] != "${{ vars."+ci.VarBackendURL+" }}" || p.With["refresh"] != "true" {
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
	text := readme(t)
	i := strings.Index(text, "## Residual risk")
	if i < 0 || !strings.Contains(text[i:], "Pulumi CLI") || !strings.Contains(text[i:], "checksum") {
		t.Error("deploy.yml installs the Pulumi CLI without a checksum and the README's residual-risk section does not say so")
	}
}
