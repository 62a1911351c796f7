package guard

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"
)

// Permission is the one permission the guard relies on. Cloud Storage
// authorises buckets.get with exactly this permission, so a successful
// buckets.get made with the caller's token proves the caller holds it on the
// bucket. The custom role granted to callers should hold only this permission.
const Permission = "storage.buckets.get"

const (
	// DefaultCacheTTL is how long a decision about one token is reused. It is
	// far below an access token's one-hour life, and of the same order as IAM
	// propagation (a couple of minutes), so caching adds little delay to a
	// grant or revocation that IAM would not add anyway.
	DefaultCacheTTL = time.Minute
	// MaxCacheTTL bounds WithCacheTTL: past it a revoked grant, or a token
	// that has expired, would keep being honoured for too long.
	MaxCacheTTL = 10 * time.Minute
	// DefaultCacheSize bounds each of the two decision caches: one for
	// allowed tokens, one for refused ones. Keeping refusals apart means a
	// flood of distinct bad tokens can only evict other refusals, never the
	// allowed callers.
	DefaultCacheSize = 10000
	// DefaultTimeout bounds one Cloud Storage round trip. Storage answers in
	// tens of milliseconds; waiting longer only holds the caller's request.
	DefaultTimeout = 3 * time.Second
	// DefaultMaxConcurrentLookups bounds the Cloud Storage round trips in
	// flight at once. At tens of milliseconds each it still allows a few
	// thousand cache misses a second, while a flood of unknown tokens gets
	// quick 503s instead of piling up goroutines, connections and Storage
	// quota. The guard keeps as many idle connections to Storage as the
	// limit, so every permitted lookup can reuse a warm one.
	DefaultMaxConcurrentLookups = 64
)

// bucketFields is exactly what classifyBucket reads from buckets.get: who owns
// the bucket and when Storage created it.
const bucketFields = "projectNumber,timeCreated"

// maxTokenLen rejects absurd headers before they cost a Storage round trip.
// Google documents access tokens as up to 2048 bytes; leave room to grow.
const maxTokenLen = 8192

// busyLogInterval spaces out the warnings about a full lookup limit: during a
// flood, one line per refused request would be a second flood.
const busyLogInterval = 10 * time.Second

// Decision is the outcome of a check. Its zero value is Unavailable, so code
// that ignores the error still refuses the request.
type Decision uint8

const (
	// Unavailable: the guard could not get a trustworthy answer (Cloud
	// Storage outage or timeout, missing bucket, bucket in the wrong
	// project or re-created since its creation time was pinned, a 403 about
	// a project rather than the caller, too many lookups in flight,
	// unreadable reply). Refuse with 503.
	Unavailable Decision = iota
	// Allow: Cloud Storage confirmed the caller holds Permission on the
	// bucket, the bucket belongs to the expected project, and it is the
	// bucket created at the pinned time.
	Allow
	// Deny: the token is valid but the caller lacks Permission, or the token
	// lacks a Cloud Storage scope. Refuse with 403.
	Deny
	// Unauthenticated: there is no usable token, it is a JWT (such as an ID
	// token) rather than an access token, or Cloud Storage rejected it as
	// invalid or expired. Refuse with 401.
	Unauthenticated
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case Unauthenticated:
		return "unauthenticated"
	default:
		return "unavailable"
	}
}

// HTTPStatus is the status code the middleware answers with for d.
func (d Decision) HTTPStatus() int {
	switch d {
	case Allow:
		return http.StatusOK
	case Deny:
		return http.StatusForbidden
	case Unauthenticated:
		return http.StatusUnauthorized
	default:
		return http.StatusServiceUnavailable
	}
}

// ErrUnavailable is matched (errors.Is) by every error Check returns. Check
// returns an error only together with the Unavailable decision.
var ErrUnavailable = errors.New("guard: authorization check unavailable")

// unavailableError carries a message that has already been scrubbed of the
// caller's token. It deliberately does not wrap the underlying error: a
// googleapi.Error prints the reply body, and nothing guarantees that body
// never echoes what we sent.
type unavailableError struct {
	msg   string
	cause error // only context sentinels, which print no caller data
}

