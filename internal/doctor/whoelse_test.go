package doctor

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/fakegoogle"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/testcheck"
)

// fakeIAM answers the Resource Manager, Cloud Run and IAM APIs (internal/fakegoogle) from
// answers, by path.
type fakeIAM struct {
	*fakegoogle.Server
	// answers maps a request path to its status and JSON body; anything else is a 404.
	answers map[string]answer
}

type answer struct {
	code int
	body string
}

func newFakeIAM(t *testing.T, answers map[string]answer) *fakeIAM {
	f := &fakeIAM{answers: answers}
	f.Server = fakegoogle.New(t, func(path string, _ []byte) (int, string, bool) {
		a, ok := f.answers[path]
		return a.code, a.body, ok
	})
	return f
}

func policy(t *testing.T, bindings ...map[string]any) answer {
	t.Helper()
	return answer{200, fakegoogle.Policy(t, bindings...)}
}

var bind = fakegoogle.Bind

func bindIf(title, role string, members ...string) map[string]any {
	return fakegoogle.BindIf(title, `request.time.getHours("Asia/Tokyo") < 18`, role, members...)
}

func role(t *testing.T, name string, perms ...string) answer {
	t.Helper()
	return answer{200, fakegoogle.JSON(t, map[string]any{"name": name, "includedPermissions": perms})}
}

const denied = fakegoogle.Forbidden

