package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/platform/private-run-api/internal/gcp/roles"
)

// customRole is a custom role declared in the stack, with what it holds.
type customRole struct {
	// name is the full role name when known (projects/p/roles/id, organizations/o/roles/id); ""
	// when the project is left to the provider's default, and then only id is matched.
	name, id string
	perms    []string
}

// customRolesOf finds the custom roles of a stack whose permissions are known. A role's full
// name is an output; from inputs it is built from project (or orgId) and roleId.
func customRolesOf(rs []Resource) []customRole {
	var out []customRole
	for _, r := range rs {
		if !slices.Contains(customRoleTypes, r.Type) {
			continue
		}
		perms, unknown := strList(r.Properties.Get("permissions"))
		id := str(r.Properties.Get("roleId"))
		if unknown || !id.known || id.s == "" {
			continue
		}
		c := customRole{id: id.s, perms: perms}
		if n := str(r.Properties.Get("name")); n.known && strings.Contains(n.s, "/roles/") {
			c.name = n.s
		} else if p := str(r.Properties.Get("project")); p.known && p.s != "" {
			c.name = "projects/" + p.s + "/roles/" + id.s
		} else if o := str(r.Properties.Get("orgId")); o.known && o.s != "" {
			c.name = "organizations/" + o.s + "/roles/" + id.s
		}
		out = append(out, c)
	}
	return out
}

// is reports whether a granted role names this custom role.
func (c customRole) is(role string) bool {
	if c.name != "" {
		return role == c.name
	}
	return strings.HasPrefix(role, "projects/") && strings.HasSuffix(role, "/roles/"+c.id)
}

// roleSet tells what a granted role holds: predefined roles from the one table (gcp/roles),
// custom roles from the stack. A resource-level policy sees one resource and so no custom role;
// the stack-level custom-role-grants runs the same checks with the stack's.
type roleSet struct{ custom []customRole }

// of is the role's tracked permissions, and whether the role is known at all: a custom role made
// outside the stack, or a predefined role newer than the table, is not.
func (s roleSet) of(role string) (roles.Perms, bool) {
	if strings.HasPrefix(role, "roles/") {
		return roles.Predefined(role)
	}
	for _, c := range s.custom {
		if c.is(role) {
			return roles.PermsOf(c.perms), true
		}
	}
	return 0, false
}

// actsAsAccounts is what a known role holds, and whether it lets its holder act as the service
// accounts it reaches (roles.ImpersonationPermissions) or grant itself that
// (iam.serviceAccounts.setIamPolicy). An unknown role does not.
func (s roleSet) actsAsAccounts(role string) (roles.Perms, bool) {
	p, known := s.of(role)
	return p, known && (p.Impersonates() || p.Has(roles.AccountsSetPolicy))
}

// actingPermissions are the permissions roleSet.actsAsAccounts looks for.
var actingPermissions = append(slices.Clone(roles.ImpersonationPermissions), roles.AccountsSetPolicy)

// holding says which of perms the role holds, for a message: "the role holds a, b".
func holding(p roles.Perms, perms ...string) string {
	var held []string
	for _, perm := range perms {
		if p.Has(perm) {
			held = append(held, perm)
		}
	}
	slices.Sort(held)
	return fmt.Sprintf("the role holds %s", strings.Join(held, ", "))
}
