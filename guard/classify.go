package guard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	storage "google.golang.org/api/storage/v1"
)

// denyReasons are the 403 reasons that speak about the caller's own
// credentials: the principal lacks the permission (an IAM allow or deny
// policy), or the token was minted without a Cloud Storage scope. Only these
// make a 403 a Deny. Every other 403 (a disabled or unbilled project, a
// requester-pays problem, a VPC Service Controls perimeter, or a reason this
// list does not know) says nothing about whether the caller is allowed, so it
// fails closed as Unavailable, is not cached, and is logged at ERROR for an
// operator to fix.
var denyReasons = map[string]bool{
	// errors[].reason, the JSON API's own list.
	"forbidden":               true,
	"insufficientPermissions": true,
	// error.details[] google.rpc.ErrorInfo reasons.
	"IAM_PERMISSION_DENIED":           true,
	"ACCESS_TOKEN_SCOPE_INSUFFICIENT": true,
}

// scopeReasons are the deny reasons that mean "wrong token" rather than "not
// granted": worth a warning, since the caller is probably meant to pass.
var scopeReasons = map[string]bool{
	"insufficientPermissions":         true,
	"ACCESS_TOKEN_SCOPE_INSUFFICIENT": true,
}

// errorInfoType is the @type of the structured reason in error.details.
const errorInfoType = "type.googleapis.com/google.rpc.ErrorInfo"

// errorReasons collects the machine-readable reasons of a Google API error,
// from both the JSON API's errors[] list and any ErrorInfo in details.
func errorReasons(e *googleapi.Error) []string {
	var rs []string
	for _, it := range e.Errors {
		if it.Reason != "" {
			rs = append(rs, it.Reason)
		}
	}
	for _, d := range e.Details {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		if t, _ := m["@type"].(string); t != errorInfoType {
			continue
		}
		if r, _ := m["reason"].(string); r != "" {
			rs = append(rs, r)
		}
	}
	return rs
}

// forbiddenDecision reads a 403 by its reasons: Deny only when there is at
// least one reason and every one is about the caller's credentials.
func forbiddenDecision(reasons []string) Decision {
	if len(reasons) == 0 {
		return Unavailable
	}
	for _, r := range reasons {
		if !denyReasons[r] {
			return Unavailable
		}
	}
	return Deny
}

func (g *Guard) classify(ctx context.Context, token string, key tokenKey, b *storage.Bucket, err error) result {
	if err == nil {
		return g.classifyBucket(ctx, token, key, b)
	}

	var gerr *googleapi.Error
	errors.As(err, &gerr)
	var reasons []string
	if gerr != nil {
		reasons = errorReasons(gerr)
		switch gerr.Code {
		case http.StatusUnauthorized:
			g.log.DebugContext(ctx, "guard: Cloud Storage rejected the caller's token as invalid or expired", "token_id", key.id())
			return result{d: Unauthenticated}
		case http.StatusForbidden:
			if forbiddenDecision(reasons) == Deny {
				if slices.ContainsFunc(reasons, func(r string) bool { return scopeReasons[r] }) {
					g.log.WarnContext(ctx, "guard: the caller's access token lacks a Cloud Storage scope; refusing it (403). The caller should mint it with the cloud-platform or devstorage.read_only scope",
						"token_id", key.id(), "storage_reasons", reasons)
				} else {
					g.log.DebugContext(ctx, "guard: caller lacks the permission on the bucket", "token_id", key.id(), "permission", Permission)
				}
				return result{d: Deny}
			}
		}
	}

	var reason string
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = fmt.Sprintf("Cloud Storage did not answer within %v (guard.WithTimeout)", g.timeout)
	case gerr != nil && gerr.Code == http.StatusNotFound:
		reason = fmt.Sprintf("bucket %q not found (404): it may have been deleted. Every request is refused until it exists again; re-create it in its project promptly, because bucket names are global and anyone may claim a free one", g.bucket)
	case gerr != nil && gerr.Code == http.StatusForbidden:
		reason = fmt.Sprintf("Cloud Storage answered 403 for a reason that is not the caller's own permission (reasons %s): check billing and the account state of the bucket's project and of the caller's quota project, requester-pays settings, and any VPC Service Controls perimeter", quoteReasons(reasons))
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
		"reason", reason, "storage_status", status, "storage_reasons", reasons, "token_id", key.id(), "error", detail)
	var cause error
	if errors.Is(err, context.DeadlineExceeded) {
		cause = context.DeadlineExceeded
	}
	return result{d: Unavailable, err: &unavailableError{msg: "guard: authorization check unavailable: " + reason + ": " + detail, cause: cause}}
}

