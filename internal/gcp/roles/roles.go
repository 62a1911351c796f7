// Package roles knows what Google's predefined IAM roles let a holder do: one table from each
// predefined role to the permissions this project reasons about (Tracked), shared by the policy
// pack and the access views, so that a role is recognised by what it carries rather than by its
// name. A custom role's permissions come from the caller (the IAMCustomRole resources of a stack,
// or a live read), through Of.
//
// The table is predefined.txt, embedded, written by gen.go from a directory of
// `gcloud iam roles describe --format=json` outputs (fields name, includedPermissions). It keeps
// only the tracked permissions of each role, and lists every predefined role, with none when it
// holds none of them, so that "not in the table" (unknown: the caller decides) differs from
// "holds nothing we track". Its first lines say which snapshot it was made from (Snapshot).
//
// # Refreshing the table
//
// From a real project, with gcloud signed in (the list without --project is Google's
// predefined roles):
//
//	mkdir -p /tmp/roles
//	gcloud iam roles list --format='value(name)' | while read -r role; do
//	  gcloud iam roles describe "$role" --format=json > "/tmp/roles/${role#roles/}.json"
//	done
//	ROLES_DIR=/tmp/roles ROLES_SOURCE="gcloud iam roles describe, $(date -u +%F)" go generate ./gcp/roles
//
// Or from the public dataset github.com/iann0036/iam-dataset, whose gcp/roles/*.json are those
// same outputs (the checked-in table was made from its commit 2073fa52ac, 2026-08-22):
//
//	git clone --depth 1 https://github.com/iann0036/iam-dataset /tmp/iam-dataset
//	ROLES_DIR=/tmp/iam-dataset/gcp/roles \
//	  ROLES_SOURCE="iann0036/iam-dataset $(git -C /tmp/iam-dataset log -1 --format='%h (%cs)')" \
//	  go generate ./gcp/roles
//
// Adding a permission to Tracked needs the same refresh: the tests refuse a table written for
// another list.
package roles

//go:generate go run gen.go -in $ROLES_DIR -source $ROLES_SOURCE -out predefined.txt

