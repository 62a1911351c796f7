package doctor

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// shown makes a string read from a file, the environment or a server safe to print: a string
// that holds anything a terminal could act on (escape sequences, carriage returns, bidirectional
// overrides, invalid UTF-8) comes back quoted with those characters escaped, so a crafted
// credentials file can neither rewrite the screen nor pass for another value. Plain strings come
// back as they are, to keep the common case readable.
func shown(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// cleanLine is the last guard before the terminal: whatever reached a report line unescaped
// (an error text from a library, a server's body) has its non-printable characters escaped in
// place. Tabs stay, as they cannot move the cursor anywhere harmful.
func cleanLine(s string) string {
	if printable(strings.ReplaceAll(s, "\t", " ")) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t' || unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}
