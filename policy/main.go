// Command policy is the Pulumi policy pack of the private Cloud Run API's guardrails. The Pulumi
// CLI builds and runs it for `pulumi preview --policy-pack ./policy`; see README.md.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func main() {
	if err := policyx.Main(newPack); err != nil {
		cmdutil.ExitError(err.Error())
	}
}
