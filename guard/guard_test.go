package guard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/platform/private-run-api/guard"
)

const (
	bucket = "authz-guard-test"
	// project is the number of the project the tests pin the bucket to.
	project = "123456789012"
	// otherProject owns a bucket of the same name after it was re-created
	// elsewhere.
	otherProject = "999999999999"
	// created is the test bucket's timeCreated as Storage sends it
	// (milliseconds, UTC), and createdPin the same instant as gcloud storage
	// prints creation_time, which is what operators record.
	created    = "2025-03-04T05:06:07.891Z"
	createdPin = "2025-03-04T05:06:07+0000"
	// recreated is the timeCreated of a bucket deleted and created again
	// under the same name.
	recreated = "2026-02-03T04:05:06.789Z"
)

// fakeStorage speaks just enough of the Storage JSON API: GET
// /storage/v1/b/BUCKET?fields=projectNumber,timeCreated
type fakeStorage struct {
	t       *testing.T
	srv     *httptest.Server
	calls   atomic.Int32
	mu      sync.Mutex
	auth    []string // Authorization header of every call
	respond func(w http.ResponseWriter, r *http.Request, token string)
}

func newFakeStorage(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, token string)) *fakeStorage {
	t.Helper()
	fs := &fakeStorage{t: t, respond: respond}
	fs.srv = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fakeStorage) serve(w http.ResponseWriter, r *http.Request) {
	fs.calls.Add(1)
	auth := r.Header.Get("Authorization")
	fs.mu.Lock()
	fs.auth = append(fs.auth, auth)
	fs.mu.Unlock()
	wantPath := "/storage/v1/b/" + bucket
	if r.Method != http.MethodGet || r.URL.Path != wantPath {
		fs.t.Errorf("fake storage: got %s %s, want GET %s", r.Method, r.URL.Path, wantPath)
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	if got := r.URL.Query()["fields"]; len(got) != 1 || got[0] != "projectNumber,timeCreated" {
		fs.t.Errorf("fake storage: fields=%q, want [projectNumber,timeCreated]", got)
	}
	token, _ := strings.CutPrefix(auth, "Bearer ")
	fs.respond(w, r, token)
}

func (fs *fakeStorage) endpoint() option.ClientOption {
	return option.WithEndpoint(fs.srv.URL + "/storage/v1/")
}

func (fs *fakeStorage) authHeaders() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.auth...)
}

// Responders. Error bodies quote the caller's token on purpose: the guard
// must keep it out of logs and error text even when a server echoes it.

// bucketIn answers buckets.get as Storage does for a caller holding
// storage.buckets.get on the test bucket, owned by projectNumber.
func bucketIn(projectNumber string) func(http.ResponseWriter, *http.Request, string) {
	return bucketAt(projectNumber, created)
}

// bucketAt is the answer about a bucket owned by projectNumber and created at
// timeCreated, trimmed to the requested fields.
func bucketAt(projectNumber, timeCreated string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"projectNumber": projectNumber, "timeCreated": timeCreated})
	}
}

// allow is the caller holding the permission on the pinned bucket.
var allow = bucketIn(project)

// deny is Storage's answer to a caller without storage.buckets.get.
var deny = forbidden("forbidden")

func apiError(code int) func(http.ResponseWriter, *http.Request, string) {
	return reasonsError(code, []string{"fake"}, nil)
}

// forbidden is a 403 with the given errors[].reason values.
func forbidden(reasons ...string) func(http.ResponseWriter, *http.Request, string) {
	return reasonsError(http.StatusForbidden, reasons, nil)
}

// reasonsError is a Google API error with errors[].reason values and
// google.rpc.ErrorInfo reasons in details, as current Google APIs send them.
func reasonsError(code int, reasons, errorInfo []string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, token string) {
		msg := fmt.Sprintf("fake failure for token %s", token)
		items := []map[string]any{}
		for _, r := range reasons {
			items = append(items, map[string]any{"message": msg, "domain": "global", "reason": r})
		}
		details := []map[string]any{}
		for _, r := range errorInfo {
			details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": r, "domain": "googleapis.com"})
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"code": code, "message": msg, "errors": items, "details": details,
		}})
	}
}

func raw(code int, body string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, token string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, strings.ReplaceAll(body, "TOKEN", token))
	}
}

// hangUp closes the connection without answering: a network failure.
func hangUp(w http.ResponseWriter, _ *http.Request, _ string) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

