// Package rules is the guardrails of a private Cloud Run API, written once as plain functions
// over resource properties: the policy pack in the parent directory wraps them for `pulumi
// preview --policy-pack`, and the program's own tests run them over what the program registers
// under Pulumi's mocks.
//
// Properties are a property.Map, the form policyx hands a policy. A check never panics on a value
// of the wrong kind, and reads an unknown value (a preview of something computed from another
// resource's output) as "cannot tell yet": it reports nothing for it, and the same check runs
// again with the value known when `pulumi up` registers the resource.
package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/platform/private-run-api/internal/gcp/roles"
)

// Resource is one resource as a policy sees it. Properties are the inputs for a resource-level
// check (policyx Analyze) and, in a real deployment, the outputs for a stack-level one
// (AnalyzeStack); the checks read both shapes.
type Resource struct {
	Type, URN, Name string
	Properties      property.Map
}

// ResourcePolicy checks one resource at a time.
type ResourcePolicy struct {
	Name string
	// Description says what the policy requires and why; Remediation what to change when it fails.
	Description, Remediation string
	// Level is the default enforcement level; the policy config can change it.
	Level policyx.EnforcementLevel
	// Props are the policy's configuration properties, with defaults.
	Props []Prop
	check func(Resource, settings) []string
}

// StackPolicy checks all the resources of a stack together, for rules no one resource can tell.
type StackPolicy struct {
	Name                     string
	Description, Remediation string
	Level                    policyx.EnforcementLevel
	check                    func([]Resource) []Finding
}

// Finding is a stack policy's verdict on one resource.
type Finding struct{ URN, Message string }

// Check runs the policy on one resource with its config properties (nil for the defaults) and
// returns one message per problem. The error is for a bad config, never for a bad resource.
func (p ResourcePolicy) Check(r Resource, props map[string]any) ([]string, error) {
	s, err := decode(p.Props, props)
	if err != nil {
		return nil, err
	}
	return p.check(r, s), nil
}

// Schema is the config schema the pack declares for the policy; nil when it takes only a level.
func (p ResourcePolicy) Schema() *policyx.ConfigSchema {
	if len(p.Props) == 0 {
		return nil
	}
	s := &policyx.ConfigSchema{Properties: map[string]map[string]any{}}
	for _, prop := range p.Props {
		s.Properties[prop.Name] = prop.schema()
	}
	return s
}

// Check runs the stack policy over every resource of a stack.
func (p StackPolicy) Check(rs []Resource) []Finding { return p.check(rs) }

// Report is the text of a violation as the pack reports it: what is wrong, then how to fix it.
// policyx puts the policy's description before it.
func Report(finding, remediation string) string {
	return finding + "\nHow to fix: " + remediation
}

// Violation is one problem CheckStack found.
type Violation struct {
	Policy  string
	Level   policyx.EnforcementLevel
	URN     string
	Message string
}

func (v Violation) String() string {
	return fmt.Sprintf("[%s] %s: %s (%s)", LevelName(v.Level), v.Policy, v.Message, v.URN)
}

// CheckStack runs every policy, at its default level and with default config, over the resources
// of one stack: each resource-level policy over each resource, then each stack-level policy.
func CheckStack(resources []Resource) []Violation {
	vs, err := CheckStackWith(resources, DefaultConfig())
	if err != nil {
		// DefaultConfig is valid by construction; the tests hold it to that.
		panic(err)
	}
	return vs
}

