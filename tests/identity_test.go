package tests

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

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
	dev := exampleStack(t)
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
				tAccountPolicy + " orders-mobile-policy",
			},
			changed: []string{tBucketPolicy + " authz-policy", tServicePolicy + " orders-api-policy"},
		},
		{
			name: "remove a caller",
			cfg: editList(t, dev, "private-run-api:callers", func(cs []any) []any {
				return slices.DeleteFunc(cs, func(c any) bool { return c.(map[string]any)["name"] == "orders-batch" })
			}),
			removed: []string{
				tAccount + " orders-batch",
				tAccountPolicy + " orders-batch-policy",
			},
			changed: []string{tServicePolicy + " orders-api-policy"},
		},
		{
			name: "onboard an external caller",
			cfg: editList(t, dev, "private-run-api:callers", func(cs []any) []any {
				return append(cs, map[string]any{"name": "search-indexer", "email": "indexer@acme-search.iam.gserviceaccount.com"})
			}),
			changed: []string{tServicePolicy + " orders-api-policy"},
		},
		{
			name: "add a default impersonator",
			cfg: editList(t, dev, "private-run-api:impersonators", func(l []any) []any {
				return append(l, "user:new.dev@acme.example")
			}),
			changed: []string{
				tAccountPolicy + " cdn-purger-policy",
				tAccountPolicy + " orders-batch-policy",
				tAccountPolicy + " orders-front-policy",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			after := mustRun(t, tc.cfg, runOpts{})
			got := diffRuns(before, after)
			check := func(what string, got, want []string) {
				want = sortedCopy(want)
				if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
					t.Errorf("%s:\n got %v\nwant %v", what, got, want)
				}
			}
			check("added", got.added, tc.added)
			check("removed", got.removed, tc.removed)
			check("changed", got.changed, tc.changed)
			check("dependencies changed without inputs", got.depsOnly, nil)
		})
	}
}