// stall answers only once the client has given up, or grants after 2s so a
// guard that forgot its timeout fails the test instead of hanging it.
func stall(w http.ResponseWriter, r *http.Request, tok string) {
	select {
	case <-r.Context().Done():
	case <-time.After(2 * time.Second):
		allow(w, r, tok)
	}
}

// logSink captures the guard's log as JSON lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// count returns how many lines were logged at level or above.
func (s *logSink) count(t *testing.T, level slog.Level) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if line == "" {
			continue
		}
		var rec struct{ Level string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(rec.Level)); err != nil {
			t.Fatalf("log level %q: %v", rec.Level, err)
		}
		if l >= level {
			n++
		}
	}
	return n
}

func newGuard(t *testing.T, fs *fakeStorage, opts ...guard.Option) (*guard.Guard, *logSink) {
	t.Helper()
	sink := &logSink{}
	logger := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	all := append([]guard.Option{guard.WithLogger(logger), guard.WithClientOptions(fs.endpoint()), guard.WithProjectNumber(project), guard.WithBucketCreationTime(createdPin)}, opts...)
	g, err := guard.New(context.Background(), bucket, all...)
	if err != nil {
		t.Fatalf("guard.New: %v", err)
	}
	return g, sink
}

// tokenFor makes distinct, realistic-looking tokens per test.
func tokenFor(t *testing.T, suffix string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	return "ya29.a0" + safe + "." + suffix
}

func assertNoLeak(t *testing.T, token string, where string, text string) {
	t.Helper()
	if strings.Contains(text, token) {
		t.Errorf("%s contains the caller's token:\n%s", where, text)
	}
}

