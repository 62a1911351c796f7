package live

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/platform/private-run-api/internal/access"
)

// Every value printed here went through access.Clean (text) or access.MarkdownCode /
// access.MarkdownText (Markdown), directly or as access.Out's Code and Text: members and roles come from live policies and log entries,
// which anyone allowed to set a policy or mint a token chose.

var (
	clean  = access.Clean
	mdCode = access.MarkdownCode
	mdText = access.MarkdownText
)

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
	return access.Render(w, r, f, writeReport)
}

// writeReport writes the sections of a live report in one order for both formats. Text nests
// each policy's differences and each level's holders under it; Markdown gives each a table.
func writeReport(o *access.Out, r *Report) {
	at := r.At.Format(time.RFC3339)
	if o.Markdown() {
		o.F("### Live access of stack %s, project %s\n\n**%s** (read at %s).\n", mdCode(r.Stack), mdCode(r.Project), mdText(r.Verdict()), at)
	} else {
		o.F("Live access of stack %s, project %s (read at %s): %s\n", clean(r.Stack), clean(r.Project), at, clean(r.Verdict()))
	}
	o.Section("Declared policies (%d)", len(r.Policies))
	if o.Markdown() {
		policiesMarkdown(o, r.Policies)
	} else {
		policiesText(o, r.Policies)
	}
	if r.Pin != nil {
		o.Section("Authz bucket %s: creation-time pin", o.Code(r.Pin.Bucket))
		o.Line(o.Text(r.Pin.Advice))
	}
	for _, n := range r.Notes {
		if o.Markdown() {
			o.F("\n%s\n", mdText(n))
		} else {
			o.F("\nNote: %s\n", clean(n))
		}
	}
	if o.Markdown() {
		o.Section("Outside this program")
		o.F("Who holds, at project, folder or organization level, a permission that reaches the API (%s):\n\n", mdText(strings.Join(r.Watched, ", ")))
		outsideMarkdown(o, r.Outside)
	} else {
		o.Section("Outside this program: who holds, at project, folder or organization level, a permission that reaches the API")
		o.Line("(" + strings.Join(r.Watched, ", ") + ")")
		outsideText(o, r.Outside)
	}
}

func policiesText(o *access.Out, ps []Policy) {
	for _, p := range ps {
		o.Line(clean(p.label()) + " (" + p.Owns + "): " + p.Status)
		if p.Error != "" {
			o.F("      %s\n      %s\n", clean(p.Error), clean(p.Fix))
		}
		for _, d := range p.Differences {
			o.F("    %s %s\n        %s\n", symbols[d.Kind], clean(differenceLine(d)), clean(d.Fix))
		}
	}
}

func policiesMarkdown(o *access.Out, ps []Policy) {
	var rows, differences [][]string
	for _, p := range ps {
		status := p.Status
		if p.Error != "" {
			status += ": " + mdText(p.Error) + ". " + mdText(p.Fix)
		}
		rows = append(rows, []string{p.Kind + " " + mdCode(p.Name), p.Owns, status})
		for _, d := range p.Differences {
			differences = append(differences, []string{p.Kind + " " + mdCode(p.Name), symbols[d.Kind] + " " + d.Kind,
				mdCode(d.Role), mdCode(d.Member), conditionCell(d), mdText(d.Fix)})
		}
	}
	o.Table([]string{"Resource", "Owned", "Status"}, rows)
	if len(differences) > 0 {
		o.Section("Differences (%d)", len(differences))
		o.Table([]string{"Resource", "Difference", "Role", "Member", "Condition", "Fix"}, differences)
	}
}

func outsideText(o *access.Out, ls []Level) {
	for _, l := range ls {
		switch {
		case l.Error != "":
			o.F("  %s: cannot read: %s\n      %s\n", clean(l.label()), clean(l.Error), clean(l.Fix))
		case len(l.Holders) == 0:
			o.Line(clean(l.label()) + ": nobody")
		default:
			o.Line(fmt.Sprintf("%s (%d)", clean(l.label()), len(l.Holders)))
			for _, h := range l.Holders {
				o.Line("  " + clean(holderLine(h)))
			}
		}
		for _, u := range l.Unchecked {
			o.Line("  ? " + clean(u) + ": its permissions could not be read")
		}
	}
}