func (e *unavailableError) Error() string { return e.msg }

func (e *unavailableError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.cause}
}

// Option configures a Guard.
type Option func(*config)

type config struct {
	ttl         time.Duration
	size        int
	timeout     time.Duration
	maxLookups  int
	logger      *slog.Logger
	now         func() time.Time
	clientOpts  []option.ClientOption
	project     string
	projectSet  bool
	skipProject bool
	created     string
	createdSet  bool
}

// WithProjectNumber pins the bucket to the project that must own it: the
// project number (digits, such as "123456789012"), not the project ID. New
// requires either this or WithInsecureSkipProjectCheck.
//
// Bucket names are global. Should the authz bucket be deleted, anyone could
// create a bucket of the same name in their own project and grant
// storage.buckets.get on it to every account; without the pin, the guard
// would then let everyone through. With it, a bucket owned by any other
// project fails every check closed, with an ERROR line.
//
// The number is a string so that it can come straight from an environment
// variable: an unset one gives "", which New rejects instead of running
// unpinned.
func WithProjectNumber(n string) Option {
	return func(c *config) { c.project, c.projectSet = n, true }
}

// WithInsecureSkipProjectCheck accepts the bucket whichever project owns it.
// The creation-time pin (WithBucketCreationTime, still required) refuses a
// bucket re-created under the name anywhere, but with the project unchecked
// that pin is the only thing standing between a claimed name and its new
// owner's callers. Use it only where the project number cannot be known, and
// never together with WithProjectNumber.
func WithInsecureSkipProjectCheck() Option {
	return func(c *config) { c.skipProject = true }
}

// WithBucketCreationTime pins the bucket to the one Cloud Storage created at
// t: its creation time (timeCreated in the JSON API, creation_time in
// gcloud), which Storage sets when it creates a bucket and nobody can change.
// New requires it.
//
// The project pin cannot tell the stack's bucket from one a project Editor
// deleted and created again under the same name: same project, same number.
// The new bucket starts with Cloud Storage's default policy, under which every
// project Viewer passes the guard, and the Editor can grant it to anyone. Its
// creation time is necessarily later than the pinned one, so every check
// against it fails closed (Unavailable, never cached) with an ERROR line that
// names both times and what to do.
//
// Record the value only once the bucket's IAM policy is the stack's: that is
// what makes the guard refuse while a first deploy has left Storage's default
// policy on a new bucket. Read it with
//
//	gcloud storage buckets describe gs://BUCKET --format='value(creation_time)'
//
// t is a string so that it can come straight from an environment variable:
// an unset one gives "", which New rejects instead of running unpinned. New
// accepts RFC 3339 ("2025-03-04T05:06:07.891Z", as the JSON API and the
// console show it) and gcloud's form ("2025-03-04T05:06:07+0000"). Times
// compare as instants to the whole second, because gcloud prints whole
// seconds; a re-created bucket's creation time is later than the pinned one
// by far more.
func WithBucketCreationTime(t string) Option {
	return func(c *config) { c.created, c.createdSet = t, true }
}

// WithCacheTTL sets how long a decision is reused. Zero disables caching;
// negative values and values above MaxCacheTTL are rejected by New.
func WithCacheTTL(d time.Duration) Option { return func(c *config) { c.ttl = d } }

// WithCacheSize bounds each of the two decision caches (allowed tokens, and
// refused tokens); the least recently used entry is evicted first. Zero
// disables caching; negative values are rejected.
func WithCacheSize(n int) Option { return func(c *config) { c.size = n } }

// WithTimeout bounds one Cloud Storage round trip. It must be positive.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMaxConcurrentLookups bounds the Cloud Storage round trips in flight at
// once (default DefaultMaxConcurrentLookups). A check that would exceed it is
// refused at once as Unavailable (the middleware answers 503 with
// Retry-After) without calling Storage; cached decisions are still served.
// It must be positive.
func WithMaxConcurrentLookups(n int) Option { return func(c *config) { c.maxLookups = n } }

