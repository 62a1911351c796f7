package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a stack config.
type Problem struct {
	// Path names the config value: `callers[2].name`, `service.image`, `gcp:project`.
	Path string
	// Value is the offending value as written ("" when missing or not meaningful).
	Value string
	// Rule says what is wrong.
	Rule string
	// Fix says what to do about it.
	Fix string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Path)
	if p.Value != "" {
		fmt.Fprintf(&b, " %q", p.Value)
	}
	b.WriteString(": ")
	b.WriteString(p.Rule)
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// Error lists every problem found in a stack config. The program registers no resource when
// Load returns it.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "invalid stack config (%d %s); nothing was deployed:", n, noun)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

type problems []Problem

func (ps *problems) add(path, value, rule, fix string) {
	*ps = append(*ps, Problem{Path: path, Value: value, Rule: rule, Fix: fix})
}
