// Package testdir is test support: it writes the files and the git repositories that tests of
// several packages (the access tool, the doctor, the git tree reader, the bootstrap's scripts)
// work in, the same way everywhere.
package testdir

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Write writes text to path, making its directory first, and returns path. The file is the
// owner's alone (0600), as credential files must be.
func Write(tb testing.TB, path, text string) string {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Git runs git in dir and returns its output, trimmed. It runs with an identity of its own and
// no user or system config, so that the test does not depend on the machine's git setup.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatalf("git is not installed; this test reads git revisions as the access tool does: %v", err)
	}
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Commit commits every file under dir, making dir a repository on branch main first if it is
// not one yet, and returns the commit.
func Commit(tb testing.TB, dir, message string) string {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(dir, ".git")); errors.Is(err, fs.ErrNotExist) {
		Git(tb, dir, "init", "-q", "-b", "main")
	}
	Git(tb, dir, "add", "-A")
	Git(tb, dir, "commit", "-q", "-m", message)
	return Git(tb, dir, "rev-parse", "HEAD")
}
