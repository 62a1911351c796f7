// Package guard authorises callers of a Cloud Function or Cloud Run handler
// with the "authz bucket" pattern: a dedicated Cloud Storage bucket that holds
// no objects, a custom role carrying only storage.buckets.get granted on that
// bucket to the allowed callers, and a handler that asks Cloud Storage, using
// the caller's own OAuth2 access token, whether the caller holds that
// permission (buckets.testIamPermissions).
//
// Every outcome other than an explicit "yes" from Cloud Storage refuses the
// request: the guard fails closed.
package guard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"
)

// Permission is the one permission the guard tests on the bucket. The custom
// role granted to callers should hold exactly this permission.
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
	// DefaultCacheSize bounds the number of cached decisions. A flood of
	// distinct (for example random) tokens evicts old entries instead of
	// growing memory.
	DefaultCacheSize = 10000
	// DefaultTimeout bounds one testIamPermissions round trip. Storage answers
	// in tens of milliseconds; waiting longer only holds the caller's request.
	DefaultTimeout = 3 * time.Second
)

// maxTokenLen rejects absurd headers before they cost a Storage round trip.
// Google documents access tokens as up to 2048 bytes; leave room to grow.
const maxTokenLen = 8192

// Decision is the outcome of a check. Its zero value is Unavailable, so code
// that ignores the error still refuses the request.
type Decision uint8

const (
	// Unavailable: the guard could not get an answer from Cloud Storage
	// (outage, timeout, missing bucket, unreadable reply). Refuse with 503.
	Unavailable Decision = iota
	// Allow: Cloud Storage confirmed the caller holds Permission on the bucket.
	Allow
	// Deny: the token is valid but the caller lacks Permission. Refuse with 403.
	Deny
	// Unauthenticated: there is no usable token, or Cloud Storage rejected it
	// as invalid or expired. Refuse with 401.
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
	ttl        time.Duration
	size       int
	timeout    time.Duration
	logger     *slog.Logger
	now        func() time.Time
	clientOpts []option.ClientOption
}

// WithCacheTTL sets how long a decision is reused. Zero disables caching;
// negative values and values above MaxCacheTTL are rejected by New.
func WithCacheTTL(d time.Duration) Option { return func(c *config) { c.ttl = d } }

// WithCacheSize bounds the number of cached decisions; the least recently used
// is evicted first. Zero disables caching; negative values are rejected.
func WithCacheSize(n int) Option { return func(c *config) { c.size = n } }

// WithTimeout bounds one Cloud Storage round trip. It must be positive.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

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
	svc     *storage.Service
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	cache   *decisionCache // nil when caching is disabled
	ttl     time.Duration
	flights singleflight.Group
}