// CheckStackWith is CheckStack under a policy config (see ParseConfig); disabled policies do not
// run. The error is for a config a policy refuses.
func CheckStackWith(resources []Resource, c Config) ([]Violation, error) {
	var out []Violation
	for _, p := range ResourcePolicies() {
		level := c.Levels[p.Name]
		if level == policyx.EnforcementLevelDisabled {
			continue
		}
		for _, r := range resources {
			msgs, err := p.Check(r, c.Props[p.Name])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			for _, m := range msgs {
				out = append(out, Violation{Policy: p.Name, Level: level, URN: r.URN, Message: m})
			}
		}
	}
	for _, p := range StackPolicies() {
		level := c.Levels[p.Name]
		if level == policyx.EnforcementLevelDisabled {
			continue
		}
		for _, f := range p.Check(resources) {
			out = append(out, Violation{Policy: p.Name, Level: level, URN: f.URN, Message: f.Message})
		}
	}
	return out, nil
}

// ResourcePolicies are the pack's resource-level policies, in the order the pack registers them.
func ResourcePolicies() []ResourcePolicy {
	return []ResourcePolicy{
		noPublicPrincipals,
		impersonationOnServiceAccountsOnly,
		impersonationOnlyToNamedPrincipals,
		noServiceAccountKeys,
		runAsDedicatedServiceAccount,
		bucketUniformAccessPublicPrevention,
		authzRoleOnlyBucketsGet,
		runInvokerServiceAccountsOnly,
		impersonationGrantsExpire,
	}
}

// StackPolicies are the pack's stack-level policies.
func StackPolicies() []StackPolicy {
	return []StackPolicy{authzBucketIAMOnePolicy, customRoleGrants}
}

// grantsOf reads an IAM resource's grants for a policy: the grants, or one message saying why
// they cannot be checked. A policyData that is not a policy document blocks every policy that
// reads grants: what it grants cannot be verified (and the provider would refuse it anyway).
func grantsOf(r Resource) ([]Grant, []string) {
	gs, _, err := Grants(r)
	if err != nil {
		return nil, []string{fmt.Sprintf("%s cannot be checked: %v", describe(r), err)}
	}
	return gs, nil
}

// eachGrant is what judge finds in each grant an IAM resource makes, in order, after the message
// saying why the grants cannot be checked, if they cannot; a resource that is not IAM has none.
func eachGrant(r Resource, judge func(Grant) []string) []string {
	if IAMKindOf(r.Type) == NotIAM {
		return nil
	}
	gs, msgs := grantsOf(r)
	for _, g := range gs {
		msgs = append(msgs, judge(g)...)
	}
	return msgs
}

// eachActingGrant is eachGrant over the grants of a role that acts as service accounts
// (roleSet.actsAsAccounts), judged with what the role holds; the other grants yield nothing.
func eachActingGrant(r Resource, rs roleSet, judge func(Grant, roles.Perms) []string) []string {
	return eachGrant(r, func(g Grant) []string {
		p, acts := rs.actsAsAccounts(g.Role)
		if !acts {
			return nil
		}
		return judge(g, p)
	})
}

// judgeActingGrants is the check of a rule that is only about roles acting as service accounts:
// judge sees each such grant of the resource, with what the role holds (see eachActingGrant).
func judgeActingGrants(judge func(Resource, Grant, roles.Perms) []string) func(Resource, settings) []string {
	return func(r Resource, s settings) []string {
		return eachActingGrant(r, s.roles, func(g Grant, p roles.Perms) []string { return judge(r, g, p) })
	}
}

// describe names a resource in a message: its type's short name and its name.
func describe(r Resource) string {
	short := r.Type[strings.LastIndex(r.Type, ":")+1:]
	return fmt.Sprintf("%s %q", short, r.Name)
}

// where says how a grant was written, for messages: a policyData binding or the resource itself.
func where(r Resource) string {
	if IAMKindOf(r.Type) == Policy {
		return describe(r) + " (a binding in policyData)"
	}
	return describe(r)
}

