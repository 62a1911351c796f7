package live

import (
	"cmp"
	"context"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	iam "google.golang.org/api/iam/v1"

	"github.com/platform/private-run-api/internal/gcp/roledefs"
	"github.com/platform/private-run-api/internal/gcp/roles"
)

// Watched are the permissions whose holders above the declared resources can reach the API
// without any grant the program makes: calling the service, passing the authz guard, acting as a
// caller account (every way to mint its tokens or use it), and rewriting a policy that could
// grant any of those (the service's, the bucket's, an account's, the project's, and a folder's or
// the organization's, which reach everything below them).
var Watched = slices.Sorted(slices.Values(slices.Concat(
	[]string{roles.RunRoutesInvoke, roles.StorageBucketsGet},
	roles.ImpersonationPermissions,
	[]string{roles.AccountsSetPolicy, roles.RunServicesSetPolicy, roles.StorageBucketsSetPolicy, roles.ProjectsSetPolicy,
		roles.FoldersSetPolicy, roles.OrganizationSetPolicy},
)))

var watched = roles.PermsOf(Watched)

// Levels of the resource hierarchy the report reads.
const (
	LevelProject      = "project"
	LevelFolder       = "folder"
	LevelOrganization = "organization"
	// LevelAncestry stands for the levels above a project whose ancestry could not be read.
	LevelAncestry = "folders and organization above project"
)

// Level is one project, folder or organization whose policy was read (or not) for holders of
// the watched permissions.
type Level struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Unread is set when the policy could not be read: its holders are unknown, not none.
	Unread
	Holders []Holder `json:"holders"`
	// Unchecked are roles bound there whose permissions could not be read.
	Unchecked []string `json:"uncheckedRoles"`
}

func (l Level) label() string { return l.Kind + " " + l.ID }

// Holder is one member holding watched permissions through one role at one level.
type Holder struct {
	Member      string     `json:"member"`
	Role        string     `json:"role"`
	Condition   *Condition `json:"condition,omitempty"`
	Permissions []string   `json:"permissions"`
}

// level is a Level being read.
type level struct {
	Level
	resource string // projects/P, folders/F, organizations/O
	bindings []Binding
}

