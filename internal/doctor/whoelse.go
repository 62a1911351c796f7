package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	crm "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"

	"github.com/platform/private-run-api/internal/bounded"
	"github.com/platform/private-run-api/internal/gcp/policydoc"
	"github.com/platform/private-run-api/internal/gcp/roledefs"
	"github.com/platform/private-run-api/internal/plan"
)

// permInvoke is the permission Cloud Run checks before a request reaches the service.
const permInvoke = "run.routes.invoke"

// invokeRoles are predefined roles known to include run.routes.invoke, so they need no lookup.
// Any other role in a policy (predefined or custom) is looked up with the IAM API, so the list
// only saves calls; it does not decide the answer for roles it leaves out.
var invokeRoles = map[string]bool{
	"roles/owner":               true,
	"roles/editor":              true,
	"roles/run.admin":           true,
	"roles/run.invoker":         true,
	"roles/run.servicesInvoker": true,
}

// WhoElseRequest is what the who-else report reads: the live IAM policies of the stack's
// project, its service and its caller accounts.
type WhoElseRequest struct {
	Plan  *plan.Stack
	Stack string
	// Timeout bounds the whole report.
	Timeout time.Duration
	// Options go to every Google API client: which credentials to read with (ADC when none is
	// given) and, in tests, an httptest server's endpoint and client.
	Options []option.ClientOption
	// AsYourself is a command that reruns the report with the developer's own credentials; the
	// report prints it when a read is denied. The command line knows how it was started.
	AsYourself string
}

// WhoElseReport lists who can call the service besides the program's callers, and deleted
// principals left in the policies. Nothing in it is a Problem: it reports what the program does
// not control, so it never changes the doctor's exit status.
type WhoElseReport struct {
	Project, Service string
	Findings         []Finding
}

// Write prints the report under a header that says what it is.
func (r *WhoElseReport) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Who else can call service %s (project %s): outside this program's control\n", r.Service, r.Project)
	b.WriteString("Read from the live IAM policies. Informational: nothing here changes the exit status.\n\n")
	writeFindings(&b, r.Findings)
	_, err := io.WriteString(w, b.String())
	return err
}

// binding is an IAM binding from any of the three APIs, which each have their own type, read
// through policydoc.
type binding struct {
	role    string
	members []string
	// condition is the binding's condition title (or expression, when untitled); "" for none.
	condition string
}

// target is one resource whose policy is read.
type target struct {
	// label names it in messages: "project acme-test", "service orders-api", ...
	label string
	// resource is its name for the API: projects/P/serviceAccounts/EMAIL, ...
	resource string
	// removeCmd is the gcloud command that removes member from role on it.
	removeCmd func(member, role string, conditional bool) string
	// owned returns the members the program declares for b when the program owns b
	// authoritatively, and whether it does.
	owned func(b binding) ([]string, bool)

	bindings []binding
	err      error
}

// WhoElse reads the policies and reports. It never fails: what it cannot read, it says.
func WhoElse(ctx context.Context, req WhoElseRequest) *WhoElseReport {
	r := &WhoElseReport{Project: req.Plan.Project, Service: req.Plan.Service.Name}
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	// Minting the token for these calls may not honour ctx (an impersonated ADC mints inside
	// the transport), so the report is bounded the same way as the online call.
	findings, ok := bounded.Run(ctx, func(ctx context.Context) []Finding { return whoElse(ctx, req) })
	if !ok || ctx.Err() != nil {
		r.Findings = []Finding{{Status: Warning, Summary: fmt.Sprintf("The report timed out after %s", req.Timeout), Detail: []string{
			"The IAM APIs did not answer in time. Check your network, or try again with a longer -timeout.",
		}}}
		return r
	}
	r.Findings = findings
	return r
}

