package live

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/platform/private-run-api/internal/access"
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
	for _, n := range r.Notes {
		o.f("\nNote: %s\n", clean(n))
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
	for _, n := range r.Notes {
		o.f("\n%s\n", mdText(n))
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

// Verdict is the usage report's one-line answer.
func (u *Usage) Verdict() string {
	var parts []string
	if n := len(u.Unnamed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d minting(s) by principals the config does not name", n))
	}
	if n := len(u.Unused); n > 0 {
		parts = append(parts, fmt.Sprintf("%d unused grant(s)", n))
	}
	switch {
	case u.Error != "":
		parts = append(parts, "could not finish: "+u.Error)
	case !u.Complete:
		parts = append(parts, "the window could not be read in full, so no grant is judged unused")
	case len(parts) == 0:
		return "every declared impersonator minted as its accounts, and nobody else did"
	}
	return strings.Join(parts, "; ")
}

// WriteUsage renders a usage report as text, Markdown or JSON.
func WriteUsage(w io.Writer, u *Usage, f access.Format) error {
	switch f {
	case access.JSON:
		return access.WriteJSON(w, u)
	case access.Markdown:
		return usageMarkdown(w, u)
	}
	return usageText(w, u)
}

func sourceLine(s Source) string {
	switch {
	case s.Error != "":
		return s.Error + ". " + s.Fix
	case s.Truncated:
		return fmt.Sprintf("stopped after %d entries (%d pages): the window holds more; counts are lower bounds. Run it again with a shorter -since", s.Entries, s.Pages)
	}
	exempt := "nobody exempted"
	if len(s.Exempted) > 0 {
		exempt = "exempted: " + strings.Join(s.Exempted, ", ")
	}
	return fmt.Sprintf("token minting recorded (%s Data Access logs of %s), %s; %d entries in %d page(s)", adminRead, auditedService, exempt, s.Entries, s.Pages)
}

func mintingLine(m Minting) string {
	refused := ""
	if m.Refused {
		refused = " (refused by IAM)"
	}
	return fmt.Sprintf("%s %s x%d%s, %s to %s", m.Principal, m.Method, m.Count, refused, utc(m.First), utc(m.Last))
}

func unusedLine(g UnusedGrant) string {
	s := g.Member + " on " + g.Account + " (caller " + g.Caller + ")"
	if g.Expires != nil {
		s += ", expires " + access.FormatExpiry(g.Expires)
	}
	return s
}

func (g IndirectGrant) seen() string {
	if len(g.SeenThrough) == 0 {
		return "nobody seen through it"
	}
	return "seen through it (possibly): " + strings.Join(g.SeenThrough, ", ")
}

func changeLine(c ConfigChange) string {
	s := c.Action + " " + c.Path + ": " + c.Member
	if c.Expires != "" {
		s += " (expires " + c.Expires + ")"
	}
	return s + "; " + c.Why
}

func usageText(w io.Writer, u *Usage) error {
	o := &out{w: w}
	o.f("Token use of stack %s, project %s, %s to %s: %s\n", clean(u.Stack), clean(u.Project), utc(u.From), utc(u.To), clean(u.Verdict()))
	o.f("\nSources\n")
	for _, s := range u.Sources {
		o.f("  project %s: %s\n", clean(s.Project), clean(sourceLine(s)))
	}
	if len(u.Unnamed) > 0 {
		o.f("\nMinted by principals the config does not name (%d): look at these first\n", len(u.Unnamed))
		for _, m := range u.Unnamed {
			o.f("  ! as %s (caller %s): %s\n      %s\n", clean(m.Account), clean(m.Caller), clean(mintingLine(m)), clean(m.Through))
		}
	}
	o.f("\nBy caller account\n")
	for _, a := range u.Accounts {
		if len(a.Minted) == 0 {
			o.f("  %s (caller %s): nobody minted as it\n", clean(a.Account), clean(a.Caller))
			continue
		}
		o.f("  %s (caller %s)\n", clean(a.Account), clean(a.Caller))
		for _, m := range a.Minted {
			o.f("    %s\n      %s\n", clean(mintingLine(m)), clean(m.Through))
		}
	}
	if u.Unmatched > 0 {
		o.f("  %d more entries named no caller account of this stack\n", u.Unmatched)
	}
	if len(u.Unused) > 0 {
		o.f("\nUnused grants (%d): declared impersonators who minted nothing as the account in the window\n", len(u.Unused))
		for _, g := range u.Unused {
			o.f("  - %s\n", clean(unusedLine(g)))
		}
	}
	if len(u.Unjudged) > 0 {
		o.f("\nCannot judge (%d)\n", len(u.Unjudged))
		for _, g := range u.Unjudged {
			o.f("  ? %s on %s (caller %s): %s; %s\n", clean(g.Member), clean(g.Account), clean(g.Caller), clean(g.Why), clean(g.seen()))
		}
	}
	if p := u.Proposal; p != nil {
		o.f("\nProposed config change: drops the unused grants and nothing else; apply it as a pull request\n")
		for _, c := range p.Changes {
			o.f("  %s\n", clean(changeLine(c)))
		}
		o.f("\n")
		if err := access.WriteDiff(indented{o}, p.Diff, access.Text); err != nil && o.err == nil {
			o.err = err
		}
	}
	if len(u.Notes) > 0 {
		o.f("\nNotes\n")
		for _, n := range u.Notes {
			o.f("  %s\n", clean(n))
		}
	}
	return o.err
}

// indented writes through o, two spaces in at every line's start.
type indented struct{ o *out }

func (i indented) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if line == "\n" {
			i.o.f("\n")
			continue
		}
		i.o.f("  %s", line)
	}
	return len(b), i.o.err
}

