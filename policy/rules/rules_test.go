package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// unknown is a value a preview does not know yet, as the engine sends it.
var unknown = resource.MakeComputed(resource.NewProperty(""))

func secret(v any) resource.PropertyValue {
	return resource.MakeSecret(resource.NewPropertyValue(v))
}

// res builds a resource the way policyx hands one to a policy: from the engine's property map,
// through the same conversion (resource.FromResourcePropertyMap) its server applies.
func res(typ, name string, props map[string]any) Resource {
	return Resource{
		Type: typ, Name: name, URN: "urn:pulumi:test::proj::" + typ + "::" + name,
		Properties: resource.FromResourcePropertyMap(resource.NewPropertyMapFromMap(props)),
	}
}

// member is an IAM member resource (typ is a ...IAMMember) granting role to one principal: most
// cases need no other field. role and m are strings, or unknown or a secret where a case needs one.
func member(typ, name string, role, m any) Resource {
	return res(typ, name, map[string]any{"role": role, "member": m})
}

// binding is an IAM binding resource (typ is a ...IAMBinding) granting role to members.
func binding(typ, name, role string, members ...string) Resource {
	return res(typ, name, map[string]any{"role": role, "members": members})
}

// iamPolicy is an IAM policy resource (typ is a ...IAMPolicy) whose policyData holds one binding
// of role to members.
func iamPolicy(typ, name, role string, members ...string) Resource {
	return res(typ, name, map[string]any{"policyData": policyData(map[string]any{"role": role, "members": members})})
}

func policyNamed(t *testing.T, name string) ResourcePolicy {
	t.Helper()
	for _, p := range ResourcePolicies() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no resource policy %q", name)
	return ResourcePolicy{}
}

// Resource type tokens of pulumi-gcp v7, as registered by its SDK.
const (
	tRunV2IAMBinding   = "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding"
	tRunV2IAMMember    = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
	tRunV2IAMPolicy    = "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy"
	tRunV1IAMBinding   = "gcp:cloudrun/iamBinding:IamBinding"
	tRunV1IAMMember    = "gcp:cloudrun/iamMember:IamMember"
	tRunV1IAMPolicy    = "gcp:cloudrun/iamPolicy:IamPolicy"
	tFnV1IAMBinding    = "gcp:cloudfunctions/functionIamBinding:FunctionIamBinding"
	tFnV1IAMMember     = "gcp:cloudfunctions/functionIamMember:FunctionIamMember"
	tFnV1IAMPolicy     = "gcp:cloudfunctions/functionIamPolicy:FunctionIamPolicy"
	tFnV2IAMBinding    = "gcp:cloudfunctionsv2/functionIamBinding:FunctionIamBinding"
	tFnV2IAMMember     = "gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember"
	tFnV2IAMPolicy     = "gcp:cloudfunctionsv2/functionIamPolicy:FunctionIamPolicy"
	tProjectIAMBinding = "gcp:projects/iAMBinding:IAMBinding"
	tProjectIAMMember  = "gcp:projects/iAMMember:IAMMember"
	tProjectIAMPolicy  = "gcp:projects/iAMPolicy:IAMPolicy"
	tFolderIAMBinding  = "gcp:folder/iAMBinding:IAMBinding"
	tFolderIAMMember   = "gcp:folder/iAMMember:IAMMember"
	tFolderIAMPolicy   = "gcp:folder/iAMPolicy:IAMPolicy"
	tOrgIAMBinding     = "gcp:organizations/iAMBinding:IAMBinding"
	tOrgIAMMember      = "gcp:organizations/iAMMember:IAMMember"
	tOrgIAMPolicy      = "gcp:organizations/iAMPolicy:IAMPolicy"
	tSAIAMBinding      = "gcp:serviceaccount/iAMBinding:IAMBinding"
	tSAIAMMember       = "gcp:serviceaccount/iAMMember:IAMMember"
	tSAIAMPolicy       = "gcp:serviceaccount/iAMPolicy:IAMPolicy"
	tSAKey             = "gcp:serviceaccount/key:Key"
	tAccount           = "gcp:serviceaccount/account:Account"
	tRunV2Service      = "gcp:cloudrunv2/service:Service"
	tRunV2Job          = "gcp:cloudrunv2/job:Job"
	tRunV1Service      = "gcp:cloudrun/service:Service"
	tFnV1              = "gcp:cloudfunctions/function:Function"
	tFnV2              = "gcp:cloudfunctionsv2/function:Function"
	tBucket            = "gcp:storage/bucket:Bucket"
	tProjectRole       = "gcp:projects/iAMCustomRole:IAMCustomRole"
	tOrgRole           = "gcp:organizations/iAMCustomRole:IAMCustomRole"
	tBucketACL         = "gcp:storage/bucketACL:BucketACL"
	tBucketAC          = "gcp:storage/bucketAccessControl:BucketAccessControl"
	tDefaultObjectACL  = "gcp:storage/defaultObjectACL:DefaultObjectACL"
	tDefaultObjectAC   = "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl"
	tObjectACL         = "gcp:storage/objectACL:ObjectACL"
	tObjectAC          = "gcp:storage/objectAccessControl:ObjectAccessControl"
	tDatasetAccess     = "gcp:bigquery/datasetAccess:DatasetAccess"
	tDataset           = "gcp:bigquery/dataset:Dataset"
	tDatasetIAMMember  = "gcp:bigquery/datasetIamMember:DatasetIamMember"
	tSecretIAMMember   = "gcp:secretmanager/secretIamMember:SecretIamMember"
)