var noPublicPrincipals = ResourcePolicy{
	Name: "no-public-principals",
	Description: "Nothing is granted to everyone: no IAM grant (bindings, members, policyData) on any Google Cloud " +
		"resource, no Cloud Storage ACL (BucketACL, BucketAccessControl, DefaultObjectACL, ObjectAccessControl, ...: " +
		"entities, role entities, predefined ACLs) and no BigQuery dataset access (DatasetAccess, Dataset accesses) " +
		"names allUsers, allAuthenticatedUsers, principalSet://goog/public:all, or domain:gmail.com or " +
		"domain:googlemail.com (every personal Google account).",
	Remediation: "Remove the public member and grant the role to the service accounts or groups that need it. " +
		"For a Cloud Run service, grant roles/run.invoker to each caller's service account; callers then send " +
		"an ID token. For a bucket, turn on uniform bucket-level access and grant IAM roles instead of ACLs. " +
		"Something that must be public belongs behind a load balancer with its own access control, not behind " +
		"a grant to everyone.",
	Level: policyx.EnforcementLevelMandatory,
	check: func(r Resource, _ settings) []string {
		msgs := eachGrant(r, func(g Grant) (msgs []string) {
			for _, m := range g.Members {
				if IsPublic(m) {
					msgs = append(msgs, fmt.Sprintf("%s grants %s to %s", where(r), roleText(g), m))
				}
			}
			return msgs
		})
		if isACL(r.Type) {
			for _, e := range aclEntries(r) {
				if IsPublic(e.member) {
					msgs = append(msgs, fmt.Sprintf("%s grants access to %s (%s %q)", describe(r), e.member, e.field, e.written))
				}
			}
		}
		return msgs
	},
}

var impersonationOnServiceAccountsOnly = ResourcePolicy{
	Name: "impersonation-only-on-service-accounts",
	Description: "A role that acts as service accounts (it holds one of " + strings.Join(actingPermissions, ", ") +
		": roles/iam.serviceAccountTokenCreator, serviceAccountUser, workloadIdentityUser, serviceAccountKeyAdmin, " +
		"serviceAccountAdmin, roles/editor, roles/owner, a custom role holding one, ...) is granted on one service " +
		"account at a time, never on a project, folder or organization, where it lets the principal act as every " +
		"service account below it, nor on any other resource. Roles are known by the permissions they hold.",
	Remediation: "Grant the role on the one service account to be impersonated: a gcp:serviceaccount/IAMMember " +
		"(or IAMBinding) with serviceAccountId set to that account's name " +
		"(projects/<project>/serviceAccounts/<email>). Then remove the project-, folder- or organization-level grant. " +
		"Instead of roles/editor or roles/owner, grant the predefined roles of the services the principal works with.",
	Level: policyx.EnforcementLevelMandatory,
	check: func(r Resource, s settings) []string {
		if onServiceAccount(r.Type) {
			return nil
		}
		return eachActingGrant(r, s.roles, func(g Grant, p roles.Perms) []string {
			at := "on a " + module(r.Type) + " resource, where it can only be a mistake"
			if level := hierarchyLevel(r.Type); level != "" {
				at = "at " + level + " level, over every service account in that " + level
			}
			return []string{fmt.Sprintf("%s grants %s %s (to %s); %s", where(r), g.Role, at, membersText(g), holding(p, actingPermissions...))}
		})
	},
}

var impersonationOnlyToNamedPrincipals = ResourcePolicy{
	Name: "impersonation-only-to-named-principals",
	Description: "A role that acts as service accounts (see impersonation-only-on-service-accounts) goes only to " +
		"named principals: users, groups, service accounts, the organisation's own domains, one federated identity " +
		"(principal://...), or a workload identity pool's principal set of one attribute value or group " +
		"(principalSet://.../attribute.<name>/<value>, .../group/<id>). Never to a whole pool " +
		"(principalSet://.../workloadIdentityPools/<pool>/*, every identity its providers accept), another kind of " +
		"principal set, the public, or a consumer mail domain (domain:gmail.com).",
	Remediation: "Grant the role to the people's group, or to the one identity that needs it. For GitHub Actions, " +
		"grant roles/iam.workloadIdentityUser to principalSet://iam.googleapis.com/projects/<number>/locations/global/" +
		"workloadIdentityPools/<pool>/attribute.repository/<owner>/<repo> (or a narrower attribute the provider " +
		"maps), and give the provider an attribute condition pinning the repository.",
	Level: policyx.EnforcementLevelMandatory,
	check: judgeActingGrants(func(r Resource, g Grant, p roles.Perms) (msgs []string) {
		for _, m := range g.Members {
			if why := impersonatorProblem(m); why != "" {
				msgs = append(msgs, fmt.Sprintf("%s grants %s to %s, %s; %s", where(r), g.Role, m, why, holding(p, actingPermissions...)))
			}
		}
		return msgs
	}),
}