func whoElse(ctx context.Context, req WhoElseRequest) []Finding {
	p := req.Plan
	crmSvc, err := crm.NewService(ctx, req.Options...)
	if err != nil {
		return []Finding{clientError(err, req)}
	}
	iamSvc, err := iam.NewService(ctx, req.Options...)
	if err != nil {
		return []Finding{clientError(err, req)}
	}
	runSvc, err := run.NewService(ctx, req.Options...)
	if err != nil {
		return []Finding{clientError(err, req)}
	}

	project := &target{
		label: "project " + p.Project,
		removeCmd: func(member, role string, conditional bool) string {
			return withAll(fmt.Sprintf("gcloud projects remove-iam-policy-binding %s --member=%s --role=%s", p.Project, shellQuote(member), shellQuote(role)), conditional)
		},
		owned: func(binding) ([]string, bool) { return nil, false },
	}
	service := &target{
		label: "service " + p.Service.Name,
		removeCmd: func(member, role string, conditional bool) string {
			return withAll(fmt.Sprintf("gcloud run services remove-iam-policy-binding %s --project=%s --region=%s --member=%s --role=%s",
				p.Service.Name, p.Project, p.Service.Region, shellQuote(member), shellQuote(role)), conditional)
		},
		// The program declares one authoritative roles/run.invoker binding, and only when
		// someone invokes (IAM refuses an empty binding).
		owned: func(b binding) ([]string, bool) {
			return p.Invokers, b.role == plan.RoleInvoker && b.condition == "" && len(p.Invokers) > 0
		},
	}
	var accounts []*target
	for _, c := range p.Callers {
		if !c.Created {
			continue
		}
		accounts = append(accounts, &target{
			label:    "account " + c.Account.Email + " (caller " + c.Name + ")",
			resource: c.Account.Name,
			removeCmd: func(member, role string, conditional bool) string {
				return withAll(fmt.Sprintf("gcloud iam service-accounts remove-iam-policy-binding %s --member=%s --role=%s", c.Account.Email, shellQuote(member), shellQuote(role)), conditional)
			},
			owned: func(b binding) ([]string, bool) {
				for _, ab := range c.AccountBindings() {
					cond := ""
					if ab.Expires != nil {
						cond = ab.ConditionTitle()
					}
					if ab.Role == b.role && cond == b.condition {
						return ab.Members, true
					}
				}
				return nil, false
			},
		})
	}

	// Every read is independent; each goroutine writes only its own target.
	var g errgroup.Group
	g.SetLimit(4)
	g.Go(func() error {
		pol, err := crmSvc.Projects.GetIamPolicy("projects/"+p.Project, &crm.GetIamPolicyRequest{
			Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3},
		}).Context(ctx).Do()
		project.read(pol, err)
		return nil
	})
	g.Go(func() error {
		name := fmt.Sprintf("projects/%s/locations/%s/services/%s", p.Project, p.Service.Region, p.Service.Name)
		pol, err := runSvc.Projects.Locations.Services.GetIamPolicy(name).OptionsRequestedPolicyVersion(3).Context(ctx).Do()
		service.read(pol, err)
		return nil
	})
	for _, a := range accounts {
		g.Go(func() error {
			pol, err := iamSvc.Projects.ServiceAccounts.GetIamPolicy(a.resource).OptionsRequestedPolicyVersion(3).Context(ctx).Do()
			a.read(pol, err)
			return nil
		})
	}
	_ = g.Wait()

	grants := roleGrants(ctx, iamSvc, project, service)

	var out []Finding
	out = append(out, projectFindings(req, project, grants)...)
	out = append(out, serviceFindings(req, service, grants)...)
	out = append(out, accountReadFindings(req, accounts)...)
	for _, t := range append([]*target{project, service}, accounts...) {
		out = append(out, deletedFindings(req, t)...)
	}
	return out
}

// read keeps what reading t's policy gave: the policy (any Google client's Policy type) as
// bindings, or the error that leaves its holders unknown.
func (t *target) read(policy any, err error) {
	var p policydoc.Policy
	if err == nil {
		p, err = policydoc.Of(policy)
	}
	if err != nil {
		t.err = err
		return
	}
	for _, b := range p.Bindings {
		cond := ""
		if c := b.Condition; c != nil {
			cond = conditionName(c.Title, c.Expression)
		}
		t.bindings = append(t.bindings, binding{role: b.Role, members: b.Members, condition: cond})
	}
}

// conditionName names a condition by its title, which the program sets on the conditions it
// writes, else by its expression.
func conditionName(title, expression string) string {
	if title != "" {
		return title
	}
	return expression
}

// roleCheck is what the IAM API said about a role.
type roleCheck struct {
	grants bool
	// deleted custom roles stay in policies but grant nothing.
	deleted bool
	err     error
}

