package guard_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/platform/private-run-api/guard"
)

// TestProjectPin walks through the attack the pin exists for: the authz
// bucket is deleted and its name re-created in another project that lets
// everyone through. The guard must refuse (503, never cached) from the first
// cache miss on, and say so at ERROR.
func TestProjectPin(t *testing.T) {
	g, _, newcomer, unswap := walkSwap(t, swap{
		start:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		before:  bucketIn(project),
		after:   bucketIn(otherProject), // deleted, and re-created elsewhere
		victim:  "newcomer",
		pinned:  "bucket in the pinned project",
		swapped: "a bucket in another project",
		pin:     "guard.WithProjectNumber",
		logs:    []string{`"expected_project_number":` + project, `"bucket_project_number":` + otherProject, "re-created in another project"},
	})

	unswap() // back where it belongs
	if d, _ := g.Check(context.Background(), newcomer); d != guard.Allow {
		t.Errorf("bucket back in the pinned project: %v, want allow", d)
	}
}

// swap is an attack on the authz bucket a guard is pinned to: Storage says
// before of it until the swap, after from then on.
type swap struct {
	start         time.Time // the guard's clock at the first request
	before, after func(http.ResponseWriter, *http.Request, string)
	// victim names the token of a caller unknown until the swap.
	victim string
	// pinned and swapped say what the bucket is before and after, for
	// messages.
	pinned, swapped string
	// pin is the option the refusal must name, logs what the ERROR lines
	// must say.
	pin  string
	logs []string
}

// walkSwap runs s against a guard with both pins, on the default TTL. A known
// caller is allowed before the swap; after it, every cache miss is refused
// (503 with Retry-After, never cached) and Check names s.pin; the known
// caller's allow was decided against the real bucket, so it lasts at most the
// TTL (documented), then the mismatch catches it too. Only the allowed
// requests reach the handler, and every mismatched lookup logs one ERROR line
// saying s.logs. It returns the guard, the fake, the victim's token and a
// func that undoes the swap.
func walkSwap(t *testing.T, s swap) (g *guard.Guard, fs *fakeStorage, victim string, unswap func()) {
	t.Helper()
	var swapped atomic.Bool
	fs = newFakeStorage(t, func(w http.ResponseWriter, r *http.Request, tok string) {
		if swapped.Load() {
			s.after(w, r, tok)
		} else {
			s.before(w, r, tok)
		}
	})
	clock := &fakeClock{now: s.start}
	g, logs := newGuard(t, fs, guard.WithClock(clock.Now))
	var reached int
	h := g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
	serve := func(tok string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	calls := func(want int32) {
		t.Helper()
		if got := fs.calls.Load(); got != want {
			t.Fatalf("storage calls = %d, want %d", got, want)
		}
	}
	known, victim := tokenFor(t, "known"), tokenFor(t, s.victim)

	if rec := serve(known); rec.Code != http.StatusOK {
		t.Fatalf("the %s: status %d, want 200", s.pinned, rec.Code)
	}
	calls(1)

	swapped.Store(true)
	for i := range 2 {
		rec := serve(victim)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("request %d to %s: status %d, Retry-After %q; want 503 with Retry-After", i, s.swapped, rec.Code, rec.Header().Get("Retry-After"))
		}
		calls(int32(2 + i)) // a mismatch is never cached
	}
	if d, err := g.Check(context.Background(), victim); d != guard.Unavailable || err == nil || !strings.Contains(err.Error(), s.pin) {
		t.Errorf("Check = %v, %v; want unavailable naming the pin", d, err)
	}
	calls(4)

	if rec := serve(known); rec.Code != http.StatusOK {
		t.Errorf("cached allow within the TTL: status %d, want 200", rec.Code)
	}
	clock.Advance(guard.DefaultCacheTTL)
	if rec := serve(known); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("after the TTL: status %d, want 503", rec.Code)
	}
	calls(5)
	if reached != 2 {
		t.Errorf("handler reached %d times, want 2 (only the allowed requests)", reached)
	}

	if got := logs.count(t, slog.LevelError); got != 4 {
		t.Errorf("ERROR lines = %d, want 4 (one per mismatched lookup):\n%s", got, logs)
	}
	for _, want := range s.logs {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	return g, fs, victim, func() { swapped.Store(false) }
}