// TestStorageAnswers covers each kind of answer from Storage, through Check
// and through the middleware.
func TestStorageAnswers(t *testing.T) {
	cases := []struct {
		name       string
		respond    func(http.ResponseWriter, *http.Request, string)
		opts       []guard.Option
		want       guard.Decision
		wantStatus int
		wantChall  string // substring of WWW-Authenticate; "" means header absent
		wantErrLog int    // lines at ERROR level
		wantWarn   int    // lines at WARN level or above
		logHint    string // substring the error line must hold, to be actionable
	}{
		{name: "bucket in the pinned project", respond: allow, want: guard.Allow, wantStatus: 200},
		{name: "403 lacks the permission", respond: deny, want: guard.Deny, wantStatus: 403},
		{name: "403 token lacks a Storage scope", respond: reasonsError(403, []string{"insufficientPermissions"}, []string{"ACCESS_TOKEN_SCOPE_INSUFFICIENT"}), want: guard.Deny, wantStatus: 403, wantWarn: 1, logHint: "devstorage.read_only"},
		{name: "403 about the project", respond: forbidden("accountDisabled"), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "accountDisabled"},
		{name: "401 bad or expired token", respond: apiError(401), want: guard.Unauthenticated, wantStatus: 401, wantChall: `error="invalid_token"`},
		{name: "404 bucket missing", respond: apiError(404), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "not found"},
		{name: "bucket in another project", respond: bucketIn(otherProject), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "belongs to project number " + otherProject + ", not the pinned " + project},
		{name: "reply without projectNumber", respond: raw(200, `{"timeCreated": "`+created+`"}`), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "did not name the bucket's project"},
		{name: "bucket re-created in the pinned project", respond: bucketAt(project, recreated), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "RE-CREATED OR REPLACED"},
		{name: "bucket re-created in another project", respond: bucketAt(otherProject, recreated), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "RE-CREATED OR REPLACED"},
		{name: "created in the pinned second", respond: bucketAt(project, "2025-03-04T05:06:07.000Z"), want: guard.Allow, wantStatus: 200},
		{name: "created a second later", respond: bucketAt(project, "2025-03-04T05:06:08.000Z"), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "not at the pinned 2025-03-04T05:06:07Z"},
		{name: "reply without timeCreated", respond: raw(200, `{"projectNumber": "`+project+`"}`), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "did not carry the bucket's creation time"},
		{name: "empty reply", respond: raw(200, `{}`), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "did not carry the bucket's creation time"},
		{name: "unreadable timeCreated echoing token", respond: raw(200, `{"projectNumber": "`+project+`", "timeCreated": "yesterday TOKEN"}`), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "cannot read"},
		{name: "500", respond: apiError(500), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "HTTP 500"},
		{name: "503", respond: apiError(503), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "HTTP 503"},
		{name: "429", respond: apiError(429), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "HTTP 429"},
		{name: "400 plain-text body echoing token", respond: raw(400, "bad request for TOKEN"), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "HTTP 400"},
		{name: "malformed body", respond: raw(200, `{"projectNumber": "12`), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "read its reply"},
		{name: "wrong JSON type", respond: raw(200, `{"projectNumber": ["123456789012"]}`), want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1},
		{name: "connection dropped", respond: hangUp, want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "could not reach"},
		{name: "timeout", respond: stall, opts: []guard.Option{guard.WithTimeout(30 * time.Millisecond)}, want: guard.Unavailable, wantStatus: 503, wantErrLog: 1, wantWarn: 1, logHint: "did not answer within 30ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("Check", func(t *testing.T) {
				fs := newFakeStorage(t, tc.respond)
				g, logs := newGuard(t, fs, tc.opts...)
				token := tokenFor(t, "x")

				start := time.Now()
				d, err := g.Check(context.Background(), token)
				if elapsed := time.Since(start); elapsed > time.Second {
					t.Errorf("Check took %v; the timeout should have cut it short", elapsed)
				}
				if d != tc.want {
					t.Errorf("decision = %v, want %v", d, tc.want)
				}
				if (err != nil) != (d == guard.Unavailable) {
					t.Errorf("err = %v with decision %v; want an error exactly when unavailable", err, d)
				}
				if err != nil {
					if !errors.Is(err, guard.ErrUnavailable) {
						t.Errorf("errors.Is(%v, ErrUnavailable) = false", err)
					}
					assertNoLeak(t, token, "error text", err.Error())
				}
				if tc.name == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("timeout error %v does not match context.DeadlineExceeded", err)
				}
				if got := fs.calls.Load(); got != 1 {
					t.Errorf("storage calls = %d, want 1", got)
				}
				for _, h := range fs.authHeaders() {
					if h != "Bearer "+token {
						t.Errorf("storage received Authorization %q, want the caller's token", h)
					}
				}
				assertNoLeak(t, token, "log", logs.String())
				if got := logs.count(t, slog.LevelError); got != tc.wantErrLog {
					t.Errorf("ERROR lines = %d, want %d; log:\n%s", got, tc.wantErrLog, logs)
				}
				if got := logs.count(t, slog.LevelWarn); got != tc.wantWarn {
					t.Errorf("WARN+ lines = %d, want %d; log:\n%s", got, tc.wantWarn, logs)
				}
				if tc.logHint != "" && !strings.Contains(logs.String(), tc.logHint) {
					t.Errorf("log lacks %q; log:\n%s", tc.logHint, logs)
				}
			})
			t.Run("Middleware", func(t *testing.T) {
				fs := newFakeStorage(t, tc.respond)
				g, logs := newGuard(t, fs, tc.opts...)
				token := tokenFor(t, "x")

				var reached bool
				h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					reached = true
					_, _ = w.Write([]byte("ok"))
				}))
				req := httptest.NewRequest(http.MethodPost, "/purge", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)

				if rec.Code != tc.wantStatus {
					t.Errorf("status = %d, want %d (body %q)", rec.Code, tc.wantStatus, rec.Body)
				}
				if reached != (tc.want == guard.Allow) {
					t.Errorf("next handler reached = %v, want %v", reached, tc.want == guard.Allow)
				}
				chall := rec.Header().Get("WWW-Authenticate")
				if tc.wantChall == "" && chall != "" {
					t.Errorf("unexpected WWW-Authenticate %q", chall)
				}
				if tc.wantChall != "" && (!strings.HasPrefix(chall, "Bearer") || !strings.Contains(chall, tc.wantChall)) {
					t.Errorf("WWW-Authenticate = %q, want Bearer ... %s", chall, tc.wantChall)
				}
				if tc.wantStatus == 503 && rec.Header().Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
				assertNoLeak(t, token, "response body", rec.Body.String())
				assertNoLeak(t, token, "log", logs.String())
				if got := logs.count(t, slog.LevelError); got != tc.wantErrLog {
					t.Errorf("ERROR lines = %d, want %d; log:\n%s", got, tc.wantErrLog, logs)
				}
			})
		})
	}
}

