package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/testcheck"
	"github.com/platform/private-run-api/internal/teststack"
)

var at = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// header is the project, the region and the service, which every test stack starts with.
const header = teststack.Header

// base is a small stack with every kind of grant: invoker, default and own impersonators (one
// with an expiry), the OpenID self-grant, the guard role, and an external caller.
const base = header + `  private-run-api:impersonators:
    - group:devs@acme.example
  private-run-api:callers:
    - name: orders-batch
    - name: orders-front
      authz: true
      impersonators:
        - member: user:ann@acme.example
          expires: "2027-01-31T00:00:00Z"
    - name: billing-partner
      email: billing@acme-billing.iam.gserviceaccount.com
`

func planOf(t *testing.T, yaml string) *plan.Stack {
	t.Helper()
	return teststack.Plan(t, yaml, at)
}

func report(t *testing.T, yaml string) Report { t.Helper(); return Build("test", planOf(t, yaml), at) }

// edit applies string replacements to a stack, failing if one does not apply, so that a test
// never silently compares a stack with itself.
func edit(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q not found in the stack", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// grantStrings renders grants compactly: "principal role target expiry".
func grantStrings(gs []Grant) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, fmt.Sprintf("%s %s %s %s", g.Principal, g.Role, g.Target, FormatExpiry(g.Expires)))
	}
	return out
}

func TestBuildListsEveryGrantOnce(t *testing.T) {
	r := report(t, base)
	const (
		batch = "orders-batch@acme-test.iam.gserviceaccount.com"
		front = "orders-front@acme-test.iam.gserviceaccount.com"
		ext   = "billing@acme-billing.iam.gserviceaccount.com"
	)
	want := []string{
		"group:devs@acme.example roles/iam.serviceAccountTokenCreator service account " + batch + " never",
		"group:devs@acme.example roles/iam.serviceAccountTokenCreator service account " + front + " never",
		"serviceAccount:" + ext + " roles/run.invoker service orders-api never",
		"serviceAccount:" + batch + " roles/iam.serviceAccountOpenIdTokenCreator service account " + batch + " never",
		"serviceAccount:" + batch + " roles/run.invoker service orders-api never",
		"serviceAccount:" + front + " projects/acme-test/roles/orders_api_authz bucket acme-test-orders-api-authz never",
		"serviceAccount:" + front + " roles/iam.serviceAccountOpenIdTokenCreator service account " + front + " never",
		"serviceAccount:" + front + " roles/run.invoker service orders-api never",
		"user:ann@acme.example roles/iam.serviceAccountTokenCreator service account " + front + " 2027-01-31T00:00:00Z",
	}
	if got := grantStrings(r.Grants); !reflect.DeepEqual(got, want) {
		t.Errorf("grants:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	for _, g := range r.Grants {
		switch g.Target.Kind {
		case KindService:
			if g.Target.Resource != "//run.googleapis.com/projects/acme-test/locations/us-central1/services/orders-api" {
				t.Errorf("service resource = %q", g.Target.Resource)
			}
		case KindServiceAccount:
			if g.Target.Resource != "//iam.googleapis.com/projects/acme-test/serviceAccounts/"+g.Target.Name {
				t.Errorf("account resource = %q", g.Target.Resource)
			}
		case KindBucket:
			if g.Target.Resource != "//storage.googleapis.com/projects/_/buckets/acme-test-orders-api-authz" {
				t.Errorf("bucket resource = %q", g.Target.Resource)
			}
		default:
			t.Errorf("grant on unexpected target kind %q", g.Target.Kind)
		}
	}

	var items []string
	for _, it := range r.Inventory {
		items = append(items, it.Kind+" "+it.Name+": "+it.Detail)
	}
	wantItems := []string{
		"service orders-api: region us-central1, ingress INGRESS_TRAFFIC_ALL, runs as orders-api-run@acme-test.iam.gserviceaccount.com",
		"service account orders-api-run@acme-test.iam.gserviceaccount.com: runtime account of orders-api; this program grants it no role",
		"service account " + batch + ": caller orders-batch",
		"service account " + front + ": caller orders-front",
		"custom role projects/acme-test/roles/orders_api_authz: permissions: storage.buckets.get",
		"bucket acme-test-orders-api-authz: location US-CENTRAL1; empty; its whole IAM policy is the authz role for its members, nothing else",
	}
	testcheck.Lines(t, "inventory (the external caller's account is not created, so not listed)", items, wantItems)
}

func TestBuildExpiriesAndGuardOff(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		now       time.Time
		want      []string // substrings of grantStrings that must appear
		absent    []string // substrings that must not
		warning   string
		noGuard   bool
		wantItems int
	}{
		{
			name:   "expiry not yet passed",
			yaml:   base,
			now:    at,
			want:   []string{"user:ann@acme.example roles/iam.serviceAccountTokenCreator service account orders-front@acme-test.iam.gserviceaccount.com 2027-01-31T00:00:00Z"},
			absent: []string{},
		},
		{
			name:    "expiry passed: grant gone, warning kept",
			yaml:    base,
			now:     time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC),
			absent:  []string{"user:ann@acme.example"},
			warning: "callers[1].impersonators[0] \"user:ann@acme.example\": expired at 2027-01-31T00:00:00Z",
		},
		{
			name:    "guard off: no bucket grant, no bucket, the role stays",
			yaml:    edit(t, base, "      authz: true\n", "", "  private-run-api:callers:", "  private-run-api:authz:\n    enabled: false\n  private-run-api:callers:"),
			now:     at,
			want:    []string{"roles/run.invoker service orders-api"},
			absent:  []string{"bucket", "authz"},
			noGuard: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := plan.Load(teststack.Parse(t, tc.yaml), tc.now)
			if err != nil {
				t.Fatal(err)
			}
			r := Build("test", p, tc.now)
			all := strings.Join(grantStrings(r.Grants), "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing grant %q in:\n%s", w, all)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(all, a) {
					t.Errorf("grant containing %q should be absent:\n%s", a, all)
				}
			}
			if tc.warning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q lack %q", r.Warnings, tc.warning)
			}
			// With the guard off the bucket goes but the role stays: a deleted role's ID is blocked
			// for weeks, so turning the guard on again would fail.
			kinds := map[string]int{}
			for _, it := range r.Inventory {
				kinds[it.Kind]++
			}
			if tc.noGuard && (kinds[KindBucket] != 0 || kinds[KindCustomRole] != 1) {
				t.Errorf("guard off: %d buckets and %d custom roles listed, want 0 and 1", kinds[KindBucket], kinds[KindCustomRole])
			}
			if got := strings.Join(r.Outside, "\n"); !strings.Contains(got, "run.routes.invoke") || strings.Contains(got, "storage.buckets.get") == tc.noGuard {
				t.Errorf("outside-control notes (guard off: %v):\n%s", tc.noGuard, got)
			}
			if !r.At.Equal(tc.now) {
				t.Errorf("report judged at %v, want %v", r.At, tc.now)
			}
		})
	}
}

