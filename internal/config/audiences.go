package config

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// Custom audiences (service.audiences, Cloud Run's customAudiences): ID-token audiences the
// service accepts besides its run.app URL, which stays accepted. Callers can then ask for a token
// before the first deploy, and the value survives a move to another region or behind a load
// balancer.
//
// What Google checks (cloud.google.com/run/docs/configuring/custom-audiences): an audience is any
// string ("myservice" as well as "https://myservice.example.com"), and the list, JSON-encoded as
// a list of strings, may take at most 32,768 characters. The provider
// (terraform-provider-google-beta v5.42.0, custom_audiences) validates nothing: a list of
// strings, optional, neither computed nor force-new.
//
// What this program requires on top, and why: a custom audience belongs to no single service.
// Cloud Run accepts a token for it at every service that declares the same value, in any
// project, so a token a caller minted for one of them can be replayed at the others by whoever
// sees it there (that service's code, its logs, a proxy in front of it), as long as the caller
// may invoke both. The run.app URL cannot collide like that; a value such as
// "https://orders-api.internal" collides with the dev and the prod stack of the same service,
// and with anyone else's service that picks it. So every audience must be exactly
//
//	https://<service.name>.<project>.<domain>
//
// with the service name as the first label of the host and the project (AudienceLabel) as the
// second. Two audiences of that form are equal only when service and project are: the one
// service in one project, deployed in several regions or behind one load balancer, is what may
// share a value, and nothing else this program deploys can. (A service made another way may
// still declare any string; only the invoker grant limits what a replayed token can call.) (A
// looser rule, "contains both names", would not be enough: service "orders" and service
// "orders-api" of one project could both declare https://orders-api.orders.<project>.example.)
// Besides:
//   - https only, a host and nothing else: no path, port, query, fragment or user, and no trailing
//     "/". Cloud Run compares audiences as exact strings, so one spelling per audience, in lower
//     case, is the only one a caller can get right;
//   - not under run.app: that is Google's namespace for Cloud Run URLs, the service's own URL is
//     always accepted anyway, and any other run.app name could be another service's URL;
//   - each audience once.

// MaxAudiencesJSON is Cloud Run's limit on service.audiences: the list, JSON-encoded, in
// characters.
const MaxAudiencesJSON = 32768

// AudienceDomain is the domain the messages suggest: .internal is reserved for private use
// (ICANN, 2024), so it never names someone else's host. Any domain of the team's own works too.
const AudienceDomain = "internal"

// hostLabel is one DNS label, lower case.
var hostLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// AudienceLabel is how a project appears in an audience's host: the project ID, with a
// domain-scoped project's ":" and "." turned into "-" (as in the default bucket name).
func AudienceLabel(project string) string {
	return strings.NewReplacer(":", "-", ".", "-").Replace(project)
}

// ExampleAudience is the audience of the required form for a service of project, under domain.
func ExampleAudience(service, project, domain string) string {
	return "https://" + service + "." + AudienceLabel(project) + "." + domain
}

// validateAudiences checks service.audiences against Cloud Run's rules and the form above, each
// entry on its own, then the list's size.
func validateAudiences(ps *problems, c *Config) {
	list := c.Service.Audiences
	if len(list) == 0 {
		return
	}
	p := diag.NewPath(KeyService).Child("audiences")
	// The form names the service and the project: it cannot be checked when either is broken,
	// and those are reported on their own keys.
	names := runNameRe.MatchString(c.Service.Name) && len(c.Service.Name) < 50 && gcp.ProjectID.MatchString(c.Project)
	seen := map[string]int{}
	for i, a := range list {
		ap := p.Index(i)
		if j, dup := seen[a]; dup {
			ps.Add(diag.Duplicate, ap, a, fmt.Sprintf("is also service.audiences[%d]", j), "list each audience once")
			continue
		}
		seen[a] = i
		if typ, rule, fix := audienceProblem(a, c.Service.Name, c.Project, names); rule != "" {
			ps.Add(typ, ap, a, rule, fix)
		}
	}
	if raw, _ := json.Marshal(list); len(raw) > MaxAudiencesJSON {
		ps.Add(diag.TooLong, p, fmt.Sprintf("%d audiences", len(list)), fmt.Sprintf("take %d characters as a JSON list, more than Cloud Run's %d", len(raw), MaxAudiencesJSON), "declare fewer audiences: callers need one, two while they move to a new one")
	}
}

// audienceProblem returns the first rule a breaks, with its type and fix; rule is "" when a is
// good. names says whether service and project are valid, so that the form can be checked.
func audienceProblem(a, service, project string, names bool) (typ diag.Type, rule, fix string) {
	want := ExampleAudience(service, project, AudienceDomain)
	if !names {
		want = "https://<service>.<project>." + AudienceDomain
	}
	if a == "" {
		return diag.Required, "is empty", "write an audience such as " + want + ", or remove the entry"
	}
	if bad := unreadable(a); bad != "" {
		return diag.Invalid, bad, "retype it in ASCII: callers must ask for exactly this string, and a look-alike character makes another audience"
	}
	rest, ok := strings.CutPrefix(a, "https://")
	if !ok {
		return diag.Invalid, "is not an https:// URL", "write it as " + want
	}
	if i := strings.IndexAny(rest, "/?#@:"); i >= 0 {
		host := rest[:i]
		if u, err := url.Parse(a); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		if rest[i:] == "/" {
			return diag.Invalid, `ends in "/": Cloud Run compares audiences as exact strings, so it would be another audience than the one without`, "write it without the slash: https://" + host
		}
		return diag.Invalid, "has a path, port, query, fragment or user name: an audience here is https:// and a host name, nothing else", "write https://" + host
	}
	if lower := strings.ToLower(rest); lower != rest {
		return diag.Invalid, "has upper-case letters: Cloud Run compares audiences as exact strings, so callers would have to match the case", "write it in lower case: https://" + lower
	}
	labels := strings.Split(rest, ".")
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return diag.Invalid, `is not https:// and a host name (labels of 1-63 characters of a-z, 0-9 and "-", not starting or ending with "-")`, "write it as " + want
		}
	}
	if len(rest) > 253 {
		return diag.TooLong, "has a host name longer than DNS's 253 characters", "use a shorter domain, e.g. " + want
	}
	if n := len(labels); n >= 2 && labels[n-2] == "run" && labels[n-1] == "app" {
		return diag.Forbidden, "is under run.app, Google's domain for Cloud Run URLs: the service's own URL is accepted anyway, and any other run.app name could be another service's URL", "use a domain of your own or ." + AudienceDomain + ", e.g. " + want
	}
	if !names {
		return "", "", ""
	}
	label := AudienceLabel(project)
	if len(labels) < 3 || labels[0] != service || labels[1] != label {
		return diag.Forbidden, fmt.Sprintf("does not name this service and project: it must be https://%s.%s.<domain>, because every service (in any project) that declares the same custom audience accepts the same ID tokens, so a token sent to one could be replayed at the other", service, label),
			"write " + ExampleAudience(service, project, suggestDomain(labels, service, label))
	}
	return "", "", ""
}

// suggestDomain keeps the domain an audience was written with, for the fix: its host without the
// service and project labels, or AudienceDomain when nothing else is left.
func suggestDomain(labels []string, service, project string) string {
	var rest []string
	for _, l := range labels {
		if l != service && l != project {
			rest = append(rest, l)
		}
	}
	if len(rest) == 0 {
		return AudienceDomain
	}
	return strings.Join(rest, ".")
}
