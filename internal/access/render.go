package access

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
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
func WriteReport(w io.Writer, r Report, f Format) error { return Render(w, r, f, writeReport) }

// WriteDiff renders a diff.
func WriteDiff(w io.Writer, d Diff, f Format) error { return Render(w, d, f, writeDiff) }

// The text and Markdown report say the same things in the same order; they differ in the
// heading and in how the grants are laid out.
func writeReport(o *Out, r Report) {
	stack := "stack " + o.Code(r.Stack)
	if r.Project != "" {
		stack += ", project " + o.Code(r.Project)
	}
	at := r.At.Format(time.RFC3339)
	if o.Markdown() {
		o.F("### Access report: %s\n\nExpiries judged at %s; a grant whose expiry has passed is not listed.\n", stack, at)
		o.Section("Grants (%d)", len(r.Grants))
	} else {
		o.F("Access report for %s (expiries judged at %s)\n", stack, at)
		o.Section("Grants (%d), by principal", len(r.Grants))
	}
	switch {
	case len(r.Grants) == 0:
		o.None("none: nobody is granted anything by this stack")
	case o.Markdown():
		var rows [][]string
		for _, g := range r.Grants {
			rows = append(rows, []string{mdCode(g.Principal), mdCode(g.Role), g.Target.Kind + " " + mdCode(g.Target.Name), FormatExpiry(g.Expires), mdText(g.Why)})
		}
		o.Table([]string{"Principal", "Role", "On", "Expires", "Why"}, rows)
	default:
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
				o.Line(h)
			}
			o.Line("  " + line)
		}
	}

	o.Section("Created (%d)", len(r.Inventory))
	if len(r.Inventory) == 0 {
		o.None("nothing")
	} else {
		var rows [][]string
		for _, it := range r.Inventory {
			rows = append(rows, []string{it.Kind, o.Code(it.Name), o.Text(itemDetail(it))})
		}
		o.Table([]string{"Kind", "Name", "Detail"}, rows)
	}
	o.List(fmt.Sprintf("Outside this program's control (%d)", len(r.Outside)), "*", texts(o, r.Outside))
	warnings(o, r.Warnings)
}

func itemDetail(it Item) string {
	if it.Note == "" {
		return it.Detail
	}
	return it.Detail + "; " + strconv.Quote(it.Note)
}

// texts is each of ss as free text in o's format.
func texts(o *Out, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = o.Text(s)
	}
	return out
}

func warnings(o *Out, ws []string) {
	o.List(fmt.Sprintf("Warnings (%d)", len(ws)), "!", texts(o, ws))
}

// outsideConfigNote is the banner of a diff whose change touches more than stack files.
const outsideConfigNote = "This change also touches files besides stack files. The access report covers config only: what the program does with it is the code owners' review, not this report's."

// writeDiff writes the banner, the one-line summary and the body (diffLines), then the
// warnings. The Markdown body is a diff block: GitHub colours its lines starting with + and -.
func writeDiff(o *Out, d Diff) {
	if len(d.OutsideConfig) > 0 {
		o.Alert(outsideConfigNote, d.OutsideConfig)
	}
	switch {
	case !d.Changed && o.Markdown():
		o.F("### No access change in stack %s\n\nCompared %s with %s.\n", mdCode(d.Stack), mdCode(d.Base), mdCode(d.Head))
	case !d.Changed:
		o.F("No access change in stack %s (%s -> %s).\n", clean(d.Stack), clean(d.Base), clean(d.Head))
	case o.Markdown():
		o.F("### Access changes in stack %s\n\nCompared %s with %s: %s.\n\n", mdCode(d.Stack), mdCode(d.Base), mdCode(d.Head), summary(d))
		// The lines are the text format's, unindented. clean() has removed line breaks, so no
		// value can close the fence.
		o.F("```diff\n")
		for _, l := range diffLines(d)[1:] {
			o.F("%s\n", l.text)
		}
		o.F("```\n")
	default:
		o.F("Access changes in stack %s (%s -> %s): %s\n", clean(d.Stack), clean(d.Base), clean(d.Head), summary(d))
		for _, l := range diffLines(d) {
			o.F("%s%s\n", strings.Repeat("  ", l.depth), l.text)
		}
	}
	warnings(o, d.Warnings)
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

// Clean, MarkdownCode and MarkdownText are this report's escapes, for the tool's other reports
// (package access/live), so that one rule decides what reaches a terminal or a comment.
func Clean(s string) string        { return clean(s) }
func MarkdownCode(s string) string { return mdCode(s) }
func MarkdownText(s string) string { return mdText(s) }
