package iam

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Named is a name the program computed up front (an account's resource name, a role's name, a
// service's name), carrying a property dependency on the resource that owns it. The value is
// known in a preview, so a reviewer sees every target in full; the dependency is a property
// dependency, so when the owner is replaced the engine also replaces (or updates) what names it.
// dependsOn alone would leave the dependent pointing at a resource that was deleted and created
// again without it.
func Named(ctx *pulumi.Context, name string, owner pulumi.Resource) pulumi.StringOutput {
	return pulumi.OutputWithDependencies(ctx.Context(), pulumi.String(name).ToStringOutput(), owner).(pulumi.StringOutput)
}
