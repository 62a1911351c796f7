package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

const (
	tBucketIAMPolicy  = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
	tBucketIAMBinding = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
	tBucketIAMMember  = "gcp:storage/bucketIAMMember:BucketIAMMember"
)

var authzBucketIAMOnePolicy = StackPolicy{
	Name: "authz-bucket-iam-one-policy",
	Description: "A bucket an authz guard's role is granted on has its whole IAM as one gcp:storage/BucketIAMPolicy, " +
		"with no BucketIAMBinding or BucketIAMMember on it, and the role is never granted partially or on a " +
		"project, folder or organization. A guard's role is a custom role in the stack holding only " +
		AuthzPermission + " (whatever its name), or a role the whole bucket policy of a private-run-api authz guard " +
		"(" + AuthzGuardType + ") grants, such as one its authz.role names. A new bucket carries convenience " +
		"bindings that give project owners, editors and viewers " + AuthzPermission + ", so they would pass the " +
		"guard; only a whole policy removes them. On any bucket, a BucketIAMPolicy and partial bucket IAM " +
		"overwrite each other on every update.",
	Remediation: "Replace the bucket's gcp:storage/BucketIAMBinding and BucketIAMMember resources with one " +
		"gcp:storage/BucketIAMPolicy whose policyData (render it with gcp.organizations.getIAMPolicy) lists " +
		"every binding the bucket should have, the guard role's included. Grant the guard role only there.",
	Level: policyx.EnforcementLevelMandatory,
	check: checkAuthzBuckets,
}

// AuthzGuardType is the private-run-api program's authz guard component (iam.AuthzGuardType):
// every role its bucket policy grants is the guard's, even when the role is made elsewhere and
// the stack holds no definition of it.
const AuthzGuardType = "privateapi:iam:AuthzGuard"

// parentTypes are the types of a resource's ancestors, from its URN
// (urn:pulumi:<stack>::<project>::<parent type>$...$<type>::<name>).
func parentTypes(urn string) []string {
	u := resource.URN(urn)
	if !u.IsValid() {
		return nil // QualifiedType would panic
	}
	qualified := string(u.QualifiedType())
	types := strings.Split(qualified, "$")
	return types[:len(types)-1]
}

// guardRoles are the stack's authz guard roles: the custom roles that hold only
// storage.buckets.get, whatever they are called, and what a guard component's bucket policy
// grants.
func guardRoles(rs []Resource) []customRole {
	var out []customRole
	for _, c := range customRolesOf(rs) {
		if slices.Equal(slices.Compact(slices.Sorted(slices.Values(c.perms))), []string{AuthzPermission}) {
			out = append(out, c)
		}
	}
	for _, r := range rs {
		if r.Type != tBucketIAMPolicy || !slices.Contains(parentTypes(r.URN), AuthzGuardType) {
			continue
		}
		gs, _, err := Grants(r)
		if err != nil {
			continue
		}
		for _, g := range gs {
			if g.RoleKnown && g.Role != "" {
				out = append(out, customRole{name: g.Role})
			}
		}
	}
	return out
}

func isGuardRole(roles []customRole, role string) bool {
	return slices.ContainsFunc(roles, func(c customRole) bool { return c.is(role) })
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

var customRoleGrants = StackPolicy{
	Name: "custom-role-grants",
	Description: "Grants of the stack's custom roles are held to the rules that judge a role by what it holds " +
		"(impersonation-only-on-service-accounts, impersonation-only-to-named-principals, " +
		"run-invoker-service-accounts-only, with their default config): a resource-level policy sees one grant " +
		"and knows predefined roles only, so a custom role holding iam.serviceAccounts.getAccessToken or " +
		"run.routes.invoke is judged here, with its permissions read from its IAMCustomRole in the stack.",
	Remediation: "Follow the remediation of the policy named in brackets: grant the custom role on one service " +
		"account, to named principals, or (for run.routes.invoke) to service accounts only; or take the " +
		"permission out of the custom role.",
	Level: policyx.EnforcementLevelMandatory,
	check: checkCustomRoleGrants,
}

// roleAwarePolicies are the mandatory resource-level policies whose verdict depends on what a
// granted role holds; custom-role-grants runs them again knowing the stack's custom roles.
func roleAwarePolicies() []ResourcePolicy {
	return []ResourcePolicy{impersonationOnServiceAccountsOnly, impersonationOnlyToNamedPrincipals, runInvokerServiceAccountsOnly}
}

// checkCustomRoleGrants reports what each role-aware policy finds once it knows the stack's
// custom roles, beyond what it found without them (which the policy reports itself).
func checkCustomRoleGrants(rs []Resource) []Finding {
	custom := customRolesOf(rs)
	if len(custom) == 0 {
		return nil
	}
	var out []Finding
	for _, p := range roleAwarePolicies() {
		without, err := decode(p.Props, nil)
		if err != nil {
			panic(err) // defaults are valid by construction; TestEveryPolicyIsDescribed holds them to it
		}
		with := without
		with.roles = roleSet{custom: custom}
		for _, r := range rs {
			if IAMKindOf(r.Type) == NotIAM {
				continue
			}
			already := map[string]int{}
			for _, m := range p.check(r, without) {
				already[m]++
			}
			for _, m := range p.check(r, with) {
				if already[m] > 0 {
					already[m]--
					continue
				}
				out = append(out, Finding{r.URN, "[" + p.Name + "] " + m})
			}
		}
	}
	return out
}
