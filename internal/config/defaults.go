package config

import (
	"github.com/platform/private-run-api/internal/gcp"
	"strings"
	"time"
)

// The effective values below fill in defaults. Validation checks these (not only what was
// written), so a derived name that Google would refuse is reported with the key that overrides it.

// ServiceRegion is service.region, or gcp:region when unset.
func (c *Config) ServiceRegion() string {
	if c.Service.Region != "" {
		return c.Service.Region
	}
	return c.Region
}

// IngressOrDefault is service.ingress, or "all" when unset.
func (c *Config) IngressOrDefault() string {
	if c.Service.Ingress == "" {
		return IngressAll
	}
	return c.Service.Ingress
}

// Protected reports whether the service and its runtime account are protected (default true).
func (c *Config) Protected() bool { return c.Service.Protect == nil || *c.Service.Protect }

// RuntimeAccountID is service.runtimeAccountId, or "<service name>-run".
func (c *Config) RuntimeAccountID() string {
	if c.Service.RuntimeAccountID != "" {
		return c.Service.RuntimeAccountID
	}
	return c.Service.Name + "-run"
}

// RuntimeEmail is the runtime account's email: service.runtimeAccount, or the one the program
// creates.
func (c *Config) RuntimeEmail() string {
	if c.Service.RuntimeAccount != "" {
		return c.Service.RuntimeAccount
	}
	return gcp.AccountEmail(c.Project, c.RuntimeAccountID())
}

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

// ImageOwnerOrDefault is service.imageOwner, or "stack" when unset.
func (c *Config) ImageOwnerOrDefault() string {
	if c.Service.ImageOwner == "" {
		return ImageOwnerStack
	}
	return c.Service.ImageOwner
}

// Port is service.port, or Cloud Run's 8080: always sent, since the provider keeps the last port
// when none is sent, so removing service.port would otherwise change nothing.
func (c *Config) Port() int {
	if c.Service.Port != 0 {
		return c.Service.Port
	}
	return DefaultPort
}

// MinInstances and MaxInstances are what the program sends: both always, so that removing either
// from config resets it rather than leaving the last value in place.
func (c *Config) MinInstances() int {
	if c.Service.MinInstances != nil {
		return *c.Service.MinInstances
	}
	return 0
}

func (c *Config) MaxInstances() int {
	if c.Service.MaxInstances != nil {
		return *c.Service.MaxInstances
	}
	return DefaultMaxInstances
}

// ParseExpiry reads an impersonator's expires value: RFC 3339, cut to whole seconds in UTC. IAM
// conditions, binding names and the grouping of grants by expiry all use this one value, so two
// expiries a fraction of a second apart are one grant, not two bindings with the same name.
func ParseExpiry(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Second), nil
}

// engineTimestamp reads a value the way the Pulumi engine renders an unquoted YAML timestamp
// (Go's time.Time String: "2027-01-31 00:00:00 +0000 UTC"), so that the problem can say what to
// write instead.
func engineTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999 -0700 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// CallerEmail is the caller's account email: its own for an external caller, computed otherwise.
func (c *Config) CallerEmail(caller Caller) string {
	if caller.External() {
		return caller.Email
	}
	return gcp.AccountEmail(c.CallerAccountsProject(), caller.Name)
}

// CallerAccountsProject is the project the program creates caller accounts in: callersProject,
// or gcp:project.
func (c *Config) CallerAccountsProject() string {
	if c.CallersProject != "" {
		return c.CallersProject
	}
	return c.Project
}
