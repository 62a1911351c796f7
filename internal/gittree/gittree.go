// Package gittree reads the files of one git revision as an fs.FS, through git itself, without
// checking anything out: the access report reads a base branch's stack files this way, and a pull
// request's files as data only (nothing of them is written to disk, let alone run).
package gittree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tree is one revision's files, rooted at the directory a repository path names.
type Tree struct {
	repo   string // the directory git runs in
	commit string // full commit ID
	prefix string // the root's path inside the repository, "" or ending in "/"
	// Label names the revision in messages: "origin/main (1a2b3c4d5e6f)".
	Label string
}

// Open resolves rev in the repository holding dir and roots its tree at dir's place in the
// repository, so that "Pulumi.yaml" names the revision's copy of dir/Pulumi.yaml.
func Open(dir, rev string) (*Tree, error) {
	// A revision starting with "-" would be read by git as an option.
	if rev == "" || strings.HasPrefix(rev, "-") {
		return nil, errors.New("not a git revision")
	}
	commit, err := git(dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		why := err.Error()
		var ge *Error
		if errors.As(err, &ge) && ge.Stderr == "" {
			// --quiet makes an unknown revision silent; the usual cause in CI is a shallow clone.
			why = "git knows no such revision here; in a shallow CI checkout, fetch it first, e.g. git fetch --depth=1 origin main"
		}
		return nil, fmt.Errorf("not a git revision of the repository at %s (%s)", dir, why)
	}
	prefix, err := git(dir, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, err
	}
	t := &Tree{repo: dir, commit: strings.TrimSpace(string(commit)), prefix: strings.TrimSpace(string(prefix))}
	short := t.commit[:min(12, len(t.commit))]
	t.Label = rev + " (" + short + ")"
	if rev == t.commit || strings.HasPrefix(t.commit, rev) {
		t.Label = short
	}
	return t, nil
}

// Commit is the revision's full commit ID.
func (t *Tree) Commit() string { return t.commit }

// entry is one object of the tree, as ls-tree names it.
type entry struct {
	mode, typ, oid, name string
}

func (e entry) fileMode() fs.FileMode {
	switch {
	case e.typ == "tree":
		return fs.ModeDir | 0o755
	case e.mode == "120000":
		return fs.ModeSymlink | 0o777
	case e.typ == "commit": // a submodule: nothing to read here
		return fs.ModeIrregular
	}
	return 0o644
}

// lookup finds name in the revision; ok is false when it does not exist.
func (t *Tree) lookup(op, name string) (entry, error) {
	if !fs.ValidPath(name) {
		return entry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		if t.prefix == "" {
			return entry{mode: "040000", typ: "tree", oid: t.commit + "^{tree}", name: "."}, nil
		}
		name = ""
	}
	full := strings.TrimSuffix(t.prefix+name, "/")
	out, err := git(t.repo, "ls-tree", "-z", "--full-tree", t.commit, "--", full)
	if err != nil {
		return entry{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	for _, e := range parse(out) {
		if e.name == full {
			e.name = path.Base(full)
			return e, nil
		}
	}
	return entry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

func parse(out []byte) []entry {
	var es []entry
	for _, rec := range bytes.Split(out, []byte{0}) {
		meta, name, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok {
			continue
		}
		f := strings.Fields(string(meta))
		if len(f) != 3 {
			continue
		}
		es = append(es, entry{mode: f[0], typ: f[1], oid: f[2], name: string(name)})
	}
	return es
}

// maxBlob bounds what one read may take: the files read here come from pull requests.
const maxBlob = 8 << 20

func (t *Tree) blob(e entry, name string) ([]byte, error) {
	if e.typ != "blob" {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("not a file")}
	}
	size, err := git(t.repo, "cat-file", "-s", e.oid)
	if err != nil {
		return nil, err
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(string(size)), 10, 64); err != nil || n > maxBlob {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("is %s bytes, more than the %d a config file may take", strings.TrimSpace(string(size)), maxBlob)}
	}
	return git(t.repo, "cat-file", "blob", e.oid)
}

// ReadFile reads a file of the revision. A symlink is not followed: git stores its target as text
// and no config file is one.
func (t *Tree) ReadFile(name string) ([]byte, error) {
	e, err := t.lookup("read", name)
	if err != nil {
		return nil, err
	}
	if e.fileMode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a symbolic link")}
	}
	return t.blob(e, name)
}

