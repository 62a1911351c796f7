package doctor

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cfgdiag "github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/testdir"
	"github.com/platform/private-run-api/internal/teststack"
)

// now is the clock every test runs at: the 2020 expiry has passed, the 2026-11-25 one is two
// days away.
var now = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

const testStack = teststack.TokyoHeader + `  private-run-api:impersonators:
    - user:lead@acme.example
  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - user:alice@acme.example
        - member: user:old@acme.example
          expires: "2020-01-01T00:00:00Z"
        - member: user:soon@acme.example
          expires: "2026-11-25T00:00:00Z"
    - name: orders-front
      impersonators:
        - group:front-devs@acme.example
        - domain:acme-partner.example
    - name: cdn-purger
      invoke: false
      authz: true
    - name: billing-partner
      email: billing-runner@acme-billing.iam.gserviceaccount.com
`

// lonelyStack has a caller nobody may impersonate, an internal-only service and no API enabling.
const lonelyStack = teststack.TokyoHeader + `    ingress: internal
  private-run-api:enableApis: false
  private-run-api:callers:
    - name: lonely-job
`

// audienceStack declares two custom audiences, the primary first.
const audienceStack = teststack.TokyoHeader + `    audiences:
      - https://orders-api.acme-test.internal
      - https://orders-api.acme-test.api.acme.example
  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - user:alice@acme.example
`

const invalidStack = `config:
  gcp:project: acme-test
  private-run-api:service:
    name: orders-api
  private-run-api:callers:
    - name: Bad_Name
`

// ind starts a command line in the report: commands sit alone on their lines, indented.
var ind = "\n" + strings.Repeat(" ", labelWidth) + cmdIndent

const (
	batchEmail   = "orders-batch@acme-test.iam.gserviceaccount.com"
	frontEmail   = "orders-front@acme-test.iam.gserviceaccount.com"
	purgerEmail  = "cdn-purger@acme-test.iam.gserviceaccount.com"
	runtimeEmail = "orders-api-run@acme-test.iam.gserviceaccount.com"
	billingEmail = "billing-runner@acme-billing.iam.gserviceaccount.com"
	batchLogin   = "gcloud auth application-default login --impersonate-service-account " + batchEmail
)

// stackDir writes a project named as the program's, with the given stacks.
func stackDir(t *testing.T, stacks map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	testdir.Write(t, filepath.Join(dir, "Pulumi.yaml"), "name: private-run-api\nruntime: go\n")
	for name, body := range stacks {
		testdir.Write(t, filepath.Join(dir, "Pulumi."+name+".yaml"), body)
	}
	return dir
}

// ADC files as gcloud and the console write them (secrets are placeholders).
func userADC() string {
	return `{"client_id":"764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com","client_secret":"x","refresh_token":"y","type":"authorized_user"}`
}

func impersonatedADC(target string) string {
	return `{"delegates":[],"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/` + target +
		`:generateAccessToken","source_credentials":{"client_id":"c","client_secret":"s","refresh_token":"r","type":"authorized_user"},"type":"impersonated_service_account"}`
}

func keyADC(email string) string {
	return `{"type":"service_account","project_id":"acme-test","private_key_id":"0123abcd","private_key":"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n","client_email":"` + email + `"}`
}

func externalADC(impersonationURL string) string {
	s := `{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci/providers/gh","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","credential_source":{"file":"/var/run/token"}`
	if impersonationURL != "" {
		s += `,"service_account_impersonation_url":"` + impersonationURL + `"`
	}
	return s + "}"
}

func generateURL(email string) string {
	return "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + email + ":generateAccessToken"
}

// machine is a fake laptop: a home directory, an environment, and where files land.
type machine struct {
	home string
	env  map[string]string
	goos string
	// wd is the working directory a relative CLOUDSDK_CONFIG resolves against.
	wd string
}

func (m *machine) gcloudFile() string {
	return filepath.Join(m.home, ".config", "gcloud", "application_default_credentials.json")
}

func (m *machine) Env() Env {
	return Env{
		Getenv:  func(k string) string { return m.env[k] },
		HomeDir: func() string { return m.home },
		GOOS:    m.goos,
		Getwd:   func() (string, error) { return m.wd, nil },
	}
}

func newMachine(t *testing.T) *machine {
	home := t.TempDir()
	return &machine{home: home, env: map[string]string{}, goos: "linux", wd: home}
}

