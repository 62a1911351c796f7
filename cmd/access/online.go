package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/access/live"
	"github.com/platform/private-run-api/internal/plan"
)

// apiOptions are added to every Google API client of -live and -usage: tests point them at a
// fake endpoint.
var apiOptions []option.ClientOption

// stdin is what -iam-token-file - reads.
var stdin io.Reader = os.Stdin

// onlineFlags are the flags of the two reports that read Google.
type onlineFlags struct {
	live, usage bool
	since       string
	timeout     time.Duration
	tokenFile   string
}

func (o *onlineFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.live, "live", false, "compare the stack with the live IAM policies (reads Google with your credentials)")
	fs.BoolVar(&o.usage, "usage", false, "report who minted tokens as the caller accounts, from the Data Access audit logs (reads Google)")
	fs.StringVar(&o.since, "since", "30d", "for -usage: the window, ending now: days (30d) or a Go duration (72h)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "for -live and -usage: bound the whole report")
	fs.StringVar(&o.tokenFile, "iam-token-file", "", "for -live and -usage: read with this OAuth access token (- for stdin) instead of Application Default Credentials")
}

// check refuses combinations that mean nothing, every problem in one message.
func (o *onlineFlags) check(base string) string {
	var ps []string
	switch {
	case o.live && o.usage:
		ps = append(ps, "-live and -usage are two reports: run one at a time")
	case (o.live || o.usage) && base != "":
		ps = append(ps, "-base compares two stack files; -live and -usage compare a stack with Google: drop one")
	}
	if !o.live && !o.usage && o.tokenFile != "" {
		ps = append(ps, "-iam-token-file is only read by -live and -usage")
	}
	if !o.usage && o.since != "30d" {
		ps = append(ps, "-since is only read by -usage")
	}
	if _, err := parseSince(o.since); err != nil {
		ps = append(ps, err.Error())
	}
	if o.timeout <= 0 {
		ps = append(ps, fmt.Sprintf("-timeout %s is not a positive duration; write e.g. 2m", o.timeout))
	}
	return strings.Join(ps, "; ")
}

// parseSince reads -since: whole days ("30d") or a Go duration ("72h").
func parseSince(s string) (time.Duration, error) {
	bad := fmt.Errorf("-since %q is not a window: write days (30d) or a Go duration (72h)", s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// run prints the report -live or -usage asks for, and returns its exit status.
func (o *onlineFlags) run(stack string, head access.Side, p *plan.Stack, f access.Format, now time.Time, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "access: "+format+"\n", a...)
		return access.ExitFailure
	}
	if p == nil {
		return fail("%s has no stack %q to compare with Google", head.Label, stack)
	}
	opts := append([]option.ClientOption(nil), apiOptions...)
	if o.tokenFile != "" {
		tok, err := readToken(o.tokenFile)
		if err != nil {
			return fail("-iam-token-file: %v", err)
		}
		opts = append(opts, option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})))
	}
	req := live.Request{Plan: p, Stack: stack, At: now, Timeout: o.timeout, Options: opts}
	ctx := context.Background()
	if o.live {
		r, err := live.Check(ctx, req)
		if err != nil {
			return fail("%v", err)
		}
		return write(stderr, live.WriteReport(stdout, r, f), r.ExitStatus())
	}
	cfg, err := head.File.Load()
	if err != nil {
		return failRead(stderr, err)
	}
	since, _ := parseSince(o.since) // checked with the flags
	u, err := live.UsageOf(ctx, live.UsageRequest{Request: req, Config: cfg, Since: since})
	if err != nil {
		return fail("%v", err)
	}
	return write(stderr, live.WriteUsage(stdout, u, f), u.ExitStatus())
}

// readToken reads an OAuth access token from a file, or stdin for "-".
func readToken(name string) (string, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" || strings.ContainsAny(tok, " \n\t") {
		return "", fmt.Errorf("%s holds no single access token; pass the output of `gcloud auth print-access-token`", name)
	}
	return tok, nil
}
