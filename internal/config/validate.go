package config

import "github.com/platform/private-run-api/internal/diag"

// Each part of the config is validated in its own file (project.go, service.go, audiences.go,
// container.go, impersonators.go, callers.go, authz.go, labels.go), beside its type and its
// effective values: the methods that fill in defaults. Validation checks these (not only what was
// written), so a derived name that Google would refuse is reported with the key that overrides it.

// validate checks the decoded config as a whole and returns every problem, in config order.
func validate(c *Config, broken reported) diag.List {
	var ps problems
	validateProject(&ps, c)
	validateService(&ps, c)
	validateAudiences(&ps, c)
	validateContainer(&ps, c)
	validateImpersonators(&ps, broken, diag.NewPath(KeyImpersonators), c.Impersonators, runtimeMember(c))
	validateCallers(&ps, broken, c)
	validateAuthz(&ps, c)
	validateLabels(&ps, c.Labels)
	return ps
}