func usageMarkdown(w io.Writer, u *Usage) error {
	o := &out{w: w}
	o.f("### Token use of stack %s, project %s\n\n**%s** (%s to %s).\n", mdCode(u.Stack), mdCode(u.Project), mdText(u.Verdict()), utc(u.From), utc(u.To))
	o.f("\n#### Sources\n\n")
	for _, s := range u.Sources {
		o.f("- project %s: %s\n", mdCode(s.Project), mdText(sourceLine(s)))
	}
	row := func(m Minting) string {
		refused := ""
		if m.Refused {
			refused = " (refused)"
		}
		return fmt.Sprintf("| %s | %s | %s%s | %d | %s | %s | %s |", mdCode(m.Account), mdCode(m.Principal), m.Method, refused, m.Count, utc(m.First), utc(m.Last), mdText(m.Through))
	}
	const head = "| Account | Principal | Method | Count | First | Last | Through |\n|---|---|---|---|---|---|---|\n"
	if len(u.Unnamed) > 0 {
		o.f("\n#### Minted by principals the config does not name (%d)\n\n%s", len(u.Unnamed), head)
		for _, m := range u.Unnamed {
			o.f("%s\n", row(m))
		}
	}
	o.f("\n#### By caller account\n\n%s", head)
	for _, a := range u.Accounts {
		if len(a.Minted) == 0 {
			o.f("| %s | nobody | | | | | |\n", mdCode(a.Account))
		}
		for _, m := range a.Minted {
			o.f("%s\n", row(m))
		}
	}
	if len(u.Unused) > 0 {
		o.f("\n#### Unused grants (%d)\n\n", len(u.Unused))
		for _, g := range u.Unused {
			o.f("- %s\n", mdText(unusedLine(g)))
		}
	}
	if len(u.Unjudged) > 0 {
		o.f("\n#### Cannot judge (%d)\n\n", len(u.Unjudged))
		for _, g := range u.Unjudged {
			o.f("- %s on %s: %s; %s\n", mdCode(g.Member), mdCode(g.Account), mdText(g.Why), mdText(g.seen()))
		}
	}
	if p := u.Proposal; p != nil {
		o.f("\n#### Proposed config change\n\nDrops the unused grants and nothing else; apply it as a pull request.\n\n")
		for _, c := range p.Changes {
			o.f("- %s\n", mdText(changeLine(c)))
		}
		o.f("\n")
		if err := access.WriteDiff(w, p.Diff, access.Markdown); err != nil && o.err == nil {
			o.err = err
		}
	}
	if len(u.Notes) > 0 {
		o.f("\n#### Notes\n\n")
		for _, n := range u.Notes {
			o.f("- %s\n", mdText(n))
		}
	}
	return o.err
}
