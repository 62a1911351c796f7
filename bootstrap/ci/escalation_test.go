package ci_test

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/platform/private-run-api/bootstrap/ci"
	"github.com/platform/private-run-api/internal/gcp/roles"
)

// These tests read what the CI accounts end up able to do the way an attacker who holds their
// token would: every permission, on every resource it reaches, under its condition. Custom roles
// are read from what the program registers; predefined roles from the project's one table of
// Google's roles (gcp/roles), which holds every permission these checks reason about. A
// predefined role missing from the table fails the test: refresh the table (its package doc).

// metadataReads are the tracked permissions that only read what exists and who holds it
// (nearly every role carries resourcemanager.projects.get): none is a way up.
var metadataReads = map[string]bool{
	roles.ProjectsGet: true, roles.ProjectsGetPolicy: true, roles.RunServicesGet: true, roles.RunServicesList: true,
	roles.StorageBucketsGetPolicy: true, roles.AccountsGetPolicy: true,
}

// auditReads are every permission the audit account may hold: the lists of its four roles,
// each a read of a policy, of log entries or of metadata, and none storage.buckets.get (the
// guard's permission). TestAuditAccountReadsOnly holds the lists to that rule.
var auditReads = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range slices.Concat(ci.AuditPermissions, ci.AuditBucketPermissions, ci.AuditSecretPermissions, ci.AuditCallersPermissions) {
		m[p.Name] = true
	}
	return m
}()

// impersonation are the permissions that let a holder act as, or mint credentials of, a service
// account, or hand those to itself: the table's impersonation permissions and the account's
// policy.
var impersonation = func() map[string]bool {
	m := map[string]bool{roles.AccountsSetPolicy: true}
	for _, p := range roles.ImpersonationPermissions {
		m[p] = true
	}
	return m
}()

// held is one permission an account holds on one resource (a project reaches everything in it),
// under a condition's expression ("" for none).
type held struct {
	Member, Permission, Scope, Target, Condition string
}

func (h held) String() string {
	s := fmt.Sprintf("%s on %s %s", h.Permission, h.Scope, h.Target)
	if h.Condition != "" {
		s += " if " + h.Condition
	}
	return s
}

// permissionsHeld expands every grant the program registered into the permissions it gives.
func permissionsHeld(t *testing.T, r *result) []held {
	t.Helper()
	custom := map[string][]string{}
	for _, x := range r.ByType(tCustomRole) {
		custom["projects/"+x.Str("project")+"/roles/"+x.Str("roleId")] = x.Strs("permissions")
	}
	var out []held
	for _, g := range r.grants() {
		var perms []string
		if p, ok := custom[g.Role]; ok {
			perms = p
		} else if p, ok := roles.Predefined(g.Role); ok {
			perms = p.List()
		} else {
			t.Errorf("%s: role %s is neither a custom role the program registers nor in the table of predefined roles (gcp/roles); refresh the table", g, g.Role)
			continue
		}
		for _, p := range perms {
			out = append(out, held{Member: g.Member, Permission: p, Scope: g.Scope, Target: g.Target, Condition: g.Condition})
		}
	}
	return out
}

// world is what the checks need to know about the deployment.
type world struct {
	appProject, callersProject, ciProject, runtimeAccount, authzBucket string
	preview                                                            string
	// secrets are the full names of the secrets the main stack reads.
	secrets map[string]bool
}

func worldOf(p *ci.Stack) world {
	w := world{appProject: p.Project, callersProject: p.CallersProject, ciProject: p.CIProject, runtimeAccount: p.Runtime.Name,
		authzBucket: p.AuthzBucket, preview: p.Preview.Member, secrets: map[string]bool{}}
	for _, s := range p.Secrets {
		w.secrets[s.Name()] = true
	}
	return w
}

