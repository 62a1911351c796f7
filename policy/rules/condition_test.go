package rules

import (
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExpiry(t *testing.T) {
	at := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	earlier := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	const (
		until  = `request.time < timestamp("2027-01-31T00:00:00Z")`
		before = `request.time < timestamp("2026-06-01T00:00:00Z")`
	)
	expires := map[string]time.Time{
		until: at,
		`request.time <= timestamp('2027-01-31T00:00:00Z')`: at,
		`request.time<timestamp("2027-01-31T00:00:00Z")`:    at,
		`timestamp("2027-01-31T00:00:00Z") > request.time`:  at,
		`request.time == timestamp("2027-01-31T00:00:00Z")`: at,
		`(` + until + `)`:                                                           at,
		`((((` + until + `))))`:                                                     at,
		`resource.type == "x" && ` + until:                                          at,
		`(resource.name != "x" && (` + until + `))`:                                 at,
		`resource.name.startsWith("projects/_/buckets/a") && ` + until:              at,
		`"x" in ["x", "y"] && api.getAttribute("k", []).hasOnly(["a"]) && ` + until: at,
		until + ` && ` + before:                                                     earlier,
		`(` + until + `) || (` + before + `)`:                                       at,
		`!(request.time >= timestamp("2027-01-31T00:00:00Z"))`:                      at,
		`!!(` + until + `)`:                                                         at,
		`(request.time > timestamp("2027-01-31T00:00:00Z")) == false`:               at,
		`false != (` + until + `)`:                                                  at,
		`request.time < timestamp("2027-01-31T09:00:00+09:00")`:                     at,
		`request.time < timestamp("2027-01-31T00:00:00.000Z") && request.time.getHours("Europe/Berlin") >= 9`: at,
		// Never true: the grant gives nothing, which surely ends it.
		`false`:             {},
		`false && ` + until: {},
	}
	for expr, want := range expires {
		got, err := Expiry(expr)
		if err != nil || !got.Equal(want) {
			t.Errorf("Expiry(%q) = %v, %v; want %v", expr, got, err, want)
		}
	}
	noExpiry := []string{
		until + ` || true`,
		until + ` || resource.name == "x"`,
		`!(` + until + `)`,
		`(` + until + `) == false`,
		`(request.time < timestamp("2020-01-01T00:00:00Z")) == false`,
		`request.time > timestamp("2027-01-31T00:00:00Z")`,
		`request.time != timestamp("2027-01-31T00:00:00Z")`,
		`resource.name == "x"`,
		`true`,
		`(` + until + `) == (resource.name == "x")`,
		`request.time < resource.expiry`,
		`timestamp("2027-01-31T00:00:00Z") < timestamp("2028-01-01T00:00:00Z")`,
	}
	for _, expr := range noExpiry {
		if _, err := Expiry(expr); !errors.Is(err, ErrNoExpiry) {
			t.Errorf("Expiry(%q): err = %v, want ErrNoExpiry", expr, err)
		}
	}
	unreadable := map[string]string{
		``:                                       "unexpected end of expression",
		`   `:                                    "unexpected end of expression",
		`true ? ` + until + ` : true`:            `"?" is outside`,
		`request.time < timestamp("2027-01-31")`: "not an RFC 3339 time",
		`request.time < timestamp("tomorrow")`:   "not an RFC 3339 time",
		`request.time < timestamp("2027-01-31T00:00:00\Z")`:     "escape",
		`request.time < timestamp("2027-01-31T00:00:00Z", 1)`:   "one string literal",
		`request.time < timestamp("2027-" + "01-31T00:00:00Z")`: `"+" is outside`,
		`request.time < timestamp(x)`:                           "one string literal",
		`request.time`:                                          "where a condition belongs",
		`"yes"`:                                                 "where a condition belongs",
		`!"yes"`:                                                "where a condition belongs",
		until + ` && 3`:                                         "where a condition belongs",
		until + ` )`:                                            `unexpected ")"`,
		`(` + until:                                             `want ")"`,
		until + ` && (`:                                         "unexpected end of expression",
		`request.time < timestamp("2027-01-31T00:00:00Z`: "unterminated string",
		`a < b < c`:                 `unexpected "<"`,
		`resource.name.`:            `a name must follow "."`,
		`// comment` + "\n" + until: `"/" is outside`,
		`in`:                        `"in" where an operand belongs`,
		strings.Repeat("(", 40) + until + strings.Repeat(")", 40):                 "nested deeper than 32",
		strings.Repeat("!", 40) + `true`:                                          "nested deeper than 32",
		until + strings.Repeat(" ", maxConditionBytes):                            "longer than",
		"request.time < timestamp(\"2027-01-31T00:00:00Z\") && r\"raw\" == \"x\"": "unexpected string",
	}
	for expr, want := range unreadable {
		_, err := Expiry(expr)
		var u *UnreadableError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), want) {
			t.Errorf("Expiry(%.60q): err = %v, want it unreadable: %q", expr, err, want)
		}
	}
}

