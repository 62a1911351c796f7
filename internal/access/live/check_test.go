package live

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/testcheck"
)

func check(t *testing.T, f *fakeGoogle) (*Report, string) {
	t.Helper()
	return checkPlan(t, testPlan(t, stack), "test", f)
}

// checkPlan runs -live on a plan against the fake and renders it as text.
func checkPlan(t *testing.T, p *plan.Stack, stackName string, f *fakeGoogle) (*Report, string) {
	t.Helper()
	r, err := Check(context.Background(), Request{Plan: p, Stack: stackName, At: at, Timeout: 30 * time.Second, Options: f.options()})
	if err != nil {
		t.Fatal(err)
	}
	return r, render(t, WriteReport, r, access.Text)
}

// render writes v in format f with write (WriteReport, WriteUsage), or ends the test.
func render[T any](t *testing.T, write func(io.Writer, T, access.Format) error, v T, f access.Format) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b, v, f); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func policyOf(t *testing.T, r *Report, name string) Policy {
	t.Helper()
	for _, p := range r.Policies {
		if strings.HasPrefix(p.Name, name) {
			return p
		}
	}
	t.Fatalf("no policy %q in %+v", name, r.Policies)
	return Policy{}
}

func TestCheckEqualWhenLiveIsDeclared(t *testing.T) {
	f := newFake(t, declaredAnswers(t))
	r, text := check(t, f)
	if !r.Equal || !r.Complete || r.ExitStatus() != access.ExitOK {
		t.Fatalf("equal %v complete %v exit %d, want equal:\n%s", r.Equal, r.Complete, r.ExitStatus(), text)
	}
	// Every policy the plan declares was read, by the name the plan computed, at version 3.
	var names []string
	for _, p := range r.Policies {
		names = append(names, p.Kind+" "+p.Name+" "+p.Status)
	}
	want := []string{
		"service orders-api equals declared",
		"service account " + runtime + " (runtime account) equals declared",
		"service account " + batch + " (caller orders-batch) equals declared",
		"service account " + front + " (caller orders-front) equals declared",
		"bucket " + bucket + " equals declared",
		"secret projects/acme-test/secrets/db-password equals declared",
		"secret projects/acme-vault/secrets/signing-key equals declared",
	}
	testcheck.Lines(t, "policies", names, want)
	for _, req := range f.Requests() {
		if strings.Contains(req, "getIamPolicy") || strings.Contains(req, "/iam?") {
			if !strings.Contains(req, "requestedPolicyVersion=3") && !strings.Contains(req, `"requestedPolicyVersion":3`) && !strings.Contains(req, "optionsRequestedPolicyVersion=3") {
				t.Errorf("policy read without version 3: %s", req)
			}
		}
		if strings.Contains(req, billing) {
			t.Errorf("read the external caller's account, which the stack declares nothing on: %s", req)
		}
	}
	// The bucket's policy is the stack's: the creation time is printed to pin, with the project
	// number, read before and after the policy.
	if r.Pin == nil || !r.Pin.Ready || r.Pin.CreationTime != "2026-06-01T08:09:10.123Z" || r.Pin.ProjectNumber != "123456789012" {
		t.Fatalf("pin = %+v, want the bucket's creation time", r.Pin)
	}
	for _, s := range []string{"AUTHZ_BUCKET_CREATION_TIME=2026-06-01T08:09:10.123Z (guard.WithBucketCreationTime)", "AUTHZ_PROJECT_NUMBER=123456789012"} {
		if !strings.Contains(text, s) {
			t.Errorf("the report lacks %q:\n%s", s, text)
		}
	}
	var metas int
	for _, req := range f.Requests() {
		if strings.HasPrefix(req, "GET "+pathMeta+"?") {
			metas++
			if !strings.Contains(req, "fields=") || !strings.Contains(req, "timeCreated") {
				t.Errorf("bucket read asks for more than its creation time: %s", req)
			}
		}
	}
	if metas != 2 {
		t.Errorf("bucket metadata read %d times, want before and after its policy", metas)
	}
	if !strings.HasPrefix(text, "Live access of stack test, project acme-test (read at 2026-11-23T00:00:00Z): live equals declared\n") {
		t.Errorf("headline:\n%s", text)
	}
}

