package tests

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readmeCallerSection is the README section whose Go example a caller service copies.
const readmeCallerSection = "### From a caller service"

// readmeCallerExample returns the ```go block of that section, and its README line.
func readmeCallerExample(t *testing.T) (string, int) {
	t.Helper()
	lines := readmeLines(t)
	start := -1
	for i, l := range lines {
		if l == readmeCallerSection {
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("README.md has no %q; if it was renamed, rename it here", readmeCallerSection)
	}
	var found []mdBlock
	for _, b := range readmeBlocks(t) {
		if b.lang != "go" || b.line <= start {
			continue
		}
		// The section ends at the next heading before the block.
		ended := false
		for _, l := range lines[start+1 : b.line-1] {
			if strings.HasPrefix(l, "#") {
				ended = true
			}
		}
		if !ended {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README.md:%d: %d ```go blocks in %q, want the 1 this test runs", start+1, len(found), readmeCallerSection)
	}
	if !strings.HasPrefix(found[0].text, "package ") {
		t.Fatalf("README.md:%d: the example must be a whole file, starting with its package clause, so that it can be run", found[0].line)
	}
	return found[0].text, found[0].line
}

// exampleMain calls the README's ListOrders with the URL and the audience it is given, and prints
// the status and body.
const exampleMain = `package main

import (
	"context"
	"fmt"
	"io"
	"os"

	orders "github.com/platform/private-run-api/internal/readmeexample"
)

func main() {
	resp, err := orders.ListOrders(context.Background(), os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, body)
}
`

// TestREADMECallerExample builds the README's Go example for caller services and runs it: with a
// service account key whose token endpoint is a local server, the ID token must be minted for the
// audience and the request sent to the service URL, two different values, as with
// service.audiences. It runs on both of Google's auth paths (the old one and the new auth
// library), which a caller may be on.
func TestREADMECallerExample(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("running the README's Go example needs the go command on PATH: %v", err)
	}
	code, line := readmeCallerExample(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	files := map[string]string{"example.go": code, "main.go": exampleMain}
	replace := map[string]string{}
	for name, text := range files {
		src := filepath.Join(tmp, name)
		if err := os.WriteFile(src, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		dir := "internal/readmeexample"
		if name == "main.go" {
			dir += "/cmd"
		}
		replace[filepath.Join(root, dir, name)] = src
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": replace})
	overlayPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "example")
	build := exec.Command(goCmd, "build", "-overlay", overlayPath, "-o", bin, "./internal/readmeexample/cmd")
	build.Dir = root
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("README.md:%d: the Go example does not build with a caller of ListOrders(ctx, serviceURL, audience) (%v):\n%s", line, err, out)
	}

	const audience = "https://orders-api.acme-platform-dev.internal"
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	var mu sync.Mutex
	var minted, calls []string
	var idToken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/token" {
			calls = append(calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
			fmt.Fprint(w, "orders")
			return
		}
		_ = r.ParseForm()
		var claims struct {
			Aud            string `json:"aud"`
			TargetAudience string `json:"target_audience"`
		}
		if parts := strings.Split(r.PostForm.Get("assertion"), "."); len(parts) == 3 {
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(raw, &claims)
		}
		minted = append(minted, claims.TargetAudience)
		// An ID token for that audience; the libraries read its claims and check no signature.
		idToken = seg(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
			seg(map[string]any{"aud": claims.TargetAudience, "iss": "https://accounts.google.com", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}) + ".c2ln"
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id_token":%q}`, idToken)
	}))
	t.Cleanup(srv.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	adc, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "orders-batch@acme-platform-dev.iam.gserviceaccount.com", "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": srv.URL + "/token",
	})
	keyFile := filepath.Join(tmp, "key.json")
	if err := os.WriteFile(keyFile, adc, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, newAuth := range []string{"", "true"} {
		t.Run("GOOGLE_API_GO_EXPERIMENTAL_ENABLE_NEW_AUTH_LIB="+newAuth, func(t *testing.T) {
			mu.Lock()
			minted, calls = nil, nil
			mu.Unlock()
			cmd := exec.Command(bin, srv.URL, audience)
			cmd.Env = []string{"HOME=" + tmp, "GOOGLE_APPLICATION_CREDENTIALS=" + keyFile, "GOOGLE_API_GO_EXPERIMENTAL_ENABLE_NEW_AUTH_LIB=" + newAuth}
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "200 orders" {
				t.Fatalf("README.md:%d: the example printed %q (%v), want \"200 orders\"", line, out, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(minted) != 1 || minted[0] != audience {
				t.Errorf("ID tokens minted for %q, want [%q]: the token must be for the audience, not the URL", minted, audience)
			}
			if len(calls) != 1 || calls[0] != "GET /v1/orders Bearer "+idToken {
				t.Errorf("requests to the service URL: %q; want GET /v1/orders with the minted token", calls)
			}
		})
	}
}
