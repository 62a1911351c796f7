package guard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// callerTokenKey carries the caller's access token from Check to
// bearerTransport through the request context.
type callerTokenKey struct{}

// bearerTransport authenticates each Storage request as the caller whose
// token is in the request context.
//
// The header is added here, below the API client, rather than through the
// client's own auth options, because the client is built once and shared
// while the identity changes with every request. A side benefit: the client's
// debug request logging runs before this point, so it never sees the header.
type bearerTransport struct {
	base http.RoundTripper
	host string // the only host the caller's token may be sent to
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	token, _ := req.Context().Value(callerTokenKey{}).(string)
	if token == "" {
		// Never send the request without the caller's identity: an
		// unauthenticated or differently authenticated answer says nothing
		// about this caller.
		closeBody(req)
		return nil, errors.New("guard: internal error: no caller token on the Storage request")
	}
	if req.URL.Host != t.host {
		closeBody(req)
		return nil, fmt.Errorf("guard: refusing to send the caller's token to unexpected host %q (expected %q)", req.URL.Host, t.host)
	}
	// RoundTrippers must not modify the request they are given.
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return t.base.RoundTrip(r)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// withCallerToken marks ctx so that bearerTransport authenticates as token.
func withCallerToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, callerTokenKey{}, token)
}
