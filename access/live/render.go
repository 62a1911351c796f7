package live

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/platform/private-run-api/access"
)

// Every value printed here went through access.Clean (text) or access.MarkdownCode /
// access.MarkdownText (Markdown): members and roles come from live policies and log entries,
// which anyone allowed to set a policy or mint a token chose.

var (
	clean  = access.Clean
	mdCode = access.MarkdownCode
	mdText = access.MarkdownText
)

// out remembers the first write error, so that renderers write freely and report it once.
type out struct {
	w   io.Writer
	err error
}

func (o *out) f(format string, args ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintf(o.w, format, args...)
	}
}

var symbols = map[string]string{Undeclared: "+", Missing: "-", ConditionDiffers: "~", Deleted: "!"}

// Verdict is the report's one-line answer.
func (r *Report) Verdict() string {
	switch {
	case r.Error != "":
		return "could not finish: " + r.Error
	case r.Equal:
		return "live equals declared"
	case r.ExitStatus() == ExitDiffers:
		return "live differs from declared, " + summary(r.Policies)
	}
	n := 0
	for _, p := range r.Policies {
		if p.Status == StatusUnreadable {
			n++
		}
	}
	return fmt.Sprintf("could not read %d declared polic%s; nothing else differs", n, map[bool]string{true: "y", false: "ies"}[n == 1])
}

// WriteReport renders a live report as text, Markdown (for an issue) or JSON.
func WriteReport(w io.Writer, r *Report, f access.Format) error {
	switch f {
	case access.JSON:
		return access.WriteJSON(w, r)
	case access.Markdown:
		return reportMarkdown(w, r)
	}
	return reportText(w, r)
}

func reportText(w io.Writer, r *Report) error {
	o := &out{w: w}
	o.f("Live access of stack %s, project %s (read at %s): %s\n", clean(r.Stack), clean(r.Project), r.At.Format(time.RFC3339), clean(r.Verdict()))
	o.f("\nDeclared policies (%d)\n", len(r.Policies))
	for _, p := range r.Policies {
		o.f("  %s (%s): %s\n", clean(p.label()), p.Owns, p.Status)
		if p.Error != "" {
			o.f("      %s\n      %s\n", clean(p.Error), clean(p.Fix))
		}
		for _, d := range p.Differences {
			o.f("    %s %s\n        %s\n", symbols[d.Kind], clean(differenceLine(d)), clean(d.Fix))
		}
	}
	if r.Pin != nil {
		o.f("\nAuthz bucket %s: creation-time pin\n  %s\n", clean(r.Pin.Bucket), clean(r.Pin.Advice))
	}
	o.f("\nOutside this program: who holds, at project, folder or organization level, a permission that reaches the API\n")
	o.f("  (%s)\n", strings.Join(r.Watched, ", "))
	for _, l := range r.Outside {
		switch {
		case l.Error != "":
			o.f("  %s: cannot read: %s\n      %s\n", clean(l.label()), clean(l.Error), clean(l.Fix))
		case len(l.Holders) == 0:
			o.f("  %s: nobody\n", clean(l.label()))
		default:
			o.f("  %s (%d)\n", clean(l.label()), len(l.Holders))
			for _, h := range l.Holders {
				o.f("    %s\n", clean(holderLine(h)))
			}
		}
		for _, u := range l.Unchecked {
			o.f("    ? %s: its permissions could not be read\n", clean(u))
		}
	}
	return o.err
}

func differenceLine(d Difference) string {
	s := d.Role + " to " + d.Member + " (" + d.Kind
	switch d.Kind {
	case ConditionDiffers:
		s += ": live " + d.Live.String() + ", declared " + d.Declared.String()
	case Missing:
		if d.Declared != nil {
			s += ", under condition " + d.Declared.String()
		}
	default:
		if d.Live != nil {
			s += ", under condition " + d.Live.String()
		}
	}
	return s + ")"
}

func holderLine(h Holder) string {
	s := h.Member + "  " + h.Role
	if h.Condition != nil {
		s += " (only when " + h.Condition.String() + ")"
	}
	return s + ": " + strings.Join(h.Permissions, ", ")
}

func reportMarkdown(w io.Writer, r *Report) error {
	o := &out{w: w}
	o.f("### Live access of stack %s, project %s\n\n", mdCode(r.Stack), mdCode(r.Project))
	o.f("**%s** (read at %s).\n", mdText(r.Verdict()), r.At.Format(time.RFC3339))
	o.f("\n#### Declared policies (%d)\n\n| Resource | Owned | Status |\n|---|---|---|\n", len(r.Policies))
	for _, p := range r.Policies {
		status := p.Status
		if p.Error != "" {
			status += ": " + mdText(p.Error) + ". " + mdText(p.Fix)
		}
		o.f("| %s %s | %s | %s |\n", p.Kind, mdCode(p.Name), p.Owns, status)
	}
	var rows []string
	for _, p := range r.Policies {
		for _, d := range p.Differences {
			rows = append(rows, fmt.Sprintf("| %s %s | %s %s | %s | %s | %s | %s |", p.Kind, mdCode(p.Name), symbols[d.Kind], d.Kind,
				mdCode(d.Role), mdCode(d.Member), conditionCell(d), mdText(d.Fix)))
		}
	}
	if len(rows) > 0 {
		o.f("\n#### Differences (%d)\n\n| Resource | Difference | Role | Member | Condition | Fix |\n|---|---|---|---|---|---|\n%s\n", len(rows), strings.Join(rows, "\n"))
	}
	if r.Pin != nil {
		o.f("\n#### Authz bucket %s: creation-time pin\n\n%s\n", mdCode(r.Pin.Bucket), mdText(r.Pin.Advice))
	}
	o.f("\n#### Outside this program\n\nWho holds, at project, folder or organization level, a permission that reaches the API (%s):\n\n", mdText(strings.Join(r.Watched, ", ")))
	o.f("| Level | Member | Role | Condition | Permissions |\n|---|---|---|---|---|\n")
	for _, l := range r.Outside {
		switch {
		case l.Error != "":
			o.f("| %s | cannot read: %s. %s | | | |\n", mdText(l.label()), mdText(l.Error), mdText(l.Fix))
		case len(l.Holders) == 0:
			o.f("| %s | nobody | | | |\n", mdText(l.label()))
		}
		for _, h := range l.Holders {
			cond := "none"
			if h.Condition != nil {
				cond = mdText(h.Condition.String())
			}
			o.f("| %s | %s | %s | %s | %s |\n", mdText(l.label()), mdCode(h.Member), mdCode(h.Role), cond, mdText(strings.Join(h.Permissions, ", ")))
		}
		for _, u := range l.Unchecked {
			o.f("| %s | ? | %s | | its permissions could not be read |\n", mdText(l.label()), mdText(u))
		}
	}
	return o.err
}

func conditionCell(d Difference) string {
	switch d.Kind {
	case ConditionDiffers:
		return "live " + mdText(d.Live.String()) + ", declared " + mdText(d.Declared.String())
	case Missing:
		return mdText(d.Declared.String())
	}
	return mdText(d.Live.String())
}
