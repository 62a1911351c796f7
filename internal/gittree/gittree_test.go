package gittree

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/platform/private-run-api/internal/testcheck"
	"github.com/platform/private-run-api/internal/testdir"
)

// repo commits a project in the infra/ subdirectory of a repository, with a caller directory, a
// symlink and a file outside the project, then changes the working tree: the revision, not the
// working tree, must be read.
func repo(t *testing.T) string {
	t.Helper()
	r := t.TempDir()
	testdir.Write(t, filepath.Join(r, "infra", "Pulumi.yaml"), "name: p\n")
	testdir.Write(t, filepath.Join(r, "infra", "callers", "b.yaml"), "name: b\n")
	testdir.Write(t, filepath.Join(r, "infra", "callers", "a.yaml"), "name: a\n")
	testdir.Write(t, filepath.Join(r, "secret.txt"), "outside\n")
	testdir.Commit(t, r, "no link")
	testdir.Git(t, r, "tag", "nolink")
	if err := os.Symlink("../../secret.txt", filepath.Join(r, "infra", "callers", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	testdir.Commit(t, r, "base")
	testdir.Write(t, filepath.Join(r, "infra", "Pulumi.yaml"), "name: changed on disk\n")
	return r
}

func TestTreeReadsTheRevisionAtTheDirectory(t *testing.T) {
	r := repo(t)
	tr, err := Open(filepath.Join(r, "infra"), "main")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tr.Label, "main (") || len(tr.Commit()) != 40 {
		t.Errorf("label %q, commit %q", tr.Label, tr.Commit())
	}
	data, err := fs.ReadFile(tr, "Pulumi.yaml")
	if err != nil || string(data) != "name: p\n" {
		t.Errorf("Pulumi.yaml = %q, %v; want the committed text", data, err)
	}
	ds, err := fs.ReadDir(tr, "callers")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Name())
	}
	testcheck.Lines(t, "callers", names, []string{"a.yaml", "b.yaml", "link.yaml"})
	// A symlink is reported as one and never followed, least of all out of the project.
	if _, err := fs.ReadFile(tr, "callers/link.yaml"); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("reading a symlink: %v", err)
	}
	if fi, err := fs.Lstat(tr, "callers/link.yaml"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("lstat of a symlink: %v, %v", fi, err)
	}
	if target, err := fs.ReadLink(tr, "callers/link.yaml"); err != nil || target != "../../secret.txt" {
		t.Errorf("readlink = %q, %v", target, err)
	}
	// Nothing outside the directory can be named.
	for _, name := range []string{"../secret.txt", "/etc/passwd", "callers/../../secret.txt"} {
		if _, err := fs.ReadFile(tr, name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ReadFile(%q) = %v, want fs.ErrInvalid", name, err)
		}
	}
	if _, err := fs.ReadFile(tr, "missing.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
	// Without a symlink (which Open refuses, as ReadFile does) the tree is a well-behaved fs.FS.
	plain, err := Open(filepath.Join(r, "infra"), "nolink")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(plain, "Pulumi.yaml", "callers/a.yaml", "callers/b.yaml"); err != nil {
		t.Error(err)
	}
}

func TestChangedListsPathsRelativeToTheDirectory(t *testing.T) {
	r := repo(t)
	testdir.Git(t, r, "checkout", "-q", "-b", "pr")
	testdir.Write(t, filepath.Join(r, "infra", "callers", "c.yaml"), "name: c\n")
	testdir.Write(t, filepath.Join(r, "secret.txt"), "changed\n")
	testdir.Git(t, r, "add", "-A")
	testdir.Git(t, r, "commit", "-q", "-m", "pr")
	dir := filepath.Join(r, "infra")
	base, err := Open(dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	head, err := Open(dir, "pr")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Changed(base, head)
	if err != nil {
		t.Fatal(err)
	}
	testcheck.Lines(t, "changed", got, []string{"/secret.txt", "Pulumi.yaml", "callers/c.yaml"})
}

func TestOpenRefusesWhatIsNotARevision(t *testing.T) {
	r := repo(t)
	for _, rev := range []string{"", "--output=/tmp/x", "no-such-branch"} {
		if _, err := Open(r, rev); err == nil {
			t.Errorf("Open(%q) succeeded", rev)
		}
	}
}
