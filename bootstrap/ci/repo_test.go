package ci_test

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
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

func TestCodeownersMatcher(t *testing.T) {
	// Each pattern with the paths it must match and those it must not.
	cases := []struct {
		pattern         string
		matches, misses []string
	}{
		{"/Pulumi.*.yaml", []string{"Pulumi.dev.yaml"}, []string{"bootstrap/Pulumi.example.yaml", "Pulumi.yaml"}},
		{"/callers/", []string{"callers/orders.yaml", "callers/team/orders.yaml"}, []string{"callers", "other/callers/orders.yaml"}},
		{"/*.go", []string{"main.go"}, []string{"cmd/access/main.go"}},
		{"/guard/", []string{"guard/go.mod"}, nil},
		{"/go.mod", nil, []string{"guard/go.mod"}},
		{"/policy", []string{"policy/pack.go"}, nil},
	}
	for _, tc := range cases {
		rule := codeownersRule{pattern: tc.pattern}
		for want, files := range map[bool][]string{true: tc.matches, false: tc.misses} {
			for _, file := range files {
				if got := rule.matches(file); got != want {
					t.Errorf("%s matches %s = %v, want %v", tc.pattern, file, got, want)
				}
			}
		}
	}
	rules := []codeownersRule{{"/a/", []string{"@x"}}, {"/a/b/", []string{"@y"}}}
	if got := owners(rules, "a/b/c.go"); len(got) != 1 || got[0] != "@y" {
		t.Errorf("owners of a/b/c.go = %v, want the last matching rule's [@y]", got)
	}
}
