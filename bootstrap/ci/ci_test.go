package ci_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/markdown"
	"github.com/platform/private-run-api/internal/mocktest"
)

// exampleStack reads bootstrap/Pulumi.example.yaml through the same reader the main stack's
// tools use, so the example is held to what the program accepts.
func exampleStack(tb testing.TB) map[string]string {
	tb.Helper()
	sf, err := config.ReadStack(config.Dir(".."), stackName)
	if err != nil {
		tb.Fatalf("reading Pulumi.example.yaml: %v", err)
	}
	if sf.Namespace != project {
		tb.Fatalf("bootstrap/Pulumi.yaml names project %q, tests expect %q", sf.Namespace, project)
	}
	return sf.Values
}

func TestExampleStackDeclaresTheCIIdentities(t *testing.T) {
	r := mustRun(t, exampleStack(t))

	var got []string
	for _, x := range r.Resources {
		got = append(got, x.Type+" "+x.Name)
	}
	want := []string{
		tPool + " github-pool",
		tProvider + " github-provider",
		tAccount + " audit-account",
		tAccount + " deploy-account",
		tAccount + " preview-account",
		tAccount + " runtime-account",
		tSABinding + " audit-workload-identity-user",
		tSABinding + " deploy-workload-identity-user",
		tSABinding + " preview-workload-identity-user",
		tSABinding + " deploy-act-as-runtime",
		tCustomRole + " " + ci.RoleKeyAuthz,
		tCustomRole + " " + ci.RoleKeyDeploy,
		tCustomRole + " " + ci.RoleKeyAuthzBucket,
		tCustomRole + " " + ci.RoleKeyAudit,
		tCustomRole + " " + ci.RoleKeyAuditBucket,
		// The caller accounts live in a project of their own: the deploy account's account
		// permissions and the audit account's reads of them are granted there.
		tCustomRole + " " + ci.RoleKeyCallers,
		tCustomRole + " " + ci.RoleKeyAuditCallers,
		tProjMember + " deploy-callers-role",
		tProjMember + " audit-callers-role",
		tProjMember + " deploy-role",
		tProjMember + " deploy-authz-bucket",
		tProjMember + " audit-role",
		tProjMember + " audit-authz-bucket-policy",
		// Token minting as the caller accounts is recorded (Data Access logs of the IAM API).
		tAuditCfg + " iam-data-access-audit",
		tBucketMem + " deploy-state-writer",
		tBucketMem + " preview-state-reader",
		// The example's two secrets live in two projects, so the secret role exists in both.
		// Its subnetwork is in the main project: no VPC grant at all.
		tCustomRole + " " + ci.SecretRoleKey("acme-platform-dev"),
		tCustomRole + " " + ci.SecretRoleKey("acme-shared-secrets"),
		tSecretMem + " deploy-secret-iam-acme-platform-dev/orders-db-password",
		tSecretMem + " deploy-secret-iam-acme-shared-secrets/payments-signing-key",
		// The audit role reads the main project's secrets; the other project's needs its own.
		tCustomRole + " " + ci.AuditSecretRoleKey("acme-shared-secrets"),
		tSecretMem + " audit-secret-iam-acme-shared-secrets/payments-signing-key",
		tAPI + " app-api-" + ci.APISecretManager,
	}
	for _, api := range ci.CIAPIs {
		want = append(want, tAPI+" ci-api-"+api)
	}
	for _, api := range ci.AppAPIs {
		want = append(want, tAPI+" app-api-"+api)
	}
	for _, api := range ci.CallersAPIs {
		want = append(want, tAPI+" callers-api-"+api)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resources:\n got %q\nwant %q", got, want)
	}

	for _, api := range r.ByType(tAPI) {
		if api.Inputs["disableOnDestroy"].BoolValue() {
			t.Errorf("%s would disable its API on destroy, which the main stack relies on", api.Name)
		}
		wantProject := "acme-platform-ci"
		switch {
		case strings.HasPrefix(api.Name, "app-api-"):
			wantProject = "acme-platform-dev"
		case strings.HasPrefix(api.Name, "callers-api-"):
			wantProject = "acme-platform-dev-callers"
		}
		if api.Str("project") != wantProject {
			t.Errorf("%s enabled in %q, want %q", api.Name, api.Str("project"), wantProject)
		}
	}
	for name, wantProject := range map[string]string{
		"preview-account": "acme-platform-ci", "deploy-account": "acme-platform-ci", "audit-account": "acme-platform-ci", "runtime-account": "acme-platform-dev",
	} {
		if got := r.Find(t, tAccount, name).Str("project"); got != wantProject {
			t.Errorf("%s in project %q, want %q", name, got, wantProject)
		}
	}
	for key, wantProject := range map[string]string{
		ci.RoleKeyCallers: "acme-platform-dev-callers", ci.RoleKeyAuditCallers: "acme-platform-dev-callers",
		ci.RoleKeyDeploy: "acme-platform-dev", ci.RoleKeyAudit: "acme-platform-dev", ci.RoleKeyAuthz: "acme-platform-dev",
	} {
		if got := r.Find(t, tCustomRole, key).Str("project"); got != wantProject {
			t.Errorf("role %s in project %q, want %q", key, got, wantProject)
		}
	}
	for _, typ := range []string{tPool, tProvider} {
		for _, x := range r.ByType(typ) {
			if x.Str("project") != "acme-platform-ci" {
				t.Errorf("%s %s in project %q, want the CI project", typ, x.Name, x.Str("project"))
			}
		}
	}
	// The accounts exist only after the APIs of their project are on: a fresh project would
	// refuse them otherwise.
	if deps := r.Find(t, tAccount, "deploy-account").Deps; len(deps) < len(ci.CIAPIs) {
		t.Errorf("deploy account depends on %d resources, want at least the %d CI APIs", len(deps), len(ci.CIAPIs))
	}

	provider := "projects/" + exampleCINumber + "/locations/global/workloadIdentityPools/github/providers/github-actions"
	wantOut := map[string]any{
		"workloadIdentityProvider": provider,
		"workloadIdentityPool":     "projects/" + exampleCINumber + "/locations/global/workloadIdentityPools/github",
		"previewServiceAccount":    "ci-preview@acme-platform-ci.iam.gserviceaccount.com",
		"deployServiceAccount":     "ci-deploy@acme-platform-ci.iam.gserviceaccount.com",
		"runtimeServiceAccount":    "orders-api-run@acme-platform-dev.iam.gserviceaccount.com",
		"authzRole":                "projects/acme-platform-dev/roles/privateRunApiAuthz",
		"attributeCondition": `assertion.repository_id == "812345678" && assertion.repository_owner_id == "98765432" && (assertion.event_name == "pull_request" || assertion.event_name == "push" || assertion.event_name == "workflow_dispatch" || ` +
			`(assertion.event_name == "schedule" && assertion.job_workflow_ref == "acme/private-run-api/.github/workflows/access-live.yml@refs/heads/main"))`,
		"deployWorkflowRef":   "acme/private-run-api/.github/workflows/deploy.yml@refs/heads/main",
		"deployEnvironment":   "production",
		"auditServiceAccount": "ci-audit@acme-platform-ci.iam.gserviceaccount.com",
		"auditWorkflowRef":    "acme/private-run-api/.github/workflows/access-live.yml@refs/heads/main",
	}
	for name, want := range wantOut {
		if got := r.Outputs[name]; got != want {
			t.Errorf("output %s = %v, want %v", name, got, want)
		}
	}
	vars, _ := r.Outputs["githubVariables"].(map[string]string)
	wantVars := map[string]string{
		ci.VarWorkloadIdentityProvider: provider,
		ci.VarPreviewServiceAccount:    "ci-preview@acme-platform-ci.iam.gserviceaccount.com",
		ci.VarDeployServiceAccount:     "ci-deploy@acme-platform-ci.iam.gserviceaccount.com",
		ci.VarAuditServiceAccount:      "ci-audit@acme-platform-ci.iam.gserviceaccount.com",
		ci.VarBackendURL:               "gs://acme-platform-ci-pulumi-state",
	}
	if !reflect.DeepEqual(vars, wantVars) {
		t.Errorf("githubVariables = %v, want %v", vars, wantVars)
	}
	auditLogging, _ := r.Outputs["auditLogging"].(map[string]string)
	wantAudit := map[string]string{"project": "acme-platform-dev-callers", "service": "iam.googleapis.com", "logType": "ADMIN_READ",
		"exemptedMembers": "none", "filter": `protoPayload.serviceName="iamcredentials.googleapis.com"`}
	if !reflect.DeepEqual(auditLogging, wantAudit) {
		t.Errorf("auditLogging = %v, want %v", auditLogging, wantAudit)
	}
	mainConfig, _ := r.Outputs["mainStackConfig"].(map[string]string)
	wantMain := map[string]string{
		"private-run-api:authz.role":             "projects/acme-platform-dev/roles/privateRunApiAuthz",
		"private-run-api:authz.bucket":           "acme-platform-dev-orders-api-authz",
		"private-run-api:service.runtimeAccount": "orders-api-run@acme-platform-dev.iam.gserviceaccount.com",
		"private-run-api:enableApis":             "false",
		"private-run-api:callersProject":         "acme-platform-dev-callers",
	}
	if !reflect.DeepEqual(mainConfig, wantMain) {
		t.Errorf("mainStackConfig = %v, want %v", mainConfig, wantMain)
	}
}

