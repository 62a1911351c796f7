package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/config"
)

// The stack files beside Pulumi.yaml are what teams edit in onboarding pull requests, and what CI
// deploys. No test counts what they hold: these check only what must stay true after any valid
// edit, so that adding a caller the way README.md says breaks nothing here, and a change that
// breaks what these check is caught before it merges.

// repoStacks are the repository's stack files (Pulumi.<stack>.yaml beside Pulumi.yaml), read as
// the engine passes them, by stack name.
func repoStacks(t *testing.T) map[string]config.StackFile {
	t.Helper()
	files := committedStackFiles(t, "..")
	if len(files) == 0 {
		t.Fatal("no stack file beside ../Pulumi.yaml")
	}
	out := map[string]config.StackFile{}
	for _, f := range files {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		out[stack] = readStack(t, "..", stack)
	}
	return out
}

// committedStackFiles are the Pulumi.<stack>.yaml files in dir that git tracks: a developer's own
// scratch stack (README: "a stack of your own") is not the repository's. Outside a git checkout,
// every such file counts.
func committedStackFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", dir, "ls-files", "--", "Pulumi.*.yaml").Output()
	if err != nil {
		return files
	}
	tracked := strings.Fields(string(out))
	return slices.DeleteFunc(files, func(f string) bool { return !slices.Contains(tracked, filepath.Base(f)) })
}

func TestRepositoryStacksHoldForAnyValidEdit(t *testing.T) {
	for stack, sf := range repoStacks(t) {
		t.Run(stack, func(t *testing.T) { checkStackProperties(t, sf.Path, sf.Values) })
	}
}

// TestREADMEOnboardingOnTheRepositoryStacks applies README.md's onboarding entry ("Add the caller")
// to every stack file of the repository, as a team would in its pull request, and checks what any
// onboarding must keep true: the stack stays valid, the guardrails hold, the access report is what
// deploys, and the change adds only the new caller's resources and touches only the policies that
// list it. A stack that already has a caller of that name (someone onboarded it for real) gets
// the entry under a name of its own.
func TestREADMEOnboardingOnTheRepositoryStacks(t *testing.T) {
	entry := readmeOnboardingEntry(t)
	for stack, sf := range repoStacks(t) {
		t.Run(stack, func(t *testing.T) {
			e := maps.Clone(entry)
			names := callerNames(t, sf.Values)
			for n := 2; slices.Contains(names, fmt.Sprint(e["name"])); n++ {
				e["name"] = fmt.Sprintf("%s-%d", entry["name"], n)
			}
			after := editList(t, sf.Values, "private-run-api:callers", func(cs []any) []any { return append(cs, e) })
			checkStackProperties(t, sf.Path+" with README's entry", after)
			for _, dry := range []bool{false, true} {
				checkOnlyCallerMoves(t, fmt.Sprintf("preview=%v", dry), sf.Values, after, e["name"].(string), dry)
			}
		})
	}
}

// readmeOnboardingEntry is the caller entry the README's onboarding step adds: the one yaml
// block of the docs that adds callers with impersonators.
func readmeOnboardingEntry(t *testing.T) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, f := range docsYAML(t) {
		if !isCallersFragment(f) {
			continue
		}
		for _, c := range callersFragment(t, f) {
			if m, ok := c.(map[string]any); ok && m["impersonators"] != nil {
				found = append(found, m)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one caller entry with impersonators in the docs' callers fragments (the onboarding step's), found %d", len(found))
	}
	return found[0]
}

func callerNames(t *testing.T, cfg map[string]string) []string {
	t.Helper()
	var cs []struct {
		Name string `json:"name"`
	}
	if raw, ok := cfg["private-run-api:callers"]; ok {
		if err := json.Unmarshal([]byte(raw), &cs); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// checkStackProperties: the stack validates; in preview and update mode the program registers it
// within the invariants and the policy pack's mandatory rules, and the access report lists exactly
// what it registers; and no order in config matters (every list reversed registers the same URNs
// with the same inputs).
func checkStackProperties(t *testing.T, name string, cfg map[string]string) {
	t.Helper()
	if _, err := config.Load(project, config.MapSource(cfg), slices.Sorted(maps.Keys(cfg))); err != nil {
		t.Fatalf("%s does not validate: %v", name, err)
	}
	for _, dry := range []bool{false, true} {
		r := mustRun(t, cfg, runOpts{dryRun: dry})
		checkInvariants(t, r, cfg)
		checkReportMatchesProgram(t, r, cfg)
		rev := cfg
		for _, key := range []string{"private-run-api:callers", "private-run-api:impersonators"} {
			if _, ok := cfg[key]; ok {
				rev = editList(t, rev, key, reversed)
			}
		}
		if got, want := registered(t, mustRun(t, rev, runOpts{dryRun: dry})), registered(t, r); !maps.Equal(got, want) {
			t.Errorf("%s, preview=%v: reversing the callers and impersonators lists changes what is registered:\n%s", name, dry, registeredDiff(want, got))
		}
	}
}

// checkOnlyCallerMoves: going from before to after adds caller's own resources (its account and
// the IAM on it) and otherwise changes only the inputs of the policies that list callers: no other
// resource is added, removed or changed, so onboarding moves no existing caller.
func checkOnlyCallerMoves(t *testing.T, label string, before, after map[string]string, caller string, dry bool) {
	t.Helper()
	b, a := registered(t, mustRun(t, before, runOpts{dryRun: dry})), registered(t, mustRun(t, after, runOpts{dryRun: dry}))
	own := func(urn string) bool {
		name := urn[strings.LastIndex(urn, "::")+2:]
		return strings.Contains(urn, "privateapi:iam:Callers$") && (name == caller || strings.HasPrefix(name, caller+"-"))
	}
	added := 0
	for urn, in := range a {
		old, existed := b[urn]
		switch {
		case !existed && own(urn):
			added++
		case !existed:
			t.Errorf("%s: onboarding %s adds %s, which is not the caller's own", label, caller, urn)
		case old != in && !strings.Contains(urn, "IamPolicy:") && !strings.Contains(urn, "IAMPolicy:"):
			t.Errorf("%s: onboarding %s changes %s, which lists no caller:\n%s", label, caller, urn, registeredDiff(map[string]string{urn: old}, map[string]string{urn: in}))
		}
	}
	for urn := range b {
		if _, ok := a[urn]; !ok {
			t.Errorf("%s: onboarding %s removes %s", label, caller, urn)
		}
	}
	if added == 0 {
		t.Errorf("%s: onboarding %s adds none of its own resources", label, caller)
	}
}

// registered maps each URN a run registered to its inputs, as canonical JSON.
func registered(t *testing.T, r *result) map[string]string {
	t.Helper()
	out := make(map[string]string, len(r.Resources))
	for _, x := range r.Resources {
		data, err := json.Marshal(x.Inputs.Mappable())
		if err != nil {
			t.Fatal(err)
		}
		out[x.URN] = string(data)
	}
	return out
}

func registeredDiff(want, got map[string]string) string {
	var b strings.Builder
	for _, u := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[u]; !ok {
			fmt.Fprintf(&b, "  - %s\n", u)
		} else if g != want[u] {
			fmt.Fprintf(&b, "  ~ %s\n      was %s\n      now %s\n", u, want[u], g)
		}
	}
	for _, u := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[u]; !ok {
			fmt.Fprintf(&b, "  + %s\n", u)
		}
	}
	return b.String()
}
