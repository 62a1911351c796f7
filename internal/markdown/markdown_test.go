package markdown

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/testcheck"
	"github.com/platform/private-run-api/internal/testdir"
)

const page = "# Title\n" + // 1
	"\n" + // 2
	"Intro, see [the guide](docs/guide.md#step-one) and `[not](a-link.md)`.\n" + // 3
	"\n" + // 4
	"## Step one\n" + // 5
	"\n" + // 6
	"- a list item with a block:\n" + // 7
	"\n" + // 8
	"  ```yaml\n" + // 9
	"  # callers/a.yaml: a comment, not a heading\n" + // 10
	"  name: a\n" + // 11
	"  ```\n" + // 12
	"\n" + // 13
	"### Detail\n" + // 14
	"\n" + // 15
	"| flag | meaning |\n" + // 16
	"|---|---|\n" + // 17
	"| `-base FILE\\|REV` | the base |\n" + // 18
	"| `-now` | [when](#step-one) |\n" + // 19
	"\n" + // 20
	"## Step `two`: done\n" + // 21
	"\n" + // 22
	"```text\n" + // 23
	"out 1\n" + // 24
	"...\n" + // 25
	"```\n" + // 26
	"## Step one\n" // 27

func parse(t *testing.T) *Doc {
	t.Helper()
	d, err := Parse("docs/page.md", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFences(t *testing.T) {
	d := parse(t)
	var got []string
	for _, f := range d.Fences {
		got = append(got, f.Pos()+" "+f.Lang+" "+f.Text)
	}
	want := []string{
		"docs/page.md:10 yaml # callers/a.yaml: a comment, not a heading\nname: a\n",
		"docs/page.md:24 text out 1\n...\n",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fences:\n%q\nwant\n%q", got, want)
	}
	if _, err := Parse("x.md", []byte("```sh\necho\n")); err == nil || !strings.Contains(err.Error(), "x.md:1: a fenced block is never closed") {
		t.Errorf("an unclosed fence: %v", err)
	}
}

func TestHeadingsAndSections(t *testing.T) {
	d := parse(t)
	var titles []string
	for _, h := range d.Headings {
		titles = append(titles, strings.Repeat("#", h.Level)+" "+h.Title)
	}
	if want := []string{"# Title", "## Step one", "### Detail", "## Step `two`: done", "## Step one"}; !reflect.DeepEqual(titles, want) {
		t.Errorf("headings %q, want %q (a # inside a fence is no heading)", titles, want)
	}
	set := Set{d}
	for _, tc := range []struct {
		title      string
		start, end int
		err        string
	}{
		{title: "Detail", start: 14, end: 21},
		{title: "Title", start: 1, end: 28},
		{title: "Step `two`: done", start: 21, end: 27},
		{title: "Step one", err: "2 sections titled \"Step one\" (docs/page.md:5, docs/page.md:27)"},
		{title: "Step three", err: "no section titled \"Step three\" in docs/page.md"},
	} {
		s, err := set.Section(tc.title)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.title, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.title, err)
		case s.Start != tc.start || s.End != tc.end:
			t.Errorf("%q spans %d-%d, want %d-%d", tc.title, s.Start, s.End, tc.start, tc.end)
		}
	}
	s, _ := set.Section("Step `two`: done")
	if fs := s.Fences(); len(fs) != 1 || fs[0].Line != 24 {
		t.Errorf("the section's fences: %+v", fs)
	}
}

func TestTable(t *testing.T) {
	s, _ := Set{parse(t)}.Section("Detail")
	rows, err := s.Table("flag", "meaning")
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{{18, []string{"`-base FILE|REV`", "the base"}}, {19, []string{"`-now`", "[when](#step-one)"}}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %+v, want %+v", rows, want)
	}
	if _, err := s.Table("flag", "default"); err == nil || !strings.Contains(err.Error(), `docs/page.md:14, "Detail": no table with the columns flag | default`) {
		t.Errorf("a missing table: %v", err)
	}
}

