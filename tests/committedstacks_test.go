package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/plan"
)

// The committed stack files are users' files: teams edit them in onboarding pull requests. These
// tests hold them only to what any valid edit keeps (they load, and a stack that references the
// bootstrap's role references the bootstrap's whole set), never to counts of callers or grants.

// bootstrapExample is the bootstrap stack of bootstrap/Pulumi.example.yaml, resolved.
func bootstrapExample(t *testing.T) *ci.Stack {
	t.Helper()
	sf, err := config.ReadStack(config.Dir("../bootstrap"), "example")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ci.Load(sf.Namespace, config.MapSource(sf.Values), sf.Keys())
	if err != nil {
		t.Fatalf("bootstrap/Pulumi.example.yaml: %v", err)
	}
	return ci.Resolve(c)
}

// committedStacks are the stack names of the root's committed Pulumi.<stack>.yaml files.
func committedStacks(t *testing.T) []string {
	t.Helper()
	var stacks []string
	for _, f := range committedStackFiles(t, "..") {
		stacks = append(stacks, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	return stacks
}

// bootstrapMismatches lists every key of the bootstrap's mainStackConfig that the stack's raw
// config (fully qualified keys to raw JSON values) does not set to the bootstrap's value. A key
// such as "private-run-api:authz.role" names the field role of the mapping private-run-api:authz.
func bootstrapMismatches(values map[string]string, want map[string]string) []string {
	var out []string
	for _, key := range slices.Sorted(maps.Keys(want)) {
		top, field, nested := strings.Cut(key, ".")
		got, ok := values[top]
		if nested {
			var obj map[string]any
			ok = ok && json.Unmarshal([]byte(got), &obj) == nil && obj[field] != nil
			if ok {
				got = fmt.Sprint(obj[field])
			}
		}
		if !ok || got != want[key] {
			out = append(out, fmt.Sprintf("%s is %q, the bootstrap's mainStackConfig says %q", key, got, want[key]))
		}
	}
	return out
}

// Config validation cannot know which role the bootstrap made; this test is where a committed
// stack's authz.role is held to it: a stack that names a role is a CI-deployed one, and must set
// the whole of mainStackConfig as the bootstrap example prints it (the role, the bucket the
// deploy account may manage, the runtime account, the callers' project, no API enabling).
func TestCommittedStacksHoldToTheBootstrap(t *testing.T) {
	boot := bootstrapExample(t)
	want := boot.MainStackConfig()
	if role := want[project+":authz.role"]; role != boot.AuthzRoleName() {
		t.Fatalf("mainStackConfig's authz.role %q is not the bootstrap's role %q", role, boot.AuthzRoleName())
	}
	referencing := 0
	for _, stack := range committedStacks(t) {
		t.Run(stack, func(t *testing.T) {
			sf, err := config.ReadStack(config.Dir(".."), stack)
			if err != nil {
				t.Fatal(err)
			}
			c, err := sf.Load()
			if err != nil {
				t.Fatalf("Pulumi.%s.yaml does not load: %v", stack, err)
			}
			if c.Authz.Role == "" {
				return // the stack creates its own role
			}
			referencing++
			if c.Authz.Role != boot.AuthzRoleName() {
				t.Errorf("Pulumi.%s.yaml: authz.role %q is not the role the bootstrap makes (%q): its callers would be granted a role nobody checked", stack, c.Authz.Role, boot.AuthzRoleName())
			}
			for _, m := range bootstrapMismatches(sf.Values, want) {
				t.Errorf("Pulumi.%s.yaml: %s", stack, m)
			}
			// The deploy account may set the policy of the bootstrap's secrets only, and use its
			// subnetwork or connector only.
			st := plan.Resolve(c, fixedNow)
			// Its caller accounts land where the deploy account may create them, and nowhere
			// else, whether or not mainStackConfig names the project.
			if st.CallersProject != boot.CallersProject {
				t.Errorf("Pulumi.%s.yaml creates its callers in %s; the bootstrap grants the deploy account service-account permissions in %s only", stack, st.CallersProject, boot.CallersProject)
			}
			var allowed []string
			for _, sec := range boot.Secrets {
				allowed = append(allowed, sec.Name())
			}
			for _, sec := range st.Service.Secrets {
				if !slices.Contains(allowed, sec.Name) {
					t.Errorf("Pulumi.%s.yaml reads secret %s, which the bootstrap's secrets (%q) do not list", stack, sec.Name, allowed)
				}
			}
			if v := st.Service.VPC; v != nil {
				used := v.Connector
				kind, where := "connectors", "locations"
				if used == "" {
					used, kind, where = v.Subnetwork, "subnetworks", "regions"
				}
				if used == "" { // Cloud Run uses the subnetwork named as the network
					used = v.Network[strings.LastIndex(v.Network, "/")+1:]
				}
				if !strings.HasPrefix(used, "projects/") {
					used = "projects/" + st.Project + "/" + where + "/" + st.Service.Region + "/" + kind + "/" + used
				}
				if boot.VPC == nil || boot.VPC.FullName() != used {
					t.Errorf("Pulumi.%s.yaml uses %s, which is not the bootstrap's vpc (%+v)", stack, used, boot.VPC)
				}
			}
			// It deploys under the mocks (and so reaches REGISTRATIONS_DIR when that is set).
			mustRun(t, sf.Values, runOpts{})
		})
	}
	if referencing == 0 {
		t.Error("no committed stack sets authz.role: there is no CI-deployed stack to hold to the bootstrap's mainStackConfig")
	}
}

// The comparison catches each key it is meant to hold.
func TestBootstrapMismatches(t *testing.T) {
	want := map[string]string{project + ":authz.role": "projects/p/roles/a", project + ":enableApis": "false", project + ":callersProject": "p-callers"}
	good := map[string]string{project + ":authz": `{"role":"projects/p/roles/a","bucket":"b"}`, project + ":enableApis": "false", project + ":callersProject": "p-callers"}
	if got := bootstrapMismatches(good, want); len(got) != 0 {
		t.Errorf("a matching stack: %q", got)
	}
	for name, values := range map[string]map[string]string{
		"another role":             {project + ":authz": `{"role":"projects/p/roles/b"}`, project + ":enableApis": "false", project + ":callersProject": "p-callers"},
		"no role":                  {project + ":authz": `{"roleId":"a"}`, project + ":enableApis": "false", project + ":callersProject": "p-callers"},
		"no authz at all":          {project + ":enableApis": "false", project + ":callersProject": "p-callers"},
		"apis enabled":             {project + ":authz": `{"role":"projects/p/roles/a"}`, project + ":enableApis": "true", project + ":callersProject": "p-callers"},
		"callers in the main one":  {project + ":authz": `{"role":"projects/p/roles/a"}`, project + ":enableApis": "false"},
		"callers in another place": {project + ":authz": `{"role":"projects/p/roles/a"}`, project + ":enableApis": "false", project + ":callersProject": "p-other"},
	} {
		if got := bootstrapMismatches(values, want); len(got) != 1 {
			t.Errorf("%s: mismatches %q, want one", name, got)
		}
	}
}

// The main program refuses the bootstrap's CI accounts as callers by their default IDs (it cannot
// know the CI project): the IDs it refuses are the bootstrap's defaults, and the example's
// accounts, which use them, are refused.
func TestBootstrapCIAccountsAreRefusedAsCallers(t *testing.T) {
	defaults := map[string]string{ci.DefaultPreviewAccountID: "preview", ci.DefaultDeployAccountID: "deploy"}
	if !maps.Equal(config.BootstrapCIAccountIDs, defaults) {
		t.Errorf("config.BootstrapCIAccountIDs = %v, the bootstrap's defaults are %v", config.BootstrapCIAccountIDs, defaults)
	}
	boot := bootstrapExample(t)
	for _, email := range []string{boot.Preview.Email, boot.Deploy.Email} {
		cfg := stackYAML(t, base+"  private-run-api:callers:\n    - name: ci-caller\n      email: "+email+"\n")
		_, err := config.StackFile{Namespace: project, Values: cfg}.Load()
		var cerr *diag.ConfigError
		if !errors.As(err, &cerr) || len(cerr.Diagnostics) != 1 || cerr.Diagnostics[0].Type != diag.Forbidden || cerr.Diagnostics[0].Path != "callers[0].email" {
			t.Errorf("the bootstrap's CI account %s as a caller: %v, want Forbidden callers[0].email", email, err)
		}
	}
}
