package access

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/gittree"
)

// Side is one side of a comparison: a stack as a tree holds it.
type Side struct {
	// File is nil when the tree has no file for the stack (a stack a change adds or removes).
	File *config.StackFile
	// Label names the side in the output: a path, or a revision with its commit.
	Label string
	// Rev is the side's git revision; nil for a directory or a file.
	Rev *gittree.Tree
}

// ReadDir reads a stack from the project in dir as it is on disk.
func ReadDir(dir, stack string) (Side, error) {
	t := config.Dir(dir)
	sf, err := config.ReadStack(t, stack)
	if err != nil {
		return Side{}, err
	}
	return Side{File: &sf, Label: sf.Path}, nil
}

// ReadRev reads a stack from a git revision of the repository holding dir, at dir's place in it,
// through git alone: nothing of the revision is checked out, let alone run. A revision without
// the stack's file reads as a side without a file, which grants nothing.
func ReadRev(dir, stack, rev string) (Side, error) {
	r, err := gittree.Open(dir, rev)
	if err != nil {
		return Side{}, fmt.Errorf("%q is %w; pass a branch, tag or commit such as origin/main", rev, err)
	}
	return readTree(r, stack)
}

func readTree(r *gittree.Tree, stack string) (Side, error) {
	t := config.Tree{FS: r, Label: r.Label + ":"}
	p, err := config.ReadProject(t)
	if err != nil {
		return Side{}, err
	}
	name := p.StackPath(stack)
	if _, err := fs.Stat(r, name); errors.Is(err, fs.ErrNotExist) {
		return Side{Label: r.Label + ", without " + name, Rev: r}, nil
	}
	sf, err := config.ReadStack(t, stack)
	if err != nil {
		return Side{}, err
	}
	return Side{File: &sf, Label: r.Label, Rev: r}, nil
}

// ReadBase reads the base of a comparison: a stack file when base names an existing file
// (relative to the working directory, as any command-line path; it is read with the project file
// of dir), otherwise a git revision of the repository holding dir.
func ReadBase(dir, stack, base string) (Side, error) {
	if st, err := os.Stat(base); err == nil && st.Mode().IsRegular() {
		p, err := config.ReadProject(config.Dir(dir))
		if err != nil {
			return Side{}, err
		}
		data, err := os.ReadFile(base)
		if err != nil {
			return Side{}, err
		}
		sf, err := config.ParseStack(p, base, data)
		if err != nil {
			return Side{}, err
		}
		sf.Files = config.Dir(dir).FS // caller files are read beside the project, as for the head
		return Side{File: &sf, Label: base}, nil
	}
	r, err := gittree.Open(dir, base)
	if err != nil {
		return Side{}, fmt.Errorf("-base %q is neither an existing file nor a git revision: %w; pass a stack file path, or a branch, tag or commit such as origin/main", base, err)
	}
	return readTree(r, stack)
}

// OutsideConfig lists what a change between two revisions touches besides stack files and caller
// files: code that computes or checks grants, workflows, the policy pack, Pulumi.yaml. The access report covers
// config only; those changes are the code owners' to review.
func OutsideConfig(base, head Side) ([]string, error) {
	if base.Rev == nil || head.Rev == nil {
		return []string{}, nil
	}
	changed, err := gittree.Changed(base.Rev, head.Rev)
	if err != nil {
		return nil, err
	}
	var dirs []string // the caller file directories of either side
	for _, s := range []Side{base, head} {
		if s.File != nil {
			if d := s.File.CallersDir(); d != "" {
				dirs = append(dirs, d)
			}
		}
	}
	out := []string{}
	for _, p := range changed {
		if !IsStackFile(p) && !isCallerFile(p, dirs) {
			out = append(out, p)
		}
	}
	return out, nil
}

// isCallerFile is true for a caller file directly in one of dirs.
func isCallerFile(p string, dirs []string) bool {
	for _, d := range dirs {
		if path.Dir(p) == path.Clean(d) && strings.HasSuffix(p, config.CallerFileExt) {
			return true
		}
	}
	return false
}

// IsStackFile is true for a stack's config file at the project's root: Pulumi.<stack>.yaml, not
// the project file Pulumi.yaml.
func IsStackFile(p string) bool {
	if path.Dir(p) != "." {
		return false
	}
	for _, ext := range []string{".yaml", ".yml"} {
		if stack, ok := strings.CutSuffix(strings.TrimPrefix(p, "Pulumi."), ext); ok && strings.HasPrefix(p, "Pulumi.") && stack != "" && !strings.Contains(stack, "/") {
			return true
		}
	}
	return false
}
