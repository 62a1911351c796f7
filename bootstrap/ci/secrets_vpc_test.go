package ci_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/plan"
)

// checkExtraGrants fails t unless the grants r declares beyond those of base(nil), as strings,
// are want (sorted) and none of base(nil)'s is missing: what a secrets or VPC setting adds, and
// nothing it changes elsewhere goes unseen (a changed grant shows as one extra and one missing).
func checkExtraGrants(t *testing.T, r *result, want []string) {
	t.Helper()
	var extra, missing []string
	plain := map[string]bool{}
	for _, g := range mustRun(t, base(nil)).grants() {
		plain[g.Name+" "+g.String()] = true
	}
	seen := map[string]bool{}
	for _, g := range r.grants() {
		k := g.Name + " " + g.String()
		seen[k] = true
		if !plain[k] {
			extra = append(extra, k)
		}
	}
	for k := range plain {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if !reflect.DeepEqual(extra, want) || len(missing) > 0 {
		t.Errorf("grants beyond the plain config:\n got %q\nwant %q\nmissing %q", extra, want, missing)
	}
}

func TestSecretGrantsOnEachNamedSecretOnly(t *testing.T) {
	deploy := ciSA("ci-deploy")
	role := func(project, id string) string { return "projects/" + project + "/roles/" + id }
	secretGrant := func(project, id, roleID string) string {
		return "deploy-secret-iam-" + project + "/" + id + " " + tSecretMem + " " + role(project, roleID) +
			" on secret projects/" + project + "/secrets/" + id + " to " + deploy
	}
	// The audit account reads the policy of a secret outside gcp:project through a role of the
	// secret's project, granted on that secret; gcp:project's secrets its project role reads.
	auditGrant := func(project, id string) string {
		return "audit-secret-iam-" + project + "/" + id + " " + tSecretMem + " " + role(project, ci.DefaultAuditSecretRoleID) +
			" on secret projects/" + project + "/secrets/" + id + " to " + ciSA("ci-audit")
	}
	type wantRole struct{ key, project, id string }
	cases := []struct {
		name      string
		overrides map[string]string
		grants    []string
		roles     []wantRole
	}{
		{"none", nil, nil, nil},
		{"empty list", map[string]string{"secrets": "[]"}, nil, nil},
		{"three secrets in two projects", withSecrets,
			[]string{ // sorted, as checkExtraGrants lists them
				auditGrant("acme-vault", "payments-key"),
				secretGrant("acme-test", "api-token", ci.DefaultSecretRoleID),
				secretGrant("acme-test", "db_password", ci.DefaultSecretRoleID),
				secretGrant("acme-vault", "payments-key", ci.DefaultSecretRoleID),
			},
			[]wantRole{
				{ci.SecretRoleKey("acme-test"), "acme-test", ci.DefaultSecretRoleID},
				{ci.SecretRoleKey("acme-vault"), "acme-vault", ci.DefaultSecretRoleID},
			}},
		{"own role ID", map[string]string{"secrets": `["projects/acme-vault/secrets/payments-key"]`, "secretRoleId": "ordersSecretIam"},
			[]string{auditGrant("acme-vault", "payments-key"), secretGrant("acme-vault", "payments-key", "ordersSecretIam")},
			[]wantRole{{ci.SecretRoleKey("acme-vault"), "acme-vault", "ordersSecretIam"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, base(tc.overrides))
			checkExtraGrants(t, r, tc.grants)

			var roles []wantRole
			for _, x := range r.ByType(tCustomRole) {
				if !strings.HasPrefix(x.Name, "deploy-secret-role-") {
					continue
				}
				roles = append(roles, wantRole{x.Name, x.Str("project"), x.Str("roleId")})
				if got, want := x.Strs("permissions"), names(ci.SecretIAMPermissions); !reflect.DeepEqual(got, want) {
					t.Errorf("%s permissions = %q, want %q", x.Name, got, want)
				}
				if x.Protect {
					t.Errorf("%s is protected; the CI roles must follow the code freely", x.Name)
				}
			}
			if !reflect.DeepEqual(roles, tc.roles) {
				t.Errorf("secret roles = %v, want %v", roles, tc.roles)
			}
			// IAM refuses a grant of a role that does not exist yet.
			for _, x := range r.ByType(tSecretMem) {
				key := ci.SecretRoleKey(x.Str("project"))
				if strings.HasPrefix(x.Name, "audit-") {
					key = ci.AuditSecretRoleKey(x.Str("project"))
				}
				if !dependsOn(x, tCustomRole, key) {
					t.Errorf("%s does not wait for the role %s", x.Name, key)
				}
			}

			api := false
			for _, x := range r.ByType(tAPI) {
				if x.Str("service") == ci.APISecretManager {
					api = true
					if x.Str("project") != "acme-test" || x.Name != "app-api-"+ci.APISecretManager {
						t.Errorf("%s enables Secret Manager in %q, want the main project", x.Name, x.Str("project"))
					}
				}
			}
			for _, x := range r.ByType(tCustomRole) {
				if strings.HasPrefix(x.Name, "audit-secret-role-") {
					if got, want := x.Strs("permissions"), names(ci.AuditSecretPermissions); !reflect.DeepEqual(got, want) || x.Str("project") == "acme-test" {
						t.Errorf("%s in %s permissions = %q, want %q in another project than gcp:project", x.Name, x.Str("project"), got, want)
					}
				}
			}
			if want := len(tc.grants) > 0; api != want {
				t.Errorf("Secret Manager API enabled = %v, want %v", api, want)
			}
		})
	}
}

// The order of the secrets list changes nothing: each resource is named after its secret.
func TestSecretOrderChangesNothing(t *testing.T) {
	var list []string
	if err := json.Unmarshal([]byte(withSecrets["secrets"]), &list); err != nil {
		t.Fatal(err)
	}
	reversed := slices.Clone(list)
	slices.Reverse(reversed)
	text, _ := json.Marshal(reversed)
	snapshot := func(cfg map[string]string) map[string]string {
		out := map[string]string{}
		for _, x := range mustRun(t, cfg).Resources {
			in, _ := json.Marshal(x.Inputs.Mappable())
			out[x.Type+" "+x.Name] = string(in)
		}
		return out
	}
	a, b := snapshot(base(withSecrets)), snapshot(base(map[string]string{"secrets": string(text)}))
	if !reflect.DeepEqual(a, b) {
		t.Errorf("reordering the secrets changed the resources:\n%v\n%v", a, b)
	}
}

func TestVPCGrantsGoToCloudRunsServiceAgentOnly(t *testing.T) {
	cases := []struct {
		name      string
		overrides map[string]string
		grants    []string
	}{
		{"none", nil, nil},
		// roles/run.serviceAgent, which Google gives the agent on its own project, covers these.
		{"subnetwork of the main project", map[string]string{"vpc": "projects/acme-test/regions/asia-northeast1/subnetworks/orders-private"}, nil},
		{"connector of the main project", map[string]string{"vpc": "projects/acme-test/locations/asia-northeast1/connectors/orders-conn"}, nil},
		{"project number set without a VPC", map[string]string{"projectNumber": "424242"}, nil},
		{"Shared VPC subnetwork", map[string]string{"vpc": sharedSubnet, "projectNumber": "424242"}, []string{
			"run-agent-network-viewer " + tProjMember + " roles/compute.networkViewer on project acme-net-host to " + runAgent,
			"run-agent-subnet-network-user " + tSubnetMem + " roles/compute.networkUser on subnetwork " + sharedSubnet + " to " + runAgent,
		}},
		{"Shared VPC connector", map[string]string{"vpc": sharedConnector, "projectNumber": "424242"}, []string{
			"run-agent-vpcaccess-user " + tProjMember + " roles/vpcaccess.user on project acme-net-host to " + runAgent,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, base(tc.overrides))
			checkExtraGrants(t, r, tc.grants)
			for _, x := range r.ByType(tSubnetMem) {
				if x.Str("region") != "asia-northeast1" || x.Str("subnetwork") != "orders-private" || x.Str("project") != "acme-net-host" {
					t.Errorf("%s targets %s/%s/%s", x.Name, x.Str("project"), x.Str("region"), x.Str("subnetwork"))
				}
			}
		})
	}
}

