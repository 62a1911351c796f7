package config

import (
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// The projects: gcp:project, and callersProject for the caller accounts. gcp:region is the
// default of service.region, checked with it in service.go.

// CallerAccountsProject is the project the program creates caller accounts in: callersProject,
// or gcp:project.
func (c *Config) CallerAccountsProject() string {
	if c.CallersProject != "" {
		return c.CallersProject
	}
	return c.Project
}

func validateProject(ps *problems, c *Config) {
	switch {
	case c.Project == "":
		ps.Add(diag.Required, diag.NewPath(KeyGCPProject), "", "is missing", "run `pulumi config set gcp:project <project-id>`")
	case !gcp.ProjectID.MatchString(c.Project):
		ps.Add(diag.Invalid, diag.NewPath(KeyGCPProject), c.Project, "is not a project ID (6-30 chars of a-z, 0-9 and \"-\", starting with a letter)", "use the project ID, not its name or number")
	}
	if p := c.CallersProject; p != "" && !gcp.ProjectID.MatchString(p) {
		ps.Add(diag.Invalid, diag.NewPath(KeyCallersProject), p, "is not a project ID (6-30 chars of a-z, 0-9 and \"-\", starting with a letter)", "use the ID of the project that holds the caller accounts, or leave callersProject out to keep them in gcp:project")
	}
}
