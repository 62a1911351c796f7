package guard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2/google"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/platform/private-run-api/guard"
)

// A handler's main: the guard in front of every route. It reads the bucket's
// name and its two pins from the environment (see "The creation-time pin" in
// the package documentation for how to record them). This example is
// compiled but not run, as it listens on $PORT and calls Cloud Storage.
func Example() {
	g, err := guard.New(context.Background(),
		os.Getenv("AUTHZ_BUCKET"), // the stack output authzBucket
		// The number (digits), not the ID, of the project that owns the bucket.
		guard.WithProjectNumber(os.Getenv("AUTHZ_PROJECT_NUMBER")),
		// When Storage created the bucket, recorded once its IAM policy was
		// verified.
		guard.WithBucketCreationTime(os.Getenv("AUTHZ_BUCKET_CREATION_TIME")),
		guard.WithLogger(slog.New(slog.NewJSONHandler(os.Stderr, nil))),
	)
	if err != nil {
		log.Fatal(err) // a missing or malformed pin, a bad bucket name or option: fix the deployment
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /purge", func(w http.ResponseWriter, r *http.Request) {
		// only allowed callers get here
	})
	log.Fatal(http.ListenAndServe(":"+os.Getenv("PORT"), g.Middleware(mux)))
}

// A caller, on Cloud Run with the platform's invoker check on: an OAuth2
// access token with a Storage scope in Authorization, for the guard, and an
// ID token for the service's URL in X-Serverless-Authorization, for the
// platform. Without the invoker check, Authorization alone. Both tokens come
// from Application Default Credentials; idtoken makes ID tokens only for a
// service account (the metadata server, workload identity federation, or ADC
// made with gcloud auth application-default login
// --impersonate-service-account) and refuses a user's own login. Compiled but
// not run: it needs Google credentials and the service.
func Example_caller() {
	ctx := context.Background()
	const service = "https://purge-abc123-ew.a.run.app" // the guarded service's URL
	access, err := google.DefaultTokenSource(ctx, "https://www.googleapis.com/auth/devstorage.read_only")
	if err != nil {
		log.Fatal(err)
	}
	id, err := idtoken.NewTokenSource(ctx, service)
	if err != nil {
		log.Fatal(err)
	}
	at, err := access.Token()
	if err != nil {
		log.Fatal(err)
	}
	it, err := id.Token()
	if err != nil {
		log.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, service+"/purge", nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+at.AccessToken)
	req.Header.Set("X-Serverless-Authorization", "Bearer "+it.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
}

// What the middleware answers, for each kind of Authorization header and
// each answer from Cloud Storage.
func ExampleGuard_Middleware() {
	// Cloud Storage, for this example: the caller with the token
	// ya29.allowed holds storage.buckets.get on the bucket, ya29.expired is
	// no longer valid, Storage is down while ya29.during-outage asks, and
	// every other caller lacks the permission.
	storage := exampleStorage(func(_, token string) (int, string) {
		switch token {
		case "ya29.allowed":
			return http.StatusOK, "2025-03-04T05:06:07.891Z"
		case "ya29.expired":
			return http.StatusUnauthorized, ""
		case "ya29.during-outage":
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusForbidden, ""
	})
	defer storage.Close()

	g, err := guard.New(context.Background(), "my-authz-bucket",
		guard.WithProjectNumber("123456789012"),
		guard.WithBucketCreationTime("2025-03-04T05:06:07+0000"),
		// Only in the examples: the stand-in for Cloud Storage. A real
		// handler leaves this out and talks to storage.googleapis.com.
		guard.WithClientOptions(option.WithEndpoint(storage.URL+"/storage/v1/")),
		// The outage below is logged at ERROR; not in this example's output.
		guard.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /purge", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "purged")
	})
	h := g.Middleware(mux)

	// An ID token, as Cloud Run wants in X-Serverless-Authorization: a JWT
	// whose header is {"alg":"RS256"}.
	const idToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2ln"
	for _, auth := range []string{
		"",
		"Basic dXNlcjpwYXNz",
		"Bearer " + idToken,
		"Bearer ya29.allowed",
		"Bearer ya29.not-granted",
		"Bearer ya29.expired",
		"Bearer ya29.during-outage",
	} {
		req := httptest.NewRequest(http.MethodPost, "/purge", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("Authorization %q:\n  %d %s\n", auth, rec.Code, strings.TrimSpace(rec.Body.String()))
		for _, k := range []string{"WWW-Authenticate", "Retry-After"} {
			if v := rec.Header().Get(k); v != "" {
				fmt.Printf("  %s: %s\n", k, v)
			}
		}
	}
	// Output:
	// Authorization "":
	//   401 missing or malformed Authorization header: send 'Authorization: Bearer <OAuth2 access token>'
	//   WWW-Authenticate: Bearer
	// Authorization "Basic dXNlcjpwYXNz":
	//   401 missing or malformed Authorization header: send 'Authorization: Bearer <OAuth2 access token>'
	//   WWW-Authenticate: Bearer error="invalid_request", error_description="expected one header: Authorization: Bearer <OAuth2 access token>"
	// Authorization "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2ln":
	//   401 the Authorization header carries a JWT (such as an ID token), but this endpoint needs an OAuth2 access token: send 'Authorization: Bearer <access token>' (for example from 'gcloud auth print-access-token'). On Cloud Run, send the ID token for the platform's invoker check in 'X-Serverless-Authorization: Bearer <ID token>' instead; Cloud Run checks that header and passes Authorization through to this handler unchanged.
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="a JWT such as an ID token was sent; send an OAuth2 access token"
	// Authorization "Bearer ya29.allowed":
	//   200 purged
	// Authorization "Bearer ya29.not-granted":
	//   403 the caller is not allowed to call this endpoint
	// Authorization "Bearer ya29.expired":
	//   401 the access token was rejected as invalid or expired: obtain a new OAuth2 access token
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="the access token is invalid or expired"
	// Authorization "Bearer ya29.during-outage":
	//   503 the authorization check is temporarily unavailable: retry later
	//   Retry-After: 1
}

// A check per operation: behind the middleware of one guard, a second guard
// on a second bucket, whose role only the finance callers hold, decides who
// may issue refunds.
func ExampleGuard_Check() {
	// Cloud Storage, for this example: the clerk and finance hold the authz
	// role on the orders bucket, only finance on the refunds bucket.
	storage := exampleStorage(func(bucket, token string) (int, string) {
		switch {
		case bucket == "orders-authz" && (token == "ya29.clerk" || token == "ya29.finance"):
			return http.StatusOK, "2025-03-04T05:06:07.891Z"
		case bucket == "refunds-authz" && token == "ya29.finance":
			return http.StatusOK, "2025-05-06T07:08:09.123Z"
		}
		return http.StatusForbidden, ""
	})
	defer storage.Close()

	ctx := context.Background()
	endpoint := guard.WithClientOptions(option.WithEndpoint(storage.URL + "/storage/v1/")) // only in the examples
	orders, err := guard.New(ctx, "orders-authz", guard.WithProjectNumber("123456789012"),
		guard.WithBucketCreationTime("2025-03-04T05:06:07+0000"), endpoint)
	if err != nil {
		log.Fatal(err)
	}
	refunds, err := guard.New(ctx, "refunds-authz", guard.WithProjectNumber("123456789012"),
		guard.WithBucketCreationTime("2025-05-06T07:08:09+0000"), endpoint)
	if err != nil {
		log.Fatal(err)
	}

	// refund sits behind the orders guard's Middleware, which has already
	// checked that Authorization holds one well-formed "Bearer <token>".
	refund := func(w http.ResponseWriter, r *http.Request) {
		_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		// An error comes only with guard.Unavailable, and the guard has logged it.
		if d, _ := refunds.Check(r.Context(), strings.TrimSpace(token)); d != guard.Allow {
			http.Error(w, "refunds need the finance grant", d.HTTPStatus())
			return
		}
		fmt.Fprintln(w, "refund issued")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/{id}/refund", refund)
	h := orders.Middleware(mux)

	for _, token := range []string{"ya29.clerk", "ya29.finance", "ya29.stranger"} {
		req := httptest.NewRequest(http.MethodPost, "/orders/42/refund", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%s: %d %s\n", token, rec.Code, strings.TrimSpace(rec.Body.String()))
	}

	// Check by itself: the decision, its status, and an error only with
	// guard.Unavailable.
	d, err := refunds.Check(ctx, "ya29.clerk")
	fmt.Println(d, d.HTTPStatus(), err)
	// Output:
	// ya29.clerk: 403 refunds need the finance grant
	// ya29.finance: 200 refund issued
	// ya29.stranger: 403 the caller is not allowed to call this endpoint
	// deny 403 <nil>
}

// Each decision's reply status. The zero Decision is Unavailable, so code
// that ignores Check's error still refuses.
func ExampleDecision_HTTPStatus() {
	var zero guard.Decision
	fmt.Println("zero value:", zero, zero.HTTPStatus())
	for _, d := range []guard.Decision{guard.Allow, guard.Deny, guard.Unauthenticated, guard.Unavailable} {
		fmt.Println(d, d.HTTPStatus())
	}
	// Output:
	// zero value: unavailable 503
	// allow 200
	// deny 403
	// unauthenticated 401
	// unavailable 503
}

// New refuses to build a guard it cannot trust, and says what to fix; a
// deployment that lacks both pins learns of both at once.
func ExampleNew() {
	ctx := context.Background()
	// Both variables unset: os.Getenv gives "".
	_, err := guard.New(ctx, "my-authz-bucket",
		guard.WithProjectNumber(""), guard.WithBucketCreationTime(""))
	fmt.Println(err)
	// The project ID where the number belongs.
	_, err = guard.New(ctx, "my-authz-bucket",
		guard.WithProjectNumber("my-project"), guard.WithBucketCreationTime("2025-03-04T05:06:07+0000"))
	fmt.Println(err)
	// A URL where the bare bucket name belongs.
	_, err = guard.New(ctx, "gs://my-authz-bucket")
	fmt.Println(err)
	// Output:
	// guard: the project number for bucket "my-authz-bucket" is empty (an unset environment variable?); pass the number of the project that owns the bucket (find it with: gcloud projects describe PROJECT_ID --format='value(projectNumber)')
	// guard: the creation time for bucket "my-authz-bucket" (guard.WithBucketCreationTime) is empty (an unset environment variable?); read it with: gcloud storage buckets describe gs://my-authz-bucket --format='value(creation_time)' (or, in the private-run-api repository, go run ./cmd/access -stack STACK -live, which prints it only once the live policy is the stack's), and record it only after gcloud storage buckets get-iam-policy gs://my-authz-bucket shows the stack's policy alone
	// guard: project number "my-project" is not a project number; pass the digits of the project number, not the project ID (find it with: gcloud projects describe PROJECT_ID --format='value(projectNumber)')
	// guard: bucket "gs://my-authz-bucket" must be a bare bucket name such as "my-authz-bucket", not a URL or path
}

// A project Editor deletes the authz bucket and creates it again under its
// name: the new bucket has a later creation time, so the guard refuses every
// caller it has not already allowed, and logs why at ERROR. Decisions cached
// before, against the real bucket, run out within the cache TTL.
func ExampleWithBucketCreationTime() {
	var timeCreated atomic.Value // what Storage says of the bucket that holds the name
	timeCreated.Store("2025-03-04T05:06:07.891Z")
	storage := exampleStorage(func(_, _ string) (int, string) {
		return http.StatusOK, timeCreated.Load().(string)
	})
	defer storage.Close()

	// The guard's log, trimmed for this example to the level, the message
	// and the two times.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.LevelKey, slog.MessageKey, "expected_bucket_creation_time", "bucket_creation_time":
				return a
			}
			return slog.Attr{}
		},
	}))
	g, err := guard.New(context.Background(), "my-authz-bucket",
		guard.WithProjectNumber("123456789012"),
		// As gcloud storage buckets describe prints creation_time. The JSON
		// API's form of the same instant, 2025-03-04T05:06:07.891Z, is the
		// same pin: times compare to the second.
		guard.WithBucketCreationTime("2025-03-04T05:06:07+0000"),
		guard.WithClientOptions(option.WithEndpoint(storage.URL+"/storage/v1/")), // only in the examples
		guard.WithLogger(logger),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	d, _ := g.Check(ctx, "ya29.first-caller")
	fmt.Println("ya29.first-caller:", d)

	timeCreated.Store("2026-02-03T04:05:06.789Z") // deleted and created again

	d, err = g.Check(ctx, "ya29.second-caller")
	fmt.Println("ya29.second-caller:", d)
	for _, sentence := range strings.SplitAfter(err.Error(), ". ") {
		fmt.Println("  " + strings.TrimSpace(sentence))
	}
	d, _ = g.Check(ctx, "ya29.first-caller")
	fmt.Println("ya29.first-caller, cached:", d)
	// Output:
	// ya29.first-caller: allow
	// level=ERROR msg="guard: the bucket that answered is not the pinned authz bucket; refusing the request (fail closed)" expected_bucket_creation_time=2025-03-04T05:06:07Z bucket_creation_time=2026-02-03T04:05:06.789Z
	// ya29.second-caller: unavailable
	//   guard: authorization check unavailable: THE AUTHZ BUCKET WAS RE-CREATED OR REPLACED: bucket "my-authz-bucket" was created at 2026-02-03T04:05:06Z, not at the pinned 2025-03-04T05:06:07Z (guard.WithBucketCreationTime).
	//   A bucket created again under the name starts with Cloud Storage's default IAM policy, under which every project Viewer passes, and whoever created it may have granted it to anyone.
	//   Every request is refused until a person acts: inspect the bucket's policy (gcloud storage buckets get-iam-policy gs://my-authz-bucket), put the stack's back (pulumi up --refresh), and once the policy holds only the stack's role, pin the new creation time (2026-02-03T04:05:06.789Z)
	// ya29.first-caller, cached: allow
}

