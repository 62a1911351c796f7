package live

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/testcheck"
	"github.com/platform/private-run-api/internal/teststack"
)

// usageStack has an individual default impersonator (used as one caller only), a caller's own
// impersonators (one used, one refused once and otherwise idle), a group, a run-as grant, and an
// external caller.
const usageStack = teststack.Header + `  private-run-api:impersonators:
    - member: user:hana@acme.example
      expires: "2027-03-31T00:00:00Z"
  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - user:lead@acme.example
        - user:kenji@acme.example
    - name: orders-front
      impersonators:
        - group:oncall@acme.example
        - member: user:olga@acme.example
          expires: "2026-11-01T00:00:00Z"
    - name: orders-audit
      runAs:
        deployers: [group:audit-deployers@acme.example]
    - name: billing-partner
      email: billing@acme-billing.iam.gserviceaccount.com
`

const auditAcct = "orders-audit@acme-test.iam.gserviceaccount.com"

// recorded is a project policy whose audit config records token minting.
func recorded(t *testing.T, exempted ...string) answer {
	t.Helper()
	log := map[string]any{"logType": "ADMIN_READ"}
	if len(exempted) > 0 {
		log["exemptedMembers"] = exempted
	}
	return jsonAnswer(t, map[string]any{"version": 3, "etag": "BwX=", "bindings": []any{},
		"auditConfigs": []any{map[string]any{"service": "iam.googleapis.com", "auditLogConfigs": []any{log}}}})
}

// logEntry is a Data Access audit entry of Service Account Credentials, as Cloud Logging returns
// it: the account in the request's name, or, when the request names it by unique ID, in the
// monitored resource's email label.
func logEntry(at, account, principal, method string, code int) map[string]any {
	name := "projects/-/serviceAccounts/" + account
	if strings.HasPrefix(account, "id:") {
		account = strings.TrimPrefix(account, "id:")
		name = "projects/-/serviceAccounts/104648432451235619001"
	}
	proto := map[string]any{
		"@type":              "type.googleapis.com/google.cloud.audit.AuditLog",
		"serviceName":        "iamcredentials.googleapis.com",
		"methodName":         method,
		"resourceName":       "projects/-/serviceAccounts/104648432451235619001",
		"authenticationInfo": map[string]any{"principalEmail": principal},
		"request":            map[string]any{"@type": "type.googleapis.com/google.iam.credentials.v1." + method + "Request", "name": name},
	}
	if code != 0 {
		proto["status"] = map[string]any{"code": code, "message": "Permission 'iam.serviceAccounts.getAccessToken' denied"}
	}
	return map[string]any{
		"logName":      "projects/acme-test/logs/cloudaudit.googleapis.com%2Fdata_access",
		"timestamp":    at,
		"insertId":     at + principal,
		"protoPayload": proto,
		"resource":     map[string]any{"type": "service_account", "labels": map[string]string{"email_id": account, "project_id": "acme-test", "unique_id": "104648432451235619001"}},
	}
}

