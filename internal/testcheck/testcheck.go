// Package testcheck is test support: the checks that tests of many packages make of a text, a
// list of lines or a function's answers, written once so that every failure reads the same way
// and names what was checked.
package testcheck

import (
	"slices"
	"strings"
	"testing"
)

// Contains reports each of wants that text lacks, naming what the text is and showing it whole.
func Contains(tb testing.TB, what, text string, wants ...string) {
	tb.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			tb.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// Lines reports it when got is not want, item for item, showing both one item a line. It says
// whether they were equal, for a test that cannot go on otherwise.
func Lines(tb testing.TB, what string, got, want []string) bool {
	tb.Helper()
	if slices.Equal(got, want) {
		return true
	}
	tb.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	return false
}

// Answers calls f with each input of cases and reports every answer that is not the one cases
// gives for it, naming f as name.
func Answers[In, Out comparable](tb testing.TB, name string, f func(In) Out, cases map[In]Out) {
	tb.Helper()
	for in, want := range cases {
		if got := f(in); got != want {
			tb.Errorf("%s(%#v) = %#v, want %#v", name, in, got, want)
		}
	}
}

// Refuses calls f with each input of cases and reports every input it accepts, or refuses with an
// error that does not say what cases gives for it, naming f as name.
func Refuses(tb testing.TB, name string, f func(string) error, cases map[string]string) {
	tb.Helper()
	for in, want := range cases {
		if err := f(in); err == nil || !strings.Contains(err.Error(), want) {
			tb.Errorf("%s(%q): err = %v, want an error saying %q", name, in, err, want)
		}
	}
}