// TestExpiryEnds runs the expressions that hung the policy before it had a parser: a conjunct
// with more ")" than "(" that does not end in ")". A hang fails the test (and the run) instead
// of the pack's preview.
func TestExpiryEnds(t *testing.T) {
	for _, expr := range []string{
		`(request.time < timestamp("2020-01-01T00:00:00Z")) == false`,
		`a) == b`,
		`x && (y)) z`,
		strings.Repeat(")", 1000) + "x",
		strings.Repeat("(", 5000) + strings.Repeat(")", 5000) + " x",
	} {
		done := make(chan error, 1)
		go func() {
			_, err := Expiry(expr)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("Expiry(%.40q) found an expiry", expr)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Expiry(%.40q) did not return", expr)
		}
	}
}

// FuzzExpiry holds Expiry to ending without a panic on any input, and to reading the same
// expression the same way however it is wrapped.
func FuzzExpiry(f *testing.F) {
	for _, seed := range []string{
		`request.time < timestamp("2027-01-31T00:00:00Z")`,
		`(request.time < timestamp("2020-01-01T00:00:00Z")) == false`,
		`resource.name.startsWith("projects/_/buckets/a") && (request.time <= timestamp('2027-01-31T00:00:00Z'))`,
		`!(request.time >= timestamp("2027-01-31T00:00:00Z")) || false`,
		`"x" in ["x", api.getAttribute("k", [])] && true != false`,
		`a) == b`,
		`request.time < timestamp("2027-01-31T00:00:00\"Z")`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		got, err := Expiry(expr)
		var u *UnreadableError
		if err != nil && !errors.Is(err, ErrNoExpiry) && !errors.As(err, &u) {
			t.Fatalf("Expiry(%q): error of another kind: %v", expr, err)
		}
		if err != nil || len(expr)+4 > maxConditionBytes {
			return
		}
		// Read as expiring, it must read the same in parentheses and under two negations, and
		// never expire once joined to true with ||.
		for _, wrapped := range []string{"(" + expr + ")", "!!(" + expr + ")"} {
			again, err := Expiry(wrapped)
			if err != nil && strings.Contains(err.Error(), "nested deeper") {
				continue
			}
			if err != nil || !again.Equal(got) {
				t.Fatalf("Expiry(%q) = %v, but Expiry(%q) = %v, %v", expr, got, wrapped, again, err)
			}
		}
		if _, err := Expiry("(" + expr + ") || true"); err == nil {
			t.Fatalf("Expiry(%q) = %v, and it still expires joined to || true", expr, got)
		}
	})
}

// cond is a generated condition: its text, and its value at a time under an assignment of the
// attributes Expiry cannot know.
type cond struct {
	text string
	eval func(now time.Time, attrs [4]bool) bool
}

