package ci_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/platform/private-run-api/bootstrap/ci"
)

// token is the claims GitHub puts in a job's OIDC token (docs.github.com, "OpenID Connect
// reference"): every job gets these; environment only when the job declares one, in which case
// sub names the environment instead of the ref or the pull request.
func token(event, ref, workflowFile, env string) map[string]string {
	repo := "acme/private-run-api"
	claims := map[string]string{
		"repository":          repo,
		"repository_id":       "812345678",
		"repository_owner":    "acme",
		"repository_owner_id": "1234567",
		"event_name":          event,
		"ref":                 ref,
		"job_workflow_ref":    repo + "/.github/workflows/" + workflowFile + "@" + ref,
		"actor":               "hana",
		"run_id":              "17000000001",
		"run_attempt":         "1",
	}
	switch {
	case env != "":
		claims["environment"] = env
		claims["sub"] = "repo:" + repo + ":environment:" + env
	case event == "pull_request" || event == "pull_request_target":
		claims["sub"] = "repo:" + repo + ":pull_request"
	default:
		claims["sub"] = "repo:" + repo + ":ref:" + ref
	}
	return claims
}

func with(claims map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(claims))
	for key, val := range claims {
		out[key] = val
	}
	out[k] = v
	return out
}

// The provider and the three bindings are evaluated exactly as configured, for the runs an
// attacker can start: every one that is not the deploy workflow on main in production, or the
// audit workflow on main on its schedule or run by hand, must reach nothing but (for pull
// requests) the preview account.
func TestTokensReachOnlyTheirAccount(t *testing.T) {
	p := ci.Resolve(mustLoad(t, base(nil)))
	main := "refs/heads/main"
	cases := []struct {
		name   string
		claims map[string]string
		want   []string
	}{
		{"deploy.yml pushed to main, in production", token("push", main, "deploy.yml", "production"), []string{"ci-deploy"}},
		{"deploy.yml run by hand on main, in production", token("workflow_dispatch", main, "deploy.yml", "production"), []string{"ci-deploy"}},
		{"pull request from a branch of the repository", token("pull_request", "refs/pull/7/merge", "pr.yml", ""), []string{"ci-preview"}},
		{"pull request whose copy of deploy.yml declares production", token("pull_request", "refs/pull/7/merge", "deploy.yml", "production"), []string{"ci-preview"}},
		{"access-live.yml on its schedule, on main", token("schedule", main, ci.DefaultAuditWorkflow, ""), []string{"ci-audit"}},
		{"access-live.yml run by hand on main", token("workflow_dispatch", main, ci.DefaultAuditWorkflow, ""), []string{"ci-audit"}},
		{"access-live.yml on its schedule, in an environment", token("schedule", main, ci.DefaultAuditWorkflow, "production"), []string{"ci-audit"}},
		{"a pull request's copy of access-live.yml", token("pull_request", "refs/pull/7/merge", ci.DefaultAuditWorkflow, ""), []string{"ci-preview"}},

		{"access-live.yml run by hand on another branch", token("workflow_dispatch", "refs/heads/feature", ci.DefaultAuditWorkflow, ""), nil},
		{"access-live.yml pushed to main", token("push", main, ci.DefaultAuditWorkflow, ""), nil},
		{"access-live.yml on workflow_run", token("workflow_run", main, ci.DefaultAuditWorkflow, ""), nil},
		{"access-live.yml on pull_request_target", token("pull_request_target", main, ci.DefaultAuditWorkflow, ""), nil},
		{"another workflow on a schedule", token("schedule", main, "pr.yml", ""), nil},
		{"another repository's access-live.yml on a schedule", with(token("schedule", main, ci.DefaultAuditWorkflow, ""), "repository_id", "999999999"), nil},

		{"deploy.yml on main without the environment", token("push", main, "deploy.yml", ""), nil},
		{"another workflow on main, in production", token("push", main, "release.yml", "production"), nil},
		{"deploy.yml on another branch, in production", token("push", "refs/heads/feature", "deploy.yml", "production"), nil},
		{"deploy.yml on a tag, in production", token("push", "refs/tags/v1.0.0", "deploy.yml", "production"), nil},
		{"deploy.yml on main, another environment", token("push", main, "deploy.yml", "staging"), nil},
		{"pull_request_target on main", token("pull_request_target", main, "deploy.yml", "production"), nil},
		{"workflow_run on main", token("workflow_run", main, "deploy.yml", "production"), nil},
		{"schedule on main", token("schedule", main, "deploy.yml", "production"), nil},
		{"issue_comment on main", token("issue_comment", main, "deploy.yml", "production"), nil},
		{"push to a branch", token("push", "refs/heads/feature", "pr.yml", ""), nil},
		{"a re-created repository of the same name", with(token("push", main, "deploy.yml", "production"), "repository_id", "999999999"), nil},
		{"the same repository ID under another owner ID", with(token("push", main, "deploy.yml", "production"), "repository_owner_id", "7654321"), nil},
		{"another repository's pull request", with(token("pull_request", "refs/pull/7/merge", "pr.yml", ""), "repository_id", "999999999"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Impersonates(tc.claims); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("impersonates %q, want %q", got, tc.want)
			}
		})
	}
}

