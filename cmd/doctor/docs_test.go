package main

import (
	"bytes"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/markdown"
)

// The docs' doctor sample ("$ go run ./cmd/doctor ..." and what it prints) is run here, where
// the command's own flag parsing and run are reachable; tests/docs_test.go checks the docs'
// other samples and leaves this one to this file.

// docsDoctorSample returns the docs' ```text block that starts with the doctor's command line,
// wherever it lives in README.md and docs/.
func docsDoctorSample(t *testing.T, root string) markdown.Fence {
	t.Helper()
	set, err := markdown.Project(root)
	if err != nil {
		t.Fatal(err)
	}
	var found []markdown.Fence
	for _, f := range set.Fences() {
		if f.Lang == "text" && strings.HasPrefix(f.Text, "$ go run ./cmd/doctor ") {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one ```text block in the docs starting \"$ go run ./cmd/doctor \", found %d", len(found))
	}
	return found[0]
}

// TestDocsDoctorSample runs the docs' doctor command line, from the repository root as the docs
// do, on the laptop the sample shows: Kenji's, with a plain `gcloud auth application-default
// login` in gcloud's file under /home/kenji and GOOGLE_APPLICATION_CREDENTIALS unset. The doctor
// reads that file from the real file system, so the laptop's "/" is a temporary directory, taken
// off the paths in the output before it is compared line by line.
func TestDocsDoctorSample(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the sample is a Linux or macOS laptop: gcloud's file lives elsewhere on Windows")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	sample := docsDoctorSample(t, repo)
	want := sample.Body()
	command := strings.TrimPrefix(want[0], "$ ")
	if strings.ContainsAny(command, `'"\$`) {
		t.Fatalf("%s: the command %q needs a shell to split it; keep it to plain words", sample.Pos(), command)
	}
	args, ok := strings.CutPrefix(command, "go run ./cmd/doctor ")
	if !ok {
		t.Fatalf("%s: %q does not run ./cmd/doctor", sample.Pos(), command)
	}

	root := t.TempDir()
	home := filepath.Join(root, "home", "kenji")
	write(t, filepath.Join(home, ".config", "gcloud", "application_default_credentials.json"), plainLogin)
	env := map[string]string{"HOME": home}
	// The docs' dev stack is the fixture copy of it, not Pulumi.dev.yaml: that file is what teams
	// edit when they onboard a caller, and no test may depend on what it holds.
	t.Chdir(filepath.Join(repo, "tests", "testdata", "stacks", "dev"))

	var stdout, stderr bytes.Buffer
	code := run(strings.Fields(args), system{env: func(k string) string { return env[k] }, stdout: &stdout, stderr: &stderr})
	if stderr.Len() > 0 {
		t.Errorf("%s: the doctor wrote to stderr: %s", sample.Pos(), stderr.String())
	}
	if diff := sample.Compare("$ " + command + "\n" + strings.ReplaceAll(stdout.String(), root, "")); diff != "" {
		t.Errorf("%s: the doctor sample is not what `%s` prints (-%s, +real output):\n%s", sample.Pos(), command, sample.Doc.Name, diff)
	}
	// The docs' exit statuses: 1 when a PROBLEM is shown, else 0.
	wantCode := 0
	if slices.ContainsFunc(want, func(l string) bool { return strings.HasPrefix(l, "PROBLEM ") }) {
		wantCode = 1
	}
	if code != wantCode {
		t.Errorf("%s: the sample shows an exit status of %d, the doctor exits %d", sample.Pos(), wantCode, code)
	}
}