// genCond builds a random condition from the grammar Expiry reads.
func genCond(r *rand.Rand, depth int) cond {
	times := []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2030, 6, 15, 12, 30, 0, 0, time.UTC),
	}
	cmp := map[string]func(a, b time.Time) bool{
		"<": func(a, b time.Time) bool { return a.Before(b) }, "<=": func(a, b time.Time) bool { return !a.After(b) },
		">": func(a, b time.Time) bool { return a.After(b) }, ">=": func(a, b time.Time) bool { return !a.Before(b) },
		"==": func(a, b time.Time) bool { return a.Equal(b) }, "!=": func(a, b time.Time) bool { return !a.Equal(b) },
	}
	ops := []string{"<", "<=", ">", ">=", "==", "!="}
	choice := r.Intn(10)
	if depth <= 0 && choice > 3 {
		choice = r.Intn(4)
	}
	switch choice {
	case 0, 1: // request.time against a timestamp, either way round
		t, op := times[r.Intn(len(times))], ops[r.Intn(len(ops))]
		ts := `timestamp("` + t.Format(time.RFC3339) + `")`
		if r.Intn(2) == 0 {
			return cond{"request.time " + op + " " + ts, func(now time.Time, _ [4]bool) bool { return cmp[op](now, t) }}
		}
		return cond{ts + " " + op + " request.time", func(now time.Time, _ [4]bool) bool { return cmp[op](t, now) }}
	case 2: // an attribute Expiry knows nothing about
		i := r.Intn(4)
		return cond{fmt.Sprintf(`resource.name == "a%d"`, i), func(_ time.Time, a [4]bool) bool { return a[i] }}
	case 3:
		b := r.Intn(2) == 0
		return cond{strconv.FormatBool(b), func(time.Time, [4]bool) bool { return b }}
	case 4:
		c := genCond(r, depth-1)
		return cond{"!(" + c.text + ")", func(n time.Time, a [4]bool) bool { return !c.eval(n, a) }}
	case 5, 6:
		x, y := genCond(r, depth-1), genCond(r, depth-1)
		return cond{"(" + x.text + ") && (" + y.text + ")", func(n time.Time, a [4]bool) bool { return x.eval(n, a) && y.eval(n, a) }}
	case 7, 8:
		x, y := genCond(r, depth-1), genCond(r, depth-1)
		return cond{"(" + x.text + ") || (" + y.text + ")", func(n time.Time, a [4]bool) bool { return x.eval(n, a) || y.eval(n, a) }}
	default: // compared with a literal
		c, b, eq := genCond(r, depth-1), r.Intn(2) == 0, r.Intn(2) == 0
		op := map[bool]string{true: "==", false: "!="}[eq]
		text := "(" + c.text + ") " + op + " " + strconv.FormatBool(b)
		if r.Intn(2) == 0 {
			text = strconv.FormatBool(b) + " " + op + " (" + c.text + ")"
		}
		return cond{text, func(n time.Time, a [4]bool) bool { return (c.eval(n, a) == b) == eq }}
	}
}

// TestExpiryIsSound generates conditions, and checks every expiry Expiry claims against the
// condition's value: from just after that time on it is false, whatever the attributes it cannot
// know. A claimed expiry that is not one would let a grant outlive it unreported.
func TestExpiryIsSound(t *testing.T) {
	r := rand.New(rand.NewSource(18))
	claimed := 0
	for range 20000 {
		c := genCond(r, 4)
		at, err := Expiry(c.text)
		var u *UnreadableError
		if errors.As(err, &u) {
			t.Fatalf("Expiry(%q) cannot read a generated condition: %v", c.text, err)
		}
		if err != nil {
			continue
		}
		claimed++
		for _, now := range []time.Time{at.Add(time.Nanosecond), at.Add(time.Hour), at.AddDate(100, 0, 0)} {
			for bits := range 16 {
				attrs := [4]bool{bits&1 != 0, bits&2 != 0, bits&4 != 0, bits&8 != 0}
				if c.eval(now, attrs) {
					t.Fatalf("Expiry(%q) = %v, but the condition is true at %v with attributes %v", c.text, at, now, attrs)
				}
			}
		}
	}
	// The generator must reach expiring conditions often enough for this to test anything.
	if claimed < 2000 {
		t.Errorf("only %d of 20000 generated conditions expire", claimed)
	}
}
