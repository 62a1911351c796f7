package tests

import (
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/markdown"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/program"
	"github.com/platform/private-run-api/internal/testdir"
)

// The docs execute, as Cloud Foundation Fabric's tftest makes a module's README do: every YAML
// example deploys, every sample of output is what the code prints, the documentation of config
// keys and outputs is held to the code, and every link lands. The tests read README.md and every
// page under docs/ as one set, and find a block by what it holds and a section by its title, so
// that text may move between pages. A doc that drifts from the code fails here, at the line that
// drifted.

// docsRoot is the repository root from this package's directory.
const docsRoot = ".."

// projectDocs are README.md and the pages under docs/.
func projectDocs(t *testing.T) markdown.Set {
	t.Helper()
	set, err := markdown.Project(docsRoot)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// docsFences are the docs' fenced blocks in language lang ("" for all of them).
func docsFences(t *testing.T, lang string) []markdown.Fence {
	t.Helper()
	var out []markdown.Fence
	for _, f := range projectDocs(t).Fences() {
		if lang == "" || f.Lang == lang {
			out = append(out, f)
		}
	}
	return out
}

// docsYAML are the docs' yaml blocks.
func docsYAML(t *testing.T) []markdown.Fence {
	t.Helper()
	blocks := docsFences(t, "yaml")
	if len(blocks) == 0 {
		t.Fatal("no yaml block found in the docs")
	}
	return blocks
}

// isCallersFragment says whether a yaml block shows entries of private-run-api:callers.
func isCallersFragment(f markdown.Fence) bool {
	return strings.HasPrefix(strings.TrimLeft(f.Text, " "), "private-run-api:callers:")
}

// callersFragment is a yaml block that shows entries of private-run-api:callers, as a list of
// caller entries.
func callersFragment(t *testing.T, f markdown.Fence) []any {
	t.Helper()
	var doc map[string][]any
	if err := yaml.Unmarshal([]byte(f.Text), &doc); err != nil {
		t.Fatalf("%s: %v", f.Pos(), err)
	}
	return doc["private-run-api:callers"]
}

// TestDocsExamples runs every YAML example of the docs through the program, as Fabric's tftest
// does for its README: a whole stack config (`config:`) must deploy under mocks in preview and in
// update mode; a fragment of the callers list, a caller entry or a caller file must deploy when
// added to the dev stack.
func TestDocsExamples(t *testing.T) {
	callerFile := regexp.MustCompile(`^# (callers/[a-z][-a-z0-9]*\.yaml)\n`)
	for _, f := range docsYAML(t) {
		var cfg map[string]string
		root := ""
		switch trimmed := strings.TrimLeft(f.Text, " "); {
		case callerFile.MatchString(f.Text):
			// A caller file: the example stack with callersDir, and this file in it.
			root = t.TempDir()
			file := filepath.Join(root, callerFile.FindStringSubmatch(f.Text)[1])
			testdir.Write(t, file, f.Text)
			cfg = maps.Clone(exampleStack(t))
			cfg[project+":callersDir"] = "callers"
		case strings.HasPrefix(f.Text, "config:"):
			cfg = stackYAML(t, f.Text)
		case isCallersFragment(f):
			extra := callersFragment(t, f)
			cfg = editList(t, exampleStack(t), "private-run-api:callers", func(cs []any) []any { return append(cs, extra...) })
		case strings.HasPrefix(trimmed, "- name:"):
			// A caller entry shown on its own; one that names an existing account by email.
			var entries []any
			if err := yaml.Unmarshal([]byte(f.Text), &entries); err != nil {
				t.Fatalf("%s: %v", f.Pos(), err)
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
			t.Errorf("%s: a yaml block this test does not know how to run; teach it, so that the example stays true:\n%s", f.Pos(), f.Text)
			continue
		}
		for _, dry := range []bool{false, true} {
			r := run(t, cfg, runOpts{dryRun: dry, root: root})
			if r.Err != nil {
				t.Errorf("%s (preview=%v): the example does not deploy: %v", f.Pos(), dry, r.Err)
			}
		}
	}
}

// checkSample fails t unless the block f is exactly got, or, when f ends in a "..." line, the
// start of it. The message names the doc's line and shows the diff.
func checkSample(t *testing.T, f markdown.Fence, what, got string) {
	t.Helper()
	if diff := f.Compare(got); diff != "" {
		t.Errorf("%s: %s is not what the code prints (-%s, +real output):\n%s", f.Pos(), what, f.Doc.Name, diff)
	}
}

// docsOutputSamples are the docs' samples of output this package produces, by how each block
// starts. The doctor's sample starts with its command line, "$ go run ./cmd/doctor", and is
// produced by cmd/doctor/docs_test.go, which needs the command's unexported run.
var docsOutputSamples = map[string]func(t *testing.T, f markdown.Fence){
	"Access changes in stack dev": docsAccessDiff,
	"Access report for stack dev": docsAccessReport,
	"invalid stack config":        docsInvalidConfig,
	"$ go run ./cmd/doctor ":      nil,
	// -live's sample reads fake Google endpoints: internal/access/live's TestDocsLiveSample
	// produces it.
	"Live access of stack dev": nil,
}

// TestDocsOutputs checks every sample of output in the docs (their ```text blocks) against what
// the code really prints. A text block no test produces is an error: a sample nobody runs is how
// docs go stale.
func TestDocsOutputs(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range docsFences(t, "") {
		switch f.Lang {
		case "text", "console", "output", "":
		default:
			continue // yaml runs in TestDocsExamples; sh, go and mermaid are input, not output
		}
		var check func(*testing.T, markdown.Fence)
		found := false
		for prefix, c := range docsOutputSamples {
			if strings.HasPrefix(f.Text, prefix) {
				check, found = c, true
				seen[prefix] = true
			}
		}
		switch {
		case !found:
			t.Errorf("%s: a ```%s block no test produces; add it to docsOutputSamples (or, if it is a command, fence it as ```sh):\n%s", f.Pos(), f.Lang, f.Text)
		case check != nil:
			t.Run(f.Pos(), func(t *testing.T) { check(t, f) })
		}
	}
	for prefix, c := range docsOutputSamples {
		if c != nil && !seen[prefix] {
			t.Errorf("no ```text block in the docs starts with %q any more; remove it from docsOutputSamples", prefix)
		}
	}
}

// docsBaseLabel is the base's label in the diff sample. The commit depends on the repository's
// history, so the test checks that cmd/access labels a git base this way (revision, then the
// commit's first 12 hex digits) and prints the sample's commit in its place.
const docsBaseLabel = "origin/main (03a8113f332b)"

var gitBaseLabel = regexp.MustCompile(`^origin/main \([0-9a-f]{12}\)$`)

// docsGitBase reads the dev stack as `-base origin/main` does: from the origin/main of a
// repository that holds this one's Pulumi.yaml and Pulumi.dev.yaml.
func docsGitBase(t *testing.T) config.StackFile {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi." + stackName + ".yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "stacks", "dev", f))
		if err != nil {
			t.Fatal(err)
		}
		testdir.Write(t, filepath.Join(dir, f), string(data))
	}
	testdir.Commit(t, dir, "dev stack")
	testdir.Git(t, dir, "update-ref", "refs/remotes/origin/main", "HEAD")
	b, err := access.ReadBase(dir, stackName, "origin/main")
	if err != nil {
		t.Fatal(err)
	}
	if b.File == nil || !gitBaseLabel.MatchString(b.Label) || !gitBaseLabel.MatchString(docsBaseLabel) {
		t.Fatalf("cmd/access labels the base %q (file read: %v); the sample's label %q must differ from it only in the commit", b.Label, b.File != nil, docsBaseLabel)
	}
	return *b.File
}