func diagnose(t *testing.T, dir, stack, caller, me string, m *machine) (*Report, string) {
	t.Helper()
	r, err := Diagnose(Request{Dir: dir, Stack: stack, Caller: caller, Me: me, Now: now, Env: m.Env()})
	if err != nil {
		t.Fatalf("Diagnose: %v", err)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return r, buf.String()
}

// findingLine returns the summary lines (label included) so tests can assert on statuses.
func hasFinding(out string, sev Status, summaryPart string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, sev.String()+" ") && strings.Contains(line, summaryPart) {
			return true
		}
	}
	return false
}

type want struct {
	sev     Status
	summary string
}

func TestDiagnose(t *testing.T) {
	dir := stackDir(t, map[string]string{"test": testStack, "lonely": lonelyStack, "audiences": audienceStack})

	tests := []struct {
		name  string
		stack string // "" is test
		// caller is the caller the doctor is asked about; "" is orders-batch, the test stack's
		// first.
		caller string
		me     string
		// adc is what gcloud's application-default credentials file holds; "" for no file.
		adc string
		// setup prepares the rest of the machine, if anything.
		setup func(t *testing.T, m *machine)
		// problems is whether the command would exit 1.
		problems bool
		findings []want
		// contains may name the fake home directory as {home}.
		contains []string
		absent   []string
	}{
		{
			name: "plain user login",
			adc:  userADC(),
			findings: []want{
				{Problem, "plain user login"},
				{Warning, "Not checked: whether you may impersonate " + batchEmail},
			},
			problems: true,
			contains: []string{"idtoken: unsupported credentials type", ind + batchLogin + "\n", "(gcloud's application-default file; GOOGLE_APPLICATION_CREDENTIALS is not set)",
				"user:lead@acme.example (no expiry)", "user:soon@acme.example (until 2026-11-25T00:00:00Z)",
				// Cloud Run accepts a user's ID token; what it does not do is test the caller's grant.
				"Cloud Run does accept an ID token minted for your user", "runs as you, not as " + batchEmail, "proves nothing about caller orders-batch's"},
			absent: []string{"user:old@acme.example", "reject"},
		},
		{
			name:     "impersonated, right target, developer granted",
			me:       "user:alice@acme.example",
			adc:      impersonatedADC(batchEmail),
			findings: []want{{OK, "Your credentials impersonate " + batchEmail + ", caller orders-batch's account"}, {OK, "You (user:alice@acme.example) may impersonate " + batchEmail}},
			contains: []string{"gcloud auth application-default revoke\n", "about 2 minutes to apply, sometimes 7 or more", plan.RoleOpenIDTokenCreator, "0 problems, 0 warnings", "-online -url", "-who-else"},
		},
		{
			name:     "impersonated, right target, granted through the stack-wide impersonators",
			me:       "LEAD@acme.example",
			adc:      impersonatedADC(batchEmail),
			findings: []want{{OK, "You (user:lead@acme.example) may impersonate"}},
			contains: []string{"with no expiry"},
		},
		{
			name:     "impersonated, wrong target: another caller",
			adc:      impersonatedADC(frontEmail),
			problems: true,
			findings: []want{{Problem, "Your credentials impersonate " + frontEmail + ", not caller orders-batch's account"}},
			contains: []string{"is the account of caller orders-front", ind + batchLogin + "\n"},
		},
		{
			name:     "impersonated, wrong target: the service's runtime account",
			adc:      impersonatedADC(runtimeEmail),
			problems: true,
			findings: []want{{Problem, "not caller orders-batch's account"}},
			contains: []string{"the service's own runtime account"},
		},
		{
			name:     "impersonated, right target, developer not granted",
			me:       "user:mallory@acme.example",
			adc:      impersonatedADC(batchEmail),
			problems: true,
			findings: []want{{OK, "Your credentials impersonate " + batchEmail}, {Problem, "You (user:mallory@acme.example) may not impersonate " + batchEmail}},
			contains: []string{"user:alice@acme.example (no expiry)", "granting it to the account itself does not help",
				"pulumi config set --stack test --path 'callers[0].impersonators[3]' user:mallory@acme.example\n", "pulumi up --refresh --stack test\n"},
		},
		{
			name:     "impersonated, developer's grant expired",
			me:       "user:old@acme.example",
			adc:      impersonatedADC(batchEmail),
			problems: true,
			findings: []want{{Problem, "Your grant to impersonate " + batchEmail + " expired at 2020-01-01T00:00:00Z"}},
			contains: []string{"callers[0].impersonators[1] gave user:old@acme.example", "pulumi config set --stack test --path 'callers[0].impersonators[1].expires' YYYY-MM-DDT00:00:00Z"},
		},
		{
			name:     "impersonated, developer's grant expires within a week",
			me:       "user:soon@acme.example",
			adc:      impersonatedADC(batchEmail),
			findings: []want{{Warning, "You (user:soon@acme.example) may impersonate"}},
			contains: []string{"until 2026-11-25T00:00:00Z, which is less than 7 days away"},
		},
		{
			name:     "granted only through a group the doctor cannot see into",
			caller:   "orders-front",
			me:       "user:mallory@acme.example",
			adc:      impersonatedADC(frontEmail),
			findings: []want{{Warning, "are not named directly; you may impersonate " + frontEmail + " only through a group"}},
			contains: []string{"group:front-devs@acme.example", "--path 'callers[1].impersonators[2]' user:mallory@acme.example"},
		},
		{
			name:     "granted through a domain",
			caller:   "orders-front",
			me:       "user:pat@acme-partner.example",
			adc:      impersonatedADC(frontEmail),
			findings: []want{{OK, "may impersonate " + frontEmail + " through domain:acme-partner.example"}},
		},
		{
			name:     "impersonation through a delegation chain",
			adc:      strings.Replace(impersonatedADC(batchEmail), `"delegates":[]`, `"delegates":["hop@acme-test.iam.gserviceaccount.com"]`, 1),
			findings: []want{{Warning, "delegation chain"}, {OK, "Your credentials impersonate " + batchEmail}},
		},
		{
			name:     "impersonated file without a usable URL",
			adc:      `{"type":"impersonated_service_account","source_credentials":{"type":"authorized_user"}}`,
			problems: true,
			findings: []want{{Problem, "name no service account"}},
			contains: []string{batchLogin},
		},
		{
			name:     "service account key for the caller's own account",
			adc:      keyADC(batchEmail),
			findings: []want{{Warning, "Your credentials are a service account key for " + batchEmail}},
			contains: []string{"what this setup", ind + batchLogin + "\n", "gcloud iam service-accounts keys delete 0123abcd --iam-account " + batchEmail + "\n"},
		},
		{
			name:     "service account key for another account",
			adc:      keyADC("ci-deployer@acme-test.iam.gserviceaccount.com"),
			problems: true,
			findings: []want{{Problem, "service account key for ci-deployer@acme-test.iam.gserviceaccount.com, not caller orders-batch's account"}},
			contains: []string{"an account this stack does not declare"},
		},
		{
			name:     "workload identity federation without impersonation",
			adc:      externalADC(""),
			problems: true,
			findings: []want{{Problem, "workload identity federation config that impersonates no service account"}},
			contains: []string{"for services and pipelines, not the laptop", batchLogin},
		},
		{
			name:     "workload identity federation impersonating the caller",
			adc:      externalADC(generateURL(batchEmail)),
			problems: true,
			findings: []want{{Problem, "workload identity federation config, which this stack does not grant"}},
			contains: []string{"It impersonates " + batchEmail + " (the account of caller orders-batch)"},
		},
		{
			name:     "workforce identity login",
			adc:      `{"type":"external_account_authorized_user"}`,
			problems: true,
			findings: []want{{Problem, "workforce identity federation login"}},
		},
		{
			name:     "unknown credentials type",
			adc:      `{"type":"gdch_service_account"}`,
			problems: true,
			findings: []want{{Problem, `does not support credentials of type "gdch_service_account"`}},
		},
		{
			name:     "no credentials at all",
			setup:    func(t *testing.T, m *machine) {},
			problems: true,
			findings: []want{{Problem, "No Application Default Credentials found"}},
			contains: []string{"could not find default credentials", ind + batchLogin + "\n", "Credentials Go will use: none found"},
		},
		{
			name:     "malformed credentials file",
			adc:      `{"type": "authorized_user",`,
			problems: true,
			findings: []want{{Problem, "The credentials file is not JSON"}},
			contains: []string{"it does not parse as JSON: unexpected end of JSON input", batchLogin},
			absent:   []string{"wrong shape"},
		},
		{
			name:     "empty credentials file",
			adc:      " \n",
			problems: true,
			findings: []want{{Problem, "The credentials file is empty"}},
			contains: []string{batchLogin},
		},
		{
			name:     "credentials file holding a JSON array",
			adc:      `[` + userADC() + `]`,
			problems: true,
			findings: []want{{Problem, "The credentials file is valid JSON of the wrong shape"}},
			contains: []string{"it holds an array, but credentials are one JSON object with a \"type\" field", batchLogin},
			absent:   []string{"is not JSON"},
		},
		{
			name:     "credentials file with a number for its type",
			adc:      `{"type": 5}`,
			problems: true,
			findings: []want{{Problem, "valid JSON of the wrong shape"}},
			contains: []string{"its field type is a number where credentials have a string"},
		},
		{
			name:     "impersonated credentials with a string for delegates",
			adc:      strings.Replace(impersonatedADC(batchEmail), `"delegates":[]`, `"delegates":"hop@acme-test.iam.gserviceaccount.com"`, 1),
			problems: true,
			findings: []want{{Problem, "valid JSON of the wrong shape"}},
			contains: []string{"its field delegates is a string where credentials have an array of strings"},
		},
		{
			name:     "credentials path is a directory",
			setup:    func(t *testing.T, m *machine) { m.env["GOOGLE_APPLICATION_CREDENTIALS"] = m.home },
			problems: true,
			findings: []want{{Problem, "The credentials path is not a regular file"}},
			contains: []string{"not a regular file (a directory)"},
		},
		{
			name:     "credentials file larger than 1 MiB",
			adc:      `{"type":"authorized_user","pad":"` + strings.Repeat("x", 1<<20) + `"}`,
			problems: true,
			findings: []want{{Problem, "The credentials file is too large to be one"}},
			contains: []string{"larger than 1048576 bytes (1 MiB)", batchLogin},
			absent:   []string{"plain user login"},
		},
		{
			name:     "terminal escape sequences in a credentials file are printed escaped",
			adc:      `{"type":"\u001b]0;owned\u0007\u001b[2Jgdch","delegates":["\u001b[31mred"]}`,
			problems: true,
			findings: []want{{Problem, `does not support credentials of type "\x1b]0;owned\a\x1b[2Jgdch"`}},
			absent:   []string{"\x1b", "\a"},
		},
		{
			name:     "control characters in an impersonation URL",
			adc:      strings.Replace(impersonatedADC(batchEmail), `"delegates":[]`, `"delegates":["a\u001b[2Jb@x.iam.gserviceaccount.com"]`, 1),
			findings: []want{{Warning, "delegation chain"}},
			contains: []string{`delegates: "a\x1b[2Jb@x.iam.gserviceaccount.com".`},
			absent:   []string{"\x1b"},
		},
		{
			name:     "an escaped control character in the impersonated account's email",
			adc:      impersonatedADC("orders-batch%1B%5B2J@acme-test.iam.gserviceaccount.com"),
			problems: true,
			findings: []want{{Problem, "Your impersonated credentials name no service account"}},
			absent:   []string{"\x1b"},
		},
		{
			name:     "a key file whose key ID and email would break the printed command",
			adc:      strings.Replace(keyADC(`ci\u001b[8m@acme-test.iam.gserviceaccount.com`), `"0123abcd"`, `"x; rm -rf ~"`, 1),
			problems: true,
			findings: []want{{Problem, `service account key for "ci\x1b[8m@acme-test.iam.gserviceaccount.com", not caller orders-batch's account`}},
			contains: []string{ind + "gcloud iam service-accounts keys delete KEY_ID --iam-account SA_EMAIL\n"},
			absent:   []string{"rm -rf", "\x1b"},
		},
		{
			name:     "credentials file without a type",
			adc:      `{"client_id":"x"}`,
			problems: true,
			findings: []want{{Problem, `no "type" field`}},
		},
		{
			name: "GOOGLE_APPLICATION_CREDENTIALS wins over an impersonated gcloud login",
			adc:  impersonatedADC(batchEmail),
			setup: func(t *testing.T, m *machine) {
				m.env["GOOGLE_APPLICATION_CREDENTIALS"] = testdir.Write(t, filepath.Join(m.home, "keys", "old.json"), userADC())
			},
			problems: true,
			findings: []want{{Warning, "GOOGLE_APPLICATION_CREDENTIALS is set, so it wins over your gcloud login"}, {Problem, "plain user login"}},
			// The login alone would not help while the variable is set: the fix unsets it first.
			contains: []string{"(from GOOGLE_APPLICATION_CREDENTIALS, which wins over gcloud's file)", "unset GOOGLE_APPLICATION_CREDENTIALS" + ind + batchLogin + "\n"},
			absent:   []string{"Your credentials impersonate"},
		},
		{
			name: "GOOGLE_APPLICATION_CREDENTIALS with the right impersonation, gcloud file too",
			me:   "user:alice@acme.example",
			adc:  userADC(),
			setup: func(t *testing.T, m *machine) {
				m.env["GOOGLE_APPLICATION_CREDENTIALS"] = testdir.Write(t, filepath.Join(m.home, "adc", "batch.json"), impersonatedADC(batchEmail))
			},
			findings: []want{{Warning, "GOOGLE_APPLICATION_CREDENTIALS is set"}, {OK, "Your credentials impersonate " + batchEmail}},
			absent:   []string{"plain user login"},
		},
		{
			name: "GOOGLE_APPLICATION_CREDENTIALS names a missing file",
			setup: func(t *testing.T, m *machine) {
				m.env["GOOGLE_APPLICATION_CREDENTIALS"] = filepath.Join(m.home, "gone.json")
			},
			problems: true,
			findings: []want{{Problem, "GOOGLE_APPLICATION_CREDENTIALS names a file that does not exist"}},
			contains: []string{"does not fall back", "unset GOOGLE_APPLICATION_CREDENTIALS\n"},
		},
		{
			name: "CLOUDSDK_CONFIG login that Go cannot see",
			me:   "user:alice@acme.example",
			setup: func(t *testing.T, m *machine) {
				m.env["CLOUDSDK_CONFIG"] = filepath.Join(m.home, "gcloud-work")
				testdir.Write(t, filepath.Join(m.home, "gcloud-work", "application_default_credentials.json"), impersonatedADC(batchEmail))
			},
			problems: true,
			findings: []want{{Problem, "Go will not find your gcloud login: it ignores CLOUDSDK_CONFIG"}, {OK, "Your credentials impersonate " + batchEmail}},
			contains: []string{"golang/oauth2#506", ind + "export GOOGLE_APPLICATION_CREDENTIALS='", filepath.Join("gcloud-work", "application_default_credentials.json") + "'\n"},
		},
		{
			name: "relative CLOUDSDK_CONFIG gets absolute fixes",
			setup: func(t *testing.T, m *machine) {
				m.env["CLOUDSDK_CONFIG"] = "gcloud-work"
				m.wd = filepath.Join(m.home, "src", "app")
				testdir.Write(t, filepath.Join(m.wd, "gcloud-work", "application_default_credentials.json"), impersonatedADC(batchEmail))
			},
			problems: true,
			findings: []want{{Warning, "CLOUDSDK_CONFIG is a relative path"}, {Problem, "Go will not find your gcloud login"}, {OK, "Your credentials impersonate " + batchEmail}},
			contains: []string{
				"CLOUDSDK_CONFIG is gcloud-work.",
				ind + "export CLOUDSDK_CONFIG='" + filepath.Join("{home}", "src", "app", "gcloud-work") + "'\n",
				ind + "export GOOGLE_APPLICATION_CREDENTIALS='" + filepath.Join("{home}", "src", "app", "gcloud-work", "application_default_credentials.json") + "'\n",
			},
			absent: []string{"='gcloud-work"},
		},
		{
			name: "CLOUDSDK_CONFIG and an older default gcloud file",
			adc:  userADC(),
			setup: func(t *testing.T, m *machine) {
				m.env["CLOUDSDK_CONFIG"] = filepath.Join(m.home, "gcloud-work")
				testdir.Write(t, filepath.Join(m.home, "gcloud-work", "application_default_credentials.json"), impersonatedADC(batchEmail))
			},
			problems: true,
			// Go reads the default file, so that is the one diagnosed.
			findings: []want{{Warning, "Go reads a different gcloud file than the one gcloud writes"}, {Problem, "plain user login"}},
		},
		{
			name: "CLOUDSDK_CONFIG set and no login anywhere",
			setup: func(t *testing.T, m *machine) {
				m.env["CLOUDSDK_CONFIG"] = filepath.Join(m.home, "gcloud-work")
			},
			problems: true,
			findings: []want{{Problem, "No Application Default Credentials found"}},
			contains: []string{batchLogin + ind + "export GOOGLE_APPLICATION_CREDENTIALS="},
		},
		{
			name: "Windows reads gcloud's file under APPDATA",
			setup: func(t *testing.T, m *machine) {
				m.goos = "windows"
				m.env["APPDATA"] = filepath.Join(m.home, "AppData", "Roaming")
				testdir.Write(t, filepath.Join(m.home, "AppData", "Roaming", "gcloud", "application_default_credentials.json"), userADC())
				m.env["GOOGLE_APPLICATION_CREDENTIALS"] = testdir.Write(t, filepath.Join(m.home, "k.json"), userADC())
			},
			problems: true,
			findings: []want{{Warning, "GOOGLE_APPLICATION_CREDENTIALS is set"}, {Problem, "plain user login"}},
			contains: []string{"Remove-Item Env:GOOGLE_APPLICATION_CREDENTIALS\n"},
		},
		{
			name:     "caller that may not invoke",
			caller:   "cdn-purger",
			adc:      impersonatedADC(purgerEmail),
			problems: true,
			findings: []want{{Problem, "Caller cdn-purger may not invoke the service: every call as it gets 403"}, {OK, "Your credentials impersonate " + purgerEmail}},
			contains: []string{"pulumi config set --stack test --path 'callers[2].invoke' true\n"},
		},
		{
			name:     "external caller",
			caller:   "billing-partner",
			adc:      userADC(),
			problems: true,
			findings: []want{{Problem, "Caller billing-partner is external: this stack grants no impersonation of its account"}, {Problem, "plain user login"}},
			contains: []string{"owners of project acme-billing", "go run ./cmd/doctor -stack test -caller orders-batch\n", "go run ./cmd/doctor -stack test -caller orders-front\n"},
			absent:   []string{"-caller cdn-purger", "Not checked"},
		},
		{
			name:     "external caller, by email, already impersonated",
			caller:   billingEmail,
			adc:      impersonatedADC(billingEmail),
			problems: true,
			findings: []want{{Problem, "is external"}, {Warning, "Your credentials impersonate " + billingEmail + ", which this stack grants nobody"}},
		},
		{
			name:     "custom audiences: the one to mint tokens for",
			stack:    "audiences",
			me:       "user:alice@acme.example",
			adc:      impersonatedADC(batchEmail),
			findings: []want{{OK, "The service accepts ID tokens for the custom audience https://orders-api.acme-test.internal (and 1 more)"}},
			contains: []string{`idtoken.NewClient(ctx, "https://orders-api.acme-test.internal")`, "Cloud Run also accepts the", "0 problems, 0 warnings"},
		},
		{
			name:     "no custom audiences: nothing said about them",
			me:       "user:alice@acme.example",
			adc:      impersonatedADC(batchEmail),
			absent:   []string{"custom audience"},
			contains: []string{"0 problems"},
		},
		{
			name:     "caller nobody may impersonate, internal ingress, APIs not enabled",
			stack:    "lonely",
			caller:   "lonely-job",
			me:       "user:alice@acme.example",
			adc:      impersonatedADC("lonely-job@acme-test.iam.gserviceaccount.com"),
			problems: true,
			findings: []want{
				{Problem, "Nobody may impersonate lonely-job's account"},
				{Problem, "internal traffic only"},
				{Warning, "does not enable iamcredentials.googleapis.com"},
			},
			contains: []string{"pulumi config set --stack lonely --path 'callers[0].impersonators[0]' user:alice@acme.example\n", "gcloud services enable iamcredentials.googleapis.com --project acme-test\n"},
			absent:   []string{"may not impersonate lonely-job"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t)
			if tc.adc != "" {
				testdir.Write(t, m.gcloudFile(), tc.adc)
			}
			if tc.setup != nil {
				tc.setup(t, m)
			}
			stack := tc.stack
			if stack == "" {
				stack = "test"
			}
			caller := tc.caller
			if caller == "" {
				caller = "orders-batch"
			}
			r, out := diagnose(t, dir, stack, caller, tc.me, m)
			if r.HasProblems() != tc.problems {
				t.Errorf("HasProblems = %v, want %v\n%s", r.HasProblems(), tc.problems, out)
			}
			for _, w := range tc.findings {
				if !hasFinding(out, w.sev, w.summary) {
					t.Errorf("no %s finding containing %q in:\n%s", w.sev, w.summary, out)
				}
			}
			for _, s := range tc.contains {
				s = strings.ReplaceAll(s, "{home}", m.home)
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(out, s) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestDiagnoseErrors(t *testing.T) {
	dir := stackDir(t, map[string]string{"test": testStack, "broken": invalidStack})
	tests := []struct {
		name, stack, caller, me string
		usage                   bool
		contains                []string
	}{
		{name: "unknown caller lists the callers", stack: "test", caller: "orders-batc", usage: true,
			contains: []string{`caller "orders-batc" is not in stack test`, "billing-partner (external), cdn-purger, orders-batch, orders-front"}},
		{name: "no caller lists the callers", stack: "test", usage: true, contains: []string{"pass -caller NAME", "orders-batch, orders-front"}},
		{name: "-me that is not a person", stack: "test", caller: "orders-batch", me: "group:devs@acme.example", usage: true, contains: []string{"user:EMAIL"}},
		{name: "invalid stack config prints the program's problems", stack: "broken", caller: "x",
			contains: []string{"invalid stack config", "service.image", "callers[0].name \"Bad_Name\"", "gcp:region"}},
		{name: "missing stack file", stack: "prod", caller: "orders-batch", contains: []string{`cannot read stack "prod"`, "Pulumi.prod.yaml", "pass -dir"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Diagnose(Request{Dir: dir, Stack: tc.stack, Caller: tc.caller, Me: tc.me, Now: now, Env: newMachine(t).Env()})
			if err == nil {
				t.Fatal("want an error")
			}
			var ue *UsageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error = %v, want %v: %v", errors.As(err, &ue), tc.usage, err)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q:\n%v", s, err)
				}
			}
		})
	}
	var cfgErr *cfgdiag.ConfigError
	_, err := Diagnose(Request{Dir: dir, Stack: "broken", Caller: "x", Now: now, Env: newMachine(t).Env()})
	if !errors.As(err, &cfgErr) {
		t.Errorf("invalid config: want *cfgdiag.ConfigError, got %T", err)
	}
}

// TestExampleStack runs against the documented example stack (tests/testdata/stacks/dev, a copy
// of Pulumi.dev.yaml as README.md describes it), never the repository's own Pulumi.dev.yaml,
// which teams edit: what it holds must not decide whether this passes.
func TestExampleStack(t *testing.T) {
	example := filepath.Join("..", "..", "tests", "testdata", "stacks", "dev")
	const email = "orders-batch@acme-platform-dev.iam.gserviceaccount.com"
	m := newMachine(t)
	testdir.Write(t, m.gcloudFile(), userADC())
	r, out := diagnose(t, example, "dev", "orders-batch", "user:kenji.ito@acme.example", m)
	if !r.HasProblems() || !hasFinding(out, Problem, "plain user login") {
		t.Errorf("want the plain-login problem:\n%s", out)
	}
	if !strings.Contains(out, ind+"gcloud auth application-default login --impersonate-service-account "+email+"\n") {
		t.Errorf("want the login command for %s:\n%s", email, out)
	}
	if !hasFinding(out, OK, "You (user:kenji.ito@acme.example) may impersonate "+email) {
		t.Errorf("kenji.ito is an impersonator of orders-batch in the example stack:\n%s", out)
	}

	testdir.Write(t, m.gcloudFile(), impersonatedADC(email))
	r, out = diagnose(t, example, "dev", "orders-batch", "user:kenji.ito@acme.example", m)
	if r.HasProblems() {
		t.Errorf("impersonating orders-batch as kenji.ito should be clean:\n%s", out)
	}
}

func TestImpersonationTarget(t *testing.T) {
	tests := []struct {
		url, want string
		ok        bool
	}{
		{generateURL(batchEmail), batchEmail, true},
		{"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/Orders-Batch@acme-test.iam.gserviceaccount.com:generateAccessToken", batchEmail, true},
		{"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/orders-batch%40acme-test.iam.gserviceaccount.com:generateAccessToken", batchEmail, true},
		{"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + batchEmail + ":generateIdToken", "", false},
		{"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/:generateAccessToken", "", false},
		{"serviceAccounts/" + batchEmail + ":generateAccessToken", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := impersonationTarget(tc.url)
		if got != tc.want || ok != tc.ok {
			t.Errorf("impersonationTarget(%q) = %q, %v; want %q, %v", tc.url, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLocate(t *testing.T) {
	exists := func(set ...string) func(string) bool {
		return func(p string) bool {
			for _, s := range set {
				if s == p {
					return true
				}
			}
			return false
		}
	}
	home := "/home/dev"
	gcloud := "/home/dev/.config/gcloud/application_default_credentials.json"
	sdk := "/work/gcloud/application_default_credentials.json"
	tests := []struct {
		name   string
		env    map[string]string
		files  []string
		source Source
		path   string
	}{
		{"nothing", nil, nil, SourceNone, ""},
		{"gcloud file", nil, []string{gcloud}, SourceGcloud, gcloud},
		{"env wins even when gcloud's file exists", map[string]string{envCredentials: "/k.json"}, []string{gcloud, "/k.json"}, SourceEnv, "/k.json"},
		{"env wins even when its file is missing", map[string]string{envCredentials: "/k.json"}, []string{gcloud}, SourceEnv, "/k.json"},
		{"CLOUDSDK_CONFIG only", map[string]string{envCloudSDK: "/work/gcloud"}, []string{sdk}, SourceCloudSDK, sdk},
		{"gcloud's default file beats CLOUDSDK_CONFIG for Go", map[string]string{envCloudSDK: "/work/gcloud"}, []string{sdk, gcloud}, SourceGcloud, gcloud},
		{"CLOUDSDK_CONFIG at the default place", map[string]string{envCloudSDK: "/home/dev/.config/gcloud"}, []string{gcloud}, SourceGcloud, gcloud},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := Env{Getenv: func(k string) string { return tc.env[k] }, HomeDir: func() string { return home }, GOOS: "linux"}
			c := Locate(env, exists(tc.files...))
			if c.Source != tc.source || c.Path != tc.path {
				t.Errorf("Locate = source %d path %q; want %d %q", c.Source, c.Path, tc.source, tc.path)
			}
			if c.GcloudPath != gcloud {
				t.Errorf("GcloudPath = %q, want %q", c.GcloudPath, gcloud)
			}
		})
	}
}

func TestShownAndCleanLine(t *testing.T) {
	tests := []struct {
		in, shown, clean string
	}{
		{"alice@acme.example", "alice@acme.example", "alice@acme.example"},
		{"日本語のパス/adc.json", "日本語のパス/adc.json", "日本語のパス/adc.json"},
		{"\x1b[2Jx", `"\x1b[2Jx"`, `\x1b[2Jx`},
		{"a\rb\nc", `"a\rb\nc"`, `a\rb\nc`},
		{"evil\u202etxt.json", `"evil\u202etxt.json"`, `evil\u202etxt.json`},
		{"bad\xffbyte", `"bad\xffbyte"`, `bad\xffbyte`},
		{"tab\tkept", `"tab\tkept"`, "tab\tkept"},
	}
	for _, tc := range tests {
		if got := shown(tc.in); got != tc.shown {
			t.Errorf("shown(%q) = %s, want %s", tc.in, got, tc.shown)
		}
		if got := cleanLine(tc.in); got != tc.clean {
			t.Errorf("cleanLine(%q) = %s, want %s", tc.in, got, tc.clean)
		}
	}
}

// TestWriteEscapesEveryLine: whatever a finding carries, nothing reaches the terminal raw.
func TestWriteEscapesEveryLine(t *testing.T) {
	r := &Report{Stack: "test", Findings: []Finding{{Status: Problem, Summary: "s\x1b[31m", Detail: []string{"d\x07\nsecond"}, Commands: []string{"c\x1b]0;t\x07"}}}}
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b", "\x07", "d\a\nsecond"} {
		if strings.Contains(out, bad) {
			t.Errorf("output carries %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{`s\x1b[31m`, `d\a\nsecond`, `c\x1b]0;t\a`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestCallerInAFile: for a caller declared in a caller file, the doctor names that file as the
// one to change, and the change as an edit of it rather than a `pulumi config set`.
func TestCallerInAFile(t *testing.T) {
	dir := stackDir(t, map[string]string{"dev": teststack.TokyoHeader + "  private-run-api:callersDir: callers\n"})
	testdir.Write(t, filepath.Join(dir, "callers", "orders-audit.yaml"), "impersonators: [user:mei@acme.example]\n")
	m := newMachine(t)
	testdir.Write(t, m.gcloudFile(), impersonatedADC("orders-audit@acme-test.iam.gserviceaccount.com"))
	r, out := diagnose(t, dir, "dev", "orders-audit", "user:kenji@acme.example", m)
	if !r.HasProblems() {
		t.Fatalf("kenji may not impersonate orders-audit, yet no problem:\n%s", out)
	}
	for _, want := range []string{"a reviewed change to callers/orders-audit.yaml", "# in callers/orders-audit.yaml, set impersonators[1] to user:kenji@acme.example"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pulumi config set") {
		t.Errorf("a caller in a file is not changed with pulumi config set:\n%s", out)
	}
}
