// Package teststack holds the starts of the stack files that the tests of several packages write:
// the project, the region and the service, to which each test adds its callers and whatever it
// varies. The tests assert on these values (project acme-test, service orders-api, the region),
// so they are written once.
package teststack

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
