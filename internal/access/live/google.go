package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	crm "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	logging "google.golang.org/api/logging/v2"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"
	secretmanager "google.golang.org/api/secretmanager/v1"
	storage "google.golang.org/api/storage/v1"

	"github.com/platform/private-run-api/internal/gcp/policydoc"
)

// clients are Google's REST clients for every API the reports read. They share options: which
// credentials to use (Application Default Credentials when none is given) and, in tests, an
// httptest server's endpoint. The REST clients of google.golang.org/api, already a dependency,
// cover every call, Cloud Logging's entries.list included, so no gRPC client is added.
type clients struct {
	ancestry *crmv1.Service
	crm      *crm.Service
	iam      *iam.Service
	run      *run.Service
	storage  *storage.Service
	secrets  *secretmanager.Service
	logging  *logging.Service
}

func newClients(ctx context.Context, opts []option.ClientOption) (*clients, error) {
	var err error
	c := &clients{
		ancestry: newService(ctx, opts, &err, crmv1.NewService),
		crm:      newService(ctx, opts, &err, crm.NewService),
		iam:      newService(ctx, opts, &err, iam.NewService),
		run:      newService(ctx, opts, &err, run.NewService),
		storage:  newService(ctx, opts, &err, storage.NewService),
		secrets:  newService(ctx, opts, &err, secretmanager.NewService),
		logging:  newService(ctx, opts, &err, logging.NewService),
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// newService makes one client with opts unless *err says an earlier one failed, and records
// its own error there.
func newService[S any](ctx context.Context, opts []option.ClientOption, err *error, newClient func(context.Context, ...option.ClientOption) (S, error)) S {
	var s S
	if *err == nil {
		s, *err = newClient(ctx, opts...)
	}
	return s
}

// policyVersion 3 returns conditional bindings as they are; older versions mangle them.
const policyVersion = 3

// Condition is an IAM condition as a binding carries it.
type Condition struct {
	Title      string `json:"title,omitempty"`
	Expression string `json:"expression"`
}

func newCondition(title, expression string) *Condition {
	return &Condition{Title: title, Expression: expression}
}

func (c *Condition) key() string {
	if c == nil {
		return ""
	}
	return c.Title + "\x00" + c.Expression
}

// String names the condition for a reader: its title and expression, or "none".
func (c *Condition) String() string {
	switch {
	case c == nil:
		return "none"
	case c.Title == "":
		return c.Expression
	}
	return c.Title + " (" + c.Expression + ")"
}

// Binding is one binding of an allow policy, whichever API returned it.
type Binding struct {
	Role      string
	Condition *Condition
	Members   []string
}

// bindingsOf turns any API's allow policy into Bindings. Every API has a Policy type of its own
// (run.GoogleIamV1Policy, iam.Policy, storage.Policy, ...), and all of them carry the same JSON
// (google.iam.v1.Policy), which policydoc reads once for every one of them.
func bindingsOf(policy any) ([]Binding, error) {
	p, err := policydoc.Of(policy)
	if err != nil {
		return nil, err
	}
	out := make([]Binding, len(p.Bindings))
	for i, b := range p.Bindings {
		out[i] = Binding{Role: b.Role, Members: b.Members}
		if c := b.Condition; c != nil {
			out[i].Condition = newCondition(c.Title, c.Expression)
		}
	}
	return out, nil
}

func crmPolicyRequest() *crm.GetIamPolicyRequest {
	return &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: policyVersion}}
}

// errorCode is the HTTP status of a Google API error, 0 for any other error.
func errorCode(err error) int {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code
	}
	return 0
}

func denied(err error) bool {
	c := errorCode(err)
	return c == http.StatusForbidden || c == http.StatusUnauthorized
}

func notFound(err error) bool { return errorCode(err) == http.StatusNotFound }

// shortError keeps a Google API error to its status and message: the full one repeats the URL
// and the details.
func shortError(err error) string {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Message != "" {
		return fmt.Sprintf("%d %s", gerr.Code, gerr.Message)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer before the timeout"
	}
	return err.Error()
}

// Unread says why something could not be read and what would read it; both are empty when it
// was read. In JSON they are the reader's "error" and "fix".
type Unread struct {
	Error string `json:"error,omitempty"`
	Fix   string `json:"fix,omitempty"`
}

// cannotRead says why a read failed and what would let it succeed. byAudit is whether the
// bootstrap's audit account is granted the permission there (it is on the stack's own project
// and resources, never on a folder or the organization, which the bootstrap does not own).
func cannotRead(err error, permission, on string, byAudit bool) (problem, fix string) {
	problem = shortError(err)
	switch {
	case denied(err) && byAudit:
		fix = "reading it needs " + permission + " on " + on + ": the bootstrap's audit account holds it (bootstrap/README.md, \"The audit account\"). If your credentials impersonate a caller account, read as yourself: gcloud auth print-access-token | go run ./cmd/access ... -iam-token-file -"
	case denied(err):
		fix = "reading it needs " + permission + " on " + on + ", which the bootstrap cannot grant: an administrator there can give the audit account roles/iam.securityReviewer on it (policies and lists only, no storage.buckets.get)"
	case errorCode(err) == http.StatusTooManyRequests:
		fix = "Google's read quota is spent for now: run it again in a minute"
	default:
		fix = "check your network and credentials (gcloud auth application-default login), then run it again"
	}
	return problem, fix
}

// isDeleted is a member IAM rewrote when its principal was deleted: deleted:user:a@b?uid=1.
func isDeleted(member string) bool { return strings.HasPrefix(member, "deleted:") }

// undeleted is the member a deleted one was: deleted:user:a@b?uid=1 -> user:a@b.
func undeleted(member string) string {
	m := strings.TrimPrefix(member, "deleted:")
	m, _, _ = strings.Cut(m, "?uid=")
	return m
}

// shellQuote quotes for POSIX shells: a deleted member holds a ?, which a shell would expand.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// utc formats a time as the reports print times.
func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }
