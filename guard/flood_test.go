package guard_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/platform/private-run-api/guard"
)

// TestRefusalFloodDoesNotEvictAllowedCallers: anyone can send tokens that
// Storage refuses; those decisions live in their own cache, so a flood of
// them cannot push out a real caller's allow and make every one of its
// requests cost a round trip again.
func TestRefusalFloodDoesNotEvictAllowedCallers(t *testing.T) {
	const good = "ya29.a0good-caller"
	fs := newFakeStorage(t, func(w http.ResponseWriter, r *http.Request, tok string) {
		switch {
		case tok == good:
			allow(w, r, tok)
		case strings.HasSuffix(tok, "-deny"):
			deny(w, r, tok)
		default:
			apiError(http.StatusUnauthorized)(w, r, tok)
		}
	})
	g, _ := newGuard(t, fs, guard.WithCacheSize(4))
	ctx := context.Background()
	check := func(tok string, want guard.Decision, wantCalls int32) {
		t.Helper()
		if d, err := g.Check(ctx, tok); d != want {
			t.Fatalf("Check(%s) = %v, %v; want %v", tok, d, err, want)
		}
		if got := fs.calls.Load(); got != wantCalls {
			t.Fatalf("after Check(%s): storage calls = %d, want %d", tok, got, wantCalls)
		}
	}
	bad := func(i int) (string, guard.Decision) {
		if i%2 == 1 {
			return fmt.Sprintf("ya29.a0flood-%d-deny", i), guard.Deny
		}
		return fmt.Sprintf("ya29.a0flood-%d", i), guard.Unauthenticated
	}

	check(good, guard.Allow, 1)
	const flood = 100
	for i := range flood {
		tok, want := bad(i)
		check(tok, want, int32(2+i))
	}
	check(good, guard.Allow, 1+flood) // still cached

	// The refusals stay bounded: the oldest is gone, the newest is kept.
	first, firstWant := bad(0)
	check(first, firstWant, 2+flood)
	last, lastWant := bad(flood - 1)
	check(last, lastWant, 2+flood)
}

// TestLookupLimit: past WithMaxConcurrentLookups round trips in flight, a
// cache miss is refused at once (503 with Retry-After) without calling
// Storage, while cached decisions are still served.
func TestLookupLimit(t *testing.T) {
	fs, entered, unblock := blockingStorage(t, func(tok string) bool { return strings.HasSuffix(tok, ".slow") })
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g, logs := newGuard(t, fs, guard.WithMaxConcurrentLookups(2), guard.WithClock(clock.Now))
	ctx := context.Background()
	calls := func(want int32) {
		t.Helper()
		if got := fs.calls.Load(); got != want {
			t.Fatalf("storage calls = %d, want %d", got, want)
		}
	}

	cached := tokenFor(t, "cached")
	if d, _ := g.Check(ctx, cached); d != guard.Allow {
		t.Fatalf("warming the cache: %v", d)
	}
	calls(1)

	// Two slow lookups hold both slots until released.
	slow := []string{tokenFor(t, "a.slow"), tokenFor(t, "b.slow")}
	results := make([]guard.Decision, len(slow))
	var wg sync.WaitGroup
	for i, tok := range slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = g.Check(ctx, tok)
		}()
	}
	<-entered
	<-entered
	calls(3)

	d, err := g.Check(ctx, tokenFor(t, "c"))
	if d != guard.Unavailable || !errors.Is(err, guard.ErrUnavailable) || !strings.Contains(err.Error(), "guard.WithMaxConcurrentLookups") {
		t.Errorf("Check beyond the limit = %v, %v; want unavailable naming guard.WithMaxConcurrentLookups", d, err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tokenFor(t, "d"))
	g.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("middleware beyond the limit: status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	calls(3) // neither reached Storage

	if d, _ := g.Check(ctx, cached); d != guard.Allow {
		t.Errorf("cached caller while the limit is full: %v, want allow", d)
	}
	calls(3)

	// One warning for a burst of refusals, not one per refusal.
	if got := logs.count(t, slog.LevelWarn); got != 1 || !strings.Contains(logs.String(), `"limit":2`) {
		t.Errorf("WARN lines = %d, want 1 naming the limit:\n%s", got, logs)
	}
	clock.Advance(10 * time.Second)
	if d, _ := g.Check(ctx, tokenFor(t, "e")); d != guard.Unavailable {
		t.Errorf("still full: %v, want unavailable", d)
	}
	if got := logs.count(t, slog.LevelWarn); got != 2 || !strings.Contains(logs.String(), `"refused_since_last_warning":2`) {
		t.Errorf("WARN lines = %d, want 2 once the interval passed:\n%s", got, logs)
	}

	unblock()
	wg.Wait()
	for i, d := range results {
		if d != guard.Allow {
			t.Errorf("slow lookup %d: %v, want allow", i, d)
		}
	}
	// The slots are given back.
	if d, _ := g.Check(ctx, tokenFor(t, "c")); d != guard.Allow {
		t.Errorf("after the slow lookups finished: %v, want allow", d)
	}
	calls(4)
}