func TestInvalidSecretAndVPCConfigRegistersNothing(t *testing.T) {
	const missingNumberRule = "is missing; vpc is in another project, where Cloud Run's service agent (named by this number) needs a grant"
	const missingNumberFix = "run `pulumi config set projectNumber \"$(gcloud projects describe acme-test --format='value(projectNumber)')\"`"
	const fullFix = "write projects/<project>/regions/<region>/subnetworks/<name> (Direct VPC egress) or projects/<project>/locations/<region>/connectors/<name> (a connector)"
	cases := []struct {
		name      string
		overrides map[string]string
		want      diag.List
	}{
		{"secrets as one string", map[string]string{"secrets": "projects/acme-test/secrets/db"}, diag.List{
			{Type: diag.Invalid, Path: "secrets", Value: "projects/acme-test/secrets/db", Rule: "is not a list", Fix: "write it as a YAML list, one full name per entry (see Pulumi.example.yaml)"},
		}},
		{"an entry that is a mapping", map[string]string{"secrets": `[{"secret":"db"}]`}, diag.List{
			{Type: diag.Invalid, Path: "secrets[0]", Value: `{"secret":"db"}`, Rule: "is not a string", Fix: `write the full name as text, e.g. "projects/<project>/secrets/<id>"`},
		}},
		{"every kind of bad secret name, all at once", map[string]string{"secrets": `["db-password", "", "projects/acme-test/secrets/db/versions/3", "secrets/db", "projects/123456789012/secrets/db", "projects/acme-test/secrets/db.password", "projects/acme-test-ci/secrets/db", "projects/acme-test/secrets/db", "projects/acme-test/secrets/db"]`}, diag.List{
			{Type: diag.Invalid, Path: "secrets[0]", Value: "db-password", Rule: "is a secret ID, not a full secret name",
				Fix: `write "projects/acme-test/secrets/db-password" if it is in gcp:project, or name its own project: the bootstrap grants on the secret and creates a role in its project`},
			{Type: diag.Invalid, Path: "secrets[1]", Value: "", Rule: "is empty", Fix: "remove the entry, or write the secret's full name projects/<project>/secrets/<id>"},
			{Type: diag.Invalid, Path: "secrets[2]", Value: "projects/acme-test/secrets/db/versions/3", Rule: "names a secret version, not a secret",
				Fix: `write "projects/acme-test/secrets/db": access is granted on the secret, whatever version the service reads`},
			{Type: diag.Invalid, Path: "secrets[3]", Value: "secrets/db", Rule: "is not a full secret name (projects/<project>/secrets/<id>)",
				Fix: "copy the name from `gcloud secrets describe <id> --project <project> --format='value(name)'`, with the project ID in place of its number"},
			{Type: diag.Invalid, Path: "secrets[4]", Value: "projects/123456789012/secrets/db", Rule: "names its project by something other than a project ID",
				Fix: `write the project ID (6-30 chars of a-z, 0-9 and "-"), not its number: the role it needs is created in that project by ID`},
			{Type: diag.Invalid, Path: "secrets[5]", Value: "projects/acme-test/secrets/db.password", Rule: `has a secret ID Secret Manager would refuse (1-255 letters, digits, "-" and "_")`,
				Fix: "copy the secret's ID as Secret Manager spells it"},
			{Type: diag.Forbidden, Path: "secrets[6]", Value: "projects/acme-test-ci/secrets/db", Rule: "is in ciProject",
				Fix: "keep the main stack's secrets in gcp:project or a secrets project: the deploy account must hold nothing in ciProject but the state"},
			{Type: diag.Duplicate, Path: "secrets[8]", Value: "projects/acme-test/secrets/db", Rule: "is listed twice (also secrets[7])", Fix: "list each secret once"},
		}},
		{"secret role ID with a hyphen", map[string]string{"secretRoleId": "secret-iam"}, diag.List{
			{Type: diag.Invalid, Path: "secretRoleId", Value: "secret-iam", Rule: "must be 3-64 chars of a-z, A-Z, 0-9, _ and . (no hyphen)", Fix: `rename it, e.g. "privateRunApiSecretIamDeployer"`},
		}},
		{"secret role ID of the deploy role", map[string]string{"secretRoleId": ci.DefaultDeployRoleID}, diag.List{
			{Type: diag.Duplicate, Path: "secretRoleId", Value: ci.DefaultDeployRoleID, Rule: "is the same role ID as deployRoleId", Fix: "give each custom role its own ID"},
		}},
		{"vpc as a short name", map[string]string{"vpc": "orders-private"}, diag.List{
			{Type: diag.Invalid, Path: "vpc", Value: "orders-private", Rule: "is a short name, which does not say its project or region", Fix: fullFix},
		}},
		{"vpc as a network", map[string]string{"vpc": "projects/acme-test/global/networks/orders-vpc"}, diag.List{
			{Type: diag.Invalid, Path: "vpc", Value: "projects/acme-test/global/networks/orders-vpc", Rule: "is a network; the bootstrap needs the subnetwork",
				Fix: "name the subnetwork the service uses: with only a network, Cloud Run uses the subnetwork of the same name in the service's region"},
		}},
		{"vpc of another kind", map[string]string{"vpc": "projects/acme-test/zones/asia-northeast1-a/instances/vm"}, diag.List{
			{Type: diag.Invalid, Path: "vpc", Value: "projects/acme-test/zones/asia-northeast1-a/instances/vm", Rule: "is not a subnetwork or a Serverless VPC Access connector", Fix: fullFix},
		}},
		{"vpc by project number", map[string]string{"vpc": "projects/987654321/regions/asia-northeast1/subnetworks/orders-private"}, diag.List{
			{Type: diag.Invalid, Path: "vpc", Value: "projects/987654321/regions/asia-northeast1/subnetworks/orders-private", Rule: "names its project by something other than a project ID", Fix: "write the project ID, not its number"},
		}},
		{"vpc with a bad region", map[string]string{"vpc": "projects/acme-net-host/regions/Tokyo/subnetworks/orders-private", "projectNumber": "424242"}, diag.List{
			{Type: diag.Invalid, Path: "vpc", Value: "projects/acme-net-host/regions/Tokyo/subnetworks/orders-private", Rule: "has no region Google would accept (e.g. asia-northeast1)", Fix: "copy the region from the resource's name"},
		}},
		{"connector name too long", map[string]string{"vpc": "projects/acme-test/locations/asia-northeast1/connectors/a-connector-name-too-long"}, diag.List{
			{Type: diag.Invalid, Path: "vpc", Value: "projects/acme-test/locations/asia-northeast1/connectors/a-connector-name-too-long",
				Rule: `has a connector name Serverless VPC Access would refuse (2-24 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-")`, Fix: "copy the connector's name"},
		}},
		{"subnetwork name with capitals", map[string]string{"vpc": "projects/acme-test/regions/asia-northeast1/subnetworks/Orders"}, diag.List{
			{Type: diag.Invalid, Path: "vpc", Value: "projects/acme-test/regions/asia-northeast1/subnetworks/Orders",
				Rule: `has a subnetwork name Compute Engine would refuse (1-63 chars of a-z, 0-9 and "-", starting with a letter)`, Fix: "copy the subnetwork's name"},
		}},
		{"vpc in the CI project", map[string]string{"vpc": "projects/acme-test-ci/regions/asia-northeast1/subnetworks/orders-private"}, diag.List{
			{Type: diag.Forbidden, Path: "vpc", Value: "projects/acme-test-ci/regions/asia-northeast1/subnetworks/orders-private", Rule: "is in ciProject",
				Fix: "use the main project's network or a Shared VPC host project: the CI project holds the identities and the state only"},
		}},
		{"vpc and a secret in the callers' project", map[string]string{"callersProject": "acme-test-callers",
			"vpc": "projects/acme-test-callers/regions/asia-northeast1/subnetworks/orders-private", "secrets": `["projects/acme-test-callers/secrets/db"]`}, diag.List{
			{Type: diag.Forbidden, Path: "secrets[0]", Value: "projects/acme-test-callers/secrets/db", Rule: "is in callersProject",
				Fix: "keep the main stack's secrets in gcp:project or a secrets project: the callers' project holds the caller accounts and nothing else"},
			{Type: diag.Forbidden, Path: "vpc", Value: "projects/acme-test-callers/regions/asia-northeast1/subnetworks/orders-private", Rule: "is in callersProject",
				Fix: "use the main project's network or a Shared VPC host project: a network in the callers' project means the Compute Engine API, and with it the default compute account (Editor), which the deploy account could take over"},
		}},
		{"Shared VPC without the project number", map[string]string{"vpc": sharedSubnet}, diag.List{
			{Type: diag.Required, Path: "projectNumber", Value: "", Rule: missingNumberRule, Fix: missingNumberFix},
		}},
		{"Shared VPC connector with a project number that is not one", map[string]string{"vpc": sharedConnector, "projectNumber": "acme-test"}, diag.List{
			{Type: diag.Invalid, Path: "projectNumber", Value: "acme-test", Rule: "is not a project number (a positive whole number)",
				Fix: "read it with `gcloud projects describe <gcp:project> --format='value(projectNumber)'`"},
		}},
		{"vpc as a list", map[string]string{"vpc": `["` + sharedSubnet + `"]`}, diag.List{
			{Type: diag.Invalid, Path: "vpc", Value: short(`["` + sharedSubnet + `"]`), Rule: "is a mapping or a list, expected a string", Fix: "set it as plain text: pulumi config set vpc <value>"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, cerr := runInvalid(t, base(tc.overrides))
			if !reflect.DeepEqual(cerr.Diagnostics, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", cerr.Diagnostics, tc.want)
			}
		})
	}
}

// short mirrors how the program cuts a long value in a problem.
func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// The complete example is the bootstrap of the repository's dev stack: it grants on exactly the
// secrets that stack reads, names the subnetwork or connector it uses, and enables every API it
// would, and the main program accepts what mainStackConfig tells it to say.
func TestExampleMatchesTheDevStack(t *testing.T) {
	boot := ci.Resolve(mustLoad(t, exampleStack(t)))
	sf, err := config.ReadStack(config.Dir("../.."), "dev")
	if err != nil {
		t.Fatal(err)
	}
	if sf.Values[ci.KeyGCPProject] != boot.Project {
		t.Fatalf("the example's gcp:project %q is not the dev stack's %q", boot.Project, sf.Values[ci.KeyGCPProject])
	}
	dev, err := sf.Load()
	if err != nil {
		t.Fatalf("the dev stack does not load: %v", err)
	}
	devPlan := plan.Resolve(dev, time.Now())

	var want, got []string
	for _, s := range devPlan.Service.Secrets {
		want = append(want, s.Name)
	}
	for _, s := range boot.Secrets {
		got = append(got, s.Name())
	}
	sort.Strings(want)
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the example's secrets = %q, the dev stack reads %q", got, want)
	}

	wantVPC := ""
	if v := devPlan.Service.VPC; v != nil {
		full := func(kind, name string) string {
			if strings.HasPrefix(name, "projects/") {
				return name
			}
			return "projects/" + devPlan.Project + "/" + map[string]string{"subnetworks": "regions", "connectors": "locations"}[kind] + "/" + devPlan.Service.Region + "/" + kind + "/" + name
		}
		switch {
		case v.Connector != "":
			wantVPC = full("connectors", v.Connector)
		case v.Subnetwork != "":
			wantVPC = full("subnetworks", v.Subnetwork)
		default: // Cloud Run uses the subnetwork named as the network
			wantVPC = full("subnetworks", v.Network[strings.LastIndex(v.Network, "/")+1:])
		}
	}
	gotVPC := ""
	if boot.VPC != nil {
		gotVPC = boot.VPC.FullName()
	}
	if gotVPC != wantVPC {
		t.Errorf("the example's vpc = %q, the dev stack uses %q", gotVPC, wantVPC)
	}

	var appAPIs []string
	for _, g := range boot.APIs {
		if g.Project == boot.Project {
			appAPIs = g.APIs
		}
	}
	for _, api := range devPlan.APIs {
		if !slices.Contains(appAPIs, api) {
			t.Errorf("the dev stack would enable %s, which the bootstrap does not: with enableApis false it would be missing", api)
		}
	}

	// Set mainStackConfig as the runbook says, dropping the keys each value excludes.
	values := maps.Clone(sf.Values)
	excludes := map[string][]string{"service.runtimeAccount": {"runtimeAccountId"}, "authz.role": {"roleId", "roleTitle"}}
	for key, v := range boot.MainStackConfig() {
		path := strings.TrimPrefix(key, sf.Namespace+":")
		top, field, nested := strings.Cut(path, ".")
		if !nested {
			values[sf.Namespace+":"+top] = v
			continue
		}
		obj := map[string]any{}
		if raw := values[sf.Namespace+":"+top]; raw != "" {
			if err := json.Unmarshal([]byte(raw), &obj); err != nil {
				t.Fatalf("%s: %v", top, err)
			}
		}
		obj[field] = v
		for _, k := range excludes[path] {
			delete(obj, k)
		}
		text, _ := json.Marshal(obj)
		values[sf.Namespace+":"+top] = string(text)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	withBoot, err := config.Load(sf.Namespace, config.MapSource(values), keys)
	if err != nil {
		t.Fatalf("the main program refuses mainStackConfig: %v", err)
	}
	p := plan.Resolve(withBoot, time.Now())
	if p.Service.RuntimeCreated || p.Service.Runtime.Email != boot.Runtime.Email {
		t.Errorf("runtime account %q (created %v), want the bootstrap's %q, referenced", p.Service.Runtime.Email, p.Service.RuntimeCreated, boot.Runtime.Email)
	}
	if p.Authz == nil || p.Authz.Role != nil || p.Authz.RoleName != boot.AuthzRoleName() || p.Authz.Bucket == nil || p.Authz.Bucket.Name != boot.AuthzBucket {
		t.Errorf("authz plan %+v, want the bootstrap's role %s referenced on bucket %s", p.Authz, boot.AuthzRoleName(), boot.AuthzBucket)
	}
	if p.EnableAPIs {
		t.Error("mainStackConfig leaves the main stack enabling APIs, which its deploy account cannot")
	}
	// The caller accounts land where the bootstrap grants the deploy account its account
	// permissions, and that project gets every API the main program would enable there.
	if p.CallersProject != boot.CallersProject || p.CallersProject == p.Project {
		t.Errorf("the main stack creates its callers in %q, the bootstrap manages %q (gcp:project %q)", p.CallersProject, boot.CallersProject, p.Project)
	}
	var callerAPIs []string
	for _, g := range boot.APIs {
		if g.Project == boot.CallersProject {
			callerAPIs = g.APIs
		}
	}
	if len(p.CallersAPIs) == 0 {
		t.Error("the main program enables no API in the callers' project: the test compares nothing")
	}
	for _, api := range p.CallersAPIs {
		if !slices.Contains(callerAPIs, api) {
			t.Errorf("the main stack would enable %s in %s, which the bootstrap does not", api, p.CallersProject)
		}
	}
}
