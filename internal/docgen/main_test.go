package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/linediff"
	"github.com/platform/private-run-api/internal/markdown"
	"github.com/platform/private-run-api/internal/testcheck"
	"github.com/platform/private-run-api/internal/testdir"
)

const root = "../.."

// README.md's generated tables are what the code says: a key or output changed without running
// the generator fails here, naming the command that fixes it.
func TestREADMETablesAreCurrent(t *testing.T) {
	namespace, err := projectName(root)
	if err != nil {
		t.Fatal(err)
	}
	set, err := markdown.Read(root, readmes...)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range readmes {
		doc := set.Doc(file)
		if doc == nil {
			t.Fatalf("%s was not read", file)
		}
		for name, want := range tables(file, namespace) {
			r, err := doc.Region(name)
			if err != nil {
				t.Fatalf("%v: run %s", err, command)
			}
			if strings.Join(r.Body, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s:%d: the %s table is not what the code says; run `%s` (-%s, +generated):\n%s", file, r.Begin, name, command, file, linediff.Show(r.Begin+1, r.Body, want))
			}
		}
	}
}

// The generator replaces only what lies between the markers, and running it twice changes
// nothing the second time.
func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	readme := "# x\n\nintro\n\n<!-- BEGIN config-keys (generated) -->\nstale\n<!-- END config-keys -->\n\n" +
		"between\n<!-- BEGIN outputs -->\n<!-- END outputs -->\nend\n"
	bootstrap := "# b\n\n<!-- BEGIN config-keys -->\n<!-- END config-keys -->\n"
	for name, text := range map[string]string{"README.md": readme, "bootstrap/README.md": bootstrap, "Pulumi.yaml": "name: proj\nruntime: go\n"} {
		testdir.Write(t, filepath.Join(dir, name), text)
	}
	if err := run(dir); err != nil {
		t.Fatal(err)
	}
	once, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	got := string(once)
	testcheck.Contains(t, "the rewritten README", got,
		"# x\n\nintro\n\n<!-- BEGIN config-keys (generated) -->\n\n| key | meaning | default |\n|---|---|---|\n| `gcp:project` |",
		"\n| `proj:service` (running it) | `secrets`",
		"<!-- END config-keys -->\n\nbetween\n<!-- BEGIN outputs -->\n\n| output | what |\n|---|---|\n| `serviceUrl` |",
		" |\n\n<!-- END outputs -->\nend\n",
	)
	b, _ := os.ReadFile(filepath.Join(dir, "bootstrap", "README.md"))
	testcheck.Contains(t, "the rewritten bootstrap README", string(b),
		"<!-- BEGIN config-keys -->\n\n| key | default | rule |\n|---|---|---|\n| `gcp:project` | required |",
		"\n| `poolId`, `providerId` | `github`, `github-actions` |")
	if strings.Contains(got, "stale") {
		t.Error("the old table is still there")
	}
	if err := run(dir); err != nil {
		t.Fatal(err)
	}
	if twice, _ := os.ReadFile(filepath.Join(dir, "README.md")); string(twice) != got {
		t.Error("a second run changed the README")
	}

	testdir.Write(t, filepath.Join(dir, "README.md"), "no markers\n")
	if err := run(dir); err == nil || !strings.Contains(err.Error(), "no <!-- BEGIN config-keys -->") {
		t.Errorf("a README without markers: %v", err)
	}
}

func TestTableEscapesPipes(t *testing.T) {
	got := table([][]string{{"a", "b"}, {"x|y", "`-base FILE|REV`"}})
	want := []string{"", "| a | b |", "|---|---|", "| x\\|y | `-base FILE\\|REV` |", ""}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("table: %q, want %q", got, want)
	}
}