// pagesOf answers entries.list with pages, chained by their index as the page token.
func pagesOf(t *testing.T, pages ...[]map[string]any) func([]byte) answer {
	return func(body []byte) answer {
		var req struct {
			PageToken string `json:"pageToken"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return answer{400, `{"error":{"code":400,"message":"bad request"}}`}
		}
		i := 0
		if req.PageToken != "" {
			i = int(req.PageToken[len("page-")] - '0')
		}
		resp := map[string]any{"entries": pages[i]}
		if i+1 < len(pages) {
			resp["nextPageToken"] = "page-" + string(rune('0'+i+1))
		}
		return jsonAnswer(t, resp)
	}
}

// twoPages are a month of minting: lead on both pages, hana as one caller only (named by the
// account's unique ID), the OpenID self-grant, a principal the config does not name, one seen
// through a group, a refused attempt, and an account of another stack.
func twoPages() [][]map[string]any {
	return [][]map[string]any{
		{
			logEntry("2026-10-25T09:00:00.5Z", batch, "lead@acme.example", "GenerateAccessToken", 0),
			logEntry("2026-10-25T09:00:01Z", batch, batch, "GenerateIdToken", 0),
			logEntry("2026-10-26T10:00:00Z", "id:"+front, "hana@acme.example", "GenerateAccessToken", 0),
			logEntry("2026-10-27T11:00:00Z", batch, "ghost@acme.example", "GenerateAccessToken", 0),
			logEntry("2026-10-30T12:00:00Z", front, "olga@acme.example", "GenerateAccessToken", 0),
		},
		{
			logEntry("2026-11-02T08:00:00Z", front, "dana@acme.example", "GenerateIdToken", 0),
			logEntry("2026-11-03T08:00:00Z", batch, "kenji@acme.example", "GenerateAccessToken", 7),
			logEntry("2026-11-20T17:30:00Z", batch, "lead@acme.example", "GenerateAccessToken", 0),
			logEntry("2026-11-21T00:00:00Z", "other-app@acme-test.iam.gserviceaccount.com", "lead@acme.example", "SignJwt", 0),
		},
	}
}

func usage(t *testing.T, f *fakeGoogle, maxPages int) (*Usage, string) {
	t.Helper()
	sf := teststack.Parse(t, usageStack)
	cfg, err := sf.Load()
	if err != nil {
		t.Fatal(err)
	}
	u, err := UsageOf(context.Background(), UsageRequest{
		Request: Request{Plan: testPlan(t, usageStack), Stack: "test", At: at, Timeout: 30 * time.Second, Options: f.options()},
		Config:  cfg, Since: 30 * 24 * time.Hour, MaxPages: maxPages,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u, render(t, WriteUsage, u, access.Text)
}

func lines[T any](xs []T, f func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

func TestUsageAcrossPages(t *testing.T) {
	f := newFake(t, map[string]answer{pathProject: recorded(t)})
	f.pages = pagesOf(t, twoPages()...)
	u, text := usage(t, f, 0)
	if !u.Complete || u.ExitStatus() != ExitDiffers {
		t.Fatalf("complete %v exit %d, want a complete read that finds something (3):\n%s", u.Complete, u.ExitStatus(), text)
	}

	// Paging: both pages, the second by the first's token; the window and the log in the filter.
	var calls []string
	for _, req := range f.Requests() {
		if strings.HasPrefix(req, "POST "+pathEntries) {
			calls = append(calls, req)
		}
	}
	if len(calls) != 2 || !strings.Contains(calls[1], `"pageToken":"page-1"`) {
		t.Fatalf("entries.list calls %q, want two, the second with the first's token", calls)
	}
	for _, s := range []string{`"pageSize":1000`, `"orderBy":"timestamp asc"`, `"resourceNames":["projects/acme-test"]`,
		`logName=\"projects/acme-test/logs/cloudaudit.googleapis.com%2Fdata_access\"`, `protoPayload.serviceName=\"iamcredentials.googleapis.com\"`,
		`timestamp\u003e=\"2026-10-24T00:00:00Z\"`, `timestamp\u003c\"2026-11-23T00:00:00Z\"`} {
		if !strings.Contains(calls[0], s) {
			t.Errorf("the first entries.list lacks %s: %s", s, calls[0])
		}
	}
	if s := u.Sources[0]; s.Entries != 9 || s.Pages != 2 || s.Truncated || !s.Recorded {
		t.Errorf("source %+v, want 9 entries in 2 pages, recorded", s)
	}

	// Flagged first: a principal no grant explains, and one a group may explain.
	if got, want := lines(u.Unnamed, func(m Minting) string { return m.Caller + " " + m.Principal + " " + m.Method + " " + m.Through }), []string{
		"orders-batch user:ghost@acme.example GenerateAccessToken no grant in config names it: granted outside the program, or declared no longer",
		"orders-front user:dana@acme.example GenerateIdToken not named in config; possibly through group:oncall@acme.example (audit entries do not say)",
		"orders-front user:olga@acme.example GenerateAccessToken declared no longer: its entry expired at 2026-11-01T00:00:00Z, after these tokens were minted; remove the stale entry from config",
	}; !slices.Equal(got, want) {
		t.Errorf("unnamed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if i, j := strings.Index(text, "Minted by principals the config does not name"), strings.Index(text, "By caller account"); i < 0 || j < i {
		t.Errorf("the unnamed principals are not flagged first:\n%s", text)
	}

	// Per account: principal, method, count, first and last, and what grants it.
	var accounts []string
	for _, a := range u.Accounts {
		for _, m := range a.Minted {
			accounts = append(accounts, a.Caller+": "+mintingLine(m)+" / "+m.Through)
		}
		if len(a.Minted) == 0 {
			accounts = append(accounts, a.Caller+": nobody")
		}
	}
	want := []string{ // by caller name, as the plan sorts callers
		"orders-audit: nobody",
		"orders-batch: serviceAccount:" + batch + " GenerateIdToken x1, 2026-10-25T09:00:01Z to 2026-10-25T09:00:01Z / the account itself (its OpenID self-grant)",
		"orders-batch: user:ghost@acme.example GenerateAccessToken x1, 2026-10-27T11:00:00Z to 2026-10-27T11:00:00Z / no grant in config names it: granted outside the program, or declared no longer",
		"orders-batch: user:kenji@acme.example GenerateAccessToken x1 (refused by IAM), 2026-11-03T08:00:00Z to 2026-11-03T08:00:00Z / impersonator declared in config",
		"orders-batch: user:lead@acme.example GenerateAccessToken x2, 2026-10-25T09:00:00Z to 2026-11-20T17:30:00Z / impersonator declared in config",
		"orders-front: user:dana@acme.example GenerateIdToken x1, 2026-11-02T08:00:00Z to 2026-11-02T08:00:00Z / not named in config; possibly through group:oncall@acme.example (audit entries do not say)",
		"orders-front: user:hana@acme.example GenerateAccessToken x1, 2026-10-26T10:00:00Z to 2026-10-26T10:00:00Z / impersonator declared in config",
		"orders-front: user:olga@acme.example GenerateAccessToken x1, 2026-10-30T12:00:00Z to 2026-10-30T12:00:00Z / declared no longer: its entry expired at 2026-11-01T00:00:00Z, after these tokens were minted; remove the stale entry from config",
	}
	testcheck.Lines(t, "accounts", accounts, want)
	if u.Unmatched != 1 {
		t.Errorf("%d unmatched entries, want the other stack's one", u.Unmatched)
	}

	// Unused: hana where she minted nothing, and kenji, whose one attempt was refused.
	if got, want := lines(u.Unused, unusedLine), []string{
		"user:hana@acme.example on " + auditAcct + " (caller orders-audit), expires 2027-03-31T00:00:00Z",
		"user:hana@acme.example on " + batch + " (caller orders-batch), expires 2027-03-31T00:00:00Z",
		"user:kenji@acme.example on " + batch + " (caller orders-batch)",
	}; !slices.Equal(got, want) {
		t.Errorf("unused:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A group and a run-as grant cannot be judged, and are never proposed.
	if got, want := lines(u.Unjudged, func(g IndirectGrant) string {
		return g.Caller + " " + g.Member + " " + strings.Join(g.SeenThrough, ",")
	}), []string{
		"orders-audit group:audit-deployers@acme.example ",
		"orders-front group:oncall@acme.example user:dana@acme.example,user:olga@acme.example",
	}; !slices.Equal(got, want) {
		t.Errorf("cannot judge:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The config change: hana moves to the one caller she minted as; kenji goes.
	if u.Proposal == nil {
		t.Fatalf("no proposal: %v", u.Notes)
	}
	if got, want := lines(u.Proposal.Changes, changeLine), []string{
		"remove impersonators[0]: user:hana@acme.example (expires 2027-03-31T00:00:00Z); unused on some caller accounts in the window: moved to the callers it minted as",
		"add callers[1].impersonators: user:hana@acme.example (expires 2027-03-31T00:00:00Z); moved from impersonators[0]: used as caller orders-front",
		"remove callers[0].impersonators[1]: user:kenji@acme.example; minted as caller orders-batch not once in the window",
	}; !slices.Equal(got, want) {
		t.Errorf("changes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var diff bytes.Buffer
	if err := access.WriteDiff(&diff, u.Proposal.Diff, access.Text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"grants 0 added, 4 removed, 0 changed; created resources 0 added, 0 removed, 0 changed",
		"  serviceAccount:" + auditAcct + "\n    - roles/iam.serviceAccountOpenIdTokenCreator on service account " + auditAcct + "\n",
		"  user:hana@acme.example\n    - roles/iam.serviceAccountTokenCreator on service account " + auditAcct + "\n    - roles/iam.serviceAccountTokenCreator on service account " + batch + "\n",
		"  user:kenji@acme.example\n    - roles/iam.serviceAccountTokenCreator on service account " + batch + "\n",
	} {
		if !strings.Contains(diff.String(), s) {
			t.Errorf("the proposal's access diff lacks %q:\n%s", s, diff.String())
		}
	}
	if !strings.Contains(text, "  Access changes in stack test (Pulumi.test.yaml -> Pulumi.test.yaml without the unused grants): grants 0 added, 4 removed") {
		t.Errorf("the text report does not print the proposal's diff:\n%s", text)
	}
}

func TestUsageWindowWithoutEntries(t *testing.T) {
	f := newFake(t, map[string]answer{pathProject: recorded(t)})
	f.pages = pagesOf(t, []map[string]any{})
	u, text := usage(t, f, 0)
	if !u.Complete || len(u.Unnamed) != 0 || u.ExitStatus() != ExitDiffers {
		t.Fatalf("complete %v unnamed %d exit %d:\n%s", u.Complete, len(u.Unnamed), u.ExitStatus(), text)
	}
	for _, a := range u.Accounts {
		if len(a.Minted) != 0 {
			t.Errorf("%s minted %v in an empty window", a.Caller, a.Minted)
		}
	}
	if len(u.Unused) != 5 { // hana on three callers, lead and kenji
		t.Errorf("%d unused grants, want every individual's 5:\n%s", len(u.Unused), text)
	}
	if u.Proposal == nil || !slices.Contains(lines(u.Proposal.Changes, changeLine),
		"remove impersonators[0]: user:hana@acme.example (expires 2027-03-31T00:00:00Z); minted as no caller account in the window") {
		t.Errorf("the proposal does not drop the unused default: %+v", u.Proposal)
	}
	testcheck.Contains(t, "the report", text, "nobody minted as it", "Entries exist only from when Data Access logging for iam.googleapis.com was turned on")
}

func TestUsageCannotJudgeWithoutACompleteRead(t *testing.T) {
	tests := []struct {
		name     string
		answers  map[string]answer
		pages    [][]map[string]any
		maxPages int
		exit     int
		source   []string
		unnamed  int
	}{
		{"permission error", map[string]answer{pathProject: recorded(t), pathEntries: {403, forbidden}}, nil, 0, ExitIncomplete,
			[]string{"could not read the Data Access logs: 403", "logging.privateLogEntries.list", "audit account"}, 0},
		{"minting not recorded", map[string]answer{pathProject: policy(t)}, nil, 0, ExitIncomplete,
			[]string{"token minting is not recorded", "run the bootstrap"}, 0},
		{"project policy unreadable", map[string]answer{pathProject: {403, forbidden}}, nil, 0, ExitIncomplete,
			[]string{"could not check that token minting is recorded", "resourcemanager.projects.getIamPolicy"}, 0},
		{"paging bound reached", map[string]answer{pathProject: recorded(t)}, twoPages(), 1, ExitDiffers,
			[]string{"stopped after 5 entries (1 pages)", "counts are lower bounds"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.answers)
			if tc.pages != nil {
				f.pages = pagesOf(t, tc.pages...)
			}
			u, text := usage(t, f, tc.maxPages)
			if u.Complete || len(u.Unused) != 0 || u.Proposal != nil || u.ExitStatus() != tc.exit || len(u.Unnamed) != tc.unnamed {
				t.Errorf("complete %v, %d unused, proposal %v, %d unnamed, exit %d; want incomplete, nothing judged unused, exit %d:\n%s",
					u.Complete, len(u.Unused), u.Proposal != nil, len(u.Unnamed), u.ExitStatus(), tc.exit, text)
			}
			for _, s := range tc.source {
				if !strings.Contains(sourceLine(u.Sources[0]), s) {
					t.Errorf("source lacks %q: %s", s, sourceLine(u.Sources[0]))
				}
			}
			if !strings.Contains(text, "No grant is judged unused") {
				t.Errorf("the report does not say why nothing is judged unused:\n%s", text)
			}
		})
	}
	// With minting not recorded, no log is read at all.
	f := newFake(t, map[string]answer{pathProject: policy(t)})
	usage(t, f, 0)
	for _, req := range f.Requests() {
		if strings.Contains(req, pathEntries) {
			t.Errorf("read the logs of a project that records no minting: %s", req)
		}
	}
}

func TestUsageExemptedMemberIsNotJudged(t *testing.T) {
	f := newFake(t, map[string]answer{pathProject: recorded(t, "user:kenji@acme.example")})
	f.pages = pagesOf(t, twoPages()...)
	u, _ := usage(t, f, 0)
	for _, g := range u.Unused {
		if g.Member == "user:kenji@acme.example" {
			t.Errorf("kenji is exempted from the audit logs, yet judged unused: %+v", g)
		}
	}
	if !slices.ContainsFunc(u.Unjudged, func(g IndirectGrant) bool {
		return g.Member == "user:kenji@acme.example" && strings.Contains(g.Why, "exempted")
	}) {
		t.Errorf("kenji's exemption is not reported: %+v", u.Unjudged)
	}
	if s := sourceLine(u.Sources[0]); !strings.Contains(s, "exempted: user:kenji@acme.example") {
		t.Errorf("source: %s", s)
	}
}

func TestUsageFormats(t *testing.T) {
	f := newFake(t, map[string]answer{pathProject: recorded(t)})
	f.pages = pagesOf(t, twoPages()...)
	u, _ := usage(t, f, 0)
	var back Usage
	markdownAndJSON(t, WriteUsage, u, &back,
		"### Token use of stack `test`, project `acme-test`",
		"#### Minted by principals the config does not name (3)",
		"| `"+batch+"` | `user:ghost@acme.example` | GenerateAccessToken | 1 |",
		"#### Proposed config change",
		"```diff\n",
	)
	if len(back.Unused) != 3 || back.Proposal == nil || len(back.Proposal.Diff.Grants) != 4 {
		t.Errorf("JSON: %+v", back)
	}
}

// A principal whose entry expired, seen minting after the expiry, holds a grant the program
// does not make: flagged, and pointed to -live.
func TestUsageMintingAfterExpiry(t *testing.T) {
	f := newFake(t, map[string]answer{pathProject: recorded(t)})
	f.pages = pagesOf(t, []map[string]any{logEntry("2026-11-05T12:00:00Z", front, "olga@acme.example", "GenerateAccessToken", 0)})
	u, text := usage(t, f, 0)
	if len(u.Unnamed) != 1 || u.ExitStatus() != ExitDiffers {
		t.Fatalf("unnamed %+v, exit %d:\n%s", u.Unnamed, u.ExitStatus(), text)
	}
	for _, want := range []string{"expired at 2026-11-01T00:00:00Z, yet it minted after that, through a grant outside the program (access -live shows it)", "or possibly through group:oncall@acme.example"} {
		if !strings.Contains(u.Unnamed[0].Through, want) {
			t.Errorf("%q lacks %q", u.Unnamed[0].Through, want)
		}
	}
}