func TestIAMKindOfEveryKindTheBriefNames(t *testing.T) {
	want := map[string]IAMKind{
		tRunV2IAMBinding: Binding, tRunV2IAMMember: Member, tRunV2IAMPolicy: Policy,
		tRunV1IAMBinding: Binding, tRunV1IAMMember: Member, tRunV1IAMPolicy: Policy,
		tFnV1IAMBinding: Binding, tFnV1IAMMember: Member, tFnV1IAMPolicy: Policy,
		tFnV2IAMBinding: Binding, tFnV2IAMMember: Member, tFnV2IAMPolicy: Policy,
		tProjectIAMBinding: Binding, tProjectIAMMember: Member, tProjectIAMPolicy: Policy,
		tFolderIAMBinding: Binding, tFolderIAMMember: Member, tFolderIAMPolicy: Policy,
		tOrgIAMBinding: Binding, tOrgIAMMember: Member, tOrgIAMPolicy: Policy,
		tSAIAMBinding: Binding, tSAIAMMember: Member, tSAIAMPolicy: Policy,
		tBucketIAMBinding: Binding, tBucketIAMMember: Member, tBucketIAMPolicy: Policy,
		// Not grants.
		tSAKey: NotIAM, tAccount: NotIAM, tBucket: NotIAM, tProjectRole: NotIAM,
		"gcp:projects/iamMemberRemove:IamMemberRemove":      NotIAM,
		"gcp:organizations/iamAuditConfig:IamAuditConfig":   NotIAM,
		"aws:iam/policy:Policy":                             NotIAM,
		"gcp:secretmanager/secretIamMember:SecretIamMember": Member,
	}
	for typ, kind := range want {
		if got := IAMKindOf(typ); got != kind {
			t.Errorf("IAMKindOf(%s) = %v, want %v", typ, got, kind)
		}
	}
	for typ, level := range map[string]string{
		tProjectIAMMember: "project", tFolderIAMPolicy: "folder", tOrgIAMBinding: "organization",
		tSAIAMBinding: "", tBucketIAMPolicy: "", tProjectRole: "",
	} {
		if got := hierarchyLevel(typ); got != level {
			t.Errorf("hierarchyLevel(%s) = %q, want %q", typ, got, level)
		}
	}
}

const (
	sa      = "serviceAccount:orders-batch@acme-dev.iam.gserviceaccount.com"
	guard   = "projects/acme-dev/roles/ordersApiAuthz"
	expires = `request.time < timestamp("2027-01-31T00:00:00Z")`
)

// policyData is an IAM policy document as getIAMPolicy renders it for a policyData input.
func policyData(bindings ...map[string]any) string {
	b, err := json.Marshal(map[string]any{"bindings": bindings})
	if err != nil {
		panic(err)
	}
	return string(b)
}

type policyCase struct {
	name  string
	r     Resource
	props map[string]any
	// want are substrings, one per expected message, in order; none for a pass.
	want []string
}

