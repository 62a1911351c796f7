package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/internal/diag"
)

// Callers in files: with `callersDir: callers` in the stack config, every callers/<name>.yaml
// declares one caller, in the same shape as an entry of the inline `callers` list. The files are
// read by the program itself (the engine passes it only the stack config, and that config must
// stay under the size the engine can pass: MaxEngineConfig), relative to the project root, and by
// the tools from the same tree they read the stack file from (a directory, or a git revision):
// the same code, so the program and the access report cannot disagree on who the callers are.

// Limits on what the caller files may hold: they come from pull requests.
const (
	// MaxCallerFiles is more than any policy can hold (an allow policy takes 1,500 principals).
	MaxCallerFiles = 5000
	// MaxCallerFileSize is far more than one caller needs.
	MaxCallerFileSize = 64 << 10
)

// CallerFileExt is the extension of a caller file.
const CallerFileExt = ".yaml"

// CallerFile is the file of the caller name in dir.
func CallerFile(dir, name string) string { return path.Join(dir, name+CallerFileExt) }

// readCallerFiles reads every caller file of dir in files, in name order, each problem reported
// with the file's name and the path in it. A caller's name defaults to its file's; a name written
// in the file must be the file's.
func readCallerFiles(ps *problems, broken reported, files fs.FS, dir string) []Caller {
	key := diag.NewPath(KeyCallersDir)
	switch {
	case strings.TrimSpace(dir) == "":
		ps.Add(diag.Required, key, "", "is empty", `name the directory of caller files, relative to Pulumi.yaml, e.g. "callers"`)
		return nil
	case path.IsAbs(dir) || strings.HasPrefix(dir, `\`) || strings.Contains(dir, ":"):
		ps.Add(diag.Forbidden, key, dir, "is an absolute path: the program reads caller files from the project's own tree only", `write it relative to Pulumi.yaml, e.g. "callers"`)
		return nil
	case !fs.ValidPath(dir) || dir == ".":
		ps.Add(diag.Forbidden, key, dir, "is not a directory inside the project (no \"..\", \".\", empty or trailing segments)", `write a clean path relative to Pulumi.yaml, e.g. "callers"`)
		return nil
	case files == nil:
		ps.Add(diag.Forbidden, key, dir, "names caller files, and this reader was given no project tree to read them from", "read the stack with config.ReadStack, which reads the files beside the stack file")
		return nil
	}
	// No segment of the directory may be a symlink: the tree read must be the tree reviewed.
	for p := dir; p != "."; p = path.Dir(p) {
		if fi, err := fs.Lstat(files, p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			ps.Add(diag.Forbidden, key, dir, p+" is a symbolic link: a reviewer reads the link, not what it points to", "make it a directory of the project")
			return nil
		}
	}
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		why := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			why = "no such directory"
		}
		ps.Add(diag.Invalid, key, dir, "cannot be read: "+why, "create the directory beside Pulumi.yaml, with one <caller name>.yaml per caller")
		return nil
	}
	// One result per entry, merged in name order: the files are read and decoded in parallel (a
	// thousand callers are a thousand reads and YAML parses), their problems listed as if one
	// after another.
	type result struct {
		ps     problems
		broken reported
		caller *Caller
	}
	results := make([]result, len(entries))
	var jobs []int
	for i, e := range entries {
		name := e.Name()
		fp := diag.InFile(path.Join(dir, name))
		ext := path.Ext(name)
		r := &results[i]
		switch {
		case strings.HasPrefix(name, "."):
			continue // .gitkeep and the like
		case e.Type()&fs.ModeSymlink != 0:
			r.ps.Add(diag.Forbidden, fp, "", "is a symbolic link: a reviewer reads the link, not the file it points to", "put the caller's file itself here")
			continue
		case e.IsDir():
			r.ps.Add(diag.Forbidden, fp, "", "is a directory: caller files are read from "+dir+" alone", "move its files up into "+dir)
			continue
		case ext != CallerFileExt && (strings.EqualFold(ext, ".yaml") || strings.EqualFold(ext, ".yml")):
			r.ps.Add(diag.Invalid, fp, "", "does not end in "+CallerFileExt+", so it would be read as no caller at all", "rename it to "+strings.TrimSuffix(name, ext)+CallerFileExt)
			continue
		case ext != CallerFileExt:
			continue // a README beside the callers
		}
		if len(jobs) == MaxCallerFiles {
			ps.Add(diag.TooMany, key, dir, fmt.Sprintf("holds more than %d caller files", MaxCallerFiles), "split the callers across services")
			return nil
		}
		jobs = append(jobs, i)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for i := range next {
				r := &results[i]
				r.broken = reported{}
				c := readCallerFile(&r.ps, r.broken, files, dir, entries[i].Name())
				r.caller = &c
			}
		})
	}
	for _, i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []Caller
	for _, r := range results {
		*ps = append(*ps, r.ps...)
		maps.Copy(broken, r.broken)
		if r.caller != nil {
			out = append(out, *r.caller)
		}
	}
	return out
}

// readCallerFile reads and decodes one caller file of dir.
func readCallerFile(ps *problems, broken reported, files fs.FS, dir, name string) Caller {
	file := path.Join(dir, name)
	fp := diag.InFile(file)
	stem := strings.TrimSuffix(name, CallerFileExt)
	data, err := readBounded(files, file)
	if err != nil {
		ps.Add(diag.Invalid, fp, "", "cannot be read: "+err.Error(), "make it a readable YAML file of at most 64 KiB")
		broken[fp.String()] = true
		return Caller{Name: stem, path: fp}
	}
	raw, err := yamlToJSON(data)
	if err != nil {
		ps.Add(diag.Invalid, fp, "", err.Error(), "write one caller as a YAML mapping, as an entry of callers is written")
		broken[fp.String()] = true
		return Caller{Name: stem, path: fp}
	}
	c := decodeCaller(ps, broken, fp, raw)
	switch {
	case c.Name == "":
		c.Name = stem
	case c.Name != stem:
		ps.Add(diag.Invalid, fp.Child("name"), c.Name, "is not the file's name: the file of a caller is <name>.yaml, so that two files can never declare one caller", fmt.Sprintf("rename the file to %s, or drop name: (it defaults to %q)", CallerFile(dir, c.Name), stem))
	}
	c.path = fp
	return c
}

// readBounded reads a regular file of at most MaxCallerFileSize bytes, with one open.
func readBounded(files fs.FS, name string) ([]byte, error) {
	f, err := files.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxCallerFileSize+1))
	if err == nil && len(data) > MaxCallerFileSize {
		err = fmt.Errorf("more than %d bytes", MaxCallerFileSize)
	}
	return data, err
}

// Limits on what one caller file may expand to: aliases can nest and recurse.
const (
	maxFileNodes = 10_000
	maxFileDepth = 32
)

// yamlToJSON converts one caller file to the JSON its entry would be in the stack config, keeping
// scalars as written: no engine stands between the file and the program, so an unquoted
// timestamp is the text the file holds.
func yamlToJSON(data []byte) (json.RawMessage, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("is not YAML: %v", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("is empty")
	}
	w := &yamlWalk{budget: maxFileNodes}
	v, err := w.value(doc.Content[0], 0)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("is not a mapping")
	}
	text, err := canonicalJSON(v)
	return json.RawMessage(text), err
}

type yamlWalk struct{ budget int }

func (w *yamlWalk) value(n *yaml.Node, depth int) (any, error) {
	w.budget--
	if w.budget < 0 || depth > maxFileDepth {
		return nil, fmt.Errorf("nests too deep or expands too far at line %d (a recursive alias?)", n.Line)
	}
	switch n.Kind {
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
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("has a key that is not a string at line %d", k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("sets %q twice (line %d)", k.Value, k.Line)
			}
			v, err := w.value(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			return strconv.ParseBool(n.Value)
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				return i, nil
			}
		case "!!float":
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f, nil
			}
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("holds an unsupported YAML node at line %d", n.Line)
}