func TestCheckReportsEveryKindOfDifference(t *testing.T) {
	answers := with(declaredAnswers(t),
		// The service: an invoker added by hand, a developer role nobody declared, a declared
		// invoker gone, and a deleted principal.
		pathService, policy(t,
			bind("roles/run.invoker", "serviceAccount:"+batch, "serviceAccount:"+billing, "user:stray@acme.example", "deleted:serviceAccount:old@acme-test.iam.gserviceaccount.com?uid=7"),
			bind("roles/run.developer", "user:dev@acme.example"),
		),
		// A caller account: ann's grant under another expiry, a token creator added by hand, and
		// lead, still in config, deleted.
		pathBatch, policy(t,
			bind("roles/iam.serviceAccountTokenCreator", "group:devs@acme.example", "user:mallory@acme.example", "deleted:user:lead@acme.example?uid=9"),
			bindIf("expires-20991231t000000z", `request.time < timestamp("2099-12-31T00:00:00Z")`, "roles/iam.serviceAccountTokenCreator", "user:ann@acme.example"),
			bind("roles/iam.serviceAccountOpenIdTokenCreator", "serviceAccount:"+batch),
			bind("roles/iam.serviceAccountUser", "group:batch-deployers@acme.example"),
		),
		// The runtime account: someone may act as the service now.
		pathRuntime, policy(t, bind("roles/iam.serviceAccountUser", "user:eve@acme.example")),
		// The bucket: Storage's convenience binding is back.
		pathBucket, policy(t, bind(guard, "serviceAccount:"+front), bind("roles/storage.legacyBucketReader", "projectViewer:acme-test")),
		// The vault secret: the runtime account's access only under a condition, and a role on
		// the secret nobody declared for it; other members are the secret owners' business.
		pathVault, policy(t,
			bindIf("office-hours", `request.time.getHours("UTC") < 18`, "roles/secretmanager.secretAccessor", "serviceAccount:"+runtime),
			bind("roles/secretmanager.admin", "serviceAccount:"+runtime, "group:vault-admins@acme.example"),
		),
		// An account that cannot be read.
		pathFront, answer{403, forbidden},
	)
	f := newFake(t, answers)
	r, text := check(t, f)
	if r.Equal || r.Complete || r.ExitStatus() != ExitDiffers {
		t.Fatalf("equal %v complete %v exit %d, want differs (3) with one policy unread:\n%s", r.Equal, r.Complete, r.ExitStatus(), text)
	}
	type diff struct{ kind, role, member, fix string }
	cases := []struct {
		policy string
		status string
		want   []diff
	}{
		{"orders-api", StatusDiffers, []diff{
			{Undeclared, "roles/run.developer", "user:dev@acme.example", "`pulumi up --refresh --stack test` removes it"},
			{Deleted, "roles/run.invoker", "deleted:serviceAccount:old@acme-test.iam.gserviceaccount.com?uid=7", "rewrites the policy without it"},
			{Missing, "roles/run.invoker", "serviceAccount:" + front, "`pulumi up --refresh --stack test` grants it"},
			{Undeclared, "roles/run.invoker", "user:stray@acme.example", "declare it in Pulumi.test.yaml"},
		}},
		{batch, StatusDiffers, []diff{
			{Deleted, "roles/iam.serviceAccountTokenCreator", "deleted:user:lead@acme.example?uid=9", "Pulumi.test.yaml still names user:lead@acme.example: remove it there first"},
			{ConditionDiffers, "roles/iam.serviceAccountTokenCreator", "user:ann@acme.example", "puts the declared condition back"},
			{Missing, "roles/iam.serviceAccountTokenCreator", "user:lead@acme.example", "grants it"},
			{Undeclared, "roles/iam.serviceAccountTokenCreator", "user:mallory@acme.example", "removes it"},
		}},
		{runtime, StatusDiffers, []diff{
			{Undeclared, "roles/iam.serviceAccountUser", "user:eve@acme.example", "removes it"},
		}},
		{bucket, StatusDiffers, []diff{
			{Undeclared, "roles/storage.legacyBucketReader", "projectViewer:acme-test", "removes it"},
		}},
		{"projects/acme-test/secrets/db-password", StatusEqual, nil},
		{"projects/acme-vault/secrets/signing-key", StatusDiffers, []diff{
			{Undeclared, "roles/secretmanager.admin", "serviceAccount:" + runtime, "gcloud secrets remove-iam-policy-binding signing-key --project=acme-vault --member='serviceAccount:" + runtime + "' --role='roles/secretmanager.admin'"},
			{ConditionDiffers, "roles/secretmanager.secretAccessor", "serviceAccount:" + runtime, "puts the declared condition back"},
		}},
		{front, StatusUnreadable, nil},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			p := policyOf(t, r, tc.policy)
			if p.Status != tc.status {
				t.Errorf("status %q, want %q", p.Status, tc.status)
			}
			if len(p.Differences) != len(tc.want) {
				t.Fatalf("%d differences, want %d:\n%s", len(p.Differences), len(tc.want), linesWith(text, ""))
			}
			for i, w := range tc.want {
				d := p.Differences[i]
				if d.Kind != w.kind || d.Role != w.role || d.Member != w.member || !strings.Contains(d.Fix, w.fix) {
					t.Errorf("difference %d = %+v\nwant %+v", i, d, w)
				}
			}
		})
	}
	// The conditions a reader compares.
	ann := policyOf(t, r, batch).Differences[1]
	if ann.Declared.String() != annTitle+" ("+annExpr+")" || ann.Live.Title != "expires-20991231t000000z" {
		t.Errorf("ann's conditions: live %s, declared %s", ann.Live, ann.Declared)
	}
	unread := policyOf(t, r, front)
	if !strings.Contains(unread.Error, "403") || !strings.Contains(unread.Fix, "iam.serviceAccounts.getIamPolicy") || !strings.Contains(unread.Fix, "audit account") {
		t.Errorf("the unreadable account does not say what would read it: %+v", unread)
	}
	// Nobody else's members on the secret are reported: the program owns one grant there.
	if strings.Contains(text, "vault-admins") || strings.Contains(text, "owner-of-secret") {
		t.Errorf("reports the secret owners' own members:\n%s", text)
	}
	// The bucket's policy differs: no time to pin, and no read of it.
	if r.Pin == nil || r.Pin.Ready || r.Pin.CreationTime != "" || !strings.Contains(r.Pin.Advice, "Do not pin") {
		t.Errorf("pin = %+v, want do not pin", r.Pin)
	}
	for _, line := range []string{
		"  service orders-api (whole policy): differs",
		"    + roles/run.developer to user:dev@acme.example (not declared)",
		"    - roles/run.invoker to serviceAccount:" + front + " (missing)",
		"    ! roles/run.invoker to deleted:serviceAccount:old@acme-test.iam.gserviceaccount.com?uid=7 (deleted principal)",
		"    ~ roles/iam.serviceAccountTokenCreator to user:ann@acme.example (condition differs: live expires-20991231t000000z (request.time < timestamp(\"2099-12-31T00:00:00Z\")), declared " + annTitle + " (" + annExpr + "))",
		"  service account " + front + " (caller orders-front) (whole policy): cannot read",
		"Live access of stack test, project acme-test (read at 2026-11-23T00:00:00Z): live differs from declared, 12 difference(s): 6 not declared, 2 missing, 2 condition differs, 2 deleted principal",
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("the text report lacks the line %q:\n%s", line, text)
		}
	}
}

