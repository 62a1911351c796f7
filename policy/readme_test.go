package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/policy/rules"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fences returns the bodies of the README's fenced blocks in language lang.
func fences(text, lang string) []string {
	var out []string
	re := regexp.MustCompile("(?ms)^[ \t]*```" + lang + "[ \t]*\n(.*?)^[ \t]*```")
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestReadmeConfigExamples parses every JSON and YAML block of the README as what it claims to be.
func TestReadmeConfigExamples(t *testing.T) {
	text := readme(t)
	blocks := fences(text, "json")
	if len(blocks) == 0 {
		t.Fatal("README has no policy config example")
	}
	for _, b := range blocks {
		if _, err := rules.ParseConfig([]byte(b)); err != nil {
			t.Errorf("README config example does not apply to the pack: %v\n%s", err, b)
		}
	}
	for _, b := range fences(text, "ya?ml") {
		var v any
		if err := yaml.Unmarshal([]byte(b), &v); err != nil {
			t.Errorf("README YAML example does not parse: %v\n%s", err, b)
		}
	}
	// A block in a language the checks above do not know would go unchecked.
	for _, m := range regexp.MustCompile("(?m)^[ \t]*```([a-z]*)").FindAllStringSubmatch(text, -1) {
		switch m[1] {
		case "", "sh", "json", "yaml", "yml":
		default:
			t.Errorf("README has a %q block that no test reads", m[1])
		}
	}
}

// TestReadmeTables holds the README's tables of policies and properties to the pack.
func TestReadmeTables(t *testing.T) {
	text := readme(t)
	levels := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| (advisory|mandatory|disabled) \\|").FindAllStringSubmatch(text, -1) {
		levels[m[1]] = m[2]
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

	props := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\s*\\| `([a-z-]+)` \\| `(\\w+)` \\| `([^`]*)` \\|").FindAllStringSubmatch(text, -1) {
		props[m[1]+"."+m[2]] = m[3]
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

	if !strings.Contains(text, "acme/"+packName+" "+packVersion) {
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
}
