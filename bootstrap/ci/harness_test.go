package ci_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/entrypoint"
	"github.com/platform/private-run-api/internal/gcp"
	"github.com/platform/private-run-api/internal/mocktest"
)

const (
	project   = "private-run-api-bootstrap"
	stackName = "example"
	// projectNumber is the test config's CI project's number (ciProjectNumber), which the mock
	// provider reports in the pool's and provider's names.
	projectNumber = "123456789012"
	// exampleCINumber is the example's ciProjectNumber, the number of acme-platform-ci.
	exampleCINumber = "234567890123"
)

// projectNumbers are the numbers Google gave the projects of the test configs; the mock names a
// pool of any other project with an unknown number, as Google would with a number nobody set.
var projectNumbers = map[string]string{"acme-test-ci": projectNumber, "acme-platform-ci": exampleCINumber}

// numberOf is the number of project as the mock provider knows it.
func numberOf(project string) string {
	if n, ok := projectNumbers[project]; ok {
		return n
	}
	return "900000000009"
}

// Resource type tokens as the engine sees them.
const (
	tAPI        = "gcp:projects/service:Service"
	tPool       = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
	tProvider   = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
	tAccount    = "gcp:serviceaccount/account:Account"
	tAccountKey = "gcp:serviceaccount/key:Key"
	tSABinding  = "gcp:serviceaccount/iAMBinding:IAMBinding"
	tSAMember   = "gcp:serviceaccount/iAMMember:IAMMember"
	tProjMember = "gcp:projects/iAMMember:IAMMember"
	tProjBind   = "gcp:projects/iAMBinding:IAMBinding"
	tCustomRole = "gcp:projects/iAMCustomRole:IAMCustomRole"
	tBucketMem  = "gcp:storage/bucketIAMMember:BucketIAMMember"
	tBucketBind = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
	tSecretMem  = "gcp:secretmanager/secretIamMember:SecretIamMember"
	tSecretBind = "gcp:secretmanager/secretIamBinding:SecretIamBinding"
	tSubnetMem  = "gcp:compute/subnetworkIAMMember:SubnetworkIAMMember"
	tSubnetBind = "gcp:compute/subnetworkIAMBinding:SubnetworkIAMBinding"
	tAuditCfg   = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
)

// members is the one principal a grant gives its role to: Member for additive grants, the only
// entry of Members for bindings.
func members(x mocktest.Resource) []string {
	if m := x.Str("member"); m != "" {
		return []string{m}
	}
	return x.Strs("members")
}

// computed adds what the provider computes for the bootstrap's resources to state, a copy of
// inputs.
func computed(typ string, inputs, state resource.PropertyMap) {
	in := func(k string) string { return inputs[resource.PropertyKey(k)].StringValue() }
	poolName := func() string {
		return "projects/" + numberOf(in("project")) + "/locations/global/workloadIdentityPools/" + in("workloadIdentityPoolId")
	}
	switch typ {
	case tAccount:
		email := gcp.AccountEmail(in("project"), in("accountId"))
		state["email"] = resource.NewProperty(email)
		state["member"] = resource.NewProperty("serviceAccount:" + email)
		state["name"] = resource.NewProperty(gcp.AccountName(in("project"), email))
	case tPool:
		state["name"] = resource.NewProperty(poolName())
	case tProvider:
		state["name"] = resource.NewProperty(poolName() + "/providers/" + in("workloadIdentityPoolProviderId"))
	case tCustomRole:
		state["name"] = resource.NewProperty("projects/" + in("project") + "/roles/" + in("roleId"))
	}
}

// result is one run of the bootstrap program.
type result struct {
	mocktest.Result
}

// run runs the program with a stack config (fully qualified keys to raw values); the config's
// keys are what PULUMI_CONFIG would list. Resources are listed by type, then name.
func run(tb testing.TB, cfg map[string]string, dryRun bool) *result {
	tb.Helper()
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	m := &mocktest.Mocks{Project: project, Stack: stackName, DryRun: dryRun, Outputs: computed}
	r := &result{*mocktest.Run(m, cfg, func(ctx *pulumi.Context, export func(string, pulumi.Input)) error {
		return ci.RunWith(ctx, entrypoint.Options{ConfigKeys: keys, Export: export})
	})}
	mocktest.WriteRegistrations(tb, "bootstrap", cfg, &r.Result)
	sort.Slice(r.Resources, func(i, j int) bool {
		if r.Resources[i].Type != r.Resources[j].Type {
			return r.Resources[i].Type < r.Resources[j].Type
		}
		return r.Resources[i].Name < r.Resources[j].Name
	})
	return r
}

func mustRun(tb testing.TB, cfg map[string]string) *result {
	tb.Helper()
	r := run(tb, cfg, false)
	if r.Err != nil {
		tb.Fatalf("program failed: %v", r.Err)
	}
	return r
}