func TestCheckNotDeployedAndUnreadable(t *testing.T) {
	tests := []struct {
		name    string
		answers map[string]answer
		exit    int
		verdict string
		pin     string
	}{
		{"service not deployed", with(declaredAnswers(t), pathService, nil), ExitDiffers, "1 not found", "pin this bucket"},
		{"bucket unreadable", with(declaredAnswers(t), pathBucket, answer{403, forbidden}), ExitIncomplete, "could not read 1 declared policy; nothing else differs", "Do not pin yet"},
		{"bucket's creation time unreadable", with(declaredAnswers(t), pathMeta, answer{403, forbidden}), access.ExitOK, "live equals declared", "needs storage.buckets.get on the bucket, which the audit account must not hold"},
		{"bucket gone", with(declaredAnswers(t), pathBucket, nil, pathMeta, nil), ExitDiffers, "1 not found", "Do not pin: the bucket does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, text := check(t, newFake(t, tc.answers))
			if r.ExitStatus() != tc.exit || !strings.Contains(r.Verdict(), tc.verdict) {
				t.Errorf("exit %d, verdict %q; want %d and %q:\n%s", r.ExitStatus(), r.Verdict(), tc.exit, tc.verdict, text)
			}
			if r.Pin == nil || !strings.Contains(r.Pin.Advice, tc.pin) {
				t.Errorf("pin advice %+v, want %q", r.Pin, tc.pin)
			}
		})
	}
}

