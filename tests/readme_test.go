package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/linediff"
	"github.com/platform/private-run-api/internal/plan"
)

// The README executes, as Cloud Foundation Fabric's tftest makes a module's README do: every
// YAML example deploys, every sample of output is what the code prints, and the tables of
// config keys, stack outputs and packages are checked against the code and the tree. A README
// that drifts from the code fails here, at the line that drifted.

// readmePath is README.md from this package's directory.
const readmePath = "../README.md"

// mdBlock is one fenced block of the README.
type mdBlock struct {
	lang string
	// line is the README line (1-based) of the block's first content line.
	line int
	// text is the content, with the fence's own indentation (a block inside a list item) taken
	// off, each line ending in "\n".
	text string
}

// readmeLines is README.md, a string per line.
func readmeLines(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(raw), "\n")
}

// readmeBlocks returns every fenced block of the README, in order.
func readmeBlocks(t *testing.T) []mdBlock {
	t.Helper()
	var blocks []mdBlock
	var cur *mdBlock
	var body strings.Builder
	indent := ""
	for i, line := range readmeLines(t) {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &mdBlock{lang: strings.TrimPrefix(trimmed, "```"), line: i + 2}
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			body.Reset()
		case cur != nil && trimmed == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(strings.TrimPrefix(line, indent) + "\n")
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a fenced block is never closed", cur.line-1)
	}
	return blocks
}

// readmeYAML returns the README's yaml blocks with the line each starts on.
func readmeYAML(t *testing.T) map[int]string {
	t.Helper()
	blocks := map[int]string{}
	for _, b := range readmeBlocks(t) {
		if b.lang == "yaml" {
			blocks[b.line] = b.text
		}
	}
	if len(blocks) == 0 {
		t.Fatal("no yaml block found in README.md")
	}
	return blocks
}

// callersFragment is a README yaml block that shows entries of private-run-api:callers, as a
// list of caller entries.
func callersFragment(t *testing.T, line int, text string) []any {
	t.Helper()
	var doc map[string][]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("README.md:%d: %v", line, err)
	}
	return doc["private-run-api:callers"]
}

// TestREADMEExamples runs every YAML example of the README through the program, as Fabric's
// tftest does for its README: a whole stack config (`config:`) must deploy under mocks in preview
// and in update mode; a fragment of the callers list must deploy when added to the dev stack.
func TestREADMEExamples(t *testing.T) {
	callerFile := regexp.MustCompile(`^# (callers/[a-z][-a-z0-9]*\.yaml)\n`)
	for line, text := range readmeYAML(t) {
		var cfg map[string]string
		root := ""
		switch trimmed := strings.TrimLeft(text, " "); {
		case callerFile.MatchString(text):
			// A caller file: the example stack with callersDir, and this file in it.
			root = t.TempDir()
			file := filepath.Join(root, callerFile.FindStringSubmatch(text)[1])
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg = maps.Clone(exampleStack(t))
			cfg[project+":callersDir"] = "callers"
		case strings.HasPrefix(text, "config:"):
			cfg = stackYAML(t, text)
		case strings.HasPrefix(trimmed, "private-run-api:callers:"):
			extra := callersFragment(t, line, text)
			cfg = editList(t, exampleStack(t), "private-run-api:callers", func(cs []any) []any { return append(cs, extra...) })
		case strings.HasPrefix(trimmed, "- name:"):
			// A caller entry shown on its own; one that names an existing account by email.
			var entries []any
			if err := yaml.Unmarshal([]byte(text), &entries); err != nil {
				t.Fatalf("README.md:%d: %v", line, err)
			}
			cfg = editList(t, exampleStack(t), "private-run-api:callers", func(cs []any) []any {
				out := []any{}
				for _, c := range cs { // the dev stack already has this caller: replace it
					if c.(map[string]any)["name"] != entries[0].(map[string]any)["name"] {
						out = append(out, c)
					}
				}
				return append(out, entries...)
			})
		default:
			t.Errorf("README.md:%d: a yaml block this test does not know how to run; teach it, so that the example stays true:\n%s", line, text)
			continue
		}
		for _, dry := range []bool{false, true} {
			r := run(t, cfg, runOpts{dryRun: dry, root: root})
			if r.Err != nil {
				t.Errorf("README.md:%d (preview=%v): the example does not deploy: %v", line, dry, r.Err)
			}
		}
	}
}

