package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/unicode/runenames"

	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// The rules every IAM principal and account of the config follows, wherever it is written
// (impersonators, callers, run-as grants, the runtime account).

var (
	emailRe     = regexp.MustCompile(`^[^@\s:/A-Z]+@[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`)
	domainRe    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`)
	principalRe = regexp.MustCompile(`^principal(Set)?://[a-z0-9.-]+/\S+$`)
)

// ConsumerMailDomains are mail domains anyone can have an address at: a `domain:` grant to one
// is a grant to everyone with a Google account there.
var ConsumerMailDomains = []string{"gmail.com", "googlemail.com"}

const (
	memberPrefixes = `user:, group:, serviceAccount:, domain:, principal:// or principalSet://`
)

// retypeASCII is the fix for a value with a character a reviewer cannot see for what it is.
const retypeASCII = "retype it in ASCII: IAM principals are ASCII, and a look-alike character names someone else"

// unreadable names the first character of s that a reviewer cannot see for what it is, with its
// position (1-based, in characters): a non-ASCII one (a Cyrillic "а" looks like a Latin "a") or
// a control character. "" when there is none.
func unreadable(s string) string {
	i := 0
	for _, r := range s {
		i++
		switch { // an invalid byte arrives as U+FFFD REPLACEMENT CHARACTER, and is named so
		case r < 0x20 || r == 0x7f:
			return fmt.Sprintf("has the control character %U at character %d, which a reviewer cannot see", r, i)
		case r > 0x7f:
			return fmt.Sprintf("has %U %s at character %d, which a reviewer cannot tell from an ASCII character", r, runenames.Name(r), i)
		}
	}
	return ""
}

// ValidateMember checks one IAM principal and returns (type, rule, fix) when it is bad.
func ValidateMember(m string) (diag.Type, string, string) {
	if rule := unreadable(m); rule != "" {
		return diag.Invalid, rule, retypeASCII
	}
	lower := strings.ToLower(m)
	if strings.HasPrefix(lower, "deleted:") {
		return diag.Forbidden, "is how IAM shows a principal that was deleted", "remove it from the stack config; a deleted principal can be granted nothing (docs/operations.md, \"Deleted principals\")"
	}
	if lower == "allusers" || lower == "allauthenticatedusers" || strings.HasPrefix(lower, "principalset://goog/public") {
		return diag.Forbidden, "makes the grant public", "name the developers or groups instead; this program never grants to everyone"
	}
	kind, rest, ok := strings.Cut(m, ":")
	if !ok {
		return diag.Invalid, "has no principal type", "prefix it with one of " + memberPrefixes + `, e.g. "user:` + m + `"`
	}
	switch kind {
	case "user", "group", "serviceAccount":
		if rest != strings.ToLower(rest) {
			return diag.Invalid, "has upper-case letters", fmt.Sprintf("write %q: IAM stores members in lower case, and a mixed-case one would show a change on every preview", kind+":"+strings.ToLower(rest))
		}
		if !emailRe.MatchString(rest) {
			return diag.Invalid, "is not " + kind + ":EMAIL", "write the full email, e.g. " + kind + ":someone@example.com"
		}
		if kind == "serviceAccount" && !gcp.ServiceAccountEmail.MatchString(rest) {
			return diag.Invalid, "is not a service account email", "service account emails end in .gserviceaccount.com"
		}
	case "domain":
		if !domainRe.MatchString(rest) {
			return diag.Invalid, "is not domain:DOMAIN", "write a lower-case domain, e.g. domain:example.com"
		}
		if slices.Contains(ConsumerMailDomains, rest) {
			return diag.Forbidden, "is a consumer mail domain: anyone can open an account there, so the grant would be to everyone", "name the developers (user:...) or a group of your organisation instead"
		}
	case "principal", "principalSet":
		if !principalRe.MatchString(m) {
			return diag.Invalid, "is not a principal identifier", "write it as principal://iam.googleapis.com/... or principalSet://iam.googleapis.com/..."
		}
	default:
		return diag.Invalid, "has an unknown principal type " + fmt.Sprintf("%q", kind), "use one of " + memberPrefixes
	}
	return "", "", ""
}

// suggestAccountID turns a bad name into one that passes, for the fix text.
func suggestAccountID(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	if out == "" || out[0] < 'a' || out[0] > 'z' {
		out = "sa-" + out
	}
	if len(out) > 30 {
		out = strings.TrimRight(out[:30], "-")
	}
	for len(out) < 6 {
		out += "-sa"
	}
	return out
}
