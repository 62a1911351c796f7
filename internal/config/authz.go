package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// AuthzGuard is the authz guard (key authz): a bucket holding no objects and a custom role with
// only storage.buckets.get, granted on the bucket to the callers that pass the guard.
type AuthzGuard struct {
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
	// Bucket defaults to "<project>-<service>-authz".
	Bucket string `json:"bucket,omitempty"`
	// BucketDomainVerified admits a configured bucket name with dots, which Cloud Storage accepts
	// only when the domain it ends in is verified as owned by the deployer.
	BucketDomainVerified bool `json:"bucketDomainVerified,omitempty"`
	// Role names an existing custom role (projects/<project>/roles/<id> or
	// organizations/<number>/roles/<id>) holding only storage.buckets.get, made elsewhere (the
	// bootstrap stack): the program then creates no role of its own. Excludes RoleID and RoleTitle.
	Role string `json:"role,omitempty"`
	// RoleID defaults to the service name with "-" turned into "_", plus "_authz".
	RoleID    string `json:"roleId,omitempty"`
	RoleTitle string `json:"roleTitle,omitempty"`
	// Location defaults to the service's region.
	Location string `json:"location,omitempty"`
}

// On reports whether the guard exists (default true).
func (a AuthzGuard) On() bool { return a.Enabled == nil || *a.Enabled }

// BucketName is authz.bucket, or "<project>-<service name>-authz" with the ":" and "." of a
// domain-scoped project ("example.com:proj") turned into "-": a bucket name with a dot needs the
// domain verified as the deployer's.
func (c *Config) BucketName() string {
	if c.Authz.Bucket != "" {
		return c.Authz.Bucket
	}
	return strings.NewReplacer(":", "-", ".", "-").Replace(c.Project) + "-" + c.Service.Name + "-authz"
}

// BucketLocation is authz.location, or the service's region, upper-cased as Storage reports it
// (so the provider sees no diff).
func (c *Config) BucketLocation() string {
	if c.Authz.Location != "" {
		return strings.ToUpper(c.Authz.Location)
	}
	return strings.ToUpper(c.ServiceRegion())
}

// RoleID is authz.roleId, or the service name with "-" as "_" plus "_authz" (role IDs take no
// hyphen).
func (c *Config) RoleID() string {
	if c.Authz.RoleID != "" {
		return c.Authz.RoleID
	}
	return strings.ReplaceAll(c.Service.Name, "-", "_") + "_authz"
}

// RoleTitle is authz.roleTitle, or a title naming the service.
func (c *Config) RoleTitle() string {
	if c.Authz.RoleTitle != "" {
		return c.Authz.RoleTitle
	}
	return "Authz guard for " + c.Service.Name
}

// RoleName is the custom role's full name, known before it exists: authz.role, or the role the
// program creates.
func (c *Config) RoleName() string {
	if c.Authz.Role != "" {
		return c.Authz.Role
	}
	return "projects/" + c.Project + "/roles/" + c.RoleID()
}

// OwnsRole reports whether the program creates the authz custom role (authz.role unset).
func (c *Config) OwnsRole() bool { return c.Authz.Role == "" }

var (
	locationRe = regexp.MustCompile(`^[A-Za-z]+[A-Za-z0-9-]*[A-Za-z0-9]$`)
	roleNameRe = regexp.MustCompile(`^(projects/([^/]+)|organizations/[0-9]+)/roles/[a-zA-Z0-9_.]{3,64}$`)
)

func validateAuthz(ps *problems, c *Config) {
	if c.Authz.On() && c.Project != "" && (c.Service.Name != "" || c.Authz.Bucket != "") {
		validateBucket(ps, c)
	}
	// The role is checked whether or not the guard is on: the program creates it either way (it
	// outlives the guard), and a bad ID would fail only halfway through `pulumi up`.
	if c.Authz.Role != "" {
		validateExistingRole(ps, c)
	} else if c.Service.Name != "" || c.Authz.RoleID != "" {
		if id := c.RoleID(); !gcp.RoleID.MatchString(id) {
			fix := "use letters, digits, _ and . only (no hyphen)"
			if c.Authz.RoleID == "" {
				fix = "it is derived from service.name; set authz.roleId explicitly, e.g. \"privateApiAuthz\""
			}
			ps.Add(diag.Invalid, diag.NewPath(KeyAuthz).Child("roleId"), id, "must be 3-64 chars of a-z, A-Z, 0-9, _ and .", fix)
		}
	}
	if t := c.RoleTitle(); len(t) > 100 {
		ps.Add(diag.TooLong, diag.NewPath(KeyAuthz).Child("roleTitle"), short(t), "is longer than 100 bytes", "shorten it")
	}
	if !c.Authz.On() {
		return
	}
	if loc := c.BucketLocation(); loc != "" && !locationRe.MatchString(loc) {
		ps.Add(diag.Invalid, diag.NewPath(KeyAuthz).Child("location"), c.Authz.Location, "is not a Cloud Storage location", `use a region ("asia-northeast1"), a dual-region or a multi-region ("US", "EU", "ASIA")`)
	}
}

// validateExistingRole checks authz.role, a custom role made elsewhere. A project's custom role can
// be granted only on that project's resources, so it must be gcp:project's.
func validateExistingRole(ps *problems, c *Config) {
	a := c.Authz
	m := roleNameRe.FindStringSubmatch(a.Role)
	switch {
	case m == nil:
		ps.Add(diag.Invalid, diag.NewPath(KeyAuthz).Child("role"), a.Role, "is not a custom role's full name", `write "projects/<project>/roles/<roleId>" or "organizations/<number>/roles/<roleId>", as the bootstrap stack's authzRole output gives it`)
	case m[2] != "" && c.Project != "" && m[2] != c.Project:
		ps.Add(diag.Forbidden, diag.NewPath(KeyAuthz).Child("role"), a.Role, fmt.Sprintf("is a custom role of project %q, which cannot be granted on a bucket of %q", m[2], c.Project), "create the role in "+c.Project+", or name an organization-level role")
	}
	if a.RoleID != "" {
		ps.Add(diag.Forbidden, diag.NewPath(KeyAuthz).Child("roleId"), a.RoleID, "is set together with authz.role", "remove authz.roleId: the program creates no role when authz.role names one")
	}
	if a.RoleTitle != "" {
		ps.Add(diag.Forbidden, diag.NewPath(KeyAuthz).Child("roleTitle"), short(a.RoleTitle), "is set together with authz.role", "remove authz.roleTitle: the program creates no role when authz.role names one")
	}
}

func validateBucket(ps *problems, c *Config) {
	name := c.BucketName()
	fix := "choose another authz.bucket"
	if c.Authz.Bucket == "" {
		fix = "it is derived from gcp:project and service.name; set authz.bucket explicitly"
	}
	path := diag.NewPath(KeyAuthz).Child("bucket")
	switch rule := gcp.BucketNameProblem(name); {
	case rule != "":
		ps.Add(diag.Invalid, path, name, rule, fix)
	case strings.Contains(name, ".") && !c.Authz.BucketDomainVerified:
		ps.Add(diag.Forbidden, path, name, "has a dot: Cloud Storage creates such a bucket only for a domain verified as the deployer's", `remove the dots, or set authz.bucketDomainVerified: true once the domain is verified (Search Console)`)
	}
}
