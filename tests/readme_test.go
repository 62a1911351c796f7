package tests

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// readmeYAML returns the README's yaml blocks with the line each starts on.
func readmeYAML(t *testing.T) map[int]string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[int]string{}
	var cur *strings.Builder
	start := 0
	for i, line := range strings.Split(string(raw), "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```yaml":
			cur, start = &strings.Builder{}, i+2
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks[start] = cur.String()
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if len(blocks) == 0 {
		t.Fatal("no yaml block found in README.md")
	}
	return blocks
}

// TestREADMEExamples runs every YAML example of the README through the program, as Fabric's
// tftest does for its README: a whole stack config (`config:`) must deploy under mocks in preview
// and in update mode; a fragment of the callers list must deploy when added to the dev stack.
func TestREADMEExamples(t *testing.T) {
	for line, text := range readmeYAML(t) {
		var cfg map[string]string
		switch trimmed := strings.TrimLeft(text, " "); {
		case strings.HasPrefix(text, "config:"):
			cfg = stackYAML(t, text)
		case strings.HasPrefix(trimmed, "private-run-api:callers:"):
			cfg = devStack(t)
			var extra []any
			var doc map[string][]any
			if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
				t.Fatalf("README.md:%d: %v", line, err)
			}
			extra = doc["private-run-api:callers"]
			cfg = editList(t, cfg, "private-run-api:callers", func(cs []any) []any { return append(cs, extra...) })
		case strings.HasPrefix(trimmed, "- name:"):
			// A caller entry shown on its own; one that names an existing account by email.
			var entries []any
			if err := yaml.Unmarshal([]byte(text), &entries); err != nil {
				t.Fatalf("README.md:%d: %v", line, err)
			}
			cfg = editList(t, devStack(t), "private-run-api:callers", func(cs []any) []any {
				out := []any{}
				for _, c := range cs { // the dev stack already has this caller: replace it
					if c.(map[string]any)["name"] != entries[0].(map[string]any)["name"] {
						out = append(out, c)
					}
				}
				return append(out, entries...)
			})
		default:
			t.Errorf("README.md:%d: a yaml block this test does not know how to run; teach it, so that the example stays true:\n%s", line, text)
			continue
		}
		for _, dry := range []bool{false, true} {
			r := run(t, cfg, runOpts{dryRun: dry})
			if r.Err != nil {
				t.Errorf("README.md:%d (preview=%v): the example does not deploy: %v", line, dry, r.Err)
			}
		}
	}
}
