package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

const (
	tBucketIAMPolicy  = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
	tBucketIAMBinding = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
	tBucketIAMMember  = "gcp:storage/bucketIAMMember:BucketIAMMember"
)

var authzBucketIAMOnePolicy = StackPolicy{
	Name: "authz-bucket-iam-one-policy",
	Description: "A bucket an authz guard's role (a custom role in the stack holding only " + AuthzPermission +
		") is granted on has its whole IAM as one gcp:storage/BucketIAMPolicy, with no BucketIAMBinding or " +
		"BucketIAMMember on it, and the role is never granted on a project, folder or organization. A new " +
		"bucket carries convenience bindings that give project owners, editors and viewers " + AuthzPermission +
		", so they would pass the guard; only a whole policy removes them. On any bucket, a BucketIAMPolicy and " +
		"partial bucket IAM overwrite each other on every update.",
	Remediation: "Replace the bucket's gcp:storage/BucketIAMBinding and BucketIAMMember resources with one " +
		"gcp:storage/BucketIAMPolicy whose policyData (render it with gcp.organizations.getIAMPolicy) lists " +
		"every binding the bucket should have, the guard role's included. Grant the guard role only there.",
	Level: policyx.EnforcementLevelMandatory,
	check: checkAuthzBuckets,
}

// guardRole is a custom role in the stack that holds only storage.buckets.get.
type guardRole struct {
	// name is the full role name when known (projects/p/roles/id, organizations/o/roles/id).
	name, id string
}

// guardRoles finds the stack's guard roles. A role's full name is an output; from inputs it is
// built from project (or orgId) and roleId, and when project is left to the provider's default
// only the role ID is matched.
func guardRoles(rs []Resource) []guardRole {
	var out []guardRole
	for _, r := range rs {
		if !slices.Contains(customRoleTypes, r.Type) {
			continue
		}
		perms, unknown := strList(r.Properties.Get("permissions"))
		if unknown || len(perms) != 1 || perms[0] != AuthzPermission {
			continue
		}
		id := str(r.Properties.Get("roleId"))
		if !id.known || id.s == "" {
			continue
		}
		g := guardRole{id: id.s}
		if n := str(r.Properties.Get("name")); n.known && strings.Contains(n.s, "/roles/") {
			g.name = n.s
		} else if p := str(r.Properties.Get("project")); p.known && p.s != "" {
			g.name = "projects/" + p.s + "/roles/" + id.s
		} else if o := str(r.Properties.Get("orgId")); o.known && o.s != "" {
			g.name = "organizations/" + o.s + "/roles/" + id.s
		}
		out = append(out, g)
	}
	return out
}

func isGuardRole(roles []guardRole, role string) bool {
	for _, g := range roles {
		if g.name != "" && role == g.name {
			return true
		}
		if g.name == "" && strings.HasPrefix(role, "projects/") && strings.HasSuffix(role, "/roles/"+g.id) {
			return true
		}
	}
	return false
}

// bucketOf is the bucket an IAM resource targets: its name as the inputs give it, or "b/<name>"
// as the provider's outputs do.
func bucketOf(r Resource) (string, bool) {
	b := str(r.Properties.Get("bucket"))
	if !b.known || b.s == "" {
		return "", false
	}
	return strings.TrimPrefix(b.s, "b/"), true
}

func checkAuthzBuckets(rs []Resource) []Finding {
	roles := guardRoles(rs)
	var out []Finding
	type bucketIAM struct {
		policies, partials []Resource
		guardRole          string
	}
	buckets := map[string]*bucketIAM{}
	var order []string
	at := func(name string) *bucketIAM {
		if buckets[name] == nil {
			buckets[name] = &bucketIAM{}
			order = append(order, name)
		}
		return buckets[name]
	}
	for _, r := range rs {
		if IAMKindOf(r.Type) == NotIAM {
			continue
		}
		gs, _, err := Grants(r)
		if err != nil {
			continue // no-public-principals and the other grant readers report it
		}
		var granted []string
		for _, g := range gs {
			if isGuardRole(roles, g.Role) {
				granted = append(granted, g.Role)
			}
		}
		if level := hierarchyLevel(r.Type); level != "" {
			for _, role := range granted {
				out = append(out, Finding{r.URN, fmt.Sprintf("%s grants the authz guard role %s at %s level, "+
					"which passes the guard of every bucket in that %s", where(r), role, level, level)})
			}
			continue
		}
		switch r.Type {
		case tBucketIAMPolicy, tBucketIAMBinding, tBucketIAMMember:
		default:
			continue
		}
		partial := r.Type != tBucketIAMPolicy
		if partial {
			// Wherever the bucket is, a partial grant of the guard role is wrong: it leaves the
			// bucket's other bindings, convenience ones included, in place.
			for _, role := range granted {
				out = append(out, Finding{r.URN, fmt.Sprintf("%s grants the authz guard role %s as a partial grant; "+
					"the guard's bucket needs its whole IAM in one BucketIAMPolicy", describe(r), role)})
			}
		}
		name, ok := bucketOf(r)
		if !ok {
			continue
		}
		b := at(name)
		if partial {
			b.partials = append(b.partials, r)
		} else {
			b.policies = append(b.policies, r)
		}
		if len(granted) > 0 {
			b.guardRole = granted[0]
		}
	}
	for _, name := range order {
		b := buckets[name]
		if len(b.policies) > 1 {
			var names []string
			for _, p := range b.policies[1:] {
				names = append(names, describe(p))
			}
			out = append(out, Finding{b.policies[0].URN, fmt.Sprintf("bucket %s has %d BucketIAMPolicy resources (%s and %s): "+
				"each replaces the whole policy, so one must own it", name, len(b.policies), describe(b.policies[0]), strings.Join(names, ", "))})
		}
		for _, p := range b.partials {
			switch {
			case len(b.policies) > 0:
				out = append(out, Finding{p.URN, fmt.Sprintf("%s adds to bucket %s, whose whole IAM %s sets: "+
					"they overwrite each other on every update", describe(p), name, describe(b.policies[0]))})
			case b.guardRole != "" && !slices.ContainsFunc(grantedRoles(p), func(role string) bool { return isGuardRole(roles, role) }):
				out = append(out, Finding{p.URN, fmt.Sprintf("%s grants on bucket %s, an authz guard's bucket (role %s), "+
					"outside one BucketIAMPolicy", describe(p), name, b.guardRole)})
			}
		}
	}
	return out
}

func grantedRoles(r Resource) []string {
	gs, _, _ := Grants(r)
	var roles []string
	for _, g := range gs {
		roles = append(roles, g.Role)
	}
	return roles
}
