package tests

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
)

// Limits at scale (gcp-facts.md, "Limits that matter at scale"): one allow policy holds at most
// 1,500 principals, 250 of them groups or domains; a project has 100 service accounts by
// default. A config past a policy limit is refused before anything is registered; one past the
// account quota deploys with a warning.

// limitStack is a stack with the given callers and default impersonators, no guard-only or
// external mix of its own.
func limitStack(defaults []config.Impersonator, callers []config.Caller) genStack {
	s := genCallers(0)
	s.Impersonators = defaults
	s.Callers = callers
	return s
}

// externalCallers are n existing accounts of another project, each invoking (and passing the
// guard when authz is set).
func externalCallers(n int, invoke, authz bool) []config.Caller {
	out := make([]config.Caller, n)
	for i := range out {
		out[i] = config.Caller{Name: fmt.Sprintf("ext-caller-%04d", i), Email: fmt.Sprintf("caller-%04d@other-proj.iam.gserviceaccount.com", i), Authz: authz}
		if !invoke {
			no := false
			out[i].Invoke = &no
		}
	}
	return out
}

func createdCallers(n int) []config.Caller {
	out := make([]config.Caller, n)
	for i := range out {
		out[i] = config.Caller{Name: fmt.Sprintf("caller-%04d", i)}
	}
	return out
}

func users(prefix string, n int) []config.Impersonator {
	out := make([]config.Impersonator, n)
	for i := range out {
		out[i] = config.Impersonator{Member: fmt.Sprintf("user:%s-%04d@acme.example", prefix, i)}
	}
	return out
}

// refused runs s and expects the program to fail with a config error holding want, with no
// resource registered.
func refused(t *testing.T, s genStack, want string) {
	t.Helper()
	r := run(t, s.raw(t), runOpts{})
	if r.Err == nil {
		t.Fatalf("the program accepted the config and registered %d resources; want it refused with %q", len(r.Resources), want)
	}
	var cerr *diag.ConfigError
	if !errors.As(r.Err, &cerr) {
		t.Errorf("error is %T, not a *diag.ConfigError: %v", r.Err, r.Err)
	}
	if !strings.Contains(r.Err.Error(), want) {
		t.Errorf("error does not say %q:\n%v", want, r.Err)
	}
	if !strings.Contains(r.Err.Error(), "nothing was deployed") {
		t.Errorf("error does not say nothing was deployed:\n%v", r.Err)
	}
	if len(r.Resources) != 0 {
		t.Errorf("%d resources registered by a refused config", len(r.Resources))
	}
}

func TestInvokerPolicyLimit(t *testing.T) {
	// 1,500 invoking callers fill the service's policy exactly: 1,400 in another project and 100
	// created here.
	ok := limitStack(nil, append(externalCallers(1400, true, false), createdCallers(100)...))
	r := mustRun(t, ok.raw(t), runOpts{})
	if got := len(invokersOf(t, r, "orders-api")); got != 1500 {
		t.Errorf("invoker binding holds %d members, want 1500", got)
	}

	over := limitStack(nil, append(externalCallers(1401, true, false), createdCallers(100)...))
	refused(t, over, `callers "1501": callers that invoke exceed IAM's 1500 principals in the service's allow policy; grant roles/run.invoker to a group`)

	// Callers that do not invoke do not count toward the service's policy.
	notInvoking := limitStack(nil, append(externalCallers(1500, true, false), externalCallers(1600, false, true)[1500:]...))
	if r := mustRun(t, notInvoking.raw(t), runOpts{}); len(invokersOf(t, r, "orders-api")) != 1500 {
		t.Errorf("invoker binding should hold the 1500 invoking callers only")
	}
}

func TestGuardPolicyLimit(t *testing.T) {
	ok := limitStack(nil, externalCallers(1500, false, true))
	r := mustRun(t, ok.raw(t), runOpts{})
	if got := len(grantees(r.Find(t, tBucketPolicy, "authz-policy"))); got != 1500 {
		t.Errorf("bucket binding holds %d members, want 1500", got)
	}
	refused(t, limitStack(nil, externalCallers(1501, false, true)),
		`callers "1501": callers with authz exceed IAM's 1500 principals in the bucket's allow policy`)
}