func TestLinksAndAnchors(t *testing.T) {
	d := parse(t)
	var got []string
	for _, l := range d.Links() {
		got = append(got, d.Pos(l.Line)+" "+l.Target)
	}
	if want := []string{"docs/page.md:3 docs/guide.md#step-one", "docs/page.md:19 #step-one"}; !reflect.DeepEqual(got, want) {
		t.Errorf("links %q, want %q (none inside code)", got, want)
	}
	testcheck.Answers(t, "Anchor", Anchor, map[string]string{
		"Token use: `-usage`":                    "token-use--usage",
		"The authz bucket's whole policy":        "the-authz-buckets-whole-policy",
		"Upgrading from `<service>-run-invoker`": "upgrading-from-service-run-invoker",
		"CI/CD":                                  "cicd",
	})
	anchors := d.Anchors()
	for _, a := range []string{"title", "step-one", "detail", "step-two-done", "step-one-1"} {
		if _, ok := anchors[a]; !ok {
			t.Errorf("no anchor %q among %v", a, anchors)
		}
	}
	if anchors["step-one-1"].Start != 27 {
		t.Errorf("the second \"Step one\" is at %d", anchors["step-one-1"].Start)
	}
}

func TestCompare(t *testing.T) {
	f := parse(t).Fences[1] // "out 1" then "...": the start of the output
	for got, same := range map[string]bool{
		"out 1\n":               true,
		"out 1\nout 2\nout 3\n": true,
		"out 2\n":               false,
		"":                      false,
	} {
		if diff := f.Compare(got); (diff == "") != same {
			t.Errorf("Compare(%q) = %q, want same=%v", got, diff, same)
		}
	}
	whole := Fence{Doc: f.Doc, Line: 5, Text: "a\nb\n"}
	if diff := whole.Compare("a\nb\nc\n"); diff == "" || !strings.Contains(diff, "c") {
		t.Errorf("a block without \"...\" is the whole output: %q", diff)
	}
}

func TestRegion(t *testing.T) {
	d, err := Parse("README.md", []byte("intro\n<!-- BEGIN keys (generated) -->\nold 1\nold 2\n<!-- END keys -->\nafter\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Region("keys")
	if err != nil || r.Begin != 2 || !reflect.DeepEqual(r.Body, []string{"old 1", "old 2"}) {
		t.Fatalf("region %+v, %v", r, err)
	}
	out, err := d.Replace("keys", []string{"new"})
	if want := "intro\n<!-- BEGIN keys (generated) -->\nnew\n<!-- END keys -->\nafter\n"; err != nil || string(out) != want {
		t.Errorf("Replace: %q, %v; want %q", out, err, want)
	}
	for text, msg := range map[string]string{
		"no markers\n": "README.md: no <!-- BEGIN keys --> line",
		"<!-- END keys -->\n<!-- BEGIN keys -->\n":                      "README.md: no <!-- BEGIN keys --> line",
		"<!-- BEGIN keys -->\n<!-- BEGIN keys -->\n<!-- END keys -->\n": "README.md:2: a second BEGIN keys marker",
	} {
		d, _ := Parse("README.md", []byte(text))
		if _, err := d.Region("keys"); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", text, err, msg)
		}
	}
}

func TestRead(t *testing.T) {
	root := t.TempDir()
	for name, text := range map[string]string{
		"README.md":             "# R\n",
		"docs/a.md":             "# A\n## Shared\n",
		"docs/decisions/one.md": "# One\n",
		"docs/notes.txt":        "not markdown",
	} {
		p := filepath.Join(root, name)
		testdir.Write(t, p, text)
	}
	set, err := Project(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range set {
		names = append(names, d.Name)
	}
	if want := []string{"README.md", "docs/a.md", "docs/decisions/one.md"}; !reflect.DeepEqual(names, want) {
		t.Errorf("documents %q, want %q", names, want)
	}
	if s, err := set.Section("Shared"); err != nil || s.Doc.Name != "docs/a.md" {
		t.Errorf("a section found across the set: %+v, %v", s, err)
	}
	if _, err := Read(root, "nothing/*.md"); err == nil {
		t.Error("an empty set is no error")
	}
}

func TestCodeSpans(t *testing.T) {
	if got := CodeSpans("`a`, `{member, expires}` and `b`"); !reflect.DeepEqual(got, []string{"a", "{member, expires}", "b"}) {
		t.Errorf("CodeSpans: %q", got)
	}
}