func TestCustomRolesHoldExactlyTheirLists(t *testing.T) {
	r := mustRun(t, base(nil))
	cases := []struct {
		key, id string
		perms   []string
		protect bool
	}{
		{ci.RoleKeyAuthz, ci.DefaultAuthzRoleID, []string{"storage.buckets.get"}, true},
		{ci.RoleKeyDeploy, ci.DefaultDeployRoleID, names(ci.DeployPermissions), false},
		{ci.RoleKeyAuthzBucket, ci.DefaultAuthzBucketRoleID, names(ci.AuthzBucketPermissions), false},
		{ci.RoleKeyAudit, ci.DefaultAuditRoleID, names(ci.AuditPermissions), false},
		{ci.RoleKeyAuditBucket, ci.DefaultAuditBucketRoleID, names(ci.AuditBucketPermissions), false},
		{ci.RoleKeyCallers, ci.DefaultCallersRoleID, names(ci.CallersPermissions), false},
		{ci.RoleKeyAuditCallers, ci.DefaultAuditCallersRoleID, names(ci.AuditCallersPermissions), false},
	}
	// With the callers in a project of their own, their two roles are created there.
	separate := mustRun(t, base(map[string]string{"callersProject": "acme-test-callers"}))
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			role := r.Find(t, tCustomRole, tc.key)
			if role.Str("roleId") != tc.id || role.Str("project") != "acme-test" || role.Str("stage") != "GA" {
				t.Errorf("role %q in %q, stage %q", role.Str("roleId"), role.Str("project"), role.Str("stage"))
			}
			wantProject := "acme-test"
			if tc.key == ci.RoleKeyCallers || tc.key == ci.RoleKeyAuditCallers {
				wantProject = "acme-test-callers"
			}
			if got := separate.Find(t, tCustomRole, tc.key); got.Str("project") != wantProject || !reflect.DeepEqual(got.Strs("permissions"), tc.perms) {
				t.Errorf("with callersProject: role in %q holding %q, want %q holding %q", got.Str("project"), got.Strs("permissions"), wantProject, tc.perms)
			}
			if got := role.Strs("permissions"); !reflect.DeepEqual(got, tc.perms) {
				t.Errorf("permissions = %q, want %q", got, tc.perms)
			}
			if role.Protect != tc.protect {
				t.Errorf("protect = %v, want %v", role.Protect, tc.protect)
			}
			if d := role.Str("description"); d == "" || len(d) > 256 {
				t.Errorf("description has %d bytes, want 1-256", len(d))
			}
		})
	}
	for _, p := range slices.Concat(ci.DeployPermissions, ci.AuthzBucketPermissions, ci.SecretIAMPermissions, ci.AuditPermissions, ci.AuditBucketPermissions, ci.AuditSecretPermissions,
		ci.CallersPermissions, ci.AuditCallersPermissions) {
		if p.Why == "" {
			t.Errorf("%s has no reason", p.Name)
		}
	}
	// Every grant of a custom role must wait for the role, or IAM refuses an unknown role.
	for _, g := range []struct{ grant, role string }{{"deploy-role", ci.RoleKeyDeploy}, {"deploy-authz-bucket", ci.RoleKeyAuthzBucket}, {"audit-role", ci.RoleKeyAudit}, {"audit-authz-bucket-policy", ci.RoleKeyAuditBucket},
		{"deploy-callers-role", ci.RoleKeyCallers}, {"audit-callers-role", ci.RoleKeyAuditCallers}} {
		if !dependsOn(r.Find(t, tProjMember, g.grant), tCustomRole, g.role) {
			t.Errorf("%s does not depend on the role %s", g.grant, g.role)
		}
	}
	if !dependsOn(r.Find(t, tSABinding, "deploy-act-as-runtime"), tAccount, "runtime-account") {
		t.Error("the actAs binding does not wait for the runtime account")
	}
}