// Every claim the mapping reads is in every token the provider accepts; reading one that some
// tokens lack (environment, say) would fail their exchange.
func TestMappingReadsOnlyClaimsEveryTokenCarries(t *testing.T) {
	p := ci.Resolve(mustLoad(t, base(nil)))
	always := map[string]bool{}
	for k := range token("push", "refs/heads/main", "deploy.yml", "") {
		always[k] = true
	}
	for _, attr := range p.Mapping.Names() {
		for _, c := range p.Mapping[attr].Claims() {
			if !always[c] {
				t.Errorf("%s reads assertion.%s, which some tokens lack", attr, c)
			}
		}
	}
	if _, ok := p.Exchange(token("pull_request", "refs/pull/1/merge", "pr.yml", "")); !ok {
		t.Error("a pull request token does not map")
	}
}

// google.subject must stay within 127 bytes for every token the provider accepts, whatever the
// repository's name: it is built from numbers and an event name only, each bounded.
func TestSubjectStaysWithinGooglesLimit(t *testing.T) {
	longest := base(map[string]string{
		"repository":        strings.Repeat("o", 39) + "/" + strings.Repeat("r", 100),
		"repositoryId":      strings.Repeat("9", 20),
		"repositoryOwnerId": strings.Repeat("9", 20),
		"deployBranch":      strings.Repeat("b", 200),
	})
	p := ci.Resolve(mustLoad(t, longest))
	bounded := map[string]int{"repository_id": 20, "event_name": 0, "run_id": 20, "run_attempt": 20}
	for _, c := range p.Mapping["google.subject"].Claims() {
		if _, ok := bounded[c]; !ok {
			t.Fatalf("google.subject reads assertion.%s, whose length nothing bounds", c)
		}
	}
	for _, event := range ci.AcceptedEvents() {
		workflow := "deploy.yml"
		if event == ci.EventSchedule { // the provider accepts schedule tokens of the audit workflow only
			workflow = ci.DefaultAuditWorkflow
		}
		claims := token(event, "refs/heads/"+strings.Repeat("b", 200), workflow, strings.Repeat("e", 255))
		claims["repository"] = strings.Repeat("o", 39) + "/" + strings.Repeat("r", 100)
		claims["job_workflow_ref"] = claims["repository"] + "/.github/workflows/" + workflow + "@" + claims["ref"]
		claims["repository_id"] = strings.Repeat("9", 20)
		claims["repository_owner_id"] = strings.Repeat("9", 20)
		claims["run_id"] = strings.Repeat("9", 20) // more digits than an int64 has
		claims["run_attempt"] = strings.Repeat("9", 20)
		attrs, ok := p.Exchange(claims)
		if !ok {
			t.Fatalf("%s: the longest accepted token does not map", event)
		}
		if got := len(attrs["google.subject"]); got > ci.MaxSubjectBytes {
			t.Errorf("%s: google.subject has %d bytes, Google's limit is %d", event, got, ci.MaxSubjectBytes)
		}
	}
}