// outsideMarkdown is one table of every level's holders; a level without any says why in its
// own row.
func outsideMarkdown(o *access.Out, ls []Level) {
	o.Table([]string{"Level", "Member", "Role", "Condition", "Permissions"}, nil)
	for _, l := range ls {
		label := mdText(l.label())
		switch {
		case l.Error != "":
			o.F("| %s | cannot read: %s. %s | | | |\n", label, mdText(l.Error), mdText(l.Fix))
		case len(l.Holders) == 0:
			o.F("| %s | nobody | | | |\n", label)
		}
		for _, h := range l.Holders {
			cond := "none"
			if h.Condition != nil {
				cond = mdText(h.Condition.String())
			}
			o.F("| %s | %s | %s | %s | %s |\n", label, mdCode(h.Member), mdCode(h.Role), cond, mdText(strings.Join(h.Permissions, ", ")))
		}
		for _, u := range l.Unchecked {
			o.F("| %s | ? | %s | | its permissions could not be read |\n", label, mdText(u))
		}
	}
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
	return access.Render(w, u, f, writeUsage)
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

// writeUsage writes the sections of a usage report in one order for both formats. Text lists
// each account's mintings under it; Markdown gives them a table.
func writeUsage(o *access.Out, u *Usage) {
	if o.Markdown() {
		o.F("### Token use of stack %s, project %s\n\n**%s** (%s to %s).\n", mdCode(u.Stack), mdCode(u.Project), mdText(u.Verdict()), utc(u.From), utc(u.To))
	} else {
		o.F("Token use of stack %s, project %s, %s to %s: %s\n", clean(u.Stack), clean(u.Project), utc(u.From), utc(u.To), clean(u.Verdict()))
	}
	o.Section("Sources")
	for _, s := range u.Sources {
		o.Items("", "project "+o.Code(s.Project)+": "+o.Text(sourceLine(s)))
	}
	if o.Markdown() {
		mintingsMarkdown(o, u)
	} else {
		mintingsText(o, u)
	}
	var unused, unjudged []string
	for _, g := range u.Unused {
		unused = append(unused, o.Text(unusedLine(g)))
	}
	for _, g := range u.Unjudged {
		if o.Markdown() {
			unjudged = append(unjudged, mdCode(g.Member)+" on "+mdCode(g.Account)+": "+mdText(g.Why)+"; "+mdText(g.seen()))
		} else {
			unjudged = append(unjudged, clean(g.Member)+" on "+clean(g.Account)+" (caller "+clean(g.Caller)+"): "+clean(g.Why)+"; "+clean(g.seen()))
		}
	}
	if o.Markdown() {
		o.List(fmt.Sprintf("Unused grants (%d)", len(unused)), "-", unused)
	} else {
		o.List(fmt.Sprintf("Unused grants (%d): declared impersonators who minted nothing as the account in the window", len(unused)), "-", unused)
	}
	o.List(fmt.Sprintf("Cannot judge (%d)", len(unjudged)), "?", unjudged)
	if p := u.Proposal; p != nil {
		var changes []string
		for _, c := range p.Changes {
			changes = append(changes, o.Text(changeLine(c)))
		}
		if o.Markdown() {
			o.Section("Proposed config change")
			o.F("Drops the unused grants and nothing else; apply it as a pull request.\n\n")
			o.Items("", changes...)
			o.F("\n")
			_ = access.WriteDiff(o, p.Diff, access.Markdown) // o keeps its write errors
		} else {
			o.Section("Proposed config change: drops the unused grants and nothing else; apply it as a pull request")
			o.Items("", changes...)
			o.F("\n")
			_ = access.WriteDiff(indented{o}, p.Diff, access.Text) // o keeps its write errors
		}
	}
	o.List("Notes", "", texts(o, u.Notes))
}

func mintingsText(o *access.Out, u *Usage) {
	if len(u.Unnamed) > 0 {
		o.Section("Minted by principals the config does not name (%d): look at these first", len(u.Unnamed))
		for _, m := range u.Unnamed {
			o.F("  ! as %s (caller %s): %s\n      %s\n", clean(m.Account), clean(m.Caller), clean(mintingLine(m)), clean(m.Through))
		}
	}
	o.Section("By caller account")
	for _, a := range u.Accounts {
		if len(a.Minted) == 0 {
			o.Line(clean(a.Account) + " (caller " + clean(a.Caller) + "): nobody minted as it")
			continue
		}
		o.Line(clean(a.Account) + " (caller " + clean(a.Caller) + ")")
		for _, m := range a.Minted {
			o.F("    %s\n      %s\n", clean(mintingLine(m)), clean(m.Through))
		}
	}
	if u.Unmatched > 0 {
		o.Line(fmt.Sprintf("%d more entries named no caller account of this stack", u.Unmatched))
	}
}

// mintingsMarkdown is one table of the mintings by principals the config does not name, and
// one of every caller account's.
func mintingsMarkdown(o *access.Out, u *Usage) {
	head := []string{"Account", "Principal", "Method", "Count", "First", "Last", "Through"}
	if len(u.Unnamed) > 0 {
		o.Section("Minted by principals the config does not name (%d)", len(u.Unnamed))
		o.Table(head, mintingRows(u.Unnamed))
	}
	o.Section("By caller account")
	o.Table(head, nil)
	for _, a := range u.Accounts {
		if len(a.Minted) == 0 {
			o.F("| %s | nobody | | | | | |\n", mdCode(a.Account))
		}
		for _, row := range mintingRows(a.Minted) {
			o.F("| %s |\n", strings.Join(row, " | "))
		}
	}
}

func mintingRows(ms []Minting) [][]string {
	var rows [][]string
	for _, m := range ms {
		refused := ""
		if m.Refused {
			refused = " (refused)"
		}
		rows = append(rows, []string{mdCode(m.Account), mdCode(m.Principal), m.Method + refused, strconv.Itoa(m.Count), utc(m.First), utc(m.Last), mdText(m.Through)})
	}
	return rows
}

func texts(o *access.Out, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = o.Text(s)
	}
	return out
}

// indented writes through o, two spaces in at every line's start.
type indented struct{ o *access.Out }

func (i indented) Write(b []byte) (int, error) {
	var err error
	for _, line := range strings.SplitAfter(string(b), "\n") {
		switch line {
		case "":
		case "\n":
			_, err = i.o.Write([]byte(line))
		default:
			_, err = i.o.Write([]byte("  " + line))
		}
	}
	return len(b), err
}
