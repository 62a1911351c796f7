// Package plan owns what the program declares, resolved from a validated config: every name,
// email, member, grant and warning computed up front. The Pulumi components render a plan, the
// access report prints it and the doctor reads it, so the three cannot disagree.
package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// Roles the program grants.
const (
	RoleInvoker            = "roles/run.invoker"
	RoleTokenCreator       = "roles/iam.serviceAccountTokenCreator"
	RoleOpenIDTokenCreator = "roles/iam.serviceAccountOpenIdTokenCreator"
	// RoleServiceAccountUser (actAs) lets a caller team's deployer run workloads as the caller.
	RoleServiceAccountUser = "roles/iam.serviceAccountUser"
	// RoleWorkloadIdentityUser lets a GKE workload run as the caller.
	RoleWorkloadIdentityUser = "roles/iam.workloadIdentityUser"
	// RoleSecretAccessor is what the runtime account holds on each secret it reads.
	RoleSecretAccessor      = "roles/secretmanager.secretAccessor"
	AuthzPermission         = "storage.buckets.get"
	impersonationCommandFmt = "gcloud auth application-default login --impersonate-service-account %s"
)

// APIs are the Google APIs the program needs: Cloud Run, IAM, IAM Credentials (impersonation)
// and Cloud Storage (the authz bucket).
var APIs = []string{"iam.googleapis.com", "iamcredentials.googleapis.com", "run.googleapis.com", "storage.googleapis.com"}

// APISecretManager is enabled too when the service reads a secret of its own project.
const APISecretManager = "secretmanager.googleapis.com"

// Stack is everything the program will declare, derived from a validated Config with every name,
// email and member computed up front. The Pulumi components render it and the access report
// prints it, so the two cannot disagree.
type Stack struct {
	Project string
	// CallersProject is where the caller accounts are created: Project unless config names
	// another (callersProject).
	CallersProject string
	// CallersAPIs are the APIs enabled in CallersProject when it is not Project: the accounts and
	// impersonation need IAM and IAM Credentials there.
	CallersAPIs []string
	Service     Service
	// Callers are sorted by name, so nothing depends on the order of the config list.
	Callers []Caller
	// Invokers are the members of the one roles/run.invoker binding on the service, sorted.
	Invokers []string
	// Authz is nil when the program declares neither the authz bucket nor its role.
	Authz      *AuthzGuard
	EnableAPIs bool
	APIs       []string
	Labels     map[string]string
	// Warnings are for the Pulumi log: nothing in them stops a deploy.
	Warnings diag.List
}

// ServiceBindings are the service's whole allow policy: one roles/run.invoker binding holding
// every caller that invokes it (Invokers), none when no caller does (IAM refuses an empty
// binding, and no binding is the same policy).
func (s *Stack) ServiceBindings() []Binding {
	if len(s.Invokers) == 0 {
		return nil
	}
	return []Binding{{Key: "run-invoker", Role: RoleInvoker, Members: s.Invokers}}
}

// Account is a service account, named before it exists.
type Account struct {
	ID     string
	Email  string
	Member string
	// Name is the IAM resource name: projects/<project>/serviceAccounts/<email>.
	Name string
}

// Service is the private Cloud Run service and its runtime account.
type Service struct {
	Name    string
	Region  string
	Image   string
	Ingress string // the Cloud Run v2 enum
	Port    int
	Env     map[string]string
	// MinInstances and MaxInstances are always sent (see Config.MaxInstances).
	MinInstances int
	MaxInstances int
	// IgnoreImage leaves the image, and the client fields deploy tools stamp, to the app's own
	// pipeline after the first deploy (service.imageOwner: pipeline).
	IgnoreImage bool
	Protect     bool
	// Secrets are the distinct secrets the runtime account reads (an accessor grant on each);
	// SecretEnvs and SecretVolumes are how the container sees them.
	Secrets       []config.SecretRef
	SecretEnvs    []SecretEnv
	SecretVolumes []SecretVolume
	VPC           *VPC
	// CPU and Memory are always sent, as are CPUIdle, Concurrency and Timeout ("<n>s"): see the
	// defaults in config/container.go.
	CPU, Memory     string
	CPUIdle         bool
	StartupCPUBoost bool
	Concurrency     int
	Timeout         string
	// ExecutionEnvironment is the API's enum, "" to leave it to Cloud Run.
	ExecutionEnvironment string
	// StartupProbe is always set (Cloud Run's default TCP probe when config has none);
	// LivenessProbe is nil when config has none.
	StartupProbe  config.ProbeValues
	LivenessProbe *config.ProbeValues
	Runtime       Account
	// RuntimeCreated is false when service.runtimeAccount names an account made elsewhere.
	RuntimeCreated bool
	// Audiences are the custom audiences (service.audiences), sorted: what the service is sent,
	// so that reordering them in config changes nothing. PrimaryAudience is the first as
	// written, the one outputs and hints name; "" when there are none (callers then use the URL).
	Audiences       []string
	PrimaryAudience string
}

