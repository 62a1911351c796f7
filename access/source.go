package access

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/platform/private-run-api/config"
	"github.com/platform/private-run-api/plan"
)

// StackFileName is the file a stack's config lives in.
func StackFileName(stack string) string { return "Pulumi." + stack + ".yaml" }

// Plan decodes, validates and resolves a stack file with the program's own code. An invalid
// config returns an error wrapping the *diag.ConfigError, prefixed with where it came from.
func Plan(sf config.StackFile, from string, now time.Time) (*plan.Stack, error) {
	cfg, err := sf.Load()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return plan.Resolve(cfg, now), nil
}

// Base is the config a change is compared with.
type Base struct {
	// File is nil when the stack did not exist at the base revision.
	File *config.StackFile
	// Label names the base in the output: a path, or a revision with its commit.
	Label string
}

// ReadBase reads the base of a comparison. base is a stack file when it names an existing file
// (relative to the working directory, as any command-line path), otherwise a git revision of the
// repository holding dir, whose Pulumi.<stack>.yaml is read at the same place as in dir.
// namespace is the project name from dir's Pulumi.yaml: a revision that renamed the project would
// otherwise report every key as unknown.
func ReadBase(dir, stack, namespace, base string) (Base, error) {
	if st, err := os.Stat(base); err == nil && st.Mode().IsRegular() {
		data, err := os.ReadFile(base)
		if err != nil {
			return Base{}, err
		}
		sf, err := config.ParseStackYAML(namespace, base, data)
		if err != nil {
			return Base{}, err
		}
		return Base{File: &sf, Label: base}, nil
	}
	return readGitBase(dir, stack, namespace, base)
}

func readGitBase(dir, stack, namespace, rev string) (Base, error) {
	// A revision starting with "-" would be read by git as an option.
	if rev == "" || strings.HasPrefix(rev, "-") {
		return Base{}, fmt.Errorf("-base %q is neither an existing file nor a git revision", rev)
	}
	commit, err := git(dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		why := err.Error()
		var ge *gitError
		if errors.As(err, &ge) && ge.stderr == "" {
			// --quiet makes an unknown revision silent; the usual cause in CI is a shallow clone.
			why = "git knows no such revision here; in a shallow CI checkout, fetch it first, e.g. git fetch --depth=1 origin main"
		}
		return Base{}, fmt.Errorf("-base %q is neither an existing file nor a git revision of the repository at %s (%s); pass a stack file path, or a branch, tag or commit such as origin/main", rev, dir, why)
	}
	commit = strings.TrimSpace(commit)
	if len(commit) > 12 {
		commit = commit[:12]
	}
	label := rev + " (" + commit + ")"
	if rev == commit || strings.HasPrefix(commit, rev) {
		label = commit
	}
	// "rev:./path" is resolved from git's working directory, which -C sets to dir.
	object := rev + ":./" + StackFileName(stack)
	if _, err := git(dir, "cat-file", "-e", object); err != nil {
		return Base{Label: label + ", without " + StackFileName(stack)}, nil
	}
	data, err := git(dir, "show", object)
	if err != nil {
		return Base{}, fmt.Errorf("reading %s: %v", object, err)
	}
	sf, err := config.ParseStackYAML(namespace, object, []byte(data))
	if err != nil {
		return Base{}, err
	}
	return Base{File: &sf, Label: label}, nil
}

// gitError is a git command that ran and failed; stderr is git's own message, if any.
type gitError struct {
	args   []string
	stderr string
	err    error
}

func (e *gitError) Error() string {
	if e.stderr != "" {
		return "git " + e.args[0] + ": " + e.stderr
	}
	return "git " + e.args[0] + ": " + e.err.Error()
}

// git runs git in dir and returns its output.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return "", fmt.Errorf("running git (is it installed and on PATH?): %w", err)
		}
		return "", &gitError{args: args, stderr: strings.TrimSpace(stderr.String()), err: err}
	}
	return stdout.String(), nil
}

// HeadLabel names the compared working copy of the stack file.
func HeadLabel(dir, stack string) string {
	return filepath.Join(dir, StackFileName(stack))
}
