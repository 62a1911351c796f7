// Package diag is the one diagnostics type of both programs and their tools: a problem with a
// config value (or a warning about one), named by a built path and a type, as Kubernetes'
// field.ErrorList does, and still saying the value, the rule it breaks and the fix, so that a
// newcomer can act on it. Tests match on {Type, Path}; people read String.
package diag

import (
	"fmt"
	"strconv"
	"strings"
)

// Path names a config value: NewPath("callers").Index(2).Child("name") is "callers[2].name".
type Path struct{ s string }

// NewPath starts a path at a top-level key ("service", "gcp:project").
func NewPath(key string) Path { return Path{key} }

// InFile starts a path at the top of a config file of its own (a caller file): its keys follow
// the file's name, InFile("callers/orders-audit.yaml").Child("impersonators") is
// "callers/orders-audit.yaml:impersonators".
func InFile(file string) Path { return Path{file + ":"} }

// Child is a key inside the value at p.
func (p Path) Child(key string) Path {
	if p.s == "" || strings.HasSuffix(p.s, ":") {
		return Path{p.s + key}
	}
	return Path{p.s + "." + key}
}

// Index is the i-th element of the list at p.
func (p Path) Index(i int) Path { return Path{p.s + "[" + strconv.Itoa(i) + "]"} }

func (p Path) String() string { return p.s }

// Type says what kind of problem a diagnostic is.
type Type string

const (
	// Required: a value that must be set is missing.
	Required Type = "Required"
	// Invalid: the value is malformed or breaks a rule.
	Invalid Type = "Invalid"
	// NotSupported: the value is not one of a fixed set.
	NotSupported Type = "NotSupported"
	// Duplicate: the value is already used elsewhere.
	Duplicate Type = "Duplicate"
	// Forbidden: the value is well-formed but not allowed here (public, default accounts, two
	// keys that exclude each other).
	Forbidden Type = "Forbidden"
	// TooMany: a count is over a limit.
	TooMany Type = "TooMany"
	// TooLong: a string is over a length limit.
	TooLong Type = "TooLong"
	// Unknown: a key nobody reads (a typo, most often).
	Unknown Type = "Unknown"
)

// Severity tells an error, which stops a deploy, from a warning, which the engine prints.
type Severity int

const (
	Error Severity = iota
	Warning
)

// Diagnostic is one problem, or warning, with one config value.
type Diagnostic struct {
	Severity Severity
	Type     Type
	// Path names the value: `callers[2].name`, `service.image`, `gcp:project`.
	Path string
	// Value is the offending value as written ("" when missing or not meaningful).
	Value string
	// Rule says what is wrong.
	Rule string
	// Fix says what to do about it.
	Fix string
}

// String is what people read: `callers[2].name "Batch_Job": must be ...; rename it, e.g. ...`.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(d.Path, ":")) // a whole file: "callers/x.yaml", not "callers/x.yaml:"
	if d.Value != "" {
		fmt.Fprintf(&b, " %q", d.Value)
	}
	b.WriteString(": ")
	b.WriteString(d.Rule)
	if d.Fix != "" {
		b.WriteString("; ")
		b.WriteString(d.Fix)
	}
	return b.String()
}

// List collects diagnostics in the order they are found.
type List []Diagnostic

// Add records an error.
func (l *List) Add(t Type, p Path, value, rule, fix string) {
	*l = append(*l, Diagnostic{Severity: Error, Type: t, Path: p.String(), Value: value, Rule: rule, Fix: fix})
}

// Warn records a warning.
func (l *List) Warn(t Type, p Path, value, rule, fix string) {
	*l = append(*l, Diagnostic{Severity: Warning, Type: t, Path: p.String(), Value: value, Rule: rule, Fix: fix})
}

// Errors are the diagnostics that stop a deploy.
func (l List) Errors() List { return l.filter(Error) }

// Warnings are the diagnostics that do not.
func (l List) Warnings() List { return l.filter(Warning) }

func (l List) filter(s Severity) List {
	var out List
	for _, d := range l {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// ConfigError is an invalid stack config: every error found, at once. The programs register no
// resource when they return it.
type ConfigError struct {
	Diagnostics List
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	n := len(e.Diagnostics)
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "invalid stack config (%d %s); nothing was deployed:", n, noun)
	for _, d := range e.Diagnostics {
		b.WriteString("\n  - ")
		b.WriteString(d.String())
	}
	return b.String()
}
