package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/internal/markdown"
	"github.com/platform/private-run-api/policy/rules"
)

// readme is this pack's README.md.
func readme(t *testing.T) *markdown.Doc {
	t.Helper()
	set, err := markdown.Read(".", "README.md")
	if err != nil {
		t.Fatal(err)
	}
	return set[0]
}

// TestReadmeConfigExamples parses every JSON and YAML block of the README as what it claims to be.
func TestReadmeConfigExamples(t *testing.T) {
	jsonBlocks := 0
	for _, f := range readme(t).Fences {
		switch f.Lang {
		case "json":
			jsonBlocks++
			if _, err := rules.ParseConfig([]byte(f.Text)); err != nil {
				t.Errorf("%s: the config example does not apply to the pack: %v\n%s", f.Pos(), err, f.Text)
			}
		case "yaml", "yml":
			var v any
			if err := yaml.Unmarshal([]byte(f.Text), &v); err != nil {
				t.Errorf("%s: the YAML example does not parse: %v\n%s", f.Pos(), err, f.Text)
			}
		case "", "sh":
		default:
			// A block in a language the checks above do not know would go unchecked.
			t.Errorf("%s: a %q block that no test reads", f.Pos(), f.Lang)
		}
	}
	if jsonBlocks == 0 {
		t.Fatal("README has no policy config example")
	}
}

// TestReadmeTables holds the README's tables of policies and properties to the pack.
func TestReadmeTables(t *testing.T) {
	doc := readme(t)
	rows, err := doc.All().Table("policy", "default level", "what it checks")
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string]string{}
	for _, r := range rows {
		names := markdown.CodeSpans(r.Cells[0])
		if len(names) != 1 {
			t.Errorf("%s: the row names no policy in `code`", doc.Pos(r.Line))
			continue
		}
		levels[names[0]] = r.Cells[1]
	}
	want := rules.DefaultConfig().Levels
	if len(levels) != len(want) {
		t.Errorf("README lists %d policies, the pack has %d", len(levels), len(want))
	}
	for name, l := range want {
		if levels[name] != rules.LevelName(l) {
			t.Errorf("README: %s is %q, the pack's default is %s", name, levels[name], rules.LevelName(l))
		}
	}

	rows, err = doc.All().Table("policy", "property", "default", "meaning")
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{}
	for _, r := range rows {
		policy, prop, def := markdown.CodeSpans(r.Cells[0]), markdown.CodeSpans(r.Cells[1]), markdown.CodeSpans(r.Cells[2])
		if len(policy) != 1 || len(prop) != 1 || len(def) != 1 {
			t.Errorf("%s: want a policy, a property and a default, each in `code`", doc.Pos(r.Line))
			continue
		}
		props[policy[0]+"."+prop[0]] = def[0]
	}
	n := 0
	for _, p := range rules.ResourcePolicies() {
		for _, prop := range p.Props {
			n++
			// A string default is shown as written, anything else as JSON.
			def, isString := prop.Default.(string)
			if !isString {
				b, _ := json.Marshal(prop.Default)
				def = string(b)
			}
			if got, ok := props[p.Name+"."+prop.Name]; !ok || got != def {
				t.Errorf("README: property %s.%s default %q, the pack's is %s", p.Name, prop.Name, got, def)
			}
		}
	}
	if len(props) != n {
		t.Errorf("README lists %d properties, the pack has %d", len(props), n)
	}

	if !strings.Contains(strings.Join(doc.Lines, "\n"), "acme/"+packName+" "+packVersion) {
		t.Errorf("README's publishing example does not name %s %s", packName, packVersion)
	}
}

// TestPulumiPolicyYAML loads the pack's project file with the CLI's own loader.
func TestPulumiPolicyYAML(t *testing.T) {
	proj, err := workspace.LoadPolicyPack("PulumiPolicy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if proj.Runtime.Name() != "go" {
		t.Errorf("runtime %q, want go", proj.Runtime.Name())
	}
}

// TestStageForPublish runs the staging script: the staged directory must build as a module of its
// own, which is what the CLI of whoever installs the published pack does with it.
func TestStageForPublish(t *testing.T) {
	if _, err := os.Stat("stage-for-publish.sh"); err != nil {
		t.Skip("no staging script here: this is a staged copy")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if testing.Short() {
		t.Skip("builds the pack in a module of its own")
	}
	out := filepath.Join(t.TempDir(), "pack")
	cmd := exec.Command("bash", "stage-for-publish.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stage-for-publish.sh: %v\n%s", err, b)
	}
	gomod, err := os.ReadFile(filepath.Join(out, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(gomod), "module github.com/platform/private-run-api/policy\n") {
		t.Errorf("staged go.mod starts %q", strings.SplitN(string(gomod), "\n", 2)[0])
	}
	for _, f := range []string{"PulumiPolicy.yaml", "main.go", "pack.go", "rules/rules.go", "go.sum",
		// The role table, from gcp/roles, travels with the pack as a module of its own.
		"_shared/go.mod", "_shared/internal/gcp/roles/roles.go", "_shared/internal/gcp/roles/predefined.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("staged copy lacks %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "stage-for-publish.sh")); err == nil {
		t.Error("staged copy carries the staging script")
	}
	if !strings.Contains(string(gomod), "\nreplace github.com/platform/private-run-api => ./_shared\n") {
		t.Errorf("staged go.mod does not take the repository's packages from _shared:\n%s", gomod)
	}
	if _, err := os.Stat(filepath.Join(out, "_shared/internal/gcp/roles/roles_test.go")); err == nil {
		t.Error("staged copy carries the role table's tests")
	}
	// The consumer's CLI runs `go mod tidy`, which resolves the imports of the pack's tests too
	// (internal/markdown, for the README's): they must travel with it, and the tests must build.
	vet := exec.Command("go", "vet", "./...")
	vet.Dir = out
	vet.Env = append(os.Environ(), "GOWORK=off")
	if b, err := vet.CombinedOutput(); err != nil {
		t.Errorf("the staged copy's packages and tests do not build on their own (go vet ./...): %v\n%s", err, b)
	}
}