func testPlan(t *testing.T) *plan.Stack {
	t.Helper()
	sf, err := ReadStack(stackDir(t, map[string]string{"test": testStack}), "test")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := plan.Load(sf, now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func whoElseOut(t *testing.T, req WhoElseRequest) (*WhoElseReport, string) {
	t.Helper()
	r := WhoElse(context.Background(), req)
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Status == Problem || f.Status == OK {
			t.Errorf("the report graded %q %s: it only informs (INFO or WARNING)", f.Summary, f.Status)
		}
	}
	return r, b.String()
}

// finding returns the finding whose summary contains s, with its text joined.
func finding(r *WhoElseReport, sev Status, s string) (Finding, string, bool) {
	for _, f := range r.Findings {
		if f.Status == sev && strings.Contains(f.Summary, s) {
			return f, strings.Join(f.Detail, "\n") + "\n" + strings.Join(f.Commands, "\n"), true
		}
	}
	return Finding{}, "", false
}

func TestWhoElse(t *testing.T) {
	st := testPlan(t)
	front := "serviceAccount:" + frontEmail
	var liveInvokers []string
	for _, m := range st.Invokers {
		if m != front { // deployed before orders-front was added
			liveInvokers = append(liveInvokers, m)
		}
	}
	const (
		svcPath   = "/v2/projects/acme-test/locations/asia-northeast1/services/orders-api:getIamPolicy"
		batchPath = "/v1/projects/acme-test/serviceAccounts/" + batchEmail + ":getIamPolicy"
		frontPath = "/v1/projects/acme-test/serviceAccounts/" + frontEmail + ":getIamPolicy"
	)
	f := newFakeIAM(t, map[string]answer{
		"/v3/projects/acme-test:getIamPolicy": policy(t,
			bind("roles/owner", "user:owner@acme.example"),
			bind("roles/editor", "serviceAccount:123456-compute@developer.gserviceaccount.com", "deleted:user:gone@acme.example?uid=111"),
			bind("roles/viewer", "user:viewer@acme.example"),
			bind("projects/acme-test/roles/invokeRole", "group:ops@acme.example"),
			bind("projects/acme-test/roles/readOnly", "user:ro@acme.example"),
			bind("organizations/42/roles/secret", "user:x@acme.example"),
			bindIf("office-hours", "roles/run.invoker", "user:contractor@acme.example"),
		),
		svcPath: policy(t,
			bind("roles/run.invoker", append(liveInvokers, "user:stray@acme.example", "deleted:serviceAccount:old-job@acme-test.iam.gserviceaccount.com?uid=222")...),
			bind("roles/run.developer", "user:dev@acme.example"),
			bind("roles/run.servicesInvoker", "allUsers"),
		),
		batchPath: policy(t,
			bind(plan.RoleTokenCreator, "user:alice@acme.example", "deleted:user:lead@acme.example?uid=333"),
			bindIf("old-grant", "roles/iam.serviceAccountUser", "deleted:group:old@acme.example?uid=444"),
		),
		frontPath: {403, denied},
		"/v1/projects/acme-test/serviceAccounts/" + purgerEmail + ":getIamPolicy": {200, `{"etag":"ACAB"}`},
		"/v1/roles/viewer":                        role(t, "roles/viewer", "run.routes.get", "run.services.get"),
		"/v1/roles/run.developer":                 role(t, "roles/run.developer", "run.routes.invoke", "run.services.update"),
		"/v1/projects/acme-test/roles/invokeRole": role(t, "projects/acme-test/roles/invokeRole", "run.routes.invoke"),
		"/v1/projects/acme-test/roles/readOnly":   role(t, "projects/acme-test/roles/readOnly", "run.services.get"),
		"/v1/organizations/42/roles/secret":       {403, denied},
	})
	const asYou = "gcloud auth print-access-token | go run ./cmd/doctor -stack test -who-else -iam-token-file -"
	r, out := whoElseOut(t, WhoElseRequest{Plan: st, Stack: "test", Timeout: 30 * time.Second, Options: f.Options(), AsYourself: asYou})

	if !strings.HasPrefix(out, "Who else can call service orders-api (project acme-test): outside this program's control\n") ||
		!strings.Contains(out, "nothing here changes the exit status") {
		t.Errorf("the header does not say what the report is:\n%s", out)
	}

	t.Run("project-level holders", func(t *testing.T) {
		_, text, ok := finding(r, Info, "4 principals can call every Cloud Run service in project acme-test")
		if !ok {
			t.Fatalf("no project-level finding for 4 principals:\n%s", out)
		}
		testcheck.Contains(t, "the project-level finding", text,
			"user:owner@acme.example (roles/owner)",
			"serviceAccount:123456-compute@developer.gserviceaccount.com (roles/editor)",
			"group:ops@acme.example (projects/acme-test/roles/invokeRole)",
			"user:contractor@acme.example (roles/run.invoker, only when office-hours)",
			"The Compute Engine default account is among them",
			"organizations/42/roles/secret (403 The caller does not have permission)",
			"folders and organization",
		)
		for _, s := range []string{"viewer@", "ro@", "gone@", "user:x@"} {
			if strings.Contains(text, s) {
				t.Errorf("lists %q, which cannot call:\n%s", s, text)
			}
		}
	})

	t.Run("service policy", func(t *testing.T) {
		checks := []struct {
			sev               Status
			summary, contains string
		}{
			{Warning, "The service is public", "gcloud run services remove-iam-policy-binding orders-api --project=acme-test --region=asia-northeast1 --member='allUsers' --role='roles/run.servicesInvoker'"},
			{Warning, "1 invoker on the service that the stack does not grant", "user:stray@acme.example\n"},
			{Warning, "The live service lacks 1 invoker the stack grants", front + "\n"},
			{Info, "1 principal can call the service through bindings the program does not own", "user:dev@acme.example (roles/run.developer)"},
		}
		for _, c := range checks {
			fd, text, ok := finding(r, c.sev, c.summary)
			if !ok {
				t.Errorf("no %s finding %q:\n%s", c.sev, c.summary, out)
				continue
			}
			if !strings.Contains(text, c.contains) {
				t.Errorf("%q lacks %q:\n%s", fd.Summary, c.contains, text)
			}
		}
		_, text, _ := finding(r, Info, "through bindings the program does not own")
		if strings.Contains(text, "stray@") || strings.Contains(text, "allUsers") || strings.Contains(text, "orders-batch@") {
			t.Errorf("repeats what other findings report:\n%s", text)
		}
	})

	t.Run("deleted principals", func(t *testing.T) {
		tests := []struct {
			summary  string
			commands []string
			contains []string
			absent   []string
		}{
			{
				summary:  "deleted:user:gone@acme.example?uid=111 holds roles/editor on project acme-test",
				commands: []string{"gcloud projects remove-iam-policy-binding acme-test --member='deleted:user:gone@acme.example?uid=111' --role='roles/editor'"},
				contains: []string{"granting user:gone@acme.example again fails", "does not own this binding"},
				absent:   []string{"pulumi preview", "pulumi up --stack"},
			},
			{
				summary: "deleted:serviceAccount:old-job@acme-test.iam.gserviceaccount.com?uid=222 holds roles/run.invoker on service orders-api",
				commands: []string{"pulumi up --refresh --stack test",
					"gcloud run services remove-iam-policy-binding orders-api --project=acme-test --region=asia-northeast1 --member='deleted:serviceAccount:old-job@acme-test.iam.gserviceaccount.com?uid=222' --role='roles/run.invoker'"},
				contains: []string{"every `pulumi preview` shows a diff", "rewrites the binding's member list"},
				absent:   []string{"still lists"},
			},
			{
				summary: "deleted:user:lead@acme.example?uid=333 holds roles/iam.serviceAccountTokenCreator on account " + batchEmail,
				commands: []string{"pulumi up --refresh --stack test",
					"gcloud iam service-accounts remove-iam-policy-binding " + batchEmail + " --member='deleted:user:lead@acme.example?uid=333' --role='roles/iam.serviceAccountTokenCreator'"},
				contains: []string{"Pulumi.test.yaml still lists user:lead@acme.example: remove it there first"},
			},
			{
				summary:  "deleted:group:old@acme.example?uid=444 holds roles/iam.serviceAccountUser on account " + batchEmail,
				commands: []string{"gcloud iam service-accounts remove-iam-policy-binding " + batchEmail + " --member='deleted:group:old@acme.example?uid=444' --role='roles/iam.serviceAccountUser' --all"},
				contains: []string{"(condition old-grant)", "does not own this binding"},
			},
		}
		n := 0
		for _, fd := range r.Findings {
			if strings.HasPrefix(fd.Summary, "A deleted principal is still bound") {
				n++
			}
		}
		if n != len(tests) {
			t.Errorf("%d deleted-principal findings, want %d:\n%s", n, len(tests), out)
		}
		for _, tc := range tests {
			fd, text, ok := finding(r, Warning, tc.summary)
			if !ok {
				t.Errorf("no finding %q:\n%s", tc.summary, out)
				continue
			}
			if !slices.Equal(fd.Commands, tc.commands) {
				t.Errorf("%q commands:\n%q\nwant\n%q", tc.summary, fd.Commands, tc.commands)
			}
			for _, s := range tc.contains {
				if !strings.Contains(text+fd.Summary, s) {
					t.Errorf("%q lacks %q:\n%s", tc.summary, s, text)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(text, s) {
					t.Errorf("%q has %q:\n%s", tc.summary, s, text)
				}
			}
		}
	})

	t.Run("a denied read says how to read as yourself", func(t *testing.T) {
		fd, text, ok := finding(r, Warning, "Could not read the IAM policy of 1 caller account: permission denied")
		if !ok {
			t.Fatalf("no permission-denied finding:\n%s", out)
		}
		if !slices.Equal(fd.Commands, []string{asYou}) || !strings.Contains(text, "iam.serviceAccounts.getIamPolicy") || !strings.Contains(text, frontEmail) {
			t.Errorf("the finding does not name the permission, the account and the way out:\n%s", text)
		}
	})

	t.Run("requests", func(t *testing.T) {
		var lookups []string
		for _, req := range f.Requests() {
			switch {
			case strings.Contains(req, ":getIamPolicy"):
				// Version 3 returns conditional bindings as they are; older versions mangle them.
				if !strings.Contains(req, "options.requestedPolicyVersion=3") && !strings.Contains(req, `"requestedPolicyVersion":3`) {
					t.Errorf("policy read without version 3: %s", req)
				}
			default:
				lookups = append(lookups, strings.Fields(req)[1])
			}
		}
		sort.Strings(lookups)
		// Roles known to hold run.routes.invoke are not looked up; every other one is, once.
		want := []string{"/v1/organizations/42/roles/secret?", "/v1/projects/acme-test/roles/invokeRole?", "/v1/projects/acme-test/roles/readOnly?", "/v1/roles/run.developer?", "/v1/roles/viewer?"}
		for i := range lookups {
			lookups[i], _, _ = strings.Cut(lookups[i], "alt=")
		}
		if !slices.Equal(lookups, want) {
			t.Errorf("role lookups %q, want %q", lookups, want)
		}
	})
}

func TestWhoElseReadFailures(t *testing.T) {
	st := testPlan(t)
	tests := []struct {
		name    string
		answers map[string]answer
		sev     Status
		summary string
		text    []string
	}{
		{
			name:    "project policy denied",
			answers: map[string]answer{"/v3/projects/acme-test:getIamPolicy": {403, denied}},
			sev:     Warning, summary: "Could not read the IAM policy of project acme-test: permission denied",
			text: []string{"resourcemanager.projects.getIamPolicy", "roles/iam.securityReviewer", "impersonate a caller account", "AS-YOURSELF"},
		},
		{
			name:    "service not deployed",
			answers: map[string]answer{},
			sev:     Warning, summary: "Service orders-api is not deployed in asia-northeast1 (project acme-test)",
			text: []string{"pulumi up --refresh --stack test"},
		},
		{
			name:    "nobody at project level",
			answers: map[string]answer{"/v3/projects/acme-test:getIamPolicy": {200, `{"etag":"x"}`}},
			sev:     Info, summary: "No project-level role lets anyone call the services of project acme-test",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIAM(t, tc.answers)
			r, out := whoElseOut(t, WhoElseRequest{Plan: st, Stack: "test", Timeout: 30 * time.Second, Options: f.Options(), AsYourself: "AS-YOURSELF"})
			_, text, ok := finding(r, tc.sev, tc.summary)
			if !ok {
				t.Fatalf("no %s finding %q:\n%s", tc.sev, tc.summary, out)
			}
			for _, s := range tc.text {
				if !strings.Contains(text, s) {
					t.Errorf("lacks %q:\n%s", s, text)
				}
			}
		})
	}
}

func TestWhoElseTimeout(t *testing.T) {
	f := newFakeIAM(t, nil)
	f.Hang()
	done := make(chan *WhoElseReport, 1)
	go func() {
		done <- WhoElse(context.Background(), WhoElseRequest{Plan: testPlan(t), Stack: "test", Timeout: 300 * time.Millisecond, Options: f.Options()})
	}()
	select {
	case r := <-done:
		if len(r.Findings) != 1 || r.Findings[0].Status != Warning || r.Findings[0].Summary != "The report timed out after 300ms" {
			t.Errorf("want one timeout warning, got %+v", r.Findings)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WhoElse did not return")
	}
}