func TestBuildNilPlanIsEmpty(t *testing.T) {
	r := Build("new", nil, at)
	if len(r.Grants) != 0 || len(r.Inventory) != 0 {
		t.Fatalf("nil plan: %d grants, %d items; want none", len(r.Grants), len(r.Inventory))
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, r, JSON); err != nil {
		t.Fatal(err)
	}
	// Empty lists, not null, so that a jq filter over .grants[] works on a new stack.
	if !strings.Contains(buf.String(), `"grants": []`) || !strings.Contains(buf.String(), `"inventory": []`) {
		t.Errorf("empty report JSON should hold empty lists:\n%s", buf.String())
	}
}

func TestPlanInvalidConfigReturnsConfigError(t *testing.T) {
	p, _, err := plan.Load(teststack.Parse(t, edit(t, base, "name: orders-batch", "name: Orders_Batch")), at)
	var cfgErr *diag.ConfigError
	if !errors.As(err, &cfgErr) {
		t.Fatalf("Plan error = %v, want a *diag.ConfigError", err)
	}
	if p != nil {
		t.Errorf("an invalid config must yield no plan, got %+v", p)
	}
	if !strings.HasPrefix(err.Error(), "Pulumi.test.yaml: invalid stack config") || !strings.Contains(err.Error(), `callers[0].name "Orders_Batch"`) {
		t.Errorf("error should name the file and the bad value:\n%v", err)
	}
}

