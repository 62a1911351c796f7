package ci

import (
	"maps"
	"slices"
	"strings"
)

// The provider's attribute mapping and condition are CEL that Google evaluates on every GitHub
// token. They are built here from a small structured form instead of being written as strings,
// so that the tests can evaluate exactly what the provider is given against the tokens GitHub
// issues for each kind of workflow run, without a CEL engine and without Google.

// Term is one operand of a concatenation: a claim of the GitHub token (assertion.<Claim>) or a
// string literal. Exactly one of the two is set.
type Term struct {
	Claim string
	Lit   string
}

// Claim and Lit build terms.
func Claim(name string) Term { return Term{Claim: name} }
func Lit(s string) Term      { return Term{Lit: s} }

// Expr is a concatenation of terms: the only shape of mapping the provider needs.
type Expr []Term

// CEL renders the expression as the provider receives it.
func (e Expr) CEL() string {
	parts := make([]string, len(e))
	for i, t := range e {
		if t.Claim != "" {
			parts[i] = "assertion." + t.Claim
		} else {
			parts[i] = quote(t.Lit)
		}
	}
	return strings.Join(parts, " + ")
}

// Eval is the expression's value for a token's claims. ok is false when a claim it reads is
// absent: Google then fails the mapping, and with it the token exchange.
func (e Expr) Eval(claims map[string]string) (value string, ok bool) {
	var b strings.Builder
	for _, t := range e {
		if t.Claim == "" {
			b.WriteString(t.Lit)
			continue
		}
		v, present := claims[t.Claim]
		if !present {
			return "", false
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// Claims lists the claims the expression reads.
func (e Expr) Claims() []string {
	var out []string
	for _, t := range e {
		if t.Claim != "" {
			out = append(out, t.Claim)
		}
	}
	return out
}

// Mapping maps every attribute the provider sets (google.subject, attribute.*) to its expression.
type Mapping map[string]Expr

// CEL renders the mapping as the provider's attributeMapping input.
func (m Mapping) CEL() map[string]string {
	out := make(map[string]string, len(m))
	for k, e := range m {
		out[k] = e.CEL()
	}
	return out
}

// Eval maps a token's claims to attributes. ok is false when any expression fails, as Google
// then refuses the token.
func (m Mapping) Eval(claims map[string]string) (attrs map[string]string, ok bool) {
	attrs = make(map[string]string, len(m))
	for k, e := range m {
		v, ok := e.Eval(claims)
		if !ok {
			return nil, false
		}
		attrs[k] = v
	}
	return attrs, true
}

// Names lists the mapped attributes, sorted.
func (m Mapping) Names() []string {
	return slices.Sorted(maps.Keys(m))
}

// Eq is claim == value.
type Eq struct {
	Claim, Value string
}

// AllOf holds when every one of its equalities does: one alternative of a clause.
type AllOf []Eq

// AnyOf holds when one of its alternatives does (one clause of the condition).
type AnyOf []AllOf

// TokenCondition holds when every clause does: a conjunction of disjunctions of conjunctions of
// equalities, which is all the provider needs to pin a repository, a set of events, and the one
// workflow file a scheduled run may come from.
type TokenCondition []AnyOf

// CEL renders the condition as the provider's attributeCondition input.
func (c TokenCondition) CEL() string {
	clauses := make([]string, len(c))
	for i, clause := range c {
		alts := make([]string, len(clause))
		for j, all := range clause {
			eqs := make([]string, len(all))
			for k, eq := range all {
				eqs[k] = "assertion." + eq.Claim + " == " + quote(eq.Value)
			}
			alts[j] = strings.Join(eqs, " && ")
			if len(all) > 1 && (len(clause) > 1 || len(c) > 1) {
				alts[j] = "(" + alts[j] + ")"
			}
		}
		clauses[i] = strings.Join(alts, " || ")
		if len(clause) > 1 && len(c) > 1 {
			clauses[i] = "(" + clauses[i] + ")"
		}
	}
	return strings.Join(clauses, " && ")
}

// Eval is whether Google accepts a token with these claims. A claim that is absent makes its
// equality false, as comparing a missing field does not match in the provider's CEL either.
func (c TokenCondition) Eval(claims map[string]string) bool {
	for _, clause := range c {
		if !slices.ContainsFunc(clause, func(all AllOf) bool {
			for _, eq := range all {
				if v, ok := claims[eq.Claim]; !ok || v != eq.Value {
					return false
				}
			}
			return true
		}) {
			return false
		}
	}
	return true
}

// Exchange is what Google does with a GitHub token: refuse it (ok false), or map it to the
// attributes that principal sets match against.
func (p *Stack) Exchange(claims map[string]string) (attrs map[string]string, ok bool) {
	if !p.Condition.Eval(claims) {
		return nil, false
	}
	return p.Mapping.Eval(claims)
}

// Impersonates lists the CI accounts a token with these claims may impersonate: those whose
// workloadIdentityUser binding names a principal set the token's attributes fall in.
func (p *Stack) Impersonates(claims map[string]string) []string {
	attrs, ok := p.Exchange(claims)
	if !ok {
		return nil
	}
	var out []string
	for _, access := range []Impersonation{p.PreviewAccess, p.DeployAccess, p.AuditAccess} {
		if v, ok := attrs[access.Attribute]; ok && slices.Contains(access.Values, v) {
			out = append(out, access.Account.ID)
		}
	}
	return out
}
