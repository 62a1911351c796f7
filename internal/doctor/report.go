// Package doctor explains, without network access, why a developer's local call to the private
// API will fail and what to type to fix it. It reads the stack config with the program's own
// decoding (package config), so the doctor and the deployed grants cannot disagree, and it reads
// Application Default Credentials (ADC) from where Go's Google libraries look for them.
package doctor

import (
	"fmt"
	"io"
	"strings"

	"github.com/platform/private-run-api/internal/plan"
)

// Status grades a finding. Only Problem changes the exit code: warnings describe things the
// doctor cannot verify offline or practices to avoid, not certain failures; Info reports what
// is outside the program's control and never counts.
type Status int

const (
	OK Status = iota
	Warning
	Problem
	Info
)

func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "WARNING"
	case Info:
		return "INFO"
	default:
		return "PROBLEM"
	}
}

// Finding is one thing the doctor found.
type Finding struct {
	Status Status
	// Summary is one line: what is wrong (or right).
	Summary string
	// Detail says why, and introduces Commands when there are any.
	Detail []string
	// Commands are printed one per line and nothing else on the line, so they can be copied.
	Commands []string
}

// Report is the doctor's answer for one stack and caller.
type Report struct {
	Stack  string
	Caller plan.Caller
	// Service is the stack's service, for the online check: its custom audiences.
	Service plan.Service
	// Credentials says which ADC file Go's libraries will read.
	Credentials Credentials
	Findings    []Finding
}

func (r *Report) add(status Status, summary string, detail []string, commands ...string) {
	r.Findings = append(r.Findings, Finding{Status: status, Summary: summary, Detail: detail, Commands: commands})
}

// Add appends a finding; the online check reports through it.
func (r *Report) Add(f Finding) { r.Findings = append(r.Findings, f) }

// Count returns how many findings have the given status.
func (r *Report) Count(s Status) int {
	n := 0
	for _, f := range r.Findings {
		if f.Status == s {
			n++
		}
	}
	return n
}

// HasProblems reports whether any finding is a Problem.
func (r *Report) HasProblems() bool { return r.Count(Problem) > 0 }

const (
	labelWidth = 9
	cmdIndent  = "  "
)

// Write prints the report as plain text: a header, each finding (its label, the summary, the
// details indented under it, each command on a line of its own), and a one-line verdict.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Local access doctor: stack %s, caller %s (%s)\n", r.Stack, r.Caller.Name, r.Caller.Account.Email)
	fmt.Fprintf(&b, "Credentials Go will use: %s\n\n", cleanLine(r.Credentials.Describe()))
	writeFindings(&b, r.Findings)
	b.WriteString(r.verdict())
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFindings prints findings under their labels. Every piece goes through cleanLine, whatever
// it was built from (an error text from a library, a server's answer, a file's contents), so no
// finding can carry a terminal escape sequence or break the layout with a newline of its own.
func writeFindings(b *strings.Builder, findings []Finding) {
	pad := strings.Repeat(" ", labelWidth)
	for _, f := range findings {
		label := f.Status.String()
		fmt.Fprintf(b, "%s%s%s\n", label, strings.Repeat(" ", labelWidth-len(label)), cleanLine(f.Summary))
		for _, d := range f.Detail {
			fmt.Fprintf(b, "%s%s\n", pad, cleanLine(d))
		}
		for _, c := range f.Commands {
			fmt.Fprintf(b, "%s%s%s\n", pad, cmdIndent, cleanLine(c))
		}
		b.WriteString("\n")
	}
}

func (r *Report) verdict() string {
	p, w := r.Count(Problem), r.Count(Warning)
	counts := fmt.Sprintf("%s, %s", plural(p, "problem"), plural(w, "warning"))
	if p > 0 {
		return counts + ": the local call will fail until the problems above are fixed, in the order shown."
	}
	return counts + ": nothing found offline that stops the local call. To try a real call: -online -url $(pulumi stack output serviceUrl --stack " + r.Stack + "); to see who else can call the service: -who-else"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
