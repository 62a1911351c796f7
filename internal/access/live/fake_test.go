package live

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/platform/private-run-api/internal/fakegoogle"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/teststack"
)

// fakeGoogle answers every API the reports read (internal/fakegoogle) from answers, by path.
type fakeGoogle struct {
	*fakegoogle.Server
	// answers maps a request path to its status and JSON body; anything else is a 404.
	answers map[string]answer
	// pages answers a POST of entries.list from its request body; nil: answers decides.
	pages func(body []byte) answer
	// before, when set, sees each request's path before it is answered, under the server's lock:
	// a test may change answers there.
	before func(path string)
}

type answer struct {
	code int
	body string
}

func newFake(t *testing.T, answers map[string]answer) *fakeGoogle {
	t.Helper()
	f := &fakeGoogle{answers: answers}
	f.Server = fakegoogle.New(t, func(path string, body []byte) (int, string, bool) {
		if f.before != nil {
			f.before(path)
		}
		a, ok := f.answers[path]
		if f.pages != nil && path == pathEntries {
			a, ok = f.pages(body), true
		}
		return a.code, a.body, ok
	})
	return f
}

func (f *fakeGoogle) options() []option.ClientOption {
	return append(f.Options(), option.WithoutAuthentication())
}

func policy(t *testing.T, bindings ...map[string]any) answer {
	t.Helper()
	return answer{200, fakegoogle.Policy(t, bindings...)}
}

var (
	bind   = fakegoogle.Bind
	bindIf = fakegoogle.BindIf
)

func jsonAnswer(t *testing.T, v any) answer {
	t.Helper()
	return answer{200, fakegoogle.JSON(t, v)}
}

const forbidden = fakegoogle.Forbidden

var at = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// stack has every kind of declared policy: the service; caller accounts with default and own
// impersonators (one expiring), the OpenID self-grant and a run-as grant; the runtime account;
// the authz bucket; and a secret in the stack's project and one in another.
const stack = teststack.Header + `    secrets:
      - secret: db-password
        env: DB_PASSWORD
      - secret: projects/acme-vault/secrets/signing-key
        path: /secrets/signing/key.pem
  private-run-api:impersonators:
    - group:devs@acme.example
  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - member: user:ann@acme.example
          expires: "2027-01-31T00:00:00Z"
        - user:lead@acme.example
      runAs:
        deployers: [group:batch-deployers@acme.example]
    - name: orders-front
      authz: true
    - name: billing-partner
      email: billing@acme-billing.iam.gserviceaccount.com
`

// Names the stack computes.
const (
	batch   = "orders-batch@acme-test.iam.gserviceaccount.com"
	front   = "orders-front@acme-test.iam.gserviceaccount.com"
	runtime = "orders-api-run@acme-test.iam.gserviceaccount.com"
	billing = "billing@acme-billing.iam.gserviceaccount.com"
	bucket  = "acme-test-orders-api-authz"
	guard   = "projects/acme-test/roles/orders_api_authz"
	// annCondition is the condition the plan declares for ann's expiring grant.
	annTitle = "expires-20270131t000000z"
	annExpr  = `request.time < timestamp("2027-01-31T00:00:00Z")`
)

// Paths of the fake, by what they answer.
const (
	pathService  = "/v2/projects/acme-test/locations/us-central1/services/orders-api:getIamPolicy"
	pathBatch    = "/v1/projects/acme-test/serviceAccounts/" + batch + ":getIamPolicy"
	pathFront    = "/v1/projects/acme-test/serviceAccounts/" + front + ":getIamPolicy"
	pathRuntime  = "/v1/projects/acme-test/serviceAccounts/" + runtime + ":getIamPolicy"
	pathBucket   = "/b/" + bucket + "/iam"
	pathMeta     = "/b/" + bucket
	pathSecret   = "/v1/projects/acme-test/secrets/db-password:getIamPolicy"
	pathVault    = "/v1/projects/acme-vault/secrets/signing-key:getIamPolicy"
	pathAncestry = "/v1/projects/acme-test:getAncestry"
	pathProject  = "/v3/projects/acme-test:getIamPolicy"
	pathFolder   = "/v3/folders/123:getIamPolicy"
	pathOrg      = "/v3/organizations/42:getIamPolicy"
	pathEntries  = "/v2/entries:list"
)

func testPlan(t *testing.T, yaml string) *plan.Stack {
	t.Helper()
	return teststack.Plan(t, yaml, at)
}

// declaredAnswers are live policies that equal what stack declares, for a test to vary.
func declaredAnswers(t *testing.T) map[string]answer {
	t.Helper()
	group, ann, lead := "group:devs@acme.example", "user:ann@acme.example", "user:lead@acme.example"
	return map[string]answer{
		pathService: policy(t, bind("roles/run.invoker", "serviceAccount:"+batch, "serviceAccount:"+billing, "serviceAccount:"+front)),
		pathBatch: policy(t,
			bind("roles/iam.serviceAccountTokenCreator", group, lead),
			bindIf(annTitle, annExpr, "roles/iam.serviceAccountTokenCreator", ann),
			bind("roles/iam.serviceAccountOpenIdTokenCreator", "serviceAccount:"+batch),
			bind("roles/iam.serviceAccountUser", "group:batch-deployers@acme.example"),
		),
		pathFront: policy(t,
			bind("roles/iam.serviceAccountTokenCreator", group),
			bind("roles/iam.serviceAccountOpenIdTokenCreator", "serviceAccount:"+front),
		),
		pathRuntime:  {200, `{"etag":"ACAB"}`},
		pathBucket:   policy(t, bind(guard, "serviceAccount:"+front)),
		pathMeta:     {200, `{"timeCreated":"2026-06-01T08:09:10.123Z","projectNumber":"123456789012"}`},
		pathSecret:   policy(t, bind("roles/secretmanager.secretAccessor", "serviceAccount:"+runtime, "user:owner-of-secret@acme.example")),
		pathVault:    policy(t, bind("roles/secretmanager.secretAccessor", "serviceAccount:"+runtime), bind("roles/secretmanager.admin", "group:vault-admins@acme.example")),
		pathAncestry: {200, `{"ancestor":[{"resourceId":{"type":"project","id":"acme-test"}},{"resourceId":{"type":"folder","id":"123"}},{"resourceId":{"type":"organization","id":"42"}}]}`},
		pathProject:  policy(t),
		pathFolder:   policy(t),
		pathOrg:      policy(t),
	}
}

func with(m map[string]answer, kv ...any) map[string]answer {
	out := map[string]answer{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if a, ok := kv[i+1].(answer); ok {
			out[kv[i].(string)] = a
		} else {
			delete(out, kv[i].(string))
		}
	}
	return out
}

// joined is every line of text containing s, for messages.
func linesWith(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
