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

// NewAPIs enables each API. Destroying the stack never disables them: other workloads in the
// project may rely on them.
func NewAPIs(ctx *pulumi.Context, name, project string, apis []string, opts ...pulumi.ResourceOption) (*APIs, error) {
	c := &APIs{}
	if err := ctx.RegisterComponentResource(APIsType, name, c, opts...); err != nil {
		return nil, err
	}
	enabled := pulumi.StringArray{}
	for _, api := range apis {
		svc, err := projects.NewService(ctx, name+"-"+api, &projects.ServiceArgs{
			Project:                  pulumi.String(project),
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