func names(ps []ci.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func dependsOn(r mocktest.Resource, typ, name string) bool {
	for _, d := range r.Deps {
		if strings.HasSuffix(d, typ+"::"+name) {
			return true
		}
	}
	return false
}

func TestGrantsOfEachAccount(t *testing.T) {
	r := mustRun(t, base(nil))
	got := map[string][]string{}
	for _, g := range r.grants() {
		got[g.Member] = append(got[g.Member], g.String())
	}
	authzCond := `resource.name == "projects/_/buckets/acme-test-orders-api-authz"`
	want := map[string][]string{
		// A preview without refresh reads the state and nothing else: no bucket metadata (which
		// would pass the authz guard) and no IAM policy.
		ciSA("ci-preview"): {
			tBucketMem + " roles/storage.objectViewer on bucket acme-test-ci-pulumi-state to " + ciSA("ci-preview"),
		},
		ciSA("ci-deploy"): {
			tBucketMem + " roles/storage.objectUser on bucket acme-test-ci-pulumi-state to " + ciSA("ci-deploy"),
			tProjMember + " projects/acme-test/roles/privateRunApiAuthzBucketDeployer on project acme-test to " + ciSA("ci-deploy") + " if " + authzCond,
			tProjMember + " projects/acme-test/roles/privateRunApiDeployer on project acme-test to " + ciSA("ci-deploy"),
			// The callers live in the main project here (no callersProject): so does their role.
			tProjMember + " projects/acme-test/roles/privateRunApiCallersDeployer on project acme-test to " + ciSA("ci-deploy"),
			tSABinding + " roles/iam.serviceAccountUser on serviceAccount projects/acme-test/serviceAccounts/orders-api-run@acme-test.iam.gserviceaccount.com to " + ciSA("ci-deploy"),
		},
		// Reads only, and the authz bucket's policy under the same condition as the deploy
		// account's bucket role: never the bucket itself.
		ciSA("ci-audit"): {
			tProjMember + " projects/acme-test/roles/privateRunApiAuditor on project acme-test to " + ciSA("ci-audit"),
			tProjMember + " projects/acme-test/roles/privateRunApiCallersAuditor on project acme-test to " + ciSA("ci-audit"),
			tProjMember + " projects/acme-test/roles/privateRunApiAuthzBucketAuditor on project acme-test to " + ciSA("ci-audit") + " if " + authzCond,
		},
	}
	for m := range got {
		if strings.HasPrefix(m, "principalSet://") {
			delete(got, m) // the impersonation bindings, tested on their own
		}
	}
	for _, list := range got {
		sort.Strings(list)
	}
	for _, list := range want {
		sort.Strings(list)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("grants:\n got %q\nwant %q", got, want)
	}
	// The runtime account's actAs binding is authoritative: the bootstrap owns the account, so a
	// hand-added actAs is removed on the next run.
	if m := r.Find(t, tSABinding, "deploy-act-as-runtime").Strs("members"); !reflect.DeepEqual(m, []string{ciSA("ci-deploy")}) {
		t.Errorf("actAs on the runtime account = %q, want the deploy account alone", m)
	}
}

func TestImpersonationBindings(t *testing.T) {
	cases := []struct {
		name      string
		overrides map[string]string
		// impersonators are the principal sets each CI account's binding must name, and only them.
		impersonators map[string][]string
	}{
		{"defaults", nil, map[string][]string{
			"deploy":  {poolPrefix("github") + "/attribute.deploy_job/812345678:acme/private-run-api/.github/workflows/deploy.yml@refs/heads/main:repo:acme/private-run-api:environment:production"},
			"preview": {poolPrefix("github") + "/attribute.repo_event/812345678:pull_request"},
			"audit": {
				poolPrefix("github") + "/attribute.audit_job/812345678:acme/private-run-api/.github/workflows/access-live.yml@refs/heads/main:schedule",
				poolPrefix("github") + "/attribute.audit_job/812345678:acme/private-run-api/.github/workflows/access-live.yml@refs/heads/main:workflow_dispatch",
			},
		}},
		{"release branch, own workflows, environment and pool", map[string]string{
			"deployBranch": "release/prod", "deployWorkflow": "release.yaml", "deployEnvironment": "prod-eu", "poolId": "ci-pool", "repositoryId": "42",
			"auditWorkflow": "drift.yaml", "auditAccountId": "ci-drift-check",
		}, map[string][]string{
			"deploy":  {poolPrefix("ci-pool") + "/attribute.deploy_job/42:acme/private-run-api/.github/workflows/release.yaml@refs/heads/release/prod:repo:acme/private-run-api:environment:prod-eu"},
			"preview": {poolPrefix("ci-pool") + "/attribute.repo_event/42:pull_request"},
			"audit": {
				poolPrefix("ci-pool") + "/attribute.audit_job/42:acme/private-run-api/.github/workflows/drift.yaml@refs/heads/release/prod:schedule",
				poolPrefix("ci-pool") + "/attribute.audit_job/42:acme/private-run-api/.github/workflows/drift.yaml@refs/heads/release/prod:workflow_dispatch",
			},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, base(tc.overrides))
			for _, name := range []string{"preview", "deploy", "audit"} {
				// Each account is ci-<name> unless its <name>AccountId is set.
				id := "ci-" + name
				if set := tc.overrides[name+"AccountId"]; set != "" {
					id = set
				}
				b := r.Find(t, tSABinding, name+"-workload-identity-user")
				if got, want := b.Strs("members"), tc.impersonators[name]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s account's impersonators = %q, want only %q", name, got, want)
				}
				if b.Str("role") != ci.RoleWorkloadIdentityUser || b.Str("serviceAccountId") != "projects/acme-test-ci/serviceAccounts/"+id+"@acme-test-ci.iam.gserviceaccount.com" {
					t.Errorf("%s binding: %s on %s", name, b.Str("role"), b.Str("serviceAccountId"))
				}
			}
			// Nothing else lets a federated identity reach anything.
			for _, g := range r.grants() {
				if strings.HasPrefix(g.Member, "principal") && !strings.HasSuffix(g.Name, "-workload-identity-user") {
					t.Errorf("%s gives a federated identity access outside the CI accounts' workload-identity bindings", g)
				}
			}
		})
	}
}