// TestProjectCheckCanBeSkippedOnlyExplicitly: without a pin New fails (see
// TestNewRejectsBadConfig); the explicit opt-out accepts a bucket in any
// project, and says at construction what that risks.
func TestProjectCheckCanBeSkippedOnlyExplicitly(t *testing.T) {
	fs := newFakeStorage(t, bucketIn(otherProject))
	sink := &logSink{}
	g, err := guard.New(context.Background(), bucket,
		guard.WithInsecureSkipProjectCheck(),
		guard.WithBucketCreationTime(createdPin),
		guard.WithLogger(slog.New(slog.NewJSONHandler(sink, nil))),
		guard.WithClientOptions(fs.endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	if got := sink.count(t, slog.LevelWarn); got != 1 || !strings.Contains(sink.String(), "guard.WithProjectNumber") {
		t.Errorf("New without a pin logged %d warnings, want 1 pointing to guard.WithProjectNumber:\n%s", got, sink)
	}
	if d, err := g.Check(context.Background(), tokenFor(t, "a")); d != guard.Allow {
		t.Errorf("Check = %v, %v; want allow with the project check skipped", d, err)
	}
}

// TestCreationTimePin walks through what the project pin cannot see: a
// project Editor deletes the empty authz bucket and creates it again under
// the same name, in the same project. The new bucket has Storage's default
// policy (every project Viewer passes) and a later creation time. The guard
// must refuse (503, never cached) from the first cache miss on, say at ERROR
// what it expected, what it found and what to do, and accept the bucket again
// only once a person has pinned the new creation time.
func TestCreationTimePin(t *testing.T) {
	g, fs, viewer, _ := walkSwap(t, swap{
		start:   time.Date(2026, 2, 3, 5, 0, 0, 0, time.UTC),
		before:  bucketAt(project, created),
		after:   bucketAt(project, recreated), // deleted and created again, same project
		victim:  "viewer",
		pinned:  "pinned bucket",
		swapped: "the re-created bucket",
		pin:     "guard.WithBucketCreationTime",
		logs: []string{
			"RE-CREATED OR REPLACED",
			`"expected_bucket_creation_time":"2025-03-04T05:06:07Z"`,
			`"bucket_creation_time":"` + recreated + `"`,
			"gcloud storage buckets get-iam-policy gs://" + bucket,
			"pulumi up --refresh",
			"pin the new creation time (" + recreated + ")",
		},
	})

	// Once the policy is verified, the operator pins the new bucket, as
	// Storage and the log line print its creation time.
	repinned, _ := newGuard(t, fs, guard.WithBucketCreationTime(recreated))
	if d, err := repinned.Check(context.Background(), viewer); d != guard.Allow {
		t.Errorf("re-pinned guard: %v, %v; want allow", d, err)
	}
	// And the old pin keeps refusing the new bucket.
	if d, _ := g.Check(context.Background(), viewer); d != guard.Unavailable {
		t.Errorf("old pin, new bucket: %v, want unavailable", d)
	}
}

// TestCreationTimePinForms: the pin is read as an instant in the forms
// operators copy it in, and compared with Storage's timeCreated to the whole
// second, never as text.
func TestCreationTimePinForms(t *testing.T) {
	cases := []struct {
		pin  string
		want guard.Decision
	}{
		{createdPin, guard.Allow}, // gcloud storage's creation_time
		{created, guard.Allow},    // the JSON API's timeCreated
		{"2025-03-04T05:06:07Z", guard.Allow},
		{"2025-03-04T06:06:07+01:00", guard.Allow},           // same instant, other zone
		{"2025-03-04T00:06:07-0500", guard.Allow},            // gcloud's form, other zone
		{"2025-03-04T05:06:07.999999999Z", guard.Allow},      // sub-second digits are ignored
		{"2025-03-04T05:06:06+0000", guard.Unavailable},      // a second earlier
		{"2025-03-04T05:06:08Z", guard.Unavailable},          // a second later
		{"2025-03-04T05:06:07+0100", guard.Unavailable},      // same digits, an hour off
		{"2025-03-04T05:06:07.891+01:00", guard.Unavailable}, // same digits, an hour off
	}
	for _, tc := range cases {
		t.Run(tc.pin, func(t *testing.T) {
			fs := newFakeStorage(t, allow)
			g, logs := newGuard(t, fs, guard.WithBucketCreationTime(tc.pin))
			d, err := g.Check(context.Background(), tokenFor(t, "a"))
			if d != tc.want {
				t.Errorf("Storage's %s against the pin %s: %v (%v), want %v", created, tc.pin, d, err, tc.want)
			}
			if wantErr := tc.want == guard.Unavailable; wantErr != (logs.count(t, slog.LevelError) == 1) {
				t.Errorf("ERROR lines: want one exactly when refused:\n%s", logs)
			}
		})
	}
}
