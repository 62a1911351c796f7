package rules

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// An IAM condition is a CEL expression. Expiry reads the part of CEL that decides when a grant
// ends: &&, ||, !, parentheses, literals, comparisons of request.time with timestamp("..."), and,
// as opaque truth values it knows nothing about, every other comparison, call or attribute
// (resource.name == "x", resource.name.startsWith("x"), "x" in [...]). Anything else (arithmetic,
// ?:, macros, comments) it cannot read. The parser is recursive descent over a token list: each
// step consumes a token or fails, so it ends in time linear in the input, and the limits below
// bound its recursion and the input it looks at.
const (
	// maxConditionBytes and maxConditionDepth are far above what a person writes to make a grant
	// expire; past them the expression is refused unread.
	maxConditionBytes = 8 << 10
	maxConditionDepth = 32
)

// ErrNoExpiry is Expiry's answer for an expression it reads that does not surely end the grant.
var ErrNoExpiry = errors.New("does not surely expire")

// UnreadableError is Expiry's answer for an expression outside what it reads: it cannot judge.
type UnreadableError struct {
	// Offset is the byte where reading stopped.
	Offset int
	Reason string
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("cannot be read at byte %d: %s", e.Offset, e.Reason)
}

// Expiry is the time from which the condition is false whatever else it tests, so the grant it
// guards surely ends then: for `request.time < timestamp("2027-01-31T00:00:00Z") && <anything>`,
// 2027-01-31. (`<=` and `==` end it just after that instant; the time returned is the instant.)
// An expression that is never true (`false`) ends at the zero time. The error is ErrNoExpiry when
// the expression is read but may stay true forever (`... || true`, `!(...)`, a time compared the
// other way, or no time at all), and an *UnreadableError when it cannot be read.
func Expiry(expression string) (time.Time, error) {
	if len(expression) > maxConditionBytes {
		return time.Time{}, &UnreadableError{maxConditionBytes, fmt.Sprintf("longer than %d bytes", maxConditionBytes)}
	}
	toks, err := lex(expression)
	if err != nil {
		return time.Time{}, err
	}
	p := &parser{toks: toks}
	v, err := p.expr(0)
	if err != nil {
		return time.Time{}, err
	}
	if t := p.peek(); t.kind != tEOF {
		return time.Time{}, p.fail(t, "unexpected "+t.describe())
	}
	b, err := p.truth(v, toks[0])
	if err != nil {
		return time.Time{}, err
	}
	if !b.falseFrom.set {
		return time.Time{}, ErrNoExpiry
	}
	return b.falseFrom.at, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp // && || ! == != < <= > >=
	tPunct
)

type token struct {
	kind tokKind
	text string // the identifier, operator or punctuation; a string's value
	// escaped is set on a string literal with a backslash escape, whose value is not decoded.
	escaped bool
	offset  int
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string"
	}
	return fmt.Sprintf("%q", t.text)
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentStart(s[j]) || isDigit(s[j])) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: s[i:j], offset: i})
			i = j
		case isDigit(c):
			// A number is only ever an opaque operand: its exact form does not matter.
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || isIdentStart(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: tNumber, text: s[i:j], offset: i})
			i = j
		case c == '"' || c == '\'':
			j, escaped := i+1, false
			for j < len(s) && s[j] != c && s[j] != '\n' {
				if s[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			if j >= len(s) || s[j] != c {
				return nil, &UnreadableError{i, "unterminated string"}
			}
			toks = append(toks, token{kind: tString, text: s[i+1 : j], escaped: escaped, offset: i})
			i = j + 1
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch {
			case two == "&&" || two == "||" || two == "==" || two == "!=" || two == "<=" || two == ">=":
				toks = append(toks, token{kind: tOp, text: two, offset: i})
				i += 2
			case c == '!' || c == '<' || c == '>':
				toks = append(toks, token{kind: tOp, text: string(c), offset: i})
				i++
			case strings.IndexByte("()[],.", c) >= 0:
				toks = append(toks, token{kind: tPunct, text: string(c), offset: i})
				i++
			default:
				return nil, &UnreadableError{i, fmt.Sprintf("%q is outside the conditions this policy reads (&&, ||, !, parentheses, comparisons)", s[i:i+1])}
			}
		}
	}
	return append(toks, token{kind: tEOF, offset: len(s)}), nil
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }

// from is "surely so from at on"; unset means no such time.
type from struct {
	set bool
	at  time.Time
}

// always is from the beginning of time.
var always = from{set: true}

func earliest(a, b from) from {
	switch {
	case !a.set:
		return b
	case !b.set || a.at.Before(b.at):
		return a
	}
	return b
}

// latest is set only when both are: "both surely so" holds from the later time on.
func latest(a, b from) from {
	if !a.set || !b.set {
		return from{}
	}
	if a.at.After(b.at) {
		return a
	}
	return b
}

