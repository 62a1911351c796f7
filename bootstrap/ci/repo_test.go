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
	// Each pattern with the files it must match and the files it must not.
	for pattern, files := range map[string]struct{ match, miss []string }{
		"/Pulumi.*.yaml": {match: []string{"Pulumi.dev.yaml"}, miss: []string{"bootstrap/Pulumi.example.yaml", "Pulumi.yaml"}},
		"/callers/":      {match: []string{"callers/orders.yaml", "callers/team/orders.yaml"}, miss: []string{"callers", "other/callers/orders.yaml"}},
		"/*.go":          {match: []string{"main.go"}, miss: []string{"cmd/access/main.go"}},
		"/guard/":        {match: []string{"guard/go.mod"}},
		"/go.mod":        {miss: []string{"guard/go.mod"}},
		"/policy":        {match: []string{"policy/pack.go"}},
	} {
		for want, list := range map[bool][]string{true: files.match, false: files.miss} {
			for _, file := range list {
				if got := (codeownersRule{pattern: pattern}).matches(file); got != want {
					t.Errorf("%s matches %s = %v, want %v", pattern, file, got, want)
				}
			}
		}
	}
	rules := []codeownersRule{{"/a/", []string{"@x"}}, {"/a/b/", []string{"@y"}}}
	if got := owners(rules, "a/b/c.go"); len(got) != 1 || got[0] != "@y" {
		t.Errorf("owners of a/b/c.go = %v, want the last matching rule's [@y]", got)
	}
}
