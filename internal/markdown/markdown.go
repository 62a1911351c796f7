// Package markdown reads the project's Markdown documents for the tests that hold them to the
// code, and for the generator that writes their tables: fenced blocks with their language and
// line, sections found by their heading's title, tables found by their header, links, and regions
// between markers. It knows Markdown only as far as these documents use it: ``` fences (indented
// inside list items), ATX headings (#, ##, ...), pipe tables and inline links.
//
// Sections are found by title, never by position: a page may be reordered, split or moved under
// docs/ without a test noticing, as long as the titles a test names stay unique.
package markdown

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/platform/private-run-api/internal/linediff"
)

// Doc is one Markdown document.
type Doc struct {
	// Name is how messages name the document: its path relative to the root it was read from,
	// with forward slashes (README.md, docs/calling.md).
	Name string
	// Lines are the document's lines, without their newlines.
	Lines []string
	// Fences are its fenced blocks, in order.
	Fences []Fence
	// Headings are its headings outside fences, in order.
	Headings []Heading
}

// Fence is one fenced block.
type Fence struct {
	Doc *Doc
	// Lang is the word after the opening ```, "" for none.
	Lang string
	// Line is the document line (1-based) of the block's first content line.
	Line int
	// Text is the content, with the fence's own indentation (a block inside a list item) taken
	// off, each line ending in "\n".
	Text string
}

// Heading is one ATX heading.
type Heading struct {
	// Level is the number of #s.
	Level int
	// Title is the heading's text as written, `code` spans included.
	Title string
	// Line is its document line (1-based).
	Line int
}

// Parse reads a document; name is what messages call it. A fence that is never closed is an
// error naming its line.
func Parse(name string, data []byte) (*Doc, error) {
	d := &Doc{Name: name, Lines: strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")}
	var cur *Fence
	var body strings.Builder
	indent := ""
	for i, line := range d.Lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &Fence{Doc: d, Lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), Line: i + 2}
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			body.Reset()
		case cur != nil && trimmed == "```":
			cur.Text = body.String()
			d.Fences = append(d.Fences, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(strings.TrimPrefix(line, indent) + "\n")
		default:
			if h, ok := heading(line); ok {
				h.Line = i + 1
				d.Headings = append(d.Headings, h)
			}
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: a fenced block is never closed", name, cur.Line-1)
	}
	return d, nil
}

// heading parses an ATX heading line ("## Title").
func heading(line string) (Heading, bool) {
	level := len(line) - len(strings.TrimLeft(line, "#"))
	if level == 0 || level > 6 || len(line) == level || line[level] != ' ' {
		return Heading{}, false
	}
	return Heading{Level: level, Title: strings.TrimSpace(line[level:])}, true
}

// Pos is "name:line", how messages point into the document.
func (d *Doc) Pos(line int) string { return fmt.Sprintf("%s:%d", d.Name, line) }

// Pos is where the block's content starts.
func (f Fence) Pos() string { return f.Doc.Pos(f.Line) }

// Body is the block's lines, without the empty string after the last newline.
func (f Fence) Body() []string { return strings.Split(strings.TrimSuffix(f.Text, "\n"), "\n") }

// Compare compares the block, a sample of output, with what the code printed: "" when they are
// the same, else a line diff naming the document's lines. A block whose last line is "..." shows
// the start of the output: only that many lines of got count.
func (f Fence) Compare(got string) string {
	want := f.Body()
	gotLines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if want[len(want)-1] == "..." {
		want = want[:len(want)-1]
		gotLines = gotLines[:min(len(want), len(gotLines))]
	}
	if slices.Equal(want, gotLines) {
		return ""
	}
	return linediff.Show(f.Line, want, gotLines)
}

// All is the whole document as one section.
func (d *Doc) All() Section {
	return Section{Doc: d, Start: 1, End: len(d.Lines) + 1}
}

// Section is a heading and what follows it up to the next heading of its level or above (its
// subsections included), or a whole document.
type Section struct {
	Doc *Doc
	// Heading is the section's heading; its zero value for a whole document.
	Heading Heading
	// Start and End are the document lines (1-based) the section spans: Start its heading,
	// End the line after its last.
	Start, End int
}

// Section is the one section of the document titled title, at any level.
func (d *Doc) Section(title string) (Section, error) { return Set{d}.Section(title) }

// Lines are the section's lines, its heading first.
func (s Section) Lines() []string { return s.Doc.Lines[s.Start-1 : s.End-1] }

