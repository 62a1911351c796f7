// Package gcp holds Google Cloud's naming rules, computed names and limits that both programs (the
// private API and the bootstrap stack) and their tools check against: one definition each, so the
// two programs cannot disagree about what Google accepts.
package gcp

import (
	"fmt"
	"regexp"
	"strings"
)

// Names Google accepts. Sources: gcp-facts.md (shared/design) and each API's reference. Where
// the provider that pulumi-gcp v7.38.0 bridges (terraform-provider-google-beta v5.42.0) validates
// a name, the rule here is never looser than the provider's function named beside it, so that a
// name the provider refuses in `pulumi preview` is refused first, with the config path; where the
// provider checks nothing, the rule is Google's own.
var (
	// ProjectID is a project ID, optionally domain-scoped ("example.com:proj"). Stricter than the
	// provider's verify.ProjectRegex, which admits project numbers too.
	ProjectID = regexp.MustCompile(`^([a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	// Region is a Cloud Run / Compute region such as "asia-northeast1" or "northamerica-northeast1".
	// The provider checks no location of the resources the programs declare: Google's form.
	Region = regexp.MustCompile(`^[a-z]+(-[a-z]+)+[0-9]+$`)
	// RoleID is a custom role's ID: no hyphen (pulumi/pulumi-gcp#3328). The provider's
	// verify.ValidateIAMCustomRoleID (google_project_iam_custom_role.role_id), exactly.
	RoleID = regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`)
	// SecretID is a Secret Manager secret's ID; SecretName its full name. The provider checks
	// neither (google_secret_manager_secret.secret_id and the Cloud Run service's secret fields
	// take any string): Google's rule.
	SecretID   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	SecretName = regexp.MustCompile(`^projects/([^/]+)/secrets/([A-Za-z0-9_-]{1,255})$`)
	// ResourceName is a Compute resource's name (network, subnetwork, network tag): the provider's
	// verify.ValidateGCEName pattern, though the Cloud Run service's network_interfaces fields
	// check nothing.
	ResourceName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// NetworkName, SubnetworkName and ConnectorName are full names (a Shared VPC's, another
	// project's); ConnectorID is a Serverless VPC Access connector's short name. The Cloud Run
	// service's vpc_access fields and google_vpc_access_connector.name check nothing: Google's
	// rules. For a connector that is the API's `^[a-z][-a-z0-9]{0,23}[a-z0-9]$` (the pattern it
	// answers a bad ID with, terraform-provider-google#13915), capped at 24 chars as before, since
	// Google's guides give lower limits than the API.
	NetworkName    = regexp.MustCompile(`^projects/[^/]+/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	SubnetworkName = regexp.MustCompile(`^projects/([^/]+)/regions/([a-z0-9-]+)/subnetworks/([a-z]([-a-z0-9]{0,61}[a-z0-9])?)$`)
	ConnectorName  = regexp.MustCompile(`^projects/([^/]+)/locations/([a-z0-9-]+)/connectors/([a-z][-a-z0-9]{0,22}[a-z0-9])$`)
	ConnectorID    = regexp.MustCompile(`^[a-z][-a-z0-9]{0,22}[a-z0-9]$`)
	// DefaultServiceAccount matches the Compute Engine and App Engine default accounts, which hold
	// broad project roles: never a caller or a runtime account.
	DefaultServiceAccount = regexp.MustCompile(`(^[0-9]+-compute@developer\.gserviceaccount\.com$)|(@appspot\.gserviceaccount\.com$)`)
	// ServiceAgent matches the service accounts Google manages for its own services (service
	// agents): service-<number>@<agent>.iam.gserviceaccount.com (also service-org-/service-folder-),
	// anything at a gcp-sa-*.iam.gserviceaccount.com domain, and every gserviceaccount.com
	// domain without ".iam." (<number>@cloudservices.gserviceaccount.com,
	// <number>@cloudbuild.gserviceaccount.com, ...): an account a project creates is always
	// <id>@<project>.iam.gserviceaccount.com. A service agent acts for everyone allowed to use
	// its service in that project, so a grant to it is a grant to all of them. The default
	// accounts (DefaultServiceAccount) match too; check those first for a sharper message.
	ServiceAgent = regexp.MustCompile(`^(service-((org|folder)-)?[0-9]+@[-a-z0-9.]+\.iam\.gserviceaccount\.com|[^@]+@gcp-sa-[-a-z0-9.]+\.iam\.gserviceaccount\.com|[^@]+@[-a-z0-9]+\.gserviceaccount\.com)$`)
	// ServiceAccountEmail is a lower-case service account email.
	ServiceAccountEmail = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.+]*@[a-z0-9][-a-z0-9.]*\.gserviceaccount\.com$`)

	// accountID is the provider's verify.ValidateRFC1035Name(6, 30), which
	// google_service_account.account_id runs: `^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$`.
	accountID = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
)

