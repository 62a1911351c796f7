package live

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"

	"github.com/platform/private-run-api/internal/access"
	"github.com/platform/private-run-api/internal/bounded"
	"github.com/platform/private-run-api/internal/plan"
)

// Request is what Check and Usage read.
type Request struct {
	Plan  *plan.Stack
	Stack string
	// At is when the report is made: the plan's expiries were judged at it, and Usage's window
	// ends at it.
	At time.Time
	// Timeout bounds the whole report.
	Timeout time.Duration
	// Options go to every Google API client: the credentials (Application Default Credentials
	// when none is given) and, in tests, an httptest server's endpoint and client.
	Options []option.ClientOption
}

// Report is the live access of one stack: every declared policy against the live one, who
// holds access above them, and the authz bucket's creation time to pin.
type Report struct {
	Stack   string    `json:"stack"`
	Project string    `json:"project"`
	At      time.Time `json:"readAt"`
	// Equal is true when every declared policy was read and equals the declared one.
	Equal bool `json:"equal"`
	// Complete is true when every declared policy was read (or found not to exist).
	Complete bool     `json:"complete"`
	Policies []Policy `json:"policies"`
	// Pin is the authz bucket's creation time, or why it must not be pinned yet; nil when the
	// stack declares no bucket.
	Pin *Pin `json:"bucketPin,omitempty"`
	// Watched are the permissions Outside lists holders of.
	Watched []string `json:"watchedPermissions"`
	Outside []Level  `json:"outside"`
	// Notes say what the stack names but does not declare, and so is not compared.
	Notes []string `json:"notes"`
	// Error is set when the report could not finish (a timeout): what it holds is partial.
	Error string `json:"error,omitempty"`
}

// Pin is the authz bucket's creation time for guard.WithBucketCreationTime, given only when the
// bucket's live policy equals the declared one.
type Pin struct {
	Bucket string `json:"bucket"`
	// Ready is true when CreationTime may be recorded now.
	Ready bool `json:"ready"`
	// CreationTime is timeCreated as Cloud Storage sent it; ProjectNumber is the bucket's
	// project number (guard.WithProjectNumber). Both are empty unless Ready.
	CreationTime  string `json:"creationTime,omitempty"`
	ProjectNumber string `json:"projectNumber,omitempty"`
	Advice        string `json:"advice"`
}

// Exit statuses of `access -live` and `access -usage`.
const (
	// ExitDiffers: live differs from declared (-live); or grants went unused, or someone the
	// config does not name minted tokens (-usage).
	ExitDiffers = access.ExitChanged
	// ExitIncomplete: nothing differs as far as could be read, but something could not be read.
	ExitIncomplete = access.ExitIncomplete
)

// ExitStatus is the report's exit status: 0 when live equals declared, ExitDiffers when
// anything differs (even if something else could not be read), ExitIncomplete otherwise.
func (r *Report) ExitStatus() int {
	switch {
	case r.Equal:
		return access.ExitOK
	case slices.ContainsFunc(r.Policies, func(p Policy) bool { return p.Status == StatusDiffers || p.Status == StatusNotFound }):
		return ExitDiffers
	}
	return ExitIncomplete
}

// Check reads the live policies of everything the plan declares and compares them with it. The
// error is for a report that could not start (no credentials); what it cannot read, it says.
func Check(ctx context.Context, req Request) (*Report, error) {
	p := req.Plan
	r := &Report{Stack: req.Stack, Project: p.Project, At: req.At.UTC(), Policies: []Policy{}, Outside: []Level{}, Watched: Watched, Notes: []string{}}
	if !p.Service.RuntimeCreated && p.Service.Name != "" {
		r.Notes = append(r.Notes, "The runtime account "+p.Service.Runtime.Email+" is made elsewhere (service.runtimeAccount, e.g. by the bootstrap stack): this stack declares nothing on it, so its policy is not compared. The bootstrap owns its actAs binding; bootstrap/README.md says what it holds.")
	}
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	c, err := newClients(ctx, req.Options)
	if err != nil {
		return nil, fmt.Errorf("no Google API client: %w; sign in with `gcloud auth application-default login`, or pass -iam-token-file", err)
	}
	ts := targets(p)
	done, ok := bounded.Run(ctx, func(ctx context.Context) *Report {
		out := *r
		var bucket *bucketReads
		var g errgroup.Group
		g.SetLimit(4)
		lives := make([][]Binding, len(ts))
		errs := make([]error, len(ts))
		for i, t := range ts {
			g.Go(func() error {
				if t.Kind == access.KindBucket {
					// The creation time is read before and after the policy: a bucket replaced
					// in between would pair one bucket's policy with another's time.
					bucket = &bucketReads{}
					bucket.before, bucket.beforeErr = bucketMeta(ctx, c, t.Name)
					lives[i], errs[i] = t.read(ctx, c)
					if bucket.beforeErr == nil && errs[i] == nil {
						bucket.after, bucket.afterErr = bucketMeta(ctx, c, t.Name)
					}
					return nil
				}
				lives[i], errs[i] = t.read(ctx, c)
				return nil
			})
		}
		g.Go(func() error {
			out.Outside = outside(ctx, c, auditedProjects(p))
			return nil
		})
		_ = g.Wait()
		for i, t := range ts {
			pol := t.Policy
			pol.Differences = []Difference{}
			switch err := errs[i]; {
			case err != nil && notFound(err):
				pol.Status = StatusNotFound
				pol.Error = shortError(err)
				pol.Fix = "the " + t.Kind + " does not exist: deploy the stack (`pulumi up --refresh --stack " + req.Stack + "`), or check that Pulumi." + req.Stack + ".yaml names the deployed one"
			case err != nil:
				pol.Status = StatusUnreadable
				pol.Error, pol.Fix = cannotRead(err, t.permission, t.on, true)
			default:
				pol.Differences = t.compare(req.Stack, lives[i])
				pol.Status = StatusEqual
				if len(pol.Differences) > 0 {
					pol.Status = StatusDiffers
				}
			}
			out.Policies = append(out.Policies, pol)
		}
		out.Complete = !slices.ContainsFunc(out.Policies, func(p Policy) bool { return p.Status == StatusUnreadable })
		out.Equal = out.Complete && !slices.ContainsFunc(out.Policies, func(p Policy) bool { return p.Status != StatusEqual })
		if a := p.Authz; a != nil && a.Bucket != nil {
			var pol Policy
			for _, x := range out.Policies {
				if x.Kind == access.KindBucket {
					pol = x
				}
			}
			out.Pin = pinOf(req.Stack, a.Bucket.Name, pol, bucket)
		}
		return &out
	})
	if !ok {
		r.Error = fmt.Sprintf("the report timed out after %s: Google did not answer every read in time; check your network, or run it again with a longer -timeout", req.Timeout)
		return r, nil
	}
	return done, nil
}