// onboardingEntry is the yaml block that onboards caller orders-audit inline (the README's
// step 1), wherever it lives: the one block that adds callers with that name.
func onboardingEntry(t *testing.T) markdown.Fence {
	t.Helper()
	var found []markdown.Fence
	for _, f := range docsYAML(t) {
		if isCallersFragment(f) && strings.Contains(f.Text, "name: orders-audit") {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		var at []string
		for _, f := range found {
			at = append(at, f.Pos())
		}
		t.Fatalf("want one yaml block that adds caller orders-audit to private-run-api:callers (the onboarding step's), found %d: %v", len(found), at)
	}
	return found[0]
}

// docsAccessDiff produces the access-report diff of onboarding caller orders-audit, as
// `bin/access -stack dev -base origin/main` prints it from the repository root: origin/main
// holds the dev stack, and the working copy adds the onboarding entry to it.
func docsAccessDiff(t *testing.T, f markdown.Fence) {
	extra := callersFragment(t, onboardingEntry(t))
	base := docsGitBase(t)
	head := config.StackFile{Namespace: project, Path: "Pulumi." + stackName + ".yaml", Values: editList(t, exampleStack(t), "private-run-api:callers", func(cs []any) []any { return append(cs, extra...) })}
	basePlan, _, err := plan.Load(base, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	headPlan, _, err := plan.Load(head, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	d := access.Compare(access.Build(stackName, basePlan, fixedNow), access.Build(stackName, headPlan, fixedNow), docsBaseLabel, head.Path)
	var out strings.Builder
	if err := access.WriteDiff(&out, d, access.Format("text")); err != nil {
		t.Fatal(err)
	}
	checkSample(t, f, "the access diff for onboarding orders-audit", out.String())
}

// docsAccessReport produces the start of `bin/access -stack dev` at the time the sample names.
func docsAccessReport(t *testing.T, f markdown.Fence) {
	p, _, err := plan.Load(config.StackFile{Namespace: project, Values: exampleStack(t)}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := access.WriteReport(&out, access.Build(stackName, p, fixedNow), access.Format("text")); err != nil {
		t.Fatal(err)
	}
	checkSample(t, f, "the start of the dev stack's access report", out.String())
}

// docsInvalidConfig loads the dev stack with the sample's two problems (the third caller renamed
// Batch_Job, allUsers as the first default impersonator) and runs the program on it. The engine
// prints the program's error after its own "program failed:" line, so the sample is
// config.Load's message; the program must fail with that same message and register nothing.
func docsInvalidConfig(t *testing.T, f markdown.Fence) {
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
		t.Fatalf("%s: config.Load accepted the config with the sample's problems", f.Pos())
	}
	checkSample(t, f, "the problem list", err.Error())
	for _, dry := range []bool{true, false} {
		r := run(t, cfg, runOpts{dryRun: dry})
		if r.Err == nil || !strings.Contains(r.Err.Error(), err.Error()) {
			t.Errorf("%s (preview=%v): the program fails with %v, not with config.Load's problem list", f.Pos(), dry, r.Err)
		}
		if len(r.Resources) > 0 {
			t.Errorf("%s (preview=%v): the sample says nothing was deployed, but the program registered:\n%s", f.Pos(), dry, r.Listing())
		}
	}
}

var word = regexp.MustCompile(`[A-Za-z][A-Za-z0-9]*`)

// codeWords lists the words inside the `code` spans of a Markdown text, so that a span such as
// `{member, expires}` documents both keys.
func codeWords(s string) []string {
	var out []string
	for _, span := range markdown.CodeSpans(s) {
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

// TestConfigDocsNameEveryField holds the documentation of config keys to package config: every
// field of each config block is named where a reader of that block looks, the key's rows of the
// README's table (config.KeyDocs, which the table is generated from), the example of "Running
// the service", or the bullet about it there.
func TestConfigDocsNameEveryField(t *testing.T) {
	documented := map[string][]string{}
	for _, d := range config.KeyDocs {
		documented[d.Key] = append(documented[d.Key], codeWords(d.Meaning+" "+d.Default)...)
	}

	sec, err := projectDocs(t).Section("Running the service")
	if err != nil {
		t.Fatal(err)
	}
	var example markdown.Fence
	for _, f := range sec.Fences() {
		if f.Lang == "yaml" {
			example = f
			break
		}
	}
	if example.Text == "" {
		t.Fatalf("%s has no yaml example", sec.Pos())
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(example.Text), &doc); err != nil {
		t.Fatalf("%s: %v", example.Pos(), err)
	}
	service := doc["config"].(map[string]any)[project+":service"]
	bullets := map[string][]string{}
	for _, l := range strings.Split(sec.Text(), "\n- ") {
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
		{config.Service{}, "the service rows of config.KeyDocs", documented[config.KeyService], yamlKeysAt(service)},
		{config.Caller{}, "the callers row of config.KeyDocs", documented[config.KeyCallers], nil},
		{config.RunAs{}, "the callers row of config.KeyDocs", documented[config.KeyCallers], nil},
		{config.Impersonator{}, "the impersonators row of config.KeyDocs", documented[config.KeyImpersonators], nil},
		{config.AuthzGuard{}, "the authz row of config.KeyDocs", documented[config.KeyAuthz], nil},
		{config.Secret{}, sec.Pos() + ": the example's secrets or the **Secrets** bullet", bullets["Secrets"], yamlKeysAt(service, "secrets", "[]")},
		{config.VPC{}, sec.Pos() + ": the example's vpc or the **VPC** bullet", bullets["VPC"], yamlKeysAt(service, "vpc")},
		{config.Probe{}, sec.Pos() + ": the example's probes or the **Probes** bullet", bullets["Probes"],
			append(yamlKeysAt(service, "startupProbe"), yamlKeysAt(service, "livenessProbe")...)},
	}
	for _, bl := range blocks {
		typ := reflect.TypeOf(bl.typ)
		for _, k := range jsonKeys(typ) {
			if !slices.Contains(bl.spans, k) && !slices.Contains(bl.inYAML, k) {
				t.Errorf("config.%s's key %q is not named in %s", typ.Name(), k, bl.where)
			}
		}
	}
}

// TestOutputDocsCoverEveryOutput holds program.OutputDocs, which the README's outputs table is
// generated from, to what the program exports: the dev stack, and the dev stack with the authz
// guard switched on explicitly (its outputs exist only then), so that the table stays right if
// the dev stack ever turns the guard off. The callers row's per-caller fields are checked
// against the callers output too.
func TestOutputDocsCoverEveryOutput(t *testing.T) {
	dev := exampleStack(t)
	var authz map[string]any
	if err := json.Unmarshal([]byte(dev[project+":authz"]), &authz); err != nil {
		t.Fatal(err)
	}
	authz["enabled"] = true
	guardOn := maps.Clone(dev)
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
	for _, d := range program.OutputDocs {
		if listed[d.Name] {
			t.Errorf("program.OutputDocs documents %q twice", d.Name)
		}
		listed[d.Name] = true
		if !exported[d.Name] {
			t.Errorf("program.OutputDocs documents %q, which the program does not export (it exports %s)", d.Name, strings.Join(slices.Sorted(maps.Keys(exported)), ", "))
		}
		if strings.TrimSpace(d.What) == "" || strings.Contains(d.What, "\n") {
			t.Errorf("program.OutputDocs %q: %q: write one line of Markdown", d.Name, d.What)
		}
		if d.Name == "callers" {
			_, fields, ok := strings.Cut(d.What, "per caller:")
			if !ok {
				t.Errorf("program.OutputDocs: the callers row does not list the fields \"per caller:\"")
				continue
			}
			spans := markdown.CodeSpans(fields)
			for _, f := range slices.Sorted(maps.Keys(callerFields)) {
				if !slices.Contains(spans, f) {
					t.Errorf("each caller in the callers output has %q, which program.OutputDocs' callers row does not list", f)
				}
			}
			for _, f := range spans {
				if !callerFields[f] {
					t.Errorf("program.OutputDocs' callers row lists %q, which no caller in the callers output has", f)
				}
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(exported)) {
		if !listed[n] {
			t.Errorf("the program exports %q, which program.OutputDocs does not document: add a row (README.md's outputs table is generated from it)", n)
		}
	}
}

// resolve returns where a relative link of doc d leads: the file (a path from the repository
// root, "" for d itself) and the fragment.
func resolve(d *markdown.Doc, target string) (file, fragment string) {
	file, fragment, _ = strings.Cut(target, "#")
	if file != "" {
		file = path.Clean(path.Join(path.Dir(d.Name), file))
	}
	return file, fragment
}

// TestDocsLinks: every relative link of the docs leads to a file of the repository and, when it
// names a heading, to a heading of that document (by GitHub's anchors), so that a moved section
// is found where the link says.
func TestDocsLinks(t *testing.T) {
	set := projectDocs(t)
	checked := 0
	for _, d := range set {
		for _, l := range d.Links() {
			if strings.Contains(l.Target, "://") || strings.HasPrefix(l.Target, "mailto:") {
				continue
			}
			checked++
			file, fragment := resolve(d, l.Target)
			target := d
			if file != "" {
				if strings.HasPrefix(file, "../") {
					t.Errorf("%s: link %q leaves the repository", d.Pos(l.Line), l.Target)
					continue
				}
				if _, err := os.Stat(filepath.Join(docsRoot, filepath.FromSlash(file))); err != nil {
					t.Errorf("%s: link %q: %s does not exist", d.Pos(l.Line), l.Target, file)
					continue
				}
				target = set.Doc(file)
				if target == nil && strings.HasSuffix(file, ".md") && fragment != "" {
					others, err := markdown.Read(docsRoot, file)
					if err != nil {
						t.Errorf("%s: link %q: %v", d.Pos(l.Line), l.Target, err)
						continue
					}
					target = others[0]
				}
			}
			if fragment == "" {
				continue
			}
			if target == nil {
				t.Errorf("%s: link %q names a heading of a file that is not Markdown", d.Pos(l.Line), l.Target)
				continue
			}
			if _, ok := target.Anchors()[fragment]; !ok {
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", d.Pos(l.Line), l.Target, target.Name, fragment)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d relative links in the docs: the scan no longer sees them", checked)
	}
}

// TestDocsReachableFromREADME: every page under docs/ is reached from README.md by links, so
// nothing moved out of the README is lost to a reader who starts there.
func TestDocsReachableFromREADME(t *testing.T) {
	set := projectDocs(t)
	readme := set.Doc("README.md")
	if readme == nil {
		t.Fatal("no README.md")
	}
	reached := map[string]bool{readme.Name: true}
	queue := []*markdown.Doc{readme}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, l := range d.Links() {
			file, _ := resolve(d, l.Target)
			if next := set.Doc(file); next != nil && !reached[file] {
				reached[file] = true
				queue = append(queue, next)
			}
		}
	}
	for _, d := range set {
		if !reached[d.Name] {
			t.Errorf("%s is not reachable by links from README.md", d.Name)
		}
	}
}

// readmeLimit is the most README.md may hold: a newcomer's first page stays short, and the
// rest lives under docs/.
const readmeLimit = 15_000

// TestREADMEIsTheFrontDoor: README.md stays within its size, and its lead (the text before its
// first section) links to the section that holds every upgrade step, which keeps callers from
// being refused on the first deploy of a new version.
func TestREADMEIsTheFrontDoor(t *testing.T) {
	set := projectDocs(t)
	readme := set.Doc("README.md")
	data, err := os.ReadFile(filepath.Join(docsRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > readmeLimit {
		t.Errorf("README.md is %d bytes, over its %d: move detail to a page under docs/ and link to it", len(data), readmeLimit)
	}

	var upgrades []markdown.Fence
	for _, f := range set.Fences() {
		if f.Lang == "sh" && strings.Contains(f.Text, "pulumi state delete") {
			upgrades = append(upgrades, f)
		}
	}
	if len(upgrades) == 0 {
		t.Fatal("no upgrade step (an sh block that runs pulumi state delete) in the docs")
	}
	lead := len(readme.Lines) + 1
	for _, h := range readme.Headings {
		if h.Level == 2 {
			lead = h.Line
			break
		}
	}
	var covered []markdown.Fence
	for _, l := range readme.Links() {
		if l.Line >= lead {
			continue
		}
		file, fragment := resolve(readme, l.Target)
		target := set.Doc(file)
		if target == nil || fragment == "" {
			continue
		}
		sec, ok := target.Anchors()[fragment]
		if !ok {
			continue
		}
		for _, f := range upgrades {
			if f.Doc == target && f.Line > sec.Start && f.Line < sec.End {
				covered = append(covered, f)
			}
		}
	}
	for _, f := range upgrades {
		if !slices.ContainsFunc(covered, func(c markdown.Fence) bool { return c.Doc == f.Doc && c.Line == f.Line }) {
			t.Errorf("%s: an upgrade step that no link in README.md's lead (lines 1-%d) leads to", f.Pos(), lead-1)
		}
	}
	if t.Failed() {
		t.Logf("README.md's lead:\n%s", strings.Join(readme.Lines[:lead-1], "\n"))
	}
}

// docRef is how code names a doc: a page, and maybe a section of it in quotes
// (docs/operations.md, "Deleted principals"), in a comment or in an escaped string.
var docRef = regexp.MustCompile(`(docs/[a-z0-9/-]+\.md)(?:, \\?"([^"\\]+)\\?")?`)

// TestCodeNamesDocsThatExist: every page and section the code names (in error messages that send
// a reader to the docs, and in comments; tests are left out) exists, so moving a section cannot
// strand the pointer.
func TestCodeNamesDocsThatExist(t *testing.T) {
	set := projectDocs(t)
	checked := 0
	err := filepath.WalkDir(docsRoot, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil // tests name pages of their own fixtures
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range docRef.FindAllStringSubmatch(line, -1) {
				checked++
				d := set.Doc(m[1])
				if d == nil {
					t.Errorf("%s:%d: names %s, which does not exist", p, i+1, m[1])
					continue
				}
				if m[2] == "" {
					continue
				}
				if s, err := set.Section(m[2]); err != nil || s.Doc != d {
					t.Errorf("%s:%d: names section %q of %s, which is not there (%v)", p, i+1, m[2], m[1], err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 3 {
		t.Errorf("only %d references to docs/ in the code: the scan no longer sees them", checked)
	}
}

// pulumiUp finds `pulumi up` with what follows it on its line, up to the end of the code span or
// the command.
var pulumiUp = regexp.MustCompile("pulumi up\\b[^`\\n|;&)]*")

// Every `pulumi up` the docs tell someone to run carries --refresh: without it the engine diffs
// against its state, sees nothing of a grant made by hand, and leaves it; with it, the program's
// whole policies put every policy back. (bootstrap/ci holds the workflows that run `up` to the
// same rule.)
func TestDocumentedPulumiUpRefreshes(t *testing.T) {
	// The project's docs and every other README (bootstrap/, guard/, policy/).
	set, err := markdown.Read(docsRoot, append(slices.Clone(markdown.ProjectDocs), "*/README.md")...)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range set {
		for i, line := range d.Lines {
			for _, cmd := range pulumiUp.FindAllString(line, -1) {
				checked++
				if !strings.Contains(cmd, "--refresh") {
					t.Errorf("%s: %q does not refresh: write `pulumi up --refresh`, so that the deploy puts drift back", d.Pos(i+1), cmd)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d `pulumi up` found in the docs: the scan no longer sees them", checked)
	}
}

// The checker flags what it is for.
func TestPulumiUpPattern(t *testing.T) {
	for line, refreshes := range map[string]bool{
		"run `pulumi up --refresh --stack dev` now":    true,
		"run `pulumi up --stack dev` now":              false,
		"pulumi up --stack dev --refresh":              true,
		"a real `pulumi up` takes":                     false,
		"pulumi up; pulumi refresh":                    false,
		"| `pulumi up` | the --refresh flag elsewhere": false,
	} {
		cmds := pulumiUp.FindAllString(line, -1)
		if len(cmds) != 1 || strings.Contains(cmds[0], "--refresh") != refreshes {
			t.Errorf("%q: found %q, want one command that refreshes=%v", line, cmds, refreshes)
		}
	}
}

// docs/development.md's layout table has a row for every directory that holds Go code, and none
// for a directory that no longer does: the table is where a newcomer finds which package owns
// what.
func TestLayoutTableListsEveryPackage(t *testing.T) {
	section, err := projectDocs(t).Section("Layout")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := section.Table("path", "owns")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, r := range rows {
		listed[strings.Trim(r.Cells[0], "`")] = true
	}
	var code []string
	err = filepath.WalkDir(docsRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != docsRoot && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			dir, _ := filepath.Rel(docsRoot, filepath.Dir(p))
			code = append(code, filepath.ToSlash(dir)+"/")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code = slices.Compact(slices.Sorted(slices.Values(code)))
	for _, dir := range code {
		if dir == "./" {
			dir = "main.go" // the root package is its one file
		}
		if !listed[dir] {
			t.Errorf("docs/development.md, Layout: no row for %s, which holds Go code", dir)
		}
		delete(listed, dir)
	}
	for path := range listed {
		if strings.HasSuffix(path, "/") && !strings.HasPrefix(path, ".") && path != "docs/" {
			t.Errorf("docs/development.md, Layout: a row for %s, which holds no Go code", path)
		}
	}
	if len(code) < 20 {
		t.Fatalf("found only %d directories of Go code: the walk no longer sees the tree", len(code))
	}
}

// The guard's docs (its package comment, guard/doc.go) and the guard page point to access -live
// for the bucket's creation-time pin, and name the variable it prints.
func TestGuardDocsPointToLive(t *testing.T) {
	page, err := projectDocs(t).Section("Guarding a Cloud Function")
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{"Guarding a Cloud Function": page.Text()}
	doc, err := os.ReadFile(filepath.Join(docsRoot, "guard", "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, pin, ok := strings.Cut(string(doc), "// # The creation-time pin")
	if !ok {
		t.Fatal("guard/doc.go has no section \"# The creation-time pin\"")
	}
	pin, _, _ = strings.Cut(pin, "\n// # ")
	texts["guard/doc.go, The creation-time pin"] = pin
	for name, text := range texts {
		if strings.Contains(text, "once available") {
			t.Errorf("%s still calls -live \"once available\"", name)
		}
		for _, want := range []string{"-live", "AUTHZ_BUCKET_CREATION_TIME"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s's pin section does not mention %s", name, want)
			}
		}
	}
}
