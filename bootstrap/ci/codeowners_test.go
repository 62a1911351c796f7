package ci_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// CODEOWNERS must cover everything that computes or checks grants: every Go package of both
// modules (listed by `go list`, so a package added later is covered or the test fails), the
// workflows, the Pulumi project and stack files, and the caller files. Each of them must be owned
// by exactly the owners of CODEOWNERS itself: GitHub accepts any one listed owner's approval, so
// a team listed beside them could approve its own grants alone.

const repoRoot = "../.."

// goBinary is the go command; the test skips only when there is none on PATH (CI always has
// one: it runs this test with it).
func goBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: cannot list the packages")
	}
	return p
}

type goPackage struct {
	ImportPath string
	Dir        string
	GoFiles, CgoFiles, TestGoFiles, XTestGoFiles, IgnoredGoFiles, EmbedFiles,
	OtherFiles []string
}

// goPackages lists the packages of the module in dir (relative to the repository root).
func goPackages(t *testing.T, goCmd, dir string) []goPackage {
	t.Helper()
	cmd := exec.Command(goCmd, "list", "-json", "./...")
	cmd.Dir = filepath.Join(repoRoot, dir)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./... in %q: %v\n%s", dir, err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list in %q: %v", dir, err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list found no package in %q", dir)
	}
	return pkgs
}

// mustOwnPackages lists, for every package of both modules, each of its files and a file added to its
// directory later, as paths from the repository root.
func mustOwnPackages(t *testing.T) map[string]string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	goCmd := goBinary(t)
	out := map[string]string{}
	modules := map[string]int{}
	for _, module := range []string{".", "guard"} {
		for _, p := range goPackages(t, goCmd, module) {
			modules[module]++
			dir, err := filepath.Rel(root, p.Dir)
			if err != nil || strings.HasPrefix(dir, "..") {
				t.Fatalf("package %s lives outside the repository: %s", p.ImportPath, p.Dir)
			}
			dir = filepath.ToSlash(dir)
			var files []string
			for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.TestGoFiles, p.XTestGoFiles, p.IgnoredGoFiles, p.EmbedFiles, p.OtherFiles} {
				files = append(files, list...)
			}
			files = append(files, "zz_added_later.go")
			for _, f := range files {
				out[joinPath(dir, f)] = "package " + p.ImportPath
			}
		}
	}
	// The listing is what makes this test worth having: both modules, every package.
	if modules["."] < 10 || modules["guard"] < 1 {
		t.Fatalf("go list found %v packages per module; expected the root module's and guard's", modules)
	}
	return out
}

func joinPath(dir, file string) string {
	if dir == "." || dir == "" {
		return file
	}
	return dir + "/" + file
}

// mustOwnFiles lists the workflows, every Pulumi project, stack and policy file and every
// go.mod/go.sum in the tree, and the caller files a stack may name.
func mustOwnFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{
		".github/CODEOWNERS":                    "who owns what",
		".github/dependabot.yml":                "what updates the dependencies",
		".github/workflows/added-later.yml":     "a workflow added later",
		".github/scripts/access-report.sh":      "the access report's verdict",
		".ci/run":                               "the CI definition",
		"Pulumi.yaml":                           "the Pulumi project file",
		"Pulumi.prod.yaml":                      "a stack file added later",
		"callers/orders-audit.yaml":             "a caller file",
		"callers/billing-team/billing-run.yaml": "a caller file in a team's directory",
	}
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := d.Name()
		switch {
		case strings.HasPrefix(rel, ".github/workflows/"):
			out[rel] = "a workflow"
		case name == "Pulumi.yaml" || name == "PulumiPolicy.yaml" || (strings.HasPrefix(name, "Pulumi.") && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"))):
			out[rel] = "a Pulumi project, stack or policy file"
		case name == "go.mod" || name == "go.sum" || name == "go.work":
			out[rel] = "a Go module file"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// codeownersGaps lists every path of must (path -> why it matters) that rules leave unowned or
// give to anyone but the owners of CODEOWNERS itself.
func codeownersGaps(rules []codeownersRule, must map[string]string) []string {
	admins := owners(rules, ".github/CODEOWNERS")
	if len(admins) == 0 {
		return []string{"CODEOWNERS does not own itself"}
	}
	want := strings.Join(sorted(admins), " ")
	var out []string
	for f, why := range must {
		got := owners(rules, f)
		switch {
		case len(got) == 0:
			out = append(out, fmt.Sprintf("CODEOWNERS gives %s (%s) no owner", f, why))
		case strings.Join(sorted(got), " ") != want:
			out = append(out, fmt.Sprintf("CODEOWNERS gives %s (%s) to %v, want only %s: any one listed owner may approve", f, why, got, want))
		}
	}
	sort.Strings(out)
	return out
}

func TestCodeownersOwnEveryPackageAndProjectFile(t *testing.T) {
	must := mustOwnPackages(t)
	for f, why := range mustOwnFiles(t) {
		must[f] = why
	}
	// The listing reached what this test is for.
	for _, f := range []string{"main.go", "internal/plan/zz_added_later.go", "guard/zz_added_later.go", "policy/zz_added_later.go", ".github/workflows/access-report.yml", "bootstrap/Pulumi.yaml", "policy/PulumiPolicy.yaml", "guard/go.mod"} {
		if must[f] == "" {
			t.Errorf("the coverage list lacks %s", f)
		}
	}
	for _, g := range codeownersGaps(readCodeowners(t), must) {
		t.Error(g)
	}
}

// The coverage check finds what it is for.
func TestCodeownersGapsChecker(t *testing.T) {
	rules := []codeownersRule{
		{"/.github/", []string{"@acme/platform"}},
		{"/plan/", []string{"@acme/platform"}},
		{"/callers/", []string{"@acme/platform", "@acme/orders"}},
		{"/stack/", []string{"@acme/orders"}},
	}
	cases := []struct {
		file string
		bad  bool
	}{
		{"plan/zz_added_later.go", false},
		{".github/workflows/pr.yml", false},
		{"diag/zz_added_later.go", true}, // a package no line names
		{"callers/orders.yaml", true},    // co-owned: the orders team could approve alone
		{"stack/stack.go", true},         // owned by another team
	}
	for _, tc := range cases {
		if got := codeownersGaps(rules, map[string]string{tc.file: "test"}); (len(got) > 0) != tc.bad {
			t.Errorf("%s: findings %q, want bad=%v", tc.file, got, tc.bad)
		}
	}
	if got := codeownersGaps(rules[1:], map[string]string{"plan/x.go": "test"}); len(got) != 1 {
		t.Errorf("without an owner of CODEOWNERS, findings %q", got)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