// auditedProjects are the projects the plan names: the stack's, and the project of every
// account it creates (by the account's resource name: caller accounts may live elsewhere).
func auditedProjects(p *plan.Stack) []string {
	set := map[string]bool{p.Project: true}
	names := []string{}
	if p.Service.RuntimeCreated {
		names = append(names, p.Service.Runtime.Name)
	}
	for _, c := range p.Callers {
		if c.Created {
			names = append(names, c.Account.Name)
		}
	}
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, "projects/"); ok {
			project, _, _ := strings.Cut(rest, "/")
			set[project] = true
		}
	}
	var out []string
	for project := range set {
		out = append(out, project)
	}
	slices.Sort(out)
	return out
}

// bucketReads are the authz bucket's metadata, read before and after its policy.
type bucketReads struct {
	before, after       *storage.Bucket
	beforeErr, afterErr error
}

func bucketMeta(ctx context.Context, c *clients, bucket string) (*storage.Bucket, error) {
	return c.storage.Buckets.Get(bucket).Fields(googleapi.Field("timeCreated"), googleapi.Field("projectNumber")).Context(ctx).Do()
}

// pinOf says whether the authz bucket's creation time may be pinned, and gives it when it may:
// only when the bucket's live policy equals the declared one and the bucket was the same one
// before and after its policy was read.
func pinOf(stack, bucket string, pol Policy, reads *bucketReads) *Pin {
	pin := &Pin{Bucket: bucket}
	up := "`pulumi up --refresh --stack " + stack + "`"
	switch {
	case pol.Status == StatusNotFound:
		pin.Advice = "Do not pin: the bucket does not exist. Deploy the stack, run -live again, and pin once its policy equals the declared one."
	case pol.Status == StatusUnreadable:
		pin.Advice = "Do not pin yet: the bucket's policy could not be read, so nothing says it is the stack's."
	case pol.Status == StatusDiffers:
		pin.Advice = "Do not pin: the bucket's live policy differs from the declared one (above), and whoever it lets in would pass the guard. Put the stack's back (" + up + "), run -live again, and pin once it equals declared."
	case reads == nil:
		pin.Advice = "Do not pin yet: the bucket was not read."
	case reads.beforeErr != nil || reads.afterErr != nil:
		err := reads.beforeErr
		if err == nil {
			err = reads.afterErr
		}
		pin.Advice = "The bucket's live policy equals the declared one, but its creation time could not be read (" + shortError(err) + "): that needs storage.buckets.get on the bucket, which the audit account must not hold (it would pass the guard). Run -live as someone who may read it (roles/storage.admin on the project), and pin what it prints."
	case reads.before.TimeCreated == "":
		pin.Advice = "Do not pin yet: Cloud Storage sent no creation time for the bucket; run -live again."
	case reads.before.TimeCreated != reads.after.TimeCreated || reads.before.ProjectNumber != reads.after.ProjectNumber:
		pin.Advice = fmt.Sprintf("Do not pin: the bucket was replaced while it was read (created at %s, then at %s). Inspect it, put the stack's policy back (%s) and run -live again.", reads.before.TimeCreated, reads.after.TimeCreated, up)
	default:
		pin.Ready = true
		pin.CreationTime = reads.before.TimeCreated
		pin.ProjectNumber = strconv.FormatUint(reads.before.ProjectNumber, 10)
		pin.Advice = "The bucket's live policy equals the declared one: pin this bucket. Give the guard AUTHZ_BUCKET_CREATION_TIME=" + pin.CreationTime +
			" (guard.WithBucketCreationTime) and AUTHZ_PROJECT_NUMBER=" + pin.ProjectNumber + " (guard.WithProjectNumber)."
	}
	return pin
}