func TestCheckReplacedBucketIsNotPinned(t *testing.T) {
	f := newFake(t, declaredAnswers(t))
	metas := 0
	f.before = func(path string) {
		if path == pathMeta {
			if metas++; metas == 2 { // the read after the policy sees another bucket
				f.answers[pathMeta] = answer{200, `{"timeCreated":"2026-07-01T00:00:00Z","projectNumber":"123456789012"}`}
			}
		}
	}
	r, _ := check(t, f)
	if r.Pin == nil || r.Pin.Ready || r.Pin.CreationTime != "" || !strings.Contains(r.Pin.Advice, "replaced while it was read") {
		t.Errorf("pin = %+v, want refused: the bucket changed between its two reads", r.Pin)
	}
}

func TestCheckOutside(t *testing.T) {
	answers := with(declaredAnswers(t),
		pathProject, policy(t,
			bind("roles/owner", "user:owner@acme.example"),
			bind("roles/editor", "serviceAccount:123-compute@developer.gserviceaccount.com", "deleted:user:gone@acme.example?uid=1"),
			bind("roles/viewer", "user:viewer@acme.example"),
			bind("roles/storage.bucketViewer", "group:data@acme.example"),
			bindIf("office-hours", `request.time.getHours("UTC") < 18`, "roles/run.invoker", "user:contractor@acme.example"),
			bind("projects/acme-test/roles/minter", "group:ops@acme.example"),
			bind("projects/acme-test/roles/gone", "group:old@acme.example"),
			bind("organizations/42/roles/secret", "user:x@acme.example"),
			bind("roles/brandNew.admin", "user:early@acme.example"),
		),
		pathFolder, answer{403, forbidden},
		pathOrg, policy(t, bind("roles/resourcemanager.organizationAdmin", "group:org-admins@acme.example")),
		"/v1/projects/acme-test/roles/minter", jsonAnswer(t, map[string]any{"name": "projects/acme-test/roles/minter", "includedPermissions": []string{"iam.serviceAccounts.getAccessToken", "storage.objects.get"}}),
		"/v1/projects/acme-test/roles/gone", jsonAnswer(t, map[string]any{"name": "projects/acme-test/roles/gone", "deleted": true, "includedPermissions": []string{"run.routes.invoke"}}),
		"/v1/organizations/42/roles/secret", answer{403, forbidden},
		"/v1/roles/brandNew.admin", jsonAnswer(t, map[string]any{"name": "roles/brandNew.admin", "includedPermissions": []string{"storage.buckets.get"}}),
	)
	f := newFake(t, answers)
	r, text := check(t, f)
	if !r.Equal {
		t.Errorf("holders above the declared resources changed the verdict: %s", r.Verdict())
	}
	levels := map[string]Level{}
	var order []string
	for _, l := range r.Outside {
		levels[l.label()] = l
		order = append(order, l.label())
	}
	if !slices.Equal(order, []string{"project acme-test", "folder 123", "organization 42"}) {
		t.Fatalf("levels %q, want the project's ancestry in order", order)
	}
	var holders []string
	for _, h := range levels["project acme-test"].Holders {
		holders = append(holders, holderLine(h))
	}
	want := []string{
		"group:data@acme.example  roles/storage.bucketViewer: storage.buckets.get",
		"group:ops@acme.example  projects/acme-test/roles/minter: iam.serviceAccounts.getAccessToken",
		"serviceAccount:123-compute@developer.gserviceaccount.com  roles/editor: iam.serviceAccountKeys.create, iam.serviceAccounts.actAs, run.routes.invoke",
		"user:contractor@acme.example  roles/run.invoker (only when office-hours (request.time.getHours(\"UTC\") < 18)): run.routes.invoke",
		"user:early@acme.example  roles/brandNew.admin: storage.buckets.get",
		"user:owner@acme.example  roles/owner: iam.serviceAccountKeys.create, iam.serviceAccounts.actAs, iam.serviceAccounts.setIamPolicy, resourcemanager.projects.setIamPolicy, run.routes.invoke, run.services.setIamPolicy",
	}
	testcheck.Lines(t, "project holders", holders, want)
	// Owner, Editor and Viewer do not hold storage.buckets.get at project level; a deleted
	// principal and a deleted role grant nothing; a role that cannot be read is said so.
	if u := levels["project acme-test"].Unchecked; len(u) != 1 || !strings.HasPrefix(u[0], "organizations/42/roles/secret (reading it needs iam.roles.get") {
		t.Errorf("unchecked roles %q, want the organization's role that answered 403", u)
	}
	if l := levels["folder 123"]; !strings.Contains(l.Error, "403") || !strings.Contains(l.Fix, "resourcemanager.folders.getIamPolicy") ||
		!strings.Contains(l.Fix, "which the bootstrap cannot grant") || !strings.Contains(l.Fix, "unknown, not nobody") {
		t.Errorf("the unreadable folder: %+v", l)
	}
	if h := levels["organization 42"].Holders; len(h) != 1 || !slices.Contains(h[0].Permissions, "resourcemanager.organizations.setIamPolicy") {
		t.Errorf("organization holders %+v, want the organization admins, who can grant anything below", h)
	}
	if !strings.Contains(text, "  folder 123: cannot read: 403 The caller does not have permission\n") {
		t.Errorf("the text report does not say the folder could not be read:\n%s", text)
	}
	// Predefined roles in the table are not looked up; every other role is, once.
	var lookups []string
	for _, req := range f.Requests() {
		if strings.Contains(req, "/roles/") && !strings.Contains(req, "getIamPolicy") {
			path, _, _ := strings.Cut(strings.Fields(req)[1], "?")
			lookups = append(lookups, path)
		}
	}
	slices.Sort(lookups)
	if want := []string{"/v1/organizations/42/roles/secret", "/v1/projects/acme-test/roles/gone", "/v1/projects/acme-test/roles/minter", "/v1/roles/brandNew.admin"}; !slices.Equal(lookups, want) {
		t.Errorf("role lookups %q, want %q", lookups, want)
	}
}