// escalations lists every permission that lets its holder climb above what the main program
// manages.
func escalations(w world, hs []held) []string {
	authzOnly := "resource.name == " + fmt.Sprintf("%q", ci.BucketResourceName(w.authzBucket))
	var out []string
	bad := func(h held, why string) { out = append(out, fmt.Sprintf("%s holds %s: %s", h.Member, h, why)) }
	separateCallers := w.callersProject != w.appProject
	for _, h := range hs {
		if h.Scope == ci.ScopeProject && h.Target != w.appProject && h.Target != w.callersProject {
			bad(h, "a project-level grant outside the main stack's and the callers' projects reaches the CI identities or other workloads")
			continue
		}
		// Google honours resource attributes for Cloud Storage only, among what is granted
		// here: a condition on anything else narrows nothing and is read as absent.
		conditioned := h.Condition != "" && strings.HasPrefix(h.Permission, "storage.")
		account := strings.HasPrefix(h.Permission, "iam.serviceAccounts.")
		if separateCallers && h.Scope == ci.ScopeProject {
			switch {
			case h.Target == w.appProject && account:
				bad(h, "service-account permissions project-wide in the main project reach the runtime account and every other account there; they belong in the callers' project")
				continue
			case h.Target == w.callersProject && !account && !auditReads[h.Permission] && !metadataReads[h.Permission]:
				bad(h, "the callers' project holds the caller accounts alone: nothing but them and reads may be granted there")
				continue
			}
		}
		switch p := h.Permission; {
		case p == "resourcemanager.projects.setIamPolicy":
			bad(h, "grants anyone anything in the project, Owner included")
		case p == "iam.roles.create" || p == "iam.roles.update":
			bad(h, "can add any permission to a role it holds")
		case p == "iam.workloadIdentityPoolProviders.update":
			bad(h, "can rewrite which GitHub runs may exchange tokens")
		case impersonation[p]:
			switch {
			case h.Scope == ci.ScopeServiceAccount && h.Target == w.runtimeAccount:
				// The runtime account: the service runs as it, so deploying already acts as it.
			case h.Scope == ci.ScopeProject && p == roles.AccountsSetPolicy && h.Target == w.callersProject && w.callersProject != w.ciProject:
				// Every account of the callers' project, which holds only the callers the program
				// creates (and, when it is the main project, the runtime account); the CI accounts
				// live in another project.
			default:
				bad(h, "reaches service accounts beyond the runtime account and the program's callers")
			}
		case p == "storage.buckets.setIamPolicy":
			if !(h.Scope == ci.ScopeBucket && h.Target == w.authzBucket) && !(conditioned && h.Condition == authzOnly) {
				bad(h, "can open a bucket other than the authz bucket (the state, the bootstrap's state)")
			}
		case p == "secretmanager.versions.access":
			bad(h, "reads secret values; the runtime account reads them, the deployer only grants that")
		case p == "secretmanager.secrets.setIamPolicy":
			// Only a grant on the secret itself counts as narrow: a conditioned project grant
			// would rest on Google evaluating secret names in conditions, which is unverified.
			if h.Scope != ci.ScopeSecret || !w.secrets[h.Target] {
				bad(h, "can open a secret the main stack does not read")
			}
		case p == "compute.subnetworks.use" || p == "vpcaccess.connectors.use":
			bad(h, "can put workloads on a private network; Cloud Run attaches revisions as its service agent, never as the deployer")
		}
		// The guard lets through whoever holds storage.buckets.get on the authz bucket; the
		// preview account is whoever opens a pull request.
		if h.Member == w.preview && h.Permission == ci.AuthzPermission {
			if (h.Scope == ci.ScopeProject && (!conditioned || h.Condition == authzOnly)) || (h.Scope == ci.ScopeBucket && h.Target == w.authzBucket) {
				bad(h, "passes the authz guard, and any pull request runs as this account")
			}
		}
	}
	sort.Strings(out)
	return out
}

