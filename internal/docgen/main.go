// Command docgen writes the READMEs' generated tables from the code, as Fabric's tfdoc writes a
// module's variables and outputs into its README: README.md's config keys from config.KeyDocs
// and stack outputs from program.OutputDocs, and bootstrap/README.md's config reference from
// ci.KeyDocs. Each table sits between two marker lines,
//
//	<!-- BEGIN config-keys ... -->
//	<!-- END config-keys -->
//
// and everything between them is replaced; the rest of each README is left as it is. Run it
// after changing a key, an output or their documentation:
//
//	go generate ./internal/docgen
//
// TestREADMETablesAreCurrent fails while a README differs from what this writes.
package main

//go:generate go run . -root ../..

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/markdown"
	"github.com/platform/private-run-api/internal/program"
)

// command is how a reader regenerates the tables.
const command = "go generate ./internal/docgen"

func main() {
	root := flag.String("root", "../..", "the repository root: where README.md and Pulumi.yaml are")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	namespace, err := projectName(root)
	if err != nil {
		return err
	}
	for _, file := range readmes {
		path := filepath.Join(root, filepath.FromSlash(file))
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out, err := rewrite(file, data, namespace)
		if err != nil {
			return err
		}
		if !bytes.Equal(out, data) {
			if err := os.WriteFile(path, out, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// projectName is the name in Pulumi.yaml: the namespace of the program's config keys.
func projectName(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	if err != nil {
		return "", err
	}
	var p struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(data, &p); err != nil || p.Name == "" {
		return "", fmt.Errorf("no project name in %s (%v)", filepath.Join(root, "Pulumi.yaml"), err)
	}
	return p.Name, nil
}

// readmes are the files with generated tables, by their path from the repository root.
var readmes = []string{"README.md", "bootstrap/README.md"}

// tables are the generated tables of a README by region name, each as its lines.
func tables(file, namespace string) map[string][]string {
	if file == "bootstrap/README.md" {
		keys := [][]string{{"key", "default", "rule"}}
		for _, d := range ci.KeyDocs {
			names := make([]string, len(d.Keys))
			for i, k := range d.Keys {
				names[i] = "`" + k + "`"
			}
			keys = append(keys, []string{strings.Join(names, ", "), d.Default, d.Rule})
		}
		return map[string][]string{"config-keys": table(keys)}
	}
	keys := [][]string{{"key", "meaning", "default"}}
	for _, d := range config.KeyDocs {
		key := "`" + d.Key + "`"
		if !strings.Contains(d.Key, ":") {
			key = "`" + namespace + ":" + d.Key + "`"
		}
		if d.Part != "" {
			key += " (" + d.Part + ")"
		}
		keys = append(keys, []string{key, d.Meaning, d.Default})
	}
	outputs := [][]string{{"output", "what"}}
	for _, d := range program.OutputDocs {
		outputs = append(outputs, []string{"`" + d.Name + "`", d.What})
	}
	return map[string][]string{"config-keys": table(keys), "outputs": table(outputs)}
}

// table renders rows as a Markdown table, the first row its header, with an empty line before
// and after it, so that the markers around it stay blocks of their own. A pipe in a cell is
// escaped.
func table(rows [][]string) []string {
	line := func(cells []string) string {
		esc := make([]string, len(cells))
		for i, c := range cells {
			esc[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		return "| " + strings.Join(esc, " | ") + " |"
	}
	out := []string{"", line(rows[0]), "|" + strings.Repeat("---|", len(rows[0]))}
	for _, r := range rows[1:] {
		out = append(out, line(r))
	}
	return append(out, "")
}

// rewrite returns the README file with every generated table as the code says.
func rewrite(file string, readme []byte, namespace string) ([]byte, error) {
	want := tables(file, namespace)
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		doc, err := markdown.Parse(file, readme)
		if err != nil {
			return nil, err
		}
		if readme, err = doc.Replace(name, want[name]); err != nil {
			return nil, err
		}
	}
	return readme, nil
}
