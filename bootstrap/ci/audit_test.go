package ci_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/internal/testcheck"
)

// The audit account runs `access -live` from a scheduled workflow: it reads IAM policies, custom
// roles, the project's ancestry and Data Access logs, and nothing that lets it in. Above all it
// never holds storage.buckets.get, which would let it pass the authz guard.
func TestAuditAccountReadsOnly(t *testing.T) {
	// The two metadata reads the report needs besides policies and log entries.
	metadata := map[string]string{
		"resourcemanager.projects.get": "projects.getAncestry, to walk up to the folders and organization",
		"iam.roles.get":                "the permissions of a custom role held at project level",
	}
	for _, p := range slices.Concat(ci.AuditPermissions, ci.AuditBucketPermissions, ci.AuditSecretPermissions, ci.AuditCallersPermissions) {
		read := strings.HasSuffix(p.Name, ".getIamPolicy") || strings.HasSuffix(p.Name, ".list") || metadata[p.Name] != ""
		if !read || p.Name == ci.AuthzPermission || strings.Contains(p.Name, "versions.access") {
			t.Errorf("audit role holds %s: only getIamPolicy, list and the metadata reads %v", p.Name, metadata)
		}
		if p.Why == "" {
			t.Errorf("%s has no reason", p.Name)
		}
	}

	cfg := base(merge(withSecrets, map[string]string{"callersProject": "acme-test-callers"}))
	r := mustRun(t, cfg)
	p := ci.Resolve(mustLoad(t, cfg))
	authzOnly := fmt.Sprintf("resource.name == %q", ci.BucketResourceName(p.AuthzBucket))
	var held []string
	for _, h := range permissionsHeld(t, r) {
		if h.Member != p.Audit.Member {
			continue
		}
		held = append(held, h.String())
		switch {
		case h.Permission == ci.AuthzPermission:
			t.Errorf("audit account holds %s: it would pass the authz guard", h)
		case strings.HasPrefix(h.Permission, "storage.") && !(h.Scope == ci.ScopeProject && h.Condition == authzOnly):
			t.Errorf("audit account holds %s: a bucket permission beyond the authz bucket's policy", h)
		case h.Scope == ci.ScopeProject && h.Target != p.Project && h.Target != p.CallersProject:
			t.Errorf("audit account holds %s outside the main and the callers' projects", h)
		case h.Scope == ci.ScopeSecret && !strings.HasPrefix(h.Target, "projects/acme-vault/"):
			t.Errorf("audit account holds %s on a secret of gcp:project, which its project role already reads", h)
		}
	}
	slices.Sort(held)
	// The caller accounts' policies and the minting logs where the accounts live; nothing of
	// service accounts in the main project, whose one account the main stack references.
	want := []string{
		"iam.roles.get on project acme-test",
		"iam.roles.get on project acme-test-callers",
		"iam.serviceAccounts.getIamPolicy on project acme-test-callers",
		"logging.privateLogEntries.list on project acme-test-callers",
		"resourcemanager.projects.get on project acme-test",
		"resourcemanager.projects.get on project acme-test-callers",
		"resourcemanager.projects.getIamPolicy on project acme-test",
		"resourcemanager.projects.getIamPolicy on project acme-test-callers",
		"run.services.getIamPolicy on project acme-test",
		"secretmanager.secrets.getIamPolicy on project acme-test",
		"secretmanager.secrets.getIamPolicy on secret projects/acme-vault/secrets/payments-key",
		"storage.buckets.getIamPolicy on project acme-test if " + authzOnly,
	}
	testcheck.Lines(t, "audit account holds", held, want)
	role := r.Find(t, tCustomRole, ci.AuditSecretRoleKey("acme-vault"))
	if role.Str("project") != "acme-vault" || role.Str("roleId") != ci.DefaultAuditSecretRoleID {
		t.Errorf("the secret reader role is %s in %s, want %s in the secret's project", role.Str("roleId"), role.Str("project"), ci.DefaultAuditSecretRoleID)
	}
	if !dependsOn(r.Find(t, tSecretMem, "audit-secret-iam-acme-vault/payments-key"), tCustomRole, ci.AuditSecretRoleKey("acme-vault")) {
		t.Error("the audit account's secret grant does not wait for its role")
	}
}

// The bootstrap records token minting: one authoritative Data Access audit config for the IAM
// API (Service Account Credentials has none of its own) in the project that holds the caller
// accounts, for ADMIN_READ (the type of the four minting permissions), nobody exempted.
func TestAuditConfigRecordsTokenMinting(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		apis bool
	}{
		{"example", exampleStack(t), true},
		{"callers in the main project", base(nil), true},
		{"enableApis false", base(map[string]string{"enableApis": "false", "callersProject": "acme-test-callers"}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, tc.cfg)
			cfgs := r.ByType(tAuditCfg)
			if len(cfgs) != 1 {
				t.Fatalf("%d audit configs, want 1:\n%s", len(cfgs), r.Listing())
			}
			a := cfgs[0]
			p := ci.Resolve(mustLoad(t, tc.cfg))
			if a.Str("project") != p.CallersProject || a.Str("service") != ci.AuditLogService || ci.AuditLogService != "iam.googleapis.com" {
				t.Errorf("audit config for %s in %s, want iam.googleapis.com in the callers' project %s", a.Str("service"), a.Str("project"), p.CallersProject)
			}
			if want := tc.cfg[project+":callersProject"]; want != "" && a.Str("project") != want {
				t.Errorf("audit config in %s, want callersProject %s", a.Str("project"), want)
			}
			logs := a.Inputs["auditLogConfigs"].ArrayValue()
			if len(logs) != 1 {
				t.Fatalf("auditLogConfigs = %v, want one", logs)
			}
			log := logs[0].ObjectValue()
			if log["logType"].StringValue() != "ADMIN_READ" {
				t.Errorf("logType = %v, want ADMIN_READ (GenerateAccessToken, GenerateIdToken, SignBlob and SignJwt need ADMIN_READ permissions)", log["logType"])
			}
			if ex, ok := log["exemptedMembers"]; ok && ex.IsArray() && len(ex.ArrayValue()) > 0 {
				t.Errorf("exemptedMembers = %v: an exempted principal mints unrecorded", ex)
			}
			if a.Protect {
				t.Error("the audit config is protected: it must follow the code freely")
			}
			// It waits for the IAM API of its own project, exactly when the bootstrap enables it.
			var wantDeps []string
			for _, g := range p.APIs {
				if tc.apis && g.Project == p.CallersProject {
					for _, api := range g.APIs {
						wantDeps = append(wantDeps, g.Key+"-"+api)
					}
				}
			}
			var gotDeps []string
			for _, d := range a.Deps {
				gotDeps = append(gotDeps, d[strings.LastIndex(d, "::")+2:])
			}
			slices.Sort(gotDeps)
			slices.Sort(wantDeps)
			if !slices.Equal(gotDeps, wantDeps) || (tc.apis && !slices.Contains(gotDeps, "callers-api-iam.googleapis.com") && !slices.Contains(gotDeps, "app-api-iam.googleapis.com")) {
				t.Errorf("the audit config depends on %v, want the callers' project's APIs %v", gotDeps, wantDeps)
			}
		})
	}
}
