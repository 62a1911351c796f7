// Package program composes the program: it loads the stack config once, resolves it into a plan,
// and hands each concern to the package that owns it. Run is the one entry point main.go and the
// tests call.
package program

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/iam"
	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/entrypoint"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/services"
)

// Run is the whole program: pulumi.Run(program.Run) in main.go.
func Run(ctx *pulumi.Context) error { return RunWith(ctx, entrypoint.Options{}) }

// RunWith is Run with options. An invalid config returns a *diag.ConfigError listing every problem,
// before any resource is registered.
func RunWith(ctx *pulumi.Context, opts entrypoint.Options) error {
	opts = opts.WithDefaults(ctx)
	cfg, err := config.LoadWithFiles(ctx.Project(), ctx.GetConfig, opts.ConfigKeys, opts.Files)
	if err != nil {
		return err
	}
	st := plan.Resolve(cfg, opts.Now())
	for _, w := range st.Warnings {
		opts.Warn(w.String())
	}
	outputs, err := Declare(ctx, st)
	if err != nil {
		return err
	}
	outputs.ExportTo(opts.Export)
	return nil
}

// Declare registers the resources of a resolved plan and returns the stack outputs. (The engine
// deploys them; the program only declares.)
func Declare(ctx *pulumi.Context, st *plan.Stack) (entrypoint.Outputs, error) {
	var apiDeps []pulumi.Resource
	if st.EnableAPIs {
		apis, err := services.NewAPIs(ctx, "apis", &services.APIsArgs{Project: st.Project, Services: st.APIs})
		if err != nil {
			return nil, err
		}
		apiDeps = apis.Resources
	}
	callerDeps := apiDeps
	if st.EnableAPIs && len(st.CallersAPIs) > 0 {
		apis, err := services.NewAPIs(ctx, "apis-"+st.CallersProject, &services.APIsArgs{Project: st.CallersProject, Services: st.CallersAPIs})
		if err != nil {
			return nil, err
		}
		callerDeps = append(append([]pulumi.Resource(nil), apiDeps...), apis.Resources...)
	}

	var callerAccounts []*iam.AccountArgs
	for _, c := range st.Callers {
		if !c.Created {
			continue
		}
		desc := c.Description
		if desc == "" {
			desc = "Caller of " + st.Service.Name + "."
		}
		callerAccounts = append(callerAccounts, &iam.AccountArgs{
			Project:     st.CallersProject,
			Account:     c.Account,
			DisplayName: "Caller " + c.Name,
			Description: desc,
			Bindings:    c.AccountBindings(),
			DependsOn:   callerDeps,
		})
	}
	// Registered even with no created caller, so that onboarding the first one adds only its own
	// resources.
	callers, err := iam.NewCallers(ctx, "callers", &iam.CallersArgs{Accounts: callerAccounts})
	if err != nil {
		return nil, err
	}
	depsFor := func(want func(plan.Caller) bool) []pulumi.Resource {
		var out []pulumi.Resource
		for _, c := range st.Callers {
			if a, ok := callers.Accounts[c.Name]; ok && want(c) {
				out = append(out, a)
			}
		}
		return out
	}

	api, err := services.NewPrivateAPI(ctx, st.Service.Name, &services.PrivateAPIArgs{
		Project:    st.Project,
		Service:    st.Service,
		Bindings:   st.ServiceBindings(),
		MemberDeps: depsFor(func(c plan.Caller) bool { return c.Invoke }),
		Labels:     st.Labels,
		DependsOn:  apiDeps,
	})
	if err != nil {
		return nil, err
	}

	if a := st.Authz; a != nil {
		if _, err := iam.NewAuthzGuard(ctx, "authz", &iam.AuthzGuardArgs{
			Project:    st.Project,
			Role:       a.Role,
			RoleName:   a.RoleName,
			Bucket:     a.Bucket,
			Bindings:   a.BucketBindings(),
			Labels:     st.Labels,
			MemberDeps: depsFor(func(c plan.Caller) bool { return c.Authz }),
			DependsOn:  apiDeps,
		}); err != nil {
			return nil, err
		}
	}
	return outputs(st, api.URL), nil
}

// outputs are what callers and developers need: the URL (where requests go), the audience to
// ask ID tokens for (the first custom audience, or the URL when there is none), each caller's
// identity and grants, and the commands a developer types.
func outputs(st *plan.Stack, url pulumi.StringOutput) entrypoint.Outputs {
	audience := url
	if a := st.Service.PrimaryAudience; a != "" {
		// Known before the first deploy: a preview shows it, and callers can be configured then.
		audience = pulumi.String(a).ToStringOutput()
	}
	out := entrypoint.Outputs{
		"serviceUrl":            url,
		"audience":              audience,
		"audiences":             pulumi.ToStringArray(st.Service.Audiences),
		"serviceName":           pulumi.String(st.Service.Name),
		"region":                pulumi.String(st.Service.Region),
		"runtimeServiceAccount": pulumi.String(st.Service.Runtime.Email),
		"invokers":              pulumi.ToStringArray(st.Invokers),
	}
	if a := st.Authz; a != nil {
		out["authzRole"] = pulumi.String(a.RoleName)
		if a.Bucket != nil {
			out["authzBucket"] = pulumi.String(a.Bucket.Name)
		}
	}

	callers := pulumi.Map{}
	impersonationCommands := pulumi.StringMap{} // caller name -> the command that impersonates it
	invokers := map[string]string{}             // caller name -> account email, for the invoke commands
	for _, c := range st.Callers {
		entry := pulumi.Map{
			"email":   pulumi.String(c.Account.Email),
			"member":  pulumi.String(c.Account.Member),
			"created": pulumi.Bool(c.Created),
			"invoke":  pulumi.Bool(c.Invoke),
			"authz":   pulumi.Bool(c.Authz),
		}
		if c.Impersonable() {
			entry["impersonateCommand"] = pulumi.String(c.ImpersonationCommand())
			impersonationCommands[c.Name] = pulumi.String(c.ImpersonationCommand())
			if c.Invoke {
				invokers[c.Name] = c.Account.Email
			}
		}
		callers[c.Name] = entry
	}
	out["callers"] = callers
	out["impersonationCommands"] = impersonationCommands
	// One apply for the whole map rather than one per caller: the URL and the audience (the URL
	// itself without custom audiences) are its only unknowns. The token is for the audience; the
	// request still goes to the URL.
	out["invokeCommands"] = pulumi.All(url, audience).ApplyT(func(v []any) map[string]string {
		u, aud := v[0].(string), v[1].(string)
		cmds := make(map[string]string, len(invokers))
		for name, email := range invokers {
			cmds[name] = fmt.Sprintf("curl -H \"Authorization: Bearer $(gcloud auth print-identity-token --impersonate-service-account=%s --audiences=%s --include-email)\" %s", email, aud, u)
		}
		return cmds
	}).(pulumi.StringMapOutput)
	return out
}