func TestCheckUnknownAncestryIsNotNobody(t *testing.T) {
	r, text := check(t, newFake(t, with(declaredAnswers(t), pathAncestry, answer{403, forbidden})))
	var labels []string
	for _, l := range r.Outside {
		labels = append(labels, l.label())
	}
	if !slices.Equal(labels, []string{"project acme-test", LevelAncestry + " acme-test"}) {
		t.Fatalf("levels %q", labels)
	}
	l := r.Outside[1]
	if !strings.Contains(l.Fix, "resourcemanager.projects.get") || !strings.Contains(l.Fix, "unknown, not nobody") {
		t.Errorf("the unread ancestry: %+v", l)
	}
	if strings.Contains(text, "folders and organization above project acme-test: nobody") {
		t.Errorf("an unread ancestry reads as nobody:\n%s", text)
	}
}

// Caller accounts are read by the name the plan computes, and their project's holders are read
// too, when callers live in a project of their own.
func TestAuditedProjectsFollowTheAccounts(t *testing.T) {
	p := testPlan(t, stack)
	for i := range p.Callers {
		if p.Callers[i].Name == "orders-front" {
			p.Callers[i].Account.Name = "projects/acme-callers/serviceAccounts/" + front
		}
	}
	if got := auditedProjects(p); !slices.Equal(got, []string{"acme-callers", "acme-test"}) {
		t.Errorf("audited projects %q", got)
	}
	var paths []string
	for _, tg := range targets(p) {
		paths = append(paths, tg.Resource)
	}
	if !slices.Contains(paths, "//iam.googleapis.com/projects/acme-callers/serviceAccounts/"+front) {
		t.Errorf("targets %q do not read the account where the plan says it is", paths)
	}
}

