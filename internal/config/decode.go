package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/agext/levenshtein"

	"github.com/platform/private-run-api/internal/diag"
)

// The generic machinery of strict decoding: a value that does not fit its Go type, and every
// unknown key, is a problem with its path, and one bad field never hides the next. What each key
// decodes into is the type in that part's file; the lists that decode entry by entry do so there
// (decodeCaller in callers.go, decodeImpersonators in impersonators.go).

// problems collects the diagnostics of one load, in config order.
type problems = diag.List

// reported is the set of list entries (by path) whose shape decoding already reported: validation
// neither repeats those problems nor shifts the indices of the entries after them. It stays here,
// beside the decoding, rather than as a flag on the config's types.
type reported map[string]bool

// decodeObject decodes a JSON object into the struct v field by field, so that every unknown key
// and every badly typed field is reported, not only the first. Keys in defer are left for the
// caller and returned with the rest of the object's raw fields. ok is false when any problem was
// recorded.
func decodeObject(ps *problems, path diag.Path, raw json.RawMessage, v any, want string, deferred ...string) (map[string]json.RawMessage, bool) {
	// The common case, a valid object, costs one strict decode; only a bad one pays for the
	// field-by-field pass that names every problem.
	if strictDecode(string(raw), v) == nil {
		return map[string]json.RawMessage{}, true
	}
	reflect.ValueOf(v).Elem().SetZero()
	before := len(*ps)
	var fields map[string]json.RawMessage
	if !decodeInto(ps, path, string(raw), &fields, want) {
		return nil, false
	}
	if fields == nil { // JSON null: treat as empty
		return map[string]json.RawMessage{}, true
	}
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	byName := map[string]int{}
	for i := 0; i < rt.NumField(); i++ {
		if name := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]; name != "" && name != "-" {
			byName[name] = i
		}
	}
	known := slices.Sorted(maps.Keys(byName))
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		i, ok := byName[key]
		switch {
		case !ok:
			ps.Add(diag.Unknown, path.Child(key), "", "is not a known key", unknownKeyFix(key, "", known))
		case slices.Contains(deferred, key):
		default:
			decodeField(ps, path.Child(key), fields[key], rv.Field(i))
		}
	}
	return fields, len(*ps) == before
}

// decodeField decodes one field, going into nested mappings and lists of mappings so that a
// problem deep inside (a typo'd key in service.vpc) is named by its own path.
func decodeField(ps *problems, path diag.Path, raw json.RawMessage, fv reflect.Value) {
	t := fv.Type()
	elem := t
	if t.Kind() == reflect.Pointer {
		elem = t.Elem()
	}
	switch {
	case elem.Kind() == reflect.Struct && !hasUnmarshaler(elem):
		if strings.TrimSpace(string(raw)) == "null" {
			return
		}
		v := reflect.New(elem)
		decodeObject(ps, path, raw, v.Interface(), "a mapping with "+strings.Join(jsonKeys(elem), ", "))
		if t.Kind() == reflect.Pointer {
			fv.Set(v)
		} else {
			fv.Set(v.Elem())
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && !hasUnmarshaler(t.Elem()):
		var items []json.RawMessage
		if !decodeInto(ps, path, string(raw), &items, "a list of mappings") {
			return
		}
		out := reflect.MakeSlice(t, len(items), len(items))
		for j, item := range items {
			decodeField(ps, path.Index(j), item, out.Index(j))
		}
		fv.Set(out)
	default:
		decodeInto(ps, path, string(raw), fv.Addr().Interface(), kindOf(t))
	}
}

func hasUnmarshaler(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]())
}

