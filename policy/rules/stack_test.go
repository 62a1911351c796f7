package rules

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/platform/private-run-api/internal/testcheck"
)

func guardRoleRes(props map[string]any) Resource {
	base := map[string]any{"project": "acme-dev", "roleId": "ordersApiAuthz", "permissions": []string{AuthzPermission}}
	for k, v := range props {
		base[k] = v
	}
	return res(tProjectRole, "authz-role", base)
}

func guardBucket() Resource {
	return res(tBucket, "authz-bucket", map[string]any{
		"name": "acme-dev-orders-api-authz", "uniformBucketLevelAccess": true, "publicAccessPrevention": "enforced"})
}

// stackCase is a stack policy's verdict on some resources: one substring per expected finding,
// in order; none for a pass.
type stackCase struct {
	name string
	rs   []Resource
	want []string
}

func runStackCases(t *testing.T, p StackPolicy, cases []stackCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := p.Check(c.rs)
			var msgs []string
			for _, f := range got {
				msgs = append(msgs, f.Message+" @ "+f.URN)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d findings, want %d:\n%s", len(got), len(c.want), strings.Join(msgs, "\n"))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i].Message, w) {
					t.Errorf("finding %d = %q, want it to contain %q", i, got[i].Message, w)
				}
				if !strings.HasPrefix(got[i].URN, "urn:pulumi:") {
					t.Errorf("finding %d names no resource: %q", i, got[i].URN)
				}
			}
		})
	}
}

func TestAuthzBucketIAMOnePolicy(t *testing.T) {
	const bucket = "acme-dev-orders-api-authz"
	guardPolicy := res(tBucketIAMPolicy, "authz-policy", map[string]any{
		"bucket": bucket, "policyData": policyData(map[string]any{"role": guard, "members": []string{sa}})})
	runStackCases(t, authzBucketIAMOnePolicy, []stackCase{
		{name: "the guard's bucket with one policy passes", rs: []Resource{guardRoleRes(nil), guardBucket(), guardPolicy}},
		{name: "the guard role granted by a BucketIAMBinding", rs: []Resource{guardRoleRes(nil), guardBucket(),
			res(tBucketIAMBinding, "authz-members", map[string]any{"bucket": bucket, "role": guard, "members": []string{sa}})},
			want: []string{`BucketIAMBinding "authz-members" grants the authz guard role projects/acme-dev/roles/ordersApiAuthz as a partial grant`}},
		{name: "a member of another role next to the guard's policy", rs: []Resource{guardRoleRes(nil), guardBucket(), guardPolicy,
			res(tBucketIAMMember, "reader", map[string]any{"bucket": bucket, "role": "roles/storage.objectViewer", "member": sa})},
			want: []string{`BucketIAMMember "reader" adds to bucket acme-dev-orders-api-authz, whose whole IAM BucketIAMPolicy "authz-policy" sets`}},
		{name: "a binding of another role on a guard's bucket granted partially", rs: []Resource{guardRoleRes(nil),
			res(tBucketIAMMember, "guard", map[string]any{"bucket": bucket, "role": guard, "member": sa}),
			res(tBucketIAMMember, "reader", map[string]any{"bucket": bucket, "role": "roles/storage.objectViewer", "member": sa})},
			want: []string{`BucketIAMMember "guard" grants the authz guard role`,
				`BucketIAMMember "reader" grants on bucket acme-dev-orders-api-authz, an authz guard's bucket (role projects/acme-dev/roles/ordersApiAuthz), outside one BucketIAMPolicy`}},
		{name: "two policies on one bucket", rs: []Resource{guardRoleRes(nil), guardPolicy,
			res(tBucketIAMPolicy, "second", map[string]any{"bucket": bucket, "policyData": policyData()})},
			want: []string{`bucket acme-dev-orders-api-authz has 2 BucketIAMPolicy resources (BucketIAMPolicy "authz-policy" and BucketIAMPolicy "second")`}},
		{name: "the guard role at project level", rs: []Resource{guardRoleRes(nil),
			res(tProjectIAMMember, "everywhere", map[string]any{"project": "acme-dev", "role": guard, "member": sa})},
			want: []string{`IAMMember "everywhere" grants the authz guard role projects/acme-dev/roles/ordersApiAuthz at project level`}},
		{name: "the guard role in a folder's policy", rs: []Resource{guardRoleRes(nil),
			iamPolicy(tFolderIAMPolicy, "f", guard, sa)},
			want: []string{"at folder level"}},
		{name: "an ordinary bucket may use partial IAM", rs: []Resource{guardRoleRes(nil), guardBucket(), guardPolicy,
			res(tBucketIAMMember, "logs-reader", map[string]any{"bucket": "acme-dev-logs", "role": "roles/storage.objectViewer", "member": sa})}},
		{name: "a role with more than buckets.get is no guard's", rs: []Resource{
			guardRoleRes(map[string]any{"permissions": []string{AuthzPermission, "storage.objects.get"}}),
			res(tBucketIAMMember, "m", map[string]any{"bucket": bucket, "role": guard, "member": sa})}},
		{name: "the role's project left to the provider: matched by role ID", rs: []Resource{
			guardRoleRes(map[string]any{"project": nil}),
			res(tBucketIAMMember, "m", map[string]any{"bucket": bucket, "role": "projects/other/roles/ordersApiAuthz", "member": sa})},
			want: []string{"as a partial grant"}},
		{name: "outputs: the role's name and the bucket as b/<name>", rs: []Resource{
			guardRoleRes(map[string]any{"project": nil, "name": "projects/acme-prod/roles/ordersApiAuthz"}),
			res(tBucketIAMPolicy, "p", map[string]any{"bucket": "b/" + bucket,
				"policyData": policyData(map[string]any{"role": "projects/acme-prod/roles/ordersApiAuthz", "members": []string{sa}})}),
			res(tBucketIAMMember, "extra", map[string]any{"bucket": bucket, "role": "roles/storage.admin", "member": sa})},
			want: []string{`BucketIAMMember "extra" adds to bucket acme-dev-orders-api-authz, whose whole IAM BucketIAMPolicy "p" sets`}},
		{name: "policyData unknown in a preview: the partial grant is still wrong", rs: []Resource{guardRoleRes(nil),
			res(tBucketIAMPolicy, "p", map[string]any{"bucket": unknown, "policyData": unknown}),
			res(tBucketIAMBinding, "b", map[string]any{"bucket": unknown, "role": guard, "members": unknown})},
			want: []string{`BucketIAMBinding "b" grants the authz guard role`}},
		{name: "role permissions unknown in a preview: no guard role yet", rs: []Resource{guardRoleRes(map[string]any{"permissions": unknown}),
			res(tBucketIAMBinding, "b", map[string]any{"bucket": bucket, "role": guard, "members": []string{sa}})}},
		{name: "a role made elsewhere cannot be recognised", rs: []Resource{guardBucket(),
			res(tBucketIAMBinding, "b", map[string]any{"bucket": bucket, "role": guard, "members": []string{sa}})}},
	})
}

