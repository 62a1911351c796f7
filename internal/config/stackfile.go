package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/encoding"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/internal/diag"
)

// Tools that run without the engine (the access report, the doctor, the tests) read a stack's
// config here, and must see exactly what `pulumi up` hands the program: the PULUMI_CONFIG the
// Go language host passes. The files are read with Pulumi's own loaders
// (sdk/go/common/workspace: the same YAML decoding, key namespacing and value rendering), and the
// one step the engine adds before it runs a program, applying Pulumi.yaml's `config:` defaults and
// values to keys the stack file leaves out, follows pkg/v3/workspace's mergeConfig, which lives in
// the CLI's module: importing it would pull the CLI's dependencies (codegen, plugin hosts) into
// every tool. tests/engineconfig_test.go holds the result to configs captured with the real CLI
// v3.259.0. What the engine can do and a file reader cannot (ESC environments, secrets) is
// refused, never silently left out.

// StackFile is a stack's config in the form the Pulumi engine hands it to the program: fully
// qualified keys, scalars as the engine renders them, structured values as JSON.
type StackFile struct {
	// Namespace is the project name from Pulumi.yaml.
	Namespace string
	// Values maps `<namespace>:<key>` to the raw value.
	Values map[string]string
	// Path names the stack file in messages.
	Path string
	// Files is the project's tree, rooted where Pulumi.yaml is, which caller files are read from;
	// nil when the stack was read without one.
	Files fs.FS
	// written records, by config path ("impersonators[1].expires"), where a value the engine
	// re-renders was written: an unquoted YAML timestamp or a !!binary scalar.
	written map[string]string
}

// CallersDir is the directory of caller files the stack names, "" for none.
func (s StackFile) CallersDir() string {
	v := s.Values[s.Namespace+":"+KeyCallersDir]
	var dir string
	if json.Unmarshal([]byte(v), &dir) == nil {
		return dir
	}
	return v
}

// Keys lists every key the stack sets.
func (s StackFile) Keys() []string { return slices.Sorted(maps.Keys(s.Values)) }

// Load decodes and validates the stack's config with the same code the program runs. A problem
// with a value the engine re-rendered from how the file writes it also names the file and line.
func (s StackFile) Load() (*Config, error) {
	cfg, err := LoadWithFiles(s.Namespace, MapSource(s.Values), s.Keys(), s.Files)
	var ce *diag.ConfigError
	if errors.As(err, &ce) && len(s.written) > 0 {
		for i, d := range ce.Diagnostics {
			if where, ok := s.written[d.Path]; ok {
				ce.Diagnostics[i].Fix += " (" + where + ")"
			}
		}
	}
	return cfg, err
}

// Tree is where a project's files are read from: a directory, or a git revision of one.
type Tree struct {
	FS fs.FS
	// Label prefixes file names in messages: a directory, or "origin/main (1a2b3c4d5e6f):".
	Label string
}

// Dir is the tree of the project in dir.
func Dir(dir string) Tree { return Tree{FS: os.DirFS(dir), Label: dir} }

// Name is how messages name a file of the tree.
func (t Tree) Name(file string) string {
	switch {
	case t.Label == "" || t.Label == ".":
		return file
	case strings.HasSuffix(t.Label, ":"):
		return t.Label + file
	}
	return path.Join(t.Label, file)
}

// ProjectFiles are the names the engine looks for a project file under, in its order.
var ProjectFiles = []string{"Pulumi.yaml", "Pulumi.yml"}

// StackFileName is the stack file of stack next to the project file projectFile.
func StackFileName(projectFile, stack string) string {
	return "Pulumi." + stack + path.Ext(projectFile)
}

// Project is a loaded project file, and the name it was read from.
type Project struct {
	*workspace.Project
	File string
}

// ReadProject loads the tree's project file with Pulumi's loader.
func ReadProject(t Tree) (Project, error) {
	for _, name := range ProjectFiles {
		data, err := fs.ReadFile(t.FS, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Project{}, fmt.Errorf("%s: %w", t.Name(name), err)
		}
		p, err := LoadProject(data, t.Name(name))
		if err != nil {
			return Project{}, err
		}
		p.File = name
		return p, nil
	}
	return Project{}, fmt.Errorf("%s: no Pulumi.yaml here: run from the project's root, or pass its directory", t.Label)
}

// LoadProject loads a project file's text with Pulumi's loader; file names it in messages.
func LoadProject(data []byte, file string) (Project, error) {
	p, err := workspace.LoadProjectBytes(stripBOM(data), file, encoding.YAML)
	if err != nil {
		return Project{}, err
	}
	return Project{Project: p, File: path.Base(file)}, nil
}

