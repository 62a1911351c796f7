package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// consumerDomains are the mail domains of personal Google accounts: domain:gmail.com is anyone
// who signs up, as public as allAuthenticatedUsers.
var consumerDomains = []string{"gmail.com", "googlemail.com"}

// IsPublic is true for the principals that mean everyone: on the internet, with any Google
// account, the principal-set spelling of either, or every personal Google account of a consumer
// mail domain.
func IsPublic(member string) bool {
	m := strings.ToLower(strings.TrimSpace(member))
	if d, ok := strings.CutPrefix(m, "domain:"); ok {
		return slices.Contains(consumerDomains, d)
	}
	return m == "allusers" || m == "allauthenticatedusers" || strings.HasPrefix(m, "principalset://goog/public")
}

// impersonatorProblem says why a principal may not hold a role that acts as a service account,
// or "" when it may. Those who may are named: a user, a group, a service account, a domain of
// the organisation's own, one federated identity (principal://), or a principal set that a pool
// defines by one attribute value or group (principalSet://.../attribute.<name>/<value>,
// .../group/<id>): the pool's provider decides who carries that value, as a group's owners decide
// who is in it, and it is how a repository's CI is let in. A whole pool (".../*") is everyone its
// providers accept; any other principal set (every account of a project, ...) is refused too,
// and so is a principal of a form not listed here.
func impersonatorProblem(member string) string {
	m := strings.TrimSpace(member)
	switch {
	case IsPublic(m):
		return "which is public"
	case strings.HasPrefix(m, "user:"), strings.HasPrefix(m, "group:"), strings.HasPrefix(m, "serviceAccount:"),
		strings.HasPrefix(m, "domain:"), strings.HasPrefix(m, "principal://"), strings.HasPrefix(m, "deleted:"):
		return ""
	case strings.HasPrefix(m, "principalSet://"):
		switch {
		case strings.HasSuffix(m, "/*"):
			return "which is a whole identity pool: every identity its providers accept"
		case strings.Contains(m, "/attribute.") || strings.Contains(m, "/group/"):
			return ""
		}
		return "which is a principal set other than one attribute value or group of a pool"
	}
	return "which is not a named principal (user:, group:, serviceAccount:, domain:, principal:// or a pool's attribute or group)"
}

// aclEntry is one grant an access-control list makes, with its principal as IAM writes it.
type aclEntry struct {
	// field is where it is written (entity, roleEntities[2], accesses[0].specialGroup).
	field, written, member string
}

// publicCannedACLs are the predefined ACLs that open a bucket or object to everyone.
var publicCannedACLs = map[string]string{
	"publicread": "allUsers", "publicreadwrite": "allUsers", "authenticatedread": "allAuthenticatedUsers",
}

// isACL is true for the access-control resources outside IAM: Cloud Storage's ACLs
// (gcp:storage/bucketACL:BucketACL, bucketAccessControl, defaultObjectACL, objectAccessControl,
// ..., matched by the name so that a later kind is read too) and BigQuery's dataset access
// (gcp:bigquery/datasetAccess:DatasetAccess, and the accesses of gcp:bigquery/dataset:Dataset).
func isACL(typ string) bool {
	if !strings.HasPrefix(typ, "gcp:") {
		return false
	}
	name := strings.ToLower(typ[strings.LastIndex(typ, ":")+1:])
	switch {
	case strings.HasSuffix(name, "acl"), strings.HasSuffix(name, "accesscontrol"):
		return true
	case module(typ) == "bigquery":
		return name == "dataset" || strings.HasSuffix(name, "access")
	}
	return false
}

// aclEntries reads who an ACL resource grants to. Unknown values are skipped: the check runs
// again when they are known.
func aclEntries(r Resource) []aclEntry {
	var out []aclEntry
	p := r.Properties
	if module(r.Type) == "bigquery" {
		out = append(out, bigqueryAccess("", p)...)
		if v := p.Get("accesses"); v.IsArray() {
			for i, e := range v.AsArray().AsSlice() {
				if e.IsMap() {
					out = append(out, bigqueryAccess(fmt.Sprintf("accesses[%d].", i), e.AsMap())...)
				}
			}
		}
		return out
	}
	if e := str(p.Get("entity")); e.known && e.s != "" {
		out = append(out, aclEntry{"entity", e.s, storageEntity(e.s)})
	}
	entities, _ := strList(p.Get("roleEntities"))
	for i, re := range entities {
		_, entity, _ := strings.Cut(re, ":")
		out = append(out, aclEntry{fmt.Sprintf("roleEntities[%d]", i), re, storageEntity(entity)})
	}
	for _, field := range []string{"predefinedAcl", "defaultAcl"} {
		if v := str(p.Get(field)); v.known {
			if who, public := publicCannedACLs[strings.ToLower(strings.TrimSpace(v.s))]; public {
				out = append(out, aclEntry{field, v.s, who})
			}
		}
	}
	return out
}

// storageEntity is a Cloud Storage ACL entity (allUsers, user-<email>, domain-<domain>, ...) as
// an IAM principal.
func storageEntity(entity string) string {
	e := strings.TrimSpace(entity)
	for _, kind := range []string{"user", "group", "domain"} {
		if rest, ok := strings.CutPrefix(e, kind+"-"); ok {
			return kind + ":" + rest
		}
	}
	return e
}

// bigqueryAccess reads one BigQuery access entry: specialGroup (allAuthenticatedUsers, ...),
// iamMember (any IAM principal), domain, userByEmail and groupByEmail.
func bigqueryAccess(prefix string, m property.Map) []aclEntry {
	var out []aclEntry
	for field, kind := range map[string]string{"specialGroup": "", "iamMember": "", "domain": "domain:", "userByEmail": "user:", "groupByEmail": "group:"} {
		if v := str(m.Get(field)); v.known && v.s != "" {
			out = append(out, aclEntry{prefix + field, v.s, kind + strings.TrimSpace(v.s)})
		}
	}
	slices.SortFunc(out, func(a, b aclEntry) int { return strings.Compare(a.field, b.field) })
	return out
}
