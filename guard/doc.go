// Package guard authorises callers of a Cloud Function or Cloud Run handler
// with an "authz bucket": a Cloud Storage bucket that holds no objects serves
// as an access list, and callers who hold storage.buckets.get on it are
// allowed.
//
// It is its own Go module, github.com/platform/private-run-api/guard, so a
// handler that imports it pulls in the Storage API client and nothing of the
// private-run-api repository's Pulumi program.
//
// The handler takes the caller's OAuth2 access token from
// "Authorization: Bearer <token>" and, with that token, asks Cloud Storage for
// the bucket: buckets.get with fields=projectNumber,timeCreated. Storage
// answers that call only for principals holding storage.buckets.get
// ([Permission]) on the bucket, so a 200 means the caller is allowed, and the
// reply says which bucket answered: the project that owns it and the time
// Storage created it, which the guard compares with the project
// ([WithProjectNumber]) and the creation time ([WithBucketCreationTime]) it
// was pinned to. It allows only when all three hold; everything else is
// refused: the guard fails closed.
//
// Why not buckets.testIamPermissions, the classic form of this pattern: its
// reply carries only permissions, so checking the owner as well would take a
// second round trip on every cache miss. buckets.get answers both questions
// in one. The price is that "no" arrives as a 403 rather than as a 200
// without the permission, and a 403 can also be about a project rather than
// about the caller; the guard tells them apart by the reasons Storage gives
// (see Decisions below): only reasons about the caller's own credentials
// deny, anything else fails closed as [Unavailable].
//
// # Use it
//
// Build one [Guard] per process with [New], from the bucket's name and its
// two pins, and put [Guard.Middleware] in front of every route (the package
// example shows a handler's main, reading them from AUTHZ_BUCKET, the stack
// output authzBucket, AUTHZ_PROJECT_NUMBER and AUTHZ_BUCKET_CREATION_TIME).
// New fails on a missing or malformed pin, a bad bucket name or a bad option:
// that is the deployment to fix, so stop there.
//
// On Cloud Functions, register the guarded handler with the Functions
// Framework's functions.HTTP instead of listening: pass it
// g.Middleware(handler).ServeHTTP.
//
// For a check per operation rather than per request, call [Guard.Check]
// yourself, for example with a second guard on a second bucket whose role
// only some callers hold (see the example of Guard.Check). Anything but
// [Allow] means refuse, [Decision.HTTPStatus] says with what, and the zero
// Decision refuses. Check returns an error only with Unavailable, and has
// logged it by then.
//
// The examples are compiled by go test, and those with an Output comment are
// run against a stand-in for Cloud Storage, so they cannot drift from the
// code.
//
// # Decisions
//
// What Storage answers to buckets.get, made with the caller's token, gives
// the decision; after it, what the middleware replies:
//
//   - 200, projectNumber is the pinned project and timeCreated the pinned
//     creation time (to the second): [Allow]; calls your handler.
//   - 200, bucket in another project, or no projectNumber: [Unavailable],
//     ERROR line, not cached; 503 with Retry-After.
//   - 200, timeCreated other than the pin (the bucket was re-created or
//     replaced): Unavailable, ERROR line saying THE AUTHZ BUCKET WAS
//     RE-CREATED OR REPLACED, with both times, not cached; 503 with
//     Retry-After.
//   - 200 without timeCreated, or with one the guard cannot read:
//     Unavailable, ERROR line, not cached; 503 with Retry-After.
//   - 403 whose reasons are all about the caller: forbidden,
//     IAM_PERMISSION_DENIED (lacks the permission): [Deny]; 403.
//   - 403 insufficientPermissions, ACCESS_TOKEN_SCOPE_INSUFFICIENT (token
//     minted without a Storage scope): Deny, one WARN line; 403.
//   - 403 with any other reason, or none: accountDisabled (billing or account
//     of a project), userProjectAccountProblem, userProjectMissing,
//     vpcServiceControls, BILLING_DISABLED, SERVICE_DISABLED, a reason the
//     guard does not know, or a caller reason mixed with one of these:
//     Unavailable, ERROR line naming the reasons, not cached; 503 with
//     Retry-After.
//   - 401 (bad or expired token): [Unauthenticated]; 401 with
//     WWW-Authenticate: Bearer error="invalid_token".
//   - 404 (bucket gone), 5xx, 429, other 4xx, redirect, timeout, network
//     error, unreadable body: Unavailable, ERROR line, not cached; 503 with
//     Retry-After.
//
// Answered without asking Storage:
//
//   - A decision cached for this token: as cached.
//   - No or malformed Authorization header: not checked; 401 with
//     WWW-Authenticate: Bearer (and error="invalid_request" when malformed).
//   - A JWT in Authorization, such as an ID token: Unauthenticated; 401 with
//     invalid_token, and a body that says where each token goes.
//   - All lookup slots busy ([WithMaxConcurrentLookups]): Unavailable, at
//     most one WARN line per 10 s; 503 with Retry-After.
//
// Allow, Deny and Unauthenticated are cached for 1 minute ([WithCacheTTL],
// [DefaultCacheTTL]; at most 10 minutes, [MaxCacheTTL]), keyed by the SHA-256
// of the token, in two caches of 10,000 entries each ([WithCacheSize],
// [DefaultCacheSize]; least recently used evicted first):
// one for allowed tokens, one for refused ones. Unavailable is never cached.
// Concurrent first calls with one token share one Storage round trip, and
// each round trip times out after 3 s ([WithTimeout], [DefaultTimeout]). The token never
// appears in a log line or error; lines carry token_id, the first 12 hex
// digits of its SHA-256.
//
// # The project pin
//
// Bucket names are global. If the authz bucket is ever deleted, anyone can
// create a bucket with the same name in their own project and grant
// storage.buckets.get on it to every account; a guard that only asked "may
// this caller get the bucket?" would then let everyone through. So New
// requires WithProjectNumber("<number>"), and every lookup compares the
// projectNumber of the bucket Storage answered about with it. A mismatch
// refuses the request with 503, is never cached, and logs at ERROR with both
// numbers. Allowed decisions cached before the bucket changed hands run out
// within the cache TTL; they were made against the real bucket.
//
//   - The number is a string so that it can come straight from an
//     environment variable; an unset variable gives "", which New rejects
//     rather than running unpinned. A project ID instead of the number is
//     rejected too.
//   - [WithInsecureSkipProjectCheck] opts out explicitly (New logs a
//     warning). Use it only where the number cannot be known; it cannot be
//     combined with WithProjectNumber. The creation-time pin below stays
//     required and still refuses a bucket re-created elsewhere.
//   - A 404 from Storage (the bucket is gone) refuses everyone with 503 and
//     logs at ERROR. Re-create the bucket promptly, in the same project
//     ("pulumi up --refresh"); the guard keeps refusing until its new
//     creation time is pinned, as below.
//
// Find the project number with
//
//	gcloud projects describe PROJECT_ID --format='value(projectNumber)'
//
// # The creation-time pin
//
// The project pin cannot see the other way to lose the bucket: a project
// Editor deletes the empty authz bucket and creates it again under the same
// name, in the same project. The new bucket has the same project number and
// starts with Cloud Storage's default policy, under which every project
// Viewer passes the guard, and the Editor can grant it to anyone. So New also
// requires WithBucketCreationTime("<time>"), and every lookup compares the
// timeCreated of the bucket Storage answered about with it. Storage sets that
// time when it creates a bucket and nobody can change it; a bucket created
// again under the name always has a later one. A mismatch refuses the request
// with 503, is never cached, and logs at ERROR a line that says THE AUTHZ
// BUCKET WAS RE-CREATED OR REPLACED, with both times
// (expected_bucket_creation_time, bucket_creation_time) and what to do.
// Allowed decisions cached before the bucket was replaced run out within the
// cache TTL, as with the project pin.
//
// Recording the pin is part of the deploy, done once per bucket, in three
// steps.
//
// First, after "pulumi up --refresh" has created the bucket, run, from the
// private-run-api repository's root,
//
//	go run ./cmd/access -stack STACK -live
//
// It compares the bucket's live IAM policy with the one the stack declares
// (the custom role, granted to the callers with authz: true, and nothing
// else) and, only when they are equal, prints the bucket's creation time and
// project number to pin, read before and after the policy; while the policy
// differs it says not to pin. Reading the time needs storage.buckets.get on
// the bucket (the audit account lacks it on purpose: run it as someone with
// roles/storage.admin). By hand instead, this must show only the stack's
// role, or no bindings when there are none:
//
//	gcloud storage buckets get-iam-policy gs://BUCKET
//
// Only then, second, record the creation time: the one -live prints, or
// what this prints (as 2025-03-04T05:06:07+0000):
//
//	gcloud storage buckets describe gs://BUCKET --format='value(creation_time)'
//
// Third, give it to the function, e.g. as AUTHZ_BUCKET_CREATION_TIME, next to
// AUTHZ_PROJECT_NUMBER.
//
// That procedure is what makes the guard refuse until the stack's policy is
// in place. A first deploy whose BucketIAMPolicy create fails leaves
// Storage's default bindings on the new bucket; with no pin the guard does
// not start (New fails and says how to read the value), and the pin is
// recorded only after the policy is verified. The guard cannot check the
// policy itself: the caller's token may read the bucket, not its policy.
//
//   - New accepts RFC 3339 (2025-03-04T05:06:07.891Z, as the JSON API and
//     the console show timeCreated) and gcloud's form
//     (2025-03-04T05:06:07+0000), always with a zone. An unset variable
//     gives "", which New rejects, as it rejects anything else (the name of
//     the option and the value are in the error).
//   - Times compare as instants, to the whole second: gcloud prints whole
//     seconds, Storage fractions of one. Sub-second digits in the pin are
//     ignored, the zone is not: 05:06:07+01:00 is an hour before 05:06:07Z.
//   - The pin names one bucket, not the name: whenever the bucket is
//     replaced, by anyone, including the stack itself (turning authz.enabled
//     off and on again, a change that replaces the bucket), the guard refuses
//     until the new bucket's policy is verified and its creation time pinned.
//     The ERROR line says what to do: inspect the policy (gcloud storage
//     buckets get-iam-policy gs://BUCKET), put the stack's back
//     ("pulumi up --refresh"), then pin the new time, which the line quotes
//     as Storage sent it.
//
// What the pin does not cover:
//
//   - Grants on the real bucket. Whoever holds storage.buckets.setIamPolicy
//     on it (project Owners, roles/storage.admin, the deploy identity) can
//     still grant the role to anyone; the bucket stays the same, and so does
//     its creation time. Only "pulumi up --refresh" puts the stack's policy
//     back.
//   - Secrecy. A guarded caller can read the bucket's metadata, creation
//     time included. The time is not secret and need not be: nobody can
//     choose the creation time of a bucket they create. That is why the pin
//     is the creation time and not a label whose value only the stack knows:
//     labels are written by whoever creates the bucket, so anyone who
//     re-creates it can copy them, and every guarded caller can read them.
//   - A restored bucket. With soft delete on, a deleted bucket can be
//     restored by whoever holds storage.buckets.restore on the project (for
//     example roles/storage.admin), unless a live bucket holds its name.
//     Google's reference for buckets.restore says the restore brings back
//     the bucket's original metadata and IAM policy, and Google's own client
//     tests check that the restored bucket keeps its generation; neither
//     says so for timeCreated in as many words. A restored bucket is the
//     stack's bucket with the stack's policy, so the guard accepts it as long
//     as timeCreated is the pinned one; should it ever differ, the guard
//     fails closed and the procedure above applies.
//
// # Bounded work under a flood
//
// Anyone can send tokens, and each unknown one costs a Storage round trip.
// Two things keep that bounded:
//
//   - At most 64 round trips are in flight at once
//     ([WithMaxConcurrentLookups]; [DefaultMaxConcurrentLookups]). A cache
//     miss beyond that is answered at once with 503 and Retry-After: 1,
//     without calling Storage; cached decisions are still served. The guard
//     logs one WARN line per 10 seconds with the number refused.
//   - Refusals (Deny, Unauthenticated) live in their own cache, so a flood
//     of bad tokens can only evict other refusals, never the allowed callers.
//
// A legitimate caller whose decision is not cached yet can still get a 503
// while the limit is full; it should retry, as Retry-After says.
//
// # What callers send
//
//   - An OAuth2 access token in "Authorization: Bearer <token>", with one of
//     the scopes cloud-platform or devstorage.read_only (or another Storage
//     scope): "gcloud auth print-access-token", or in Go a token source of
//     golang.org/x/oauth2/google with that scope, as the caller example
//     shows.
//   - Not an ID token. A JWT in Authorization (three base64url segments, the
//     first a JSON header with alg) is refused with 401 and never sent to
//     Storage; the reply says to send the access token there. On Cloud Run,
//     the platform's own invoker check wants an ID token: send it in
//     "X-Serverless-Authorization: Bearer <ID token>". Cloud Run checks that
//     header when present and passes Authorization through to the handler
//     unchanged (the caller example sends both). Self-signed service-account JWTs, which some Google APIs
//     accept in place of an access token, are refused the same way; they
//     need a service-account key, which the private-run-api project's rules
//     forbid anyway.
//
// What that means for security:
//
//   - Access tokens have no audience. Any access token of an allowed
//     principal passes, whichever OAuth client it was minted through
//     (gcloud, a script, another application the user signed in to), as long
//     as it carries a Storage scope. The guard identifies the principal, not
//     the client. And any service that receives an allowed caller's token
//     can replay it here, and this handler can replay it against any API
//     within the token's scopes. Callers should mint the narrowest token
//     (devstorage.read_only) and send it only over HTTPS, and only to
//     services they trust with it.
//   - Revocation is not instant. A revoked or expired token, or a caller
//     whose grant was removed, may keep passing for up to the cache TTL (1
//     minute by default, at most 10) after Storage would have said no, on
//     top of IAM propagation (usually about 2 minutes) for grant changes.
//
// # What to grant
//
//   - A custom role with only storage.buckets.get (its role_id allows no
//     hyphen, e.g. authzBucketCaller).
//   - Bind it on the bucket, to each allowed caller. Never at project level:
//     a project-level grant gives storage.buckets.get on every bucket in the
//     project.
//   - Others pass too: the project's owners, editors and viewers through a
//     new bucket's convenience bindings (unless the bucket's whole policy is
//     owned, as the private-run-api program does with one authoritative
//     policy; the creation-time pin is recorded only once it is), and anyone
//     holding storage.buckets.get at project level or above (for example
//     roles/storage.bucketViewer).
//   - The bucket: uniform bucket-level access on, public access prevention
//     enforced, no objects, no versioning.
//   - The function's own service account needs nothing on the bucket: the
//     guard calls Storage as the caller, never as itself.
//
// # When to use the platform's invoker roles instead
//
// Cloud Functions have their own invoker roles: roles/cloudfunctions.invoker
// for 1st gen; 2nd gen functions run on Cloud Run and use roles/run.invoker.
// There the platform enforces IAM before your code runs: the caller sends an
// ID token for the function's URL, nothing is forwarded, no extra round trip,
// and no way for a code bug to let a caller through. Prefer them whenever
// "may this caller invoke the function at all" is the question. That includes
// the private-run-api project's private Cloud Run APIs, whose rules forbid an
// allUsers invoker.
//
// The bucket pattern is for handlers that authorise inside the code:
//
//   - a function with public ingress and no platform IAM check that must
//     accept some callers' OAuth access tokens (the platform would refuse
//     access tokens; with the check off, this guard is the only gate, so keep
//     it in front of every route);
//   - checks per operation, or several buckets for several permission
//     levels, behind the platform check. Then Authorization carries the
//     access token for the guard, and X-Serverless-Authorization the ID token
//     for the platform, as above.
//
// # The guard's caller is the access token's principal
//
// On Cloud Run, the platform authorises the principal of the ID token in
// X-Serverless-Authorization (roles/run.invoker); the guard authorises the
// principal behind the access token in Authorization. Nothing ties the two
// together: an invoker that holds an allowed principal's access token passes
// the guard as that principal. Treat every allowed principal's access tokens
// as the guard's credential: keep them out of logs and requests to third
// parties, and grant the authz role only to accounts whose tokens stay inside
// your services.
package guard