// WithLogger sets where the guard logs. A nil logger means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock replaces time.Now for cache expiry, so tests can move time.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithClientOptions passes options to the Storage JSON API client, typically
// option.WithEndpoint in tests or option.WithUserAgent. Options that choose
// credentials or an HTTP client have no effect: the guard always calls Storage
// as the caller, never as the function's own service account, because
// testing the function's own permission would let every caller through.
func WithClientOptions(opts ...option.ClientOption) Option {
	return func(c *config) { c.clientOpts = append(c.clientOpts, opts...) }
}

// Guard checks callers against one bucket. It is safe for concurrent use;
// create one per process and share it.
type Guard struct {
	bucket  string
	project uint64 // 0 only with WithInsecureSkipProjectCheck
	// created is the pinned creation time, UTC, truncated to the second.
	created time.Time
	svc     *storage.Service
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	ttl     time.Duration
	// allowed and refused are nil when caching is disabled. Two caches, so
	// that refusals (which anyone can cause) never evict allowed callers.
	allowed *decisionCache
	refused *decisionCache
	flights singleflight.Group
	// lookups holds one token per Storage round trip in flight.
	lookups chan struct{}
	// busyRefused counts lookups refused for a full limit since the last
	// warning; busyLoggedAt is when that warning was written (UnixNano).
	busyRefused  atomic.Int64
	busyLoggedAt atomic.Int64
}

// New returns a Guard for bucket, the bare bucket name (not gs://...).
// WithBucketCreationTime is required, and one of WithProjectNumber or
// WithInsecureSkipProjectCheck. ctx is used only while building the Storage
// client.
func New(ctx context.Context, bucket string, opts ...Option) (*Guard, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	cfg := config{ttl: DefaultCacheTTL, size: DefaultCacheSize, timeout: DefaultTimeout, maxLookups: DefaultMaxConcurrentLookups}
	for _, o := range opts {
		o(&cfg)
	}
	// Both pins at once: a deployment that lacks both learns it in one go.
	project, projectErr := projectPin(bucket, cfg)
	created, createdErr := creationTimePin(bucket, cfg)
	if err := errors.Join(projectErr, createdErr); err != nil {
		return nil, err
	}
	switch {
	case cfg.ttl < 0:
		return nil, fmt.Errorf("guard: cache TTL %v is negative; use 0 to disable caching", cfg.ttl)
	case cfg.ttl > MaxCacheTTL:
		return nil, fmt.Errorf("guard: cache TTL %v exceeds %v; a longer TTL keeps honouring revoked grants and expired tokens", cfg.ttl, MaxCacheTTL)
	case cfg.size < 0:
		return nil, fmt.Errorf("guard: cache size %d is negative; use 0 to disable caching", cfg.size)
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("guard: timeout %v must be positive (default %v)", cfg.timeout, DefaultTimeout)
	case cfg.maxLookups <= 0:
		return nil, fmt.Errorf("guard: max concurrent lookups %d must be positive (default %d)", cfg.maxLookups, DefaultMaxConcurrentLookups)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}

	svc, err := newStorageService(ctx, cfg.clientOpts, cfg.maxLookups)
	if err != nil {
		return nil, err
	}
	log := cfg.logger.With("component", "guard", "bucket", bucket)
	if project == 0 {
		log.WarnContext(ctx, "guard: the bucket's project is not checked (guard.WithInsecureSkipProjectCheck); only the creation-time pin now tells the bucket from one re-created under its name elsewhere. Pin the project with guard.WithProjectNumber")
	}
	g := &Guard{
		bucket:  bucket,
		project: project,
		created: created,
		svc:     svc,
		timeout: cfg.timeout,
		log:     log,
		now:     cfg.now,
		ttl:     cfg.ttl,
		lookups: make(chan struct{}, cfg.maxLookups),
	}
	if cfg.ttl > 0 && cfg.size > 0 {
		g.allowed = newDecisionCache(cfg.size)
		g.refused = newDecisionCache(cfg.size)
	}
	return g, nil
}

