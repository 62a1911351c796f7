package ci_test

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// codeownersRule is one line of .github/CODEOWNERS.
type codeownersRule struct {
	pattern string
	owners  []string
}

func readCodeowners(tb testing.TB) []codeownersRule {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", ".github", "CODEOWNERS"))
	if err != nil {
		tb.Fatal(err)
	}
	var rules []codeownersRule
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		rules = append(rules, codeownersRule{pattern: f[0], owners: f[1:]})
	}
	return rules
}

// matches is GitHub's CODEOWNERS matching for the anchored patterns this repository uses: a
// pattern ending in "/" owns everything under that directory, others match one path, with "*"
// matching within one path segment.
func (r codeownersRule) matches(file string) bool {
	p := strings.TrimPrefix(r.pattern, "/")
	if strings.HasSuffix(p, "/") {
		return strings.HasPrefix(file, p)
	}
	ok, err := path.Match(p, file)
	return err == nil && ok
}

// owners is who owns file: the last matching rule wins.
func owners(rules []codeownersRule, file string) []string {
	var out []string
	for _, r := range rules {
		if r.matches(file) {
			out = r.owners
		}
	}
	return out
}

func TestCodeownersCoverWhatDecidesAccess(t *testing.T) {
	rules := readCodeowners(t)
	for _, r := range rules {
		if !strings.HasPrefix(r.pattern, "/") {
			t.Errorf("CODEOWNERS pattern %q is not anchored at the root; it would also match deeper paths", r.pattern)
		}
		for _, o := range r.owners {
			if !strings.HasPrefix(o, "@") && !strings.Contains(o, "@") {
				t.Errorf("CODEOWNERS owner %q of %s is neither @user, @org/team nor an email", o, r.pattern)
			}
		}
	}
	for _, file := range []string{
		".github/CODEOWNERS", ".github/dependabot.yml", ".github/workflows/pr.yml", ".github/workflows/deploy.yml", ".github/workflows/added-later.yml",
		"bootstrap/ci/plan.go", "bootstrap/Pulumi.example.yaml", "bootstrap/README.md",
		"access/report.go", "config/validate.go", "cmd/access/main.go",
		"Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml",
		".ci/run", "go.mod", "go.sum", "guard/go.mod",
	} {
		if len(owners(rules, file)) == 0 {
			t.Errorf("CODEOWNERS gives %s no owner", file)
		}
	}
	// The matcher itself.
	r := codeownersRule{pattern: "/Pulumi.*.yaml", owners: []string{"@x/y"}}
	if !r.matches("Pulumi.dev.yaml") || r.matches("bootstrap/Pulumi.example.yaml") || r.matches("Pulumi.yaml") {
		t.Error("pattern matching is wrong")
	}
}

func TestDependabotUpdatesActionsAndBothGoModules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".github", "dependabot.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version int `yaml:"version"`
		Updates []struct {
			Ecosystem string `yaml:"package-ecosystem"`
			Directory string `yaml:"directory"`
			Schedule  struct {
				Interval string `yaml:"interval"`
			} `yaml:"schedule"`
		} `yaml:"updates"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Version != 2 {
		t.Errorf("dependabot.yml version %d, want 2", cfg.Version)
	}
	got := map[string]bool{}
	for _, u := range cfg.Updates {
		got[u.Ecosystem+" "+u.Directory] = true
		if u.Schedule.Interval == "" {
			t.Errorf("%s %s has no schedule", u.Ecosystem, u.Directory)
		}
	}
	for _, want := range []string{"github-actions /", "gomod /", "gomod /guard"} {
		if !got[want] {
			t.Errorf("dependabot.yml does not update %s", want)
		}
	}
}