func TestAccountPolicyLimit(t *testing.T) {
	defaults := []config.Impersonator{{Member: "group:orders-api-developers@acme.example"}, {Member: "user:platform-lead@acme.example"}}
	one := func(own []config.Impersonator) genStack {
		return limitStack(defaults, []config.Caller{{Name: "orders-batch", Impersonators: own}})
	}

	// 2 defaults + 1,497 own + the account itself (OpenID self-grant) = 1,500.
	r := mustRun(t, one(users("dev", 1497)).raw(t), runOpts{})
	if got := len(accountGrants(t, r)["orders-batch-token-creator"].Members); got != 1499 {
		t.Errorf("token-creator binding holds %d members, want 1499", got)
	}
	const over = `callers[0].impersonators "1501": impersonators (with the defaults, the account itself and its run-as grants) exceed IAM's 1500 principals in one allow policy; grant impersonation to a group`
	refused(t, one(users("dev", 1498)), over)

	// A member listed both as a default and as the caller's own is one principal in the policy.
	withDup := append(users("dev", 1497), defaults[1])
	if r := run(t, one(withDup).raw(t), runOpts{}); r.Err != nil {
		t.Errorf("a member listed in both lists was counted twice: %v", r.Err)
	}

	// The limit is per policy, not per binding: spreading the members over expiries (one binding
	// each) does not help.
	spread := users("dev", 1498)
	for i := range spread {
		spread[i].Expires = genExpiries[i%len(genExpiries)]
	}
	refused(t, one(spread), over)

	// Many impersonators on every caller: each account's policy is checked on its own.
	many := limitStack(users("lead", 1000), []config.Caller{
		{Name: "caller-a", Impersonators: users("a", 499)},
		{Name: "caller-b", Impersonators: users("b", 500)},
	})
	refused(t, many, `callers[1].impersonators "1501"`)
	if r := run(t, many.raw(t), runOpts{}); r.Err == nil || strings.Contains(r.Err.Error(), "callers[0].impersonators") {
		t.Errorf("want caller-b refused and caller-a's policy (1,500 principals) accepted; got %v", r.Err)
	}
}

func TestGroupsPerPolicyLimit(t *testing.T) {
	groups := func(n int) []config.Impersonator {
		out := make([]config.Impersonator, n)
		for i := range out {
			out[i] = config.Impersonator{Member: fmt.Sprintf("group:team-%03d@acme.example", i)}
		}
		return out
	}
	if r := run(t, limitStack(groups(250), createdCallers(1)).raw(t), runOpts{}); r.Err != nil {
		t.Errorf("250 groups refused: %v", r.Err)
	}
	refused(t, limitStack(groups(251), createdCallers(1)), `callers[0].impersonators "251": groups and domains (with the defaults) exceed IAM's 250 per allow policy`)
}

func TestServiceAccountQuotaWarning(t *testing.T) {
	quotaWarnings := func(r *result) []string {
		var out []string
		for _, w := range r.warnings {
			if strings.Contains(w, "quota") {
				out = append(out, w)
			}
		}
		return out
	}

	// 101 caller accounts: deployed in full, with one warning naming the quota and where to raise it.
	r := mustRun(t, limitStack(nil, createdCallers(101)).raw(t), runOpts{})
	if got := len(r.ByType(tAccount)); got != 102 {
		t.Errorf("%d accounts registered, want 101 callers + the runtime account", got)
	}
	w := quotaWarnings(r)
	if len(w) != 1 {
		t.Fatalf("quota warnings = %q, want one", r.warnings)
	}
	for _, want := range []string{`callers "101": caller accounts plus the runtime account`, "default quota of 100 service accounts per project", "IAM & Admin > Quotas", "before `pulumi up`"} {
		if !strings.Contains(w[0], want) {
			t.Errorf("quota warning does not say %q: %s", want, w[0])
		}
	}

	// 100 created callers are 101 accounts with the runtime one: over the quota already.
	r = mustRun(t, limitStack(nil, createdCallers(100)).raw(t), runOpts{})
	if w := quotaWarnings(r); len(w) != 1 || !strings.Contains(w[0], `callers "100": caller accounts plus the runtime account`) {
		t.Errorf("100 created callers: quota warnings = %q, want one counting the runtime account", w)
	}

	// 99 created callers (100 accounts with the runtime one) and any number of external ones:
	// within the quota.
	r = mustRun(t, limitStack(nil, append(createdCallers(99), externalCallers(200, true, false)...)).raw(t), runOpts{})
	if w := quotaWarnings(r); len(w) != 0 {
		t.Errorf("99 created and 200 external callers warned: %q", w)
	}
}

// TestSelfImpersonationCountsTwice: an account listed as its own impersonator occurs in its
// policy twice (token creator and the OpenID self-grant), and IAM counts every occurrence.
func TestSelfImpersonationCountsTwice(t *testing.T) {
	yaml := func(users int, self bool) string {
		var b strings.Builder
		b.WriteString(base + "  private-run-api:impersonators: [group:a@acme.example, group:b@acme.example]\n")
		b.WriteString("  private-run-api:callers:\n    - name: orders-batch\n      impersonators:\n")
		for i := range users {
			fmt.Fprintf(&b, "        - user:dev%04d@acme.example\n", i)
		}
		if self {
			b.WriteString("        - serviceAccount:orders-batch@acme-test.iam.gserviceaccount.com\n")
		}
		return b.String()
	}
	// 2 defaults + 1,497 developers + the account's self-grant = 1,500: allowed.
	if r := run(t, stackYAML(t, yaml(1497, false)), runOpts{}); r.Err != nil {
		t.Fatalf("1,500 principals refused: %v", r.Err)
	}
	// 2 + 1,496 + the account as impersonator and as self-grant = 1,501 occurrences: refused.
	r := run(t, stackYAML(t, yaml(1496, true)), runOpts{})
	if r.Err == nil || !strings.Contains(r.Err.Error(), `callers[0].impersonators "1501": impersonators (with the defaults, the account itself and its run-as grants) exceed IAM's 1500 principals`) {
		t.Fatalf("err = %v", r.Err)
	}
	if len(r.Resources) != 0 {
		t.Errorf("%d resources registered", len(r.Resources))
	}
}