func TestNoKeysNoProjectLevelImpersonationNothingPublic(t *testing.T) {
	r := mustRun(t, exampleStack(t))
	if keys := r.ByType(tAccountKey); len(keys) > 0 {
		t.Errorf("%d service account keys declared; CI authenticates by federation only", len(keys))
	}
	// CIS 1.6 and the rest: none of these may be held on a whole project.
	forbidden := map[string]bool{
		"roles/iam.serviceAccountTokenCreator":       true,
		"roles/iam.serviceAccountOpenIdTokenCreator": true,
		"roles/iam.serviceAccountUser":               true,
		"roles/iam.workloadIdentityUser":             true,
		"roles/iam.serviceAccountKeyAdmin":           true,
		"roles/owner":                                true,
		"roles/editor":                               true,
		"roles/storage.admin":                        true,
	}
	runtime := "projects/acme-platform-dev/serviceAccounts/orders-api-run@acme-platform-dev.iam.gserviceaccount.com"
	for _, g := range r.grants() {
		if g.Scope == ci.ScopeProject && forbidden[g.Role] {
			t.Errorf("project-level %s", g)
		}
		if g.Role == ci.RoleServiceAccountUser && g.Target != runtime {
			t.Errorf("actAs granted beyond the runtime account: %s", g)
		}
		lower := strings.ToLower(g.Member)
		if lower == "allusers" || lower == "allauthenticatedusers" || strings.Contains(lower, "/*") || strings.Contains(lower, "goog/public") {
			t.Errorf("public or pool-wide grant: %s", g)
		}
	}
}