var noServiceAccountKeys = ResourcePolicy{
	Name: "no-service-account-keys",
	Description: "No service account keys (gcp:serviceaccount/key:Key): a key is a long-lived credential that " +
		"works from anywhere until someone deletes it.",
	Remediation: "Delete the key resource. Workloads on Google Cloud run as their service account without a key; " +
		"CI authenticates with Workload Identity Federation; a developer impersonates the account " +
		"(gcloud auth application-default login --impersonate-service-account <email>) once granted " +
		"roles/iam.serviceAccountTokenCreator on it.",
	Level: policyx.EnforcementLevelMandatory,
	check: func(r Resource, _ settings) []string {
		if r.Type != "gcp:serviceaccount/key:Key" {
			return nil
		}
		account := str(r.Properties.Get("serviceAccountId"))
		of := "a service account"
		if account.known && account.s != "" {
			of = account.s
		}
		return []string{fmt.Sprintf("%s creates a key for %s", describe(r), of)}
	},
}

// runtimeAccountFields is where each workload type names the account it runs as.
var runtimeAccountFields = map[string][]string{
	"gcp:cloudrunv2/service:Service":       {"template", "serviceAccount"},
	"gcp:cloudrunv2/job:Job":               {"template", "template", "serviceAccount"},
	"gcp:cloudrun/service:Service":         {"template", "spec", "serviceAccountName"},
	"gcp:cloudfunctions/function:Function": {"serviceAccountEmail"},
	// A 2nd gen function is a Cloud Run service underneath and runs as the same default.
	"gcp:cloudfunctionsv2/function:Function": {"serviceConfig", "serviceAccountEmail"},
}

// IsDefaultAccount is true for the Compute Engine and App Engine default service accounts,
// alone or in a resource name (projects/p/serviceAccounts/<email>).
func IsDefaultAccount(account string) bool {
	email := strings.ToLower(strings.TrimSpace(account[strings.LastIndex(account, "/")+1:]))
	email = strings.TrimPrefix(email, "serviceaccount:")
	if local, ok := strings.CutSuffix(email, "-compute@developer.gserviceaccount.com"); ok {
		return local != "" && strings.Trim(local, "0123456789") == ""
	}
	return strings.HasSuffix(email, "@appspot.gserviceaccount.com")
}

var runAsDedicatedServiceAccount = ResourcePolicy{
	Name: "run-as-dedicated-service-account",
	Description: "Cloud Run services and jobs and Cloud Functions run as a service account of their own, never " +
		"as the Compute Engine default account (<number>-compute@developer.gserviceaccount.com, used when none " +
		"is set) or the App Engine default account (<project>@appspot.gserviceaccount.com), which usually hold " +
		"broad roles on the whole project.",
	Remediation: "Create a gcp:serviceaccount/Account for this workload alone, grant it only the roles it needs, " +
		"and set the field named above to its email.",
	Level: policyx.EnforcementLevelMandatory,
	check: func(r Resource, _ settings) []string {
		path, ok := runtimeAccountFields[r.Type]
		if !ok {
			return nil
		}
		field := strings.Join(path, ".")
		switch v := str(lookup(r.Properties, path...)); {
		case !v.known:
			return nil
		case v.s == "":
			return []string{fmt.Sprintf("%s sets no %s, so it runs as the Compute Engine default account", describe(r), field)}
		case IsDefaultAccount(v.s):
			return []string{fmt.Sprintf("%s runs as the default account %s (%s)", describe(r), v.s, field)}
		}
		return nil
	},
}

