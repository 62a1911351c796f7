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

// matches is GitHub's CODEOWNERS matching (gitignore's) for the anchored patterns this
// repository uses: a pattern matches a path or any directory above it, a pattern ending in "/"
// matches directories only, and "*" matches within one path segment. The syntax test refuses any
// other kind of pattern, so this never silently misreads one.
func (r codeownersRule) matches(file string) bool {
	p := strings.TrimPrefix(r.pattern, "/")
	dirOnly := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	parts := strings.Split(file, "/")
	for i := 1; i <= len(parts); i++ {
		if dirOnly && i == len(parts) {
			break // the file itself is not a directory
		}
		if ok, err := path.Match(p, strings.Join(parts[:i], "/")); err == nil && ok {
			return true
		}
	}
	return false
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

// What the rules may look like; which paths they must cover is codeowners_test.go's.
func TestCodeownersSyntax(t *testing.T) {
	rules := readCodeowners(t)
	if len(rules) == 0 {
		t.Fatal("CODEOWNERS has no rules")
	}
	for _, r := range rules {
		if !strings.HasPrefix(r.pattern, "/") {
			t.Errorf("CODEOWNERS pattern %q is not anchored at the root; it would also match deeper paths", r.pattern)
		}
		if strings.ContainsAny(r.pattern, "?[]!\\") || strings.Contains(r.pattern, "**") {
			t.Errorf("CODEOWNERS pattern %q uses syntax the coverage test does not read; keep to paths, directories and *", r.pattern)
		}
		if len(r.owners) == 0 {
			t.Errorf("CODEOWNERS pattern %q names no owner, which unowns what it matches", r.pattern)
		}
		for _, o := range r.owners {
			if !strings.HasPrefix(o, "@") && !strings.Contains(o, "@") {
				t.Errorf("CODEOWNERS owner %q of %s is neither @user, @org/team nor an email", o, r.pattern)
			}
		}
	}
}

func TestCodeownersMatcher(t *testing.T) {
	cases := []struct {
		pattern, file string
		want          bool
	}{
		{"/Pulumi.*.yaml", "Pulumi.dev.yaml", true},
		{"/Pulumi.*.yaml", "bootstrap/Pulumi.example.yaml", false},
		{"/Pulumi.*.yaml", "Pulumi.yaml", false},
		{"/callers/", "callers/orders.yaml", true},
		{"/callers/", "callers/team/orders.yaml", true},
		{"/callers/", "callers", false},
		{"/callers/", "other/callers/orders.yaml", false},
		{"/*.go", "main.go", true},
		{"/*.go", "cmd/access/main.go", false},
		{"/guard/", "guard/go.mod", true},
		{"/go.mod", "guard/go.mod", false},
		{"/policy", "policy/pack.go", true},
	}
	for _, tc := range cases {
		if got := (codeownersRule{pattern: tc.pattern}).matches(tc.file); got != tc.want {
			t.Errorf("%s matches %s = %v, want %v", tc.pattern, tc.file, got, tc.want)
		}
	}
	rules := []codeownersRule{{"/a/", []string{"@x"}}, {"/a/b/", []string{"@y"}}}
	if got := owners(rules, "a/b/c.go"); len(got) != 1 || got[0] != "@y" {
		t.Errorf("owners of a/b/c.go = %v, want the last matching rule's [@y]", got)
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