// classifyBucket handles a successful buckets.get: the caller holds
// Permission, so what is left is whether the bucket is the one we mean. It
// is, only when both its project and its creation time are the pinned ones.
func (g *Guard) classifyBucket(ctx context.Context, token string, key tokenKey, b *storage.Bucket) result {
	var reasons []string
	switch {
	case g.project == 0 || b.ProjectNumber == g.project:
	case b.ProjectNumber == 0:
		reasons = append(reasons, "Cloud Storage's reply did not name the bucket's project, so the project pin (guard.WithProjectNumber) cannot be checked; check option.WithEndpoint")
	default:
		reasons = append(reasons, fmt.Sprintf("bucket %q belongs to project number %d, not the pinned %d (guard.WithProjectNumber). If the pin is right, the bucket was deleted and its name re-created in another project: anyone that project allows would pass. Every request is refused until the bucket is back in the pinned project or the pin is corrected",
			g.bucket, b.ProjectNumber, g.project))
	}
	// What Storage sent, for the log: scrubbed and bounded, as it is text
	// from elsewhere.
	got := scrub(b.TimeCreated, token)
	if len(got) > 64 {
		got = got[:64] + "..."
	}
	created, ok := parseCreationTime(b.TimeCreated)
	switch {
	case b.TimeCreated == "":
		reasons = append(reasons, "Cloud Storage's reply did not carry the bucket's creation time (timeCreated), so the creation-time pin (guard.WithBucketCreationTime) cannot be checked; check option.WithEndpoint")
	case !ok:
		reasons = append(reasons, fmt.Sprintf("Cloud Storage's reply carried a creation time the guard cannot read (%q), so the creation-time pin (guard.WithBucketCreationTime) cannot be checked; check option.WithEndpoint", got))
	case !created.Equal(g.created):
		// The loudest line the guard writes: the name now belongs to a bucket
		// the stack's policy was never verified on.
		reasons = append(reasons, fmt.Sprintf("THE AUTHZ BUCKET WAS RE-CREATED OR REPLACED: bucket %q was created at %s, not at the pinned %s (guard.WithBucketCreationTime). A bucket created again under the name starts with Cloud Storage's default IAM policy, under which every project Viewer passes, and whoever created it may have granted it to anyone. Every request is refused until a person acts: inspect the bucket's policy (gcloud storage buckets get-iam-policy gs://%s), put the stack's back (pulumi up --refresh), and once the policy holds only the stack's role, pin the new creation time (%s)",
			g.bucket, created.Format(time.RFC3339), g.created.Format(time.RFC3339), g.bucket, got))
	}
	if len(reasons) == 0 {
		return result{d: Allow}
	}
	reason := strings.Join(reasons, "; ")
	g.log.ErrorContext(ctx, "guard: the bucket that answered is not the pinned authz bucket; refusing the request (fail closed)",
		"reason", reason,
		"expected_project_number", g.project, "bucket_project_number", b.ProjectNumber,
		"expected_bucket_creation_time", g.created.Format(time.RFC3339), "bucket_creation_time", got,
		"token_id", key.id())
	return result{d: Unavailable, err: &unavailableError{msg: "guard: authorization check unavailable: " + reason}}
}

func quoteReasons(rs []string) string {
	if len(rs) == 0 {
		return "none given"
	}
	return strings.Join(rs, ", ")
}
