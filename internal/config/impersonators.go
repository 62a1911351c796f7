package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/platform/private-run-api/internal/diag"
)

// The impersonators key, and the impersonators of each caller the program creates.

// Impersonator is a principal allowed to mint tokens as a caller account, optionally until an
// RFC 3339 time. In YAML it is either a plain member string or {member, expires}.
type Impersonator struct {
	Member  string `json:"member"`
	Expires string `json:"expires,omitempty"`
}

// MarshalJSON writes the form people write: a plain member string without an expiry, {member,
// expires} with one. UnmarshalJSON reads both back to the same value.
func (i Impersonator) MarshalJSON() ([]byte, error) {
	if i.Expires == "" {
		return json.Marshal(i.Member)
	}
	type plain Impersonator // no MarshalJSON: no recursion
	return json.Marshal(plain(i))
}

// UnmarshalJSON accepts a member string or a {member, expires} mapping, strictly: an unknown key
// is an error here too.
func (i *Impersonator) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		*i = Impersonator{Member: s}
		return nil
	}
	type plain Impersonator // no UnmarshalJSON: no recursion
	var p plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*i = Impersonator(p)
	return nil
}

func decodeImpersonators(ps *problems, broken reported, path diag.Path, raw json.RawMessage) []Impersonator {
	var all []Impersonator
	if strictDecode(string(raw), &all) == nil {
		return all
	}
	var items []json.RawMessage
	if !decodeInto(ps, path, string(raw), &items, `a list of members ("user:a@example.com") or {member, expires} mappings`) {
		return nil
	}
	out := make([]Impersonator, 0, len(items))
	for i, item := range items {
		p := path.Index(i)
		var s string
		if json.Unmarshal(item, &s) == nil {
			out = append(out, Impersonator{Member: s})
			continue
		}
		var imp Impersonator
		// A partly decoded entry is kept (its unknown keys are reported) so that later entries
		// keep their indices in messages.
		if fields, _ := decodeObject(ps, p, item, &imp, `a member string ("user:a@example.com") or a mapping {member, expires}`); fields == nil {
			broken[p.String()] = true
		}
		out = append(out, imp)
	}
	return out
}

// ParseExpiry reads an impersonator's expires value: RFC 3339, cut to whole seconds in UTC. IAM
// conditions, binding names and the grouping of grants by expiry all use this one value, so two
// expiries a fraction of a second apart are one grant, not two bindings with the same name.
func ParseExpiry(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Second), nil
}

// engineTimestamp reads a value the way the Pulumi engine renders an unquoted YAML timestamp
// (Go's time.Time String: "2027-01-31 00:00:00 +0000 UTC"), so that the problem can say what to
// write instead.
func engineTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999 -0700 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// normalizeExpiries rewrites every valid expires as ParseExpiry reads it (UTC, whole seconds), so
// that every reader of the config (the plan, the access report, the doctor) sees one instant.
func normalizeExpiries(cfg *Config) {
	fix := func(imps []Impersonator) {
		for i := range imps {
			if t, err := ParseExpiry(imps[i].Expires); err == nil {
				imps[i].Expires = t.Format(time.RFC3339)
			}
		}
	}
	fix(cfg.Impersonators)
	for i := range cfg.Callers {
		fix(cfg.Callers[i].Impersonators)
	}
}

// workloadPoolRe is a principal or principal set of a workload identity pool (GitHub Actions,
// GKE, any federated workload), as opposed to a workforce pool's, which holds people.
var workloadPoolRe = regexp.MustCompile(`(?i)^principal(set)?://iam\.googleapis\.com/projects/[^/]+/locations/[^/]+/workloadidentitypools/`)

// validateImpersonators checks a list of impersonators; runtime is the runtime account's member
// ("" when unknown).
func validateImpersonators(ps *problems, broken reported, path diag.Path, imps []Impersonator, runtime string) {
	seen := map[string]int{}
	for i, imp := range imps {
		p := path.Index(i)
		if broken[p.String()] {
			continue
		}
		if imp.Member == "" {
			ps.Add(diag.Required, p.Child("member"), "", "is missing", `write a member such as "user:alice@example.com"`)
		} else if typ, rule, fix := ValidateMember(imp.Member); rule != "" {
			ps.Add(typ, p.Child("member"), imp.Member, rule, fix)
		} else if workloadPoolRe.MatchString(imp.Member) {
			ps.Add(diag.Forbidden, p.Child("member"), imp.Member, "is a workload identity pool's principal: the CI jobs (a pull request's preview too) or other workloads it admits could impersonate the caller", "impersonators are people: name developers or a group; a workload that calls the API is a caller of its own")
		} else if runtime != "" && imp.Member == runtime {
			ps.Add(diag.Forbidden, p.Child("member"), imp.Member, "is the service's runtime account: the service could mint tokens as the caller, and so act as every caller it may impersonate", "remove it; the service needs no caller's identity")
		} else if j, dup := seen[imp.Member]; dup {
			ps.Add(diag.Duplicate, p.Child("member"), imp.Member, fmt.Sprintf("is listed twice (also %s[%d])", path, j), "keep one entry")
		} else {
			seen[imp.Member] = i
		}
		if imp.Expires != "" {
			if _, err := ParseExpiry(imp.Expires); err != nil {
				if t, ok := engineTimestamp(imp.Expires); ok {
					ps.Add(diag.Invalid, p.Child("expires"), imp.Expires, "is how the Pulumi engine passes on an unquoted YAML timestamp, not the RFC 3339 time the stack file wrote", fmt.Sprintf("quote it in the stack file: expires: %q", t.Format(time.RFC3339)))
				} else {
					ps.Add(diag.Invalid, p.Child("expires"), imp.Expires, "is not an RFC 3339 time", `write e.g. "2027-01-31T00:00:00Z" (UTC) or "2027-01-31T09:00:00+09:00"`)
				}
			}
		}
	}
}
