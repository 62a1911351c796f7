package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// FuzzResolve feeds arbitrary values to every structured key. Whatever it gets, Load must either
// refuse with a *diag.ConfigError whose every problem names a path and a rule, or accept a config whose plan
// grants nothing public, names only valid accounts and declares no empty binding. `go test`
// runs the seeds; `go test -fuzz FuzzResolve ./plan/` explores.
func FuzzResolve(f *testing.F) {
	f.Add(`{"name":"orders-api","image":"gcr.io/a/b","port":8080,"env":{"A":"b"}}`,
		`["group:devs@acme.example",{"member":"user:a@acme.example","expires":"2027-01-01T00:00:00Z"}]`,
		`[{"name":"orders-batch","impersonators":["user:b@acme.example"]},{"name":"partner","email":"x@p.iam.gserviceaccount.com","authz":true}]`,
		`{"bucket":"acme-authz","roleId":"a_b"}`, `{"team":"x"}`, "true")
	f.Add(`{"name":"Orders"}`, `["allUsers"]`, `[{"name":"x"},{"name":"x"}]`, `{"enabled":false}`, `[]`, "maybe")
	f.Add(`null`, `null`, `[null,{"impersonators":[42,{"expire":1}]}]`, `"x"`, `{"A":"B"}`, "")
	f.Add(`{"name":"a","image":"b","minInstances":-1,"maxInstances":0}`, `[{"member":"user:a@b.c","expires":"2000-01-01T00:00:00Z"}]`,
		`[{"name":"abcdef","email":"123-compute@developer.gserviceaccount.com","impersonators":["user:a@b.c"]}]`, `{}`, `{}`, "false")
	f.Add(`{"name":"orders-api","image":"gcr.io/a/b","audiences":["https://orders-api.acme-test.internal","https://orders-api.internal","https://orders-api.acme-test.run.app"]}`,
		`[]`, `[{"name":"orders-batch"}]`, `{}`, `{}`, "true")
	f.Add(`{"name":"orders-api","image":"gcr.io/a/b","audiences":["https://orders-api.acme-test.acme.example","https://orders-api.acme-test.internal"]}`,
		`[]`, `[{"name":"orders-batch"}]`, `{}`, `{}`, "true")

	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, service, impersonators, callers, authz, labels, enableAPIs string) {
		raw := map[string]string{
			config.KeyGCPProject: "acme-test", config.KeyGCPRegion: "us-central1",
			"ns:service": service, "ns:impersonators": impersonators, "ns:callers": callers,
			"ns:authz": authz, "ns:labels": labels, "ns:enableApis": enableAPIs,
		}
		keys := make([]string, 0, len(raw))
		for k := range raw {
			keys = append(keys, k)
		}
		cfg, err := config.Load("ns", config.MapSource(raw), keys)
		if err != nil {
			var cerr *diag.ConfigError
			if !errors.As(err, &cerr) || len(cerr.Diagnostics) == 0 {
				t.Fatalf("Load failed without problems: %T %v", err, err)
			}
			for _, p := range cerr.Diagnostics {
				if p.Path == "" || p.Rule == "" {
					t.Fatalf("problem without a path or rule: %+v", p)
				}
			}
			return
		}
		st := Resolve(cfg, now)
		if !gcp.ValidAccountID(st.Service.Runtime.ID) || st.Service.Name == "" || st.Service.Image == "" {
			t.Fatalf("accepted a service that cannot exist: %+v", st.Service)
		}
		check := func(what string, members []string) {
			if len(members) == 0 {
				t.Fatalf("%s: a binding with no members", what)
			}
			for _, m := range members {
				l := strings.ToLower(m)
				if l == "allusers" || l == "allauthenticatedusers" || strings.HasPrefix(l, "principalset://goog/public") {
					t.Fatalf("%s: public member %q accepted", what, m)
				}
				if _, rule, _ := config.ValidateMember(m); rule != "" {
					t.Fatalf("%s: invalid member %q accepted: %s", what, m, rule)
				}
			}
		}
		for _, m := range st.Invokers {
			if !strings.HasPrefix(m, "serviceAccount:") {
				t.Fatalf("invoker %q is not a service account", m)
			}
		}
		for _, c := range st.Callers {
			if c.Created && !gcp.ValidAccountID(c.Account.ID) {
				t.Fatalf("caller account ID %q accepted", c.Account.ID)
			}
			if !c.Created && len(c.Impersonators) > 0 {
				t.Fatalf("impersonation granted on external account %s", c.Account.Email)
			}
			for _, b := range c.AccountBindings() {
				check(c.Name+" "+b.Role, b.Members)
				if b.Expires != nil && !b.Expires.After(now) {
					t.Fatalf("expired binding declared: %+v", b)
				}
			}
		}
		// An accepted custom audience names this service and this project, and nothing else this
		// program could deploy.
		for _, a := range st.Service.Audiences {
			host, ok := strings.CutPrefix(a, "https://"+st.Service.Name+"."+config.AudienceLabel(st.Project)+".")
			if !ok || host == "" || strings.ContainsAny(host, "/?#@: ") || strings.HasSuffix(host, "run.app") {
				t.Fatalf("custom audience %q accepted for service %s of %s", a, st.Service.Name, st.Project)
			}
		}
		if len(st.Service.Audiences) > 0 && !slices.Contains(st.Service.Audiences, st.Service.PrimaryAudience) {
			t.Fatalf("primary audience %q is not among %v", st.Service.PrimaryAudience, st.Service.Audiences)
		}
		if a := st.Authz; a != nil {
			if a.Role != nil && (len(a.Role.Permissions) != 1 || a.Role.Permissions[0] != AuthzPermission) {
				t.Fatalf("authz role permissions %v", a.Role.Permissions)
			}
			if a.Bucket != nil && len(a.Bucket.Members) > 0 {
				check("authz bucket", a.Bucket.Members)
			}
		}
	})
}
