package roledefs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
)

// TestLookupReadsEachUnknownRoleOnceWhereItIsDefined: known roles cost no call, every other
// distinct role one, at the path its name says, and judge sees the definition or the error.
func TestLookupReadsEachUnknownRoleOnceWhereItIsDefined(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/organizations/42/roles/secret" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}`))
			return
		}
		role := map[string]any{"name": strings.TrimPrefix(r.URL.Path, "/v1/"), "includedPermissions": []string{"run.routes.invoke"}}
		if r.URL.Path == "/v1/projects/p/roles/gone" {
			role["deleted"] = true
		}
		json.NewEncoder(w).Encode(role)
	}))
	t.Cleanup(srv.Close)
	svc, err := iam.NewService(context.Background(), option.WithEndpoint(srv.URL+"/"), option.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"roles/known", "projects/p/roles/custom", "roles/newer", "projects/p/roles/custom", "organizations/42/roles/secret", "roles/known", "projects/p/roles/gone"}
	got := Lookup(context.Background(), svc, names,
		func(role string) (string, bool) { return "known", role == "roles/known" },
		func(role *iam.Role, err error) string {
			switch {
			case err != nil:
				return "error"
			case role.Deleted:
				return "deleted " + role.Name
			}
			return role.Name + " " + role.IncludedPermissions[0]
		})
	want := map[string]string{
		"roles/known":                   "known",
		"projects/p/roles/custom":       "projects/p/roles/custom run.routes.invoke",
		"roles/newer":                   "roles/newer run.routes.invoke",
		"organizations/42/roles/secret": "error",
		"projects/p/roles/gone":         "deleted projects/p/roles/gone",
	}
	for role, w := range want {
		if got[role] != w {
			t.Errorf("Lookup[%s] = %q, want %q", role, got[role], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Lookup answered %d roles, want %d: %v", len(got), len(want), got)
	}
	slices.Sort(paths)
	wantPaths := []string{"/v1/organizations/42/roles/secret", "/v1/projects/p/roles/custom", "/v1/projects/p/roles/gone", "/v1/roles/newer"}
	if !slices.Equal(paths, wantPaths) {
		t.Errorf("read %v, want each unknown role once: %v", paths, wantPaths)
	}
}
