// Command access prints who the private-run-api program grants what, from a stack file alone (no
// Pulumi engine, no cloud credentials), or with -base only what a change adds, removes or moves.
// See package access for the exit statuses CI relies on.
package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/platform/private-run-api/diag"
	"io"
	"os"
	"strings"
	"time"

	"github.com/platform/private-run-api/access"
	"github.com/platform/private-run-api/config"
	"github.com/platform/private-run-api/plan"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: go run ./cmd/access -stack NAME [-dir DIR] [-format text|markdown|json] [-base FILE|REV] [-now RFC3339]

Prints every grant the program makes for the stack in DIR/Pulumi.NAME.yaml (who, which role, on
what, until when) and every account, role and bucket it creates. With -base, prints only what
changed since the base: a stack file path, or a git revision (e.g. origin/main) whose copy of
Pulumi.NAME.yaml is compared with the working copy.

Exit status (go run turns every non-zero status into 1: in CI, build it first with
go build -o bin/access ./cmd/access and run bin/access):
  0  no access change (always 0 without -base)
  1  other failure: bad flags, unreadable file, unknown git revision
  2  invalid stack config: the problems are listed on stderr, no report is printed
  3  access changed: grants or created resources differ from the base

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("access", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	stack := fs.String("stack", "", "stack name: reads Pulumi.<stack>.yaml (required)")
	dir := fs.String("dir", ".", "directory holding Pulumi.yaml and the stack file")
	format := fs.String("format", "text", "output format: text, markdown (for a PR comment) or json")
	base := fs.String("base", "", "compare with this stack file, or this git revision's copy of the stack file")
	nowFlag := fs.String("now", "", "judge expiries at this RFC 3339 time instead of the current time")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return access.ExitOK
		}
		return access.ExitFailure
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "access: "+format+"\n", a...)
		return access.ExitFailure
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q; flags come as -name value (run with -h for usage)", fs.Arg(0))
	}
	if *stack == "" {
		return fail("-stack is required, e.g. -stack dev for Pulumi.dev.yaml")
	}
	f, err := access.ParseFormat(*format)
	if err != nil {
		return fail("-format: %v", err)
	}
	now := time.Now().UTC()
	if *nowFlag != "" {
		if now, err = time.Parse(time.RFC3339, *nowFlag); err != nil {
			return fail("-now %q is not an RFC 3339 time; write e.g. 2027-01-31T00:00:00Z", *nowFlag)
		}
	}

	sf, err := config.ReadStack(*dir, *stack)
	if err != nil {
		return fail("%v", err)
	}
	headLabel := access.HeadLabel(*dir, *stack)
	head, err := access.Plan(sf, headLabel, now)
	if err != nil {
		return failPlan(stderr, err)
	}
	headReport := access.Build(*stack, head, now)

	if *base == "" {
		return write(stderr, access.WriteReport(stdout, headReport, f), access.ExitOK)
	}
	b, err := access.ReadBase(*dir, *stack, sf.Namespace, *base)
	if err != nil {
		return fail("%v", err)
	}
	var basePlan *plan.Stack
	if b.File != nil {
		if basePlan, err = access.Plan(*b.File, "base "+b.Label, now); err != nil {
			return failPlan(stderr, err)
		}
	}
	d := access.Compare(access.Build(*stack, basePlan, now), headReport, b.Label, headLabel)
	status := access.ExitOK
	if d.Changed {
		status = access.ExitChanged
	}
	return write(stderr, access.WriteDiff(stdout, d, f), status)
}

// failPlan reports an invalid config with the program's own problem list, or another error.
func failPlan(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, strings.TrimRight(err.Error(), "\n"))
	var cfgErr *diag.ConfigError
	if errors.As(err, &cfgErr) {
		return access.ExitInvalidConfig
	}
	return access.ExitFailure
}

// write turns an output error (a closed pipe, a full disk) into a failure, so that CI never
// takes a truncated report for a complete one.
func write(stderr io.Writer, err error, status int) int {
	if err != nil {
		fmt.Fprintf(stderr, "access: writing the report: %v\n", err)
		return access.ExitFailure
	}
	return status
}