// underGuard makes r a child of the private-run-api program's authz guard component, as its URN
// says once the engine registers it.
func underGuard(r Resource) Resource {
	r.URN = "urn:pulumi:test::proj::" + AuthzGuardType + "$" + r.Type + "::" + r.Name
	return r
}

// TestAuthzGuardRoleMadeElsewhere: with authz.role the stack holds no definition of the guard's
// role; the guard's whole bucket policy says which role it is.
func TestAuthzGuardRoleMadeElsewhere(t *testing.T) {
	const (
		bucket = "acme-dev-orders-api-authz"
		role   = "projects/acme-dev/roles/made_by_bootstrap" // no "authz" in its name
	)
	policy := underGuard(res(tBucketIAMPolicy, "authz-policy", map[string]any{
		"bucket": bucket, "policyData": policyData(map[string]any{"role": role, "members": []string{sa}})}))
	runStackCases(t, authzBucketIAMOnePolicy, []stackCase{
		{"the guard's own policy passes", []Resource{guardBucket(), policy}, nil},
		{"a partial grant of the guard's role on another bucket", []Resource{guardBucket(), policy,
			res(tBucketIAMMember, "extra", map[string]any{"bucket": "acme-dev-other", "role": role, "member": "user:a@acme.example"})},
			[]string{`BucketIAMMember "extra" grants the authz guard role ` + role + ` as a partial grant`}},
		{"the guard's role at project level", []Resource{guardBucket(), policy,
			res(tProjectIAMMember, "everywhere", map[string]any{"project": "acme-dev", "role": role, "member": "group:devs@acme.example"})},
			[]string{`IAMMember "everywhere" grants the authz guard role ` + role + ` at project level`}},
		{"the same policy outside a guard says nothing about the role", []Resource{guardBucket(),
			res(tBucketIAMPolicy, "authz-policy", map[string]any{
				"bucket": bucket, "policyData": policyData(map[string]any{"role": role, "members": []string{sa}})}),
			res(tProjectIAMMember, "everywhere", map[string]any{"project": "acme-dev", "role": role, "member": "group:devs@acme.example"})},
			nil},
	})
	if got := parentTypes(policy.URN); len(got) != 1 || got[0] != AuthzGuardType {
		t.Errorf("parentTypes(%s) = %v", policy.URN, got)
	}
	if got := parentTypes("not a urn"); len(got) != 0 {
		t.Errorf("parentTypes of no URN = %v", got)
	}
}