// projectPin turns the project options into the number to compare with, or
// 0 when the check is explicitly skipped.
func projectPin(bucket string, cfg config) (uint64, error) {
	const find = "find it with: gcloud projects describe PROJECT_ID --format='value(projectNumber)'"
	switch {
	case cfg.projectSet && cfg.skipProject:
		return 0, errors.New("guard: both WithProjectNumber and WithInsecureSkipProjectCheck given; keep only WithProjectNumber")
	case cfg.skipProject:
		return 0, nil
	case !cfg.projectSet:
		return 0, fmt.Errorf("guard: no project pin for bucket %q: pass guard.WithProjectNumber(\"<number of the project that owns the bucket>\") (%s), or guard.WithInsecureSkipProjectCheck() to accept the bucket in any project", bucket, find)
	case cfg.project == "":
		return 0, fmt.Errorf("guard: the project number for bucket %q is empty (an unset environment variable?); pass the number of the project that owns the bucket (%s)", bucket, find)
	}
	n, err := strconv.ParseUint(cfg.project, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("guard: project number %q is not a project number; pass the digits of the project number, not the project ID (%s)", cfg.project, find)
	}
	return n, nil
}

// creationTimeLayouts are the forms WithBucketCreationTime accepts: RFC 3339,
// as the JSON API and the console show timeCreated, and the form gcloud
// storage prints creation_time in (strftime "%Y-%m-%dT%H:%M:%S%z", a numeric
// zone without a colon). Both take an optional fractional second.
var creationTimeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05Z0700"}

// parseCreationTime reads a creation time in one of creationTimeLayouts, as
// an instant truncated to the second.
func parseCreationTime(s string) (time.Time, bool) {
	for _, layout := range creationTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Second), true
		}
	}
	return time.Time{}, false
}

// readCreationTime is the one place that says how to find the pin's value.
func readCreationTime(bucket string) string {
	return fmt.Sprintf("read it with: gcloud storage buckets describe gs://%s --format='value(creation_time)' (or, in the private-run-api repository, go run ./cmd/access -stack STACK -live, which prints it only once the live policy is the stack's), and record it only after gcloud storage buckets get-iam-policy gs://%s shows the stack's policy alone", bucket, bucket)
}

// creationTimePin turns WithBucketCreationTime into the instant to compare
// with.
func creationTimePin(bucket string, cfg config) (time.Time, error) {
	switch {
	case !cfg.createdSet:
		return time.Time{}, fmt.Errorf("guard: no creation-time pin for bucket %q: pass guard.WithBucketCreationTime(\"<the bucket's creation time>\"), so that a bucket deleted and re-created under its name is refused; %s", bucket, readCreationTime(bucket))
	case cfg.created == "":
		return time.Time{}, fmt.Errorf("guard: the creation time for bucket %q (guard.WithBucketCreationTime) is empty (an unset environment variable?); %s", bucket, readCreationTime(bucket))
	}
	t, ok := parseCreationTime(cfg.created)
	if !ok {
		return time.Time{}, fmt.Errorf("guard: guard.WithBucketCreationTime(%q) is not a creation time; pass it as gcloud prints it (2025-03-04T05:06:07+0000) or in RFC 3339 (2025-03-04T05:06:07.891Z), with its zone; %s", cfg.created, readCreationTime(bucket))
	}
	return t, nil
}

