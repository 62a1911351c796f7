package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/linediff"
)

// The README's doctor sample ("$ go run ./cmd/doctor ..." and what it prints) is run here, where
// the command's own flag parsing and run are reachable; tests/readme_test.go checks the README's
// other samples and leaves this one to this file.

// readmeDoctorSample returns the README's ```text block that starts with the doctor's command
// line: the command (without "$ "), the block's lines, and the README line of its first.
func readmeDoctorSample(t *testing.T, readme string) (command string, output []string, line int) {
	t.Helper()
	raw, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	found := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```text" || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "$ go run ./cmd/doctor ") {
			continue
		}
		found++
		line, command = i+2, strings.TrimPrefix(lines[i+1], "$ ")
		output = nil
		for j := i + 1; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			output = append(output, lines[j])
		}
	}
	if found != 1 {
		t.Fatalf("README.md: want one ```text block starting \"$ go run ./cmd/doctor \", found %d", found)
	}
	return command, output, line
}

// TestREADMEDoctorSample runs the README's doctor command line, from the repository root as the
// README does, on the laptop the sample shows: Kenji's, with a plain `gcloud auth
// application-default login` in gcloud's file under /home/kenji and GOOGLE_APPLICATION_CREDENTIALS
// unset. The doctor reads that file from the real file system, so the laptop's "/" is a temporary
// directory, taken off the paths in the output before it is compared line by line.
func TestREADMEDoctorSample(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the sample is a Linux or macOS laptop: gcloud's file lives elsewhere on Windows")
	}
	readme, err := filepath.Abs("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	command, want, line := readmeDoctorSample(t, readme)
	if strings.ContainsAny(command, `'"\$`) {
		t.Fatalf("README.md:%d: the command %q needs a shell to split it; keep it to plain words", line, command)
	}
	args, ok := strings.CutPrefix(command, "go run ./cmd/doctor ")
	if !ok {
		t.Fatalf("README.md:%d: %q does not run ./cmd/doctor", line, command)
	}

	root := t.TempDir()
	home := filepath.Join(root, "home", "kenji")
	write(t, filepath.Join(home, ".config", "gcloud", "application_default_credentials.json"), plainLogin)
	env := map[string]string{"HOME": home}
	t.Chdir("../..")

	var stdout, stderr bytes.Buffer
	code := run(strings.Fields(args), system{env: func(k string) string { return env[k] }, stdout: &stdout, stderr: &stderr})
	if stderr.Len() > 0 {
		t.Errorf("README.md:%d: the doctor wrote to stderr: %s", line, stderr.String())
	}
	got := append([]string{"$ " + command}, strings.Split(strings.TrimSuffix(strings.ReplaceAll(stdout.String(), root, ""), "\n"), "\n")...)
	if !slices.Equal(want, got) {
		t.Errorf("README.md:%d: the doctor sample is not what `%s` prints (-README.md, +real output):\n%s", line, command, linediff.Show(line, want, got))
	}
	// The README's exit statuses: 1 when a PROBLEM is shown, else 0.
	wantCode := 0
	if slices.ContainsFunc(want, func(l string) bool { return strings.HasPrefix(l, "PROBLEM ") }) {
		wantCode = 1
	}
	if code != wantCode {
		t.Errorf("README.md:%d: the sample shows an exit status of %d, the doctor exits %d", line, wantCode, code)
	}
}