// roleGrants finds out, for every role bound on the project or the service, whether it
// includes run.routes.invoke: from invokeRoles, else from the role's definition.
func roleGrants(ctx context.Context, svc *iam.Service, targets ...*target) map[string]roleCheck {
	var names []string
	for _, t := range targets {
		for _, b := range t.bindings {
			names = append(names, b.role)
		}
	}
	known := func(role string) (roleCheck, bool) { return roleCheck{grants: true}, invokeRoles[role] }
	return roledefs.Lookup(ctx, svc, names, known, func(role *iam.Role, err error) roleCheck {
		if err != nil {
			return roleCheck{err: err}
		}
		return roleCheck{grants: !role.Deleted && slices.Contains(role.IncludedPermissions, permInvoke), deleted: role.Deleted}
	})
}

// holders lists "member (role[, only when condition])" for every live principal that a binding
// granting invoke gives it to, skipping what skip says is reported elsewhere, and the roles that
// could not be checked.
func holders(t *target, grants map[string]roleCheck, skip func(binding, string) bool) (lines, unchecked []string) {
	seenLine, seenRole := map[string]bool{}, map[string]bool{}
	for _, b := range t.bindings {
		check := grants[b.role]
		if check.err != nil {
			if !seenRole[b.role] {
				seenRole[b.role] = true
				unchecked = append(unchecked, fmt.Sprintf("%s (%s)", b.role, shortError(check.err)))
			}
			continue
		}
		if !check.grants {
			continue
		}
		for _, m := range b.members {
			if isDeleted(m) || (skip != nil && skip(b, m)) {
				continue
			}
			line := m + " (" + b.role
			if b.condition != "" {
				line += ", only when " + b.condition
			}
			line += ")"
			if !seenLine[line] {
				seenLine[line] = true
				lines = append(lines, line)
			}
		}
	}
	sort.Strings(lines)
	sort.Strings(unchecked)
	return lines, unchecked
}

func projectFindings(req WhoElseRequest, t *target, grants map[string]roleCheck) []Finding {
	p := req.Plan
	if t.err != nil {
		return []Finding{readError(req, t, t.err, "resourcemanager.projects.getIamPolicy")}
	}
	lines, unchecked := holders(t, grants, nil)
	var detail []string
	var f Finding
	if len(lines) == 0 {
		f = Finding{Status: Info, Summary: "No project-level role lets anyone call the services of project " + p.Project}
	} else {
		f = Finding{Status: Info, Summary: fmt.Sprintf("%s can call every Cloud Run service in project %s, this one included, through project-level roles", plural(len(lines), "principal"), p.Project)}
		detail = append(detail,
			"These roles hold "+permInvoke+" at project level. The program grants nothing there and cannot remove",
			"them: Cloud Run lets them through whatever the service's own policy says. Project owners can replace",
			"them with narrower roles ("+plan.RoleInvoker+" belongs on each service, not on the project):")
		detail = append(detail, indent(lines)...)
		if notes := defaultAccountNotes(lines); len(notes) > 0 {
			detail = append(detail, notes...)
		}
	}
	if len(unchecked) > 0 {
		detail = append(detail, "Could not check whether these roles include "+permInvoke+" (reading custom roles needs iam.roles.get):")
		detail = append(detail, indent(unchecked)...)
	}
	detail = append(detail, "Grants on the project's folders and organization reach the service too; this report does not read them.")
	f.Detail = detail
	return []Finding{f}
}

// defaultAccountNotes explain the default service accounts, which hold Editor unless an
// organization policy stopped it: every workload running as one can call the service.
func defaultAccountNotes(lines []string) []string {
	var notes []string
	for _, l := range lines {
		switch {
		case strings.Contains(l, "-compute@developer.gserviceaccount.com"):
			notes = append(notes, "The Compute Engine default account is among them: every VM, GKE node, Cloud Run service and function",
				"that runs as it can call this service.")
		case strings.Contains(l, "@appspot.gserviceaccount.com"):
			notes = append(notes, "The App Engine default account is among them: every App Engine app and first-generation function",
				"that runs as it can call this service.")
		}
	}
	return slices.Compact(notes)
}