func TestCustomRoleGrants(t *testing.T) {
	minter := res(tProjectRole, "minter", map[string]any{"project": "acme-dev", "roleId": "minter",
		"permissions": []string{"iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.get"}})
	caller := res(tProjectRole, "caller", map[string]any{"roleId": "caller", "permissions": []string{"run.routes.invoke"}})
	reader := res(tProjectRole, "reader", map[string]any{"project": "acme-dev", "roleId": "reader", "permissions": []string{"storage.objects.get"}})
	runStackCases(t, customRoleGrants, []stackCase{
		{"a custom role holding getAccessToken at project level", []Resource{minter,
			res(tProjectIAMMember, "m", map[string]any{"project": "acme-dev", "role": "projects/acme-dev/roles/minter", "member": "group:ops@acme.example"})},
			[]string{`[impersonation-only-on-service-accounts] IAMMember "m" grants projects/acme-dev/roles/minter at project level, over every service account in that project (to group:ops@acme.example); the role holds iam.serviceAccounts.getAccessToken`}},
		{"on one account to a named group it passes", []Resource{minter,
			member(tSAIAMMember, "m", "projects/acme-dev/roles/minter", "group:ops@acme.example")}, nil},
		{"on one account to a whole pool", []Resource{minter,
			member(tSAIAMMember, "m", "projects/acme-dev/roles/minter", "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/*")},
			[]string{"[impersonation-only-to-named-principals] "}},
		{"a custom invoker role to a person, the role's project left to the provider", []Resource{caller,
			member(tRunV2IAMMember, "i", "projects/acme-prod/roles/caller", "user:a@acme.example")},
			[]string{"[run-invoker-service-accounts-only] ServiceIamMember \"i\" grants projects/acme-prod/roles/caller to user:a@acme.example, which is not a service account"}},
		{"a custom role holding nothing that matters", []Resource{reader,
			member(tProjectIAMMember, "r", "projects/acme-dev/roles/reader", "user:a@acme.example")}, nil},
		{"a custom role of another project is not the stack's", []Resource{minter,
			member(tProjectIAMMember, "m", "projects/other/roles/minter", "group:ops@acme.example")}, nil},
		{"what a resource-level policy finds is not reported again", []Resource{minter,
			member(tProjectIAMMember, "tc", "roles/iam.serviceAccountTokenCreator", "group:ops@acme.example")}, nil},
		{"permissions unknown in a preview", []Resource{res(tProjectRole, "minter", map[string]any{"project": "acme-dev", "roleId": "minter", "permissions": unknown}),
			member(tProjectIAMMember, "m", "projects/acme-dev/roles/minter", "group:ops@acme.example")}, nil},
	})
}

