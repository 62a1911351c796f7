// Package gcp holds Google Cloud's naming rules, computed names and limits that both programs (the
// private API and the bootstrap stack) and their tools check against: one definition each, so the
// two programs cannot disagree about what Google accepts.
package gcp

import (
	"net/netip"
	"regexp"
	"strings"
)

// Names Google accepts. Sources: gcp-facts.md (shared/design) and each API's reference.
var (
	// ProjectID is a project ID, optionally domain-scoped ("example.com:proj").
	ProjectID = regexp.MustCompile(`^([a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	// Region is a Cloud Run / Compute region such as "asia-northeast1" or "northamerica-northeast1".
	Region = regexp.MustCompile(`^[a-z]+(-[a-z]+)+[0-9]+$`)
	// RoleID is a custom role's ID: no hyphen (pulumi/pulumi-gcp#3328).
	RoleID = regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`)
	// SecretID is a Secret Manager secret's ID; SecretName its full name.
	SecretID   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	SecretName = regexp.MustCompile(`^projects/([^/]+)/secrets/([A-Za-z0-9_-]{1,255})$`)
	// ResourceName is a Compute resource's name (network, subnetwork, network tag).
	ResourceName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// NetworkName, SubnetworkName and ConnectorName are full names (a Shared VPC's, another
	// project's); ConnectorID is a Serverless VPC Access connector's short name.
	NetworkName    = regexp.MustCompile(`^projects/[^/]+/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	SubnetworkName = regexp.MustCompile(`^projects/([^/]+)/regions/([a-z0-9-]+)/subnetworks/([a-z]([-a-z0-9]{0,61}[a-z0-9])?)$`)
	ConnectorName  = regexp.MustCompile(`^projects/([^/]+)/locations/([a-z0-9-]+)/connectors/([a-z][-a-z0-9]{0,23})$`)
	ConnectorID    = regexp.MustCompile(`^[a-z][-a-z0-9]{0,23}$`)
	// DefaultServiceAccount matches the Compute Engine and App Engine default accounts, which hold
	// broad project roles: never a caller or a runtime account.
	DefaultServiceAccount = regexp.MustCompile(`(^[0-9]+-compute@developer\.gserviceaccount\.com$)|(@appspot\.gserviceaccount\.com$)`)
	// ServiceAccountEmail is a lower-case service account email.
	ServiceAccountEmail = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.+]*@[a-z0-9][-a-z0-9.]*\.gserviceaccount\.com$`)

	accountID = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)
	bucket    = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]{1,61}[a-z0-9]$`)
)

// AccountIDRule says what ValidAccountID checks, for messages.
const AccountIDRule = `must be 6-30 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-"`

// ValidAccountID reports whether id is a service account ID Google accepts.
func ValidAccountID(id string) bool {
	return len(id) >= 6 && len(id) <= 30 && accountID.MatchString(id)
}

// BucketNameProblem says what is wrong with a bucket name ("" when nothing is). A name with dots
// is well-formed but needs its domain verified: callers decide whether to allow it.
func BucketNameProblem(name string) string {
	switch {
	case !bucket.MatchString(name):
		return `must be 3-63 chars of a-z, 0-9, "-", "_" and ".", starting and ending with a letter or digit`
	case strings.HasPrefix(name, "goog"):
		return `must not start with "goog"`
	case strings.Contains(name, "google") || strings.Contains(name, "g00gle"):
		return `must not contain "google"`
	case strings.Contains(name, ".."):
		return `must not contain ".."`
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "must not be an IP address"
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