// New returns a Guard for bucket, the bare bucket name (not gs://...).
// ctx is used only while building the Storage client.
func New(ctx context.Context, bucket string, opts ...Option) (*Guard, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	cfg := config{ttl: DefaultCacheTTL, size: DefaultCacheSize, timeout: DefaultTimeout}
	for _, o := range opts {
		o(&cfg)
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
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}

	svc, err := newStorageService(ctx, cfg.clientOpts)
	if err != nil {
		return nil, err
	}
	g := &Guard{
		bucket:  bucket,
		svc:     svc,
		timeout: cfg.timeout,
		log:     cfg.logger.With("component", "guard", "bucket", bucket),
		now:     cfg.now,
		ttl:     cfg.ttl,
	}
	if cfg.ttl > 0 && cfg.size > 0 {
		g.cache = newDecisionCache(cfg.size)
	}
	return g, nil
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
func newStorageService(ctx context.Context, clientOpts []option.ClientOption) (*storage.Service, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Every request goes to one host; the default of 2 idle connections per
	// host would close and reopen connections during any burst.
	base.MaxIdleConnsPerHost = 64
	bt := &bearerTransport{base: base}
	client := &http.Client{
		Transport: bt,
		// testIamPermissions never redirects. Following a redirect would mean
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
// ErrUnavailable; its text never contains the token.
func (g *Guard) Check(ctx context.Context, accessToken string) (Decision, error) {
	if !validToken(accessToken) {
		return Unauthenticated, nil
	}
	// The cache and the flights are keyed by a hash so that the long-lived
	// cache never holds bearer tokens that a heap dump could reveal.
	key := tokenKey(sha256.Sum256([]byte(accessToken)))
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
	if g.cache == nil {
		return Unavailable, false
	}
	return g.cache.get(key, g.now())
}

// lookup runs once per flight.
func (g *Guard) lookup(ctx context.Context, token string, key tokenKey) result {
	// A flight that started just after an earlier one finished would miss
	// the cache check in Check by a hair; checking again keeps a burst at one
	// round trip.
	if d, ok := g.cached(key); ok {
		return result{d: d}
	}
	// The flight is shared, so it must not die with whichever caller happened
	// to start it; only the guard's own timeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	ctx = withCallerToken(ctx, token)

	resp, err := g.svc.Buckets.TestIamPermissions(g.bucket, []string{Permission}).Context(ctx).Do()
	res := g.classify(ctx, token, key, resp, err)
	if res.d != Unavailable && g.cache != nil {
		g.cache.put(key, res.d, g.now().Add(g.ttl))
	}
	return res
}

func (g *Guard) classify(ctx context.Context, token string, key tokenKey, resp *storage.TestIamPermissionsResponse, err error) result {
	if err == nil {
		// Storage answers 200 whether or not the caller holds the permission;
		// only the presence of Permission in the list means yes.
		if slices.Contains(resp.Permissions, Permission) {
			return result{d: Allow}
		}
		g.log.DebugContext(ctx, "guard: caller lacks the permission on the bucket", "token_id", key.id(), "permission", Permission)
		return result{d: Deny}
	}

	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		switch gerr.Code {
		case http.StatusUnauthorized:
			g.log.DebugContext(ctx, "guard: Cloud Storage rejected the caller's token as invalid or expired", "token_id", key.id())
			return result{d: Unauthenticated}
		case http.StatusForbidden:
			// Not "lacks the permission" (that is a 200 without it) but a
			// refusal to answer at all: usually a token minted without a
			// Storage or cloud-platform scope, or a VPC Service Controls
			// perimeter. The caller is still refused; the line tells an
			// operator which it is.
			g.log.WarnContext(ctx, "guard: Cloud Storage refused testIamPermissions for this token (403); check the token's OAuth scopes and any VPC Service Controls perimeter",
				"token_id", key.id(), "error", scrub(gerr.Error(), token))
			return result{d: Deny}
		}
	}

	var reason string
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = fmt.Sprintf("Cloud Storage did not answer within %v (guard.WithTimeout)", g.timeout)
	case gerr != nil && gerr.Code == http.StatusNotFound:
		reason = fmt.Sprintf("bucket %q not found (404): create it, or fix the bucket name passed to guard.New", g.bucket)
	case gerr != nil && gerr.Code >= 300 && gerr.Code < 400:
		reason = fmt.Sprintf("Cloud Storage endpoint answered with a redirect (%d); check option.WithEndpoint", gerr.Code)
	case gerr != nil:
		reason = fmt.Sprintf("Cloud Storage answered HTTP %d", gerr.Code)
	default:
		reason = "could not reach Cloud Storage or read its reply"
	}
	status := 0
	if gerr != nil {
		status = gerr.Code
	}
	detail := scrub(err.Error(), token)
	// The single log line for this failure: emitted by the flight, not by each
	// caller that shares it.
	g.log.ErrorContext(ctx, "guard: authorization check failed; refusing the request (fail closed)",
		"reason", reason, "storage_status", status, "token_id", key.id(), "error", detail)
	var cause error
	if errors.Is(err, context.DeadlineExceeded) {
		cause = context.DeadlineExceeded
	}
	return result{d: Unavailable, err: &unavailableError{msg: "guard: authorization check unavailable: " + reason + ": " + detail, cause: cause}}
}

// scrub removes the caller's token from text that came from elsewhere (error
// strings that may quote a reply body), so it cannot reach a log or an error.
func scrub(s, token string) string {
	return strings.ReplaceAll(s, token, "[REDACTED]")
}
