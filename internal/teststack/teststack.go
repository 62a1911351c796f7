// Package teststack holds the starts of the stack files that the tests of several packages write:
// the project, the region and the service, to which each test adds its callers and whatever it
// varies. The tests assert on these values (project acme-test, service orders-api, the region),
// so they are written once.
package teststack

import (
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/plan"
)

// Header is a stack in us-central1 whose service runs Cloud Run's sample image: what the access
// report's tests and the program's tests (tests/) start from.
const Header = `
config:
  gcp:project: acme-test
  gcp:region: us-central1
  private-run-api:service:
    name: orders-api
    image: us-docker.pkg.dev/cloudrun/container/hello
`

// TokyoHeader is a stack in asia-northeast1 whose service runs an Artifact Registry image of the
// project: what the doctor's tests and its command's tests start from.
const TokyoHeader = `config:
  gcp:project: acme-test
  gcp:region: asia-northeast1
  private-run-api:service:
    name: orders-api
    image: asia-northeast1-docker.pkg.dev/acme-test/apps/orders-api:1.0.0
`

// ProjectFile is the project file the test stacks are read with: the program's name, no config.
const ProjectFile = "name: private-run-api\nruntime: go\n"

// Parse reads a test stack's text as the engine would (config.ParseStack) with ProjectFile, and
// fails the test when it cannot.
func Parse(tb testing.TB, text string) config.StackFile {
	tb.Helper()
	p, err := config.LoadProject([]byte(ProjectFile), "Pulumi.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	sf, err := config.ParseStack(p, "Pulumi.test.yaml", []byte(text))
	if err != nil {
		tb.Fatalf("test stack does not parse: %v", err)
	}
	return sf
}

// Plan is a test stack's text resolved as the tools resolve it (plan.Load) at now, and fails the
// test when the stack is invalid.
func Plan(tb testing.TB, text string, now time.Time) *plan.Stack {
	tb.Helper()
	p, _, err := plan.Load(Parse(tb, text), now)
	if err != nil {
		tb.Fatalf("test stack is invalid: %v", err)
	}
	return p
}