func serviceFindings(req WhoElseRequest, t *target, grants map[string]roleCheck) []Finding {
	p := req.Plan
	if t.err != nil {
		var gerr *googleapi.Error
		if errors.As(t.err, &gerr) && gerr.Code == http.StatusNotFound {
			return []Finding{{Status: Warning, Summary: fmt.Sprintf("Service %s is not deployed in %s (project %s)", p.Service.Name, p.Service.Region, p.Project), Detail: []string{
				"Cloud Run answered 404 Not Found for it. Deploy the stack first:",
			}, Commands: []string{"pulumi up --refresh --stack " + req.Stack}}}
		}
		return []Finding{readError(req, t, t.err, "run.services.getIamPolicy")}
	}
	var out []Finding
	// The program's own binding and public members have findings of their own below.
	reported := func(b binding, m string) bool {
		_, ok := t.owned(b)
		return ok || m == "allUsers" || m == "allAuthenticatedUsers"
	}
	// Members of the program's own binding that the stack does not declare: the next deploy
	// removes them, but they can call until then.
	var extra, public []string
	live := map[string]bool{}
	for _, b := range t.bindings {
		want, ok := t.owned(b)
		for _, m := range b.members {
			if ok {
				live[m] = true
				if !isDeleted(m) && !slices.Contains(want, m) {
					extra = append(extra, m)
				}
			}
			if (m == "allUsers" || m == "allAuthenticatedUsers") && grants[b.role].grants {
				public = append(public, t.removeCmd(m, b.role, b.condition != ""))
			}
		}
	}
	if len(public) > 0 {
		out = append(out, Finding{Status: Warning, Summary: "The service is public: allUsers or allAuthenticatedUsers may invoke it", Detail: []string{
			"Anyone (with any Google account, for allAuthenticatedUsers) can call it. The program never grants this;",
			"someone added it outside the program. Remove it:",
		}, Commands: public})
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		detail := []string{fmt.Sprintf("They hold %s on %s but the stack does not declare them: someone added them outside", plan.RoleInvoker, p.Service.Name),
			"the program (console, gcloud):"}
		detail = append(detail, indent(extra)...)
		detail = append(detail, "If they should keep access, declare them as callers in Pulumi."+req.Stack+".yaml. Either way they can",
			"call until the next deploy, which rewrites the binding to the stack's list:")
		out = append(out, Finding{Status: Warning, Summary: fmt.Sprintf("%s on the service that the stack does not grant", plural(len(extra), "invoker")), Detail: detail,
			Commands: []string{"pulumi up --refresh --stack " + req.Stack}})
	}
	var missing []string
	for _, m := range p.Invokers {
		if !live[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		out = append(out, Finding{Status: Warning, Summary: fmt.Sprintf("The live service lacks %s the stack grants", plural(len(missing), "invoker")), Detail: append([]string{
			"The stack declares " + plan.RoleInvoker + " for them, but the service's policy does not hold it (not deployed yet,",
			"or changed by hand). Calls as them get 403 until you deploy:",
		}, indent(missing)...), Commands: []string{"pulumi up --refresh --stack " + req.Stack}})
	}
	// Other bindings on the service that let principals call it: not the program's.
	lines, unchecked := holders(t, grants, reported)
	if len(lines) > 0 {
		out = append(out, Finding{Status: Info, Summary: fmt.Sprintf("%s can call the service through bindings the program does not own", plural(len(lines), "principal")),
			Detail: append([]string{
				"These bindings on the service's own policy hold " + permInvoke + "; `pulumi up` leaves them alone. Remove one",
				"with `gcloud run services remove-iam-policy-binding` if it should not be there:",
			}, indent(lines)...)})
	}
	if len(unchecked) > 0 {
		out = append(out, Finding{Status: Info, Summary: "Could not check every role on the service", Detail: append([]string{
			"Whether these include " + permInvoke + " is unknown:",
		}, indent(unchecked)...)})
	}
	return out
}

func accountReadFindings(req WhoElseRequest, accounts []*target) []Finding {
	var failed []string
	var first error
	for _, a := range accounts {
		if a.err != nil {
			failed = append(failed, a.label)
			if first == nil {
				first = a.err
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return []Finding{readError(req, &target{label: plural(len(failed), "caller account")}, first, "iam.serviceAccounts.getIamPolicy", failed...)}
}

// deletedFindings report members IAM rewrote to deleted:KIND:EMAIL?uid=N when the principal was
// deleted. They grant nothing, but they stay until removed.
func deletedFindings(req WhoElseRequest, t *target) []Finding {
	var out []Finding
	for _, b := range t.bindings {
		for _, m := range b.members {
			if !isDeleted(m) {
				continue
			}
			where := b.role + " on " + t.label
			if b.condition != "" {
				where += " (condition " + shown(b.condition) + ")"
			}
			f := Finding{Status: Warning, Summary: "A deleted principal is still bound: " + shown(m) + " holds " + where}
			f.Detail = []string{"IAM rewrote the member when the principal was deleted. It grants nothing, but while it is there,"}
			was := undeleted(m)
			remove := t.removeCmd(m, b.role, b.condition != "")
			if want, owned := t.owned(b); owned {
				f.Detail = append(f.Detail,
					"every `pulumi preview` shows a diff on this binding (the program owns it authoritatively), and granting",
					shown(was)+" again fails.")
				if slices.Contains(want, was) {
					f.Detail = append(f.Detail, fmt.Sprintf("Pulumi.%s.yaml still lists %s: remove it there first, or the deploy tries to grant", req.Stack, shown(was)),
						"the deleted principal again and fails.")
				}
				f.Detail = append(f.Detail, "`pulumi up` rewrites the binding's member list without it (first command); or remove just that",
					"entry with gcloud (second command):")
				f.Commands = []string{"pulumi up --refresh --stack " + req.Stack, remove}
			} else {
				f.Detail = append(f.Detail,
					"granting "+shown(was)+" again fails. The program does not own this binding, so `pulumi up` leaves it;",
					"remove the entry with gcloud:")
				f.Commands = []string{remove}
			}
			out = append(out, f)
		}
	}
	return out
}

func isDeleted(member string) bool { return strings.HasPrefix(member, "deleted:") }

// undeleted is the member a deleted one was: deleted:user:a@b?uid=1 -> user:a@b.
func undeleted(member string) string {
	m := strings.TrimPrefix(member, "deleted:")
	m, _, _ = strings.Cut(m, "?uid=")
	return m
}

// readError explains a failed policy read; which lists the resources when the label counts them.
func readError(req WhoElseRequest, t *target, err error, permission string, which ...string) Finding {
	f := Finding{Status: Warning, Summary: "Could not read the IAM policy of " + t.label, Detail: []string{"Error: " + shortError(err)}}
	if len(which) > 0 {
		f.Detail = append(f.Detail, "Not read:")
		f.Detail = append(f.Detail, indent(which)...)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && (gerr.Code == http.StatusForbidden || gerr.Code == http.StatusUnauthorized) {
		f.Summary += ": permission denied"
		f.Detail = append(f.Detail,
			"Reading it needs "+permission+" (roles/iam.securityReviewer has it, and changes nothing).",
			"If your Application Default Credentials impersonate a caller account, that is expected: the caller",
			"must not hold it. Read the policies as yourself instead:")
		if req.AsYourself != "" {
			f.Commands = []string{req.AsYourself}
		}
	}
	return f
}

func clientError(err error, req WhoElseRequest) Finding {
	f := Finding{Status: Warning, Summary: "Could not read any IAM policy: no credentials to read them with", Detail: []string{"Error: " + shortError(err)}}
	if req.AsYourself != "" {
		f.Detail = append(f.Detail, "Read the policies as yourself:")
		f.Commands = []string{req.AsYourself}
	}
	return f
}

// shortError keeps a Google API error to its message: the full one repeats the URL and details.
func shortError(err error) string {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Message != "" {
		return fmt.Sprintf("%d %s", gerr.Code, gerr.Message)
	}
	return err.Error()
}

func indent(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "  " + shown(l)
	}
	return out
}

func withAll(cmd string, conditional bool) string {
	if conditional {
		// gcloud refuses to guess among a role's conditional bindings; --all removes the member
		// from each, which is right for a principal that no longer exists.
		return cmd + " --all"
	}
	return cmd
}

// shellQuote quotes for POSIX shells (and PowerShell, for values without a quote): a deleted
// member holds a ?, which a shell would expand as a glob.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
