package ci_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/bootstrap/ci"
)

// The workflows are the other half of the bootstrap's contract: they must ask for the identities
// the bootstrap creates, in the places it trusts them, and nowhere else. actionlint checks their
// syntax; these tests check that contract and the repository's rules for them.

type workflow struct {
	path string
	raw  string
	doc  struct {
		On          map[string]any `yaml:"on"`
		Permissions any            `yaml:"permissions"`
		Jobs        map[string]job `yaml:"jobs"`
	}
}

type job struct {
	If          string            `yaml:"if"`
	Needs       any               `yaml:"needs"`
	Environment any               `yaml:"environment"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency map[string]any    `yaml:"concurrency"`
	Steps       []step            `yaml:"steps"`
}

type step struct {
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

func (j job) uses(prefix string) *step {
	for i := range j.Steps {
		if strings.HasPrefix(j.Steps[i].Uses, prefix) {
			return &j.Steps[i]
		}
	}
	return nil
}

func (j job) text() string {
	out, _ := yaml.Marshal(j)
	return string(out)
}

func readWorkflow(tb testing.TB, name string) *workflow {
	tb.Helper()
	path := filepath.Join("..", "..", ".github", "workflows", name)
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := &workflow{path: path, raw: string(data)}
	if err := yaml.Unmarshal(data, &w.doc); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return w
}

const (
	authAction   = "google-github-actions/auth@"
	pulumiAction = "pulumi/actions@"
	scriptAction = "actions/github-script@"
	forkGuard    = "github.event.pull_request.head.repo.full_name == github.repository"
)

func TestWorkflowsPinActionsAndGrantLeastPermissions(t *testing.T) {
	pinned := regexp.MustCompile(`^\s*-?\s*uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$`)
	for _, name := range []string{"pr.yml", "deploy.yml"} {
		w := readWorkflow(t, name)
		for i, line := range strings.Split(w.raw, "\n") {
			if strings.Contains(line, "uses:") && !pinned.MatchString(line) {
				t.Errorf("%s:%d: %q is not pinned to a full commit SHA with a # vX.Y.Z comment", name, i+1, strings.TrimSpace(line))
			}
		}
		if m, ok := w.doc.Permissions.(map[string]any); !ok || len(m) != 0 {
			t.Errorf("%s: top-level permissions = %v, want {} so that every job states its own", name, w.doc.Permissions)
		}
		if strings.Contains(w.raw, "credentials_json") || strings.Contains(w.raw, "GOOGLE_CREDENTIALS") {
			t.Errorf("%s mentions a service account key; CI authenticates by federation only", name)
		}
		for id, j := range w.doc.Jobs {
			if j.Permissions == nil {
				t.Errorf("%s: job %s states no permissions", name, id)
			}
			for scope, level := range j.Permissions {
				switch {
				case scope == "id-token" && level == "write":
					if j.uses(authAction) == nil {
						t.Errorf("%s: job %s may mint OIDC tokens but never authenticates", name, id)
					}
				case scope == "pull-requests" && level == "write":
					p := j.uses(pulumiAction)
					if j.uses(scriptAction) == nil && (p == nil || p.With["comment-on-pr"] != "true") {
						t.Errorf("%s: job %s may write to pull requests but never comments", name, id)
					}
				case level != "read":
					t.Errorf("%s: job %s has %s: %s", name, id, scope, level)
				}
			}
			if j.uses(authAction) != nil && j.Permissions["id-token"] != "write" {
				t.Errorf("%s: job %s authenticates without id-token: write", name, id)
			}
		}
	}
}

func TestPullRequestsUseOnlyTheReadOnlyAccountAndNeverFromForks(t *testing.T) {
	w := readWorkflow(t, "pr.yml")
	if _, ok := w.doc.On["pull_request_target"]; ok {
		t.Error("pr.yml runs on pull_request_target, which gives fork code the base repository's secrets")
	}
	if strings.Contains(w.raw, ci.VarDeployServiceAccount) {
		t.Errorf("pr.yml names %s: pull requests must never reach the deploy account", ci.VarDeployServiceAccount)
	}
	for _, id := range []string{"checks", "access", "access-comment", "preview"} {
		if _, ok := w.doc.Jobs[id]; !ok {
			t.Errorf("pr.yml has no job %s", id)
		}
	}
	for id, j := range w.doc.Jobs {
		text := j.text()
		usesSecrets := strings.Contains(text, "secrets.") || j.uses(authAction) != nil || j.Permissions["pull-requests"] == "write"
		if usesSecrets && !strings.Contains(j.If, forkGuard) {
			t.Errorf("pr.yml: job %s uses secrets, a cloud identity or a write token without the fork guard (if: %q)", id, j.If)
		}
		if auth := j.uses(authAction); auth != nil {
			if auth.With["service_account"] != "${{ vars."+ci.VarPreviewServiceAccount+" }}" ||
				auth.With["workload_identity_provider"] != "${{ vars."+ci.VarWorkloadIdentityProvider+" }}" {
				t.Errorf("pr.yml: job %s authenticates as %v", id, auth.With)
			}
		}
		// Code from the pull request runs where a write token is held only in the preview, whose
		// comment the Pulumi action posts itself; the access report is commented from a job that
		// checks out and runs nothing.
		if j.Permissions["pull-requests"] == "write" && j.uses(pulumiAction) == nil {
			for _, s := range j.Steps {
				if s.Run != "" || strings.HasPrefix(s.Uses, "actions/checkout@") {
					t.Errorf("pr.yml: job %s holds a write token and checks out or runs code", id)
				}
			}
		}
	}
	preview := w.doc.Jobs["preview"]
	p := preview.uses(pulumiAction)
	if p == nil || p.With["command"] != "preview" || p.With["comment-on-pr"] != "true" || p.With["cloud-url"] != "${{ vars."+ci.VarBackendURL+" }}" {
		t.Errorf("preview job's pulumi step = %+v", p)
	}
	access := w.doc.Jobs["access"]
	var script string
	for _, s := range access.Steps {
		script += s.Run
	}
	for _, want := range []string{"go build -o bin/access ./cmd/access", `-base "origin/$BASE_REF"`, "-format markdown"} {
		if !strings.Contains(script, want) {
			t.Errorf("access job does not run %q", want)
		}
	}
	comment := w.doc.Jobs["access-comment"].uses(scriptAction)
	if comment == nil || !strings.Contains(comment.With["script"], "updateComment") || !strings.Contains(comment.With["script"], "'grants access'") {
		t.Errorf("access-comment neither updates its comment in place nor labels the pull request")
	}
}

func TestDeployRunsOnlyOnMainInTheProtectedEnvironment(t *testing.T) {
	w := readWorkflow(t, "deploy.yml")
	push, _ := w.doc.On["push"].(map[string]any)
	if branches, _ := push["branches"].([]any); len(branches) != 1 || branches[0] != ci.DefaultDeployBranch {
		t.Errorf("deploy.yml runs on pushes to %v, want only %s (the branch the deploy account trusts)", push["branches"], ci.DefaultDeployBranch)
	}
	var deployers int
	for id, j := range w.doc.Jobs {
		auth := j.uses(authAction)
		if auth == nil {
			continue
		}
		deployers++
		if auth.With["service_account"] != "${{ vars."+ci.VarDeployServiceAccount+" }}" {
			t.Errorf("deploy.yml: job %s authenticates as %q", id, auth.With["service_account"])
		}
		if j.Environment != "production" {
			t.Errorf("deploy.yml: job %s runs in environment %v, want production", id, j.Environment)
		}
		if !strings.Contains(j.If, "github.ref == 'refs/heads/"+ci.DefaultDeployBranch+"'") {
			t.Errorf("deploy.yml: job %s is not limited to the deploy branch (if: %q)", id, j.If)
		}
		if g, _ := j.Concurrency["group"].(string); g == "" || j.Concurrency["cancel-in-progress"] != false {
			t.Errorf("deploy.yml: job %s concurrency = %v, want a group per stack that never cancels a running update", id, j.Concurrency)
		}
		p := j.uses(pulumiAction)
		if p == nil || p.With["command"] != "up" || p.With["cloud-url"] != "${{ vars."+ci.VarBackendURL+" }}" {
			t.Errorf("deploy.yml: job %s pulumi step = %+v", id, p)
		}
	}
	if deployers != 1 {
		t.Errorf("deploy.yml authenticates in %d jobs, want 1", deployers)
	}
	if strings.Contains(w.raw, ci.VarPreviewServiceAccount) {
		t.Errorf("deploy.yml names the preview account")
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
	for _, name := range []string{"pr.yml", "deploy.yml"} {
		for id, j := range readWorkflow(t, name).doc.Jobs {
			if p := j.uses(pulumiAction); p != nil && p.With["pulumi-version"] != string(m[1]) {
				t.Errorf("%s: job %s installs Pulumi %q, go.mod has SDK %s", name, id, p.With["pulumi-version"], m[1])
			}
		}
	}
}