type valKind int

const (
	vBool      valKind = iota // a truth value, with what is known about it
	vOpaque                   // an attribute, call or other operand: may be a truth value, unknown
	vNow                      // request.time
	vTimestamp                // timestamp("<RFC 3339>")
	vOther                    // a string, number or list: never a truth value
)

type val struct {
	kind valKind
	// For vBool: from when it is surely false, and surely true.
	falseFrom, trueFrom from
	at                  time.Time // vTimestamp
	literal             *bool     // vBool written as true or false
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) is(kind tokKind, text string) bool {
	t := p.peek()
	return t.kind == kind && t.text == text
}

func (p *parser) fail(t token, reason string) error { return &UnreadableError{t.offset, reason} }

func (p *parser) deeper(depth int) error {
	if depth >= maxConditionDepth {
		return p.fail(p.peek(), fmt.Sprintf("nested deeper than %d", maxConditionDepth))
	}
	return nil
}

// truth is a value used as a condition: a truth value, or an opaque one.
func (p *parser) truth(v val, at token) (val, error) {
	switch v.kind {
	case vBool:
		return v, nil
	case vOpaque:
		return val{kind: vBool}, nil
	}
	return val{}, p.fail(at, "a time, string, number or list where a condition belongs")
}

// expr := and ('||' and)*
func (p *parser) expr(depth int) (val, error) {
	if err := p.deeper(depth); err != nil {
		return val{}, err
	}
	// Both must be false for a disjunction to be; either true makes it true.
	return p.chain("||", p.and, depth, func(a, b val) val {
		return val{kind: vBool, falseFrom: latest(a.falseFrom, b.falseFrom), trueFrom: earliest(a.trueFrom, b.trueFrom)}
	})
}

// and := unary ('&&' unary)*
func (p *parser) and(depth int) (val, error) {
	// Either false makes a conjunction false; both must be true for it to be.
	return p.chain("&&", p.unary, depth, func(a, b val) val {
		return val{kind: vBool, falseFrom: earliest(a.falseFrom, b.falseFrom), trueFrom: latest(a.trueFrom, b.trueFrom)}
	})
}

// chain reads operands joined by op, left to right; with more than one, each must be a
// condition, and join combines them.
func (p *parser) chain(op string, operand func(int) (val, error), depth int, join func(a, b val) val) (val, error) {
	start := p.peek()
	v, err := operand(depth)
	if err != nil || !p.is(tOp, op) {
		return v, err
	}
	if v, err = p.truth(v, start); err != nil {
		return val{}, err
	}
	for p.is(tOp, op) {
		p.next()
		start := p.peek()
		w, err := operand(depth)
		if err != nil {
			return val{}, err
		}
		if w, err = p.truth(w, start); err != nil {
			return val{}, err
		}
		v = join(v, w)
	}
	return v, nil
}

// unary := '!' unary | comparison
func (p *parser) unary(depth int) (val, error) {
	if !p.is(tOp, "!") {
		return p.comparison(depth)
	}
	bang := p.next()
	if err := p.deeper(depth + 1); err != nil {
		return val{}, err
	}
	v, err := p.unary(depth + 1)
	if err != nil {
		return val{}, err
	}
	if v, err = p.truth(v, bang); err != nil {
		return val{}, err
	}
	return not(v), nil
}

func not(v val) val { return val{kind: vBool, falseFrom: v.trueFrom, trueFrom: v.falseFrom} }

// comparison := operand (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in') operand)?
func (p *parser) comparison(depth int) (val, error) {
	left, err := p.operand(depth)
	if err != nil {
		return val{}, err
	}
	op := p.peek()
	switch {
	case op.kind == tOp && op.text != "!" && op.text != "&&" && op.text != "||":
	case op.kind == tIdent && op.text == "in":
	default:
		return left, nil
	}
	p.next()
	right, err := p.operand(depth)
	if err != nil {
		return val{}, err
	}
	return compare(left, op.text, right), nil
}

// compare is what a comparison says about time. Only request.time against a timestamp literal,
// and a truth value against true or false, are read; every other comparison is an opaque truth
// value, which never makes a grant expire.
func compare(left val, op string, right val) val {
	if left.kind == vTimestamp && right.kind == vNow {
		// timestamp(t) > request.time is request.time < timestamp(t).
		left, right = right, left
		op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}[op]
	}
	if left.kind == vNow && right.kind == vTimestamp {
		at := from{set: true, at: right.at}
		switch op {
		case "<", "<=", "==":
			return val{kind: vBool, falseFrom: at}
		case ">", ">=", "!=":
			return val{kind: vBool, trueFrom: at}
		}
	}
	if right.literal != nil && left.kind == vBool {
		left, right = right, left
	}
	if left.literal != nil && right.kind == vBool && (op == "==" || op == "!=") {
		// e == true is e; e == false, e != true are !e.
		if *left.literal == (op == "==") {
			return val{kind: vBool, falseFrom: right.falseFrom, trueFrom: right.trueFrom}
		}
		return not(right)
	}
	return val{kind: vBool}
}