// Caller is one caller and what it is granted.
type Caller struct {
	Name        string
	Description string
	Account     Account
	// Created is false for an existing account named by email.
	Created bool
	Invoke  bool
	Authz   bool
	// Impersonators are the roles/iam.serviceAccountTokenCreator bindings on the account, from
	// config's impersonators (the stack-wide list and the caller's own): one without a condition,
	// one per distinct expiry. Expired grants are left out.
	Impersonators []Binding
	// OpenIDSelf is the roles/iam.serviceAccountOpenIdTokenCreator grant to the account on itself,
	// which Go's idtoken needs under impersonation; true when anyone may impersonate it.
	OpenIDSelf bool
	// RunAs are the bindings that let the caller's workloads run as its account (config's
	// runAs): deployers, GKE workloads, other projects' Cloud Run service agents.
	RunAs []Binding
}

// Keys of the run-as bindings, by what they let a workload do.
const (
	KeyRunAsDeployers = "run-as-deployers"
	KeyRunAsGKE       = "run-as-gke"
	KeyRunAsCloudRun  = "run-as-cloud-run"
)

// AccountBindings are the caller account's whole allow policy: the impersonators' bindings, the
// OpenID self-grant when anyone may impersonate it, then the run-as bindings.
func (c Caller) AccountBindings() []Binding {
	out := append([]Binding(nil), c.Impersonators...)
	if c.OpenIDSelf {
		out = append(out, Binding{Key: "openid-self", Role: RoleOpenIDTokenCreator, Members: []string{c.Account.Member}})
	}
	return append(out, c.RunAs...)
}

// Impersonable reports whether anyone may impersonate the caller's account now.
func (c Caller) Impersonable() bool { return len(c.Impersonators) > 0 }

// ImpersonationCommand is what a developer runs to call the API locally as this caller.
func (c Caller) ImpersonationCommand() string {
	return fmt.Sprintf(impersonationCommandFmt, c.Account.Email)
}

// Binding is one binding of a role in a policy the program owns whole (a caller's account, the
// service, the authz bucket): its members and an optional expiry condition. It is the one
// binding type from the plan to the resources: package iam renders a target's []Binding into its
// policy document as it is.
type Binding struct {
	// Key names the binding stably within its target ("token-creator", "run-as-gke"), whatever
	// order config lists things in.
	Key     string
	Role    string
	Members []string
	// Expires, when set, becomes the condition `request.time < timestamp("<Expires>")`.
	Expires *time.Time
}

// ConditionTitle and ConditionExpression render the binding's expiry as an IAM condition.
func (b Binding) ConditionTitle() string {
	return "expires-" + strings.ToLower(b.Expires.UTC().Format("20060102t150405z"))
}

func (b Binding) ConditionExpression() string {
	return fmt.Sprintf("request.time < timestamp(%q)", b.Expires.UTC().Format(time.RFC3339))
}

// AuthzGuard is the authz bucket and its custom role.
type AuthzGuard struct {
	// RoleName is the custom role granted on the bucket, whether the program creates it or not.
	RoleName string
	// Role is the custom role the program creates; nil when authz.role names one made elsewhere.
	Role *Role
	// Bucket is nil when authz.enabled is false. The role the program creates stays even then: a
	// deleted custom role's ID is blocked for up to 37 days, so deleting it would make turning
	// the guard on again fail.
	Bucket *Bucket
}

// BucketBindings are the authz bucket's whole allow policy: the custom role held by every
// caller the guard lets through; none when the guard is off or no caller passes it.
func (a *AuthzGuard) BucketBindings() []Binding {
	if a.Bucket == nil || len(a.Bucket.Members) == 0 {
		return nil
	}
	return []Binding{{Key: "authz-guard", Role: a.RoleName, Members: a.Bucket.Members}}
}

// Role is a custom role the program creates.
type Role struct {
	ID          string
	Title       string
	Description string
	Permissions []string
}

// Bucket is the authz bucket and the whole of its IAM policy.
type Bucket struct {
	Name     string
	Location string
	// Members hold the custom role on the bucket, sorted. They are the bucket's only principals:
	// the policy is owned whole, so the convenience bindings Cloud Storage adds to a new bucket
	// (project owners, editors and viewers) are removed.
	Members []string
}