// newStorageService builds the one Storage client the Guard uses for every
// caller.
//
// Why one client rather than storage.NewService with a per-caller
// oauth2.StaticTokenSource: each such client brings its own auth transport
// and, unless carefully wired, its own connection pool, so every check would
// pay for setup and often a fresh TLS handshake. Here one *http.Client (one
// pool, kept warm) serves all callers, and bearerTransport adds the caller's
// token to each request from the request context.
func newStorageService(ctx context.Context, clientOpts []option.ClientOption, maxLookups int) (*storage.Service, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Every request goes to one host; the default of 2 idle connections per
	// host would close and reopen connections during any burst.
	base.MaxIdleConnsPerHost = maxLookups
	base.MaxIdleConns = max(base.MaxIdleConns, maxLookups)
	bt := &bearerTransport{base: base}
	client := &http.Client{
		Transport: bt,
		// buckets.get never redirects. Following a redirect would mean
		// sending the caller's token wherever a Location header points, so a
		// redirect is returned as is and treated as a failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// Our HTTP client goes last so that no option can swap in ambient
	// credentials (see WithClientOptions).
	opts := append(slices.Clone(clientOpts), option.WithHTTPClient(client))
	svc, err := storage.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("guard: building the Cloud Storage client: %w", err)
	}
	// A base path without a trailing slash silently drops its last segment
	// when the API paths are resolved against it ("/storage/v1" would become
	// "/storage/b/..."), a common slip with option.WithEndpoint.
	if !strings.HasSuffix(svc.BasePath, "/") {
		svc.BasePath += "/"
	}
	u, err := url.Parse(svc.BasePath)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("guard: Storage endpoint %q is not an absolute http(s) URL; pass e.g. option.WithEndpoint(\"https://storage.googleapis.com/storage/v1/\")", svc.BasePath)
	}
	bt.host = u.Host
	return svc, nil
}

// validateBucket catches the usual mistakes early; Cloud Storage has the final
// word on names.
func validateBucket(b string) error {
	if b == "" {
		return errors.New("guard: bucket name is empty; pass the name of the dedicated authz bucket")
	}
	if strings.Contains(b, "://") || strings.Contains(b, "/") {
		return fmt.Errorf("guard: bucket %q must be a bare bucket name such as %q, not a URL or path", b, "my-authz-bucket")
	}
	if len(b) < 3 || len(b) > 222 {
		return fmt.Errorf("guard: bucket name %q must be 3 to 63 characters (222 with dots)", b)
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("guard: bucket name %q may hold only lowercase letters, digits, '-', '_' and '.'", b)
		}
	}
	return nil
}

// validToken accepts the RFC 6750 b64token syntax. Anything else cannot be an
// access token and, if sent, would make net/http fail the request (control
// characters) and be misreported as an outage.
func validToken(t string) bool {
	if t == "" || len(t) > maxTokenLen {
		return false
	}
	i := 0
	for ; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(t); i++ {
		if t[i] != '=' {
			return false
		}
	}
	return true
}

// isJWT reports whether t is a compact JWS: three dot-separated segments, the
// first a base64url JSON object with an "alg" member. Google's access tokens
// are opaque and never look like that, while ID tokens always do. Sending an
// ID token to Storage would only earn a 401, and would hand a token that
// proves the caller's identity to one more service; refusing it here lets the
// reply say what to send instead. The signature is not looked at: Cloud Run
// strips it from the ID token it has verified before passing the header on.
func isJWT(t string) bool {
	header, rest, ok := strings.Cut(t, ".")
	if !ok || strings.Count(rest, ".") != 1 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(header, "="))
	if err != nil {
		return false
	}
	var h map[string]json.RawMessage
	if json.Unmarshal(raw, &h) != nil {
		return false
	}
	_, ok = h["alg"]
	return ok
}

type tokenKey [sha256.Size]byte

// tokenID is a short, non-reversible label for log lines, so that lines about
// one caller can be correlated without the token ever being written.
func (k tokenKey) id() string { return hex.EncodeToString(k[:6]) }

type result struct {
	d   Decision
	err error
}