// TestAuthorizationHeader covers requests refused before any Storage call.
func TestAuthorizationHeader(t *testing.T) {
	const tok = "ya29.a0header-test"
	cases := []struct {
		name      string
		headers   []string
		wantCode  int
		wantCalls int32
		wantChall string
	}{
		{name: "missing", headers: nil, wantCode: 401, wantChall: "Bearer"},
		{name: "basic scheme", headers: []string{"Basic dXNlcjpwYXNz"}, wantCode: 401, wantChall: `error="invalid_request"`},
		{name: "scheme only", headers: []string{"Bearer"}, wantCode: 401, wantChall: `error="invalid_request"`},
		{name: "empty token", headers: []string{"Bearer "}, wantCode: 401, wantChall: `error="invalid_request"`},
		{name: "two words", headers: []string{"Bearer " + tok + " extra"}, wantCode: 401, wantChall: `error="invalid_request"`},
		{name: "control character", headers: []string{"Bearer " + tok + "\x01"}, wantCode: 401, wantChall: `error="invalid_request"`},
		{name: "padding in the middle", headers: []string{"Bearer ab=cd"}, wantCode: 401, wantChall: `error="invalid_request"`},
		{name: "oversized", headers: []string{"Bearer " + strings.Repeat("a", 9000)}, wantCode: 401, wantChall: `error="invalid_request"`},
		{name: "two headers", headers: []string{"Bearer " + tok, "Bearer " + tok}, wantCode: 401, wantChall: `error="invalid_request"`},
		{name: "lower-case scheme accepted", headers: []string{"bearer " + tok}, wantCode: 200, wantCalls: 1},
		{name: "extra spaces accepted", headers: []string{"Bearer   " + tok}, wantCode: 200, wantCalls: 1},
		{name: "trailing padding accepted", headers: []string{"Bearer " + tok + "=="}, wantCode: 200, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeStorage(t, allow)
			g, _ := newGuard(t, fs)
			var reached bool
			h := g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tc.headers {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantCode)
			}
			if reached != (tc.wantCode == 200) {
				t.Errorf("next reached = %v", reached)
			}
			if got := fs.calls.Load(); got != tc.wantCalls {
				t.Errorf("storage calls = %d, want %d", got, tc.wantCalls)
			}
			chall := rec.Header().Get("WWW-Authenticate")
			if tc.wantChall != "" && (!strings.HasPrefix(chall, "Bearer") || !strings.Contains(chall, tc.wantChall)) {
				t.Errorf("WWW-Authenticate = %q, want Bearer ... %s", chall, tc.wantChall)
			}
			if tc.name == "missing" && strings.Contains(chall, "error=") {
				t.Errorf("WWW-Authenticate = %q: RFC 6750 wants no error code when credentials are absent", chall)
			}
		})
	}
}

func TestCheckRejectsUnusableTokenWithoutCallingStorage(t *testing.T) {
	fs := newFakeStorage(t, allow)
	g, _ := newGuard(t, fs)
	for _, tok := range []string{"", "has space", "line\nbreak", strings.Repeat("a", 9000)} {
		d, err := g.Check(context.Background(), tok)
		if d != guard.Unauthenticated || err != nil {
			t.Errorf("Check(%q) = %v, %v; want unauthenticated, nil", tok, d, err)
		}
	}
	if got := fs.calls.Load(); got != 0 {
		t.Errorf("storage calls = %d, want 0", got)
	}
}

// TestCachedDecisions: allow, deny and unauthenticated are reused; failures
// are not.
func TestCachedDecisions(t *testing.T) {
	cases := []struct {
		name      string
		respond   func(http.ResponseWriter, *http.Request, string)
		want      guard.Decision
		wantCalls int32
	}{
		{"allow", allow, guard.Allow, 1},
		{"deny", deny, guard.Deny, 1},
		{"unauthenticated", apiError(401), guard.Unauthenticated, 1},
		{"scope-insufficient 403", forbidden("insufficientPermissions"), guard.Deny, 1},
		{"failure is not cached", apiError(500), guard.Unavailable, 3},
		{"403 about the project is not cached", forbidden("userProjectAccountProblem"), guard.Unavailable, 3},
		{"bucket in another project is not cached", bucketIn(otherProject), guard.Unavailable, 3},
		{"re-created bucket is not cached", bucketAt(project, recreated), guard.Unavailable, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeStorage(t, tc.respond)
			g, _ := newGuard(t, fs)
			tok := tokenFor(t, "a")
			for i := range 3 {
				if d, _ := g.Check(context.Background(), tok); d != tc.want {
					t.Fatalf("call %d: decision %v, want %v", i, d, tc.want)
				}
			}
			if got := fs.calls.Load(); got != tc.wantCalls {
				t.Errorf("storage calls = %d, want %d", got, tc.wantCalls)
			}
			// A different token is a different caller.
			_, _ = g.Check(context.Background(), tokenFor(t, "b"))
			if got := fs.calls.Load(); got != tc.wantCalls+1 {
				t.Errorf("after a second token: storage calls = %d, want %d", got, tc.wantCalls+1)
			}
		})
	}
}