func TestRender(t *testing.T) {
	r := report(t, edit(t, base, "  private-run-api:callers:", "  private-run-api:callers:\n    - name: old-job\n      impersonators:\n        - member: user:bob@acme.example\n          expires: \"2026-01-01T00:00:00Z\""))
	tests := []formatCase{
		{Text, []string{
			"Access report for stack test, project acme-test (expiries judged at 2026-11-23T00:00:00Z)",
			"Grants (12), by principal",
			"  user:ann@acme.example\n    roles/iam.serviceAccountTokenCreator  ",
			"service account orders-front@acme-test.iam.gserviceaccount.com  2027-01-31T00:00:00Z  may impersonate caller orders-front\n",
			"Created (7)",
			"  bucket           acme-test-orders-api-authz",
			"Warnings (1)\n  ! callers[0].impersonators[0] \"user:bob@acme.example\": expired at 2026-01-01T00:00:00Z",
		}},
		{Markdown, []string{
			"### Access report: stack `test`, project `acme-test`",
			"| Principal | Role | On | Expires | Why |\n|---|---|---|---|---|\n",
			"| `user:ann@acme.example` | `roles/iam.serviceAccountTokenCreator` | service account `orders-front@acme-test.iam.gserviceaccount.com` | 2027-01-31T00:00:00Z | may impersonate caller orders-front |\n",
			"| custom role | `projects/acme-test/roles/orders_api_authz` | permissions: storage.buckets.get; \"Authz guard for orders-api\" |",
			"#### Warnings (1)\n\n- callers\\[0\\].impersonators\\[0\\] \"user:bob@acme.example\": expired",
		}},
		{JSON, []string{
			`"evaluatedAt": "2026-11-23T00:00:00Z"`,
			`"principal": "user:ann@acme.example"`,
			`"expires": "2027-01-31T00:00:00Z"`,
			`"resource": "//storage.googleapis.com/projects/_/buckets/acme-test-orders-api-authz"`,
		}},
	}
	checkFormats(t, tests, func(w io.Writer, f Format) error { return WriteReport(w, r, f) }, func(t *testing.T, f Format, out []byte) {
		if f != JSON {
			return
		}
		var back Report
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("JSON does not parse back: %v", err)
		}
		if !reflect.DeepEqual(grantStrings(back.Grants), grantStrings(r.Grants)) || len(back.Inventory) != len(r.Inventory) || len(back.Warnings) != 1 {
			t.Errorf("JSON round trip lost data:\n%s", out)
		}
	})
}

// formatCase is what one format's rendering must contain.
type formatCase struct {
	format Format
	want   []string
}

// checkFormats renders with write in each case's format, in a subtest named after the format, and
// fails it unless the output contains every wanted string; then, when more is not nil, it runs
// more on the output.
func checkFormats(t *testing.T, cases []formatCase, write func(io.Writer, Format) error, more func(t *testing.T, f Format, out []byte)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(string(tc.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := write(&buf, tc.format); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
			if more != nil {
				more(t, tc.format, buf.Bytes())
			}
		})
	}
}

