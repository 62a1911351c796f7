package testcheck

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what a check reported instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestContains(t *testing.T) {
	r := &recorder{TB: t}
	Contains(r, "the report", "one two three", "two", "four", "three", "five")
	want := []string{"the report lacks \"four\":\none two three", "the report lacks \"five\":\none two three"}
	if strings.Join(r.errors, "|") != strings.Join(want, "|") {
		t.Errorf("reported %q, want %q", r.errors, want)
	}
}

func TestLines(t *testing.T) {
	r := &recorder{TB: t}
	if !Lines(r, "names", []string{"a", "b"}, []string{"a", "b"}) || len(r.errors) != 0 {
		t.Errorf("equal lists: reported %q", r.errors)
	}
	if Lines(r, "names", []string{"a", "c"}, []string{"a", "b"}) {
		t.Error("unequal lists reported equal")
	}
	if want := "names:\n got a\n     c\nwant a\n     b"; len(r.errors) != 1 || r.errors[0] != want {
		t.Errorf("reported %q, want %q", r.errors, want)
	}
	r.errors = nil
	if Lines(r, "names", []string{"a"}, []string{"a", "a"}) || len(r.errors) != 1 {
		t.Errorf("a shorter list: reported %q", r.errors)
	}
}

func TestAnswers(t *testing.T) {
	r := &recorder{TB: t}
	Answers(r, "strings.ToUpper", strings.ToUpper, map[string]string{"a": "A", "b": "b"})
	if want := `strings.ToUpper("b") = "B", want "b"`; len(r.errors) != 1 || r.errors[0] != want {
		t.Errorf("reported %q, want %q", r.errors, want)
	}
	r.errors = nil
	Answers(r, "even", func(n int) bool { return n%2 == 0 }, map[int]bool{2: true, 3: true})
	if want := "even(3) = false, want true"; len(r.errors) != 1 || r.errors[0] != want {
		t.Errorf("reported %q, want %q", r.errors, want)
	}
}

func TestRefuses(t *testing.T) {
	r := &recorder{TB: t}
	atoi := func(s string) error { _, err := strconv.Atoi(s); return err }
	Refuses(r, "Atoi", atoi, map[string]string{"x": "invalid syntax", "1": "invalid syntax", "y": "out of range"})
	slices.Sort(r.errors)
	want := []string{
		`Atoi("1"): err = <nil>, want an error saying "invalid syntax"`,
		`Atoi("y"): err = strconv.Atoi: parsing "y": invalid syntax, want an error saying "out of range"`,
	}
	if !slices.Equal(r.errors, want) {
		t.Errorf("reported %q, want %q", r.errors, want)
	}
}