// splitLines splits text into lines, without the empty string after a final newline.
func splitLines(text string) []string {
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// checkSample fails t unless the README block b is exactly got, or, when b ends in a "..."
// line, unless it is the start of got. The message names the README line and shows the diff.
func checkSample(t *testing.T, b mdBlock, what, got string) {
	t.Helper()
	want := splitLines(b.text)
	gotLines := splitLines(got)
	if want[len(want)-1] == "..." {
		want = want[:len(want)-1]
		if len(gotLines) > len(want) {
			gotLines = gotLines[:len(want)]
		}
	}
	if !slices.Equal(want, gotLines) {
		t.Errorf("README.md:%d: %s is not what the code prints (-README.md, +real output):\n%s", b.line, what, linediff.Show(b.line, want, gotLines))
	}
}

// readmeOutputSamples are the README's samples of output this package produces, by how each
// block starts. The doctor's sample starts with its command line, "$ go run ./cmd/doctor", and is
// produced by cmd/doctor/readme_test.go, which needs the command's unexported run.
var readmeOutputSamples = map[string]func(t *testing.T, b mdBlock){
	"Access changes in stack dev": readmeAccessDiff,
	"Access report for stack dev": readmeAccessReport,
	"invalid stack config":        readmeInvalidConfig,
	"$ go run ./cmd/doctor ":      nil,
	// -live's sample reads fake Google endpoints: access/live's TestREADMELiveSample produces it.
	"Live access of stack dev": nil,
}

// TestREADMEOutputs checks every sample of output in the README (its ```text blocks) against
// what the code really prints. A text block no test produces is an error: a sample nobody runs
// is how READMEs go stale.
func TestREADMEOutputs(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range readmeBlocks(t) {
		switch b.lang {
		case "text", "console", "output", "":
		default:
			continue // yaml runs in TestREADMEExamples; sh, go and mermaid are input, not output
		}
		var check func(*testing.T, mdBlock)
		found := false
		for prefix, f := range readmeOutputSamples {
			if strings.HasPrefix(b.text, prefix) {
				check, found = f, true
				seen[prefix] = true
			}
		}
		switch {
		case !found:
			t.Errorf("README.md:%d: a ```%s block no test produces; add it to readmeOutputSamples (or, if it is a command, fence it as ```sh):\n%s", b.line, b.lang, b.text)
		case check != nil:
			t.Run(fmt.Sprintf("README.md:%d", b.line), func(t *testing.T) { check(t, b) })
		}
	}
	for prefix, f := range readmeOutputSamples {
		if f != nil && !seen[prefix] {
			t.Errorf("README.md: no ```text block starts with %q any more; remove it from readmeOutputSamples", prefix)
		}
	}
}

// readmeBaseLabel is the base's label in the diff sample. The commit depends on the repository's
// history, so the test checks that cmd/access labels a git base this way (revision, then the
// commit's first 12 hex digits) and prints the sample's commit in its place.
const readmeBaseLabel = "origin/main (03a8113f332b)"

var gitBaseLabel = regexp.MustCompile(`^origin/main \([0-9a-f]{12}\)$`)

// readmeGitBase reads the dev stack as `-base origin/main` does: from the origin/main of a
// repository that holds this one's Pulumi.yaml and Pulumi.dev.yaml.
func readmeGitBase(t *testing.T) config.StackFile {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi." + stackName + ".yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "stacks", "dev", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "dev stack"}, {"update-ref", "refs/remotes/origin/main", "HEAD"},
	} {
		// No user or system config: the test must not depend on the machine's git setup.
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	b, err := access.ReadBase(dir, stackName, "origin/main")
	if err != nil {
		t.Fatal(err)
	}
	if b.File == nil || !gitBaseLabel.MatchString(b.Label) || !gitBaseLabel.MatchString(readmeBaseLabel) {
		t.Fatalf("cmd/access labels the base %q (file read: %v); the sample's label %q must differ from it only in the commit", b.Label, b.File != nil, readmeBaseLabel)
	}
	return *b.File
}

