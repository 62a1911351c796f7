package tests

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/config"
)

// TestReaderSeesWhatTheEngineHandsTheProgram holds the tools' stack reader to the real engine:
// every case under testdata/stacks is a project with one stack, and its engine-config.json is the
// PULUMI_CONFIG the Pulumi CLI v3.259.0 and its Go language host handed the program for it
// (recorded by testdata/stacks/capture). The cases are copies of every stack file the repository
// holds (the dev example, the bootstrap's), and stacks that use what a reader of YAML could get
// wrong: Pulumi.yaml's own config, and the scalars the engine renders its own way.
func TestReaderSeesWhatTheEngineHandsTheProgram(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "stacks", "*", "engine-config.json"))
	if err != nil || len(cases) < 4 {
		t.Fatalf("want the recorded cases under testdata/stacks, found %v (%v)", cases, err)
	}
	for _, rec := range cases {
		dir := filepath.Dir(rec)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			stacks, _ := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
			if len(stacks) != 1 {
				t.Fatalf("%s: want one stack file, found %v", dir, stacks)
			}
			stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(stacks[0]), "Pulumi."), ".yaml")
			var engine map[string]string
			data, err := os.ReadFile(rec)
			if err == nil {
				err = json.Unmarshal(data, &engine)
			}
			if err != nil {
				t.Fatal(err)
			}
			sf, err := config.ReadStack(config.Dir(dir), stack)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range slices.Sorted(maps.Keys(engine)) {
				if got, ok := sf.Values[k]; !ok {
					t.Errorf("%s: the engine passes it (%s); the reader does not", k, engine[k])
				} else if got != engine[k] {
					t.Errorf("%s:\n reader %s\n engine %s", k, got, engine[k])
				}
			}
			for _, k := range sf.Keys() {
				if _, ok := engine[k]; !ok {
					t.Errorf("%s: the reader sees %s; the engine passes no such key", k, sf.Values[k])
				}
			}
		})
	}
}

// TestRepositoryStackFilesHaveRecordedCopies: a stack file committed beside Pulumi.yaml is read by
// the same reader as the recorded cases; this keeps a recorded copy of each, so that a new stack
// file is captured through the engine too (testdata/stacks/capture) before the tools are trusted
// on it. Its contents may differ from the copy (an onboarding pull request edits it).
func TestRepositoryStackFilesHaveRecordedCopies(t *testing.T) {
	for _, dir := range []string{"..", filepath.Join("..", "bootstrap")} {
		for _, f := range committedStackFiles(t, dir) {
			name := filepath.Base(f)
			found := false
			copies, _ := filepath.Glob(filepath.Join("testdata", "stacks", "*", name))
			for _, c := range copies {
				if _, err := os.Stat(filepath.Join(filepath.Dir(c), "engine-config.json")); err == nil {
					found = true
				}
			}
			if !found {
				t.Errorf("%s has no recorded copy under testdata/stacks: copy it there with its Pulumi.yaml and run testdata/stacks/capture", f)
			}
		}
	}
}