// ReadLink is a symlink's target.
func (t *Tree) ReadLink(name string) (string, error) {
	e, err := t.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if e.fileMode()&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.New("not a symbolic link")}
	}
	b, err := git(t.repo, "cat-file", "blob", e.oid)
	return string(b), err
}

// Lstat describes name without following a symlink.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	e, err := t.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return info{e}, nil
}

// Stat is Lstat: symlinks are never followed here.
func (t *Tree) Stat(name string) (fs.FileInfo, error) { return t.Lstat(name) }

// ReadDir lists a directory of the revision, sorted by name.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := t.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if e.typ != "tree" {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	out, err := git(t.repo, "ls-tree", "-z", "--full-tree", e.oid)
	if err != nil {
		return nil, err
	}
	es := parse(out)
	ds := make([]fs.DirEntry, 0, len(es))
	for _, c := range es {
		ds = append(ds, fs.FileInfoToDirEntry(info{c}))
	}
	slices.SortFunc(ds, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ds, nil
}

// Open opens a file or directory of the revision for fs.FS's callers.
func (t *Tree) Open(name string) (fs.File, error) {
	e, err := t.lookup("open", name)
	if err != nil {
		return nil, err
	}
	f := &file{info: info{e}}
	switch {
	case e.typ == "tree":
		ds, err := t.ReadDir(name)
		if err != nil {
			return nil, err
		}
		f.dir = ds
	default:
		b, err := t.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f.r = bytes.NewReader(b)
	}
	return f, nil
}

// Changed lists the paths that differ between two revisions of the repository holding dir,
// relative to dir, sorted; paths outside dir are listed too, as git names them from the
// repository's root with a leading "/".
func Changed(base, head *Tree) ([]string, error) {
	out, err := git(head.repo, "diff", "--no-renames", "--name-only", "-z", base.commit, head.commit)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, p := range strings.Split(string(out), "\x00") {
		if p == "" {
			continue
		}
		if rel, ok := strings.CutPrefix(p, head.prefix); ok {
			paths = append(paths, rel)
		} else {
			paths = append(paths, "/"+p)
		}
	}
	slices.Sort(paths)
	return paths, nil
}

type info struct{ e entry }

func (i info) Name() string       { return i.e.name }
func (i info) Size() int64        { return 0 }
func (i info) Mode() fs.FileMode  { return i.e.fileMode() }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.e.typ == "tree" }
func (i info) Sys() any           { return nil }

type file struct {
	info info
	r    *bytes.Reader
	dir  []fs.DirEntry
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }
func (f *file) Read(b []byte) (int, error) {
	if f.r == nil {
		return 0, &fs.PathError{Op: "read", Path: f.info.Name(), Err: errors.New("is a directory")}
	}
	return f.r.Read(b)
}

// ReadDir makes a directory an fs.ReadDirFile.
func (f *file) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		ds := f.dir
		f.dir = nil
		return ds, nil
	}
	if len(f.dir) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(f.dir))
	ds := f.dir[:k]
	f.dir = f.dir[k:]
	return ds, nil
}

// Error is a git command that ran and failed; Stderr is git's own message, if any.
type Error struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	if e.Stderr != "" {
		return "git " + e.Args[0] + ": " + e.Stderr
	}
	return "git " + e.Args[0] + ": " + e.Err.Error()
}

// git runs git in dir and returns its output.
func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return nil, fmt.Errorf("running git (is it installed and on PATH?): %w", err)
		}
		return nil, &Error{Args: args, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return stdout.Bytes(), nil
}
