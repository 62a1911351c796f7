package services

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// APIsType is the component's type token.
const APIsType = "privateapi:services:Apis"

// APIs enables Google APIs in a project.
type APIs struct {
	pulumi.ResourceState

	// Resources are the enablements, for other resources to depend on.
	Resources []pulumi.Resource
}

// APIsArgs name the project and the APIs to enable in it.
type APIsArgs struct {
	Project string
	// Services are API names, e.g. "run.googleapis.com"; each is one resource named after it.
	Services []string
}

// NewAPIs enables each API. Destroying the stack never disables them: other workloads in the
// project may rely on them.
func NewAPIs(ctx *pulumi.Context, name string, args *APIsArgs, opts ...pulumi.ResourceOption) (*APIs, error) {
	c := &APIs{}
	if err := ctx.RegisterComponentResource(APIsType, name, c, opts...); err != nil {
		return nil, err
	}
	enabled := pulumi.StringArray{}
	for _, api := range args.Services {
		svc, err := projects.NewService(ctx, name+"-"+api, &projects.ServiceArgs{
			Project:                  pulumi.String(args.Project),
			Service:                  pulumi.String(api),
			DisableOnDestroy:         pulumi.Bool(false),
			DisableDependentServices: pulumi.Bool(false),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.Resources = append(c.Resources, svc)
		enabled = append(enabled, pulumi.String(api))
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"enabled": enabled}); err != nil {
		return nil, err
	}
	return c, nil
}