// Check reports whether the holder of accessToken (an OAuth2 access token,
// without the "Bearer " prefix) holds Permission on the bucket. The error is
// non-nil exactly when the decision is Unavailable, and then matches
// ErrUnavailable; its text never contains the token. A JWT (such as an ID
// token) is Unauthenticated without any call to Storage.
func (g *Guard) Check(ctx context.Context, accessToken string) (Decision, error) {
	if !validToken(accessToken) {
		return Unauthenticated, nil
	}
	// The cache and the flights are keyed by a hash so that the long-lived
	// cache never holds bearer tokens that a heap dump could reveal.
	key := tokenKey(sha256.Sum256([]byte(accessToken)))
	if isJWT(accessToken) {
		g.log.DebugContext(ctx, "guard: refused a JWT (an ID token?) in place of an OAuth2 access token", "token_id", key.id())
		return Unauthenticated, nil
	}
	if d, ok := g.cached(key); ok {
		return d, nil
	}
	// singleflight: a burst of requests carrying one new token (a client
	// fanning out, or retrying) would otherwise each miss the cache and each
	// cost a Storage round trip; with it the first caller's lookup is shared by
	// all that arrive while it is in flight.
	ch := g.flights.DoChan(string(key[:]), func() (any, error) {
		return g.lookup(ctx, accessToken, key), nil
	})
	select {
	case r := <-ch:
		res := r.Val.(result)
		return res.d, res.err
	case <-ctx.Done():
		// Only this caller gave up; the shared lookup carries on for the
		// others. Not logged: a client hanging up is not a guard failure.
		return Unavailable, &unavailableError{msg: "guard: caller's request ended before the authorization check finished", cause: ctx.Err()}
	}
}

func (g *Guard) cached(key tokenKey) (Decision, bool) {
	if g.allowed == nil {
		return Unavailable, false
	}
	now := g.now()
	// Refusals first: put keeps a token in at most one cache, but if that
	// ever slipped, refusing is the side to err on.
	if d, ok := g.refused.get(key, now); ok {
		return d, true
	}
	return g.allowed.get(key, now)
}

func (g *Guard) remember(key tokenKey, d Decision) {
	if g.allowed == nil {
		return
	}
	expires := g.now().Add(g.ttl)
	switch d {
	case Allow:
		g.refused.remove(key)
		g.allowed.put(key, d, expires)
	case Deny, Unauthenticated:
		g.allowed.remove(key)
		g.refused.put(key, d, expires)
	}
	// Unavailable is never cached: the next request asks again.
}

// lookup runs once per flight.
func (g *Guard) lookup(ctx context.Context, token string, key tokenKey) result {
	// A flight that started just after an earlier one finished would miss
	// the cache check in Check by a hair; checking again keeps a burst at one
	// round trip.
	if d, ok := g.cached(key); ok {
		return result{d: d}
	}
	select {
	case g.lookups <- struct{}{}:
		defer func() { <-g.lookups }()
	default:
		// Waiting for a slot would only let a flood queue up; a quick 503
		// tells a real caller to retry, and costs nothing.
		return g.busy(ctx)
	}
	// The flight is shared, so it must not die with whichever caller happened
	// to start it; only the guard's own timeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	ctx = withCallerToken(ctx, token)

	b, err := g.svc.Buckets.Get(g.bucket).Fields(bucketFields).Context(ctx).Do()
	res := g.classify(ctx, token, key, b, err)
	g.remember(key, res.d)
	return res
}

func (g *Guard) busy(ctx context.Context) result {
	limit := cap(g.lookups)
	g.busyRefused.Add(1)
	now := g.now().UnixNano()
	last := g.busyLoggedAt.Load()
	if (last == 0 || now-last >= int64(busyLogInterval)) && g.busyLoggedAt.CompareAndSwap(last, now) {
		g.log.WarnContext(ctx, "guard: too many authorization lookups in flight; refusing new ones with 503 until some finish. Likely causes: a flood of unknown tokens, slow Cloud Storage, or a limit too low for the traffic (raise it with guard.WithMaxConcurrentLookups)",
			"limit", limit, "refused_since_last_warning", g.busyRefused.Swap(0))
	}
	return result{d: Unavailable, err: &unavailableError{msg: fmt.Sprintf("guard: authorization check unavailable: %d Cloud Storage lookups already in flight (guard.WithMaxConcurrentLookups); retry shortly", limit)}}
}

// scrub removes the caller's token from text that came from elsewhere (error
// strings that may quote a reply body), so it cannot reach a log or an error.
func scrub(s, token string) string {
	return strings.ReplaceAll(s, token, "[REDACTED]")
}