// StackPath is where the engine reads stack's file: beside the project file, or in its
// stackConfigDir.
func (p Project) StackPath(stack string) string {
	return path.Join(path.Clean("./"+p.StackConfigDir), StackFileName(p.File, stack))
}

// ReadStack reads the tree's project file and stack's file, and renders the stack's config as
// the engine hands it to the program.
func ReadStack(t Tree, stack string) (StackFile, error) {
	p, err := ReadProject(t)
	if err != nil {
		return StackFile{}, err
	}
	name := p.StackPath(stack)
	data, err := fs.ReadFile(t.FS, name)
	if err != nil {
		return StackFile{}, fmt.Errorf("%s: %w", t.Name(name), err)
	}
	sf, err := ParseStack(p, t.Name(name), data)
	sf.Files = t.FS
	return sf, err
}

// ParseStack renders one stack file's config as the engine would, with project p's config
// applied. path names the file in messages.
func ParseStack(p Project, path string, data []byte) (StackFile, error) {
	data = stripBOM(data)
	ps, err := workspace.LoadProjectStackBytes(nil, p.Project, data, path, encoding.YAML)
	if err != nil {
		return StackFile{}, fmt.Errorf("%s: not a stack file Pulumi can read: %w", path, err)
	}
	namespace := p.Name.String()
	var ps2 diag.List
	if env := ps.Environment; env != nil {
		ps2.Add(diag.Forbidden, diag.NewPath("environment"), strings.Join(env.Imports(), ", "),
			"imports Pulumi ESC environments, whose values this tool cannot see: the access report would leave out whatever they set", "write the values in "+path+" itself")
	}
	cfg := ps.Config
	for _, k := range sortedKeys(cfg.SecureKeys()) {
		ps2.Add(diag.Forbidden, diag.NewPath(k.String()), "", "is a secret (secure:), which this tool cannot decrypt and this program's config never needs", "write it in plain text: nothing in this program's config is secret")
	}
	if len(ps2) == 0 {
		if err := applyProjectConfig(p, cfg, &ps2); err != nil {
			return StackFile{}, fmt.Errorf("%s: applying %s's config: %w", path, p.File, err)
		}
	}
	if len(ps2) > 0 {
		return StackFile{}, fmt.Errorf("%s: %w", path, &diag.ConfigError{Diagnostics: ps2})
	}
	values, err := cfg.Decrypt(noSecrets)
	if err != nil {
		return StackFile{}, fmt.Errorf("%s: %w", path, err)
	}
	out := StackFile{Namespace: namespace, Values: make(map[string]string, len(values)), Path: path, written: map[string]string{}}
	for k, v := range values {
		out.Values[k.String()] = v
	}
	if n := EngineConfigSize(out.Values); n > MaxEngineConfig {
		return StackFile{}, fmt.Errorf("%s: %w", path, &diag.ConfigError{Diagnostics: diag.List{{
			Type: diag.TooLong, Path: "config", Value: fmt.Sprintf("%d bytes", n),
			Rule: fmt.Sprintf("is more config than the engine can hand the program: the Go language host passes all of it in one environment variable (PULUMI_CONFIG), and Linux refuses one over %d bytes, so `pulumi preview` and `up` fail before the program runs (\"argument list too long\")", MaxEngineConfig),
			Fix:  "move callers into files (" + KeyCallersDir + ": docs/config.md, \"Callers in files\"), which the program reads itself",
		}}})
	}
	rerendered(data, namespace, path, out.written)
	return out, nil
}