// outside reads the policies of projects and of every folder and organization above them,
// as far as the caller may, and lists who holds the watched permissions there.
func outside(ctx context.Context, c *clients, projects []string) []Level {
	// The ancestry of each project, in parallel; then every distinct level once.
	chains := make([][]*crmv1.Ancestor, len(projects))
	errs := make([]error, len(projects))
	var g errgroup.Group
	g.SetLimit(4)
	for i, p := range projects {
		g.Go(func() error {
			resp, err := c.ancestry.Projects.GetAncestry(p, &crmv1.GetAncestryRequest{}).Context(ctx).Do()
			if err != nil {
				errs[i] = err
				return nil
			}
			chains[i] = resp.Ancestor
			return nil
		})
	}
	_ = g.Wait()

	var levels []*level
	seen := map[string]bool{}
	add := func(kind, id string) {
		prefix := map[string]string{LevelProject: "projects/", LevelFolder: "folders/", LevelOrganization: "organizations/"}[kind]
		if prefix == "" || seen[prefix+id] {
			return
		}
		seen[prefix+id] = true
		levels = append(levels, &level{Level: Level{Kind: kind, ID: id, Holders: []Holder{}, Unchecked: []string{}}, resource: prefix + id})
	}
	var unknown []Level
	for i, p := range projects {
		add(LevelProject, p)
		if errs[i] != nil {
			problem, fix := cannotRead(errs[i], "resourcemanager.projects.get", "project "+p, true)
			unknown = append(unknown, Level{Kind: LevelAncestry, ID: p, Unread: Unread{Error: problem,
				Fix: fix + ". Until then, who holds access on its folders and organization is unknown, not nobody."}, Holders: []Holder{}, Unchecked: []string{}})
			continue
		}
		for _, a := range chains[i] {
			if a.ResourceId != nil && a.ResourceId.Type != LevelProject {
				add(a.ResourceId.Type, a.ResourceId.Id)
			}
		}
	}

	var reads errgroup.Group
	reads.SetLimit(4)
	for _, l := range levels {
		reads.Go(func() error {
			var bs []Binding
			var err error
			switch l.Kind {
			case LevelProject:
				pol, e := c.crm.Projects.GetIamPolicy(l.resource, crmPolicyRequest()).Context(ctx).Do()
				if err = e; e == nil {
					bs, err = bindingsOf(pol)
				}
			case LevelFolder:
				pol, e := c.crm.Folders.GetIamPolicy(l.resource, crmPolicyRequest()).Context(ctx).Do()
				if err = e; e == nil {
					bs, err = bindingsOf(pol)
				}
			case LevelOrganization:
				pol, e := c.crm.Organizations.GetIamPolicy(l.resource, crmPolicyRequest()).Context(ctx).Do()
				if err = e; e == nil {
					bs, err = bindingsOf(pol)
				}
			}
			if err != nil {
				problem, fix := cannotRead(err, "resourcemanager."+l.Kind+"s.getIamPolicy", l.label(), l.Kind == LevelProject)
				l.Error, l.Fix = problem, fix+". Until then, who holds access there is unknown, not nobody."
				return nil
			}
			l.bindings = bs
			return nil
		})
	}
	_ = reads.Wait()

	var all []Binding
	for _, l := range levels {
		all = append(all, l.bindings...)
	}
	perms := rolePermissions(ctx, c.iam, all)
	out := make([]Level, 0, len(levels)+len(unknown))
	for _, l := range levels {
		for _, b := range l.bindings {
			check := perms[b.Role]
			if !check.known {
				if u := b.Role + " (" + check.err + ")"; !slices.Contains(l.Unchecked, u) {
					l.Unchecked = append(l.Unchecked, u)
				}
				continue
			}
			held := check.perms & watched
			if held == 0 {
				continue
			}
			for _, m := range b.Members {
				if isDeleted(m) {
					continue // a deleted principal holds nothing
				}
				l.Holders = append(l.Holders, Holder{Member: m, Role: b.Role, Condition: b.Condition, Permissions: held.List()})
			}
		}
		slices.SortFunc(l.Holders, func(x, y Holder) int {
			return cmp.Or(cmp.Compare(x.Member, y.Member), cmp.Compare(x.Role+x.Condition.key(), y.Role+y.Condition.key()))
		})
		sort.Strings(l.Unchecked)
		out = append(out, l.Level)
	}
	return append(out, unknown...)
}

// roleCheck is what a role lets its holder do, as far as the report could find out: known is
// false when its permissions could not be read, and err says why.
type roleCheck struct {
	perms roles.Perms
	known bool
	err   string
}

// rolePermissions resolves every role of bs to its tracked permissions: predefined roles from
// the checked-in table (gcp/roles), any other role (a custom role, or a predefined role newer
// than the table) read live with the IAM API. A deleted custom role stays in policies but grants
// nothing.
func rolePermissions(ctx context.Context, svc *iam.Service, bs []Binding) map[string]roleCheck {
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.Role
	}
	known := func(role string) (roleCheck, bool) {
		p, ok := roles.Predefined(role)
		return roleCheck{perms: p, known: ok}, ok
	}
	return roledefs.Lookup(ctx, svc, names, known, func(role *iam.Role, err error) roleCheck {
		switch {
		case err != nil && denied(err):
			return roleCheck{err: "reading it needs iam.roles.get where it is defined: " + shortError(err)}
		case err != nil:
			return roleCheck{err: shortError(err)}
		case role.Deleted:
			return roleCheck{known: true} // grants nothing
		}
		return roleCheck{perms: roles.PermsOf(role.IncludedPermissions), known: true}
	})
}
