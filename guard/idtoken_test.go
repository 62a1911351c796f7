package guard_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/platform/private-run-api/guard"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jwt builds a compact JWS from its parts; nothing here verifies signatures.
func jwt(header, payload, signature string) string {
	return b64(header) + "." + b64(payload) + "." + signature
}

const idPayload = `{"iss":"https://accounts.google.com","aud":"https://orders-api-abc123-an.a.run.app","email":"cdn-purger@acme.iam.gserviceaccount.com","exp":1767225600}`

// TestIDTokenRefusedLocally: an ID token in Authorization is answered 401 with
// directions, and never reaches Storage.
func TestIDTokenRefusedLocally(t *testing.T) {
	cases := map[string]string{
		"signed ID token": jwt(`{"alg":"RS256","kid":"abc","typ":"JWT"}`, idPayload, b64("signature")),
		// What the handler sees when Cloud Run has verified the ID token in
		// Authorization itself.
		"signature removed by Cloud Run": jwt(`{"alg":"RS256","kid":"abc","typ":"JWT"}`, idPayload, "SIGNATURE_REMOVED_BY_GOOGLE"),
		"empty signature":                jwt(`{"alg":"none"}`, idPayload, ""),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			fs := newFakeStorage(t, allow)
			g, logs := newGuard(t, fs)

			if d, err := g.Check(context.Background(), tok); d != guard.Unauthenticated || err != nil {
				t.Errorf("Check = %v, %v; want unauthenticated, nil", d, err)
			}

			var reached bool
			h := g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			req := httptest.NewRequest(http.MethodPost, "/purge", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != http.StatusUnauthorized || reached {
				t.Errorf("status %d, handler reached %v; want 401 and not reached", rec.Code, reached)
			}
			if chall := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(chall, "Bearer") || !strings.Contains(chall, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\"", chall)
			}
			for _, want := range []string{"OAuth2 access token", "Authorization: Bearer <access token>", "X-Serverless-Authorization"} {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("body lacks %q: %s", want, rec.Body)
				}
			}
			if got := fs.calls.Load(); got != 0 {
				t.Errorf("storage saw %d requests, want 0: an ID token must never be sent on", got)
			}
			assertNoLeak(t, tok, "log", logs.String())
			assertNoLeak(t, tok, "response body", rec.Body.String())
		})
	}
}

// TestTokensThatOnlyResembleJWTsReachStorage: the JWT test must not catch
// opaque access tokens that happen to have dots.
func TestTokensThatOnlyResembleJWTsReachStorage(t *testing.T) {
	cases := map[string]string{
		"opaque token with three segments": "ya29.a0AfH6SMBx.c2lnbmF0dXJl",
		"JSON header without alg":          jwt(`{"typ":"JWT"}`, idPayload, "sig"),
		"two segments":                     b64(`{"alg":"RS256"}`) + "." + b64(idPayload),
		"header not JSON":                  jwt(`alg`, idPayload, "sig"),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			fs := newFakeStorage(t, allow)
			g, _ := newGuard(t, fs)
			if d, err := g.Check(context.Background(), tok); d != guard.Allow {
				t.Errorf("Check = %v, %v; want allow from Storage", d, err)
			}
			if got := fs.calls.Load(); got != 1 {
				t.Errorf("storage calls = %d, want 1", got)
			}
		})
	}
}