// The condition and mapping are rendered to the CEL the provider receives; these pin the
// rendering the evaluator above stands for.
func TestRenderedCEL(t *testing.T) {
	p := ci.Resolve(mustLoad(t, base(nil)))
	wantCond := `assertion.repository_id == "812345678" && assertion.repository_owner_id == "1234567" && ` +
		`(assertion.event_name == "pull_request" || assertion.event_name == "push" || assertion.event_name == "workflow_dispatch" || ` +
		`(assertion.event_name == "schedule" && assertion.job_workflow_ref == "acme/private-run-api/.github/workflows/access-live.yml@refs/heads/main"))`
	if got := p.Condition.CEL(); got != wantCond {
		t.Errorf("condition:\n got %s\nwant %s", got, wantCond)
	}
	for attr, want := range map[string]string{
		"google.subject":  `assertion.repository_id + ":" + assertion.event_name + ":" + assertion.run_id + ":" + assertion.run_attempt`,
		ci.AttrPreview:    `assertion.repository_id + ":" + assertion.event_name`,
		ci.AttrDeploy:     `assertion.repository_id + ":" + assertion.job_workflow_ref + ":" + assertion.sub`,
		ci.AttrAudit:      `assertion.repository_id + ":" + assertion.job_workflow_ref + ":" + assertion.event_name`,
		"attribute.actor": `assertion.actor`,
	} {
		if got := p.Mapping.CEL()[attr]; got != want {
			t.Errorf("%s = %s, want %s", attr, got, want)
		}
	}
	r := mustRun(t, base(nil))
	prov := r.Find(t, tProvider, "github-provider")
	if prov.Str("attributeCondition") != wantCond || !reflect.DeepEqual(prov.StrMap("attributeMapping"), p.Mapping.CEL()) {
		t.Errorf("the provider is not given the plan's condition and mapping")
	}
	oidc := prov.Inputs["oidc"].ObjectValue()
	if got := oidc["issuerUri"].StringValue(); got != ci.GitHubIssuer {
		t.Errorf("issuer = %q", got)
	}
	if aud, ok := oidc["allowedAudiences"]; ok && aud.IsArray() && len(aud.ArrayValue()) > 0 {
		t.Errorf("allowedAudiences = %v; the default (the provider's own URL) is what the auth action requests", aud)
	}
}

func TestExprAndConditionEvaluation(t *testing.T) {
	e := ci.Expr{ci.Claim("a"), ci.Lit(`:"`), ci.Claim("b")}
	if got := e.CEL(); got != `assertion.a + ":\"" + assertion.b` {
		t.Errorf("CEL = %s", got)
	}
	if v, ok := e.Eval(map[string]string{"a": "1", "b": "2"}); !ok || v != `1:"2` {
		t.Errorf("Eval = %q %v", v, ok)
	}
	if _, ok := e.Eval(map[string]string{"a": "1"}); ok {
		t.Error("a missing claim must fail the mapping")
	}
	// a == 1 && (b == x || b == y || (b == s && w == 9))
	c := ci.TokenCondition{
		{{{Claim: "a", Value: "1"}}},
		{{{Claim: "b", Value: "x"}}, {{Claim: "b", Value: "y"}}, {{Claim: "b", Value: "s"}, {Claim: "w", Value: "9"}}},
	}
	if got, want := c.CEL(), `assertion.a == "1" && (assertion.b == "x" || assertion.b == "y" || (assertion.b == "s" && assertion.w == "9"))`; got != want {
		t.Errorf("CEL:\n got %s\nwant %s", got, want)
	}
	for _, tc := range []struct {
		claims map[string]string
		want   bool
	}{
		{map[string]string{"a": "1", "b": "y"}, true},
		{map[string]string{"a": "1", "b": "x"}, true},
		{map[string]string{"a": "1", "b": "z"}, false},
		{map[string]string{"a": "2", "b": "x"}, false},
		{map[string]string{"a": "1", "b": "s", "w": "9"}, true},
		{map[string]string{"a": "1", "b": "s", "w": "8"}, false},
		{map[string]string{"a": "1", "b": "s"}, false},
		{map[string]string{"b": "x"}, false}, // a missing claim satisfies no equality
	} {
		if got := c.Eval(tc.claims); got != tc.want {
			t.Errorf("condition on %v = %v, want %v", tc.claims, got, tc.want)
		}
	}
}