// Text is the section as written.
func (s Section) Text() string { return strings.Join(s.Lines(), "\n") }

// Pos names the section's heading, for messages.
func (s Section) Pos() string {
	if s.Heading.Title == "" {
		return s.Doc.Name
	}
	return fmt.Sprintf("%s, %q", s.Doc.Pos(s.Start), s.Heading.Title)
}

// Fences are the section's fenced blocks.
func (s Section) Fences() []Fence {
	var out []Fence
	for _, f := range s.Doc.Fences {
		if f.Line > s.Start && f.Line < s.End {
			out = append(out, f)
		}
	}
	return out
}

// Row is one row of a table below its header.
type Row struct {
	// Line is the row's document line.
	Line int
	// Cells are the row's cells, trimmed, an escaped pipe (\|) unescaped.
	Cells []string
}

// Table returns the rows of the section's first table whose header cells are columns. The
// table may be indented (inside a list item).
func (s Section) Table(columns ...string) ([]Row, error) {
	lines := s.Lines()
	for i, l := range lines {
		if !slices.Equal(cells(l), columns) {
			continue
		}
		var rows []Row
		for j := i + 1; j < len(lines); j++ {
			l := strings.TrimSpace(lines[j])
			switch {
			case !strings.HasPrefix(l, "|"):
				return rows, nil
			case strings.HasPrefix(strings.ReplaceAll(l, " ", ""), "|---"), strings.HasPrefix(strings.ReplaceAll(l, " ", ""), "|:--"):
			default:
				rows = append(rows, Row{Line: s.Start + j, Cells: cells(l)})
			}
		}
		return rows, nil
	}
	return nil, fmt.Errorf("%s: no table with the columns %s", s.Pos(), strings.Join(columns, " | "))
}

// cells splits a table line into its cells; nil for a line that is not one.
func cells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil
	}
	out := strings.Split(strings.ReplaceAll(line[1:len(line)-1], `\|`, "\x00"), "|")
	for k := range out {
		out[k] = strings.ReplaceAll(strings.TrimSpace(out[k]), "\x00", "|")
	}
	return out
}

// Set is the documents a test reads together, so that it finds a block or a section wherever it
// now lives among them.
type Set []*Doc

// Read reads the documents below root that match the patterns (filepath.Glob patterns relative
// to root), each once, in the patterns' order. A pattern that matches nothing adds nothing; a set
// with no document at all is an error.
func Read(root string, patterns ...string) (Set, error) {
	var set Set
	seen := map[string]bool{}
	for _, p := range patterns {
		matches, err := filepath.Glob(filepath.Join(root, p))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			rel, err := filepath.Rel(root, m)
			if err != nil {
				return nil, err
			}
			name := filepath.ToSlash(rel)
			if seen[name] {
				continue
			}
			seen[name] = true
			data, err := os.ReadFile(m)
			if err != nil {
				return nil, err
			}
			d, err := Parse(name, data)
			if err != nil {
				return nil, err
			}
			set = append(set, d)
		}
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("no document in %s matches %s", root, strings.Join(patterns, ", "))
	}
	return set, nil
}

// ProjectDocs are the patterns of the project's own documents: the README a newcomer reads first
// and every page under docs/, the decision records included. (bootstrap/, guard/ and policy/
// keep READMEs of their own, which their tests read.)
var ProjectDocs = []string{"README.md", "docs/*.md", "docs/*/*.md"}

// Project reads the project's documents from the repository root.
func Project(root string) (Set, error) { return Read(root, ProjectDocs...) }

