package tests

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"testing"
)

// changes is what a second run does to the first, by URN: what `pulumi preview` would list.
type changes struct {
	added, removed, changed []string // "type name", sorted
}

func compareRuns(before, after *result) changes {
	var c changes
	b, a := before.urns(), after.urns()
	for urn, x := range a {
		prev, ok := b[urn]
		switch {
		case !ok:
			c.added = append(c.added, x.Type+" "+x.Name)
		case !prev.Inputs.DeepEquals(x.Inputs) || !slices.Equal(sorted(prev.Deps), sorted(x.Deps)) || prev.Parent != x.Parent || prev.Protect != x.Protect:
			c.changed = append(c.changed, x.Type+" "+x.Name)
		}
	}
	for urn, x := range b {
		if _, ok := a[urn]; !ok {
			c.removed = append(c.removed, x.Type+" "+x.Name)
		}
	}
	sort.Strings(c.added)
	sort.Strings(c.removed)
	sort.Strings(c.changed)
	return c
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// editList rewrites a list-valued config key.
func editList(t *testing.T, cfg map[string]string, key string, edit func([]any) []any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range cfg {
		out[k] = v
	}
	var list []any
	if raw, ok := cfg[key]; ok {
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(edit(list))
	if err != nil {
		t.Fatal(err)
	}
	out[key] = string(data)
	return out
}

func reversed(list []any) []any {
	out := slices.Clone(list)
	slices.Reverse(out)
	return out
}

func TestStableIdentities(t *testing.T) {
	dev := devStack(t)
	before := mustRun(t, dev, runOpts{})

	reorderAll := func(cfg map[string]string) map[string]string {
		cfg = editList(t, cfg, "private-run-api:impersonators", reversed)
		return editList(t, cfg, "private-run-api:callers", func(cs []any) []any {
			for _, c := range cs {
				if m := c.(map[string]any); m["impersonators"] != nil {
					m["impersonators"] = reversed(m["impersonators"].([]any))
				}
			}
			return reversed(cs)
		})
	}
	newCaller := map[string]any{
		"name": "orders-mobile", "description": "Mobile back end.", "authz": true,
		"impersonators": []any{map[string]any{"member": "user:mio@acme.example", "expires": "2027-06-30T00:00:00Z"}},
	}

	cases := []struct {
		name                    string
		cfg                     map[string]string
		added, removed, changed []string
	}{
		{
			name: "reorder every list",
			cfg:  reorderAll(dev),
		},
		{
			name: "onboard a caller",
			cfg: editList(t, dev, "private-run-api:callers", func(cs []any) []any {
				return append([]any{newCaller}, cs...) // first, to shift every position
			}),
			added: []string{
				tAccount + " orders-mobile",
				tAccountIAM + " orders-mobile-openid-self",
				tAccountIAM + " orders-mobile-token-creator",
				tAccountIAM + " orders-mobile-token-creator-expires-20270331t000000z",
				tAccountIAM + " orders-mobile-token-creator-expires-20270630t000000z",
				tComponentSA + " orders-mobile",
			},
			changed: []string{tBucketIAM + " authz-members", tServiceIAM + " orders-api-run-invoker"},
		},
		{
			name: "remove a caller",
			cfg: editList(t, dev, "private-run-api:callers", func(cs []any) []any {
				return slices.DeleteFunc(cs, func(c any) bool { return c.(map[string]any)["name"] == "orders-batch" })
			}),
			removed: []string{
				tAccount + " orders-batch",
				tAccountIAM + " orders-batch-openid-self",
				tAccountIAM + " orders-batch-token-creator",
				tAccountIAM + " orders-batch-token-creator-expires-20270331t000000z",
				tComponentSA + " orders-batch",
			},
			changed: []string{tServiceIAM + " orders-api-run-invoker"},
		},
		{
			name: "onboard an external caller",
			cfg: editList(t, dev, "private-run-api:callers", func(cs []any) []any {
				return append(cs, map[string]any{"name": "search-indexer", "email": "indexer@acme-search.iam.gserviceaccount.com"})
			}),
			changed: []string{tServiceIAM + " orders-api-run-invoker"},
		},
		{
			name: "add a default impersonator",
			cfg: editList(t, dev, "private-run-api:impersonators", func(l []any) []any {
				return append(l, "user:new.dev@acme.example")
			}),
			changed: []string{
				tAccountIAM + " cdn-purger-token-creator",
				tAccountIAM + " orders-batch-token-creator",
				tAccountIAM + " orders-front-token-creator",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			after := mustRun(t, tc.cfg, runOpts{})
			got := compareRuns(before, after)
			check := func(what string, got, want []string) {
				want = sorted(want)
				if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
					t.Errorf("%s:\n got %v\nwant %v", what, got, want)
				}
			}
			check("added", got.added, tc.added)
			check("removed", got.removed, tc.removed)
			check("changed", got.changed, tc.changed)
		})
	}
}