// A runtime account made elsewhere (the bootstrap's, named by service.runtimeAccount) is not the
// stack's to compare: it is not read, and the report says why.
func TestCheckRuntimeMadeElsewhere(t *testing.T) {
	yaml := strings.Replace(stack, "    secrets:\n", "    runtimeAccount: "+runtime+"\n    secrets:\n", 1)
	f := newFake(t, declaredAnswers(t))
	r, text := checkPlan(t, testPlan(t, yaml), "test", f)
	for _, p := range r.Policies {
		if strings.Contains(p.Name, runtime) {
			t.Errorf("the bootstrap's runtime account is compared as the stack's: %+v", p)
		}
	}
	for _, req := range f.Requests() {
		if strings.Contains(req, pathRuntime) {
			t.Errorf("read the runtime account's policy: %s", req)
		}
	}
	if !r.Equal || len(r.Notes) != 1 || !strings.Contains(text, "Note: The runtime account "+runtime+" is made elsewhere") {
		t.Errorf("equal %v, notes %q:\n%s", r.Equal, r.Notes, text)
	}
}

func TestCheckTimeout(t *testing.T) {
	f := newFake(t, nil)
	f.Hang()
	done := make(chan *Report, 1)
	go func() {
		r, _ := Check(context.Background(), Request{Plan: testPlan(t, stack), Stack: "test", At: at, Timeout: 300 * time.Millisecond, Options: f.options()})
		done <- r
	}()
	select {
	case r := <-done:
		if r == nil || r.Error == "" || r.Equal || r.ExitStatus() != ExitIncomplete || !strings.Contains(r.Error, "-timeout") {
			t.Errorf("report after a timeout: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Check did not return")
	}
}

func TestReportFormats(t *testing.T) {
	answers := with(declaredAnswers(t), pathService, policy(t, bind("roles/run.invoker", "serviceAccount:"+batch, "serviceAccount:"+billing, "serviceAccount:"+front, "user:a|b`<!--@acme.example")))
	r, _ := check(t, newFake(t, answers))
	var back Report
	md := markdownAndJSON(t, WriteReport, r, &back,
		"### Live access of stack `test`, project `acme-test`",
		"**live differs from declared, 1 difference(s): 1 not declared** (read at 2026-11-23T00:00:00Z).",
		"| service `orders-api` | + not declared | `roles/run.invoker` | `` user:a\\|b`<!--@acme.example `` | none |",
		"#### Authz bucket `acme-test-orders-api-authz`: creation-time pin",
	)
	if strings.Contains(md, "| <!--") {
		t.Errorf("a member's text opens an HTML comment in the Markdown:\n%s", md)
	}
	if back.Equal || len(back.Policies) != 7 || back.Policies[0].Differences[0].Member != "user:a|b`<!--@acme.example" {
		t.Errorf("JSON: %+v", back.Policies)
	}
}

// markdownAndJSON writes v as Markdown, which must hold each of want, and as JSON, which must
// decode into back; it returns the Markdown.
func markdownAndJSON[T, B any](t *testing.T, write func(io.Writer, T, access.Format) error, v T, back *B, want ...string) string {
	t.Helper()
	md := render(t, write, v, access.Markdown)
	for _, s := range want {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown lacks %q:\n%s", s, md)
		}
	}
	if js := render(t, write, v, access.JSON); json.Unmarshal([]byte(js), back) != nil {
		t.Errorf("JSON does not decode:\n%s", js)
	}
	return md
}

// Where a read failed, the JSON says so in the same two keys, error and fix, at the same place
// in every object that can fail to read: CI and scripts read them.
func TestUnreadJSON(t *testing.T) {
	u := Unread{Error: "denied", Fix: "grant it"}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{Level{Kind: LevelProject, ID: "p", Unread: u, Holders: []Holder{}, Unchecked: []string{}},
			`{"kind":"project","id":"p","error":"denied","fix":"grant it","holders":[],"uncheckedRoles":[]}`},
		{Policy{Kind: "bucket", Name: "b", Resource: "r", Owns: "all", Status: "unreadable", Unread: u},
			`{"kind":"bucket","name":"b","resource":"r","owns":"all","status":"unreadable","error":"denied","fix":"grant it","differences":null}`},
		{Source{Project: "p", Exempted: []string{}, Unread: u},
			`{"project":"p","recorded":false,"exempted":[],"entries":0,"pages":0,"truncated":false,"error":"denied","fix":"grant it"}`},
		{Level{Kind: LevelProject, ID: "p", Holders: []Holder{}, Unchecked: []string{}},
			`{"kind":"project","id":"p","holders":[],"uncheckedRoles":[]}`},
	} {
		got, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%T:\n got %s\nwant %s", tc.v, got, tc.want)
		}
	}
}