// agentEscalations lists every grant to Cloud Run's service agent beyond what a Shared VPC
// resource needs: network user on the subnetwork and network viewer on its project, or
// Serverless VPC Access user on the connector's project.
func agentEscalations(v *ci.VPCResource, agent string, gs []grant) []string {
	allowed := map[string]bool{}
	if v != nil {
		switch v.Kind {
		case ci.VPCSubnetwork:
			allowed[ci.RoleNetworkUser+" "+ci.ScopeSubnetwork+" "+v.FullName()] = true
			allowed[ci.RoleNetworkViewer+" "+ci.ScopeProject+" "+v.Project] = true
		case ci.VPCConnector:
			allowed[ci.RoleVPCAccessUser+" "+ci.ScopeProject+" "+v.Project] = true
		}
	}
	var out []string
	for _, g := range gs {
		if g.Member == agent && (!allowed[g.Role+" "+g.Scope+" "+g.Target] || g.Condition != "") {
			out = append(out, fmt.Sprintf("Cloud Run's service agent holds %s: more than the Shared VPC resource needs", g))
		}
	}
	return out
}

func TestCIAccountsCannotClimb(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]string
	}{
		{"example", exampleStack(t)},
		{"small", base(nil)},
		{"callers in a project of their own", base(map[string]string{"callersProject": "acme-test-callers"})},
		{"secrets and a Shared VPC subnetwork", base(merge(withSecrets, map[string]string{"vpc": sharedSubnet, "projectNumber": "424242"}))},
		{"Shared VPC connector", base(map[string]string{"vpc": sharedConnector, "projectNumber": "424242"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, tc.cfg)
			p := ci.Resolve(mustLoad(t, tc.cfg))
			// The federated principal sets hold roles/iam.workloadIdentityUser on the CI accounts;
			// who may use them is TestTokensReachOnlyTheirAccount's subject. Cloud Run's service
			// agent is Google's, and holds only what a Shared VPC resource needs.
			var hs []held
			for _, h := range permissionsHeld(t, r) {
				switch {
				case h.Member == p.Preview.Member || h.Member == p.Deploy.Member || h.Member == p.Audit.Member:
					hs = append(hs, h)
				case strings.HasPrefix(h.Member, "principalSet://"), p.RunAgent != "" && h.Member == p.RunAgent:
				default:
					t.Errorf("a grant to %s, neither CI account, federated principal set nor Cloud Run's service agent", h.Member)
				}
			}
			for _, e := range escalations(worldOf(p), hs) {
				t.Error(e)
			}
			for _, e := range agentEscalations(p.VPC, p.RunAgent, r.grants()) {
				t.Error(e)
			}
			// What each account can do at all, for the record: the preview account only reads the
			// state; the deploy account holds the runtime's actAs and the authz bucket's policy.
			byMember := map[string][]string{}
			for _, h := range hs {
				if !metadataReads[h.Permission] {
					byMember[h.Member] = append(byMember[h.Member], h.Permission)
				}
			}
			for _, h := range hs {
				if h.Member == p.Audit.Member && !auditReads[h.Permission] {
					t.Errorf("audit account holds %s, which is neither a policy, a log nor a metadata read", h)
				}
			}
			if got := byMember[p.Preview.Member]; len(got) != 0 {
				t.Errorf("preview account holds escalation-relevant or custom permissions %q; it should read the state only", got)
			}
			if got := strings.Join(byMember[p.Deploy.Member], " "); !strings.Contains(got, "iam.serviceAccounts.actAs") || !strings.Contains(got, "storage.buckets.setIamPolicy") {
				t.Errorf("deploy account holds %q; the test no longer sees what pulumi up needs", got)
			}
			// Account policies are set in the callers' project, project-wide, and nowhere else
			// project-wide: the check above has that grant to pass or fail.
			var policyProjects []string
			for _, h := range hs {
				if h.Member == p.Deploy.Member && h.Permission == roles.AccountsSetPolicy && h.Scope == ci.ScopeProject {
					policyProjects = append(policyProjects, h.Target)
				}
			}
			if !reflect.DeepEqual(policyProjects, []string{p.CallersProject}) {
				t.Errorf("deploy account sets account policies project-wide in %q, want the callers' project %q alone", policyProjects, p.CallersProject)
			}
			// One secret-policy grant per named secret, each on that secret: the checks above see
			// them, so they have something to pass or fail.
			onSecrets := map[string]bool{}
			for _, h := range hs {
				if h.Member == p.Deploy.Member && h.Permission == "secretmanager.secrets.setIamPolicy" && h.Scope == ci.ScopeSecret {
					onSecrets[h.Target] = true
				}
			}
			if !reflect.DeepEqual(onSecrets, worldOf(p).secrets) {
				t.Errorf("deploy account may set the policy of %v, want exactly the named secrets %v", onSecrets, worldOf(p).secrets)
			}
		})
	}
}