// Revocation is not instant: a caller whose grant is removed keeps passing
// until its cached decision runs out, here after the default minute.
func ExampleWithCacheTTL() {
	var granted atomic.Bool
	granted.Store(true)
	var lookups atomic.Int32
	storage := exampleStorage(func(_, _ string) (int, string) {
		lookups.Add(1)
		if granted.Load() {
			return http.StatusOK, "2025-03-04T05:06:07.891Z"
		}
		return http.StatusForbidden, ""
	})
	defer storage.Close()

	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	g, err := guard.New(context.Background(), "my-authz-bucket",
		guard.WithProjectNumber("123456789012"),
		guard.WithBucketCreationTime("2025-03-04T05:06:07+0000"),
		guard.WithCacheTTL(guard.DefaultCacheTTL),
		guard.WithClock(func() time.Time { return now }),                         // time moves only when the example says
		guard.WithClientOptions(option.WithEndpoint(storage.URL+"/storage/v1/")), // only in the examples
	)
	if err != nil {
		log.Fatal(err)
	}
	check := func(event string) {
		d, _ := g.Check(context.Background(), "ya29.caller")
		fmt.Printf("%s %-22s %-5v (Storage asked %d times)\n", now.Format("15:04:05"), event, d, lookups.Load())
	}
	check("first request")
	granted.Store(false)
	check("grant removed")
	now = now.Add(59 * time.Second)
	check("still cached")
	now = now.Add(time.Second)
	check("cached decision expired")
	// Output:
	// 09:00:00 first request          allow (Storage asked 1 times)
	// 09:00:00 grant removed          allow (Storage asked 1 times)
	// 09:00:59 still cached           allow (Storage asked 1 times)
	// 09:01:00 cached decision expired deny  (Storage asked 2 times)
}

