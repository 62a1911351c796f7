package roles

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/testcheck"
)

// gen runs the generator as go generate does, and returns its output file and its stderr.
func gen(t *testing.T, in string) (string, string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "table.txt")
	cmd := exec.Command("go", "run", "gen.go", "-in", in, "-source", "fixture", "-out", out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	b, _ := os.ReadFile(out)
	return string(b), stderr.String(), err
}

func TestGeneratorOutputIsCurrentForTheFixture(t *testing.T) {
	got, stderr, err := gen(t, "testdata/roles")
	if err != nil {
		t.Fatalf("gen.go: %v\n%s", err, stderr)
	}
	want, err := os.ReadFile("testdata/predefined.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("gen.go over testdata/roles wrote\n%s\nwant testdata/predefined.golden:\n%s", got, want)
	}
	// What the fixture says, read back the way the package reads its table.
	tab, err := parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if tab.source != "fixture" || !slices.Equal(tab.tracked, Tracked()) {
		t.Errorf("header: source %q, tracked %v", tab.source, tab.tracked)
	}
	for role, want := range map[string][]string{
		"roles/run.invoker": {RunRoutesInvoke},
		"roles/iam.serviceAccountTokenCreator": {AccountsGetAccessToken, AccountsGetOpenIDToken, AccountsImplicitDelegation,
			AccountsSignBlob, AccountsSignJwt, ProjectsGet},
		"roles/storage.objectViewer":       {},
		"roles/example.noPermissions":      {},
		"roles/example.fileNamedOtherwise": {StorageBucketsGet},
	} {
		p, ok := tab.roles[role]
		if !ok || !slices.Equal(p.List(), want) {
			t.Errorf("%s: %v (in the table: %v), want %v", role, p, ok, want)
		}
	}
	if len(tab.roles) != 5 {
		t.Errorf("%d roles, want the fixture's 5", len(tab.roles))
	}
}

// TestGoGenerateLine: the package doc's refresh is `go generate` with ROLES_DIR and ROLES_SOURCE;
// the go:generate line must hand them to gen.go as TestGeneratorOutputIsCurrentForTheFixture
// runs it, and write the embedded table.
func TestGoGenerateLine(t *testing.T) {
	cmd := exec.Command("go", "generate", "-n", ".")
	cmd.Env = append(os.Environ(), "ROLES_DIR=testdata/roles", "ROLES_SOURCE=fixture")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go generate -n: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "go run gen.go -in testdata/roles -source fixture -out predefined.txt"; got != want {
		t.Errorf("go generate runs %q, want %q", got, want)
	}
}

func TestGeneratorRefusesWhatIsNoPredefinedRole(t *testing.T) {
	_, stderr, err := gen(t, "testdata/bad")
	if err == nil {
		t.Fatal("gen.go accepted testdata/bad")
	}
	for _, want := range []string{
		`custom.json: name "projects/acme-dev/roles/ordersApiAuthz" is not a predefined role's`,
		"truncated.json: not a role description",
		"twice-b.json: roles/run.invoker is described again (first in testdata/bad/twice-a.json)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("gen.go's errors lack %q:\n%s", want, stderr)
		}
	}
	if _, stderr, err := gen(t, t.TempDir()); err == nil || !strings.Contains(stderr, "no *.json files") {
		t.Errorf("an empty directory: %v %s", err, stderr)
	}
}