// Every deploy permission that Google can narrow by resource name is granted narrowed: only the
// services Google lists for resource attributes can take a condition, and of Cloud Storage's
// bucket permissions only those checked on the bucket itself.
func TestEveryNarrowablePermissionIsConditioned(t *testing.T) {
	r := mustRun(t, base(nil))
	projectOnly := map[string]bool{"storage.buckets.create": true, "storage.buckets.list": true}
	for _, h := range permissionsHeld(t, r) {
		if strings.HasPrefix(h.Member, "principalSet://") {
			continue
		}
		narrowable := strings.HasPrefix(h.Permission, "storage.") && !projectOnly[h.Permission]
		if h.Scope == ci.ScopeProject && narrowable && h.Condition == "" {
			t.Errorf("%s holds %s without the condition Cloud Storage would honour", h.Member, h)
		}
		if h.Condition != "" && !narrowable {
			t.Errorf("%s holds %s under a condition Google does not apply to that permission", h.Member, h)
		}
	}
}

// The checker itself: each escalation the issue names is caught, and each grant the design
// relies on passes.
func TestEscalationChecker(t *testing.T) {
	w := world{appProject: "app", callersProject: "callers", ciProject: "ci", runtimeAccount: "projects/app/serviceAccounts/run@app.iam.gserviceaccount.com",
		authzBucket: "authz", preview: "serviceAccount:ci-preview@ci.iam.gserviceaccount.com", secrets: map[string]bool{"projects/app/secrets/db": true}}
	deploy := "serviceAccount:ci-deploy@ci.iam.gserviceaccount.com"
	authzOnly := `resource.name == "projects/_/buckets/authz"`
	cases := []struct {
		name string
		h    held
		bad  bool
	}{
		{"project IAM", held{deploy, "resourcemanager.projects.setIamPolicy", ci.ScopeProject, "app", ""}, true},
		{"role update", held{deploy, "iam.roles.update", ci.ScopeProject, "app", ""}, true},
		{"role create", held{deploy, "iam.roles.create", ci.ScopeProject, "app", ""}, true},
		{"provider update", held{deploy, "iam.workloadIdentityPoolProviders.update", ci.ScopeProject, "app", ""}, true},
		{"actAs on the whole project", held{deploy, "iam.serviceAccounts.actAs", ci.ScopeProject, "app", ""}, true},
		{"token of another account", held{deploy, "iam.serviceAccounts.getAccessToken", ci.ScopeServiceAccount, "projects/app/serviceAccounts/other@app.iam.gserviceaccount.com", ""}, true},
		{"ID token of another account", held{deploy, "iam.serviceAccounts.getOpenIdToken", ci.ScopeServiceAccount, "projects/app/serviceAccounts/other@app.iam.gserviceaccount.com", ""}, true},
		{"key for the whole project's accounts", held{deploy, "iam.serviceAccountKeys.create", ci.ScopeProject, "app", ""}, true},
		{"signJwt on the runtime account", held{deploy, "iam.serviceAccounts.signJwt", ci.ScopeServiceAccount, w.runtimeAccount, ""}, false},
		{"account policies in the CI project", held{deploy, "iam.serviceAccounts.setIamPolicy", ci.ScopeProject, "ci", ""}, true},
		{"account policies in the callers' project", held{deploy, "iam.serviceAccounts.setIamPolicy", ci.ScopeProject, "callers", ""}, false},
		{"account policies in the app project, the callers elsewhere", held{deploy, "iam.serviceAccounts.setIamPolicy", ci.ScopeProject, "app", ""}, true},
		{"account reads in the app project, the callers elsewhere", held{deploy, "iam.serviceAccounts.get", ci.ScopeProject, "app", ""}, true},
		{"account policy reads in the app project, the callers elsewhere", held{deploy, "iam.serviceAccounts.getIamPolicy", ci.ScopeProject, "app", ""}, true},
		{"accounts created in the callers' project", held{deploy, "iam.serviceAccounts.create", ci.ScopeProject, "callers", ""}, false},
		{"tokens of every caller", held{deploy, "iam.serviceAccounts.getAccessToken", ci.ScopeProject, "callers", ""}, true},
		{"Cloud Run in the callers' project", held{deploy, "run.services.create", ci.ScopeProject, "callers", ""}, true},
		{"buckets in the callers' project", held{deploy, "storage.buckets.create", ci.ScopeProject, "callers", ""}, true},
		{"minting logs in the callers' project", held{deploy, "logging.privateLogEntries.list", ci.ScopeProject, "callers", ""}, false},
		{"anything project-wide in a third project", held{deploy, "run.services.get", ci.ScopeProject, "other", ""}, true},
		{"a condition on accounts narrows nothing", held{deploy, "iam.serviceAccounts.getAccessToken", ci.ScopeProject, "app", `resource.name == "x"`}, true},
		{"actAs on the runtime account", held{deploy, "iam.serviceAccounts.actAs", ci.ScopeServiceAccount, w.runtimeAccount, ""}, false},
		{"bucket policy, unconditioned", held{deploy, "storage.buckets.setIamPolicy", ci.ScopeProject, "app", ""}, true},
		{"bucket policy of another bucket", held{deploy, "storage.buckets.setIamPolicy", ci.ScopeProject, "app", `resource.name == "projects/_/buckets/state"`}, true},
		{"bucket policy by prefix", held{deploy, "storage.buckets.setIamPolicy", ci.ScopeProject, "app", `resource.name.startsWith("projects/_/buckets/auth")`}, true},
		{"bucket policy of the authz bucket", held{deploy, "storage.buckets.setIamPolicy", ci.ScopeProject, "app", authzOnly}, false},
		{"bucket policy on the authz bucket itself", held{deploy, "storage.buckets.setIamPolicy", ci.ScopeBucket, "authz", ""}, false},
		{"preview passes the guard", held{w.preview, "storage.buckets.get", ci.ScopeProject, "app", ""}, true},
		{"preview passes the guard by condition", held{w.preview, "storage.buckets.get", ci.ScopeProject, "app", authzOnly}, true},
		{"preview on the authz bucket", held{w.preview, "storage.buckets.get", ci.ScopeBucket, "authz", ""}, true},
		{"preview reads another bucket", held{w.preview, "storage.buckets.get", ci.ScopeBucket, "state", ""}, false},
		{"deploy passes the guard", held{deploy, "storage.buckets.get", ci.ScopeProject, "app", authzOnly}, false},
		{"anything project-wide in the CI project", held{deploy, "run.services.get", ci.ScopeProject, "ci", ""}, true},
		{"policy of a named secret", held{deploy, "secretmanager.secrets.setIamPolicy", ci.ScopeSecret, "projects/app/secrets/db", ""}, false},
		{"policy of another secret", held{deploy, "secretmanager.secrets.setIamPolicy", ci.ScopeSecret, "projects/app/secrets/other", ""}, true},
		{"policy of every secret of the project", held{deploy, "secretmanager.secrets.setIamPolicy", ci.ScopeProject, "app", ""}, true},
		{"policy of secrets by condition", held{deploy, "secretmanager.secrets.setIamPolicy", ci.ScopeProject, "app", `resource.name == "projects/app/secrets/db"`}, true},
		{"value of a named secret", held{deploy, "secretmanager.versions.access", ci.ScopeSecret, "projects/app/secrets/db", ""}, true},
		{"preview reads a secret value", held{w.preview, "secretmanager.versions.access", ci.ScopeSecret, "projects/app/secrets/db", ""}, true},
		{"deploy uses a subnetwork", held{deploy, "compute.subnetworks.use", ci.ScopeSubnetwork, "projects/host/regions/r/subnetworks/s", ""}, true},
		{"deploy uses a connector", held{deploy, "vpcaccess.connectors.use", ci.ScopeProject, "app", ""}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := escalations(w, []held{tc.h})
			if (len(got) > 0) != tc.bad {
				t.Errorf("escalations = %q, want bad=%v", got, tc.bad)
			}
		})
	}
	// The callers in the main project (callersProject left out): account policies there are the
	// program's reach, unless the CI accounts live there too.
	shared := w
	shared.callersProject = shared.appProject
	setPolicy := held{deploy, "iam.serviceAccounts.setIamPolicy", ci.ScopeProject, "app", ""}
	if got := escalations(shared, []held{setPolicy}); len(got) != 0 {
		t.Errorf("account policies in the main project, which holds the callers: %q", got)
	}
	if got := escalations(shared, []held{{deploy, "iam.serviceAccounts.setIamPolicy", ci.ScopeProject, "callers", ""}}); len(got) == 0 {
		t.Error("account policies in a project that is neither the main nor the callers' must fail")
	}
	same := shared
	same.ciProject = same.appProject
	if got := escalations(same, []held{setPolicy}); len(got) == 0 {
		t.Error("account policies project-wide must fail when the CI accounts share the project")
	}
	withCI := w
	withCI.callersProject = withCI.ciProject
	if got := escalations(withCI, []held{{deploy, "iam.serviceAccounts.setIamPolicy", ci.ScopeProject, "ci", ""}}); len(got) == 0 {
		t.Error("account policies project-wide must fail when the callers' project is the CI project")
	}
}

