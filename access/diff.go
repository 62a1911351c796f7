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
}

// Compare lists what head grants or creates that base does not, and the reverse. Grants are
// ordered by principal so that a reviewer reads each principal's gains and losses together.
func Compare(base, head Report, baseLabel, headLabel string) Diff {
	d := Diff{Stack: head.Stack, Base: baseLabel, Head: headLabel,
		Grants: []GrantChange{}, Inventory: []ItemChange{}, Warnings: append([]string{}, head.Warnings...)}

	before := make(map[string]Grant, len(base.Grants))
	for _, g := range base.Grants {
		before[g.key()] = g
	}
	after := make(map[string]bool, len(head.Grants))
	for _, g := range head.Grants {
		after[g.key()] = true
		switch old, ok := before[g.key()]; {
		case !ok:
			d.Grants = append(d.Grants, GrantChange{Change: Added, Grant: g})
		case !sameExpiry(old.Expires, g.Expires):
			d.Grants = append(d.Grants, GrantChange{Change: Changed, Grant: g, BaseExpires: old.Expires})
		}
	}
	for _, g := range base.Grants {
		if !after[g.key()] {
			d.Grants = append(d.Grants, GrantChange{Change: Removed, Grant: g})
		}
	}
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

	beforeItems := make(map[string]Item, len(base.Inventory))
	for _, it := range base.Inventory {
		beforeItems[it.key()] = it
	}
	afterItems := make(map[string]bool, len(head.Inventory))
	for _, it := range head.Inventory {
		afterItems[it.key()] = true
		switch old, ok := beforeItems[it.key()]; {
		case !ok:
			d.Inventory = append(d.Inventory, ItemChange{Change: Added, Item: it})
		case old.Detail != it.Detail:
			d.Inventory = append(d.Inventory, ItemChange{Change: Changed, Item: it, BaseDetail: old.Detail})
		}
	}
	for _, it := range base.Inventory {
		if !afterItems[it.key()] {
			d.Inventory = append(d.Inventory, ItemChange{Change: Removed, Item: it})
		}
	}
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
