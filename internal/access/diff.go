package access

import (
	"sort"
	"time"
)

// Change says how a grant or item differs between the base and the head report.
type Change string

const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// symbol is the one-character marker of a change in text and Markdown.
func (c Change) symbol() string {
	switch c {
	case Added:
		return "+"
	case Removed:
		return "-"
	}
	return "~"
}

// GrantChange is one grant added, removed, or whose expiry moved.
type GrantChange struct {
	Change Change `json:"change"`
	// Grant is the head's grant, or the base's for a removal.
	Grant
	// BaseExpires is the expiry before the change, for Changed only.
	BaseExpires *time.Time `json:"baseExpires,omitempty"`
}

// ItemChange is one created resource added, removed, or whose Detail changed.
type ItemChange struct {
	Change Change `json:"change"`
	Item
	// BaseDetail is the detail before the change, for Changed only.
	BaseDetail string `json:"baseDetail,omitempty"`
}

// Diff is what differs between two reports of one stack.
type Diff struct {
	Stack string `json:"stack"`
	// Base and Head say what was compared, e.g. "origin/main" and "working tree".
	Base string `json:"base"`
	Head string `json:"head"`
	// Changed is true when there is anything below; CI uses it (or exit status 3).
	Changed   bool          `json:"changed"`
	Grants    []GrantChange `json:"grants"`
	Inventory []ItemChange  `json:"inventory"`
	// Warnings are the head's: they describe what the change would deploy.
	Warnings []string `json:"warnings"`
	// OutsideConfig lists what the change touches besides stack files and caller files, when
	// both sides are git revisions (empty otherwise, never null): code, workflows, the policy
	// pack, Pulumi.yaml. This diff says nothing of what they do; the code owners' review does.
	OutsideConfig []string `json:"outsideConfig"`
}

// Compare lists what head grants or creates that base does not, and the reverse. Grants are
// ordered by principal so that a reviewer reads each principal's gains and losses together.
func Compare(base, head Report, baseLabel, headLabel string) Diff {
	d := Diff{Stack: head.Stack, Base: baseLabel, Head: headLabel,
		Grants: changes(base.Grants, head.Grants, Grant.key,
			func(old, g Grant) bool { return !sameExpiry(old.Expires, g.Expires) },
			func(c Change, g, old Grant) GrantChange {
				return GrantChange{Change: c, Grant: g, BaseExpires: old.Expires}
			}),
		Inventory: changes(base.Inventory, head.Inventory, Item.key,
			func(old, it Item) bool { return old.Detail != it.Detail },
			func(c Change, it, old Item) ItemChange {
				return ItemChange{Change: c, Item: it, BaseDetail: old.Detail}
			}),
		Warnings: append([]string{}, head.Warnings...), OutsideConfig: []string{}}
	sort.SliceStable(d.Grants, func(a, b int) bool {
		x, y := d.Grants[a], d.Grants[b]
		if x.Principal != y.Principal {
			return x.Principal < y.Principal
		}
		if x.Role != y.Role {
			return x.Role < y.Role
		}
		return x.Target.Resource < y.Target.Resource
	})
	sort.SliceStable(d.Inventory, func(a, b int) bool {
		x, y := d.Inventory[a], d.Inventory[b]
		if kindOrder[x.Kind] != kindOrder[y.Kind] {
			return kindOrder[x.Kind] < kindOrder[y.Kind]
		}
		return x.Name < y.Name
	})
	d.Changed = len(d.Grants) > 0 || len(d.Inventory) > 0
	return d
}

// changes pairs head's entries with base's by key and lists what differs, never nil: each of
// head's that base lacks as Added, each that differs from base's as Changed, then each of base's
// that head lacks as Removed. change makes one entry from the head's (for Removed, the base's) and
// old, the base's for Changed and the zero value otherwise.
func changes[T, C any](base, head []T, key func(T) string, differs func(old, x T) bool, change func(c Change, x, old T) C) []C {
	out := []C{}
	before := make(map[string]T, len(base))
	for _, x := range base {
		before[key(x)] = x
	}
	after := make(map[string]bool, len(head))
	for _, x := range head {
		after[key(x)] = true
		switch old, ok := before[key(x)]; {
		case !ok:
			out = append(out, change(Added, x, old))
		case differs(old, x):
			out = append(out, change(Changed, x, old))
		}
	}
	var none T
	for _, x := range base {
		if !after[key(x)] {
			out = append(out, change(Removed, x, none))
		}
	}
	return out
}

// counts tallies changes for a summary line.
func counts[T interface{ change() Change }](cs []T) (added, removed, changed int) {
	for _, c := range cs {
		switch c.change() {
		case Added:
			added++
		case Removed:
			removed++
		default:
			changed++
		}
	}
	return
}

func (g GrantChange) change() Change { return g.Change }
func (i ItemChange) change() Change  { return i.Change }