func TestAgentEscalationChecker(t *testing.T) {
	agent := "serviceAccount:service-1@serverless-robot-prod.iam.gserviceaccount.com"
	subnet := &ci.VPCResource{Kind: ci.VPCSubnetwork, Project: "host", Region: "r", Name: "s"}
	conn := &ci.VPCResource{Kind: ci.VPCConnector, Project: "host", Region: "r", Name: "c"}
	g := func(role, scope, target string) grant {
		return grant{Type: "t", Name: "n", Scope: scope, Target: target, Role: role, Member: agent}
	}
	cases := []struct {
		name string
		vpc  *ci.VPCResource
		g    grant
		bad  bool
	}{
		{"network user on the subnetwork", subnet, g(ci.RoleNetworkUser, ci.ScopeSubnetwork, subnet.FullName()), false},
		{"network viewer on the host project", subnet, g(ci.RoleNetworkViewer, ci.ScopeProject, "host"), false},
		{"network user on the host project", subnet, g(ci.RoleNetworkUser, ci.ScopeProject, "host"), true},
		{"network user on another subnetwork", subnet, g(ci.RoleNetworkUser, ci.ScopeSubnetwork, "projects/host/regions/r/subnetworks/other"), true},
		{"connector user with a subnetwork", subnet, g(ci.RoleVPCAccessUser, ci.ScopeProject, "host"), true},
		{"connector user on the connector's project", conn, g(ci.RoleVPCAccessUser, ci.ScopeProject, "host"), false},
		{"connector user elsewhere", conn, g(ci.RoleVPCAccessUser, ci.ScopeProject, "app"), true},
		{"anything without a VPC", nil, g(ci.RoleNetworkViewer, ci.ScopeProject, "host"), true},
		{"a condition", subnet, grant{Scope: ci.ScopeProject, Target: "host", Role: ci.RoleNetworkViewer, Member: agent, Condition: "true"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := agentEscalations(tc.vpc, agent, []grant{tc.g}); (len(got) > 0) != tc.bad {
				t.Errorf("agentEscalations = %q, want bad=%v", got, tc.bad)
			}
		})
	}
}