func TestRecoversAfterFailure(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	fs := newFakeStorage(t, func(w http.ResponseWriter, r *http.Request, tok string) {
		if fail.Load() {
			apiError(503)(w, r, tok)
			return
		}
		allow(w, r, tok)
	})
	g, _ := newGuard(t, fs)
	tok := tokenFor(t, "a")
	if d, _ := g.Check(context.Background(), tok); d != guard.Unavailable {
		t.Fatalf("during outage: %v, want unavailable", d)
	}
	fail.Store(false)
	if d, _ := g.Check(context.Background(), tok); d != guard.Allow {
		t.Fatalf("after outage: %v, want allow (a failure must not be cached)", d)
	}
	if got := fs.calls.Load(); got != 2 {
		t.Errorf("storage calls = %d, want 2", got)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestCacheExpiry(t *testing.T) {
	cases := []struct {
		name string
		opts []guard.Option
		ttl  time.Duration
	}{
		{"configured 30s", []guard.Option{guard.WithCacheTTL(30 * time.Second)}, 30 * time.Second},
		{"default", nil, guard.DefaultCacheTTL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeStorage(t, allow)
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			g, _ := newGuard(t, fs, append(tc.opts, guard.WithClock(clock.Now))...)
			tok := tokenFor(t, "a")
			check := func(wantCalls int32) {
				t.Helper()
				if d, _ := g.Check(context.Background(), tok); d != guard.Allow {
					t.Fatalf("decision %v, want allow", d)
				}
				if got := fs.calls.Load(); got != wantCalls {
					t.Fatalf("storage calls = %d, want %d", got, wantCalls)
				}
			}
			check(1)
			clock.Advance(tc.ttl - time.Nanosecond)
			check(1) // still fresh
			clock.Advance(time.Nanosecond)
			check(2) // expired exactly at TTL
			check(2) // and cached again
		})
	}
}

func TestDefaults(t *testing.T) {
	if guard.DefaultTimeout < time.Second || guard.DefaultTimeout > 10*time.Second {
		t.Errorf("DefaultTimeout = %v, want a few seconds", guard.DefaultTimeout)
	}
	if guard.DefaultCacheTTL < 30*time.Second || guard.DefaultCacheTTL > 5*time.Minute {
		t.Errorf("DefaultCacheTTL = %v, want between 30s and 5m", guard.DefaultCacheTTL)
	}
	if guard.MaxCacheTTL >= time.Hour {
		t.Errorf("MaxCacheTTL = %v must stay below an access token's 1h life", guard.MaxCacheTTL)
	}
	if guard.DefaultMaxConcurrentLookups < 8 || guard.DefaultMaxConcurrentLookups > 1000 {
		t.Errorf("DefaultMaxConcurrentLookups = %d, want a few dozen", guard.DefaultMaxConcurrentLookups)
	}
}

// TestCacheIsBoundedLRU: with room for two, the least recently used token is
// the one evicted.
func TestCacheIsBoundedLRU(t *testing.T) {
	fs := newFakeStorage(t, allow)
	g, _ := newGuard(t, fs, guard.WithCacheSize(2))
	a, b, c := tokenFor(t, "a"), tokenFor(t, "b"), tokenFor(t, "c")
	steps := []struct {
		tok       string
		wantCalls int32
	}{
		{a, 1}, // miss       [a]
		{b, 2}, // miss       [b a]
		{a, 2}, // hit        [a b]
		{c, 3}, // miss, evicts b (least recently used), not a (oldest)
		{a, 3}, // hit        [a c]
		{b, 4}, // miss, evicts c
		{a, 4}, // hit
		{c, 5}, // miss: c was evicted
	}
	for i, s := range steps {
		if d, _ := g.Check(context.Background(), s.tok); d != guard.Allow {
			t.Fatalf("step %d: decision %v", i, d)
		}
		if got := fs.calls.Load(); got != s.wantCalls {
			t.Fatalf("step %d: storage calls = %d, want %d", i, got, s.wantCalls)
		}
	}
}

func TestCacheCanBeDisabled(t *testing.T) {
	for _, opt := range []guard.Option{guard.WithCacheTTL(0), guard.WithCacheSize(0)} {
		fs := newFakeStorage(t, allow)
		g, _ := newGuard(t, fs, opt)
		tok := tokenFor(t, "a")
		for range 3 {
			_, _ = g.Check(context.Background(), tok)
		}
		if got := fs.calls.Load(); got != 3 {
			t.Errorf("storage calls = %d, want 3 with caching disabled", got)
		}
	}
}

// blockingStorage grants, but holds each call whose token held names (every
// call when held is nil) until release is called; entered receives one value
// per held call. release may be called more than once, and is called when the
// test ends.
func blockingStorage(t *testing.T, held func(tok string) bool) (fs *fakeStorage, entered chan struct{}, release func()) {
	entered = make(chan struct{}, 100)
	released := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(released) }) }
	fs = newFakeStorage(t, func(w http.ResponseWriter, r *http.Request, tok string) {
		if held == nil || held(tok) {
			entered <- struct{}{}
			select {
			case <-released:
			case <-r.Context().Done():
				return
			}
		}
		allow(w, r, tok)
	})
	// Registered after the server's own cleanup, so it runs first: a failed
	// test must not leave the server's Close waiting on stalled handlers.
	t.Cleanup(release)
	return fs, entered, release
}

