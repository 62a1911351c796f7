// Command doctor tells a developer, offline, why a local call to the private API will fail and
// what to type to fix it; two opt-in checks go online:
//
//	go run ./cmd/doctor -stack dev -caller orders-batch [-dir .] [-me user:alice@example.com]
//	    [-online -url https://... [-audience A]]  one real call as the caller
//	    [-who-else [-iam-token-file F]]           who else can call the service, from the live IAM policies
//	    [-timeout 30s]                            bounds each online check
//
// -who-else runs without -caller too. Exit status: 0 when nothing found stops the call, 1 when a
// problem was found, 2 for a usage or stack config error. The who-else report informs only: it
// never changes the exit status. The logic is in package doctor.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"runtime"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/platform/private-run-api/internal/doctor"
	"github.com/platform/private-run-api/internal/plan"
)

const defaultTimeout = 30 * time.Second

func main() {
	os.Exit(run(os.Args[1:], system{env: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}))
}

// system is what run takes from the process, injected so that tests control the environment
// (and with it where the credentials are looked for) and the network. The -online call's
// credentials are found by Google's libraries, which read the real process environment.
type system struct {
	env            func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	// transport carries the -online check's requests; nil means http.DefaultTransport.
	transport http.RoundTripper
	// apiOptions are added to the who-else report's Google API clients.
	apiOptions []option.ClientOption
}

// maxTokenSize caps what -iam-token-file reads: an access token is a few hundred bytes.
const maxTokenSize = 16 << 10

func run(args []string, sys system) int {
	stderr := sys.stderr
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stack := fs.String("stack", "", "stack name: reads Pulumi.<stack>.yaml (required)")
	caller := fs.String("caller", "", "the caller service whose account you call as (required, except with -who-else alone)")
	dir := fs.String("dir", ".", "directory holding Pulumi.yaml and the stack files")
	me := fs.String("me", "", "your identity, user:EMAIL, to check your own impersonation grant")
	online := fs.Bool("online", false, "also make one real call to -url with an ID token from your credentials (needs network)")
	rawURL := fs.String("url", "", "the service `URL` for -online, from: pulumi stack output serviceUrl --stack STACK")
	audience := fs.String("audience", "", "the ID-token `AUDIENCE` for -online: one of the stack's service.audiences, or the run.app URL (default: the stack's first custom audience, else -url's scheme and host)")
	whoElse := fs.Bool("who-else", false, "also report, from the live IAM policies, who else can call the service and deleted principals left in them (needs network; informs only)")
	tokenFile := fs.String("iam-token-file", "", "for -who-else: a `FILE` holding an OAuth access token to read the policies with, - for stdin (default: your Application Default Credentials)")
	timeout := fs.Duration("timeout", defaultTimeout, "bounds each online check: -online's call and -who-else's report")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./cmd/doctor -stack STACK -caller NAME [-dir DIR] [-me user:EMAIL] [-online -url URL [-audience AUD]] [-who-else [-iam-token-file FILE]] [-timeout D]")
		fmt.Fprintln(stderr, "       go run ./cmd/doctor -stack STACK -who-else [-iam-token-file FILE]")
		fmt.Fprintln(stderr, "Explains why a local call to the private API as NAME will fail, and what to type to fix it.")
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "Exit status: 0 nothing found, 1 a problem was found, 2 usage or stack config error. -who-else never changes it.")
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
	case !*online && *audience != "":
		return usage("-audience is only used by -online; add -online -url URL to make a real call")
	case *online && *caller == "":
		return usage("-online calls as a caller: pass -caller NAME")
	case *tokenFile != "" && !*whoElse:
		return usage("-iam-token-file is only used by -who-else")
	case *timeout <= 0:
		return usage("-timeout must be positive, e.g. -timeout 1m")
	}
	if *rawURL != "" {
		if _, err := doctor.Audience(*rawURL); err != nil {
			return usage(err.Error())
		}
	}
	var apiOptions []option.ClientOption
	if *tokenFile != "" {
		tok, err := readToken(*tokenFile, sys.stdin)
		if err != nil {
			return usage(err.Error())
		}
		apiOptions = append(apiOptions, option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})))
	}
	apiOptions = append(apiOptions, sys.apiOptions...)
	now := time.Now()

	// Everything is written at the end, so a config error leaves stdout empty.
	var out bytes.Buffer
	code := 0
	if *caller != "" || !*whoElse {
		report, err := doctor.Diagnose(doctor.Request{
			Dir:    *dir,
			Stack:  *stack,
			Caller: *caller,
			Me:     *me,
			Now:    now,
			Env:    doctor.Env{Getenv: sys.env, HomeDir: homeDir(sys.env), GOOS: runtime.GOOS},
		})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if *online {
			aud, err := doctor.OnlineAudience(report.Service, *audience, *rawURL)
			if err != nil {
				return usage(err.Error())
			}
			report.Add(doctor.Online(context.Background(), doctor.OnlineRequest{URL: *rawURL, Audience: aud, Audiences: report.Service.Audiences,
				Caller: report.Caller, Timeout: *timeout, Transport: sys.transport}))
		}
		if err := report.Write(&out); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if report.HasProblems() {
			code = 1
		}
	}
	if *whoElse {
		sf, err := doctor.ReadStack(*dir, *stack)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		p, _, err := plan.Load(sf, now)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if out.Len() > 0 {
			out.WriteString("\n")
		}
		r := doctor.WhoElse(context.Background(), doctor.WhoElseRequest{
			Plan:       p,
			Stack:      *stack,
			Timeout:    *timeout,
			Options:    apiOptions,
			AsYourself: asYourself(*stack, *dir),
		})
		if err := r.Write(&out); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	if _, err := sys.stdout.Write(out.Bytes()); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	return code
}

// asYourself reruns the who-else report with the developer's own gcloud login, which (unlike
// an ADC that impersonates a caller) may read IAM policies.
func asYourself(stack, dir string) string {
	cmd := "gcloud auth print-access-token | go run ./cmd/doctor -stack " + stack
	if dir != "." {
		cmd += " -dir '" + strings.ReplaceAll(dir, "'", `'\''`) + "'"
	}
	return cmd + " -who-else -iam-token-file -"
}

// readToken reads an access token from a file or, for "-", stdin. Pipes are fine here (the
// developer asked for this one file, often as <(gcloud auth print-access-token)); the size cap
// keeps a wrong file from being read whole.
func readToken(path string, stdin io.Reader) (string, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("-iam-token-file: %v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTokenSize+1))
	if err != nil {
		return "", fmt.Errorf("-iam-token-file: %v", err)
	}
	tok := strings.TrimSpace(string(data))
	if len(data) > maxTokenSize || tok == "" || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", errors.New("-iam-token-file: expected one OAuth access token, as `gcloud auth print-access-token` prints it")
	}
	return tok, nil
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
