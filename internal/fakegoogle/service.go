package fakegoogle

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/testdir"
)

// Service is a private Cloud Run service and Google's token endpoint on httptest TLS servers,
// with a key file of a service account whose token_uri is the endpoint: a client that mints an
// ID token with the key (as -online and the README's Go example do) and calls the service runs
// its real path against them. The servers share httptest's certificate: Target.Client()'s
// transport trusts both.
type Service struct {
	Token, Target *httptest.Server
	// KeyFile is the path of the account's key file.
	KeyFile string
	// IDToken is what the endpoint mints (signed with the key, for any audience) and the
	// service wants as the bearer.
	IDToken string

	// Set before a call: whether the endpoint or the service holds its requests (until the test
	// ends or the client gives up), and what the service answers a call with the ID token.
	TokenHangs, TargetHangs bool
	Code                    int
	Body                    string

	email   string
	key     *rsa.PrivateKey
	release chan struct{}

	mu        sync.Mutex
	audiences []string // target_audience of every assertion the endpoint accepted
	calls     []string // "path Authorization" of every request to the service
	leaked    []string // Authorization of every request sent where the service redirected
}

// NewService starts the endpoint and the service for the account email; the service answers 200.
func NewService(tb testing.TB, email string) *Service {
	tb.Helper()
	s := &Service{email: email, Code: http.StatusOK, release: make(chan struct{})}
	s.Token = httptest.NewTLSServer(http.HandlerFunc(s.serveToken))
	s.Target = httptest.NewTLSServer(http.HandlerFunc(s.serveTarget))
	// Cleanups run last first: the hanging handlers are released, then Close waits for them.
	tb.Cleanup(s.Token.Close)
	tb.Cleanup(s.Target.Close)
	tb.Cleanup(func() { close(s.release) })

	var key []byte
	s.key, key = ServiceAccountKey(tb, email, "0123abcd", s.Token.URL+"/token")
	s.IDToken = s.sign(tb, map[string]any{"aud": s.Target.URL, "email": email, "exp": time.Now().Add(time.Hour).Unix(), "iss": "https://accounts.google.com"})
	s.KeyFile = testdir.Write(tb, filepath.Join(tb.TempDir(), "key.json"), string(key))
	return s
}

// Audiences are the audiences ID tokens were minted for, in order.
func (s *Service) Audiences() []string { return s.recorded(&s.audiences) }

// Calls are the requests the service received, each as "path Authorization".
func (s *Service) Calls() []string { return s.recorded(&s.calls) }

// Leaked are the Authorization headers of requests that followed the service's redirect.
func (s *Service) Leaked() []string { return s.recorded(&s.leaked) }

func (s *Service) recorded(list *[]string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), *list...)
}

func (s *Service) record(list *[]string, v string) {
	s.mu.Lock()
	*list = append(*list, v)
	s.mu.Unlock()
}

func (s *Service) hold(r *http.Request) {
	select {
	case <-s.release:
	case <-r.Context().Done():
	}
}

func b64(v []byte) string { return base64.RawURLEncoding.EncodeToString(v) }

func (s *Service) sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	signed := b64([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + b64([]byte(JSON(tb, claims)))
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	return signed + "." + b64(sig)
}

// serveToken answers as oauth2.googleapis.com/token does for a service account's JWT-bearer
// grant with a target_audience: an ID token, once the assertion's signature checks out.
func (s *Service) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/elsewhere" {
		s.record(&s.leaked, r.Header.Get("Authorization"))
		return
	}
	if s.TokenHangs {
		s.hold(r)
		return
	}
	if r.ParseForm() != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	parts := strings.Split(r.Form.Get("assertion"), ".")
	if len(parts) != 3 {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		http.Error(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, http.StatusBadRequest)
		return
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss            string `json:"iss"`
		Aud            string `json:"aud"`
		TargetAudience string `json:"target_audience"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Iss != s.email || claims.Aud != s.Token.URL+"/token" {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	s.record(&s.audiences, claims.TargetAudience)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id_token":%q}`, s.IDToken)
}

func (s *Service) serveTarget(w http.ResponseWriter, r *http.Request) {
	s.record(&s.calls, r.URL.Path+" "+r.Header.Get("Authorization"))
	if s.TargetHangs {
		s.hold(r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.IDToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if s.Code == http.StatusFound {
		w.Header().Set("Location", s.Token.URL+"/elsewhere")
	}
	w.WriteHeader(s.Code)
	io.WriteString(w, s.Body)
}