import (
	_ "embed"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// The permissions the project reasons about. Tracked lists them all.
const (
	RunRoutesInvoke      = "run.routes.invoke"
	RunServicesGet       = "run.services.get"
	RunServicesList      = "run.services.list"
	RunServicesSetPolicy = "run.services.setIamPolicy"

	StorageBucketsGet       = "storage.buckets.get"
	StorageBucketsGetPolicy = "storage.buckets.getIamPolicy"
	StorageBucketsSetPolicy = "storage.buckets.setIamPolicy"

	AccountsGetAccessToken     = "iam.serviceAccounts.getAccessToken"
	AccountsGetOpenIDToken     = "iam.serviceAccounts.getOpenIdToken"
	AccountsSignJwt            = "iam.serviceAccounts.signJwt"
	AccountsSignBlob           = "iam.serviceAccounts.signBlob"
	AccountsActAs              = "iam.serviceAccounts.actAs"
	AccountsImplicitDelegation = "iam.serviceAccounts.implicitDelegation"
	AccountsSetPolicy          = "iam.serviceAccounts.setIamPolicy"
	AccountsGetPolicy          = "iam.serviceAccounts.getIamPolicy"
	AccountKeysCreate          = "iam.serviceAccountKeys.create"
	RolesCreate                = "iam.roles.create"
	RolesUpdate                = "iam.roles.update"
	PoolProvidersUpdate        = "iam.workloadIdentityPoolProviders.update"

	ProjectsGet           = "resourcemanager.projects.get"
	ProjectsGetPolicy     = "resourcemanager.projects.getIamPolicy"
	ProjectsSetPolicy     = "resourcemanager.projects.setIamPolicy"
	FoldersGetPolicy      = "resourcemanager.folders.getIamPolicy"
	FoldersSetPolicy      = "resourcemanager.folders.setIamPolicy"
	OrganizationGetPolicy = "resourcemanager.organizations.getIamPolicy"
	OrganizationSetPolicy = "resourcemanager.organizations.setIamPolicy"

	SecretVersionsAccess = "secretmanager.versions.access"
	SecretsSetPolicy     = "secretmanager.secrets.setIamPolicy"

	SubnetworksUse  = "compute.subnetworks.use"
	ConnectorsUse   = "vpcaccess.connectors.use"
	PrivateLogsList = "logging.privateLogEntries.list"
	// LogViewsAccess reads the logs of a log view, such as the _AllLogs view of the _Default
	// bucket, which holds the Data Access audit logs.
	LogViewsAccess = "logging.views.access"
)

// tracked is the order of the bits of Perms. The table names permissions, not bits, so the
// order may change freely.
var tracked = []string{
	RunRoutesInvoke, RunServicesGet, RunServicesList, RunServicesSetPolicy,
	StorageBucketsGet, StorageBucketsGetPolicy, StorageBucketsSetPolicy,
	AccountsGetAccessToken, AccountsGetOpenIDToken, AccountsSignJwt, AccountsSignBlob, AccountsActAs,
	AccountsImplicitDelegation, AccountsSetPolicy, AccountsGetPolicy, AccountKeysCreate,
	RolesCreate, RolesUpdate, PoolProvidersUpdate,
	ProjectsGet, ProjectsGetPolicy, ProjectsSetPolicy, FoldersGetPolicy, FoldersSetPolicy,
	OrganizationGetPolicy, OrganizationSetPolicy,
	SecretVersionsAccess, SecretsSetPolicy,
	SubnetworksUse, ConnectorsUse, PrivateLogsList, LogViewsAccess,
}

// Tracked is every permission the table keeps, sorted.
func Tracked() []string { return slices.Sorted(slices.Values(tracked)) }

// Perms is a set of tracked permissions. The zero value holds none.
type Perms uint64

func bit(perm string) (Perms, bool) {
	i := slices.Index(tracked, perm)
	if i < 0 {
		return 0, false
	}
	return 1 << i, true
}

// PermsOf is the tracked part of a list of permissions; the others are dropped.
func PermsOf(perms []string) Perms {
	var p Perms
	for _, perm := range perms {
		b, _ := bit(strings.TrimSpace(perm))
		p |= b
	}
	return p
}

// Has reports whether the set holds perm. A permission that is not tracked is never held.
func (p Perms) Has(perm string) bool {
	b, ok := bit(perm)
	return ok && p&b != 0
}

// Any reports whether the set holds one of perms.
func (p Perms) Any(perms ...string) bool {
	return slices.ContainsFunc(perms, p.Has)
}

// List is the set's permissions, sorted.
func (p Perms) List() []string {
	out := make([]string, 0, bits.OnesCount64(uint64(p)))
	for i, perm := range tracked {
		if p&(1<<i) != 0 {
			out = append(out, perm)
		}
	}
	slices.Sort(out)
	return out
}

func (p Perms) String() string { return "[" + strings.Join(p.List(), " ") + "]" }

// ImpersonationPermissions let a holder act as a service account: mint its tokens or
// signatures, attach it to a workload (actAs), chain through it (implicitDelegation) or create a
// key for it.
var ImpersonationPermissions = []string{
	AccountsGetAccessToken, AccountsGetOpenIDToken, AccountsSignJwt, AccountsSignBlob,
	AccountsImplicitDelegation, AccountsActAs, AccountKeysCreate,
}

// PolicyPermissions let a holder rewrite an allow policy, and so grant itself anything the
// policy can grant.
var PolicyPermissions = []string{
	RunServicesSetPolicy, StorageBucketsSetPolicy, AccountsSetPolicy, ProjectsSetPolicy,
	FoldersSetPolicy, OrganizationSetPolicy, SecretsSetPolicy,
}

// Impersonates reports whether the role lets its holder act as the service accounts it is
// granted on (ImpersonationPermissions).
func (p Perms) Impersonates() bool { return p.Any(ImpersonationPermissions...) }

// Invokes reports whether the role lets its holder call Cloud Run services (run.routes.invoke).
func (p Perms) Invokes() bool { return p.Has(RunRoutesInvoke) }

// PassesGuard reports whether the role passes an authz guard (storage.buckets.get on its bucket).
func (p Perms) PassesGuard() bool { return p.Has(StorageBucketsGet) }

// GrantsIAM reports whether the role lets its holder rewrite an allow policy (PolicyPermissions).
func (p Perms) GrantsIAM() bool { return p.Any(PolicyPermissions...) }

//go:embed predefined.txt
var predefinedText string

// table is predefined.txt, read once.
type table struct {
	source  string
	tracked []string
	roles   map[string]Perms
}

var predefined = sync.OnceValue(func() table {
	t, err := parse(predefinedText)
	if err != nil {
		// The file is checked in and the tests read it: this is a broken build, not bad input.
		panic("gcp/roles: predefined.txt: " + err.Error())
	}
	return t
})

// parse reads the table's format: "# source: ..." and "# tracked: ..." header lines, then one
// line per role, its name followed by the tracked permissions it holds.
func parse(text string) (table, error) {
	t := table{roles: map[string]Perms{}}
	for i, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "# source: "); ok {
			t.source = v
			continue
		}
		if v, ok := strings.CutPrefix(line, "# tracked: "); ok {
			t.tracked = strings.Fields(v)
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if !strings.HasPrefix(f[0], "roles/") {
			return table{}, fmt.Errorf("line %d: %q is not a predefined role's name", i+1, f[0])
		}
		if _, dup := t.roles[f[0]]; dup {
			return table{}, fmt.Errorf("line %d: %s listed twice", i+1, f[0])
		}
		var p Perms
		for _, perm := range f[1:] {
			b, ok := bit(perm)
			if !ok {
				return table{}, fmt.Errorf("line %d: %s holds %s, which is not tracked", i+1, f[0], perm)
			}
			p |= b
		}
		t.roles[f[0]] = p
	}
	if len(t.roles) == 0 {
		return table{}, fmt.Errorf("no roles")
	}
	return t, nil
}

// Predefined is the tracked permissions of one of Google's predefined roles (roles/...); false
// when the role is not in the table.
func Predefined(name string) (Perms, bool) {
	p, ok := predefined().roles[name]
	return p, ok
}

// Names is every predefined role in the table, sorted.
func Names() []string {
	names := make([]string, 0, len(predefined().roles))
	for n := range predefined().roles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Snapshot says which data the table was made from, as its generator was told.
func Snapshot() string { return predefined().source }

// Of is what a role lets its holder do: a predefined role (roles/...) from the table, any other
// from custom (full role name, projects/<p>/roles/<id> or organizations/<o>/roles/<id>, to its
// permissions). known is false for a role in neither: the caller decides what an unknown role
// means.
func Of(role string, custom map[string][]string) (p Perms, known bool) {
	if strings.HasPrefix(role, "roles/") {
		return Predefined(role)
	}
	perms, ok := custom[role]
	if !ok {
		return 0, false
	}
	return PermsOf(perms), true
}
