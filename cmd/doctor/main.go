// Command doctor tells a developer, offline, why a local call to the private API will fail and
// what to type to fix it:
//
//	go run ./cmd/doctor -stack dev -caller orders-batch [-dir .] [-me user:alice@example.com] [-online -url https://...]
//
// Exit status: 0 when nothing found offline stops the call, 1 when a problem was found, 2 for a
// usage or stack config error. The logic is in package doctor.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"runtime"
	"time"

	"github.com/platform/private-run-api/doctor"
)

const onlineTimeout = 30 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main with its inputs injected, so tests control the environment (and with it where
// the credentials are looked for). The -online call itself goes through Google's libraries,
// which read the real process environment.
func run(args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stack := fs.String("stack", "", "stack name: reads Pulumi.<stack>.yaml (required)")
	caller := fs.String("caller", "", "the caller service whose account you call as (required)")
	dir := fs.String("dir", ".", "directory holding Pulumi.yaml and the stack files")
	me := fs.String("me", "", "your identity, user:EMAIL, to check your own impersonation grant")
	online := fs.Bool("online", false, "also make one real call to -url with an ID token from your credentials (needs network)")
	rawURL := fs.String("url", "", "the service URL for -online: `pulumi stack output serviceUrl --stack <stack>`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./cmd/doctor -stack STACK -caller NAME [-dir DIR] [-me user:EMAIL] [-online -url URL]")
		fmt.Fprintln(stderr, "Explains why a local call to the private API as NAME will fail, and what to type to fix it.")
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "Exit status: 0 nothing found offline, 1 a problem was found, 2 usage or stack config error.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "doctor:", msg)
		fmt.Fprintln(stderr, "run with -h for usage")
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage(fmt.Sprintf("unexpected argument %q: every option is a flag", fs.Arg(0)))
	case *stack == "":
		return usage("pass -stack, e.g. -stack dev (the stacks are the Pulumi.<stack>.yaml files)")
	case *online && *rawURL == "":
		return usage("-online needs -url: the service URL is known only after deploy; get it with `pulumi stack output serviceUrl --stack " + *stack + "`")
	case !*online && *rawURL != "":
		return usage("-url is only used by -online; add -online to make a real call")
	}
	if *rawURL != "" {
		if _, err := doctor.Audience(*rawURL); err != nil {
			return usage(err.Error())
		}
	}

	report, err := doctor.Diagnose(doctor.Request{
		Dir:    *dir,
		Stack:  *stack,
		Caller: *caller,
		Me:     *me,
		Now:    time.Now(),
		Env:    doctor.Env{Getenv: env, HomeDir: homeDir(env), GOOS: runtime.GOOS},
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *online {
		report.Add(doctor.Online(context.Background(), doctor.OnlineRequest{URL: *rawURL, Caller: report.Caller, Timeout: onlineTimeout}))
	}
	if err := report.Write(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if report.HasProblems() {
		return 1
	}
	return 0
}

// homeDir guesses the home directory as Go's Google libraries do on Linux and macOS: $HOME,
// else the user database. It must match them, or the doctor would read a different file.
func homeDir(env func(string) string) func() string {
	return func() string {
		if h := env("HOME"); h != "" {
			return h
		}
		if u, err := user.Current(); err == nil {
			return u.HomeDir
		}
		return ""
	}
}