// Doc is the document named name, or nil.
func (s Set) Doc(name string) *Doc {
	for _, d := range s {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Fences are every document's fenced blocks, document by document.
func (s Set) Fences() []Fence {
	var out []Fence
	for _, d := range s {
		out = append(out, d.Fences...)
	}
	return out
}

// Section is the one section titled title in any document of the set. None, or more than one,
// is an error: a test that names a section must find exactly the text it means.
func (s Set) Section(title string) (Section, error) {
	var found []Section
	for _, d := range s {
		for i, h := range d.Headings {
			if h.Title == title {
				found = append(found, d.section(i))
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var names []string
		for _, d := range s {
			names = append(names, d.Name)
		}
		return Section{}, fmt.Errorf("no section titled %q in %s", title, strings.Join(names, ", "))
	default:
		var at []string
		for _, f := range found {
			at = append(at, f.Doc.Pos(f.Start))
		}
		return Section{}, fmt.Errorf("%d sections titled %q (%s): a test that names one must find one", len(found), title, strings.Join(at, ", "))
	}
}

// Link is one inline link, [text](target).
type Link struct {
	Doc  *Doc
	Line int
	Text string
	// Target is what the parentheses hold.
	Target string
}

var inlineLink = regexp.MustCompile(`\[([^\]]*)\]\(([^)\s]+)\)`)

// Links are the document's inline links outside fences and `code` spans.
func (d *Doc) Links() []Link {
	inFence := map[int]bool{}
	for _, f := range d.Fences {
		for k := range len(f.Body()) + 2 {
			inFence[f.Line-1+k] = true
		}
	}
	var out []Link
	for i, l := range d.Lines {
		if inFence[i+1] {
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(withoutCode(l), -1) {
			out = append(out, Link{Doc: d, Line: i + 1, Text: m[1], Target: m[2]})
		}
	}
	return out
}

var codeSpan = regexp.MustCompile("`[^`]*`")

// withoutCode blanks the `code` spans of a line, whose brackets are no links. A link's text may
// hold a code span ([`-live`](...)): only the span's inside is blanked.
func withoutCode(l string) string {
	return codeSpan.ReplaceAllStringFunc(l, func(s string) string { return "`" + strings.Repeat(" ", len(s)-2) + "`" })
}

// Anchor is the fragment GitHub gives a heading: lower case, every character but letters,
// digits, spaces, hyphens and underscores dropped, spaces made hyphens. A document's second
// heading of the same anchor gets "-1", its third "-2", and so on.
func Anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Anchors are the fragments of the document's headings, each with the section it names.
func (d *Doc) Anchors() map[string]Section {
	out := map[string]Section{}
	count := map[string]int{}
	for i, h := range d.Headings {
		a := Anchor(h.Title)
		if n := count[a]; n > 0 {
			count[a]++
			a = fmt.Sprintf("%s-%d", a, n)
		} else {
			count[a] = 1
		}
		out[a] = d.section(i)
	}
	return out
}

// section is the section of the document's i-th heading: up to the next heading of its level or
// above.
func (d *Doc) section(i int) Section {
	h := d.Headings[i]
	end := len(d.Lines) + 1
	for _, next := range d.Headings[i+1:] {
		if next.Level <= h.Level {
			end = next.Line
			break
		}
	}
	return Section{Doc: d, Heading: h, Start: h.Line, End: end}
}

// CodeSpans lists the `code` spans of a Markdown text, without their backticks.
func CodeSpans(s string) []string {
	var out []string
	for _, m := range codeSpan.FindAllString(s, -1) {
		out = append(out, m[1:len(m)-1])
	}
	return out
}

// Region is the text between the marker lines "<!-- BEGIN name ... -->" and "<!-- END name -->"
// of a document, which a generator owns. Begin is the line of the first marker (1-based), Body
// the lines between the two.
type Region struct {
	Name  string
	Begin int
	Body  []string
}

// Region finds the one region name of the document.
func (d *Doc) Region(name string) (Region, error) {
	begin, end := -1, -1
	for i, l := range d.Lines {
		switch {
		case strings.HasPrefix(l, "<!-- BEGIN "+name+" ") || l == "<!-- BEGIN "+name+" -->":
			if begin >= 0 {
				return Region{}, fmt.Errorf("%s: a second BEGIN %s marker (the first is at line %d)", d.Pos(i+1), name, begin+1)
			}
			begin = i
		case l == "<!-- END "+name+" -->":
			if end >= 0 {
				return Region{}, fmt.Errorf("%s: a second END %s marker", d.Pos(i+1), name)
			}
			end = i
		}
	}
	if begin < 0 || end < begin {
		return Region{}, fmt.Errorf("%s: no <!-- BEGIN %s --> line followed by <!-- END %s -->", d.Name, name, name)
	}
	return Region{Name: name, Begin: begin + 1, Body: d.Lines[begin+1 : end]}, nil
}

// Replace returns the document's text with the body of region name replaced by body (lines
// without their newlines).
func (d *Doc) Replace(name string, body []string) ([]byte, error) {
	r, err := d.Region(name)
	if err != nil {
		return nil, err
	}
	out := slices.Concat(d.Lines[:r.Begin], body, d.Lines[r.Begin+len(r.Body):])
	return []byte(strings.Join(out, "\n") + "\n"), nil
}
