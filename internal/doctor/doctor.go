package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/plan"
)

// Request is what to diagnose.
type Request struct {
	// Dir holds Pulumi.yaml and Pulumi.<Stack>.yaml.
	Dir   string
	Stack string
	// Caller is a caller's name (or its account email).
	Caller string
	// Me is the developer's IAM member, "user:alice@example.com"; "" when not given, in which
	// case the doctor lists who may impersonate instead of checking.
	Me string
	// Now decides which expiring grants have passed, as plan.Resolve does at deploy time.
	Now time.Time
	Env Env
}

// UsageError is a request the doctor cannot answer as asked: an unknown caller, a bad -me.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Diagnose reads the stack as the program does and the ADC as Go's libraries do, and reports
// everything that will make the local call fail. The error is a *UsageError, one wrapping a
// *diag.ConfigError (the program's own list of config problems, after the stack file's name) or
// a failure to read the stack files.
func Diagnose(req Request) (*Report, error) {
	sf, err := ReadStack(req.Dir, req.Stack)
	if err != nil {
		return nil, err
	}
	st, cfg, err := plan.Load(sf, req.Now)
	if err != nil {
		return nil, err
	}

	d := &diag{req: req, cfg: cfg, plan: st, index: -1}
	if err := d.pickCaller(); err != nil {
		return nil, err
	}
	if req.Me != "" {
		me, err := normalizeMember(req.Me)
		if err != nil {
			return nil, err
		}
		d.me = me
	}
	d.creds = Locate(req.Env, isFile)
	d.r = &Report{Stack: req.Stack, Caller: d.caller, Service: st.Service, Credentials: d.creds}

	d.stackFindings()
	d.credentialFindings()
	d.grantFindings()
	return d.r, nil
}

// ReadStack reads stack's file from the project in dir, saying where stacks are looked for when
// it cannot; plan.Load resolves it.
func ReadStack(dir, stack string) (config.StackFile, error) {
	sf, err := config.ReadStack(config.Dir(dir), stack)
	if err != nil {
		return config.StackFile{}, fmt.Errorf("cannot read stack %q from %s: %w\n(run from the repository root, or pass -dir; stacks are the Pulumi.<stack>.yaml files there)", stack, dir, err)
	}
	return sf, nil
}

// diag carries one diagnosis.
type diag struct {
	req    Request
	cfg    *config.Config
	plan   *plan.Stack
	caller plan.Caller
	// index is the caller's position in the stack file's callers list, for config paths.
	index int
	me    string
	creds Credentials
	r     *Report
}

func (d *diag) pickCaller() error {
	names := make([]string, 0, len(d.plan.Callers))
	for _, c := range d.plan.Callers {
		n := c.Name
		if !c.Created {
			n += " (external)"
		}
		names = append(names, n)
	}
	want := strings.TrimSpace(d.req.Caller)
	if want == "" {
		return &UsageError{fmt.Sprintf("pass -caller NAME: the caller service whose account you call as. Callers in stack %s: %s", d.req.Stack, strings.Join(names, ", "))}
	}
	for _, c := range d.plan.Callers {
		if c.Name == want || strings.EqualFold(c.Account.Email, want) {
			d.caller = c
			break
		}
	}
	if d.caller.Name == "" {
		return &UsageError{fmt.Sprintf("caller %q is not in stack %s. Callers in stack %s: %s", want, d.req.Stack, d.req.Stack, strings.Join(names, ", "))}
	}
	for i, c := range d.cfg.Callers {
		if c.Name == d.caller.Name {
			d.index = i
		}
	}
	return nil
}