func TestProtection(t *testing.T) {
	protectedWhenOn := map[string]bool{
		tPool + " github-pool": true, tProvider + " github-provider": true,
		tAccount + " preview-account": true, tAccount + " deploy-account": true, tAccount + " audit-account": true, tAccount + " runtime-account": true,
		tCustomRole + " " + ci.RoleKeyAuthz: true,
	}
	for _, tc := range []struct {
		protect string
		want    bool
	}{{"", true}, {"true", true}, {"false", false}} {
		t.Run("protect="+tc.protect, func(t *testing.T) {
			r := mustRun(t, base(map[string]string{"protect": tc.protect}))
			for _, x := range r.Resources {
				want := tc.want && protectedWhenOn[x.Type+" "+x.Name]
				if x.Protect != want {
					t.Errorf("%s %s protect = %v, want %v (grants and the CI roles must follow the code freely)", x.Type, x.Name, x.Protect, want)
				}
			}
		})
	}
}

func TestEnableAPIsFalseDeclaresNoAPIs(t *testing.T) {
	r := mustRun(t, base(map[string]string{"enableApis": "false"}))
	if apis := r.ByType(tAPI); len(apis) != 0 {
		t.Errorf("%d APIs declared with enableApis false", len(apis))
	}
	if len(r.ByType(tAccount)) != 4 || len(r.ByType(tProvider)) != 1 || len(r.ByType(tCustomRole)) != 7 {
		t.Errorf("identities missing:\n%s", r.Listing())
	}
}

