package rules

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// Prop is one configuration property of a policy, beside the enforcement level every policy
// takes.
type Prop struct {
	Name, Description string
	// Type is "stringArray" or "regexp" (a string that must compile).
	Type    string
	Default any
}

func (p Prop) schema() map[string]any {
	s := map[string]any{"description": p.Description, "default": p.Default}
	switch p.Type {
	case "stringArray":
		s["type"] = "array"
		s["items"] = map[string]any{"type": "string"}
	case "regexp":
		s["type"] = "string"
		s["format"] = "regex"
	}
	return s
}

// settings are a policy's properties, decoded. Each policy reads only its own.
type settings struct {
	allowedMembers []string
	guardRole      *regexp.Regexp
	// roles resolves granted roles; decode leaves it to predefined roles only.
	roles roleSet
}

// decode checks a policy's properties as the engine hands them over (the JSON config file's
// object minus "enforcementLevel", schema defaults filled in) and decodes them. The engine
// validates types against the schema but lets unknown keys through, so a misspelt key would
// silently leave a default in force: it is an error here.
func decode(props []Prop, given map[string]any) (settings, error) {
	values := map[string]any{}
	for _, p := range props {
		values[p.Name] = p.Default
	}
	for k, v := range given {
		i := slices.IndexFunc(props, func(p Prop) bool { return p.Name == k })
		if i < 0 {
			known := []string{"enforcementLevel"}
			for _, p := range props {
				known = append(known, p.Name)
			}
			return settings{}, fmt.Errorf("unknown config property %q; this policy takes %s", k, strings.Join(known, ", "))
		}
		values[k] = v
	}
	var s settings
	for _, p := range props {
		v := values[p.Name]
		switch p.Type {
		case "stringArray":
			list, err := stringArray(v)
			if err != nil {
				return settings{}, fmt.Errorf("config property %q: %v", p.Name, err)
			}
			if p.Name == "allowedMembers" {
				s.allowedMembers = list
			}
		case "regexp":
			text, ok := v.(string)
			if !ok {
				return settings{}, fmt.Errorf("config property %q: want a string, got %T", p.Name, v)
			}
			re, err := regexp.Compile(text)
			if err != nil {
				return settings{}, fmt.Errorf("config property %q: not a regular expression: %v", p.Name, err)
			}
			if p.Name == "guardRolePattern" {
				s.guardRole = re
			}
		}
	}
	return s, nil
}

func stringArray(v any) ([]string, error) {
	switch l := v.(type) {
	case []string:
		return l, nil
	case []any:
		out := make([]string, 0, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d: want a string, got %T", i, e)
			}
			out = append(out, s)
		}
		return out, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("want an array of strings, got %T", v)
}

// Config is a policy pack configuration: per policy, its enforcement level and properties. It is
// what the engine ends up with after applying a --policy-pack-config file (or the config of a
// policy group) over the pack's defaults.
type Config struct {
	Levels map[string]policyx.EnforcementLevel
	Props  map[string]map[string]any
}

// DefaultConfig is every policy at its default level with default properties.
func DefaultConfig() Config {
	c := Config{Levels: map[string]policyx.EnforcementLevel{}, Props: map[string]map[string]any{}}
	for _, p := range ResourcePolicies() {
		c.Levels[p.Name] = p.Level
	}
	for _, p := range StackPolicies() {
		c.Levels[p.Name] = p.Level
	}
	return c
}

var levelNames = map[string]policyx.EnforcementLevel{
	"advisory":  policyx.EnforcementLevelAdvisory,
	"mandatory": policyx.EnforcementLevelMandatory,
	"disabled":  policyx.EnforcementLevelDisabled,
}

// LevelName is the config spelling of an enforcement level.
func LevelName(l policyx.EnforcementLevel) string {
	for name, v := range levelNames {
		if v == l {
			return name
		}
	}
	return fmt.Sprintf("level(%d)", int32(l))
}

// ParseConfig reads a policy config file the way the Pulumi CLI reads --policy-pack-config and
// `pulumi policy enable --config`: an object from policy name (or "all") to either a level
// ("advisory", "mandatory", "disabled") or an object with an optional "enforcementLevel" and the
// policy's properties, plus the CLI's "environments" list. It is stricter than the CLI: unknown
// policy names and properties are errors, and so is "remediate", which none of these policies
// does.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("policy config is not a JSON object: %v", err)
	}
	c := DefaultConfig()
	props := map[string][]Prop{}
	for _, p := range ResourcePolicies() {
		props[p.Name] = p.Props
	}
	level := func(name string, v any) (policyx.EnforcementLevel, error) {
		s, _ := v.(string)
		l, ok := levelNames[s]
		if !ok {
			return 0, fmt.Errorf("%s: enforcement level %v; use advisory, mandatory or disabled", name, v)
		}
		return l, nil
	}
	// "all" first: the CLI applies it before the per-policy entries, whatever the file's order.
	if v, ok := raw["all"]; ok {
		if m, isMap := v.(map[string]any); isMap {
			v = m["enforcementLevel"]
		}
		l, err := level("all", v)
		if err != nil {
			return Config{}, err
		}
		for name := range c.Levels {
			c.Levels[name] = l
		}
	}
	names := slices.Sorted(maps.Keys(raw))
	for _, name := range names {
		if name == "all" {
			continue
		}
		if name == "environments" {
			// ESC environments the CLI resolves for the pack (--policy-pack-config only).
			if _, err := stringArray(raw[name]); err != nil {
				return Config{}, fmt.Errorf("environments: %v", err)
			}
			continue
		}
		if _, ok := c.Levels[name]; !ok {
			known := slices.Sorted(maps.Keys(c.Levels))
			return Config{}, fmt.Errorf("unknown policy %q; the pack has %s", name, strings.Join(known, ", "))
		}
		switch v := raw[name].(type) {
		case string:
			l, err := level(name, v)
			if err != nil {
				return Config{}, err
			}
			c.Levels[name] = l
		case map[string]any:
			rest := maps.Clone(v)
			if lv, ok := rest["enforcementLevel"]; ok {
				l, err := level(name, lv)
				if err != nil {
					return Config{}, err
				}
				c.Levels[name] = l
				delete(rest, "enforcementLevel")
			}
			if _, err := decode(props[name], rest); err != nil {
				return Config{}, fmt.Errorf("%s: %v", name, err)
			}
			if len(rest) > 0 {
				c.Props[name] = rest
			}
		default:
			return Config{}, fmt.Errorf("%s: want a level or an object, got %v", name, v)
		}
	}
	return c, nil
}
