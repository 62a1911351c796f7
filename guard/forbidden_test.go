package guard_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/platform/private-run-api/guard"
)

// TestForbiddenReasons: a 403 denies only when every reason is about the
// caller's own credentials. A 403 about a project (billing, account state,
// requester pays, a VPC Service Controls perimeter) or with a reason the
// guard does not know says nothing about the caller: 503, not cached, ERROR.
func TestForbiddenReasons(t *testing.T) {
	cases := []struct {
		name      string
		reasons   []string // errors[].reason
		errorInfo []string // details[] google.rpc.ErrorInfo reasons
		want      guard.Decision
	}{
		{name: "lacks the permission", reasons: []string{"forbidden"}, want: guard.Deny},
		{name: "lacks the permission, with ErrorInfo", reasons: []string{"forbidden"}, errorInfo: []string{"IAM_PERMISSION_DENIED"}, want: guard.Deny},
		{name: "token without a Storage scope", reasons: []string{"insufficientPermissions"}, want: guard.Deny},
		{name: "token without a Storage scope, with ErrorInfo", reasons: []string{"insufficientPermissions"}, errorInfo: []string{"ACCESS_TOKEN_SCOPE_INSUFFICIENT"}, want: guard.Deny},
		{name: "ErrorInfo only", errorInfo: []string{"ACCESS_TOKEN_SCOPE_INSUFFICIENT"}, want: guard.Deny},

		{name: "project account or billing disabled", reasons: []string{"accountDisabled"}, want: guard.Unavailable},
		{name: "requester-pays project problem", reasons: []string{"userProjectAccountProblem"}, want: guard.Unavailable},
		{name: "requester-pays project missing", reasons: []string{"userProjectMissing"}, want: guard.Unavailable},
		{name: "billing not enabled", reasons: []string{"billingNotEnabled"}, want: guard.Unavailable},
		{name: "VPC Service Controls", reasons: []string{"vpcServiceControls"}, want: guard.Unavailable},
		{name: "billing disabled ErrorInfo", errorInfo: []string{"BILLING_DISABLED"}, want: guard.Unavailable},
		{name: "API disabled ErrorInfo", reasons: []string{"accessNotConfigured"}, errorInfo: []string{"SERVICE_DISABLED"}, want: guard.Unavailable},
		{name: "caller reason mixed with a project reason", reasons: []string{"forbidden"}, errorInfo: []string{"BILLING_DISABLED"}, want: guard.Unavailable},
		{name: "unknown reason", reasons: []string{"somethingNew"}, want: guard.Unavailable},
		{name: "no reason at all", want: guard.Unavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeStorage(t, reasonsError(http.StatusForbidden, tc.reasons, tc.errorInfo))
			g, logs := newGuard(t, fs)
			tok := tokenFor(t, "a")

			for i := range 2 {
				d, err := g.Check(context.Background(), tok)
				if d != tc.want {
					t.Fatalf("check %d: decision %v, want %v", i, d, tc.want)
				}
				if (err != nil) != (d == guard.Unavailable) {
					t.Errorf("check %d: err = %v with decision %v", i, err, d)
				}
			}
			// A denial is cached like any answer about the caller; a 403
			// about a project is asked again, since fixing it should help at once.
			wantCalls := int32(1)
			if tc.want == guard.Unavailable {
				wantCalls = 2
			}
			if got := fs.calls.Load(); got != wantCalls {
				t.Errorf("storage calls = %d, want %d", got, wantCalls)
			}

			wantErrors := 0
			if tc.want == guard.Unavailable {
				wantErrors = 2
				for _, r := range append(tc.reasons, tc.errorInfo...) {
					if !strings.Contains(logs.String(), r) {
						t.Errorf("ERROR line does not name the reason %q:\n%s", r, logs)
					}
				}
			}
			if got := logs.count(t, slog.LevelError); got != wantErrors {
				t.Errorf("ERROR lines = %d, want %d:\n%s", got, wantErrors, logs)
			}

			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+tokenFor(t, "b"))
			g.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
			if rec.Code != tc.want.HTTPStatus() {
				t.Errorf("middleware status %d, want %d", rec.Code, tc.want.HTTPStatus())
			}
		})
	}
}