// operand := '(' expr ')' | '[' list ']' | string | number | true | false | null
//
//	| ident ('(' args ')')? ('.' ident ('(' args ')')?)*
func (p *parser) operand(depth int) (val, error) {
	if err := p.deeper(depth); err != nil {
		return val{}, err
	}
	t := p.next()
	switch {
	case t.kind == tPunct && t.text == "(":
		v, err := p.expr(depth + 1)
		if err != nil {
			return val{}, err
		}
		if err := p.expect(")"); err != nil {
			return val{}, err
		}
		return p.selectors(v, depth)
	case t.kind == tPunct && t.text == "[":
		if _, err := p.list("]", depth+1); err != nil {
			return val{}, err
		}
		return val{kind: vOther}, nil
	case t.kind == tString || t.kind == tNumber:
		return val{kind: vOther}, nil
	case t.kind == tIdent:
		switch t.text {
		case "true", "false":
			b := t.text == "true"
			v := val{kind: vBool, literal: &b}
			if b {
				v.trueFrom = always
			} else {
				v.falseFrom = always
			}
			return v, nil
		case "null":
			return val{kind: vOther}, nil
		case "in":
			return val{}, p.fail(t, `"in" where an operand belongs`)
		}
		if p.is(tPunct, "(") {
			p.next()
			args, err := p.list(")", depth+1)
			if err != nil {
				return val{}, err
			}
			if t.text == "timestamp" {
				v, err := p.timestampOf(t, args)
				if err != nil {
					return val{}, err
				}
				return p.selectors(v, depth)
			}
			return p.selectors(val{kind: vOpaque}, depth)
		}
		path := t.text
		for p.is(tPunct, ".") {
			dot := p.next()
			name := p.next()
			if name.kind != tIdent {
				return val{}, p.fail(dot, "a name must follow \".\"")
			}
			if p.is(tPunct, "(") {
				// A method call: opaque, whatever it is called on.
				p.next()
				if _, err := p.list(")", depth+1); err != nil {
					return val{}, err
				}
				return p.selectors(val{kind: vOpaque}, depth)
			}
			path += "." + name.text
		}
		if path == "request.time" {
			return val{kind: vNow}, nil
		}
		return val{kind: vOpaque}, nil
	}
	return val{}, p.fail(t, "unexpected "+t.describe())
}

// selectors reads what follows an operand: .field and .method(...), which make it opaque.
func (p *parser) selectors(v val, depth int) (val, error) {
	for p.is(tPunct, ".") {
		dot := p.next()
		if name := p.next(); name.kind != tIdent {
			return val{}, p.fail(dot, "a name must follow \".\"")
		}
		if p.is(tPunct, "(") {
			p.next()
			if _, err := p.list(")", depth+1); err != nil {
				return val{}, err
			}
		}
		v = val{kind: vOpaque}
	}
	return v, nil
}

// arg is one element of an argument or list literal: its value, its first token, and whether
// that token is all of it.
type arg struct {
	v     val
	first token
	alone bool
}

// list reads comma-separated operands up to the closing token, which it consumes.
func (p *parser) list(closing string, depth int) ([]arg, error) {
	var out []arg
	if p.is(tPunct, closing) {
		p.next()
		return out, nil
	}
	for {
		start, first := p.pos, p.peek()
		v, err := p.expr(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, arg{v, first, p.pos == start+1})
		if p.is(tPunct, ",") {
			p.next()
			continue
		}
		return out, p.expect(closing)
	}
}

func (p *parser) expect(text string) error {
	if t := p.next(); t.kind != tPunct || t.text != text {
		return p.fail(t, fmt.Sprintf("want %q, found %s", text, t.describe()))
	}
	return nil
}

// timestampOf reads timestamp("<RFC 3339>"): one string literal, no escapes.
func (p *parser) timestampOf(call token, args []arg) (val, error) {
	if len(args) != 1 || args[0].first.kind != tString || !args[0].alone {
		return val{}, p.fail(call, "timestamp() takes one string literal")
	}
	s := args[0].first
	if s.escaped {
		return val{}, p.fail(s, "a timestamp with an escape in it")
	}
	at, err := time.Parse(time.RFC3339Nano, s.text)
	if err != nil {
		return val{}, p.fail(s, fmt.Sprintf("timestamp(%q) is not an RFC 3339 time", s.text))
	}
	return val{kind: vTimestamp, at: at}, nil
}