// runInvalid runs the program on a config it must refuse: it fails t unless the run registers
// nothing and ends in a *diag.ConfigError, which it returns with the run.
func runInvalid(t *testing.T, cfg map[string]string) (*result, *diag.ConfigError) {
	t.Helper()
	r := run(t, cfg, false)
	if len(r.Resources) != 0 {
		t.Errorf("%d resources registered for an invalid config:\n%s", len(r.Resources), r.Listing())
	}
	var cerr *diag.ConfigError
	if !errors.As(r.Err, &cerr) {
		t.Fatalf("error = %v, want a *diag.ConfigError", r.Err)
	}
	return r, cerr
}

// base is a small valid config to vary from; with overrides applied ("" removes a key).
func base(overrides map[string]string) map[string]string {
	cfg := map[string]string{
		"gcp:project":                  "acme-test",
		project + ":ciProject":         "acme-test-ci",
		project + ":ciProjectNumber":   projectNumber,
		project + ":repository":        "acme/private-run-api",
		project + ":repositoryId":      "812345678",
		project + ":repositoryOwnerId": "1234567",
		project + ":runtimeAccountId":  "orders-api-run",
		project + ":stateBucket":       "acme-test-ci-pulumi-state",
		project + ":authzBucket":       "acme-test-orders-api-authz",
	}
	for k, v := range overrides {
		if !strings.Contains(k, ":") {
			k = project + ":" + k
		}
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

// grantTypes are every resource type that gives a role to someone.
var grantTypes = []string{tSABinding, tSAMember, tProjMember, tProjBind, tBucketMem, tBucketBind, tSecretMem, tSecretBind, tSubnetMem, tSubnetBind}

// grant is a role given to a member on a target, whatever the resource type, with the
// condition's expression ("" for none).
type grant struct {
	Type, Name, Scope, Target, Role, Member, Condition string
}

func (g grant) String() string {
	s := fmt.Sprintf("%s %s on %s %s to %s", g.Type, g.Role, g.Scope, g.Target, g.Member)
	if g.Condition != "" {
		s += " if " + g.Condition
	}
	return s
}

func (r *result) grants() []grant {
	var out []grant
	for _, typ := range grantTypes {
		for _, x := range r.ByType(typ) {
			scope, target := ci.ScopeProject, x.Str("project")
			switch typ {
			case tSABinding, tSAMember:
				scope, target = ci.ScopeServiceAccount, x.Str("serviceAccountId")
			case tBucketMem, tBucketBind:
				scope, target = ci.ScopeBucket, x.Str("bucket")
			case tSecretMem, tSecretBind:
				scope, target = ci.ScopeSecret, "projects/"+x.Str("project")+"/secrets/"+x.Str("secretId")
			case tSubnetMem, tSubnetBind:
				scope, target = ci.ScopeSubnetwork, "projects/"+x.Str("project")+"/regions/"+x.Str("region")+"/subnetworks/"+x.Str("subnetwork")
			}
			var cond string
			if c := x.Obj("condition"); c != nil {
				cond = c["expression"].StringValue()
			}
			for _, m := range members(x) {
				out = append(out, grant{Type: typ, Name: x.Name, Scope: scope, Target: target, Role: x.Str("role"), Member: m, Condition: cond})
			}
		}
	}
	return out
}

// Secret and VPC settings to add to base: two secrets of the main project and one of another
// (listed out of order, with a shared project, so that nothing depends on order), a Shared VPC
// subnetwork and a Shared VPC connector.
var (
	withSecrets = map[string]string{
		"secrets": `["projects/acme-vault/secrets/payments-key","projects/acme-test/secrets/db_password","projects/acme-test/secrets/api-token"]`,
	}
	sharedSubnet    = "projects/acme-net-host/regions/asia-northeast1/subnetworks/orders-private"
	sharedConnector = "projects/acme-net-host/locations/asia-northeast1/connectors/orders-conn"
	// runAgent is Cloud Run's service agent of the test config's main project (number 424242).
	runAgent = "serviceAccount:service-424242@serverless-robot-prod.iam.gserviceaccount.com"
)

// merge returns the union of override maps, later ones winning.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// ciSA is the member string of an account in the test config's CI project.
func ciSA(id string) string { return "serviceAccount:" + id + "@acme-test-ci.iam.gserviceaccount.com" }

// poolPrefix is a principal-set prefix of a pool of the test config's CI project.
func poolPrefix(pool string) string {
	return "principalSet://iam.googleapis.com/projects/" + projectNumber + "/locations/global/workloadIdentityPools/" + pool
}

// readCases decodes the YAML list testdata/name. It refuses a field T does not have, so that a
// misspelt field fails instead of leaving a case half empty, and a list with no case at all.
func readCases[T any](tb testing.TB, name string) []T {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var cases []T
	if err := dec.Decode(&cases); err != nil {
		tb.Fatalf("testdata/%s: %v", name, err)
	}
	if len(cases) == 0 {
		tb.Fatalf("testdata/%s holds no cases", name)
	}
	return cases
}