// readmeAccessDiff produces the access-report diff of onboarding caller orders-audit, as
// `bin/access -stack dev -base origin/main` prints it from the repository root: origin/main
// holds the dev stack, and the working copy adds the README's "Add the entry" block to it.
func readmeAccessDiff(t *testing.T, b mdBlock) {
	var extra []any
	for line, text := range readmeYAML(t) {
		if strings.HasPrefix(strings.TrimLeft(text, " "), "private-run-api:callers:") && strings.Contains(text, "name: orders-audit") {
			if extra != nil {
				t.Fatalf("README.md:%d: a second yaml block adds orders-audit; the diff sample must come from one", line)
			}
			extra = callersFragment(t, line, text)
		}
	}
	if extra == nil {
		t.Fatalf("README.md:%d: the diff sample onboards orders-audit, but no yaml block adds it", b.line)
	}
	base := readmeGitBase(t)
	head := config.StackFile{Namespace: project, Path: "Pulumi." + stackName + ".yaml", Values: editList(t, exampleStack(t), "private-run-api:callers", func(cs []any) []any { return append(cs, extra...) })}
	headLabel := head.Path
	basePlan, _, err := plan.Load(base, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	headPlan, _, err := plan.Load(head, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	d := access.Compare(access.Build(stackName, basePlan, fixedNow), access.Build(stackName, headPlan, fixedNow), readmeBaseLabel, headLabel)
	var out strings.Builder
	if err := access.WriteDiff(&out, d, access.Format("text")); err != nil {
		t.Fatal(err)
	}
	checkSample(t, b, "the access diff for onboarding orders-audit", out.String())
}

// readmeAccessReport produces the start of `bin/access -stack dev` at the time the sample names.
func readmeAccessReport(t *testing.T, b mdBlock) {
	p, _, err := plan.Load(config.StackFile{Namespace: project, Values: exampleStack(t)}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := access.WriteReport(&out, access.Build(stackName, p, fixedNow), access.Format("text")); err != nil {
		t.Fatal(err)
	}
	checkSample(t, b, "the start of the dev stack's access report", out.String())
}

// readmeInvalidConfig loads the dev stack with the sample's two problems (the third caller
// renamed Batch_Job, allUsers as the first default impersonator) and runs the program on it.
// The engine prints the program's error after its own "program failed:" line, so the sample is
// config.Load's message; the program must fail with that same message and register nothing.
func readmeInvalidConfig(t *testing.T, b mdBlock) {
	cfg := editList(t, exampleStack(t), "private-run-api:callers", func(cs []any) []any {
		cs[2].(map[string]any)["name"] = "Batch_Job"
		return cs
	})
	cfg = editList(t, cfg, "private-run-api:impersonators", func(ms []any) []any {
		ms[0] = "allUsers"
		return ms
	})
	_, err := config.Load(project, config.MapSource(cfg), slices.Sorted(maps.Keys(cfg)))
	if err == nil {
		t.Fatalf("README.md:%d: config.Load accepted the config with the sample's problems", b.line)
	}
	checkSample(t, b, "the problem list", err.Error())
	for _, dry := range []bool{true, false} {
		r := run(t, cfg, runOpts{dryRun: dry})
		if r.Err == nil || !strings.Contains(r.Err.Error(), err.Error()) {
			t.Errorf("README.md:%d (preview=%v): the program fails with %v, not with config.Load's problem list", b.line, dry, r.Err)
		}
		if len(r.Resources) > 0 {
			t.Errorf("README.md:%d (preview=%v): the sample says nothing was deployed, but the program registered:\n%s", b.line, dry, r.Listing())
		}
	}
}

// readmeSection returns the lines of the "## title" section (up to the next "## " heading) and
// the README line number of its first line.
func readmeSection(t *testing.T, title string) ([]string, int) {
	t.Helper()
	lines := readmeLines(t)
	start := -1
	for i, l := range lines {
		switch {
		case l == "## "+title:
			start = i
		case start >= 0 && strings.HasPrefix(l, "## "):
			return lines[start:i], start + 1
		}
	}
	if start < 0 {
		t.Fatalf("README.md: no section %q", "## "+title)
	}
	return lines[start:], start + 1
}

// mdRow is one row of a Markdown table.
type mdRow struct {
	line  int
	cells []string
}

// mdTable returns the rows of the first table in lines whose header is header (e.g.
// "| key | meaning | default |"); first is the README line of lines[0].
func mdTable(t *testing.T, lines []string, first int, header string) []mdRow {
	t.Helper()
	var rows []mdRow
	in := false
	for i, l := range lines {
		switch {
		case !in && strings.TrimSpace(l) == header:
			in = true
		case in && strings.HasPrefix(strings.ReplaceAll(l, " ", ""), "|---"):
		case in && strings.HasPrefix(l, "|"):
			// A cell may hold an escaped pipe (`-base FILE\|REV`).
			cells := strings.Split(strings.ReplaceAll(strings.Trim(l, "|"), `\|`, "\x00"), "|")
			for k := range cells {
				cells[k] = strings.ReplaceAll(strings.TrimSpace(cells[k]), "\x00", "|")
			}
			rows = append(rows, mdRow{line: first + i, cells: cells})
		case in:
			return rows
		}
	}
	if !in {
		t.Fatalf("README.md:%d: no table with header %s in this section", first, header)
	}
	return rows
}

var backticked = regexp.MustCompile("`([^`]+)`")

// codeSpans lists the `code` spans of a Markdown text.
func codeSpans(s string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

var word = regexp.MustCompile(`[A-Za-z][A-Za-z0-9]*`)

// codeWords lists the words inside the `code` spans of a Markdown text, so that a span such as
// `{member, expires}` documents both keys.
func codeWords(s string) []string {
	var out []string
	for _, span := range codeSpans(s) {
		out = append(out, word.FindAllString(span, -1)...)
	}
	return out
}

// jsonKeys lists the config keys of a struct: its fields' json names.
func jsonKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// yamlKeysAt lists the keys of the mapping at path in a decoded YAML document; a path element
// "[]" stands for every element of a list.
func yamlKeysAt(v any, path ...string) []string {
	if len(path) == 0 {
		m, _ := v.(map[string]any)
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return out
	}
	if path[0] == "[]" {
		var out []string
		list, _ := v.([]any)
		for _, e := range list {
			out = append(out, yamlKeysAt(e, path[1:]...)...)
		}
		return out
	}
	m, _ := v.(map[string]any)
	return yamlKeysAt(m[path[0]], path[1:]...)
}

// TestREADMEConfigTable checks the "Stack config" section against package config: the table has
// a row for each key the program reads and none for a key it does not, and every field of each
// config block is documented where a reader of that block looks: the block's table row, the
// example of "Running the service", or the bullet about it there.
func TestREADMEConfigTable(t *testing.T) {
	lines, first := readmeSection(t, "Stack config")
	rows := mdTable(t, lines, first, "| key | meaning | default |")

	want := map[string]bool{config.KeyGCPProject: true, config.KeyGCPRegion: true}
	for _, k := range config.Keys {
		want[project+":"+k] = true
	}
	// Each key's documentation: its rows' code spans.
	documented := map[string][]string{}
	for _, r := range rows {
		spans := codeSpans(r.cells[0])
		if len(spans) == 0 {
			t.Errorf("README.md:%d: the row names no key in `code`", r.line)
			continue
		}
		key := spans[0]
		if !want[key] {
			t.Errorf("README.md:%d: row %q names a key the program does not read (it reads %s)", r.line, key, strings.Join(slices.Sorted(maps.Keys(want)), ", "))
		}
		documented[key] = append(documented[key], codeWords(strings.Join(r.cells[1:], " "))...)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := documented[k]; !ok {
			t.Errorf("README.md:%d: the config table has no row for %s, which the program reads", first, k)
		}
	}

	// The "Running the service" example (the subsection's first yaml block) and its bullets
	// (**Secrets**, **VPC**, ...).
	sub := slices.Index(lines, "### Running the service")
	if sub < 0 {
		t.Fatalf("README.md:%d: no \"### Running the service\" in this section", first)
	}
	var example mdBlock
	for _, b := range readmeBlocks(t) {
		if b.lang == "yaml" && b.line > first+sub && b.line < first+len(lines) {
			example = b
			break
		}
	}
	if example.text == "" {
		t.Fatalf("README.md:%d: \"Running the service\" has no yaml example", first+sub)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(example.text), &doc); err != nil {
		t.Fatalf("README.md:%d: %v", example.line, err)
	}
	service := doc["config"].(map[string]any)[project+":service"]
	bullets := map[string][]string{}
	for _, l := range strings.Split(strings.Join(lines, "\n"), "\n- ") {
		if rest, ok := strings.CutPrefix(l, "**"); ok {
			label, text, _ := strings.Cut(rest, "**")
			bullets[label] = codeWords(text)
		}
	}

	blocks := []struct {
		typ any
		// where a reader looks for the block's fields
		where  string
		spans  []string
		inYAML []string
	}{
		{config.Service{}, "the private-run-api:service rows", documented[project+":service"], yamlKeysAt(service)},
		{config.Caller{}, "the private-run-api:callers row", documented[project+":callers"], nil},
		{config.Impersonator{}, "the private-run-api:impersonators row", documented[project+":impersonators"], nil},
		{config.AuthzGuard{}, "the private-run-api:authz row", documented[project+":authz"], nil},
		{config.Secret{}, `the "Running the service" example's secrets or the **Secrets** bullet`, bullets["Secrets"], yamlKeysAt(service, "secrets", "[]")},
		{config.VPC{}, `the "Running the service" example's vpc or the **VPC** bullet`, bullets["VPC"], yamlKeysAt(service, "vpc")},
		{config.Probe{}, `the "Running the service" example's probes or the **Probes** bullet`, bullets["Probes"],
			append(yamlKeysAt(service, "startupProbe"), yamlKeysAt(service, "livenessProbe")...)},
	}
	for _, bl := range blocks {
		typ := reflect.TypeOf(bl.typ)
		for _, k := range jsonKeys(typ) {
			if !slices.Contains(bl.spans, k) && !slices.Contains(bl.inYAML, k) {
				t.Errorf("README.md:%d: config.%s's key %q is not documented in %s", first, typ.Name(), k, bl.where)
			}
		}
	}
}

// TestREADMEOutputsTable checks the "Stack outputs" table against what the program exports: the
// dev stack, and the dev stack with the authz guard switched on explicitly (its outputs exist
// only then), so that the table stays right if the dev stack ever turns the guard off. The
// callers row's per-caller fields are checked against the callers output too.
func TestREADMEOutputsTable(t *testing.T) {
	lines, first := readmeSection(t, "Stack outputs")
	rows := mdTable(t, lines, first, "| output | what |")

	dev := exampleStack(t)
	var authz map[string]any
	if err := json.Unmarshal([]byte(dev[project+":authz"]), &authz); err != nil {
		t.Fatal(err)
	}
	authz["enabled"] = true
	guardOn := map[string]string{}
	for k, v := range dev {
		guardOn[k] = v
	}
	raw, _ := json.Marshal(authz)
	guardOn[project+":authz"] = string(raw)

	exported := map[string]bool{}
	callerFields := map[string]bool{}
	for _, cfg := range []map[string]string{dev, guardOn} {
		r := mustRun(t, cfg, runOpts{})
		for k := range r.Outputs {
			exported[k] = true
		}
		callers, ok := r.Outputs["callers"].(map[string]any)
		if !ok {
			t.Fatalf("the callers output is %T, not a map by caller", r.Outputs["callers"])
		}
		for _, c := range callers {
			for f := range c.(map[string]any) {
				callerFields[f] = true
			}
		}
	}
	if !exported["authzBucket"] || !exported["authzRole"] {
		t.Fatalf("with the guard on the program exports %v: the guard's outputs are missing, so this test would not see them", slices.Sorted(maps.Keys(exported)))
	}

	listed := map[string]bool{}
	for _, r := range rows {
		names := codeSpans(r.cells[0])
		if len(names) == 0 {
			t.Errorf("README.md:%d: the row names no output in `code`", r.line)
		}
		for _, n := range names {
			listed[n] = true
			if !exported[n] {
				t.Errorf("README.md:%d: output %q is not exported by the program (it exports %s)", r.line, n, strings.Join(slices.Sorted(maps.Keys(exported)), ", "))
			}
		}
		if slices.Equal(names, []string{"callers"}) {
			_, fields, ok := strings.Cut(r.cells[1], "per caller:")
			if !ok {
				t.Errorf("README.md:%d: the callers row does not list the fields \"per caller:\"", r.line)
				continue
			}
			spans := codeSpans(fields)
			for _, f := range slices.Sorted(maps.Keys(callerFields)) {
				if !slices.Contains(spans, f) {
					t.Errorf("README.md:%d: each caller in the callers output has %q, which the row does not list", r.line, f)
				}
			}
			for _, f := range spans {
				if !callerFields[f] {
					t.Errorf("README.md:%d: the callers row lists %q, which no caller in the callers output has", r.line, f)
				}
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(exported)) {
		if !listed[n] {
			t.Errorf("README.md:%d: the program exports %q, which the outputs table does not list", first, n)
		}
	}
}
