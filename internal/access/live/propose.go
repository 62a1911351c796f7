package live

import (
	"errors"
	"fmt"
	"slices"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/plan"
)

// propose edits the stack config so that the unused grants go and nothing else changes, and
// checks that with the access diff: the program's own plan of the edited config may lose only
// those grants (and the OpenID self-grant of an account nobody may impersonate any more).
//
//   - A caller's own impersonator unused on that caller is removed.
//   - A default impersonator (private-run-api:impersonators, on every created caller) unused on
//     every caller is removed; one used on some callers only is moved to those callers' own
//     lists, with its expiry (an entry a caller already has keeps the longer expiry).
func propose(req UsageRequest, unused []UnusedGrant) (*Proposal, error) {
	cfg := req.Config
	if cfg == nil {
		return nil, errors.New("the stack's config was not given")
	}
	isUnused := map[string]bool{} // caller name + member
	for _, g := range unused {
		isUnused[g.Caller+"\x00"+g.Member] = true
	}
	live := func(imp config.Impersonator) bool {
		if imp.Expires == "" {
			return true
		}
		t, err := config.ParseExpiry(imp.Expires)
		return err == nil && t.After(req.At) // a passed expiry grants nothing already
	}
	created := func(c config.Caller) bool { return !c.External() }

	edited := *cfg
	edited.Impersonators = nil
	edited.Callers = make([]config.Caller, len(cfg.Callers))
	for i, c := range cfg.Callers {
		edited.Callers[i] = c
		edited.Callers[i].Impersonators = slices.Clone(c.Impersonators)
	}
	var changes []ConfigChange
	for j, imp := range cfg.Impersonators {
		path := fmt.Sprintf("%s[%d]", config.KeyImpersonators, j)
		var usedOn []int
		unusedSomewhere := false
		for i, c := range cfg.Callers {
			if !created(c) {
				continue
			}
			if isUnused[c.Name+"\x00"+imp.Member] {
				unusedSomewhere = true
			} else {
				usedOn = append(usedOn, i)
			}
		}
		if !live(imp) || !unusedSomewhere {
			edited.Impersonators = append(edited.Impersonators, imp)
			continue
		}
		why := "minted as no caller account in the window"
		if len(usedOn) > 0 {
			why = "unused on some caller accounts in the window: moved to the callers it minted as"
		}
		changes = append(changes, ConfigChange{Action: "remove", Path: path, Member: imp.Member, Expires: imp.Expires, Why: why})
		for _, i := range usedOn {
			c := &edited.Callers[i]
			list := fmt.Sprintf("%s[%d].impersonators", config.KeyCallers, i)
			k := slices.IndexFunc(c.Impersonators, func(x config.Impersonator) bool { return x.Member == imp.Member })
			switch {
			case k < 0:
				c.Impersonators = append(c.Impersonators, imp)
				changes = append(changes, ConfigChange{Action: "add", Path: list, Member: imp.Member, Expires: imp.Expires,
					Why: "moved from " + path + ": used as caller " + c.Name})
			case longerExpiry(imp.Expires, c.Impersonators[k].Expires):
				c.Impersonators[k].Expires = imp.Expires
				changes = append(changes, ConfigChange{Action: "set expires", Path: fmt.Sprintf("%s[%d]", list, k), Member: imp.Member, Expires: imp.Expires,
					Why: "keeps the longer expiry " + path + " gave it on caller " + c.Name})
			}
		}
	}
	for i, c := range cfg.Callers {
		if !created(c) {
			continue
		}
		var keep []config.Impersonator
		for k, imp := range edited.Callers[i].Impersonators {
			// Entries added above come after the caller's own, so k indexes the original list.
			if k < len(c.Impersonators) && live(imp) && isUnused[c.Name+"\x00"+imp.Member] {
				changes = append(changes, ConfigChange{Action: "remove", Path: fmt.Sprintf("%s[%d].impersonators[%d]", config.KeyCallers, i, k), Member: imp.Member, Expires: imp.Expires,
					Why: "minted as caller " + c.Name + " not once in the window"})
				continue
			}
			keep = append(keep, imp)
		}
		edited.Callers[i].Impersonators = keep
	}

	before := access.Build(req.Stack, req.Plan, req.At)
	after := access.Build(req.Stack, plan.Resolve(&edited, req.At), req.At)
	d := access.Compare(before, after, "Pulumi."+req.Stack+".yaml", "Pulumi."+req.Stack+".yaml without the unused grants")
	if err := dropsOnly(d, unused); err != nil {
		return nil, err
	}
	return &Proposal{Changes: changes, Diff: d}, nil
}

// longerExpiry reports whether expiry a outlasts b ("" is forever), as the plan merges them.
func longerExpiry(a, b string) bool {
	if b == "" {
		return false
	}
	if a == "" {
		return true
	}
	ta, errA := config.ParseExpiry(a)
	tb, errB := config.ParseExpiry(b)
	return errA == nil && errB == nil && ta.After(tb)
}

// dropsOnly checks that a proposal's diff removes the unused token-creator grants and nothing
// else, but the OpenID self-grant of an account left with no impersonator.
func dropsOnly(d access.Diff, unused []UnusedGrant) error {
	want := map[string]bool{}
	for _, g := range unused {
		want[g.Member+"\x00"+g.Account] = true
	}
	if len(d.Inventory) > 0 {
		it := d.Inventory[0]
		return fmt.Errorf("the edited config would change %s %s; nothing is proposed, so edit by hand", it.Kind, it.Name)
	}
	removed := map[string]bool{}
	for _, g := range d.Grants {
		key := g.Principal + "\x00" + g.Target.Name
		switch {
		case g.Change == access.Removed && g.Role == plan.RoleTokenCreator && want[key]:
			removed[key] = true
		case g.Change == access.Removed && g.Role == plan.RoleOpenIDTokenCreator && g.Principal == "serviceAccount:"+g.Target.Name:
		default:
			return fmt.Errorf("the edited config would also make the change %s %s to %s on %s (expires %s); nothing is proposed, so edit by hand",
				g.Change, g.Role, g.Principal, g.Target.Name, access.FormatExpiry(g.Expires))
		}
	}
	if len(removed) != len(want) {
		return fmt.Errorf("the edited config drops %d of the %d unused grants; nothing is proposed, so edit by hand", len(removed), len(want))
	}
	return nil
}
