// Package roledefs reads role definitions from the IAM API, for the tools that judge the roles
// bound in a live policy (the doctor's who-else report, the access report's outside view): a
// role's name says where it is defined, and each distinct role is read once.
package roledefs

import (
	"context"
	"strings"

	"golang.org/x/sync/errgroup"
	iam "google.golang.org/api/iam/v1"
)

// Get reads one role's definition where its name says it is defined: a project's or an
// organization's custom role, else a predefined role.
func Get(ctx context.Context, svc *iam.Service, name string) (*iam.Role, error) {
	switch {
	case strings.HasPrefix(name, "projects/"):
		return svc.Projects.Roles.Get(name).Context(ctx).Do()
	case strings.HasPrefix(name, "organizations/"):
		return svc.Organizations.Roles.Get(name).Context(ctx).Do()
	default:
		return svc.Roles.Get(name).Context(ctx).Do()
	}
}

// Lookup answers for each distinct role in names: from known when it can answer without a call,
// else from judge, given the role's definition (Get) or the error reading it. At most eight
// reads run at once. A deleted custom role is still returned, with Deleted set: it stays in
// policies but grants nothing, and judge decides what that means.
func Lookup[T any](ctx context.Context, svc *iam.Service, names []string, known func(role string) (T, bool), judge func(*iam.Role, error) T) map[string]T {
	out := map[string]T{}
	seen := map[string]bool{}
	var reads []string
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		if v, ok := known(name); ok {
			out[name] = v
		} else {
			reads = append(reads, name)
		}
	}
	got := make([]T, len(reads))
	var g errgroup.Group
	g.SetLimit(8)
	for i, name := range reads {
		g.Go(func() error {
			got[i] = judge(Get(ctx, svc, name))
			return nil
		})
	}
	_ = g.Wait()
	for i, name := range reads {
		out[name] = got[i]
	}
	return out
}