// Resolve derives the plan from a validated config. now decides which expiries have passed: a
// past expiry grants nothing and adds a warning, so a deploy never fails because a date went by.
func Resolve(c *config.Config, now time.Time) *Stack {
	p := &Stack{
		Project:        c.Project,
		CallersProject: c.CallerAccountsProject(),
		EnableAPIs:     c.EnableAPIs,
		APIs:           append([]string(nil), APIs...),
		Labels:         c.Labels,
	}
	runtimeEmail := c.RuntimeEmail()
	p.Service = Service{
		Name:           c.Service.Name,
		Region:         c.ServiceRegion(),
		Image:          c.Service.Image,
		Ingress:        config.IngressValues[c.IngressOrDefault()],
		Port:           c.Port(),
		Env:            c.Service.Env,
		MinInstances:   c.MinInstances(),
		MaxInstances:   c.MaxInstances(),
		IgnoreImage:    c.ImageOwnerOrDefault() == config.ImageOwnerPipeline,
		Protect:        c.Protected(),
		Runtime:        AccountOf(c.Project, c.RuntimeAccountID(), runtimeEmail),
		RuntimeCreated: c.Service.RuntimeAccount == "",
	}

	if !p.Service.RuntimeCreated {
		p.Service.Runtime.ID = ""
	}
	resolveRuntime(c, &p.Service)
	for _, sec := range p.Service.Secrets {
		if sec.Project == c.Project && !slices.Contains(p.APIs, APISecretManager) {
			p.APIs = append(p.APIs, APISecretManager)
		}
	}

	warned := map[string]bool{}
	expired := func(path diag.Path, imp config.Impersonator, t time.Time) {
		if !warned[path.String()] {
			warned[path.String()] = true
			p.Warnings.Warn(diag.Invalid, path, imp.Member, "expired at "+t.UTC().Format(time.RFC3339)+" and grants nothing", "remove the entry from the stack config")
		}
	}

	// Defaults first, so that a stale entry is reported even when no caller account exists.
	for j, imp := range c.Impersonators {
		if t, err := config.ParseExpiry(imp.Expires); err == nil && !t.After(now) {
			expired(diag.NewPath(config.KeyImpersonators).Index(j), imp, t)
		}
	}
	warnFarExpiries(p, c, now)

	var guardMembers []string
	created := 0
	for i, caller := range c.Callers {
		email := c.CallerEmail(caller)
		cp := Caller{
			Name:        caller.Name,
			Description: caller.Description,
			Account:     AccountOf(p.CallersProject, caller.Name, email),
			Created:     !caller.External(),
			Invoke:      caller.Invokes(),
			Authz:       caller.Authz,
		}
		if caller.External() {
			cp.Account.ID = ""
			cp.Account.Name = ""
		} else {
			created++
			cp.Impersonators = impersonatorBindings(c.Impersonators, caller.Impersonators, now,
				func(j int, own bool, imp config.Impersonator, t time.Time) {
					path := diag.NewPath(config.KeyImpersonators).Index(j)
					if own {
						path = c.CallerPath(i).Child("impersonators").Index(j)
					}
					expired(path, imp, t)
				})
			cp.OpenIDSelf = cp.Impersonable()
			cp.RunAs = runAs(caller.RunAs)
		}
		if cp.Invoke {
			p.Invokers = append(p.Invokers, cp.Account.Member)
		}
		if cp.Authz {
			guardMembers = append(guardMembers, cp.Account.Member)
		}
		p.Callers = append(p.Callers, cp)
	}
	sort.Slice(p.Callers, func(a, b int) bool { return p.Callers[a].Name < p.Callers[b].Name })
	sort.Strings(p.Invokers)
	sort.Strings(guardMembers)

	if c.Authz.On() || c.OwnsRole() {
		p.Authz = &AuthzGuard{RoleName: c.RoleName()}
	}
	if c.OwnsRole() {
		p.Authz.Role = &Role{
			ID:          c.RoleID(),
			Title:       c.RoleTitle(),
			Description: fmt.Sprintf("Held on the authz bucket of %s by the callers allowed through its guard; grants only %s.", c.Service.Name, AuthzPermission),
			Permissions: []string{AuthzPermission},
		}
	}
	if c.Authz.On() {
		p.Authz.Bucket = &Bucket{Name: c.BucketName(), Location: c.BucketLocation(), Members: guardMembers}
	}
	if len(p.Invokers) == 0 {
		p.Warnings.Warn(diag.Required, diag.NewPath(config.KeyCallers), "", "no caller may invoke the private service: no roles/run.invoker binding is declared, so only project owners and editors can call it", "give a caller invoke: true (the default) when the service should be called")
	}
	inQuota, what := created, "caller accounts"
	if p.CallersProject != p.Project {
		p.CallersAPIs = []string{"iam.googleapis.com", "iamcredentials.googleapis.com"}
	} else {
		inQuota, what = created+1, "caller accounts plus the runtime account" // one project's quota
	}
	if inQuota > gcp.ServiceAccountQuota {
		p.Warnings.Warn(diag.TooMany, diag.NewPath(config.KeyCallers), fmt.Sprint(created), fmt.Sprintf("%s exceed the default quota of %d service accounts per project (%s)", what, gcp.ServiceAccountQuota, p.CallersProject), "request more in the console (IAM & Admin > Quotas, \"Service accounts\") before `pulumi up`")
	}

	return p
}

