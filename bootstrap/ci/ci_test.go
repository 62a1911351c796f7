package ci_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/config"
	"github.com/platform/private-run-api/internal/mocktest"
)

// exampleStack reads bootstrap/Pulumi.example.yaml through the same reader the main stack's
// tools use, so the example is held to what the program accepts.
func exampleStack(tb testing.TB) map[string]string {
	tb.Helper()
	sf, err := config.ReadStack("..", stackName)
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
		tCustomRole + " deploy-bucket-role",
		tProjMember + " deploy-bucket-role",
		tProjMember + " deploy-iam-roleAdmin",
		tProjMember + " deploy-iam-serviceAccountAdmin",
		tProjMember + " deploy-run-admin",
		tProjMember + " deploy-serviceusage-serviceUsageAdmin",
		tProjMember + " preview-iam-roleViewer",
		tProjMember + " preview-iam-securityReviewer",
		tProjMember + " preview-iam-serviceAccountViewer",
		tProjMember + " preview-run-viewer",
		tProjMember + " preview-serviceusage-serviceUsageViewer",
		tProjMember + " preview-storage-bucketViewer",
		tAPI + " api-cloudresourcemanager.googleapis.com",
		tAPI + " api-iam.googleapis.com",
		tAPI + " api-iamcredentials.googleapis.com",
		tAPI + " api-sts.googleapis.com",
		tAccount + " deploy-account",
		tAccount + " preview-account",
		tSABinding + " deploy-workload-identity-user",
		tSABinding + " preview-workload-identity-user",
		tSAMember + " deploy-act-as-runtime",
		tBucketMem + " deploy-state-writer",
		tBucketMem + " preview-state-reader",
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
	}
	preview := r.Find(t, tAccount, "preview-account")
	deploy := r.Find(t, tAccount, "deploy-account")
	if preview.Str("accountId") != "ci-preview" || deploy.Str("accountId") != "ci-deploy" || preview.Str("project") != "acme-platform-dev" {
		t.Errorf("accounts: preview %q, deploy %q in %q", preview.Str("accountId"), deploy.Str("accountId"), preview.Str("project"))
	}
	// The accounts exist only after the APIs are on: a fresh project would refuse them otherwise.
	if len(deploy.Deps) < len(ci.APIs) {
		t.Errorf("deploy account depends on %d resources, want at least the %d APIs", len(deploy.Deps), len(ci.APIs))
	}

	provider := "projects/" + projectNumber + "/locations/global/workloadIdentityPools/github/providers/github-actions"
	wantOut := map[string]any{
		"workloadIdentityProvider": provider,
		"workloadIdentityPool":     "projects/" + projectNumber + "/locations/global/workloadIdentityPools/github",
		"previewServiceAccount":    "ci-preview@acme-platform-dev.iam.gserviceaccount.com",
		"deployServiceAccount":     "ci-deploy@acme-platform-dev.iam.gserviceaccount.com",
		"attributeCondition":       `assertion.repository == "acme/private-run-api" && assertion.repository_id == "812345678"`,
		"deployRef":                "refs/heads/main",
	}
	for name, want := range wantOut {
		if got := r.Outputs[name]; got != want {
			t.Errorf("output %s = %v, want %v", name, got, want)
		}
	}
	vars, _ := r.Outputs["githubVariables"].(map[string]string)
	wantVars := map[string]string{
		ci.VarWorkloadIdentityProvider: provider,
		ci.VarPreviewServiceAccount:    "ci-preview@acme-platform-dev.iam.gserviceaccount.com",
		ci.VarDeployServiceAccount:     "ci-deploy@acme-platform-dev.iam.gserviceaccount.com",
		ci.VarBackendURL:               "gs://acme-platform-dev-pulumi-state",
	}
	if !reflect.DeepEqual(vars, wantVars) {
		t.Errorf("githubVariables = %v, want %v", vars, wantVars)
	}
}