// applyProjectConfig does what the engine does with Pulumi.yaml's `config:` before it runs the
// program (pkg/v3/workspace mergeConfig, v3.259.0): every entry with a default or a value sets
// its key when the stack leaves the key out (the default when it has both); an entry with
// neither that the stack leaves out is an error when it is in the project's namespace; then a
// typed entry checks the merged value. Entries are taken in key order, with keys read as paths.
func applyProjectConfig(p Project, cfg pconfig.Map, ps *diag.List) error {
	namespace := p.Name.String()
	names := slices.Sorted(maps.Keys(p.Config))
	keys := make([]pconfig.Key, len(names))
	for i, name := range names {
		var err error
		if strings.Contains(name, ":") {
			keys[i], err = pconfig.ParseKey(name)
		} else {
			keys[i] = pconfig.MustMakeKey(namespace, name)
		}
		if err != nil {
			return err
		}
	}
	for i, name := range names {
		t, key := p.Config[name], keys[i]
		if t.Secret {
			ps.Add(diag.Forbidden, diag.NewPath(key.String()), "", p.File+" declares it secret, which this tool cannot decrypt and this program's config never needs", "drop `secret: true` from "+p.File)
			continue
		}
		_, found, err := cfg.Get(key, true)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		var raw any
		switch {
		case t.Default != nil:
			raw = t.Default
		case t.Value != nil:
			raw = t.Value
		case key.Namespace() == namespace:
			ps.Add(diag.Required, diag.NewPath(key.String()), "", p.File+" declares it with neither a value nor a default and the stack does not set it, so the engine refuses to run", "set it in the stack file, or give it a default in "+p.File)
			continue
		default:
			continue
		}
		v, err := projectValue(raw)
		if err != nil {
			return err
		}
		if err := cfg.Set(key, v, true); err != nil {
			return err
		}
	}
	for i, name := range names {
		t, key := p.Config[name], keys[i]
		if !t.IsExplicitlyTyped() {
			continue
		}
		v, found, err := cfg.Get(key, true)
		if err != nil || !found {
			continue // reported above, or not the project's to require
		}
		text, err := v.Value(noSecrets)
		if err != nil {
			return err
		}
		var content any = text
		if v.Object() {
			if err := json.Unmarshal([]byte(text), &content); err != nil {
				return err
			}
		}
		if !workspace.ValidateConfigValue(*t.Type, t.Items, content) {
			ps.Add(diag.Invalid, diag.NewPath(key.String()), short(text), "must be of type "+workspace.InferFullTypeName(*t.Type, t.Items)+", as "+p.File+" declares: the engine refuses to run otherwise", "write a value of that type")
		}
	}
	return nil
}

// projectValue is a Pulumi.yaml default or value as the engine turns it into a config value: a
// string, whole number or boolean as its text, anything else as JSON.
func projectValue(raw any) (pconfig.Value, error) {
	switch raw.(type) {
	case string, int, bool:
		return pconfig.NewValue(fmt.Sprintf("%v", raw)), nil
	}
	v, err := workspace.SimplifyMarshalledValue(raw)
	if err != nil {
		return pconfig.Value{}, err
	}
	text, err := canonicalJSON(v)
	if err != nil {
		return pconfig.Value{}, err
	}
	return pconfig.NewObjectValue(text), nil
}

// noSecrets decrypts nothing: secrets are refused before any value is read.
var noSecrets = pconfig.NewErrorCrypter("this tool cannot decrypt secrets")

func sortedKeys(ks []pconfig.Key) []pconfig.Key {
	slices.SortFunc(ks, func(a, b pconfig.Key) int { return strings.Compare(a.String(), b.String()) })
	return ks
}

func stripBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }

// rerendered records where the stack file writes a scalar the engine hands on in another form:
// an unquoted timestamp (2027-01-31T00:00:00Z arrives as "2027-01-31 00:00:00 +0000 UTC") or
// !!binary (arrives decoded). Keys are config paths as diagnostics name them, without the
// project's namespace.
func rerendered(data []byte, namespace, file string, out map[string]string) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "config" || root.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		m := root.Content[i+1]
		for j := 0; j+1 < len(m.Content); j += 2 {
			key := strings.TrimPrefix(m.Content[j].Value, namespace+":")
			walkScalars(m.Content[j+1], key, 0, func(p string, n *yaml.Node) {
				switch n.ShortTag() {
				case "!!timestamp":
					out[p] = fmt.Sprintf("%s:%d writes it as an unquoted YAML timestamp, which the engine passes on as Go's rendering of the time: put it in quotes", file, n.Line)
				case "!!binary":
					out[p] = fmt.Sprintf("%s:%d writes it as !!binary, which the engine passes on decoded", file, n.Line)
				}
			})
		}
	}
}

// walkScalars calls f on every scalar under n with its config path. Aliases are not followed:
// they point at values that have a path of their own.
func walkScalars(n *yaml.Node, p string, depth int, f func(string, *yaml.Node)) {
	if depth > maxYAMLDepth {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		f(p, n)
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkScalars(c, p+"["+strconv.Itoa(i)+"]", depth+1, f)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkScalars(n.Content[i+1], p+"."+n.Content[i].Value, depth+1, f)
		}
	}
}

// MaxEngineConfig is the longest environment string Linux passes to a program (MAX_ARG_STRLEN,
// 32 pages of 4 KiB), counting its name, "=" and the closing NUL.
const MaxEngineConfig = 128 << 10

// EngineConfigSize is the length of the PULUMI_CONFIG environment string the Go language host
// builds from a stack's config (json.Marshal of the key-value map, pulumi-language-go v3.259.0
// constructConfig), with its name and closing NUL, as Linux measures it against MaxEngineConfig.
func EngineConfigSize(values map[string]string) int {
	data, _ := json.Marshal(values)
	return len("PULUMI_CONFIG=") + len(data) + 1
}

// maxYAMLDepth bounds the walk over a stack file that a pull request may have written.
const maxYAMLDepth = 64