// MaxExpiry is how far away an expiry may be without a warning: a grant for longer is a standing
// grant in all but name, and nobody reviews it again before it runs out.
const MaxExpiry = "a year"

// warnFarExpiries warns of every expires more than a year after now, in config order, naming the
// entry and its member.
func warnFarExpiries(p *Stack, c *config.Config, now time.Time) {
	limit := now.AddDate(1, 0, 0)
	check := func(path diag.Path, imps []config.Impersonator) {
		for j, imp := range imps {
			if t, err := config.ParseExpiry(imp.Expires); err == nil && t.After(limit) {
				p.Warnings.Warn(diag.Invalid, path.Index(j).Child("expires"), imp.Expires,
					fmt.Sprintf("is more than %s away (%s may impersonate until %s): a grant that long is a standing grant nobody reviews", MaxExpiry, imp.Member, t.Format(time.RFC3339)),
					"set an expiry within "+MaxExpiry+" and renew it when it is still needed, or remove expires if the grant is meant to be permanent")
			}
		}
	}
	check(diag.NewPath(config.KeyImpersonators), c.Impersonators)
	for i, caller := range c.Callers {
		check(c.CallerPath(i).Child("impersonators"), caller.Impersonators)
	}
}

// AccountOf is the service account id of project with its email, member and resource name,
// for both programs (the bootstrap names its CI accounts with it). It registers nothing:
// iam.NewAccount does.
func AccountOf(project, id, email string) Account {
	return Account{ID: id, Email: email, Member: "serviceAccount:" + email, Name: gcp.AccountName(project, email)}
}

// runAs turns a caller's run-as config into its bindings, members sorted, empty ones left out.
func runAs(r *config.RunAs) []Binding {
	if r == nil {
		return nil
	}
	var agents []string
	for _, n := range r.CloudRunProjects {
		agents = append(agents, config.CloudRunAgent(n))
	}
	var out []Binding
	for _, b := range []Binding{
		{Key: KeyRunAsDeployers, Role: RoleServiceAccountUser, Members: r.Deployers},
		{Key: KeyRunAsGKE, Role: RoleWorkloadIdentityUser, Members: r.GKEWorkloads},
		{Key: KeyRunAsCloudRun, Role: RoleTokenCreator, Members: agents},
	} {
		if len(b.Members) > 0 {
			b.Members = slices.Sorted(slices.Values(b.Members))
			out = append(out, b)
		}
	}
	return out
}

// impersonatorBindings merges the default and the caller's own impersonators and groups them by
// expiry.
// A member listed in both keeps the longer grant (no expiry beats any expiry). onExpired is told
// of every entry whose expiry has passed.
func impersonatorBindings(defaults, own []config.Impersonator, now time.Time, onExpired func(j int, own bool, imp config.Impersonator, t time.Time)) []Binding {
	// best holds each member's longest grant; a zero time means no expiry.
	best := make(map[string]time.Time, len(defaults)+len(own))
	add := func(list []config.Impersonator, isOwn bool) {
		for j, imp := range list {
			var t time.Time
			if imp.Expires != "" {
				t, _ = config.ParseExpiry(imp.Expires) // validated already
				if !t.After(now) {
					onExpired(j, isOwn, imp, t)
					continue
				}
			}
			prev, seen := best[imp.Member]
			switch {
			case !seen:
				best[imp.Member] = t
			case prev.IsZero():
			case t.IsZero() || t.After(prev):
				best[imp.Member] = t
			}
		}
	}
	add(defaults, false)
	add(own, true)

	groups := map[time.Time][]string{}
	for m, t := range best {
		groups[t.UTC()] = append(groups[t.UTC()], m)
	}
	out := make([]Binding, 0, len(groups))
	for t, members := range groups {
		sort.Strings(members)
		b := Binding{Key: "token-creator", Role: RoleTokenCreator, Members: members}
		if !t.IsZero() {
			t := t
			b.Expires = &t
			b.Key = "token-creator-" + b.ConditionTitle()
		}
		out = append(out, b)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out
}