// jsonKeys lists a struct's config keys, for the shape a fix asks for.
func jsonKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]; name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// strictDecode decodes one JSON value, refusing unknown keys and trailing data.
func strictDecode(raw string, v any) error {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// decodeInto decodes one JSON value strictly (unknown keys are errors) and records a problem
// naming the path when it fails. want describes the expected shape for the fix.
func decodeInto(ps *problems, path diag.Path, raw string, v any, want string) bool {
	err := strictDecode(raw, v)
	if err == nil {
		return true
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		p := path
		if typeErr.Field != "" {
			p = path.Child(typeErr.Field)
		}
		ps.Add(diag.Invalid, p, "", fmt.Sprintf("is %s, expected %s", article(typeErr.Value), kindOf(typeErr.Type)), "write "+kindOf(typeErr.Type)+" here")
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), err.Error() == "trailing data":
		ps.Add(diag.Invalid, path, short(raw), "does not parse", "write "+want)
	default:
		ps.Add(diag.Invalid, path, short(raw), err.Error(), "write "+want)
	}
	return false
}

func short(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

func article(jsonKind string) string {
	switch jsonKind {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "number", "string":
		return "a " + jsonKind
	default:
		if strings.HasPrefix(jsonKind, "number") {
			return "a number (" + strings.TrimPrefix(jsonKind, "number ") + ")"
		}
		return jsonKind
	}
}

func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return t.String()
}

// unknownKeyFix tells how to fix an unknown key: the nearest known one (written with prefix) when
// it is near enough to be a typo, and the list of known keys.
func unknownKeyFix(key, prefix string, known []string) string {
	if s := closest(key, known); s != "" {
		return fmt.Sprintf("did you mean %q? Known keys: %s", prefix+s, strings.Join(known, ", "))
	}
	return "remove it; known keys: " + strings.Join(known, ", ")
}

// closest suggests the known name nearest to a typo, if it is near enough to be a typo.
func closest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein.Distance(strings.ToLower(s), strings.ToLower(k), nil); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// UnknownKeys reports every key of allKeys in namespace that is not in known, sorted, with the
// nearest known key as a suggestion. reader names the program in the message.
func UnknownKeys(namespace string, allKeys, known []string, reader string) diag.List {
	isKnown := map[string]bool{}
	for _, k := range known {
		isKnown[k] = true
	}
	var unknown, foreign []string
	for _, k := range allKeys {
		rest, ours := strings.CutPrefix(k, namespace+":")
		switch {
		case ours && !isKnown[rest]:
			unknown = append(unknown, rest)
		case !ours && !ProviderKeys[k]:
			foreign = append(foreign, k)
		}
	}
	sort.Strings(unknown)
	sort.Strings(foreign)
	var ps problems
	for _, k := range unknown {
		ps.Add(diag.Unknown, diag.NewPath(namespace+":"+k), "", "is not a config key "+reader+" reads", unknownKeyFix(k, namespace+":", known))
	}
	// The stack file comes from pull requests, and the provider reads its own keys from it: a
	// custom endpoint (gcp:storageCustomEndpoint, gcp:iamCustomEndpoint, ...) would send the
	// deploy identity's token to another host, and no grant in the access report would show it.
	for _, k := range foreign {
		ps.Add(diag.Forbidden, diag.NewPath(k), "", "is a setting "+reader+" does not read: only gcp:project and gcp:region may sit beside its own keys", "remove it; provider settings such as credentials or custom endpoints belong to the environment of a trusted run, never to a stack file a pull request can change")
	}
	return ps
}

// ProviderKeys are the only keys outside a program's namespace that a stack file may set.
var ProviderKeys = map[string]bool{KeyGCPProject: true, KeyGCPRegion: true}

// jsonString is a raw config value as a JSON string: a plain string arrives unquoted from the
// engine, as scalars do.
func jsonString(raw string) string {
	if strings.HasPrefix(strings.TrimSpace(raw), `"`) {
		return raw
	}
	data, _ := json.Marshal(raw)
	return string(data)
}

// canonicalJSON is used by tests and tools that need to compare raw values; kept here so every
// reader of stack files turns YAML into the same JSON text Pulumi hands the program.
func canonicalJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}
