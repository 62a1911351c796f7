package live

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/gcp/roles"
	"github.com/platform/private-run-api/internal/markdown"
	"github.com/platform/private-run-api/internal/plan"
)

// The docs about live access, audit and usage are held to the code and to Google's role table:
// the docs' sample is what -live prints, every documented `pulumi up` refreshes, and every claim
// the docs make about which role holds which permission is the table's.

const root = "../../.."

// docs reads the documents that match patterns (relative to the repository root).
func docs(t *testing.T, patterns ...string) markdown.Set {
	t.Helper()
	set, err := markdown.Read(root, patterns...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// section is the text of the section titled title in set, wherever it lives there.
func section(t *testing.T, set markdown.Set, title string) string {
	t.Helper()
	s, err := set.Section(title)
	if err != nil {
		t.Fatal(err)
	}
	return s.Text()
}

// projectDocs are README.md and the pages under docs/.
func projectDocs(t *testing.T) markdown.Set { return docs(t, markdown.ProjectDocs...) }

// devPlan is the docs' dev stack (tests/testdata/stacks/dev) as the program resolves it.
func devPlan(t *testing.T) *plan.Stack {
	t.Helper()
	side, err := access.ReadDir(filepath.Join(root, "tests", "testdata", "stacks", "dev"), "dev")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := plan.Load(*side.File, at)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// livePath is the fake's path of a target's policy, from its full resource name.
func livePath(tg *target) string {
	switch name := tg.Resource[strings.Index(tg.Resource[2:], "/")+3:]; tg.Kind {
	case access.KindService:
		return "/v2/" + name + ":getIamPolicy"
	case access.KindBucket:
		return "/b/" + tg.Name + "/iam"
	default:
		return "/v1/" + name + ":getIamPolicy"
	}
}

// equalAnswers are live policies equal to what p declares: each target's declared bindings.
func equalAnswers(t *testing.T, p *plan.Stack) map[string]answer {
	t.Helper()
	out := map[string]answer{}
	for _, tg := range targets(p) {
		var bs []map[string]any
		for _, b := range tg.declared {
			m := bind(b.Role, b.Members...)
			if b.Condition != nil {
				m = bindIf(b.Condition.Title, b.Condition.Expression, b.Role, b.Members...)
			}
			bs = append(bs, m)
		}
		out[livePath(tg)] = policy(t, bs...)
	}
	return out
}

// readmeSample is the docs' dev stack after a few hands have been at it: an invoker added in
// the console, an expiry extended by hand, an accessor grant removed, and the project's usual
// holders above it.
func readmeSample(t *testing.T) (*Report, string) {
	t.Helper()
	p := devPlan(t)
	a := equalAnswers(t, p)
	dev := "projects/acme-platform-dev"
	svc := "/v2/" + dev + "/locations/asia-northeast1/services/orders-api:getIamPolicy"
	var svcPolicy map[string]any
	if err := json.Unmarshal([]byte(a[svc].body), &svcPolicy); err != nil {
		t.Fatal(err)
	}
	invokers := svcPolicy["bindings"].([]any)[0].(map[string]any)
	a[svc] = policy(t, bind("roles/run.invoker", append(toStrings(invokers["members"]), "user:temp-debug@acme.example")...))
	batchPath := "/v1/" + dev + "/serviceAccounts/orders-batch@acme-platform-dev.iam.gserviceaccount.com:getIamPolicy"
	a[batchPath] = policy(t,
		bind("roles/iam.serviceAccountTokenCreator", "group:orders-api-developers@acme.example", "user:kenji.ito@acme.example"),
		bindIf("expires-20271231t000000z", `request.time < timestamp("2027-12-31T00:00:00Z")`, "roles/iam.serviceAccountTokenCreator", "user:hana.sato@acme.example"),
		bind("roles/iam.serviceAccountOpenIdTokenCreator", "serviceAccount:orders-batch@acme-platform-dev.iam.gserviceaccount.com"),
	)
	a["/v1/projects/acme-shared-secrets/secrets/payments-signing-key:getIamPolicy"] = policy(t, bind("roles/secretmanager.secretAccessor", "serviceAccount:payments@acme-shared-secrets.iam.gserviceaccount.com"))
	a["/b/acme-platform-dev-orders-api-authz"] = answer{200, `{"timeCreated":"2026-06-01T08:09:10.123Z","projectNumber":"123456789012"}`}
	a["/v1/projects/acme-platform-dev:getAncestry"] = answer{200, `{"ancestor":[{"resourceId":{"type":"project","id":"acme-platform-dev"}},{"resourceId":{"type":"folder","id":"314159265358"}},{"resourceId":{"type":"organization","id":"271828182845"}}]}`}
	a["/v3/"+dev+":getIamPolicy"] = policy(t,
		bind("roles/owner", "group:platform-admins@acme.example"),
		bind("roles/editor", "serviceAccount:123456789012-compute@developer.gserviceaccount.com"),
		bind("roles/storage.bucketViewer", "group:data-eng@acme.example"),
	)
	a["/v3/folders/314159265358:getIamPolicy"] = answer{403, forbidden}
	a["/v3/organizations/271828182845:getIamPolicy"] = policy(t, bind("roles/resourcemanager.organizationAdmin", "group:org-admins@acme.example"))
	return checkPlan(t, p, "dev", newFake(t, a))
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// The docs' sample of -live is what it prints for the dev stack and the live policies above
// (tests/docs_test.go leaves this block to this test). A block ending in "..." is the start.
func TestDocsLiveSample(t *testing.T) {
	r, got := readmeSample(t)
	if r.ExitStatus() != ExitDiffers || r.Pin == nil || !r.Pin.Ready {
		t.Fatalf("the sample's report: exit %d, pin %+v", r.ExitStatus(), r.Pin)
	}
	var found []markdown.Fence
	for _, f := range projectDocs(t).Fences() {
		if f.Lang == "text" && strings.HasPrefix(f.Text, "Live access of stack dev") {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one ```text block in the docs starting with \"Live access of stack dev\", found %d", len(found))
	}
	if diff := found[0].Compare(got); diff != "" {
		t.Errorf("%s: the -live sample is not what the code prints (-%s, +real output):\n%s", found[0].Pos(), found[0].Doc.Name, diff)
	}
}

// claim is what the docs say a predefined role holds, or not, at project level.
// claim is what the docs say of one permission at project level: the predefined roles that hold
// it, and the ones that do not.
type claim struct {
	permission      string
	heldBy, notHeld []string
}

// What the docs say about roles is what Google's role table says.
func TestDocsRoleClaimsAreTheTables(t *testing.T) {
	project := projectDocs(t)
	bootstrap := docs(t, "bootstrap/README.md")
	for _, tc := range []struct {
		where  string
		text   string
		claims []claim
	}{
		{"Who else can get in", section(t, project, "Who else can get in"), []claim{
			{roles.StorageBucketsGet, []string{"roles/storage.admin", "roles/storage.bucketViewer", "roles/iam.securityAuditor", "roles/firebase.viewer"}, []string{"roles/owner", "roles/editor", "roles/viewer"}},
			{roles.RunRoutesInvoke, []string{"roles/owner", "roles/editor", "roles/run.admin", "roles/run.invoker", "roles/run.servicesInvoker"}, nil},
		}},
		{"The authz bucket's whole policy", section(t, project, "The authz bucket's whole policy"), []claim{
			// A hand deploy after the first up needs these on the bucket, which the whole policy
			// gives nobody: the deployer's role must hold them at project level.
			{roles.StorageBucketsGet, []string{"roles/storage.admin"}, nil},
			{roles.StorageBucketsGetPolicy, []string{"roles/storage.admin"}, []string{"roles/owner", "roles/editor"}},
			{roles.StorageBucketsSetPolicy, []string{"roles/storage.admin"}, []string{"roles/owner", "roles/editor"}},
		}},
		{"Who may read live access", section(t, project, "Who may read live access"), []claim{
			{roles.ProjectsGetPolicy, []string{"roles/iam.securityReviewer"}, nil},
			{roles.AccountsGetPolicy, []string{"roles/iam.securityReviewer"}, nil},
			{roles.StorageBucketsGetPolicy, []string{"roles/iam.securityReviewer"}, nil},
			{roles.FoldersGetPolicy, []string{"roles/iam.securityReviewer"}, nil},
			{roles.OrganizationGetPolicy, []string{"roles/iam.securityReviewer"}, nil},
			{roles.PrivateLogsList, []string{"roles/iam.securityReviewer"}, nil},
			{roles.StorageBucketsGet, []string{"roles/storage.admin"}, []string{"roles/iam.securityReviewer"}},
			{roles.ProjectsGet, []string{"roles/viewer"}, []string{"roles/iam.securityReviewer"}},
		}},
		{"Token use", section(t, project, "Token use: `-usage`"), []claim{
			{roles.PrivateLogsList, []string{"roles/owner", "roles/logging.admin", "roles/logging.privateLogViewer", "roles/iam.securityReviewer", "roles/iam.securityAuditor"}, []string{"roles/editor", "roles/viewer", "roles/logging.viewer"}},
			{roles.LogViewsAccess, []string{"roles/logging.viewAccessor"}, nil},
		}},
		{"bootstrap/README.md, The audit account", section(t, bootstrap, "The audit account"), []claim{
			{roles.FoldersGetPolicy, []string{"roles/iam.securityReviewer"}, nil},
			{roles.OrganizationGetPolicy, []string{"roles/iam.securityReviewer"}, nil},
			{roles.StorageBucketsGet, nil, []string{"roles/iam.securityReviewer"}},
		}},
	} {
		for _, c := range tc.claims {
			for holds, list := range map[bool][]string{true: c.heldBy, false: c.notHeld} {
				for _, role := range list {
					p, ok := roles.Predefined(role)
					if !ok {
						t.Errorf("%s: %s is not in the role table", tc.where, role)
						continue
					}
					if p.Has(c.permission) != holds {
						t.Errorf("%s: the claim that %s holds %s = %v is false in the role table (%s)", tc.where, role, c.permission, holds, roles.Snapshot())
					}
					if !strings.Contains(tc.text, "`"+role+"`") {
						t.Errorf("%s does not name `%s`, which this test checks it for", tc.where, role)
					}
				}
			}
		}
	}
}

// The docs count the predefined roles that pass the guard; the count is the table's.
func TestDocsCountGuardPassingRoles(t *testing.T) {
	all, people := 0, 0
	for _, name := range roles.Names() {
		if p, _ := roles.Predefined(name); p.PassesGuard() {
			all++
			if !strings.HasSuffix(strings.ToLower(name), "serviceagent") {
				people++
			}
		}
	}
	want := fmt.Sprintf("(%d in the checked-in role table, %d of them not a service agent's)", all, people)
	// However the sentence is wrapped.
	if text := strings.Join(strings.Fields(section(t, projectDocs(t), "Who else can get in")), " "); !strings.Contains(text, want) {
		t.Errorf("\"Who else can get in\" does not say %q", want)
	}
}

// The bootstrap's README shows the audit setting it makes: the service, the log type, the filter
// where the entries land, and what it costs.
func TestBootstrapREADMEShowsTheAuditSetting(t *testing.T) {
	s := section(t, docs(t, "bootstrap/README.md"), "Recording token minting")
	for _, want := range []string{"`iam.googleapis.com`", "`ADMIN_READ`", `protoPayload.serviceName="iamcredentials.googleapis.com"`, "`projects.IAMAuditConfig`",
		"no exempted members", "GenerateAccessToken", "GenerateIdToken", "SignBlob", "SignJwt", "auditLogging", "cost", "`_Default`"} {
		if !strings.Contains(s, want) {
			t.Errorf("bootstrap/README.md, \"Recording token minting\", does not say %q", want)
		}
	}
}
