// Command bootstrap is the one-time stack that creates the identities CI/CD uses to preview and
// deploy the main stack (see README.md). All of its logic lives in package ci, which the tests
// drive with any config.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/bootstrap/ci"
)

func main() {
	pulumi.Run(ci.Run)
}