func TestConcurrentFirstCallsShareOneRoundTrip(t *testing.T) {
	fs, entered, release := blockingStorage(t, nil)
	g, _ := newGuard(t, fs)
	tok := tokenFor(t, "burst")

	const n = 50
	var started, done sync.WaitGroup
	results := make([]guard.Decision, n)
	for i := range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			results[i], _ = g.Check(context.Background(), tok)
		}()
	}
	started.Wait()
	<-entered
	// Give the remaining goroutines a moment to join the flight. Passing does
	// not depend on this (late arrivals hit the cache), but without it a
	// missing singleflight could go unnoticed.
	time.Sleep(5 * time.Millisecond)
	release()
	done.Wait()

	if got := fs.calls.Load(); got != 1 {
		t.Errorf("storage calls = %d, want exactly 1 for %d concurrent first calls", got, n)
	}
	for i, d := range results {
		if d != guard.Allow {
			t.Errorf("goroutine %d: %v, want allow", i, d)
		}
	}
}

// TestCallerGivingUpDoesNotFailOthers: the shared lookup must outlive the
// caller that started it.
func TestCallerGivingUpDoesNotFailOthers(t *testing.T) {
	fs, entered, release := blockingStorage(t, nil)
	g, logs := newGuard(t, fs)
	tok := tokenFor(t, "shared")

	ctx, cancel := context.WithCancel(context.Background())
	type res struct {
		d   guard.Decision
		err error
	}
	first := make(chan res, 1)
	go func() {
		d, err := g.Check(ctx, tok)
		first <- res{d, err}
	}()
	<-entered
	second := make(chan res, 1)
	go func() {
		d, err := g.Check(context.Background(), tok)
		second <- res{d, err}
	}()
	cancel()
	r1 := <-first // must return while Storage is still stalled
	if r1.d != guard.Unavailable || !errors.Is(r1.err, context.Canceled) || !errors.Is(r1.err, guard.ErrUnavailable) {
		t.Errorf("cancelled caller got %v, %v; want unavailable wrapping context.Canceled", r1.d, r1.err)
	}
	release()
	r2 := <-second
	if r2.d != guard.Allow || r2.err != nil {
		t.Errorf("other caller got %v, %v; want allow", r2.d, r2.err)
	}
	if got := fs.calls.Load(); got != 1 {
		t.Errorf("storage calls = %d, want 1", got)
	}
	if got := logs.count(t, slog.LevelWarn); got != 0 {
		t.Errorf("a caller hanging up is not a guard failure, yet %d warning/error lines:\n%s", got, logs)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		allow(w, r, "")
	}))
	t.Cleanup(other.Close)
	fs := newFakeStorage(t, func(w http.ResponseWriter, r *http.Request, _ string) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	})
	g, logs := newGuard(t, fs)
	d, err := g.Check(context.Background(), tokenFor(t, "a"))
	if d != guard.Unavailable || !errors.Is(err, guard.ErrUnavailable) {
		t.Errorf("got %v, %v; want unavailable", d, err)
	}
	if got := elsewhere.Load(); got != 0 {
		t.Errorf("redirect target was called %d times with the caller's token", got)
	}
	if !strings.Contains(logs.String(), "redirect") {
		t.Errorf("log does not say why:\n%s", logs)
	}
}