func TestCheckedInTable(t *testing.T) {
	b, err := os.ReadFile("predefined.txt")
	if err != nil {
		t.Fatal(err)
	}
	// CI refuses tracked files over 1 MiB; stay well under.
	if len(b) > 512<<10 {
		t.Errorf("predefined.txt is %d bytes", len(b))
	}
	tab, err := parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tab.tracked, Tracked()) {
		t.Errorf("predefined.txt was written for tracked permissions %v, the package tracks %v: regenerate it (package doc)", tab.tracked, Tracked())
	}
	if !strings.Contains(Snapshot(), "iann0036/iam-dataset 2073fa52ac") {
		t.Errorf("Snapshot() = %q, want the dataset commit the package doc names", Snapshot())
	}
	if n := len(Names()); n < 2000 {
		t.Errorf("%d predefined roles; Google has over 2,000", n)
	}

	type fact struct {
		role string
		has  []string
		not  []string
	}
	for _, f := range []fact{
		{"roles/editor", []string{AccountsActAs, RunRoutesInvoke, AccountKeysCreate}, []string{StorageBucketsGet, AccountsGetAccessToken, ProjectsSetPolicy}},
		{"roles/owner", []string{ProjectsSetPolicy, AccountsSetPolicy, RolesCreate}, []string{StorageBucketsGet}},
		{"roles/viewer", []string{ProjectsGet}, []string{StorageBucketsGet, RunRoutesInvoke, AccountsActAs}},
		{"roles/storage.bucketViewer", []string{StorageBucketsGet}, []string{StorageBucketsSetPolicy}},
		{"roles/storage.admin", []string{StorageBucketsGet, StorageBucketsSetPolicy}, nil},
		{"roles/run.invoker", []string{RunRoutesInvoke}, []string{RunServicesSetPolicy}},
		{"roles/run.servicesInvoker", []string{RunRoutesInvoke}, nil},
		{"roles/run.developer", []string{RunRoutesInvoke}, []string{AccountsActAs}},
		{"roles/iam.serviceAccountTokenCreator", []string{AccountsGetAccessToken, AccountsSignJwt, AccountsSignBlob, AccountsGetOpenIDToken, AccountsImplicitDelegation}, []string{AccountsActAs}},
		{"roles/iam.serviceAccountOpenIdTokenCreator", []string{AccountsGetOpenIDToken}, []string{AccountsGetAccessToken}},
		{"roles/iam.serviceAccountUser", []string{AccountsActAs}, []string{AccountsGetAccessToken}},
		{"roles/iam.workloadIdentityUser", []string{AccountsGetAccessToken}, nil},
		{"roles/iam.serviceAccountKeyAdmin", []string{AccountKeysCreate}, nil},
		{"roles/iam.serviceAccountAdmin", []string{AccountsSetPolicy}, []string{AccountsGetAccessToken}},
		{"roles/secretmanager.secretAccessor", []string{SecretVersionsAccess}, []string{SecretsSetPolicy}},
		{"roles/storage.objectViewer", nil, []string{StorageBucketsGet}},
	} {
		p, ok := Predefined(f.role)
		if !ok {
			t.Errorf("%s is not in the table", f.role)
			continue
		}
		for _, perm := range f.has {
			if !p.Has(perm) {
				t.Errorf("%s %v lacks %s", f.role, p, perm)
			}
		}
		for _, perm := range f.not {
			if p.Has(perm) {
				t.Errorf("%s %v holds %s", f.role, p, perm)
			}
		}
	}
	// Known and holding nothing tracked, versus unknown.
	if p, ok := Predefined("roles/logging.logWriter"); !ok || p != 0 {
		t.Errorf("roles/logging.logWriter = %v, %v; want known and empty", p, ok)
	}
	if _, ok := Predefined("roles/storage.noSuchRole"); ok {
		t.Error("an invented role is in the table")
	}
}