func TestProviderTrustsOnlyTheRepository(t *testing.T) {
	cases := []struct {
		name      string
		overrides map[string]string
		condition string
	}{
		{"repository only", nil, `assertion.repository == "acme/private-run-api"`},
		{"repository and its ID", map[string]string{"repositoryId": "812345678"},
			`assertion.repository == "acme/private-run-api" && assertion.repository_id == "812345678"`},
		{"case kept as GitHub spells it", map[string]string{"repository": "Acme-Corp/Private.Run_API"},
			`assertion.repository == "Acme-Corp/Private.Run_API"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, base(tc.overrides))
			p := r.Find(t, tProvider, "github-provider")
			if got := p.Str("attributeCondition"); got != tc.condition {
				t.Errorf("attributeCondition = %q, want %q", got, tc.condition)
			}
			oidc := p.Inputs["oidc"].ObjectValue()
			if got := oidc["issuerUri"].StringValue(); got != "https://token.actions.githubusercontent.com" {
				t.Errorf("issuer = %q", got)
			}
			if aud, ok := oidc["allowedAudiences"]; ok && aud.IsArray() && len(aud.ArrayValue()) > 0 {
				t.Errorf("allowedAudiences = %v; the default (the provider's own URL) is what the auth action requests", aud)
			}
			mapping := p.StrMap("attributeMapping")
			for attr, expr := range map[string]string{
				"google.subject":             "assertion.sub",
				"attribute.repository":       "assertion.repository",
				"attribute.repository_owner": "assertion.repository_owner",
				"attribute.ref":              "assertion.ref",
				"attribute.repo_ref":         `assertion.repository + "@" + assertion.ref`,
			} {
				if mapping[attr] != expr {
					t.Errorf("attributeMapping[%s] = %q, want %q", attr, mapping[attr], expr)
				}
			}
			// The provider must live in the pool declared here, not in some other pool.
			if got := p.Str("workloadIdentityPoolId"); got != "github" {
				t.Errorf("provider's pool = %q, want github", got)
			}
		})
	}
}

func TestDeployAccountIsImpersonableOnlyFromTheDeployBranch(t *testing.T) {
	cases := []struct {
		name      string
		overrides map[string]string
		deploy    string
	}{
		{"default branch", nil, poolPrefix("github") + "/attribute.repo_ref/acme/private-run-api@refs/heads/main"},
		{"release branch, own pool", map[string]string{"deployBranch": "release/prod", "poolId": "ci-pool"},
			poolPrefix("ci-pool") + "/attribute.repo_ref/acme/private-run-api@refs/heads/release/prod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, base(tc.overrides))
			deploy := r.Find(t, tSABinding, "deploy-workload-identity-user")
			if got := deploy.Strs("members"); !reflect.DeepEqual(got, []string{tc.deploy}) {
				t.Errorf("deploy account's impersonators = %q, want only %q", got, tc.deploy)
			}
			if deploy.Str("serviceAccountId") != "projects/acme-test/serviceAccounts/ci-deploy@acme-test.iam.gserviceaccount.com" ||
				deploy.Str("role") != ci.RoleWorkloadIdentityUser {
				t.Errorf("deploy binding: %s on %s", deploy.Str("role"), deploy.Str("serviceAccountId"))
			}
			pool := strings.TrimSuffix(strings.Split(tc.deploy, "/attribute.")[0], "/")
			preview := r.Find(t, tSABinding, "preview-workload-identity-user")
			if got, want := preview.Strs("members"), []string{pool + "/attribute.repository/acme/private-run-api"}; !reflect.DeepEqual(got, want) {
				t.Errorf("preview account's impersonators = %q, want %q (any ref: pull requests preview)", got, want)
			}

			// Nothing else lets anyone act as, or mint tokens for, the deploy account.
			deployName := deploy.Str("serviceAccountId")
			for _, g := range r.grants() {
				if g.Target == deployName && g.Name != "deploy-workload-identity-user" {
					t.Errorf("%s also grants on the deploy account", g)
				}
				if strings.HasPrefix(g.Member, "principal") && g.Target != deployName && g.Name != "preview-workload-identity-user" {
					t.Errorf("%s gives a federated identity access outside the two bindings", g)
				}
			}
		})
	}
}

// readOnly is the allowlist the preview account is held to: a role is read-only when its name
// says it views, or when it is listed here after checking that it holds only get/list
// permissions.
func readOnly(role string) bool {
	extra := map[string]bool{
		// getIamPolicy and list on every resource type; no set, no data access.
		"roles/iam.securityReviewer": true,
	}
	return strings.HasSuffix(role, ".viewer") || strings.HasSuffix(role, "Viewer") || extra[role]
}

func TestReadOnlyAllowlist(t *testing.T) {
	for role, want := range map[string]bool{
		"roles/run.viewer":                      true,
		"roles/storage.objectViewer":            true,
		"roles/iam.securityReviewer":            true,
		"roles/run.admin":                       false,
		"roles/editor":                          false,
		"roles/iam.serviceAccountTokenCreator":  false,
		"roles/storage.objectUser":              false,
		"projects/acme-test/roles/someReviewer": false,
	} {
		if got := readOnly(role); got != want {
			t.Errorf("readOnly(%q) = %v, want %v", role, got, want)
		}
	}
}

func TestPreviewAccountHoldsOnlyReadOnlyRoles(t *testing.T) {
	r := mustRun(t, base(nil))
	var roles []string
	for _, g := range r.grants() {
		if g.Member != sa("ci-preview") {
			continue
		}
		roles = append(roles, g.Role)
		if !readOnly(g.Role) {
			t.Errorf("preview account holds %s, which is not on the read-only allowlist", g)
		}
	}
	sort.Strings(roles)
	// Every resource type the main program declares must be readable, or `pulumi preview
	// --refresh` fails on a pull request.
	want := []string{
		"roles/iam.roleViewer",                  // projects.IAMCustomRole
		"roles/iam.securityReviewer",            // every *IamBinding's policy
		"roles/iam.serviceAccountViewer",        // serviceaccount.Account
		"roles/run.viewer",                      // cloudrunv2.Service
		"roles/serviceusage.serviceUsageViewer", // projects.Service
		"roles/storage.bucketViewer",            // storage.Bucket
		"roles/storage.objectViewer",            // the Pulumi state
	}
	if !reflect.DeepEqual(roles, want) {
		t.Errorf("preview roles = %q, want %q", roles, want)
	}
	reader := r.Find(t, tBucketMem, "preview-state-reader")
	if reader.Str("bucket") != "acme-test-pulumi-state" {
		t.Errorf("preview reads state in bucket %q", reader.Str("bucket"))
	}
}

func TestDeployAccountHoldsExactlyWhatUpNeeds(t *testing.T) {
	r := mustRun(t, base(nil))
	var got []string
	for _, g := range r.grants() {
		if g.Member == sa("ci-deploy") {
			got = append(got, g.Role+" on "+g.Target)
		}
	}
	sort.Strings(got)
	want := []string{
		"projects/acme-test/roles/ciBucketDeployer on acme-test",
		"roles/iam.roleAdmin on acme-test",
		"roles/iam.serviceAccountAdmin on acme-test",
		"roles/iam.serviceAccountUser on projects/acme-test/serviceAccounts/orders-api-run@acme-test.iam.gserviceaccount.com",
		"roles/run.admin on acme-test",
		"roles/serviceusage.serviceUsageAdmin on acme-test",
		"roles/storage.objectUser on bucket acme-test-pulumi-state",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deploy grants:\n got %q\nwant %q", got, want)
	}

	role := r.Find(t, tCustomRole, "deploy-bucket-role")
	if role.Str("roleId") != "ciBucketDeployer" || role.Str("stage") != "GA" {
		t.Errorf("custom role %q stage %q", role.Str("roleId"), role.Str("stage"))
	}
	perms := role.Strs("permissions")
	if !reflect.DeepEqual(perms, ci.BucketPermissions) {
		t.Errorf("custom role permissions = %q, want %q", perms, ci.BucketPermissions)
	}
	for _, p := range perms {
		if !strings.HasPrefix(p, "storage.buckets.") {
			t.Errorf("custom role holds %s: the deploy account needs no object access outside the state bucket", p)
		}
	}
	// The role grant must wait for the role, or IAM refuses an unknown role.
	grant := r.Find(t, tProjMember, "deploy-bucket-role")
	if !dependsOn(grant, tCustomRole, "deploy-bucket-role") {
		t.Errorf("the custom role's grant does not depend on the role: %q", grant.Deps)
	}
}

func dependsOn(r mocktest.Resource, typ, name string) bool {
	for _, d := range r.Deps {
		if strings.HasSuffix(d, typ+"::"+name) {
			return true
		}
	}
	return false
}

func TestNoKeysNoProjectLevelImpersonationNothingPublic(t *testing.T) {
	r := mustRun(t, exampleStack(t))
	if keys := r.ByType(tAccountKey); len(keys) > 0 {
		t.Errorf("%d service account keys declared; CI authenticates by federation only", len(keys))
	}
	// CIS 1.6 and the rest: none of these may be held on the whole project.
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
		if (g.Type == tProjMember || g.Type == tProjBind) && forbidden[g.Role] {
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
	for _, tc := range []struct {
		protect string
		want    bool
	}{{"", true}, {"true", true}, {"false", false}} {
		t.Run("protect="+tc.protect, func(t *testing.T) {
			r := mustRun(t, base(map[string]string{"protect": tc.protect}))
			for _, x := range append(append(r.ByType(tPool), r.ByType(tProvider)...), r.ByType(tAccount)...) {
				if x.Protect != tc.want {
					t.Errorf("%s protect = %v, want %v", x.Name, x.Protect, tc.want)
				}
			}
			// Grants must follow the code freely, whatever the setting.
			for _, x := range r.Resources {
				if x.Protect && (x.Type != tPool && x.Type != tProvider && x.Type != tAccount) {
					t.Errorf("%s %s is protected", x.Type, x.Name)
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
	if len(r.ByType(tAccount)) != 2 || len(r.ByType(tProvider)) != 1 {
		t.Errorf("identities missing:\n%s", r.Listing())
	}
}

func TestPreviewShowsEveryNameExceptTheProvidersNumber(t *testing.T) {
	r := run(t, base(nil), true)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if !r.Known["deployServiceAccount"] || r.Outputs["deployServiceAccount"] != "ci-deploy@acme-test.iam.gserviceaccount.com" {
		t.Errorf("deployServiceAccount in a preview = %v (known %v)", r.Outputs["deployServiceAccount"], r.Known["deployServiceAccount"])
	}
	// The project number only exists once Google answers: a first preview cannot show it.
	if r.Known["workloadIdentityProvider"] {
		t.Errorf("workloadIdentityProvider known in a first preview: %v", r.Outputs["workloadIdentityProvider"])
	}
	// Grants to the accounts are fully known in a preview, so a reviewer sees every role.
	for _, g := range r.grants() {
		if strings.HasPrefix(g.Member, "serviceAccount:") && (g.Role == "" || g.Target == "") {
			t.Errorf("grant not fully known in a preview: %s", g)
		}
	}
}

func TestInvalidConfigRegistersNothingAndListsEveryProblem(t *testing.T) {
	type want struct{ path, value, rule string }
	cases := []struct {
		name      string
		overrides map[string]string
		want      []want
	}{
		{"empty", map[string]string{"gcp:project": "", "repository": "", "runtimeServiceAccount": "", "stateBucket": ""}, []want{
			{"gcp:project", "", "is missing"},
			{"repository", "", "is missing"},
			{"runtimeServiceAccount", "", "is missing"},
			{"stateBucket", "", "is missing"},
		}},
		{"repository as a URL", map[string]string{"repository": "https://github.com/acme/private-run-api"},
			[]want{{"repository", "https://github.com/acme/private-run-api", "is a URL"}}},
		{"repository without owner", map[string]string{"repository": "private-run-api"},
			[]want{{"repository", "private-run-api", "is not OWNER/REPO"}}},
		{"repository with a path", map[string]string{"repository": "acme/private-run-api/tree"},
			[]want{{"repository", "acme/private-run-api/tree", "is not OWNER/REPO"}}},
		{"owner with double hyphen", map[string]string{"repository": "ac--me/api"},
			[]want{{"repository", "ac--me/api", "has an owner GitHub would refuse"}}},
		{"repository with a quote", map[string]string{"repository": `acme/api" || true`},
			[]want{{"repository", `acme/api" || true`, "has a repository name GitHub would refuse"}}},
		{"repository ID not a number", map[string]string{"repositoryId": "R_kgDOabc"},
			[]want{{"repositoryId", "R_kgDOabc", "is not a GitHub repository ID"}}},
		{"branch as a ref", map[string]string{"deployBranch": "refs/heads/main"},
			[]want{{"deployBranch", "refs/heads/main", "is a full ref"}}},
		{"branch pattern", map[string]string{"deployBranch": "release/*"},
			[]want{{"deployBranch", "release/*", "is a pattern"}}},
		{"pool and provider IDs", map[string]string{"poolId": "gcp-github", "providerId": "gh"}, []want{
			{"poolId", "gcp-github", `starts with "gcp-"`},
			{"providerId", "gh", "must be 4-32 chars"},
		}},
		{"provider ID upper case and too long", map[string]string{"providerId": "GitHub-Actions-For-The-Orders-API-Team"},
			[]want{{"providerId", "GitHub-Actions-For-The-Orders-API-Team", "must be 4-32 chars"}}},
		{"account IDs", map[string]string{"previewAccountId": "ci", "deployAccountId": "Deploy-Bot"}, []want{
			{"previewAccountId", "ci", "must be 6-30 chars"},
			{"deployAccountId", "Deploy-Bot", "must be 6-30 chars"},
		}},
		{"one account for both", map[string]string{"previewAccountId": "ci-bot", "deployAccountId": "ci-bot"},
			[]want{{"deployAccountId", "ci-bot", "is the same account as previewAccountId"}}},
		{"runtime is the compute default", map[string]string{"runtimeServiceAccount": "123456789012-compute@developer.gserviceaccount.com"},
			[]want{{"runtimeServiceAccount", "123456789012-compute@developer.gserviceaccount.com", "is not a user-managed service account email"}}},
		{"runtime in another project", map[string]string{"runtimeServiceAccount": "orders-api-run@other-proj.iam.gserviceaccount.com"},
			[]want{{"runtimeServiceAccount", "orders-api-run@other-proj.iam.gserviceaccount.com", "is not an account of gcp:project acme-test"}}},
		{"runtime is the deploy account", map[string]string{"runtimeServiceAccount": "ci-deploy@acme-test.iam.gserviceaccount.com"},
			[]want{{"runtimeServiceAccount", "ci-deploy@acme-test.iam.gserviceaccount.com", "is one of the CI accounts"}}},
		{"state bucket as a URL", map[string]string{"stateBucket": "gs://acme-state/"},
			[]want{{"stateBucket", "gs://acme-state/", "is a URL, expected a bucket name"}}},
		{"bucket role with hyphen", map[string]string{"bucketRoleId": "ci-bucket-deployer"},
			[]want{{"bucketRoleId", "ci-bucket-deployer", "no hyphen"}}},
		{"booleans", map[string]string{"enableApis": "yes", "protect": "1"}, []want{
			{"enableApis", "yes", "is not true or false"},
			{"protect", "1", "is not true or false"},
		}},
		{"structured value", map[string]string{"repository": `{"owner":"acme","name":"api"}`},
			[]want{{"repository", `{"owner":"acme","name":"api"}`, "is a mapping or a list"}}},
		{"typo in a key", map[string]string{"deployBrnach": "main"},
			[]want{{"private-run-api-bootstrap:deployBrnach", "", "is not a config key"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, base(tc.overrides), false)
			if len(r.Resources) != 0 {
				t.Errorf("%d resources registered for an invalid config:\n%s", len(r.Resources), r.Listing())
			}
			var cerr *config.Error
			if !errors.As(r.Err, &cerr) {
				t.Fatalf("error = %v, want a *config.Error", r.Err)
			}
			if len(cerr.Problems) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(cerr.Problems), len(tc.want), r.Err)
			}
			for i, w := range tc.want {
				p := cerr.Problems[i]
				if p.Path != w.path || p.Value != w.value || !strings.Contains(p.Rule, w.rule) {
					t.Errorf("problem %d = {%q %q %q}, want {%q %q ~%q}", i, p.Path, p.Value, p.Rule, w.path, w.value, w.rule)
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
	var cerr *config.Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
		t.Fatalf("err = %v", err)
	}
	if fix := cerr.Problems[0].Fix; !strings.Contains(fix, `did you mean "private-run-api-bootstrap:deployBranch"`) {
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
}

// The runbook must name every role the code grants, with its reason, and every GitHub variable
// the workflows read: a reader who audits the accounts from the README must see what Google sees.
func TestReadmeNamesEveryRoleAndVariable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	p := ci.Resolve(mustLoad(t, base(nil)))
	for _, g := range p.Grants {
		role := g.Role
		if g.CustomRole {
			role = ci.DefaultBucketRoleID
		}
		if !strings.Contains(readme, role) {
			t.Errorf("README.md does not mention %s (granted to %s: %s)", role, g.Member, g.Why)
		}
	}
	for _, perm := range ci.BucketPermissions {
		if !strings.Contains(readme, perm) {
			t.Errorf("README.md does not list the custom role's %s", perm)
		}
	}
	for _, v := range []string{ci.VarWorkloadIdentityProvider, ci.VarPreviewServiceAccount, ci.VarDeployServiceAccount, ci.VarBackendURL, "PULUMI_CONFIG_PASSPHRASE"} {
		if !strings.Contains(readme, v) {
			t.Errorf("README.md does not say where %s comes from", v)
		}
	}
	for _, k := range ci.Keys {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(k) + `\b`).MatchString(readme) {
			t.Errorf("README.md does not document config key %s", k)
		}
	}
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
	r := mustRun(t, base(map[string]string{"repository": owner + "/" + name, "deployBranch": branch}))
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
	deploy := r.Find(t, tSABinding, "deploy-workload-identity-user")
	if want := poolPrefix("github") + "/attribute.repo_ref/" + owner + "/" + name + "@refs/heads/" + branch; deploy.Strs("members")[0] != want {
		t.Errorf("a long name must never be shortened in the binding itself: %q", deploy.Strs("members"))
	}
}
