// Package services owns what runs and what is switched on: the private Cloud Run service and
// the Google APIs the program needs. The grants around the service (its runtime account, its
// invoker policy, the runtime account's secret access) are package iam's, registered under the
// service's component.
package services

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/iam"
	"github.com/platform/private-run-api/internal/plan"
)

// PrivateAPIType is the component's type token.
const PrivateAPIType = "privateapi:services:PrivateApi"

// PrivateAPIArgs declare the service from its plan.
type PrivateAPIArgs struct {
	Project string
	Service plan.Service
	// Bindings are the service's whole IAM policy (plan.Stack.ServiceBindings).
	Bindings []plan.Binding
	// MemberDeps are the accounts named in Bindings that this program creates.
	MemberDeps []pulumi.Resource
	Labels     map[string]string
	DependsOn  []pulumi.Resource
}

// PrivateAPI is a Cloud Run v2 service that requires authentication and runs as its own account.
type PrivateAPI struct {
	pulumi.ResourceState

	Service *cloudrunv2.Service
	Runtime *serviceaccount.Account
	// URL is the service URL, which Cloud Run always accepts as the audience of the ID tokens
	// callers send (besides the plan's custom audiences).
	URL         pulumi.StringOutput `pulumi:"url"`
	ServiceName pulumi.StringOutput `pulumi:"name"`
}

// NewPrivateAPI registers the runtime account, the service and its IAM under one component.
func NewPrivateAPI(ctx *pulumi.Context, name string, args *PrivateAPIArgs, opts ...pulumi.ResourceOption) (*PrivateAPI, error) {
	api := &PrivateAPI{}
	if err := ctx.RegisterComponentResource(PrivateAPIType, name, api, opts...); err != nil {
		return nil, err
	}
	p := args.Service
	// A dedicated account with no roles: without it the revision would run as the Compute
	// Engine default account, which holds project Editor. An account named by
	// service.runtimeAccount was made elsewhere (the bootstrap stack) and is only referenced.
	var runtime *serviceaccount.Account
	var runtimeDeps []pulumi.Resource
	runAs := func(v string) pulumi.StringInput { return pulumi.String(v) }
	if p.RuntimeCreated {
		acct, err := iam.NewAccount(ctx, name+"-runtime", &iam.AccountArgs{
			Project:     args.Project,
			Account:     p.Runtime,
			DisplayName: "Runtime of " + p.Name,
			Description: "Identity the Cloud Run service " + p.Name + " runs as. Holds no roles; grant it only what the service itself calls.",
			Protect:     p.Protect,
			DependsOn:   args.DependsOn,
		}, pulumi.Parent(api))
		if err != nil {
			return nil, err
		}
		runtime, runtimeDeps = acct, []pulumi.Resource{acct}
		// Known in a preview, with a property dependency on the account.
		runAs = func(v string) pulumi.StringInput { return iam.Named(ctx, v, acct) }
	}

	// The service waits for the secret grants: Cloud Run checks access to every secret when it
	// deploys a revision.
	grants, err := iam.NewSecretAccess(ctx, name, &iam.SecretAccessArgs{
		Secrets:   p.Secrets,
		Member:    runAs(p.Runtime.Member),
		DependsOn: append(append([]pulumi.Resource(nil), runtimeDeps...), args.DependsOn...),
	}, pulumi.Parent(api))
	if err != nil {
		return nil, err
	}
	secretDeps := append(append([]pulumi.Resource(nil), runtimeDeps...), grants...)

	template := &cloudrunv2.ServiceTemplateArgs{
		ServiceAccount: runAs(p.Runtime.Email),
		Containers:     cloudrunv2.ServiceTemplateContainerArray{container(p)},
		// Both bounds always: Cloud Run has refused a minimum without a maximum, and the provider
		// keeps the last maximum when none is sent, so removing it from config would change
		// nothing.
		Scaling: &cloudrunv2.ServiceTemplateScalingArgs{
			MinInstanceCount: pulumi.Int(p.MinInstances),
			MaxInstanceCount: pulumi.Int(p.MaxInstances),
		},
	}
	templateRuntime(template, p)
	svcOpts := []pulumi.ResourceOption{pulumi.Parent(api), pulumi.Protect(p.Protect),
		pulumi.DependsOn(append(secretDeps, args.DependsOn...))}
	if p.IgnoreImage {
		// The app's pipeline deploys new images (gcloud run deploy), stamping client and
		// clientVersion as it does: the stack sets the first image and then leaves all three.
		svcOpts = append(svcOpts, pulumi.IgnoreChanges([]string{"template.containers[0].image", "client", "clientVersion"}))
	}
	svcArgs := &cloudrunv2.ServiceArgs{
		Project:  pulumi.String(args.Project),
		Location: pulumi.String(p.Region),
		Name:     pulumi.String(p.Name),
		Ingress:  pulumi.String(p.Ingress),
		Labels:   pulumi.ToStringMap(args.Labels),
		Template: template,
	}
	// Sent only when config declares some. Unlike the limits above, custom_audiences is not
	// Optional+Computed in the provider (v5.42.0): with none in config the provider diffs the
	// stored list against nothing and updates, and its update leaves an empty list out of the
	// request either way, so sending [] would change nothing but every existing stack's inputs.
	if len(p.Audiences) > 0 {
		svcArgs.CustomAudiences = pulumi.ToStringArray(p.Audiences)
	}
	svc, err := cloudrunv2.NewService(ctx, name, svcArgs, svcOpts...)
	if err != nil {
		return nil, err
	}
	api.Service, api.Runtime = svc, runtime

	if _, err := iam.NewServicePolicy(ctx, name+"-policy", &iam.ServicePolicyArgs{
		Project:    args.Project,
		Region:     p.Region,
		Name:       p.Name,
		Service:    svc,
		Bindings:   args.Bindings,
		MemberDeps: args.MemberDeps,
		DependsOn:  args.DependsOn,
	}, pulumi.Parent(api)); err != nil {
		return nil, err
	}

	api.URL = svc.Uri
	api.ServiceName = pulumi.String(p.Name).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(api, pulumi.Map{
		"url":            api.URL,
		"name":           api.ServiceName,
		"runtimeAccount": pulumi.String(p.Runtime.Email),
	}); err != nil {
		return nil, err
	}
	return api, nil
}