func runCases(t *testing.T, policy string, cases []policyCase) {
	t.Helper()
	p := policyNamed(t, policy)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Check(c.r, c.props)
			if err != nil {
				t.Fatalf("config error: %v", err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d messages, want %d:\n%s", len(got), len(c.want), strings.Join(got, "\n"))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("message %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestNoPublicPrincipals(t *testing.T) {
	runCases(t, "no-public-principals", []policyCase{
		{name: "service account invoker passes", r: binding(tRunV2IAMBinding, "inv", "roles/run.invoker", sa)},
		{name: "allUsers invoker on Cloud Run v2", r: binding(tRunV2IAMBinding, "inv", "roles/run.invoker", sa, "allUsers"),
			want: []string{`ServiceIamBinding "inv" grants roles/run.invoker to allUsers`}},
		{name: "allAuthenticatedUsers as a project member", r: member(tProjectIAMMember, "m", "roles/viewer", "allAuthenticatedUsers"),
			want: []string{"to allAuthenticatedUsers"}},
		{name: "any spelling IAM would store", r: member(tRunV1IAMMember, "m", "roles/run.invoker", " AllUsers "),
			want: []string{"AllUsers"}},
		{name: "public principal set on a folder", r: binding(tFolderIAMBinding, "b", "roles/viewer", "principalSet://goog/public:all"),
			want: []string{"principalSet://goog/public:all"}},
		{name: "in the second binding of a bucket's policyData", r: res(tBucketIAMPolicy, "p", map[string]any{
			"policyData": policyData(
				map[string]any{"role": guard, "members": []string{sa}},
				map[string]any{"role": "roles/storage.objectViewer", "members": []string{"allUsers"}})}),
			want: []string{`BucketIAMPolicy "p" (a binding in policyData) grants roles/storage.objectViewer to allUsers`}},
		{name: "a secret member is still read", r: member(tFnV2IAMMember, "m", "roles/cloudfunctions.invoker", secret("allUsers")),
			want: []string{"allUsers"}},
		{name: "members unknown in a preview: nothing to say yet", r: res(tFnV1IAMBinding, "b", map[string]any{
			"role": "roles/cloudfunctions.invoker", "members": unknown})},
		{name: "one member unknown, the others fine", r: res(tSAIAMBinding, "b", map[string]any{
			"role": "roles/iam.serviceAccountTokenCreator", "members": []any{sa, unknown}})},
		{name: "policyData unknown in a preview", r: res(tOrgIAMPolicy, "p", map[string]any{"policyData": unknown})},
		{name: "policyData that is no policy document", r: res(tProjectIAMPolicy, "p", map[string]any{"policyData": "{bindings"}),
			want: []string{"cannot be checked: policyData is not an IAM policy document"}},
		{name: "the word in a label is no grant", r: res(tBucket, "b", map[string]any{
			"labels": map[string]any{"audience": "allUsers"}})},
		{name: "another cloud's IAM is not read", r: res("aws:iam/policy:Policy", "p", map[string]any{"policy": "allUsers"})},
		{name: "every personal Google account", r: member(tProjectIAMMember, "m", "roles/viewer", "domain:gmail.com"),
			want: []string{"grants roles/viewer to domain:gmail.com"}},
		{name: "the organisation's own domain is not public", r: member(tProjectIAMMember, "m", "roles/viewer", "domain:acme.example")},
		// ACLs outside IAM.
		{name: "BucketAccessControl to allUsers", r: res(tBucketAC, "ac", map[string]any{
			"bucket": "b", "entity": "allUsers", "role": "READER"}),
			want: []string{`BucketAccessControl "ac" grants access to allUsers (entity "allUsers")`}},
		{name: "BucketAccessControl to a consumer domain", r: res(tBucketAC, "ac", map[string]any{
			"bucket": "b", "entity": "domain-gmail.com", "role": "READER"}),
			want: []string{`grants access to domain:gmail.com (entity "domain-gmail.com")`}},
		{name: "BucketAccessControl to a group passes", r: res(tBucketAC, "ac", map[string]any{
			"bucket": "b", "entity": "group-readers@acme.example", "role": "READER"})},
		{name: "BucketACL role entities", r: res(tBucketACL, "acl", map[string]any{
			"bucket": "b", "roleEntities": []string{"OWNER:user-a@acme.example", "READER:allAuthenticatedUsers"}}),
			want: []string{`BucketACL "acl" grants access to allAuthenticatedUsers (roleEntities[1] "READER:allAuthenticatedUsers")`}},
		{name: "BucketACL predefined public ACL", r: res(tBucketACL, "acl", map[string]any{
			"bucket": "b", "predefinedAcl": "publicRead"}),
			want: []string{`grants access to allUsers (predefinedAcl "publicRead")`}},
		{name: "BucketACL default object ACL", r: res(tBucketACL, "acl", map[string]any{
			"bucket": "b", "predefinedAcl": "private", "defaultAcl": "publicReadWrite"}),
			want: []string{`(defaultAcl "publicReadWrite")`}},
		{name: "DefaultObjectAccessControl to allUsers", r: res(tDefaultObjectAC, "d", map[string]any{
			"bucket": "b", "entity": "allUsers", "role": "READER"}),
			want: []string{`DefaultObjectAccessControl "d" grants access to allUsers`}},
		{name: "DefaultObjectACL role entities", r: res(tDefaultObjectACL, "d", map[string]any{
			"bucket": "b", "roleEntities": []string{"READER:allUsers"}}),
			want: []string{`DefaultObjectACL "d" grants access to allUsers`}},
		{name: "ObjectAccessControl to all Google accounts", r: res(tObjectAC, "o", map[string]any{
			"bucket": "b", "object": "o", "entity": "allAuthenticatedUsers", "role": "READER"}),
			want: []string{"grants access to allAuthenticatedUsers"}},
		{name: "ObjectACL predefined ACL", r: res(tObjectACL, "o", map[string]any{
			"bucket": "b", "object": "o", "predefinedAcl": "authenticatedRead"}),
			want: []string{`grants access to allAuthenticatedUsers (predefinedAcl "authenticatedRead")`}},
		{name: "ACL entity unknown in a preview", r: res(tBucketAC, "ac", map[string]any{"bucket": "b", "entity": unknown})},
		{name: "BigQuery DatasetAccess to all Google accounts", r: res(tDatasetAccess, "a", map[string]any{
			"datasetId": "d", "role": "READER", "specialGroup": "allAuthenticatedUsers"}),
			want: []string{`DatasetAccess "a" grants access to allAuthenticatedUsers (specialGroup "allAuthenticatedUsers")`}},
		{name: "BigQuery DatasetAccess iamMember allUsers", r: res(tDatasetAccess, "a", map[string]any{
			"datasetId": "d", "role": "READER", "iamMember": "allUsers"}),
			want: []string{`(iamMember "allUsers")`}},
		{name: "BigQuery DatasetAccess to a consumer domain", r: res(tDatasetAccess, "a", map[string]any{
			"datasetId": "d", "role": "READER", "domain": "googlemail.com"}),
			want: []string{`grants access to domain:googlemail.com (domain "googlemail.com")`}},
		{name: "BigQuery DatasetAccess to the project's readers passes", r: res(tDatasetAccess, "a", map[string]any{
			"datasetId": "d", "role": "READER", "specialGroup": "projectReaders"})},
		{name: "BigQuery Dataset accesses", r: res(tDataset, "d", map[string]any{
			"datasetId": "d", "accesses": []any{
				map[string]any{"role": "OWNER", "userByEmail": "a@acme.example"},
				map[string]any{"role": "READER", "specialGroup": "allAuthenticatedUsers"}}}),
			want: []string{`Dataset "d" grants access to allAuthenticatedUsers (accesses[1].specialGroup "allAuthenticatedUsers")`}},
		{name: "BigQuery dataset IAM", r: res(tDatasetIAMMember, "m", map[string]any{
			"datasetId": "d", "role": "roles/bigquery.dataViewer", "member": "allAuthenticatedUsers"}),
			want: []string{"grants roles/bigquery.dataViewer to allAuthenticatedUsers"}},
	})
}

func TestImpersonationOnlyOnServiceAccounts(t *testing.T) {
	runCases(t, "impersonation-only-on-service-accounts", []policyCase{
		{name: "token creator on one service account passes", r: res(tSAIAMBinding, "tc", map[string]any{
			"serviceAccountId": "projects/acme-dev/serviceAccounts/orders-batch@acme-dev.iam.gserviceaccount.com",
			"role":             "roles/iam.serviceAccountTokenCreator", "members": []string{"user:dev@acme.example"}})},
		{name: "token creator at project level", r: res(tProjectIAMMember, "tc", map[string]any{
			"project": "acme-dev", "role": "roles/iam.serviceAccountTokenCreator", "member": "user:dev@acme.example"}),
			want: []string{`IAMMember "tc" grants roles/iam.serviceAccountTokenCreator at project level, over every service account in that project (to user:dev@acme.example)`}},
		{name: "service account user on a folder", r: res(tFolderIAMBinding, "u", map[string]any{
			"folder": "folders/1", "role": "roles/iam.serviceAccountUser", "members": []string{"group:devs@acme.example"}}),
			want: []string{"at folder level"}},
		{name: "workload identity user in an organization policy", r: res(tOrgIAMPolicy, "p", map[string]any{
			"orgId": "123", "policyData": policyData(map[string]any{"role": "roles/iam.workloadIdentityUser", "members": []string{sa}})}),
			want: []string{"(a binding in policyData) grants roles/iam.workloadIdentityUser at organization level"}},
		{name: "OpenID token creator with a condition is still project-wide", r: res(tProjectIAMBinding, "oidc", map[string]any{
			"role": "roles/iam.serviceAccountOpenIdTokenCreator", "members": []string{sa},
			"condition": map[string]any{"title": "t", "expression": expires}}),
			want: []string{"at project level"}},
		{name: "on a bucket it has no use", r: res(tBucketIAMMember, "m", map[string]any{
			"bucket": "b", "role": "roles/iam.serviceAccountTokenCreator", "member": sa}),
			want: []string{"on a storage resource"}},
		{name: "other project roles are not this policy's", r: member(tProjectIAMMember, "v", "roles/viewer", "user:dev@acme.example")},
		{name: "role unknown in a preview", r: member(tProjectIAMMember, "x", unknown, sa)},
		// Roles known by what they hold, not by a list of names.
		{name: "key admin at project level", r: member(tProjectIAMMember, "k", "roles/iam.serviceAccountKeyAdmin", "group:ops@acme.example"),
			want: []string{`grants roles/iam.serviceAccountKeyAdmin at project level, over every service account in that project (to group:ops@acme.example); the role holds iam.serviceAccountKeys.create`}},
		{name: "account admin at project level", r: binding(tProjectIAMBinding, "a", "roles/iam.serviceAccountAdmin", "group:ops@acme.example"),
			want: []string{"roles/iam.serviceAccountAdmin at project level, over every service account in that project (to group:ops@acme.example); the role holds iam.serviceAccounts.setIamPolicy"}},
		{name: "editor at project level", r: member(tProjectIAMMember, "e", "roles/editor", "user:dev@acme.example"),
			want: []string{"grants roles/editor at project level, over every service account in that project (to user:dev@acme.example); the role holds iam.serviceAccountKeys.create, iam.serviceAccounts.actAs"}},
		{name: "owner in an organization policy", r: iamPolicy(tOrgIAMPolicy, "p", "roles/owner", "group:admins@acme.example"),
			want: []string{"grants roles/owner at organization level"}},
		{name: "a service agent role at folder level", r: member(tFolderIAMMember, "s", "roles/run.serviceAgent", sa),
			want: []string{"at folder level"}},
		{name: "roles that act as no account pass at project level", r: binding(tProjectIAMBinding, "v", "roles/run.admin", "group:ops@acme.example")},
		{name: "a custom role is judged with the stack (custom-role-grants)", r: member(tProjectIAMMember, "c", "projects/acme-dev/roles/minter", "group:ops@acme.example")},
		{name: "a predefined role newer than the table is unknown", r: member(tProjectIAMMember, "n", "roles/iam.someRoleGoogleAddsLater", "group:ops@acme.example")},
		{name: "account admin on one account passes", r: member(tSAIAMMember, "a", "roles/iam.serviceAccountAdmin", "group:ops@acme.example")},
	})
}

func TestImpersonationOnlyToNamedPrincipals(t *testing.T) {
	tc := "roles/iam.serviceAccountTokenCreator"
	pool := "principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github"
	onAccount := func(role string, members ...string) Resource {
		return res(tSAIAMBinding, "b", map[string]any{
			"serviceAccountId": "projects/acme-dev/serviceAccounts/orders-batch@acme-dev.iam.gserviceaccount.com",
			"role":             role, "members": members})
	}
	runCases(t, "impersonation-only-to-named-principals", []policyCase{
		{name: "users, groups, accounts, one identity pass", r: onAccount(tc, "user:a@acme.example", "group:devs@acme.example", sa,
			"principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/subject/repo:acme/orders:ref:refs/heads/main",
			"deleted:user:gone@acme.example?uid=123")},
		{name: "the program's future grants pass: account user and workload identity user to named principals",
			r: onAccount("roles/iam.serviceAccountUser", "group:batch-runners@acme.example", sa)},
		{name: "a repository's CI, by attribute", r: onAccount("roles/iam.workloadIdentityUser", pool+"/attribute.repository/acme/orders")},
		{name: "a pool's group", r: onAccount("roles/iam.workloadIdentityUser", pool+"/group/deployers")},
		{name: "the organisation's domain", r: onAccount(tc, "domain:acme.example")},
		{name: "token creator to every Gmail account", r: onAccount(tc, "domain:gmail.com"),
			want: []string{`IAMBinding "b" grants roles/iam.serviceAccountTokenCreator to domain:gmail.com, which is public; the role holds`}},
		{name: "token creator to a whole workload identity pool", r: onAccount(tc, "group:devs@acme.example", pool+"/*"),
			want: []string{"to " + pool + "/*, which is a whole identity pool: every identity its providers accept"}},
		{name: "a whole workforce pool", r: member(tSAIAMMember, "m", "roles/iam.workloadIdentityUser", "principalSet://iam.googleapis.com/locations/global/workforcePools/staff/*"),
			want: []string{"whole identity pool"}},
		{name: "every service account of a project", r: onAccount(tc, "principalSet://cloudresourcemanager.googleapis.com/projects/123/type/ServiceAccount"),
			want: []string{"a principal set other than one attribute value or group"}},
		{name: "the public", r: onAccount("roles/iam.serviceAccountUser", "allUsers"),
			want: []string{"to allUsers, which is public"}},
		{name: "a bucket's convenience value", r: onAccount(tc, "projectViewer:acme-dev"),
			want: []string{"which is not a named principal"}},
		{name: "in a whole account policy", r: iamPolicy(tSAIAMPolicy, "p", "roles/iam.workloadIdentityUser", pool+"/*"),
			want: []string{"(a binding in policyData) grants roles/iam.workloadIdentityUser to " + pool + "/*"}},
		{name: "at project level too", r: member(tProjectIAMMember, "m", "roles/editor", "domain:gmail.com"),
			want: []string{"grants roles/editor to domain:gmail.com, which is public; the role holds iam.serviceAccountKeys.create, iam.serviceAccounts.actAs"}},
		{name: "roles that act as no account are not this policy's", r: onAccount("roles/iam.serviceAccountViewer", pool+"/*")},
		{name: "members unknown in a preview", r: res(tSAIAMBinding, "b", map[string]any{"role": tc, "members": unknown})},
	})
}

func TestNoServiceAccountKeys(t *testing.T) {
	runCases(t, "no-service-account-keys", []policyCase{
		{name: "an account without a key passes", r: res(tAccount, "a", map[string]any{"accountId": "orders-batch"})},
		{name: "a key", r: res(tSAKey, "k", map[string]any{"serviceAccountId": "orders-batch@acme-dev.iam.gserviceaccount.com"}),
			want: []string{`Key "k" creates a key for orders-batch@acme-dev.iam.gserviceaccount.com`}},
		{name: "a key for an account not known yet", r: res(tSAKey, "k", map[string]any{"serviceAccountId": unknown}),
			want: []string{"creates a key for a service account"}},
		{name: "an uploaded public key is a key too", r: res(tSAKey, "k", map[string]any{"serviceAccountId": "x", "publicKeyData": "AAAA"}),
			want: []string{"creates a key"}},
	})
}

func TestRunAsDedicatedServiceAccount(t *testing.T) {
	runCases(t, "run-as-dedicated-service-account", []policyCase{
		{name: "its own account passes", r: res(tRunV2Service, "api", map[string]any{
			"template": map[string]any{"serviceAccount": "orders-api-run@acme-dev.iam.gserviceaccount.com"}})},
		{name: "no account: the Compute Engine default", r: res(tRunV2Service, "api", map[string]any{
			"template": map[string]any{"containers": []any{map[string]any{"image": "x"}}}}),
			want: []string{`Service "api" sets no template.serviceAccount, so it runs as the Compute Engine default account`}},
		{name: "no template at all", r: res(tRunV2Service, "api", map[string]any{"name": "api"}),
			want: []string{"sets no template.serviceAccount"}},
		{name: "the Compute Engine default named", r: res(tRunV2Service, "api", map[string]any{
			"template": map[string]any{"serviceAccount": "123456789012-compute@developer.gserviceaccount.com"}}),
			want: []string{"runs as the default account 123456789012-compute@developer.gserviceaccount.com"}},
		{name: "the App Engine default", r: res(tRunV2Service, "api", map[string]any{
			"template": map[string]any{"serviceAccount": "acme-dev@appspot.gserviceaccount.com"}}),
			want: []string{"acme-dev@appspot.gserviceaccount.com"}},
		{name: "account unknown in a preview", r: res(tRunV2Service, "api", map[string]any{
			"template": map[string]any{"serviceAccount": unknown}})},
		{name: "template unknown in a preview", r: res(tRunV2Service, "api", map[string]any{"template": unknown})},
		{name: "Cloud Run v1 reads template.spec.serviceAccountName", r: res(tRunV1Service, "v1", map[string]any{
			"template": map[string]any{"spec": map[string]any{"serviceAccountName": "1234-compute@developer.gserviceaccount.com"}}}),
			want: []string{"(template.spec.serviceAccountName)"}},
		{name: "Cloud Run v1 with its own account", r: res(tRunV1Service, "v1", map[string]any{
			"template": map[string]any{"spec": map[string]any{"serviceAccountName": "v1-run@acme-dev.iam.gserviceaccount.com"}}})},
		{name: "a job reads template.template.serviceAccount", r: res(tRunV2Job, "job", map[string]any{
			"template": map[string]any{"template": map[string]any{}}}),
			want: []string{"sets no template.template.serviceAccount"}},
		{name: "a 2nd gen function", r: res(tFnV2, "fn", map[string]any{"serviceConfig": map[string]any{}}),
			want: []string{"sets no serviceConfig.serviceAccountEmail"}},
		{name: "a 1st gen function as App Engine default", r: res(tFnV1, "fn", map[string]any{
			"serviceAccountEmail": "acme-dev@appspot.gserviceaccount.com"}),
			want: []string{"runs as the default account"}},
		{name: "other resources are not workloads", r: res(tBucket, "b", map[string]any{})},
	})
	for account, isDefault := range map[string]bool{
		"123-compute@developer.gserviceaccount.com":                                  true,
		"projects/p/serviceAccounts/123-compute@developer.gserviceaccount.com":       true,
		"serviceAccount:acme@appspot.gserviceaccount.com":                            true,
		"-compute@developer.gserviceaccount.com":                                     false,
		"x1-compute@developer.gserviceaccount.com":                                   false,
		"compute@acme-dev.iam.gserviceaccount.com":                                   false,
		"123-compute@acme-dev.iam.gserviceaccount.com":                               false,
		"projects/p/serviceAccounts/orders-api-run@acme-dev.iam.gserviceaccount.com": false,
	} {
		if got := IsDefaultAccount(account); got != isDefault {
			t.Errorf("IsDefaultAccount(%q) = %v, want %v", account, got, isDefault)
		}
	}
}

func TestBucketUniformAccessPublicPrevention(t *testing.T) {
	runCases(t, "bucket-uniform-access-public-prevention", []policyCase{
		{name: "both on passes", r: res(tBucket, "b", map[string]any{
			"uniformBucketLevelAccess": true, "publicAccessPrevention": "enforced"})},
		{name: "uniform access off", r: res(tBucket, "b", map[string]any{
			"uniformBucketLevelAccess": false, "publicAccessPrevention": "enforced"}),
			want: []string{`Bucket "b": uniformBucketLevelAccess is false`}},
		{name: "prevention inherited", r: res(tBucket, "b", map[string]any{
			"uniformBucketLevelAccess": true, "publicAccessPrevention": "inherited"}),
			want: []string{`publicAccessPrevention is "inherited", not "enforced"`}},
		{name: "neither set: both defaults are open", r: res(tBucket, "b", map[string]any{"location": "EU"}),
			want: []string{"uniformBucketLevelAccess is not set", "publicAccessPrevention is not set"}},
		{name: "both unknown in a preview", r: res(tBucket, "b", map[string]any{
			"uniformBucketLevelAccess": unknown, "publicAccessPrevention": unknown})},
		{name: "a non-bool is not on", r: res(tBucket, "b", map[string]any{
			"uniformBucketLevelAccess": "true", "publicAccessPrevention": "enforced"}),
			want: []string{"uniformBucketLevelAccess is false"}},
	})
}

func TestAuthzRoleOnlyBucketsGet(t *testing.T) {
	role := func(typ, id, title string, perms any) Resource {
		return res(typ, "role", map[string]any{"roleId": id, "title": title, "permissions": perms})
	}
	runCases(t, "authz-role-only-buckets-get", []policyCase{
		{name: "exactly buckets.get passes", r: role(tProjectRole, "ordersApiAuthz", "Orders API authz guard", []string{AuthzPermission})},
		{name: "a guard role with object access", r: role(tProjectRole, "orders_api_authz", "x", []string{AuthzPermission, "storage.objects.get"}),
			want: []string{`IAMCustomRole "role" (roleId "orders_api_authz") holds [storage.buckets.get storage.objects.get]; an authz guard role holds exactly [storage.buckets.get]`}},
		{name: "recognised by title", r: role(tProjectRole, "guard1", "Authz guard for orders-api", []string{"storage.buckets.list"}),
			want: []string{"holds [storage.buckets.list]"}},
		{name: "an organization role too", r: role(tOrgRole, "authz", "", []string{}),
			want: []string{"holds []"}},
		{name: "a role that is no guard's", r: role(tProjectRole, "reader", "Reader", []string{"storage.objects.get", "storage.objects.list"})},
		{name: "permissions unknown in a preview", r: role(tProjectRole, "x_authz", "", unknown)},
		{name: "pattern widened by config", r: role(tProjectRole, "reader", "Reader", []string{"storage.objects.get"}),
			props: map[string]any{"guardRolePattern": ".*"}, want: []string{`(roleId "reader")`}},
	})
}

func TestRunInvokerServiceAccountsOnly(t *testing.T) {
	runCases(t, "run-invoker-service-accounts-only", []policyCase{
		{name: "service accounts pass", r: binding(tRunV2IAMBinding, "inv", "roles/run.invoker", sa, "serviceAccount:billing-runner@acme-billing.iam.gserviceaccount.com")},
		{name: "a person", r: member(tRunV2IAMMember, "inv", "roles/run.invoker", "user:dev@acme.example"),
			want: []string{`ServiceIamMember "inv" grants roles/run.invoker to user:dev@acme.example, which is not a service account`}},
		{name: "a group, unless allowed", r: binding(tRunV1IAMBinding, "inv", "roles/run.invoker", "group:oncall@acme.example", "domain:acme.example"),
			props: map[string]any{"allowedMembers": []any{"group:oncall@acme.example"}},
			want:  []string{"to domain:acme.example"}},
		{name: "in a Cloud Run v2 policy", r: iamPolicy(tRunV2IAMPolicy, "p", "roles/run.invoker", "group:x@acme.example"),
			want: []string{"(a binding in policyData) grants roles/run.invoker to group:x@acme.example"}},
		{name: "project-wide invoker for a person", r: member(tProjectIAMMember, "inv", "roles/run.invoker", "user:a@acme.example"),
			want: []string{"user:a@acme.example"}},
		{name: "other roles are not this policy's", r: member(tRunV2IAMMember, "v", "roles/run.viewer", "user:a@acme.example")},
		{name: "members unknown in a preview", r: res(tRunV2IAMBinding, "inv", map[string]any{"role": "roles/run.invoker", "members": unknown})},
		// Every role that holds run.routes.invoke.
		{name: "services invoker to a person", r: member(tRunV2IAMMember, "i", "roles/run.servicesInvoker", "user:dev@acme.example"),
			want: []string{`grants roles/run.servicesInvoker to user:dev@acme.example, which is not a service account; the role holds run.routes.invoke`}},
		{name: "developer to a group", r: member(tProjectIAMMember, "d", "roles/run.developer", "group:devs@acme.example"),
			want: []string{`grants roles/run.developer to group:devs@acme.example, which is not a service account`}},
		{name: "editor to a person", r: binding(tProjectIAMBinding, "e", "roles/editor", "user:a@acme.example", sa),
			want: []string{"grants roles/editor to user:a@acme.example"}},
		{name: "run admin on the service to a group in its policy", r: iamPolicy(tRunV2IAMPolicy, "p", "roles/run.admin", "group:ops@acme.example"),
			want: []string{"grants roles/run.admin to group:ops@acme.example"}},
		{name: "one federated identity is not a service account", r: member(tRunV2IAMMember, "i", "roles/run.invoker", "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/x"),
			want: []string{"which is not a service account"}},
		{name: "viewer invokes nothing", r: member(tProjectIAMMember, "v", "roles/viewer", "user:a@acme.example")},
		{name: "a developer group allowed by config", r: member(tProjectIAMMember, "d", "roles/run.developer", "group:devs@acme.example"),
			props: map[string]any{"allowedMembers": []any{"group:devs@acme.example"}}},
	})
}

func TestImpersonationGrantsExpire(t *testing.T) {
	tc := "roles/iam.serviceAccountTokenCreator"
	runCases(t, "impersonation-grants-expire", []policyCase{
		{name: "a person with an expiry passes", r: res(tSAIAMBinding, "tc", map[string]any{
			"role": tc, "members": []string{"user:hana@acme.example"},
			"condition": map[string]any{"title": "until 2027-01-31", "expression": expires}})},
		{name: "a person without", r: binding(tSAIAMBinding, "tc", tc, "group:devs@acme.example", "user:kenji@acme.example"),
			want: []string{`IAMBinding "tc" grants roles/iam.serviceAccountTokenCreator to user:kenji@acme.example with no expiry`}},
		{name: "groups and accounts need none", r: member(tSAIAMMember, "tc", tc, "group:devs@acme.example")},
		{name: "an expiry that can be bypassed", r: res(tSAIAMMember, "tc", map[string]any{
			"role": "roles/iam.serviceAccountUser", "member": "user:a@acme.example",
			"condition": map[string]any{"title": "t", "expression": expires + ` || request.time > timestamp("2000-01-01T00:00:00Z")`}}),
			want: []string{`under condition "t"`}},
		{name: "an expiry inside a conjunction", r: res(tSAIAMMember, "tc", map[string]any{
			"role": tc, "member": "user:a@acme.example",
			"condition": map[string]any{"title": "t", "expression": `(resource.name != "x" && (` + expires + `))`}})},
		{name: "a time that is no time", r: res(tSAIAMMember, "tc", map[string]any{
			"role": tc, "member": "user:a@acme.example",
			"condition": map[string]any{"title": "t", "expression": `request.time < timestamp("tomorrow")`}}),
			want: []string{`which cannot be read at byte 25: timestamp("tomorrow") is not an RFC 3339 time: this policy cannot judge when the grant ends`}},
		// Issue 18: this expression made the old reader loop forever, and the preview with it.
		{name: "an expiry compared with false is no expiry", r: res(tSAIAMMember, "tc", map[string]any{
			"role": tc, "member": "user:a@acme.example",
			"condition": map[string]any{"title": "t", "expression": `(request.time < timestamp("2020-01-01T00:00:00Z")) == false`}}),
			want: []string{`under condition "t" ((request.time < timestamp("2020-01-01T00:00:00Z")) == false), which does not surely expire`}},
		{name: "a negated lower bound is an expiry", r: res(tSAIAMMember, "tc", map[string]any{
			"role": tc, "member": "user:a@acme.example",
			"condition": map[string]any{"title": "t", "expression": `!(request.time >= timestamp("2027-01-31T00:00:00Z")) && resource.name != ""`}})},
		{name: "a ternary cannot be read", r: res(tSAIAMMember, "tc", map[string]any{
			"role": tc, "member": "user:a@acme.example",
			"condition": map[string]any{"title": "t", "expression": `true ? ` + expires + ` : true`}}),
			want: []string{"cannot judge when the grant ends"}},
		{name: "any role that acts as the account", r: member(tSAIAMMember, "k", "roles/iam.serviceAccountKeyAdmin", "user:a@acme.example"),
			want: []string{"grants roles/iam.serviceAccountKeyAdmin to user:a@acme.example with no expiry"}},
		{name: "roles that act as no account need none", r: member(tSAIAMMember, "v", "roles/iam.serviceAccountViewer", "user:a@acme.example")},
		{name: "policyData with and without a condition", r: res(tSAIAMPolicy, "p", map[string]any{
			"policyData": policyData(
				map[string]any{"role": tc, "members": []string{"user:a@acme.example"},
					"condition": map[string]any{"title": "t", "expression": expires}},
				map[string]any{"role": "roles/iam.workloadIdentityUser", "members": []string{"user:b@acme.example"}})}),
			want: []string{"(a binding in policyData) grants roles/iam.workloadIdentityUser to user:b@acme.example with no expiry"}},
		{name: "condition unknown in a preview", r: res(tSAIAMBinding, "tc", map[string]any{
			"role": tc, "members": []string{"user:a@acme.example"}, "condition": unknown})},
		{name: "expression unknown in a preview", r: res(tSAIAMBinding, "tc", map[string]any{
			"role": tc, "members": []string{"user:a@acme.example"}, "condition": map[string]any{"title": "t", "expression": unknown}})},
		{name: "at project level it is flagged here too", r: member(tProjectIAMMember, "tc", tc, "user:a@acme.example"),
			want: []string{"with no expiry"}},
	})
}

func TestPolicyConfigErrors(t *testing.T) {
	for policy, props := range map[string]map[string]any{
		"run-invoker-service-accounts-only": {"allowedMember": []any{"group:x@acme.example"}},
		"authz-role-only-buckets-get":       {"guardRolePattern": "("},
		"no-service-account-keys":           {"anything": true},
	} {
		p := policyNamed(t, policy)
		if _, err := p.Check(res(tBucket, "b", nil), props); err == nil {
			t.Errorf("%s accepted config %v", policy, props)
		}
	}
	p := policyNamed(t, "run-invoker-service-accounts-only")
	if _, err := p.Check(res(tBucket, "b", nil), map[string]any{"allowedMembers": "group:x@acme.example"}); err == nil ||
		!strings.Contains(err.Error(), "want an array of strings") {
		t.Errorf("a string for allowedMembers: err = %v", err)
	}
}

func TestEveryPolicyIsDescribed(t *testing.T) {
	seen := map[string]bool{}
	check := func(name, desc, remediation string, level policyx.EnforcementLevel) {
		if seen[name] {
			t.Errorf("policy %s declared twice", name)
		}
		seen[name] = true
		if len(desc) < 60 || len(remediation) < 60 {
			t.Errorf("%s: description or remediation too thin to act on", name)
		}
		want := policyx.EnforcementLevelMandatory
		if name == "impersonation-grants-expire" {
			want = policyx.EnforcementLevelAdvisory
		}
		if level != want {
			t.Errorf("%s: default level %s, want %s", name, LevelName(level), LevelName(want))
		}
	}
	for _, p := range ResourcePolicies() {
		check(p.Name, p.Description, p.Remediation, p.Level)
		if _, err := p.Check(Resource{}, nil); err != nil {
			t.Errorf("%s: default config refused: %v", p.Name, err)
		}
	}
	for _, p := range StackPolicies() {
		check(p.Name, p.Description, p.Remediation, p.Level)
	}
	if len(seen) != 11 {
		t.Errorf("%d policies, want 11", len(seen))
	}
}

// TestNoPanicOnAnyShape feeds every policy values of every kind in every field it reads: a panic
// inside a policy would end the pack's process mid-preview.
func TestNoPanicOnAnyShape(t *testing.T) {
	values := []any{nil, unknown, secret("allUsers"), "", "allUsers", 3.5, true, []any{}, []any{1.0, unknown, nil, "allUsers"},
		map[string]any{}, map[string]any{"serviceAccount": 1.0, "spec": "x", "template": []any{}}, []any{map[string]any{"specialGroup": 1.0}, "x", unknown}, "{}", `{"bindings":"x"}`, `{"bindings":[{"members":"allUsers"}]}`}
	fields := []string{"role", "members", "member", "policyData", "condition", "template", "serviceConfig", "serviceAccountEmail",
		"uniformBucketLevelAccess", "publicAccessPrevention", "roleId", "title", "permissions", "bucket", "name", "project", "orgId", "serviceAccountId",
		"entity", "roleEntities", "predefinedAcl", "defaultAcl", "specialGroup", "iamMember", "domain", "userByEmail", "groupByEmail", "accesses"}
	types := []string{tRunV2IAMBinding, tRunV2IAMMember, tRunV2IAMPolicy, tProjectIAMMember, tSAIAMBinding, tBucketIAMPolicy,
		tBucketIAMMember, tSAKey, tRunV2Service, tRunV2Job, tRunV1Service, tFnV1, tFnV2, tBucket, tProjectRole, tOrgRole,
		tBucketACL, tBucketAC, tObjectAC, tDatasetAccess, tDataset}
	var all []Resource
	for _, typ := range types {
		for _, f := range fields {
			for i, v := range values {
				r := res(typ, fmt.Sprintf("%s-%d", f, i), map[string]any{f: v})
				all = append(all, r)
				for _, p := range ResourcePolicies() {
					func() {
						defer func() {
							if e := recover(); e != nil {
								t.Errorf("%s panicked on %s %s=%v: %v", p.Name, typ, f, v, e)
							}
						}()
						_, _ = p.Check(r, nil)
					}()
				}
			}
		}
	}
	// URNs as a test harness or a broken engine might send them.
	for _, urn := range []string{"", "urn:key", "urn:pulumi:a::b", "urn:pulumi:a::b::$::n", "urn:pulumi:a::b::" + AuthzGuardType + "$::n"} {
		r := iamPolicy(tBucketIAMPolicy, "p", guard, sa)
		r.URN = urn
		all = append(all, r)
	}
	for _, p := range StackPolicies() {
		func() {
			defer func() {
				if e := recover(); e != nil {
					t.Errorf("%s panicked: %v", p.Name, e)
				}
			}()
			p.Check(all)
		}()
	}
}
