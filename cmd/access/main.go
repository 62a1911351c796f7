// Command access prints who the private-run-api program grants what, from a stack file alone (no
// Pulumi engine, no cloud credentials), or with -base only what a change adds, removes or moves.
// With -live it compares the stack with what Google holds, and with -usage it reports who minted
// tokens as the caller accounts (package access/live). See package access for the exit statuses
// CI relies on.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/plan"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: go run ./cmd/access -stack NAME [-dir DIR] [-format text|markdown|json] [-base FILE|REV] [-head REV] [-now RFC3339]
       go run ./cmd/access -stack NAME -live  [-dir DIR] [-format ...] [-timeout D] [-iam-token-file FILE]
       go run ./cmd/access -stack NAME -usage [-since 30d] [-dir DIR] [-format ...] [-timeout D] [-iam-token-file FILE]

Prints every grant the program makes for the stack in DIR/Pulumi.NAME.yaml (who, which role, on
what, until when) and every account, role and bucket it creates. The stack's config is read as
the Pulumi engine hands it to the program: Pulumi.yaml's config defaults applied, YAML values
rendered as the engine renders them. With -base, prints only what changed since the base: a
stack file path, or a git revision (e.g. origin/main) whose copy of the stack is compared.
With -head, the compared stack is read from that git revision instead of the working tree,
through git alone (a pull request's files are read as data, never checked out); with both -base
and -head revisions, the diff also lists what the change touches besides stack files.

-live reads, with your Application Default Credentials, the live IAM policy of everything the
stack declares and prints how it differs from the stack; then who holds access to the API at
project, folder and organization level; and, when the authz bucket's policy is the stack's, its
creation time to pin in the guard. -usage reads the Data Access audit logs of the caller accounts'
projects over -since and prints who minted tokens as each account, which declared impersonators
did not, and the config change that drops their grants. Neither writes anything.

Exit status (go run turns every non-zero status into 1: in CI, build it first with
go build -o bin/access ./cmd/access and run bin/access):
  0  no access change (always 0 without -base); with -live, live equals declared; with -usage,
     every declared impersonator used its grant and nobody else minted
  1  other failure: bad flags, unreadable file, unknown git revision
  2  invalid stack config, or config this tool cannot see (ESC environments, secrets): the
     problems are listed on stderr, no report is printed
  3  access changed: grants or created resources differ from the base; with -live, live differs
     from declared; with -usage, a grant went unused or someone the config does not name minted
  4  with -live or -usage: nothing differs as far as could be read, but something could not be
     read (a permission error, a timeout, logs not recorded)

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
	base := fs.String("base", "", "compare with this stack file, or this git revision's copy of the stack")
	headRev := fs.String("head", "", "read the compared stack from this git revision of the repository at -dir instead of the working tree")
	nowFlag := fs.String("now", "", "judge expiries at this RFC 3339 time instead of the current time")
	var on onlineFlags
	on.register(fs)
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
	if msg := on.check(*base); msg != "" {
		return fail("%s", msg)
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

	var head access.Side
	if *headRev != "" {
		head, err = access.ReadRev(*dir, *stack, *headRev)
		if err == nil && head.File == nil {
			err = fmt.Errorf("%s has no stack %q", head.Label, *stack)
		}
		if err != nil {
			return failRead(stderr, fmt.Errorf("-head: %w", err))
		}
	} else if head, err = access.ReadDir(*dir, *stack); err != nil {
		return failRead(stderr, err)
	}
	headPlan, _, err := plan.Load(*head.File, now)
	if err != nil {
		return failRead(stderr, err)
	}
	headReport := access.Build(*stack, headPlan, now)
	if on.live || on.usage {
		return on.run(*stack, head, headPlan, f, now, stdout, stderr)
	}

	if *base == "" {
		return write(stderr, access.WriteReport(stdout, headReport, f), access.ExitOK)
	}
	b, err := access.ReadBase(*dir, *stack, *base)
	if err != nil {
		return failRead(stderr, err)
	}
	var basePlan *plan.Stack // nil for a base without the stack's file: it grants nothing
	if b.File != nil {
		if basePlan, _, err = plan.Load(*b.File, now); err != nil {
			return failRead(stderr, fmt.Errorf("base %w", err))
		}
	}
	d := access.Compare(access.Build(*stack, basePlan, now), headReport, b.Label, head.Label)
	if d.OutsideConfig, err = access.OutsideConfig(b, head); err != nil {
		return fail("listing what the change touches: %v", err)
	}
	status := access.ExitOK
	if d.Changed {
		status = access.ExitChanged
	}
	return write(stderr, access.WriteDiff(stdout, d, f), status)
}

// failRead reports a stack that cannot be read or is invalid: an invalid config, or config the
// tool cannot see, lists its problems and exits 2; anything else exits 1.
func failRead(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "access: "+strings.TrimRight(err.Error(), "\n"))
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
