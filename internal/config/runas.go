package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/platform/private-run-api/internal/diag"
)

// RunAs says who may run workloads as a caller's account. The program owns the whole allow
// policy of every account it creates, so anything a caller service needs in order to run as its
// account is declared here, or the next `pulumi up` removes it.
type RunAs struct {
	// Deployers may deploy workloads that run as the account (gcloud run deploy
	// --service-account ...): roles/iam.serviceAccountUser on the account. Users, groups and
	// service accounts (a caller team's own CI account), never a set of principals.
	Deployers []string `json:"deployers,omitempty"`
	// GKEWorkloads are Kubernetes service accounts that run as the account through GKE Workload
	// Identity: roles/iam.workloadIdentityUser on the account, to
	// serviceAccount:PROJECT_ID.svc.id.goog[NAMESPACE/KSA] or the principal:// form of the same.
	GKEWorkloads []string `json:"gkeWorkloads,omitempty"`
	// CloudRunProjects are the numbers of other projects whose Cloud Run services run as the
	// account: their Cloud Run service agent
	// (service-NUMBER@serverless-robot-prod.iam.gserviceaccount.com) gets
	// roles/iam.serviceAccountTokenCreator on the account, which cross-project service account
	// use needs (with the organization policy iam.disableCrossProjectServiceAccountUsage off in
	// the account's project). A service in the account's own project needs none.
	CloudRunProjects []string `json:"cloudRunProjects,omitempty"`
}

// CloudRunAgent is the Cloud Run service agent of the project with this number.
func CloudRunAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@serverless-robot-prod.iam.gserviceaccount.com"
}

// Members are every principal the run-as grants name, for counting a policy's principals.
func (r *RunAs) Members() []string {
	if r == nil {
		return nil
	}
	out := append(append([]string(nil), r.Deployers...), r.GKEWorkloads...)
	for _, n := range r.CloudRunProjects {
		out = append(out, CloudRunAgent(n))
	}
	return out
}

var (
	// gkeLegacyRe is a Kubernetes service account as GKE Workload Identity names it for IAM:
	// serviceAccount:PROJECT_ID.svc.id.goog[NAMESPACE/KSA] (a domain-scoped project ID keeps its
	// "example.com:" prefix). Namespaces are DNS labels, service account names DNS subdomains.
	gkeLegacyRe = regexp.MustCompile(`^serviceAccount:([a-z][-a-z0-9.]*:)?[a-z][-a-z0-9]{4,28}[a-z0-9]\.svc\.id\.goog\[[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\]$`)
	// gkePrincipalRe is the same workload as a principal of the project's workload pool.
	gkePrincipalRe  = regexp.MustCompile(`^principal://iam\.googleapis\.com/projects/[1-9][0-9]{5,18}/locations/global/workloadIdentityPools/([a-z][-a-z0-9.]*:)?[a-z][-a-z0-9]{4,28}[a-z0-9]\.svc\.id\.goog/subject/ns/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/sa/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	projectNumberRe = regexp.MustCompile(`^[1-9][0-9]{5,18}$`)
)

// validateRunAs checks a caller's run-as grants: each principal one a review can read and that
// names one workload or person, never a set; no entry twice.
func validateRunAs(ps *problems, path diag.Path, r *RunAs, external bool) {
	if r == nil {
		return
	}
	if external {
		ps.Add(diag.Forbidden, path, "", "is set on a caller named by email; the program owns no policy on an account it does not create", "grant run-as roles on that account where it is managed, or drop email to let the program create the account")
		return
	}
	seen := map[string]string{}
	// dup reports a member already granted by another entry; shown is how the entry writes it.
	dup := func(p diag.Path, member, shown string) {
		if other, ok := seen[member]; ok {
			ps.Add(diag.Duplicate, p, shown, "is listed twice (also "+other+")", "keep one entry")
			return
		}
		seen[member] = p.String()
	}
	for i, m := range r.Deployers {
		p := path.Child("deployers").Index(i)
		kind, _, _ := strings.Cut(m, ":")
		switch typ, rule, fix := ValidateMember(m); {
		case rule != "":
			ps.Add(typ, p, m, rule, fix)
		case kind != "user" && kind != "group" && kind != "serviceAccount" && kind != "principal":
			ps.Add(diag.Forbidden, p, m, "names a set of principals, every one of whom could deploy code that runs as the caller", "name the people, a group, or the caller team's CI service account")
		default:
			dup(p, m, m)
		}
	}
	for i, m := range r.GKEWorkloads {
		p := path.Child("gkeWorkloads").Index(i)
		if !gkeLegacyRe.MatchString(m) && !gkePrincipalRe.MatchString(m) {
			ps.Add(diag.Invalid, p, m, "is not a Kubernetes service account of GKE Workload Identity", "write serviceAccount:PROJECT_ID.svc.id.goog[NAMESPACE/KSA], or principal://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/PROJECT_ID.svc.id.goog/subject/ns/NAMESPACE/sa/KSA")
			continue
		}
		dup(p, m, m)
	}
	for i, n := range r.CloudRunProjects {
		p := path.Child("cloudRunProjects").Index(i)
		if !projectNumberRe.MatchString(n) {
			ps.Add(diag.Invalid, p, n, "is not a project number", fmt.Sprintf("write the number (digits) of the project whose Cloud Run services run as the caller: %s", "gcloud projects describe PROJECT_ID --format='value(projectNumber)'"))
			continue
		}
		dup(p, CloudRunAgent(n), n)
	}
}