// normalizeMember accepts "user:a@b", "serviceAccount:x@y" or a bare email (taken as a user),
// in lower case as IAM stores members.
func normalizeMember(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	kind, email, ok := strings.Cut(s, ":")
	if !ok {
		kind, email = "user", s
	}
	if kind == "serviceaccount" {
		kind = "serviceAccount"
	}
	if (kind != "user" && kind != "serviceAccount") || !strings.Contains(email, "@") || strings.HasPrefix(email, "@") || strings.HasSuffix(email, "@") {
		return "", &UsageError{fmt.Sprintf("-me %q: write the identity you log in to gcloud with, as user:EMAIL (for example -me user:alice@example.com)", s)}
	}
	return kind + ":" + email, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// callerValue names one value of the caller's config: callers[2].invoke, or
// callers/orders-audit.yaml:invoke for a caller file.
func (d *diag) callerValue(sub string) string {
	return d.cfg.CallerPath(d.index).Child(sub).String()
}

// declaredIn is the file the caller is declared in: its caller file, or the stack file.
func (d *diag) declaredIn() string {
	if d.index >= 0 {
		if file, ok := strings.CutSuffix(d.cfg.CallerPath(d.index).String(), ":"); ok {
			return file
		}
	}
	return "Pulumi." + d.req.Stack + ".yaml"
}

// setCmd is how to set one value of the caller's config: `pulumi config set --path` for an entry
// of the inline list (a key without a namespace is the project's own), or the edit of its file.
func (d *diag) setCmd(sub, value string) string {
	if file, ok := strings.CutSuffix(d.cfg.CallerPath(d.index).String(), ":"); ok {
		return fmt.Sprintf("# in %s, set %s to %s", file, sub, value)
	}
	return fmt.Sprintf("pulumi config set --stack %s --path '%s' %s", d.req.Stack, d.callerValue(sub), value)
}

func (d *diag) deploy() string { return "pulumi up --refresh --stack " + d.req.Stack }

func (d *diag) loginCmd() string { return d.caller.ImpersonationCommand() }

// loginFix is what to type to end up with an impersonated login Go will read.
func (d *diag) loginFix() []string {
	switch {
	case d.creds.Source == SourceEnv:
		// The login writes gcloud's file, which Go ignores while the variable is set.
		return []string{unsetCredentialsCmd(d.req.Env), d.loginCmd()}
	case d.creds.Source == SourceNone && d.creds.CloudSDKPath != "":
		return []string{d.loginCmd(), exportCredentialsCmd(d.req.Env, d.creds.CloudSDKPath)}
	default:
		return []string{d.loginCmd()}
	}
}

// whoIs names an account the way the stack knows it.
func (d *diag) whoIs(email string) string {
	email = strings.ToLower(email)
	if email == d.plan.Service.Runtime.Email {
		return "the service's own runtime account, which is not a caller and may not invoke the service"
	}
	for _, c := range d.plan.Callers {
		if c.Account.Email == email {
			return "the account of caller " + c.Name
		}
	}
	return "an account this stack does not declare"
}

func (d *diag) createdCallers() []string {
	var out []string
	for _, c := range d.plan.Callers {
		if c.Created && c.Invoke && c.Name != d.caller.Name {
			out = append(out, c.Name)
		}
	}
	return out
}

// stackFindings are the failures the stack config alone guarantees, whatever the credentials.
func (d *diag) stackFindings() {
	c := d.caller
	if !c.Created {
		project := projectOf(c.Account.Email)
		detail := []string{
			fmt.Sprintf("%s names an existing account, %s, that this stack does not own: it grants", c.Name, c.Account.Email),
			"nobody roles/iam.serviceAccountTokenCreator on it, so impersonation is not granted by this stack.",
			fmt.Sprintf("Ask the owners of project %s for that role on the account, or call as a caller this stack creates:", project),
		}
		var cmds []string
		for _, n := range d.createdCallers() {
			cmds = append(cmds, fmt.Sprintf("go run ./cmd/doctor -stack %s -caller %s", d.req.Stack, n))
		}
		d.r.add(Problem, fmt.Sprintf("Caller %s is external: this stack grants no impersonation of its account", c.Name), detail, cmds...)
	}
	if !c.Invoke {
		path := d.callerValue("invoke")
		detail := []string{
			fmt.Sprintf("The stack sets invoke: false on %s (%s), so its account holds no %s on %s.", c.Name, path, plan.RoleInvoker, d.plan.Service.Name),
			"Cloud Run checks that before your code runs; no credentials fix it.",
			"If this caller should call the API, set invoke to true and deploy; otherwise diagnose a caller that invokes.",
		}
		d.r.add(Problem, fmt.Sprintf("Caller %s may not invoke the service: every call as it gets 403, whatever the credentials", c.Name), detail,
			d.setCmd("invoke", "true"), d.deploy())
	}
	if c.Created && !c.Impersonable() {
		who := d.me
		if who == "" {
			who = "user:YOU@example.com"
		}
		detail := []string{
			"No impersonators are listed for it (nor in the stack-wide impersonators), or every entry has expired,",
			"so every impersonated call fails with \"Permission 'iam.serviceAccounts.getOpenIdToken' denied\" (or getAccessToken).",
			"Add yourself (a reviewed change to " + d.declaredIn() + "), deploy, and allow about 2 minutes:",
		}
		n := 0
		if d.index >= 0 {
			n = len(d.cfg.Callers[d.index].Impersonators)
		}
		d.r.add(Problem, fmt.Sprintf("Nobody may impersonate %s's account in this stack", c.Name), detail,
			d.setCmd(fmt.Sprintf("impersonators[%d]", n), who), d.deploy())
	}
	switch d.plan.Service.Ingress {
	case config.IngressValues[config.IngressInternal]:
		d.r.add(Problem, "The service accepts internal traffic only: a laptop can never reach it directly", []string{
			"service.ingress is \"internal\": Cloud Run refuses requests that do not come from the project's VPC,",
			"before IAM is even checked. Call it from a VM or service inside the VPC, or set ingress to \"all\"",
			"(the invoker IAM check still applies under every ingress).",
		})
	case config.IngressValues[config.IngressInternalAndLB]:
		d.r.add(Warning, "The service accepts internal and load-balancer traffic only: call it through the load balancer", []string{
			"service.ingress is \"internal-and-cloud-load-balancing\": a call from a laptop to the run.app URL is refused;",
			"use the external Application Load Balancer's address for -url.",
		})
	}
	if a := d.plan.Service.PrimaryAudience; a != "" {
		more := ""
		if n := len(d.plan.Service.Audiences) - 1; n > 0 {
			more = fmt.Sprintf(" (and %d more)", n)
		}
		d.r.add(OK, "The service accepts ID tokens for the custom audience "+a+more, []string{
			"service.audiences declares it, so your code can use it before any deploy; Cloud Run also accepts the",
			"run.app URL. Mint the token for the audience and send the request to the service URL:",
			"idtoken.NewClient(ctx, \"" + a + "\"), then client.Get(serviceURL + path). -online does the same.",
		})
	}
	if !d.plan.EnableAPIs {
		d.r.add(Warning, "The stack does not enable iamcredentials.googleapis.com, which impersonation needs", []string{
			"enableApis is false, so the API must already be enabled in project " + d.plan.Project + ". If it is not, impersonation",
			"fails with SERVICE_DISABLED. Someone with Service Usage Admin can enable it:",
		}, "gcloud services enable iamcredentials.googleapis.com --project "+d.plan.Project)
	}
}

// credentialFindings report which file Go reads and what is wrong with it.
func (d *diag) credentialFindings() {
	c := d.creds
	env := d.req.Env
	if c.CloudSDKRelative != "" {
		d.r.add(Warning, envCloudSDK+" is a relative path: each directory you run gcloud in gets its own login", []string{
			fmt.Sprintf("%s is %s. gcloud resolves it against its working directory, so a login made in one", envCloudSDK, shown(c.CloudSDKRelative)),
			fmt.Sprintf("directory is not found from another. From here it means %s.", shown(filepath.Dir(c.CloudSDKPath))),
			"Make it absolute (and change it in your shell profile too):",
		}, exportCmd(env, envCloudSDK, filepath.Dir(c.CloudSDKPath)))
	}
	switch c.Source {
	case SourceEnv:
		if other := d.gcloudFile(); other != "" {
			d.r.add(Warning, envCredentials+" is set, so it wins over your gcloud login", []string{
				fmt.Sprintf("It names %s. While it is set, Go never reads %s, so an impersonated", shown(c.EnvPath), shown(other)),
				"`gcloud auth application-default login` is silently ignored. If that is not what you want, unset it",
				"(and remove it from your shell profile or IDE run configuration):",
			}, unsetCredentialsCmd(env))
		}
	case SourceGcloud:
		if c.CloudSDKExists {
			d.r.add(Warning, "Go reads a different gcloud file than the one gcloud writes", []string{
				fmt.Sprintf("%s is set, so `gcloud auth application-default login` writes %s;", envCloudSDK, shown(c.CloudSDKPath)),
				fmt.Sprintf("Go's libraries ignore %s and read %s, which may be an older login.", envCloudSDK, shown(c.GcloudPath)),
				"To make Go use your latest login:",
			}, exportCredentialsCmd(env, c.CloudSDKPath))
		}
	case SourceCloudSDK:
		d.r.add(Problem, "Go will not find your gcloud login: it ignores "+envCloudSDK, []string{
			fmt.Sprintf("%s is set, so gcloud wrote your login to %s; Go's libraries only read", envCloudSDK, shown(c.CloudSDKPath)),
			fmt.Sprintf("%s and %s (golang/oauth2#506), so the call fails with", envCredentials, shown(c.GcloudPath)),
			"\"could not find default credentials\". Point Go at the file (the findings below assume you did):",
		}, exportCredentialsCmd(env, c.CloudSDKPath))
	case SourceNone:
		detail := []string{
			fmt.Sprintf("%s is not set and %s does not exist, so idtoken.NewClient fails with", envCredentials, shown(c.GcloudPath)),
			"\"could not find default credentials\". Log in with gcloud, impersonating the caller's account:",
		}
		if c.CloudSDKPath != "" {
			detail = append(detail, fmt.Sprintf("(%s is set, so gcloud will write %s, which Go does not read: export it too.)", envCloudSDK, shown(c.CloudSDKPath)))
		}
		d.r.add(Problem, "No Application Default Credentials found", detail, d.loginFix()...)
		return
	}

	data, err := readCredentials(c.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && c.Source == SourceEnv:
		d.r.add(Problem, envCredentials+" names a file that does not exist", []string{
			fmt.Sprintf("%s does not exist. Go does not fall back to gcloud's file: the call fails with", shown(c.Path)),
			"\"google: error getting credentials using GOOGLE_APPLICATION_CREDENTIALS environment variable\".",
			"Unset it and log in, impersonating the caller's account:",
		}, d.loginFix()...)
		return
	case errors.Is(err, errNotRegular):
		d.r.add(Problem, "The credentials path is not a regular file", []string{
			err.Error() + ". Go's libraries would block or fail reading it.",
			"Remove it (or, for " + envCredentials + ", point the variable at a real file) and log in again:",
		}, d.loginFix()...)
		return
	case errors.Is(err, errTooLarge):
		d.r.add(Problem, "The credentials file is too large to be one", []string{
			err.Error() + " (real ones are a few kilobytes).",
			"Something else was written there. Log in again, which rewrites gcloud's file:",
		}, d.loginFix()...)
		return
	case err != nil:
		d.r.add(Problem, "Cannot read the credentials file", []string{shown(err.Error()), "Fix its permissions, or log in again, which rewrites it:"}, d.loginFix()...)
		return
	}
	d.diagnoseFile(data)
}

// gcloudFile is a gcloud login that GOOGLE_APPLICATION_CREDENTIALS hides, if there is one.
func (d *diag) gcloudFile() string {
	switch {
	case d.creds.GcloudExists && d.creds.GcloudPath != d.creds.EnvPath:
		return d.creds.GcloudPath
	case d.creds.CloudSDKExists && d.creds.CloudSDKPath != d.creds.EnvPath:
		return d.creds.CloudSDKPath
	}
	return ""
}

// grantFindings check whether the developer may impersonate the caller's account. They matter
// whatever the credentials are today: every fix the doctor prints ends in that impersonation.
func (d *diag) grantFindings() {
	c := d.caller
	if !c.Created || !c.Impersonable() {
		return
	}
	if d.me == "" {
		detail := []string{"This stack grants " + plan.RoleTokenCreator + " on it to:"}
		for _, l := range d.grantLines() {
			detail = append(detail, "  "+l)
		}
		detail = append(detail, "Run again with -me user:YOUR-EMAIL (the account you log in to gcloud with) to check your own grant.")
		d.r.add(Warning, fmt.Sprintf("Not checked: whether you may impersonate %s", c.Account.Email), detail)
		return
	}

	var direct *plan.Binding
	var domains, groups []string
	for i, b := range c.Impersonators {
		for _, m := range b.Members {
			switch {
			case m == d.me:
				direct = &c.Impersonators[i]
			case strings.HasPrefix(m, "group:"):
				groups = append(groups, m)
			case strings.HasPrefix(m, "domain:") && strings.HasPrefix(d.me, "user:") && strings.HasSuffix(d.me, "@"+strings.TrimPrefix(m, "domain:")):
				domains = append(domains, m)
			}
		}
	}
	sort.Strings(groups)
	expiredPath, expiredAt := d.expiredGrant()

	switch {
	case direct != nil:
		until := "with no expiry"
		status := OK
		if direct.Expires != nil {
			until = "until " + direct.Expires.UTC().Format(time.RFC3339)
			if direct.Expires.Sub(d.req.Now) < 7*24*time.Hour {
				status = Warning
				until += ", which is less than 7 days away: ask for an extension now"
			}
		}
		d.r.add(status, fmt.Sprintf("You (%s) may impersonate %s", d.me, c.Account.Email), []string{
			fmt.Sprintf("The stack grants you %s on the account, %s.", plan.RoleTokenCreator, until),
		})
	case len(domains) > 0:
		d.r.add(OK, fmt.Sprintf("You (%s) may impersonate %s through %s", d.me, c.Account.Email, domains[0]), []string{
			fmt.Sprintf("The stack grants %s on the account to %s.", plan.RoleTokenCreator, strings.Join(domains, ", ")),
		})
	case len(groups) > 0:
		detail := []string{
			fmt.Sprintf("The stack grants %s on %s to %s,", plan.RoleTokenCreator, c.Account.Email, strings.Join(groups, ", ")),
			"and the doctor cannot see group membership offline. If you are not sure you are a member, ask an",
			"owner of the group, or have yourself added to the caller's impersonators and deploy:",
		}
		if expiredPath != "" {
			detail = append([]string{fmt.Sprintf("Your own entry, %s, expired at %s.", expiredPath, expiredAt)}, detail...)
		}
		d.r.add(Warning, fmt.Sprintf("You (%s) are not named directly; you may impersonate %s only through a group", d.me, c.Account.Email), detail,
			d.addMeCmd(), d.deploy())
	case expiredPath != "":
		d.r.add(Problem, fmt.Sprintf("Your grant to impersonate %s expired at %s", c.Account.Email, expiredAt), []string{
			fmt.Sprintf("%s gave %s %s until then; the program leaves expired entries out, so", expiredPath, d.me, plan.RoleTokenCreator),
			"impersonated calls fail with \"Permission 'iam.serviceAccounts.getOpenIdToken' denied\" (or getAccessToken).",
			"Extend it (a reviewed change to " + d.declaredIn() + "), deploy, and allow about 2 minutes:",
		}, fmt.Sprintf("pulumi config set --stack %s --path '%s.expires' YYYY-MM-DDT00:00:00Z", d.req.Stack, expiredPath), d.deploy())
	default:
		detail := []string{"The stack grants " + plan.RoleTokenCreator + " on it only to:"}
		for _, l := range d.grantLines() {
			detail = append(detail, "  "+l)
		}
		detail = append(detail,
			"so impersonated calls fail with \"Permission 'iam.serviceAccounts.getOpenIdToken' denied\" (or getAccessToken).",
			"The role must be granted to you on the account (granting it to the account itself does not help).",
			"Add yourself (a reviewed change to "+d.declaredIn()+"), deploy, and allow about 2 minutes:")
		d.r.add(Problem, fmt.Sprintf("You (%s) may not impersonate %s", d.me, c.Account.Email), detail, d.addMeCmd(), d.deploy())
	}
}

func (d *diag) addMeCmd() string {
	n := len(d.cfg.Callers[d.index].Impersonators)
	return d.setCmd(fmt.Sprintf("impersonators[%d]", n), d.me)
}

// grantLines list the caller's impersonators with their expiry, one member a line.
func (d *diag) grantLines() []string {
	var out []string
	for _, b := range d.caller.Impersonators {
		until := "(no expiry)"
		if b.Expires != nil {
			until = "(until " + b.Expires.UTC().Format(time.RFC3339) + ")"
		}
		for _, m := range b.Members {
			out = append(out, m+" "+until)
		}
	}
	sort.Strings(out)
	return out
}

// expiredGrant finds the developer's own entry whose expiry has passed, which Resolve dropped
// from the plan: the path to edit and when it ended.
func (d *diag) expiredGrant() (string, string) {
	var latest time.Time
	path := ""
	check := func(prefix string, list []config.Impersonator) {
		for j, imp := range list {
			if imp.Member != d.me || imp.Expires == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339, imp.Expires)
			if err == nil && !t.After(d.req.Now) && t.After(latest) {
				latest, path = t, fmt.Sprintf("%s[%d]", prefix, j)
			}
		}
	}
	check(config.KeyImpersonators, d.cfg.Impersonators)
	if d.index >= 0 {
		check(d.callerValue("impersonators"), d.cfg.Callers[d.index].Impersonators)
	}
	if path == "" {
		return "", ""
	}
	return path, latest.UTC().Format(time.RFC3339)
}

// projectOf reads the project from a service account email, for messages.
func projectOf(email string) string {
	_, domain, _ := strings.Cut(email, "@")
	if p, ok := strings.CutSuffix(domain, ".iam.gserviceaccount.com"); ok {
		return p
	}
	return domain
}