// TestIssue18Refused holds every grant issue 18 lists to a mandatory violation of CheckStack,
// the pack's defaults: each passed with no violation before.
func TestIssue18Refused(t *testing.T) {
	onAccount := func(role, member string) Resource {
		return res(tSAIAMMember, "m", map[string]any{
			"serviceAccountId": "projects/acme-dev/serviceAccounts/orders-batch@acme-dev.iam.gserviceaccount.com", "role": role, "member": member})
	}
	project := func(role, member string) Resource {
		return res(tProjectIAMMember, "m", map[string]any{"project": "acme-dev", "role": role, "member": member})
	}
	guardPolicy := underGuard(res(tBucketIAMPolicy, "authz-policy", map[string]any{
		"bucket": "acme-dev-orders-api-authz", "policyData": policyData(map[string]any{"role": "projects/acme-dev/roles/fromBootstrap", "members": []string{sa}})}))
	cases := []struct {
		name, policy string
		rs           []Resource
	}{
		{"run.servicesInvoker to a user", "run-invoker-service-accounts-only", []Resource{member(tRunV2IAMMember, "m", "roles/run.servicesInvoker", "user:a@acme.example")}},
		{"run.servicesInvoker to a group", "run-invoker-service-accounts-only", []Resource{member(tRunV2IAMMember, "m", "roles/run.servicesInvoker", "group:g@acme.example")}},
		{"run.developer to a user", "run-invoker-service-accounts-only", []Resource{project("roles/run.developer", "user:a@acme.example")}},
		{"run.developer to a group", "run-invoker-service-accounts-only", []Resource{project("roles/run.developer", "group:g@acme.example")}},
		{"project-level serviceAccountKeyAdmin", "impersonation-only-on-service-accounts", []Resource{project("roles/iam.serviceAccountKeyAdmin", sa)}},
		{"project-level serviceAccountAdmin", "impersonation-only-on-service-accounts", []Resource{project("roles/iam.serviceAccountAdmin", sa)}},
		{"project-level editor", "impersonation-only-on-service-accounts", []Resource{project("roles/editor", sa)}},
		{"project-level custom role with getAccessToken", "custom-role-grants", []Resource{
			res(tProjectRole, "r", map[string]any{"project": "acme-dev", "roleId": "tokens", "permissions": []string{"iam.serviceAccounts.getAccessToken"}}),
			project("projects/acme-dev/roles/tokens", sa)}},
		{"BucketAccessControl to allUsers", "no-public-principals", []Resource{res(tBucketAC, "a", map[string]any{"bucket": "b", "entity": "allUsers", "role": "READER"})}},
		{"BucketAccessControl to allAuthenticatedUsers", "no-public-principals", []Resource{res(tBucketAC, "a", map[string]any{"bucket": "b", "entity": "allAuthenticatedUsers", "role": "READER"})}},
		{"BucketACL to allUsers", "no-public-principals", []Resource{res(tBucketACL, "a", map[string]any{"bucket": "b", "roleEntities": []string{"READER:allUsers"}})}},
		{"BucketACL to allAuthenticatedUsers", "no-public-principals", []Resource{res(tBucketACL, "a", map[string]any{"bucket": "b", "roleEntities": []string{"READER:allAuthenticatedUsers"}})}},
		{"DefaultObjectAccessControl to allUsers", "no-public-principals", []Resource{res(tDefaultObjectAC, "a", map[string]any{"bucket": "b", "entity": "allUsers", "role": "READER"})}},
		{"DefaultObjectAccessControl to allAuthenticatedUsers", "no-public-principals", []Resource{res(tDefaultObjectAC, "a", map[string]any{"bucket": "b", "entity": "allAuthenticatedUsers", "role": "READER"})}},
		{"BigQuery DatasetAccess to allAuthenticatedUsers", "no-public-principals", []Resource{res(tDatasetAccess, "a", map[string]any{"datasetId": "d", "role": "READER", "specialGroup": "allAuthenticatedUsers"})}},
		{"token creator to domain:gmail.com", "impersonation-only-to-named-principals", []Resource{onAccount("roles/iam.serviceAccountTokenCreator", "domain:gmail.com")}},
		{"token creator to a whole pool", "impersonation-only-to-named-principals", []Resource{onAccount("roles/iam.serviceAccountTokenCreator",
			"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/*")}},
		{"partial grant of the guard's role named by authz.role", "authz-bucket-iam-one-policy", []Resource{guardPolicy,
			// On a bucket of its own: a partial grant beside the guard's whole policy is refused anyway.
			res(tBucketIAMBinding, "b", map[string]any{"bucket": "acme-dev-other", "role": "projects/acme-dev/roles/fromBootstrap", "members": []string{sa}})}},
		{"project-level grant of the guard's role named by authz.role", "authz-bucket-iam-one-policy", []Resource{guardPolicy,
			project("projects/acme-dev/roles/fromBootstrap", sa)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := CheckStack(c.rs)
			for _, v := range vs {
				if v.Policy == c.policy && v.Level == policyx.EnforcementLevelMandatory {
					return
				}
			}
			t.Errorf("no mandatory %s violation: %v", c.policy, vs)
		})
	}
}