// A caller description is free text from the pull request: it must not be able to add lines to
// the terminal report or hide the rest of a Markdown comment.
func TestRenderNeutralisesDescriptions(t *testing.T) {
	evil := edit(t, base, "    - name: orders-batch", "    - name: orders-batch\n      description: \"ok\\n    + roles/owner on everything\\n<!-- | `x` \\e[2J\"")
	r := report(t, evil)
	var text, md bytes.Buffer
	if err := WriteReport(&text, r, Text); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(&md, r, Markdown); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(text.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "+ roles/owner") {
			t.Errorf("description forged a line in the text report: %q", l)
		}
	}
	// Quoting shows the reviewer the line breaks and the escape instead of acting on them.
	if !strings.Contains(text.String(), `"ok\n    + roles/owner on everything\n<!-- | `+"`x`"+` \x1b[2J"`) {
		t.Errorf("description should appear on one line, quoted with Go escapes:\n%s", text.String())
	}
	if strings.ContainsRune(text.String(), '\x1b') {
		t.Error("terminal escape reached the text report")
	}
	if strings.Contains(md.String(), "<!--") {
		t.Errorf("unescaped HTML comment in Markdown:\n%s", md.String())
	}
	if !strings.Contains(md.String(), `\<\!--`) || !strings.Contains(md.String(), `\| \`+"`x\\`") {
		t.Errorf("description not escaped as expected in Markdown:\n%s", md.String())
	}
}

// change renders one diff entry compactly for comparison.
func change(g GrantChange) string {
	s := fmt.Sprintf("%s %s %s %s", g.Change.symbol(), g.Principal, g.Role, g.Target.Name)
	if g.Change == Changed {
		s += fmt.Sprintf(" %s->%s", FormatExpiry(g.BaseExpires), FormatExpiry(g.Expires))
	}
	return s
}

func TestCompare(t *testing.T) {
	const (
		batch = "orders-batch@acme-test.iam.gserviceaccount.com"
		front = "orders-front@acme-test.iam.gserviceaccount.com"
		audit = "orders-audit@acme-test.iam.gserviceaccount.com"
	)
	tests := []struct {
		name       string
		head       string
		wantGrants []string
		wantItems  []string
	}{
		{
			name: "add caller",
			head: edit(t, base, "    - name: billing-partner", "    - name: orders-audit\n      invoke: false\n      authz: true\n    - name: billing-partner"),
			wantGrants: []string{
				"+ group:devs@acme.example roles/iam.serviceAccountTokenCreator " + audit,
				"+ serviceAccount:" + audit + " projects/acme-test/roles/orders_api_authz acme-test-orders-api-authz",
				"+ serviceAccount:" + audit + " roles/iam.serviceAccountOpenIdTokenCreator " + audit,
			},
			wantItems: []string{"+ service account " + audit},
		},
		{
			name: "remove caller",
			head: edit(t, base, "    - name: orders-batch\n", ""),
			wantGrants: []string{
				"- group:devs@acme.example roles/iam.serviceAccountTokenCreator " + batch,
				"- serviceAccount:" + batch + " roles/iam.serviceAccountOpenIdTokenCreator " + batch,
				"- serviceAccount:" + batch + " roles/run.invoker orders-api",
			},
			wantItems: []string{"- service account " + batch},
		},
		{
			name: "add default impersonator",
			head: edit(t, base, "    - group:devs@acme.example", "    - group:devs@acme.example\n    - user:carol@acme.example"),
			wantGrants: []string{
				"+ user:carol@acme.example roles/iam.serviceAccountTokenCreator " + batch,
				"+ user:carol@acme.example roles/iam.serviceAccountTokenCreator " + front,
			},
		},
		{
			name:       "move an expiry: one changed line, not a removal and an addition",
			head:       edit(t, base, `expires: "2027-01-31T00:00:00Z"`, `expires: "2027-04-30T00:00:00Z"`),
			wantGrants: []string{"~ user:ann@acme.example roles/iam.serviceAccountTokenCreator " + front + " 2027-01-31T00:00:00Z->2027-04-30T00:00:00Z"},
		},
		{
			name:       "drop an expiry",
			head:       edit(t, base, "        - member: user:ann@acme.example\n          expires: \"2027-01-31T00:00:00Z\"", "        - user:ann@acme.example"),
			wantGrants: []string{"~ user:ann@acme.example roles/iam.serviceAccountTokenCreator " + front + " 2027-01-31T00:00:00Z->never"},
		},
		{
			name: "reorder callers: no change",
			head: edit(t, base,
				"    - name: orders-batch\n", "",
				"    - name: billing-partner\n      email: billing@acme-billing.iam.gserviceaccount.com\n",
				"    - name: orders-batch\n",
				"  private-run-api:callers:\n", "  private-run-api:callers:\n    - name: billing-partner\n      email: billing@acme-billing.iam.gserviceaccount.com\n"),
		},
		{
			name:      "rename the custom role's title only: no access change",
			head:      edit(t, base, "  private-run-api:callers:", "  private-run-api:authz:\n    roleTitle: Renamed\n  private-run-api:callers:"),
			wantItems: nil,
		},
		{
			name:       "ingress change is reported on the service",
			head:       edit(t, base, "    name: orders-api\n", "    name: orders-api\n    ingress: internal\n"),
			wantGrants: nil,
			wantItems:  []string{"~ service orders-api"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.head == base {
				t.Fatal("head equals base: the edit did nothing")
			}
			d := Compare(report(t, base), report(t, tc.head), "base", "head")
			var got []string
			for _, g := range d.Grants {
				got = append(got, change(g))
			}
			if !reflect.DeepEqual(got, tc.wantGrants) {
				t.Errorf("grant changes:\n got %q\nwant %q", got, tc.wantGrants)
			}
			var items []string
			for _, it := range d.Inventory {
				items = append(items, it.Change.symbol()+" "+it.Kind+" "+it.Name)
			}
			if !reflect.DeepEqual(items, tc.wantItems) {
				t.Errorf("inventory changes:\n got %q\nwant %q", items, tc.wantItems)
			}
			if want := len(tc.wantGrants)+len(tc.wantItems) > 0; d.Changed != want {
				t.Errorf("Changed = %v, want %v", d.Changed, want)
			}
		})
	}
}

// TestCompareAudiences: the custom audiences are part of what the service accepts, so a change
// to them is a changed service (~), shown with both lists; reordering them is none.
func TestCompareAudiences(t *testing.T) {
	const (
		one = "https://orders-api.acme-test.internal"
		two = "https://orders-api.acme-test.api.acme.example"
	)
	withAudiences := func(list string) string {
		return edit(t, base, "    name: orders-api\n", "    name: orders-api\n    audiences: "+list+"\n")
	}
	const detail = "region us-central1, ingress INGRESS_TRAFFIC_ALL, runs as orders-api-run@acme-test.iam.gserviceaccount.com"
	tests := []struct {
		name       string
		base, head string
		// line is the text diff's line for the service, "" when the diff must be empty.
		line string
	}{
		{"add audiences", base, withAudiences("[" + one + ", " + two + "]"),
			"~ service orders-api: " + detail + " -> " + detail + "; accepts ID tokens for its URL and the custom audiences " + two + ", " + one},
		{"remove them", withAudiences("[" + one + "]"), base,
			"~ service orders-api: " + detail + "; accepts ID tokens for its URL and the custom audiences " + one + " -> " + detail},
		{"replace one", withAudiences("[" + one + "]"), withAudiences("[" + two + "]"),
			"~ service orders-api: " + detail + "; accepts ID tokens for its URL and the custom audiences " + one + " -> " + detail + "; accepts ID tokens for its URL and the custom audiences " + two},
		{"reorder them: no change", withAudiences("[" + one + ", " + two + "]"), withAudiences("[" + two + ", " + one + "]"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.base == tc.head {
				t.Fatal("head equals base: the edit did nothing")
			}
			d := Compare(report(t, tc.base), report(t, tc.head), "base", "head")
			if len(d.Grants) != 0 {
				t.Errorf("audiences changed grants: %v", d.Grants)
			}
			var buf bytes.Buffer
			if err := WriteDiff(&buf, d, Text); err != nil {
				t.Fatal(err)
			}
			if tc.line == "" {
				if d.Changed || len(d.Inventory) != 0 {
					t.Errorf("want no change, got:\n%s", buf.String())
				}
				return
			}
			if len(d.Inventory) != 1 || d.Inventory[0].Change != Changed || d.Inventory[0].Kind != KindService || !d.Changed {
				t.Fatalf("want one changed service, got %+v", d.Inventory)
			}
			if !strings.Contains(buf.String(), "\n  "+tc.line+"\n") {
				t.Errorf("text diff lacks the line\n  %s\ngot:\n%s", tc.line, buf.String())
			}
		})
	}
}

func TestCompareFromNothingAddsEverything(t *testing.T) {
	head := report(t, base)
	d := Compare(Build("test", nil, at), head, "new stack", "head")
	if len(d.Grants) != len(head.Grants) || len(d.Inventory) != len(head.Inventory) {
		t.Fatalf("from an empty base: %d grant and %d item changes, want %d and %d", len(d.Grants), len(d.Inventory), len(head.Grants), len(head.Inventory))
	}
	for _, g := range d.Grants {
		if g.Change != Added {
			t.Errorf("%s: %s, want added", change(g), g.Change)
		}
	}
}

func TestRenderDiff(t *testing.T) {
	head := edit(t, base,
		"    - name: billing-partner", "    - name: orders-audit\n    - name: billing-partner",
		`expires: "2027-01-31T00:00:00Z"`, `expires: "2027-04-30T00:00:00Z"`)
	d := Compare(report(t, base), report(t, head), "origin/main (abc)", "Pulumi.test.yaml")
	const audit = "orders-audit@acme-test.iam.gserviceaccount.com"
	tests := []formatCase{
		{Text, []string{
			"Access changes in stack test (origin/main (abc) -> Pulumi.test.yaml): grants 3 added, 0 removed, 1 changed; created resources 1 added, 0 removed, 0 changed\n",
			"\nGrants, by principal:\n  group:devs@acme.example\n    + roles/iam.serviceAccountTokenCreator on service account " + audit + "; no expiry; may impersonate caller orders-audit\n",
			"  serviceAccount:" + audit + "\n    + roles/iam.serviceAccountOpenIdTokenCreator on service account " + audit + "; no expiry;",
			"    + roles/run.invoker on service orders-api; no expiry; caller orders-audit may call the service\n",
			"  user:ann@acme.example\n    ~ roles/iam.serviceAccountTokenCreator on service account orders-front@acme-test.iam.gserviceaccount.com: expiry 2027-01-31T00:00:00Z -> 2027-04-30T00:00:00Z\n",
			"\nCreated resources:\n  + service account " + audit + " (caller orders-audit)\n",
		}},
		{Markdown, []string{
			"### Access changes in stack `test`\n",
			"```diff\nGrants, by principal:\ngroup:devs@acme.example\n+ roles/iam.serviceAccountTokenCreator on service account " + audit,
			"\n~ roles/iam.serviceAccountTokenCreator on service account orders-front@acme-test.iam.gserviceaccount.com: expiry 2027-01-31T00:00:00Z -> 2027-04-30T00:00:00Z\n",
			"\n+ service account " + audit + " (caller orders-audit)\n```\n",
		}},
		{JSON, []string{`"changed": true`, `"change": "changed"`, `"baseExpires": "2027-01-31T00:00:00Z"`, `"expires": "2027-04-30T00:00:00Z"`}},
	}
	checkFormats(t, tests, func(w io.Writer, f Format) error { return WriteDiff(w, d, f) }, nil)

	t.Run("no change", func(t *testing.T) {
		same := Compare(report(t, base), report(t, base), "HEAD", "Pulumi.test.yaml")
		for _, f := range Formats {
			var buf bytes.Buffer
			if err := WriteDiff(&buf, same, f); err != nil {
				t.Fatal(err)
			}
			want := map[Format]string{Text: "No access change in stack test (HEAD -> Pulumi.test.yaml).", Markdown: "### No access change in stack `test`", JSON: `"changed": false`}[f]
			if !strings.Contains(buf.String(), want) || strings.Contains(buf.String(), "roles/") {
				t.Errorf("%s: want only %q, got:\n%s", f, want, buf.String())
			}
		}
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorsAreReturned(t *testing.T) {
	r := report(t, base)
	for _, f := range Formats {
		if err := WriteReport(failWriter{}, r, f); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: WriteReport error = %v, want the writer's", f, err)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "text, markdown or json") {
		t.Errorf("ParseFormat(yaml) error = %v, want one listing the formats", err)
	}
}

// TestDiffShowsSecretAccess: reading a new secret is a grant to the runtime account, and the
// diff shows it with the use that needs it; a moved version is not an access change.
func TestDiffShowsSecretAccess(t *testing.T) {
	build := func(secrets string) Report {
		t.Helper()
		return report(t, header+secrets)
	}
	base := build("")
	head := build(`    secrets:
      - secret: projects/acme-vault/secrets/db-password
        env: DB_PASSWORD
`)
	d := Compare(base, head, "base", "head")
	if !d.Changed || len(d.Grants) != 1 {
		t.Fatalf("diff = %+v, want one added grant", d.Grants)
	}
	g := d.Grants[0]
	if g.Change != Added || g.Principal != "serviceAccount:orders-api-run@acme-test.iam.gserviceaccount.com" || g.Role != "roles/secretmanager.secretAccessor" ||
		g.Target.Resource != "//secretmanager.googleapis.com/projects/acme-vault/secrets/db-password" || !strings.Contains(g.Why, "env DB_PASSWORD") {
		t.Errorf("secret grant = %+v", g)
	}
	moved := build(`    secrets:
      - secret: projects/acme-vault/secrets/db-password
        version: "7"
        env: DB_PASSWORD
`)
	if d := Compare(head, moved, "head", "moved"); len(d.Grants) != 0 {
		t.Errorf("a new version of the same secret shows as %+v", d.Grants)
	}
}
