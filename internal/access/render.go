package access

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Format is an output format of the report and the diff.
type Format string

const (
	Text     Format = "text"
	Markdown Format = "markdown"
	JSON     Format = "json"
)

// Formats lists the accepted formats, for usage text and errors.
var Formats = []Format{Text, Markdown, JSON}

// ParseFormat accepts a -format value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q: use text, markdown or json", s)
}

// WriteReport renders a report.
func WriteReport(w io.Writer, r Report, f Format) error {
	switch f {
	case JSON:
		return writeJSON(w, r)
	case Markdown:
		return reportMarkdown(w, r)
	default:
		return reportText(w, r)
	}
}

// WriteDiff renders a diff.
func WriteDiff(w io.Writer, d Diff, f Format) error {
	switch f {
	case JSON:
		return writeJSON(w, d)
	case Markdown:
		return diffMarkdown(w, d)
	default:
		return diffText(w, d)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Principals and descriptions are printed as written; "<" escaped as \u003c helps nobody.
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ew remembers the first write error so that renderers can write freely and report it once.
type ew struct {
	w   io.Writer
	err error
}

func (e *ew) f(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func reportText(w io.Writer, r Report) error {
	e := &ew{w: w}
	e.f("Access report for stack %s", clean(r.Stack))
	if r.Project != "" {
		e.f(", project %s", clean(r.Project))
	}
	e.f(" (expiries judged at %s)\n", r.At.Format(time.RFC3339))

	e.f("\nGrants (%d), by principal\n", len(r.Grants))
	if len(r.Grants) == 0 {
		e.f("  none: nobody is granted anything by this stack\n")
	} else {
		// The principal heads its group instead of filling a column: emails are long, and a
		// reviewer reads one principal's access at a time.
		rows := [][]string{{"ROLE", "ON", "EXPIRES", "WHY"}}
		heads := map[int]string{}
		for i, g := range r.Grants {
			if i == 0 || g.Principal != r.Grants[i-1].Principal {
				heads[len(rows)] = clean(g.Principal)
			}
			rows = append(rows, []string{clean(g.Role), clean(g.Target.String()), FormatExpiry(g.Expires), clean(g.Why)})
		}
		for i, line := range columns(rows) {
			if h, ok := heads[i]; ok {
				e.f("  %s\n", h)
			}
			e.f("    %s\n", line)
		}
	}

	e.f("\nCreated (%d)\n", len(r.Inventory))
	if len(r.Inventory) == 0 {
		e.f("  nothing\n")
	} else {
		rows := [][]string{{"KIND", "NAME", "DETAIL"}}
		for _, it := range r.Inventory {
			rows = append(rows, []string{it.Kind, clean(it.Name), clean(itemDetail(it))})
		}
		for _, line := range columns(rows) {
			e.f("  %s\n", line)
		}
	}
	if len(r.Outside) > 0 {
		e.f("\nOutside this program's control (%d)\n", len(r.Outside))
		for _, o := range r.Outside {
			e.f("  * %s\n", clean(o))
		}
	}
	warningsText(e, r.Warnings)
	return e.err
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

func itemDetail(it Item) string {
	if it.Note == "" {
		return it.Detail
	}
	return it.Detail + "; " + strconv.Quote(it.Note)
}

func warningsText(e *ew, ws []string) {
	if len(ws) == 0 {
		return
	}
	e.f("\nWarnings (%d)\n", len(ws))
	for _, w := range ws {
		e.f("  ! %s\n", clean(w))
	}
}

// outsideConfigNote is the banner of a diff whose change touches more than stack files.
const outsideConfigNote = "This change also touches files besides stack files. The access report covers config only: what the program does with it is the code owners' review, not this report's."

func diffText(w io.Writer, d Diff) error {
	e := &ew{w: w}
	if len(d.OutsideConfig) > 0 {
		e.f("!! %s\n", outsideConfigNote)
		for _, p := range d.OutsideConfig {
			e.f("!!   %s\n", clean(p))
		}
		e.f("\n")
	}
	if !d.Changed {
		e.f("No access change in stack %s (%s -> %s).\n", clean(d.Stack), clean(d.Base), clean(d.Head))
		warningsText(e, d.Warnings)
		return e.err
	}
	e.f("Access changes in stack %s (%s -> %s): %s\n", clean(d.Stack), clean(d.Base), clean(d.Head), summary(d))
	for _, l := range diffLines(d) {
		e.f("%s%s\n", strings.Repeat("  ", l.depth), l.text)
	}
	warningsText(e, d.Warnings)
	return e.err
}

// line is one line of a diff body; depth is its indentation in the text format (the Markdown
// diff block does not indent, so that GitHub colours lines starting with + and -).
type line struct {
	depth int
	text  string
}

// diffLines are the body shared by the text and Markdown diff: each principal on its own line
// followed by one line per change, then the created resources.
func diffLines(d Diff) []line {
	var out []line
	if len(d.Grants) > 0 {
		out = append(out, line{0, ""}, line{0, "Grants, by principal:"})
		for i, g := range d.Grants {
			if i == 0 || g.Principal != d.Grants[i-1].Principal {
				out = append(out, line{1, clean(g.Principal)})
			}
			out = append(out, line{2, grantLine(g)})
		}
	}
	if len(d.Inventory) > 0 {
		out = append(out, line{0, ""}, line{0, "Created resources:"})
		for _, it := range d.Inventory {
			out = append(out, line{1, itemLine(it)})
		}
	}
	return out
}

func grantLine(g GrantChange) string {
	head := fmt.Sprintf("%s %s on %s", g.Change.symbol(), clean(g.Role), clean(g.Target.String()))
	switch g.Change {
	case Changed:
		return fmt.Sprintf("%s: expiry %s -> %s", head, expiryOrNone(g.BaseExpires), expiryOrNone(g.Expires))
	case Removed:
		return head
	}
	if g.Expires == nil {
		return fmt.Sprintf("%s; no expiry; %s", head, clean(g.Why))
	}
	return fmt.Sprintf("%s; expires %s; %s", head, FormatExpiry(g.Expires), clean(g.Why))
}

func expiryOrNone(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return FormatExpiry(t)
}

func itemLine(it ItemChange) string {
	head := fmt.Sprintf("%s %s %s", it.Change.symbol(), it.Kind, clean(it.Name))
	if it.Change == Changed {
		return fmt.Sprintf("%s: %s -> %s", head, clean(it.BaseDetail), clean(it.Detail))
	}
	return fmt.Sprintf("%s (%s)", head, clean(itemDetail(it.Item)))
}

func summary(d Diff) string {
	ga, gr, gc := counts(d.Grants)
	ia, ir, ic := counts(d.Inventory)
	return fmt.Sprintf("grants %d added, %d removed, %d changed; created resources %d added, %d removed, %d changed", ga, gr, gc, ia, ir, ic)
}

func reportMarkdown(w io.Writer, r Report) error {
	e := &ew{w: w}
	e.f("### Access report: stack %s", mdCode(r.Stack))
	if r.Project != "" {
		e.f(", project %s", mdCode(r.Project))
	}
	e.f("\n\nExpiries judged at %s; a grant whose expiry has passed is not listed.\n", r.At.Format(time.RFC3339))

	e.f("\n#### Grants (%d)\n\n", len(r.Grants))
	if len(r.Grants) == 0 {
		e.f("None: nobody is granted anything by this stack.\n")
	} else {
		e.f("| Principal | Role | On | Expires | Why |\n|---|---|---|---|---|\n")
		for _, g := range r.Grants {
			e.f("| %s | %s | %s %s | %s | %s |\n", mdCode(g.Principal), mdCode(g.Role), g.Target.Kind, mdCode(g.Target.Name), FormatExpiry(g.Expires), mdText(g.Why))
		}
	}

	e.f("\n#### Created (%d)\n\n", len(r.Inventory))
	if len(r.Inventory) == 0 {
		e.f("Nothing.\n")
	} else {
		e.f("| Kind | Name | Detail |\n|---|---|---|\n")
		for _, it := range r.Inventory {
			e.f("| %s | %s | %s |\n", it.Kind, mdCode(it.Name), mdText(itemDetail(it)))
		}
	}
	if len(r.Outside) > 0 {
		e.f("\n#### Outside this program's control (%d)\n\n", len(r.Outside))
		for _, o := range r.Outside {
			e.f("- %s\n", mdText(o))
		}
	}
	warningsMarkdown(e, r.Warnings)
	return e.err
}

func diffMarkdown(w io.Writer, d Diff) error {
	e := &ew{w: w}
	if len(d.OutsideConfig) > 0 {
		e.f("> [!WARNING]\n> %s\n>\n", mdText(outsideConfigNote))
		for _, p := range d.OutsideConfig {
			e.f("> - %s\n", mdCode(p))
		}
		e.f("\n")
	}
	if !d.Changed {
		e.f("### No access change in stack %s\n\nCompared %s with %s.\n", mdCode(d.Stack), mdCode(d.Base), mdCode(d.Head))
		warningsMarkdown(e, d.Warnings)
		return e.err
	}
	e.f("### Access changes in stack %s\n\nCompared %s with %s: %s.\n\n", mdCode(d.Stack), mdCode(d.Base), mdCode(d.Head), summary(d))
	// A diff block colours additions and removals on GitHub; the lines are the text format's.
	// clean() has removed line breaks, so no value can close the fence.
	e.f("```diff\n")
	for _, l := range diffLines(d)[1:] {
		e.f("%s\n", l.text)
	}
	e.f("```\n")
	warningsMarkdown(e, d.Warnings)
	return e.err
}

func warningsMarkdown(e *ew, ws []string) {
	if len(ws) == 0 {
		return
	}
	e.f("\n#### Warnings (%d)\n\n", len(ws))
	for _, w := range ws {
		e.f("- %s\n", mdText(w))
	}
}

// clean makes free text (descriptions, but also any value) one printable line: a description
// with a newline or a terminal escape must not forge or hide report lines.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return '?'
		}
		return r
	}, s)
}

// mdCode puts a value in a code span that survives a table cell.
func mdCode(s string) string {
	s = strings.ReplaceAll(clean(s), "|", `\|`)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// mdText escapes free text so that a description cannot add Markdown or HTML to a PR comment
// (an unclosed "<!--" would hide the rest of the report).
func mdText(s string) string {
	var b strings.Builder
	for _, r := range clean(s) {
		if strings.ContainsRune("\\`*_[]<>|#~&!", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Clean, MarkdownCode, MarkdownText and WriteJSON are this report's escapes and JSON encoding,
// for the tool's other reports (package access/live), so that one rule decides what reaches a
// terminal, a comment or a script.
func Clean(s string) string              { return clean(s) }
func MarkdownCode(s string) string       { return mdCode(s) }
func MarkdownText(s string) string       { return mdText(s) }
func WriteJSON(w io.Writer, v any) error { return writeJSON(w, v) }