var bucketUniformAccessPublicPrevention = ResourcePolicy{
	Name: "bucket-uniform-access-public-prevention",
	Description: "Cloud Storage buckets use uniform bucket-level access (IAM alone decides, no object ACLs) and " +
		"enforce public access prevention, so no ACL or IAM grant can make their contents public.",
	Remediation: "On the gcp:storage/Bucket set uniformBucketLevelAccess: true and publicAccessPrevention: " +
		"\"enforced\". Object ACLs stop applying once uniform access is on: grant access through bucket IAM instead.",
	Level: policyx.EnforcementLevelMandatory,
	check: func(r Resource, _ settings) []string {
		if r.Type != "gcp:storage/bucket:Bucket" {
			return nil
		}
		var msgs []string
		if on, set, known := boolean(r.Properties.Get("uniformBucketLevelAccess")); known && !on {
			state := "false"
			if !set {
				state = "not set (off by default)"
			}
			msgs = append(msgs, fmt.Sprintf("%s: uniformBucketLevelAccess is %s", describe(r), state))
		}
		if pap := str(r.Properties.Get("publicAccessPrevention")); pap.known && pap.s != "enforced" {
			state := fmt.Sprintf("%q", pap.s)
			if !pap.set {
				state = "not set (inherited by default)"
			}
			msgs = append(msgs, fmt.Sprintf("%s: publicAccessPrevention is %s, not \"enforced\"", describe(r), state))
		}
		return msgs
	},
}

// AuthzPermission is the one permission an authz guard's role holds: holding the role on the
// guard's empty bucket is the authorization.
const AuthzPermission = "storage.buckets.get"

// customRoleTypes are the custom role resources, project and organization.
var customRoleTypes = []string{"gcp:projects/iAMCustomRole:IAMCustomRole", "gcp:organizations/iAMCustomRole:IAMCustomRole"}

var authzRoleOnlyBucketsGet = ResourcePolicy{
	Name: "authz-role-only-buckets-get",
	Description: "A custom role used by an authz guard (its roleId or title matches guardRolePattern) holds " +
		"exactly " + AuthzPermission + ": holding the role on the guard's empty bucket is the authorization, so any " +
		"other permission would be real access handed out under the guard's name.",
	Remediation: "Set the role's permissions to [\"" + AuthzPermission + "\"] and nothing else. A role that needs " +
		"more is a different role: declare it separately, under a name that is not a guard's.",
	Level: policyx.EnforcementLevelMandatory,
	Props: []Prop{{
		Name: "guardRolePattern", Type: "regexp", Default: "(?i)authz",
		Description: "Regular expression (Go syntax, unanchored) matched against a custom role's roleId and " +
			"title; a match makes the role an authz guard role.",
	}},
	check: func(r Resource, s settings) []string {
		if !slices.Contains(customRoleTypes, r.Type) {
			return nil
		}
		id, title := str(r.Properties.Get("roleId")), str(r.Properties.Get("title"))
		if !s.guardRole.MatchString(id.s) && !s.guardRole.MatchString(title.s) {
			return nil
		}
		perms, unknown := strList(r.Properties.Get("permissions"))
		if unknown {
			return nil
		}
		if len(perms) != 1 || perms[0] != AuthzPermission {
			return []string{fmt.Sprintf("%s (roleId %q) holds %v; an authz guard role holds exactly [%s]", describe(r), id.s, perms, AuthzPermission)}
		}
		return nil
	},
}

