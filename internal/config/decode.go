package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/platform/private-run-api/internal/diag"
	"io"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
)

// Source is where raw config values come from: a function returning the string Pulumi holds for
// a fully qualified key (`<namespace>:<key>`), as ctx.GetConfig does. Structured values arrive as
// JSON text.
type Source func(key string) (string, bool)

// MapSource serves config from a map of fully qualified keys, as RunInfo.Config and stack files
// hold it.
func MapSource(m map[string]string) Source {
	return func(key string) (string, bool) { v, ok := m[key]; return v, ok }
}

// Load decodes and validates the stack config. namespace is the Pulumi project name; allKeys, when
// known, lists every config key the stack sets so that unknown keys in the namespace are reported
// (pass nil when the caller cannot list them). The error, if any, is an *diag.ConfigError listing every
// problem found. A config with callersDir needs LoadWithFiles.
func Load(namespace string, src Source, allKeys []string) (*Config, error) {
	return LoadWithFiles(namespace, src, allKeys, nil)
}

// LoadWithFiles is Load with the project's tree (rooted where Pulumi.yaml is), from which the
// caller files of callersDir are read.
func LoadWithFiles(namespace string, src Source, allKeys []string, files fs.FS) (*Config, error) {
	cfg, problems, broken := decode(namespace, src, allKeys, files)
	if cfg != nil {
		problems = append(problems, validate(cfg, broken)...)
	}
	if len(problems) > 0 {
		return nil, &diag.ConfigError{Diagnostics: problems}
	}
	normalizeExpiries(cfg)
	return cfg, nil
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

// decode turns raw strings into a Config, collecting shape problems instead of stopping at the
// first, so that one run reports everything wrong with a stack.
// reported is the set of list entries (by path) whose shape decoding already reported: validation
// neither repeats those problems nor shifts the indices of the entries after them. It stays here,
// beside the decoding, rather than as a flag on the config's types.
type reported map[string]bool

func decode(namespace string, src Source, allKeys []string, files fs.FS) (*Config, diag.List, reported) {
	broken := reported{}
	var ps problems
	cfg := &Config{EnableAPIs: true}

	ps = append(ps, UnknownKeys(namespace, allKeys, Keys, "this program")...)

	cfg.Project, _ = src(KeyGCPProject)
	cfg.Region, _ = src(KeyGCPRegion)
	cfg.Project, cfg.Region = strings.TrimSpace(cfg.Project), strings.TrimSpace(cfg.Region)

	get := func(key string) (string, bool) {
		v, ok := src(namespace + ":" + key)
		if ok && strings.TrimSpace(v) == "" {
			return "", false
		}
		return v, ok
	}

	if raw, ok := get(KeyService); ok {
		decodeObject(&ps, diag.NewPath(KeyService), json.RawMessage(raw), &cfg.Service, "a mapping with name, image and optional region, ingress, port, env, minInstances, maxInstances, protect, runtimeAccountId, runtimeAccount, imageOwner, secrets, vpc, cpu, memory, cpuAlwaysAllocated, startupCpuBoost, concurrency, timeoutSeconds, executionEnvironment, startupProbe, livenessProbe")
	}
	if raw, ok := get(KeyImpersonators); ok {
		cfg.Impersonators = decodeImpersonators(&ps, broken, diag.NewPath(KeyImpersonators), json.RawMessage(raw))
	}
	if raw, ok := get(KeyCallers); ok {
		var items []json.RawMessage
		if decodeInto(&ps, diag.NewPath(KeyCallers), raw, &items, "a list of callers, each a mapping with a name") {
			for i, item := range items {
				p := diag.NewPath(KeyCallers).Index(i)
				c := decodeCaller(&ps, broken, p, item)
				c.path = p
				cfg.Callers = append(cfg.Callers, c)
			}
		}
	}
	if raw, ok := get(KeyCallersProject); ok {
		decodeInto(&ps, diag.NewPath(KeyCallersProject), jsonString(raw), &cfg.CallersProject, "a project ID")
	}
	if raw, ok := get(KeyCallersDir); ok && decodeInto(&ps, diag.NewPath(KeyCallersDir), jsonString(raw), &cfg.CallersDir, "a directory relative to Pulumi.yaml, e.g. callers") {
		cfg.Callers = append(cfg.Callers, readCallerFiles(&ps, broken, files, cfg.CallersDir)...)
	}
	if raw, ok := get(KeyAuthz); ok {
		decodeObject(&ps, diag.NewPath(KeyAuthz), json.RawMessage(raw), &cfg.Authz, "a mapping with optional enabled, bucket, bucketDomainVerified, role, roleId, roleTitle, location")
	}
	if raw, ok := get(KeyEnableAPIs); ok {
		decodeInto(&ps, diag.NewPath(KeyEnableAPIs), raw, &cfg.EnableAPIs, "true or false")
	}
	if raw, ok := get(KeyLabels); ok {
		decodeInto(&ps, diag.NewPath(KeyLabels), raw, &cfg.Labels, "a mapping of label keys to string values")
	}
	return cfg, ps, broken
}

func decodeCaller(ps *problems, broken reported, path diag.Path, raw json.RawMessage) Caller {
	var c Caller
	if strictDecode(string(raw), &c) == nil {
		return c
	}
	// Something is wrong: decode again field by field to report every problem with its path.
	c = Caller{}
	fields, _ := decodeObject(ps, path, raw, &c, "a mapping with name and optional description, email, impersonators, invoke, authz, runAs", "impersonators")
	if fields == nil {
		broken[path.String()] = true
		return Caller{}
	}
	if fields["impersonators"] != nil {
		c.Impersonators = decodeImpersonators(ps, broken, path.Child("impersonators"), fields["impersonators"])
	}
	return c
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

// EngineConfigKeys lists the keys of the whole stack config, which the Pulumi language host
// passes to the program as a JSON object in PULUMI_CONFIG; nil when it is absent (tests, tools).
// ctx.GetConfig answers one key at a time, so this is the only way to see a typo'd key.
func EngineConfigKeys() []string {
	raw := os.Getenv("PULUMI_CONFIG")
	if raw == "" {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

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
