package rules

import (
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// lookup walks nested objects. It stops at an unknown value and returns it, so that a caller can
// tell "not set" (null) from "not known yet" (computed): in a preview, anything derived from
// another resource's output is unknown, and no policy may read it as absent.
func lookup(m property.Map, path ...string) property.Value {
	var v property.Value
	for i, k := range path {
		v = m.Get(k)
		if i == len(path)-1 || v.IsComputed() {
			return v
		}
		if !v.IsMap() {
			return property.Value{}
		}
		m = v.AsMap()
	}
	return v
}

// text is a value read as a string. Every accessor on property.Value panics on the wrong kind,
// and a panic in a policy kills the whole pack process, so every read goes through these.
type text struct {
	s string
	// set is false for an absent or null value; known is false for an unknown one.
	set, known bool
}

func str(v property.Value) text {
	switch {
	case v.IsComputed():
		return text{known: false, set: true}
	case v.IsString():
		return text{s: v.AsString(), set: true, known: true}
	case v.IsNull():
		return text{known: true}
	default:
		// A number or a bool where a string belongs: the provider refuses it anyway; treat it as
		// set to something that matches no rule.
		return text{s: "", set: true, known: true}
	}
}

// strList reads an array of strings: the known elements, and whether any element (or the whole
// array) is unknown. Elements that are not strings are skipped: the provider refuses them.
func strList(v property.Value) (known []string, unknown bool) {
	if v.IsComputed() {
		return nil, true
	}
	if !v.IsArray() {
		return nil, false
	}
	for _, e := range v.AsArray().AsSlice() {
		switch {
		case e.IsComputed():
			unknown = true
		case e.IsString():
			known = append(known, e.AsString())
		}
	}
	return known, unknown
}

// boolean reads a bool: its value, and whether it is set and known.
func boolean(v property.Value) (b, set, known bool) {
	switch {
	case v.IsComputed():
		return false, true, false
	case v.IsBool():
		return v.AsBool(), true, true
	case v.IsNull():
		return false, false, true
	default:
		return false, true, true
	}
}