// A first preview, before Google has created anything, shows every name and every member the
// bootstrap registers: who may impersonate each CI account included, since the pool's name is
// computed from ciProjectNumber instead of read from Google's answer. Only the pool's name as
// Google reports it (output workloadIdentityPool, the check of that number) waits for the create.
func TestPreviewShowsEveryNameAndEveryMember(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]string
	}{
		{"example", exampleStack(t)},
		{"secrets and a Shared VPC subnetwork", base(merge(withSecrets, map[string]string{"vpc": sharedSubnet, "projectNumber": "424242"}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.cfg, true)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			p := ci.Resolve(mustLoad(t, tc.cfg))
			for name, want := range map[string]string{
				"workloadIdentityProvider": "projects/" + p.CIProjectNumber + "/locations/global/workloadIdentityPools/" + p.PoolID + "/providers/" + p.ProviderID,
				"deployServiceAccount":     p.Deploy.Email,
				"auditServiceAccount":      p.Audit.Email,
				"runtimeServiceAccount":    p.Runtime.Email,
				"authzRole":                p.AuthzRoleName(),
			} {
				if !r.Known[name] || r.Outputs[name] != want {
					t.Errorf("%s in a preview = %v (known %v), want %s", name, r.Outputs[name], r.Known[name], want)
				}
			}
			if vars, _ := r.Outputs["githubVariables"].(map[string]string); !r.Known["githubVariables"] || vars[ci.VarWorkloadIdentityProvider] != r.Outputs["workloadIdentityProvider"] {
				t.Errorf("githubVariables in a preview = %v (known %v)", r.Outputs["githubVariables"], r.Known["githubVariables"])
			}
			if r.Known["workloadIdentityPool"] {
				t.Errorf("workloadIdentityPool, Google's own name for the pool, known before the pool exists: %v", r.Outputs["workloadIdentityPool"])
			}
			for _, e := range unknownMembers(r) {
				t.Error(e)
			}
			// The impersonation bindings name exactly the principal sets of the computed pool.
			for name, access := range map[string]ci.Impersonation{"preview": p.PreviewAccess, "deploy": p.DeployAccess, "audit": p.AuditAccess} {
				want := access.PrincipalSets("projects/" + p.CIProjectNumber + "/locations/global/workloadIdentityPools/" + p.PoolID)
				if got := r.Find(t, tSABinding, name+"-workload-identity-user").Strs("members"); !reflect.DeepEqual(got, want) || len(got) == 0 {
					t.Errorf("%s-workload-identity-user members in a preview = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// unknownMembers lists every grant the program registered whose role, target or members the
// engine would show as unknown: the mock receives an unknown input as nothing at all.
func unknownMembers(r *result) []string {
	var out []string
	for _, typ := range grantTypes {
		for _, x := range r.ByType(typ) {
			m, isMember := x.Inputs["member"]
			ms, isMembers := x.Inputs["members"]
			switch {
			case isMember && (!m.IsString() || m.StringValue() == ""):
				out = append(out, fmt.Sprintf("%s %s: member %v is unknown in a preview", typ, x.Name, m))
			case isMembers && (!ms.IsArray() || len(ms.ArrayValue()) == 0):
				out = append(out, fmt.Sprintf("%s %s: members %v are unknown in a preview", typ, x.Name, ms))
			case !isMember && !isMembers:
				out = append(out, fmt.Sprintf("%s %s: no member at all in a preview", typ, x.Name))
			case isMembers:
				for _, e := range ms.ArrayValue() {
					if !e.IsString() || e.StringValue() == "" {
						out = append(out, fmt.Sprintf("%s %s: member %v is unknown in a preview", typ, x.Name, e))
					}
				}
			}
			if x.Str("role") == "" {
				out = append(out, fmt.Sprintf("%s %s: role unknown in a preview", typ, x.Name))
			}
		}
	}
	return out
}

// The checker sees what the engine would show as unknown: an input taken from an output Google
// computes at create.
func TestUnknownMembersChecker(t *testing.T) {
	known := mocktest.Resource{Type: tSABinding, Name: "b", Inputs: resource.PropertyMap{
		"role": resource.NewProperty("roles/x"), "members": resource.NewProperty([]resource.PropertyValue{resource.NewProperty("user:a@example.com")})}}
	for name, tc := range map[string]struct {
		inputs resource.PropertyMap
		bad    bool
	}{
		"known":               {known.Inputs, false},
		"members unknown":     {resource.PropertyMap{"role": resource.NewProperty("roles/x"), "members": resource.NewNullProperty()}, true},
		"one member unknown":  {resource.PropertyMap{"role": resource.NewProperty("roles/x"), "members": resource.NewProperty([]resource.PropertyValue{resource.NewNullProperty()})}, true},
		"member unknown":      {resource.PropertyMap{"role": resource.NewProperty("roles/x"), "member": resource.NewNullProperty()}, true},
		"no member input":     {resource.PropertyMap{"role": resource.NewProperty("roles/x")}, true},
		"role unknown":        {resource.PropertyMap{"member": resource.NewProperty("user:a@example.com")}, true},
		"known single member": {resource.PropertyMap{"role": resource.NewProperty("roles/x"), "member": resource.NewProperty("user:a@example.com")}, false},
	} {
		r := &result{mocktest.Result{Resources: []mocktest.Resource{{Type: tSABinding, Name: "b", Inputs: tc.inputs}}}}
		if got := unknownMembers(r); (len(got) > 0) != tc.bad {
			t.Errorf("%s: unknownMembers = %q, want bad=%v", name, got, tc.bad)
		}
	}
}

// A ciProjectNumber that is not ciProject's number would leave bindings naming a pool that does
// not exist: the first `pulumi up` fails on Google's name for the pool, naming the right number,
// while a preview (which cannot know it) passes.
func TestWrongCIProjectNumberFailsTheUpdate(t *testing.T) {
	cfg := base(map[string]string{"ciProjectNumber": "111111111111"})
	if r := run(t, cfg, true); r.Err != nil {
		t.Fatalf("a preview failed: %v", r.Err)
	}
	r := run(t, cfg, false)
	if r.Err == nil {
		t.Fatal("an update with a wrong ciProjectNumber succeeded")
	}
	for _, want := range []string{"ciProjectNumber 111111111111 is not the number of ciProject acme-test-ci (it is " + projectNumber + ")", "pulumi config set ciProjectNumber " + projectNumber} {
		if !strings.Contains(r.Err.Error(), want) {
			t.Errorf("error %q does not say %q", r.Err, want)
		}
	}
	if r := mustRun(t, base(nil)); r.Outputs["workloadIdentityPool"] != poolPrefix("github")[len("principalSet://iam.googleapis.com/"):] {
		t.Errorf("workloadIdentityPool = %v with the right number", r.Outputs["workloadIdentityPool"])
	}
}

func TestInvalidConfigRegistersNothingAndListsEveryProblem(t *testing.T) {
	// A case's fields, lower-cased, are its keys in the file.
	type invalid struct {
		Name string
		Set  map[string]string
		// Want is every problem, in order: path, value and a part of the rule.
		Want [][]string
		// Rule alone is the commonest case: one key set to one bad value, which is the one problem.
		Rule string
	}
	for _, tc := range readCases[invalid](t, "invalid-config.yaml") {
		t.Run(tc.Name, func(t *testing.T) {
			want := tc.Want
			if tc.Rule != "" {
				if len(tc.Set) != 1 || want != nil {
					t.Fatalf("a case that gives a rule alone sets one key and lists no problem (sets %v, lists %q)", tc.Set, want)
				}
				for key, value := range tc.Set {
					want = [][]string{{key, value, tc.Rule}}
				}
			}
			r, cerr := runInvalid(t, base(tc.Set))
			if len(cerr.Diagnostics) != len(want) {
				t.Fatalf("%d problems, want %d:\n%v", len(cerr.Diagnostics), len(want), r.Err)
			}
			for i, w := range want {
				if len(w) != 3 {
					t.Fatalf("want[%d] = %q, expected [path, value, rule]", i, w)
				}
				p := cerr.Diagnostics[i]
				if p.Path != w[0] || p.Value != w[1] || !strings.Contains(p.Rule, w[2]) {
					t.Errorf("problem %d = {%q %q %q}, want {%q %q ~%q}", i, p.Path, p.Value, p.Rule, w[0], w[1], w[2])
				}
				if p.Fix == "" {
					t.Errorf("problem %d (%s) says what is wrong but not how to fix it", i, p.Path)
				}
			}
		})
	}
}

func TestTypoFixSuggestsTheKey(t *testing.T) {
	_, err := ci.Load(project, config.MapSource(base(map[string]string{"deployBrnach": "main"})), []string{project + ":deployBrnach"})
	var cerr *diag.ConfigError
	if !errors.As(err, &cerr) || len(cerr.Diagnostics) != 1 {
		t.Fatalf("err = %v", err)
	}
	if fix := cerr.Diagnostics[0].Fix; !strings.Contains(fix, `did you mean "private-run-api-bootstrap:deployBranch"`) {
		t.Errorf("fix = %q, want a suggestion of deployBranch", fix)
	}
	if msg := err.Error(); !strings.Contains(msg, "nothing was deployed") {
		t.Errorf("error text %q does not say nothing was deployed", msg)
	}
}

func TestExampleSetsEveryKey(t *testing.T) {
	cfg := exampleStack(t)
	for _, k := range append([]string{ci.KeyGCPProject}, ci.Keys...) {
		full := k
		if !strings.Contains(k, ":") {
			full = project + ":" + k
		}
		if _, ok := cfg[full]; !ok {
			t.Errorf("Pulumi.example.yaml does not show %s; a complete example lists every key", full)
		}
	}
	for k := range cfg {
		if k != ci.KeyGCPProject && !strings.HasPrefix(k, project+":") {
			t.Errorf("Pulumi.example.yaml sets %s, which the bootstrap never reads", k)
		}
	}
}

func readme(tb testing.TB) string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

// readmeSection is the runbook's section titled title, found by its title wherever it stands.
func readmeSection(tb testing.TB, title string) string {
	tb.Helper()
	set, err := markdown.Read("..", "README.md")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := set.Section(title)
	if err != nil {
		tb.Fatal(err)
	}
	return s.Text()
}

// The runbook must name every role and permission the code grants, every GitHub variable the
// workflows read and every config key: a reader who audits the accounts from the README must see
// what Google sees.
func TestReadmeNamesEveryRolePermissionVariableAndKey(t *testing.T) {
	text := readme(t)
	p := ci.Resolve(mustLoad(t, base(nil)))
	// Every grant any config can produce: secrets, and both kinds of Shared VPC resource.
	for _, overrides := range []map[string]string{
		nil,
		merge(withSecrets, map[string]string{"vpc": sharedSubnet, "projectNumber": "424242"}),
		{"vpc": sharedConnector, "projectNumber": "424242"},
	} {
		p := ci.Resolve(mustLoad(t, base(overrides)))
		for _, g := range p.Grants {
			role := g.Role
			if g.CustomRole != "" {
				role = p.Role(g.CustomRole).ID
			}
			if !strings.Contains(text, role) {
				t.Errorf("README.md does not mention %s (granted to %s: %s)", role, g.Member, g.Why)
			}
		}
		for _, r := range p.Roles {
			for _, perm := range r.Permissions {
				if !regexp.MustCompile("`" + regexp.QuoteMeta(perm.Name) + "`").MatchString(text) {
					t.Errorf("README.md does not list %s of role %s", perm.Name, r.ID)
				}
			}
		}
	}
	for _, v := range []string{ci.VarWorkloadIdentityProvider, ci.VarPreviewServiceAccount, ci.VarDeployServiceAccount, ci.VarAuditServiceAccount, ci.VarBackendURL, "PULUMI_CONFIG_PASSPHRASE"} {
		if !strings.Contains(text, v) {
			t.Errorf("README.md does not say where %s comes from", v)
		}
	}
	for _, k := range ci.Keys {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(k) + `\b`).MatchString(text) {
			t.Errorf("README.md does not document config key %s", k)
		}
	}
	for k := range p.MainStackConfig() {
		if !strings.Contains(text, strings.TrimPrefix(k, "private-run-api:")) {
			t.Errorf("README.md does not tell the platform team to set %s in the main stack", k)
		}
	}
	readmeSection(t, "Residual risk") // fails the test when there is none
}

func mustLoad(tb testing.TB, cfg map[string]string) *ci.Config {
	tb.Helper()
	c, err := ci.Load(project, config.MapSource(cfg), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestLongNamesStayWithinGoogleLimits(t *testing.T) {
	owner := strings.Repeat("o", 39)
	name := strings.Repeat("r", 100)
	branch := strings.Repeat("b", 199)
	r := mustRun(t, base(map[string]string{
		"repository": owner + "/" + name, "deployBranch": branch,
		"deployWorkflow": strings.Repeat("w", 95) + ".yaml", "deployEnvironment": strings.Repeat("e", 255),
		"repositoryId": strings.Repeat("9", 20), "repositoryOwnerId": strings.Repeat("9", 20),
	}))
	limits := map[string]int{"description": 256, "displayName": 32}
	for _, x := range append(append(r.ByType(tPool), r.ByType(tProvider)...), r.ByType(tAccount)...) {
		for key, max := range limits {
			if x.Type == tAccount && key == "displayName" {
				max = 100
			}
			if got := x.Str(key); got == "" || len(got) > max {
				t.Errorf("%s %s: %s has %d bytes, want 1-%d", x.Type, x.Name, key, len(got), max)
			}
		}
	}
	if cond := r.Find(t, tProvider, "github-provider").Str("attributeCondition"); len(cond) > ci.MaxConditionChars {
		t.Errorf("attribute condition has %d characters, Google's limit is %d", len(cond), ci.MaxConditionChars)
	}
	deploy := r.Find(t, tSABinding, "deploy-workload-identity-user")
	want := poolPrefix("github") + "/attribute.deploy_job/" + strings.Repeat("9", 20) + ":" + owner + "/" + name +
		"/.github/workflows/" + strings.Repeat("w", 95) + ".yaml@refs/heads/" + branch + ":repo:" + owner + "/" + name + ":environment:" + strings.Repeat("e", 255)
	if got := deploy.Strs("members"); len(got) != 1 || got[0] != want {
		t.Errorf("a long name must never be shortened in the binding itself: %q", got)
	}
}

// The runbook's `pulumi config set` lines set only keys the program reads, and every key it
// requires: a key renamed in the code, or a new required one, fails here before an admin meets
// it.
func TestRunbookSetsEveryRequiredKey(t *testing.T) {
	set := map[string]bool{}
	re := regexp.MustCompile(`(?m)^\s*pulumi config set (?:--path )?'?([A-Za-z:]+)`)
	for _, m := range re.FindAllStringSubmatch(readme(t), -1) {
		set[m[1]] = true
	}
	known := map[string]bool{ci.KeyGCPProject: true}
	for _, k := range ci.Keys {
		known[k] = true
	}
	for k := range set {
		if !known[k] {
			t.Errorf("the runbook sets %s, which the bootstrap does not read", k)
		}
	}
	// The required keys are those an empty config reports missing.
	_, err := ci.Load(project, config.MapSource(map[string]string{}), nil)
	var cerr *diag.ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("an empty config: %v", err)
	}
	required := 0
	for _, p := range cerr.Diagnostics {
		if p.Type != diag.Required {
			continue
		}
		required++
		if !set[p.Path] {
			t.Errorf("the runbook never sets %s, which the bootstrap requires", p.Path)
		}
	}
	if required < 9 || !set[ci.KeyCIProjectNumber] || !set[ci.KeyCallersProject] {
		t.Errorf("%d required keys found, runbook sets %v", required, set)
	}
}
