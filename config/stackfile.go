package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// StackFile is a stack's config as read from Pulumi.<stack>.yaml, in the form the Pulumi engine
// hands it to the program: fully qualified keys, scalars as their text, structured values as JSON.
type StackFile struct {
	// Namespace is the project name from Pulumi.yaml.
	Namespace string
	// Values maps `<namespace>:<key>` to the raw value.
	Values map[string]string
}

// Keys lists every key the stack file sets.
func (s StackFile) Keys() []string {
	out := make([]string, 0, len(s.Values))
	for k := range s.Values {
		out = append(out, k)
	}
	return out
}

// Load decodes and validates the stack file's config with the same code the program runs.
func (s StackFile) Load() (*Config, error) {
	return Load(s.Namespace, MapSource(s.Values), s.Keys())
}

// ReadStack reads Pulumi.yaml and Pulumi.<stack>.yaml from dir, for tools (tests, the access
// report, the doctor) that run without the Pulumi engine.
func ReadStack(dir, stack string) (StackFile, error) {
	project, err := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return StackFile{}, err
	}
	var meta struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(project, &meta); err != nil || meta.Name == "" {
		return StackFile{}, fmt.Errorf("%s: cannot read the project name: %v", filepath.Join(dir, "Pulumi.yaml"), err)
	}
	path := filepath.Join(dir, "Pulumi."+stack+".yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return StackFile{}, err
	}
	return ParseStackYAML(meta.Name, path, data)
}

// ParseStackYAML converts the `config:` section of a stack file. Keys without a namespace belong
// to the project, as Pulumi treats them. Secrets cannot be decrypted here and are refused.
func ParseStackYAML(namespace, path string, data []byte) (StackFile, error) {
	var doc struct {
		Config map[string]yaml.Node `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return StackFile{}, fmt.Errorf("%s: not valid YAML: %w", path, err)
	}
	out := StackFile{Namespace: namespace, Values: map[string]string{}}
	var errs []error
	for key, node := range doc.Config {
		full := key
		if !strings.Contains(key, ":") {
			full = namespace + ":" + key
		}
		if node.Kind == yaml.MappingNode && len(node.Content) == 2 && node.Content[0].Value == "secure" {
			errs = append(errs, fmt.Errorf("%s: %s is a secret; this program's config holds no secrets, so write it in plain text", path, full))
			continue
		}
		if node.Kind == yaml.ScalarNode {
			out.Values[full] = node.Value
			continue
		}
		v, err := (&yamlWalk{budget: maxYAMLNodes}).value(&node, 0)
		if err == nil {
			out.Values[full], err = canonicalJSON(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, full, err))
		}
	}
	return out, errors.Join(errs...)
}

// Limits on what one stack value may expand to: aliases can nest and recurse, and a stack file
// is input from a pull request.
const (
	maxYAMLNodes = 200_000
	maxYAMLDepth = 64
)

// yamlWalk converts YAML to JSON-ready values keeping scalars as written: an unquoted timestamp
// stays the text the user typed rather than becoming a time.Time re-rendered differently.
type yamlWalk struct{ budget int }

func (w *yamlWalk) value(n *yaml.Node, depth int) (any, error) {
	w.budget--
	if w.budget < 0 || depth > maxYAMLDepth {
		return nil, fmt.Errorf("the value at line %d nests too deep or expands too far (a recursive alias?)", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return w.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		return w.value(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := w.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := w.value(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			return strconv.ParseBool(strings.ToLower(n.Value))
		case "!!int":
			if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				return i, nil
			}
			return n.Value, nil
		case "!!float":
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f, nil
			}
			return n.Value, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("unsupported YAML node at line %d", n.Line)
}
