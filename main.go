// Command private-run-api is the Pulumi program: `pulumi preview` / `pulumi up` run it. All of
// its logic lives in package internal/program, which the tests drive with any config.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/program"
)

func main() {
	pulumi.Run(program.Run)
}
