package access

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Render writes v as JSON, or as text or Markdown with write, and returns the first write error.
// Every report of the tool (this package's report and diff, access/live's live and usage
// reports) is written through it, so that one rule decides what reaches a terminal, a pull
// request comment or a script.
func Render[T any](w io.Writer, v T, f Format, write func(*Out, T)) error {
	if f == JSON {
		return writeJSON(w, v)
	}
	o := &Out{w: w, markdown: f == Markdown}
	write(o, v)
	return o.err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Principals and descriptions are printed as written; "<" escaped as \u003c helps nobody.
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Out writes one report as text (for a terminal) or Markdown (for a pull request comment or an
// issue), and remembers the first write error, so that a renderer writes freely and Render
// reports it once. Its methods are the parts the reports are made of, each written the way its
// format writes it; a renderer asks Markdown where the two say things differently.
type Out struct {
	w        io.Writer
	markdown bool
	err      error
}

// Markdown is true when o writes Markdown, false for text.
func (o *Out) Markdown() bool { return o.markdown }

// F writes a formatted string as it is; its values must already be escaped (Code, Text).
func (o *Out) F(format string, args ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintf(o.w, format, args...)
	}
}

// Write makes o an io.Writer, for a report written inside another.
func (o *Out) Write(b []byte) (int, error) {
	if o.err == nil {
		_, o.err = o.w.Write(b)
	}
	return len(b), o.err
}

// Code is a value (a name, a member, a role) as o shows it: one printable line, in a code span
// in Markdown.
func (o *Out) Code(s string) string {
	if o.markdown {
		return mdCode(s)
	}
	return clean(s)
}

// Text is free text (a description, a reason, a fix) as o shows it: one printable line, its
// Markdown escaped in Markdown.
func (o *Out) Text(s string) string {
	if o.markdown {
		return mdText(s)
	}
	return clean(s)
}

// Section starts a section headed by the formatted title, after a blank line: in text on a
// line of its own, in Markdown as a level-4 heading.
func (o *Out) Section(format string, args ...any) {
	if o.markdown {
		o.F("\n#### "+format+"\n\n", args...)
		return
	}
	o.F("\n"+format+"\n", args...)
}

// Items writes one item a line: in text two spaces in, after mark unless it is "", in Markdown
// as a bulleted list. The items must already be escaped.
func (o *Out) Items(mark string, items ...string) {
	for _, s := range items {
		switch {
		case o.markdown:
			o.F("- %s\n", s)
		case mark == "":
			o.F("  %s\n", s)
		default:
			o.F("  %s %s\n", mark, s)
		}
	}
}

// List is a Section headed title that lists items (Items), or nothing when there are none.
func (o *Out) List(title, mark string, items []string) {
	if len(items) == 0 {
		return
	}
	o.Section("%s", title)
	o.Items(mark, items...)
}

// Line writes one line of a section's body: in text two spaces in.
func (o *Out) Line(s string) {
	if o.markdown {
		o.F("%s\n", s)
		return
	}
	o.F("  %s\n", s)
}

// None says that a section is empty, in words such as "nothing": in text two spaces in, in
// Markdown as a sentence.
func (o *Out) None(s string) {
	if o.markdown {
		o.F("%s.\n", strings.ToUpper(s[:1])+s[1:])
		return
	}
	o.Line(s)
}

// Table writes rows under head: in text as aligned columns two spaces in, head in capitals; in
// Markdown as a table. The cells must already be escaped.
func (o *Out) Table(head []string, rows [][]string) {
	if !o.markdown {
		upper := make([]string, len(head))
		for i, h := range head {
			upper[i] = strings.ToUpper(h)
		}
		for _, line := range columns(append([][]string{upper}, rows...)) {
			o.Line(line)
		}
		return
	}
	o.F("| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, row := range rows {
		o.F("| %s |\n", strings.Join(row, " | "))
	}
}

// Alert is a warning that opens a report, with the values it is about: in text each line
// marked "!!", in Markdown as a GitHub warning block.
func (o *Out) Alert(text string, values []string) {
	if o.markdown {
		o.F("> [!WARNING]\n> %s\n>\n", mdText(text))
		for _, v := range values {
			o.F("> - %s\n", mdCode(v))
		}
	} else {
		o.F("!! %s\n", clean(text))
		for _, v := range values {
			o.F("!!   %s\n", clean(v))
		}
	}
	o.F("\n")
}

// columns pads cells into aligned columns; the last column is not padded.
func columns(rows [][]string) []string {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	out := make([]string, len(rows))
	for r, row := range rows {
		var b strings.Builder
		for i, c := range row {
			b.WriteString(c)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		out[r] = b.String()
	}
	return out
}