func TestClassifiers(t *testing.T) {
	role := func(name string) Perms {
		p, ok := Predefined(name)
		if !ok {
			t.Fatalf("%s not in the table", name)
		}
		return p
	}
	for _, tc := range []struct {
		role                                          string
		impersonates, invokes, passesGuard, grantsIAM bool
	}{
		{"roles/iam.serviceAccountTokenCreator", true, false, false, false},
		{"roles/iam.serviceAccountKeyAdmin", true, false, false, false},
		{"roles/iam.serviceAccountAdmin", false, false, false, true},
		{"roles/editor", true, true, false, false},
		{"roles/owner", true, true, false, true},
		{"roles/run.invoker", false, true, false, false},
		{"roles/run.admin", false, true, false, true},
		{"roles/storage.bucketViewer", false, false, true, false},
		{"roles/viewer", false, false, false, false},
	} {
		p := role(tc.role)
		if p.Impersonates() != tc.impersonates || p.Invokes() != tc.invokes || p.PassesGuard() != tc.passesGuard || p.GrantsIAM() != tc.grantsIAM {
			t.Errorf("%s %v: impersonates %v invokes %v passesGuard %v grantsIAM %v; want %v %v %v %v", tc.role, p,
				p.Impersonates(), p.Invokes(), p.PassesGuard(), p.GrantsIAM(), tc.impersonates, tc.invokes, tc.passesGuard, tc.grantsIAM)
		}
	}
}

func TestOf(t *testing.T) {
	const guard = "projects/acme-dev/roles/ordersApiAuthz"
	custom := map[string][]string{
		guard:                                 {StorageBucketsGet},
		"organizations/1/roles/minter":        {"iam.serviceAccounts.getAccessToken", "storage.objects.get"},
		"roles/run.invoker":                   {StorageBucketsGet}, // a predefined name is Google's, never the caller's
		"projects/acme-dev/roles/emptyOnPurp": nil,
	}
	for _, tc := range []struct {
		role  string
		known bool
		want  []string
	}{
		{guard, true, []string{StorageBucketsGet}},
		{"organizations/1/roles/minter", true, []string{AccountsGetAccessToken}},
		{"roles/run.invoker", true, []string{RunRoutesInvoke}},
		{"projects/acme-dev/roles/emptyOnPurp", true, []string{}},
		{"projects/other/roles/ordersApiAuthz", false, []string{}},
		{"roles/noSuchRole", false, []string{}},
		{"", false, []string{}},
	} {
		p, known := Of(tc.role, custom)
		if known != tc.known || !slices.Equal(p.List(), tc.want) {
			t.Errorf("Of(%q) = %v, %v; want %v, %v", tc.role, p, known, tc.want, tc.known)
		}
	}
	if p, known := Of("roles/run.invoker", nil); !known || !p.Invokes() {
		t.Errorf("Of with no custom roles: %v %v", p, known)
	}
}

func TestPerms(t *testing.T) {
	tr := Tracked()
	if len(tr) > 64 {
		t.Fatalf("%d tracked permissions do not fit in Perms", len(tr))
	}
	if len(slices.Compact(slices.Clone(tr))) != len(tr) {
		t.Errorf("a tracked permission is listed twice: %v", tr)
	}
	p := PermsOf([]string{"storage.objects.get", " run.routes.invoke ", StorageBucketsGet, StorageBucketsGet})
	if got := p.List(); !slices.Equal(got, []string{RunRoutesInvoke, StorageBucketsGet}) {
		t.Errorf("PermsOf kept %v", got)
	}
	if p.Has("storage.objects.get") || !p.Has(StorageBucketsGet) || !p.Any("x", RunRoutesInvoke) || p.Any() {
		t.Errorf("Has/Any on %v", p)
	}
	if s := p.String(); s != "[run.routes.invoke storage.buckets.get]" {
		t.Errorf("String() = %q", s)
	}
	for _, perm := range tr {
		if q := PermsOf([]string{perm}); !q.Has(perm) || len(q.List()) != 1 {
			t.Errorf("PermsOf(%s) = %v", perm, q)
		}
	}
	testcheck.Refuses(t, "parse", func(text string) error { _, err := parse(text); return err }, map[string]string{
		"":                                       "no roles",
		"projects/p/roles/x storage.buckets.get": "not a predefined role's name",
		"roles/a\nroles/a":                       "listed twice",
		"roles/a storage.objects.get":            "not tracked",
	})
}
