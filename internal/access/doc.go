// Package access turns a resolved plan into an access report: every grant the program makes
// (principal, role, target, expiry) and every identity or guard resource it creates, so that a
// pull-request reviewer sees who gains access without reading Pulumi code or a preview.
//
// The report is built only from *plan.Stack (Stack.Invokers, Caller.AccountBindings,
// Stack.Authz, Service.Secrets), the same value program.Declare renders into resources;
// tests/access_test.go checks
// that the grants reported equal the IAM bindings registered under Pulumi mocks. A grant added to
// the program without going through the plan would make that test fail.
//
// Targets are named by their full resource names (https://cloud.google.com/iam/docs/full-resource-names):
//
//	//run.googleapis.com/projects/P/locations/R/services/S
//	//iam.googleapis.com/projects/P/serviceAccounts/EMAIL
//	//storage.googleapis.com/projects/_/buckets/NAME
//
// # Command
//
// cmd/access prints the report for one stack, or with -base only what changed:
//
//	go run ./cmd/access -stack dev [-dir .] [-format text|markdown|json] [-base FILE|REV] [-now RFC3339]
//	go run ./cmd/access -stack dev -live | -usage [-since 30d] [-timeout 2m] [-iam-token-file FILE]
//
// -base is read as a stack file when it names an existing file, otherwise as a git revision
// whose copy of Pulumi.<stack>.yaml is compared with the one in -dir. A revision without that
// file (a new stack) counts as granting nothing, so everything shows as added.
//
// Exit status, so that CI can label a pull request. `go run` reports any non-zero status of the
// program as 1, so CI builds the command first (go build -o bin/access ./cmd/access).
//
//	0  no access change (or, without -base, the report was printed)
//	1  other failure: bad flags, unreadable or unparsable file, unknown git revision
//	2  invalid stack config: the *diag.ConfigError list is printed on stderr and no report is printed
//	3  access changed: at least one grant or created resource was added, removed or changed
//	   (with -live: live differs from declared; with -usage: a grant went unused, or someone the
//	   config does not name minted tokens)
//	4  with -live or -usage: nothing differs as far as could be read, but something could not be
//	   read (a permission error, a timeout, logs that are not recorded)
//
// -live and -usage read Google (package access/live); the rest reads files only.
package access

// Exit statuses of cmd/access.
const (
	ExitOK            = 0
	ExitFailure       = 1
	ExitInvalidConfig = 2
	ExitChanged       = 3
	ExitIncomplete    = 4
)