var runInvokerServiceAccountsOnly = ResourcePolicy{
	Name: "run-invoker-service-accounts-only",
	Description: "A role that invokes Cloud Run services (it holds run.routes.invoke: roles/run.invoker, " +
		"run.servicesInvoker, run.developer, run.admin, roles/editor, roles/owner, a custom role holding it, ...) is " +
		"granted only to service accounts (serviceAccount:...) or to the principals listed in allowedMembers: a " +
		"caller proves who it is with an ID token of its own account.",
	Remediation: "Grant roles/run.invoker to the calling workload's service account. A person who needs to call " +
		"the service impersonates that account (roles/iam.serviceAccountTokenCreator on it, with an expiry). " +
		"To allow one specific other principal, add it to this policy's allowedMembers in the policy config.",
	Level: policyx.EnforcementLevelMandatory,
	Props: []Prop{{
		Name: "allowedMembers", Type: "stringArray", Default: []any{},
		Description: "Principals other than service accounts that may hold a role with run.routes.invoke, exactly " +
			"as written in IAM (e.g. group:oncall@example.com).",
	}},
	check: func(r Resource, s settings) []string {
		return eachGrant(r, func(g Grant) (msgs []string) {
			p, known := s.roles.of(g.Role)
			if !known || !p.Invokes() {
				return nil
			}
			for _, m := range g.Members {
				if !strings.HasPrefix(m, "serviceAccount:") && !slices.Contains(s.allowedMembers, m) {
					msgs = append(msgs, fmt.Sprintf("%s grants %s to %s, which is not a service account; %s", where(r), g.Role, m, holding(p, roles.RunRoutesInvoke)))
				}
			}
			return msgs
		})
	},
}

var impersonationGrantsExpire = ResourcePolicy{
	Name: "impersonation-grants-expire",
	Description: "A role that acts as service accounts, granted to a person (user:...), expires: the grant carries " +
		"an IAM condition that is surely false from some time on, such as request.time < timestamp(\"<RFC 3339 " +
		"time>\") alone or joined to others with &&, so access taken for a task does not outlive it. A condition " +
		"this policy cannot read (anything beyond &&, ||, !, parentheses and comparisons) is reported too: it " +
		"cannot judge when the grant ends.",
	Remediation: "Give the grant a condition with a title (e.g. \"until 2027-01-31\") and the expression " +
		"request.time < timestamp(\"2027-01-31T00:00:00Z\"), alone or joined to others with &&. " +
		"In the private-run-api stack config that is an impersonator entry {member, expires}. For lasting " +
		"access, grant a group instead of a person.",
	Level: policyx.EnforcementLevelAdvisory,
	check: judgeActingGrants(func(r Resource, g Grant, _ roles.Perms) (msgs []string) {
		if g.Condition != nil && !g.Condition.Known {
			return nil
		}
		for _, m := range g.Members {
			if !strings.HasPrefix(m, "user:") {
				continue
			}
			if g.Condition == nil {
				msgs = append(msgs, fmt.Sprintf("%s grants %s to %s with no expiry", where(r), g.Role, m))
				continue
			}
			_, err := Expiry(g.Condition.Expression)
			var unreadable *UnreadableError
			switch {
			case errors.As(err, &unreadable):
				msgs = append(msgs, fmt.Sprintf("%s grants %s to %s under condition %q (%s), which %v: this policy cannot judge when the grant ends",
					where(r), g.Role, m, g.Condition.Title, g.Condition.Expression, err))
			case err != nil:
				msgs = append(msgs, fmt.Sprintf("%s grants %s to %s under condition %q (%s), which %v",
					where(r), g.Role, m, g.Condition.Title, g.Condition.Expression, err))
			}
		}
		return msgs
	}),
}

func roleText(g Grant) string {
	if !g.RoleKnown {
		return "a role not known yet"
	}
	return g.Role
}

func membersText(g Grant) string {
	ms := strings.Join(g.Members, ", ")
	if g.MembersUnknown {
		if ms != "" {
			ms += ", "
		}
		ms += "members not known yet"
	}
	return ms
}