// AccountIDRule says what ValidAccountID checks, for messages.
const AccountIDRule = `must be 6-30 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-"`

// ValidAccountID reports whether id is a service account ID Google accepts. Never looser than
// verify.ValidateRFC1035Name(6, 30) of terraform-provider-google-beta v5.42.0.
func ValidAccountID(id string) bool {
	return accountID.MatchString(id)
}

// Bucket names, as verify.ValidateGCSName of terraform-provider-google-beta v5.42.0
// (google_storage_bucket.name) checks them, plus Google's own 222-char cap on a dotted name,
// which the provider does not check.
var (
	bucketChars = regexp.MustCompile(`^[a-z0-9_.-]+$`)
	// bucketIP is the provider's GCSNameCidr: four groups of 1-3 digits, so 999.1.1.1 too.
	bucketIP = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`)
)

// BucketNameRule is the shape BucketNameProblem checks first, for messages.
const BucketNameRule = `must be 3-63 chars of a-z, 0-9, "-", "_" and "." (up to 222 with dots, at most 63 between two dots), starting and ending with a letter or digit`

// BucketNameProblem says what is wrong with a bucket name ("" when nothing is). Never looser than
// verify.ValidateGCSName of terraform-provider-google-beta v5.42.0. A name with dots is
// well-formed but needs its domain verified: callers decide whether to allow it.
func BucketNameProblem(name string) string {
	alnum := func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }
	dotted := strings.Contains(name, ".")
	switch {
	case len(name) < 3 || !bucketChars.MatchString(name) || !alnum(name[0]) || !alnum(name[len(name)-1]),
		!dotted && len(name) > 63, len(name) > 222:
		return BucketNameRule
	case strings.Contains(name, ".."):
		return `must not contain ".."`
	}
	for _, part := range strings.Split(name, ".") {
		if len(part) > 63 {
			return fmt.Sprintf("has a dot-separated part of %d chars (%q): each may have at most 63", len(part), part)
		}
	}
	switch {
	case strings.HasPrefix(name, "goog"):
		return `must not start with "goog"`
	// The provider reads every 0 as o before looking for "google", so "g00gle" and "go0gle" too.
	case strings.Contains(strings.ReplaceAll(name, "0", "o"), "google"):
		return `must not contain "google" or a close misspelling: Cloud Storage reads every 0 as o, so "g00gle" and "go0gle" count too`
	case bucketIP.MatchString(name):
		return "must not look like an IP address (four dot-separated groups of 1-3 digits, such as 192.168.5.4 or 999.1.1.1)"
	}
	return ""
}

// AccountEmail is the email Google gives the service account accountID in project, computed up
// front so that previews show real members. Domain-scoped projects ("example.com:proj") get
// "proj.example.com" as the domain part, as IAM documents.
func AccountEmail(project, accountID string) string {
	if domain, id, ok := strings.Cut(project, ":"); ok {
		return accountID + "@" + id + "." + domain + ".iam.gserviceaccount.com"
	}
	return accountID + "@" + project + ".iam.gserviceaccount.com"
}

// AccountDomain is what every service account email of project ends in: "@<project>.iam...".
func AccountDomain(project string) string {
	return strings.TrimPrefix(AccountEmail(project, "x"), "x")
}

// AccountName is the resource name IAM bindings on a service account take.
func AccountName(project, email string) string {
	return "projects/" + project + "/serviceAccounts/" + email
}

// Limits that matter at scale (gcp-facts.md, "Limits that matter at scale").
const (
	// MaxPrincipalsPerPolicy is IAM's limit on principals in one allow policy (each occurrence
	// counts); MaxGroupsPerPolicy the limit on groups and domains within it.
	MaxPrincipalsPerPolicy = 1500
	MaxGroupsPerPolicy     = 250
	// ServiceAccountQuota is the default number of service accounts per project.
	ServiceAccountQuota = 100
)