func TestCheckStack(t *testing.T) {
	rs := []Resource{
		guardRoleRes(nil), guardBucket(),
		res(tBucketIAMBinding, "authz-members", map[string]any{"bucket": "acme-dev-orders-api-authz", "role": guard, "members": []string{sa}}),
		res(tSAKey, "key", map[string]any{"serviceAccountId": "x"}),
		member(tSAIAMMember, "tc", "roles/iam.serviceAccountTokenCreator", "user:a@acme.example"),
	}
	byPolicy := func(vs []Violation) map[string]int {
		n := map[string]int{}
		for _, v := range vs {
			n[v.Policy+"/"+LevelName(v.Level)]++
		}
		return n
	}
	got := byPolicy(CheckStack(rs))
	want := map[string]int{
		"authz-bucket-iam-one-policy/mandatory": 1,
		"no-service-account-keys/mandatory":     1,
		"impersonation-grants-expire/advisory":  1,
	}
	if len(got) != len(want) {
		t.Fatalf("violations by policy = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("violations by policy = %v, want %v", got, want)
		}
	}

	c, err := ParseConfig([]byte(`{"no-service-account-keys": "disabled", "impersonation-grants-expire": {"enforcementLevel": "mandatory"}}`))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := CheckStackWith(rs, c)
	if err != nil {
		t.Fatal(err)
	}
	got = byPolicy(vs)
	if got["no-service-account-keys/mandatory"] != 0 || got["impersonation-grants-expire/mandatory"] != 1 {
		t.Errorf("under config: %v", got)
	}
	if s := vs[0].String(); !strings.Contains(s, "[mandatory] ") || !strings.Contains(s, "urn:pulumi:") {
		t.Errorf("Violation.String() = %q", s)
	}
}

func TestParseConfig(t *testing.T) {
	good := map[string]func(Config) bool{
		`{}`: func(c Config) bool {
			return c.Levels["no-public-principals"] == DefaultConfig().Levels["no-public-principals"]
		},
		`{"all": "advisory", "no-public-principals": "mandatory"}`: func(c Config) bool {
			return c.Levels["no-public-principals"] == levelNames["mandatory"] && c.Levels["no-service-account-keys"] == levelNames["advisory"]
		},
		`{"run-invoker-service-accounts-only": {"allowedMembers": ["group:oncall@acme.example"]}}`: func(c Config) bool {
			return len(c.Props["run-invoker-service-accounts-only"]["allowedMembers"].([]any)) == 1 &&
				c.Levels["run-invoker-service-accounts-only"] == levelNames["mandatory"]
		},
		`{"all": {"enforcementLevel": "disabled"}, "environments": ["acme/policy"]}`: func(c Config) bool {
			return c.Levels["no-public-principals"] == levelNames["disabled"]
		},
		`{"authz-bucket-iam-one-policy": {"enforcementLevel": "advisory"}}`: func(c Config) bool {
			return c.Levels["authz-bucket-iam-one-policy"] == levelNames["advisory"] && c.Props["authz-bucket-iam-one-policy"] == nil
		},
	}
	for text, ok := range good {
		c, err := ParseConfig([]byte(text))
		if err != nil {
			t.Errorf("ParseConfig(%s): %v", text, err)
			continue
		}
		if !ok(c) {
			t.Errorf("ParseConfig(%s) = %+v", text, c)
		}
	}
	parse := func(text string) error { _, err := ParseConfig([]byte(text)); return err }
	testcheck.Refuses(t, "ParseConfig", parse, map[string]string{
		`[]`:                                    "not a JSON object",
		`{"no-such-policy": "mandatory"}`:       `unknown policy "no-such-policy"`,
		`{"no-public-principals": "blocking"}`:  "use advisory, mandatory or disabled",
		`{"no-public-principals": "remediate"}`: "use advisory, mandatory or disabled",
		`{"all": "off"}`:                        "use advisory, mandatory or disabled",
		`{"no-public-principals": 1}`:           "want a level or an object",
		`{"run-invoker-service-accounts-only": {"allowedMembers": "group:x"}}`:         "want an array of strings",
		`{"authz-role-only-buckets-get": {"guardRolePattern": "("}}`:                   "not a regular expression",
		`{"no-service-account-keys": {"enforcementLevel": "mandatory", "except": []}}`: `unknown config property "except"`,
	})
}