func TestUnreachableStorage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now: connection refused

	sink := &logSink{}
	g, err := guard.New(context.Background(), bucket,
		guard.WithProjectNumber(project),
		guard.WithBucketCreationTime(createdPin),
		guard.WithLogger(slog.New(slog.NewJSONHandler(sink, nil))),
		guard.WithClientOptions(option.WithEndpoint("http://"+addr+"/storage/v1/")))
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenFor(t, "a")
	d, err := g.Check(context.Background(), tok)
	if d != guard.Unavailable || !errors.Is(err, guard.ErrUnavailable) {
		t.Errorf("got %v, %v; want unavailable", d, err)
	}
	if got := sink.count(t, slog.LevelError); got != 1 {
		t.Errorf("ERROR lines = %d, want 1:\n%s", got, sink)
	}
	assertNoLeak(t, tok, "log", sink.String())
}

func TestEndpointWithoutTrailingSlash(t *testing.T) {
	fs := newFakeStorage(t, allow)
	g, err := guard.New(context.Background(), bucket,
		guard.WithProjectNumber(project),
		guard.WithBucketCreationTime(createdPin),
		guard.WithLogger(slog.New(slog.DiscardHandler)),
		guard.WithClientOptions(option.WithEndpoint(fs.srv.URL+"/storage/v1")))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := g.Check(context.Background(), tokenFor(t, "a")); d != guard.Allow {
		t.Errorf("got %v, %v; want allow (the fake answers only under /storage/v1/b/...)", d, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ep := guard.WithClientOptions(option.WithEndpoint("http://127.0.0.1:1/storage/v1/"))
	born := guard.WithBucketCreationTime(createdPin)
	pin := guard.WithProjectNumber(project)
	cases := []struct {
		name   string
		bucket string
		opts   []guard.Option
		hints  []string
	}{
		{"empty bucket", "", []guard.Option{pin, born}, []string{"empty"}},
		{"gs URL", "gs://my-bucket", []guard.Option{pin, born}, []string{"bare bucket name"}},
		{"upper case", "My-Bucket", []guard.Option{pin, born}, []string{"lowercase"}},
		{"too short", "ab", []guard.Option{pin, born}, []string{"3 to 63"}},
		{"no project pin", bucket, []guard.Option{born}, []string{"guard.WithProjectNumber"}},
		{"empty project number", bucket, []guard.Option{guard.WithProjectNumber(""), born}, []string{"unset environment variable"}},
		{"project ID instead of number", bucket, []guard.Option{guard.WithProjectNumber("acme-platform-dev"), born}, []string{"not the project ID"}},
		{"signed project number", bucket, []guard.Option{guard.WithProjectNumber("+" + project), born}, []string{"not the project ID"}},
		{"zero project number", bucket, []guard.Option{guard.WithProjectNumber("0"), born}, []string{"not the project ID"}},
		{"pin and skip together", bucket, []guard.Option{pin, guard.WithInsecureSkipProjectCheck(), born}, []string{"both"}},
		{"no creation-time pin", bucket, []guard.Option{pin}, []string{"guard.WithBucketCreationTime", "value(creation_time)", "get-iam-policy gs://" + bucket}},
		{"no creation-time pin with the project unchecked", bucket, []guard.Option{guard.WithInsecureSkipProjectCheck()}, []string{"guard.WithBucketCreationTime"}},
		{"no pins at all", bucket, nil, []string{"guard.WithProjectNumber", "guard.WithBucketCreationTime"}},
		{"empty creation time", bucket, []guard.Option{pin, guard.WithBucketCreationTime("")}, []string{"guard.WithBucketCreationTime", "unset environment variable"}},
		{"date only", bucket, []guard.Option{pin, guard.WithBucketCreationTime("2025-03-04")}, []string{`guard.WithBucketCreationTime("2025-03-04")`, "not a creation time"}},
		{"no zone", bucket, []guard.Option{pin, guard.WithBucketCreationTime("2025-03-04T05:06:07")}, []string{`guard.WithBucketCreationTime("2025-03-04T05:06:07")`, "with its zone"}},
		{"gcloud's yaml with its key", bucket, []guard.Option{pin, guard.WithBucketCreationTime("creation_time: 2025-03-04T05:06:07+0000")}, []string{"not a creation time"}},
		{"unix seconds", bucket, []guard.Option{pin, guard.WithBucketCreationTime("1741064767")}, []string{"not a creation time"}},
		{"negative TTL", bucket, []guard.Option{pin, born, guard.WithCacheTTL(-time.Second)}, []string{"use 0 to disable"}},
		{"TTL too long", bucket, []guard.Option{pin, born, guard.WithCacheTTL(time.Hour)}, []string{"revoked"}},
		{"negative size", bucket, []guard.Option{pin, born, guard.WithCacheSize(-1)}, []string{"use 0 to disable"}},
		{"zero timeout", bucket, []guard.Option{pin, born, guard.WithTimeout(0)}, []string{"positive"}},
		{"zero lookup limit", bucket, []guard.Option{pin, born, guard.WithMaxConcurrentLookups(0)}, []string{"positive"}},
		{"negative lookup limit", bucket, []guard.Option{pin, born, guard.WithMaxConcurrentLookups(-1)}, []string{"positive"}},
		{"endpoint without host", bucket, []guard.Option{pin, born, guard.WithClientOptions(option.WithEndpoint("http:///storage/v1/"))}, []string{"absolute"}},
		{"endpoint with odd scheme", bucket, []guard.Option{pin, born, guard.WithClientOptions(option.WithEndpoint("ftp://example.test/storage/v1/"))}, []string{"absolute"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := guard.New(context.Background(), tc.bucket, append([]guard.Option{ep}, tc.opts...)...)
			if err == nil {
				t.Fatalf("New succeeded (%v); want an error", g)
			}
			for _, hint := range tc.hints {
				if !strings.Contains(err.Error(), hint) {
					t.Errorf("error %q lacks the hint %q", err, hint)
				}
			}
		})
	}
}

func TestDecisionStatus(t *testing.T) {
	var zero guard.Decision
	if zero != guard.Unavailable || zero.HTTPStatus() != http.StatusServiceUnavailable {
		t.Errorf("zero Decision = %v/%d; it must refuse", zero, zero.HTTPStatus())
	}
	want := map[guard.Decision]int{guard.Allow: 200, guard.Deny: 403, guard.Unauthenticated: 401, guard.Unavailable: 503}
	for d, code := range want {
		if d.HTTPStatus() != code {
			t.Errorf("%v.HTTPStatus() = %d, want %d", d, d.HTTPStatus(), code)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []guard.Option
	}{
		{"cached", nil},
		{"uncached", []guard.Option{guard.WithCacheTTL(0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				allow(w, r, "")
			}))
			defer srv.Close()
			g, err := guard.New(context.Background(), bucket, append([]guard.Option{
				guard.WithProjectNumber(project),
				guard.WithBucketCreationTime(createdPin),
				guard.WithLogger(slog.New(slog.DiscardHandler)),
				guard.WithClientOptions(option.WithEndpoint(srv.URL + "/storage/v1/")),
			}, bc.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for b.Loop() {
				if d, _ := g.Check(ctx, "ya29.benchmark-token"); d != guard.Allow {
					b.Fatalf("decision %v", d)
				}
			}
		})
	}
}

// TestNewNeedsNoCredentials: the guard never uses the function's own
// credentials, so building it must not look for any. A guard that fell back to
// Application Default Credentials would test the function's permission, not
// the caller's.
func TestNewNeedsNoCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/does-not-exist.json")
	fs := newFakeStorage(t, allow)
	g, _ := newGuard(t, fs, guard.WithClientOptions(option.WithAuthCredentialsFile(option.ServiceAccount, t.TempDir()+"/also-missing.json")))
	tok := tokenFor(t, "a")
	if d, err := g.Check(context.Background(), tok); d != guard.Allow {
		t.Fatalf("got %v, %v; want allow", d, err)
	}
	if got := fs.authHeaders(); len(got) != 1 || got[0] != "Bearer "+tok {
		t.Errorf("storage saw Authorization %q, want only the caller's token", got)
	}
	if _, err := guard.New(context.Background(), bucket, guard.WithProjectNumber(project), guard.WithBucketCreationTime(createdPin)); err != nil {
		t.Errorf("New with the production endpoint and no credentials: %v", err)
	}
}
