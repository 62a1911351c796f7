// Package fakegoogle is test support: one httptest server that answers as Google's REST APIs do
// (Resource Manager v1 and v3, Cloud Run, IAM, Cloud Storage, Secret Manager, Cloud Logging).
// Their paths do not overlap, so one endpoint serves every client of google.golang.org/api. The
// access report's, the doctor's and their commands' tests share it; each says what it answers.
package fakegoogle

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/api/option"
)

// Error bodies as Google's APIs send them.
const (
	NotFound  = `{"error":{"code":404,"message":"Resource not found.","status":"NOT_FOUND"}}`
	Forbidden = `{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`
)

// Respond answers one request by its path and body with a status and a JSON body; ok false is
// a 404 (NotFound). It is called with the server's lock held, so it may read and change what the
// test answers while requests are in flight.
type Respond func(path string, body []byte) (code int, answer string, ok bool)

// Server is the fake. It records every request.
type Server struct {
	srv     *httptest.Server
	respond Respond
	release chan struct{}

	mu       sync.Mutex
	hang     bool
	requests []string // "METHOD path?query body"
	auth     []string // the Authorization header of each request
}

// New starts a server that answers with respond and stops when the test ends.
func New(tb testing.TB, respond Respond) *Server {
	tb.Helper()
	s := &Server{respond: respond, release: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	// Cleanups run last first: the hanging handlers are released, then Close waits for them.
	tb.Cleanup(s.srv.Close)
	tb.Cleanup(func() { close(s.release) })
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+string(body))
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	if s.hang {
		s.mu.Unlock()
		// Held until the test ends or the client gives up.
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
		return
	}
	code, answer, ok := s.respond(r.URL.Path, body)
	s.mu.Unlock()
	if !ok {
		code, answer = http.StatusNotFound, NotFound
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, answer)
}

// Hang makes the server hold every request from now on, until the test ends.
func (s *Server) Hang() {
	s.mu.Lock()
	s.hang = true
	s.mu.Unlock()
}

// Close stops the server once its handlers have returned, so that what it recorded is complete.
func (s *Server) Close() { s.srv.Close() }

// Endpoint points a client at the server; the client keeps its own transport and credentials.
func (s *Server) Endpoint() option.ClientOption { return option.WithEndpoint(s.srv.URL + "/") }

// Options point a client at the server with the server's HTTP client: the client then sends no
// credentials at all.
func (s *Server) Options() []option.ClientOption {
	return []option.ClientOption{s.Endpoint(), option.WithHTTPClient(s.srv.Client())}
}

// Requests are the requests so far, each as "METHOD path?query body".
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Authorizations are the Authorization headers of the requests so far, in order.
func (s *Server) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// CheckBearer fails the test unless a request reached the server and every request carried
// token as its bearer: what a command must send when told to read with a given token.
func (s *Server) CheckBearer(tb testing.TB, token string) {
	tb.Helper()
	auth := s.Authorizations()
	if len(auth) == 0 {
		tb.Fatal("no request reached the fake Google")
	}
	for _, a := range auth {
		if a != "Bearer "+token {
			tb.Errorf("a request carried Authorization %q, want Bearer and the token given, %s", a, token)
		}
	}
}

// Policy is the JSON of an IAM policy (version 3) with bindings, as getIamPolicy returns it.
func Policy(tb testing.TB, bindings ...map[string]any) string {
	tb.Helper()
	return JSON(tb, map[string]any{"version": 3, "etag": "BwX=", "bindings": bindings})
}

// Bind is one binding of a Policy.
func Bind(role string, members ...string) map[string]any {
	return map[string]any{"role": role, "members": members}
}

// BindIf is a binding under a condition.
func BindIf(title, expression, role string, members ...string) map[string]any {
	b := Bind(role, members...)
	b["condition"] = map[string]string{"title": title, "expression": expression}
	return b
}

// JSON is v encoded, or the end of the test.
func JSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// ServiceAccountKey is a new RSA key and a key file of account email holding it, as `gcloud iam
// service-accounts keys create` writes one, whose token exchange goes to tokenURI: Google's
// libraries sign their JWT-bearer assertions with it there.
func ServiceAccountKey(tb testing.TB, email, keyID, tokenURI string) (*rsa.PrivateKey, []byte) {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	project, _, _ := strings.Cut(email[strings.Index(email, "@")+1:], ".")
	return key, []byte(JSON(tb, map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": keyID,
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   email,
		"client_id":      "1234567890",
		"token_uri":      tokenURI,
	}))
}