// exampleStorage stands in for Cloud Storage's JSON API in the examples.
// answer says what Storage would reply to buckets.get on bucket, asked with
// token: 200 with the bucket's timeCreated (every bucket here belongs to
// project 123456789012), or an error status with the reason Storage gives
// for it (401 authError, an invalid token; 403 forbidden, a caller without
// storage.buckets.get).
func exampleStorage(answer func(bucket, token string) (status int, timeCreated string)) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, ok := strings.CutPrefix(r.URL.Path, "/storage/v1/b/")
		if !ok || r.Method != http.MethodGet || r.URL.Query().Get("fields") != "projectNumber,timeCreated" {
			http.Error(w, "the stand-in for Cloud Storage serves only buckets.get", http.StatusBadRequest)
			return
		}
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		status, timeCreated := answer(bucket, token)
		w.Header().Set("Content-Type", "application/json")
		if status == http.StatusOK {
			_ = json.NewEncoder(w).Encode(map[string]string{"projectNumber": "123456789012", "timeCreated": timeCreated})
			return
		}
		reason := map[int]string{http.StatusUnauthorized: "authError", http.StatusForbidden: "forbidden"}[status]
		if reason == "" {
			reason = "backendError"
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"code":    status,
			"message": http.StatusText(status),
			"errors":  []map[string]string{{"domain": "global", "reason": reason, "message": http.StatusText(status)}},
		}})
	}))
}
