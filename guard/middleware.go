package guard

import (
	"net/http"
	"strings"
)

// Middleware admits a request to next only when Check allows the bearer token
// in its Authorization header. Otherwise it answers itself:
//
//   - 401 with a WWW-Authenticate: Bearer challenge when the header is
//     missing or malformed, carries a JWT such as an ID token (never sent to
//     Cloud Storage), or Cloud Storage rejects the token;
//   - 403 when the caller lacks the permission;
//   - 503 with Retry-After when no answer could be had (fail closed),
//     including when too many lookups are already in flight.
//
// The Authorization header is passed on to next unchanged.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header)
		if !ok {
			// RFC 6750 section 3: no error code when credentials are simply
			// absent, invalid_request when they are malformed.
			challenge := `Bearer`
			if len(r.Header.Values("Authorization")) > 0 {
				challenge = `Bearer error="invalid_request", error_description="expected one header: Authorization: Bearer <OAuth2 access token>"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			refuse(w, http.StatusUnauthorized, "missing or malformed Authorization header: send 'Authorization: Bearer <OAuth2 access token>'")
			return
		}
		if isJWT(token) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="a JWT such as an ID token was sent; send an OAuth2 access token"`)
			refuse(w, http.StatusUnauthorized, idTokenHelp)
			return
		}
		d, _ := g.Check(r.Context(), token) // Check has logged any failure once
		switch d {
		case Allow:
			next.ServeHTTP(w, r)
		case Deny:
			refuse(w, http.StatusForbidden, "the caller is not allowed to call this endpoint")
		case Unauthenticated:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the access token is invalid or expired"`)
			refuse(w, http.StatusUnauthorized, "the access token was rejected as invalid or expired: obtain a new OAuth2 access token")
		default:
			w.Header().Set("Retry-After", "1")
			refuse(w, http.StatusServiceUnavailable, "the authorization check is temporarily unavailable: retry later")
		}
	})
}

// idTokenHelp answers the most likely mix-up: on Cloud Run, the caller put
// the ID token for the platform's invoker check where the guard expects the
// access token.
const idTokenHelp = "the Authorization header carries a JWT (such as an ID token), but this endpoint needs an OAuth2 access token: " +
	"send 'Authorization: Bearer <access token>' (for example from 'gcloud auth print-access-token'). " +
	"On Cloud Run, send the ID token for the platform's invoker check in 'X-Serverless-Authorization: Bearer <ID token>' instead; " +
	"Cloud Run checks that header and passes Authorization through to this handler unchanged."

func refuse(w http.ResponseWriter, status int, msg string) {
	// Refusals depend on the caller's credentials; a shared cache must not
	// replay one to another caller.
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, status)
}

// bearerToken extracts the token from exactly one "Authorization: Bearer
// <token>" header. The scheme is case-insensitive (RFC 7235).
func bearerToken(h http.Header) (string, bool) {
	vals := h.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if !validToken(token) {
		return "", false
	}
	return token, true
}
