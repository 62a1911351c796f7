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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/markdown"
	"github.com/platform/private-run-api/internal/testdir"
)

// docsGoBlock returns the one ```go block of the docs' section titled title.
func docsGoBlock(t *testing.T, title string) markdown.Fence {
	t.Helper()
	sec, err := projectDocs(t).Section(title)
	if err != nil {
		t.Fatalf("%v; if it was renamed, rename it here", err)
	}
	var found []markdown.Fence
	for _, f := range sec.Fences() {
		if f.Lang == "go" {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d ```go blocks, want the 1 this test runs", sec.Pos(), len(found))
	}
	return found[0]
}

// goFile is one file of a package built from the docs: a block, with what wraps it into a file.
type goFile struct {
	// path is where the file lies in its module (it need not exist).
	path           string
	header, footer string
	block          *markdown.Fence
}

// buildOverlay builds pkg of the module in moduleDir, with files laid over it as
// `go build -overlay` does, into out (os.DevNull for no binary). Compiler messages about a block
// are pointed at its doc line.
func buildOverlay(t *testing.T, moduleDir string, files []goFile, pkg, out string) error {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the docs' Go examples needs the go command on PATH: %v", err)
	}
	abs, err := filepath.Abs(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	replace := map[string]string{}
	for i, f := range files {
		text := f.header + f.footer
		if f.block != nil {
			text = f.header + f.block.Text + f.footer
		}
		src := filepath.Join(tmp, fmt.Sprintf("docblock%d.go", i))
		testdir.Write(t, src, text)
		replace[filepath.Join(abs, filepath.FromSlash(f.path))] = src
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": replace})
	overlayPath := filepath.Join(tmp, "overlay.json")
	testdir.Write(t, overlayPath, string(overlay))
	build := exec.Command(goCmd, "build", "-overlay", overlayPath, "-o", out, pkg)
	build.Dir = abs
	build.Env = append(os.Environ(), "GOWORK=off")
	msg, err := build.CombinedOutput()
	if err == nil {
		return nil
	}
	// Point compiler messages at the docs' lines rather than at temporary files.
	pos := regexp.MustCompile(`\S*docblock(\d+)\.go:(\d+)`)
	text := pos.ReplaceAllStringFunc(string(msg), func(m string) string {
		sub := pos.FindStringSubmatch(m)
		i, _ := strconv.Atoi(sub[1])
		n, _ := strconv.Atoi(sub[2])
		if f := files[i]; f.block != nil {
			return f.block.Doc.Pos(f.block.Line + n - 1 - strings.Count(f.header, "\n"))
		}
		return m
	})
	return fmt.Errorf("%v:\n%s", err, text)
}

// exampleMain calls the docs' ListOrders with the URL and the audience it is given, and prints
// the status and body.
const exampleMain = `package main

import (
	"context"
	"fmt"
	"io"
	"os"

	orders "github.com/platform/private-run-api/internal/docexample"
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

// TestDocsCallerExample builds the docs' Go example for caller services and runs it: with a
// service account key whose token endpoint is a local server, the ID token must be minted for the
// audience and the request sent to the service URL, two different values, as with
// service.audiences. It runs on both of Google's auth paths (the old one and the new auth
// library), which a caller may be on.
func TestDocsCallerExample(t *testing.T) {
	example := docsGoBlock(t, "From a caller service")
	if !strings.HasPrefix(example.Text, "package ") {
		t.Fatalf("%s: the example must be a whole file, starting with its package clause, so that it can be run", example.Pos())
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "example")
	if err := buildOverlay(t, docsRoot, []goFile{
		{path: "internal/docexample/example.go", block: &example},
		{path: "internal/docexample/cmd/main.go", header: exampleMain},
	}, "./internal/docexample/cmd", bin); err != nil {
		t.Fatalf("%s: the Go example does not build with a caller of ListOrders(ctx, serviceURL, audience) (%v)", example.Pos(), err)
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
	testdir.Write(t, keyFile, string(adc))

	for _, newAuth := range []string{"", "true"} {
		t.Run("GOOGLE_API_GO_EXPERIMENTAL_ENABLE_NEW_AUTH_LIB="+newAuth, func(t *testing.T) {
			mu.Lock()
			minted, calls = nil, nil
			mu.Unlock()
			cmd := exec.Command(bin, srv.URL, audience)
			cmd.Env = []string{"HOME=" + tmp, "GOOGLE_APPLICATION_CREDENTIALS=" + keyFile, "GOOGLE_API_GO_EXPERIMENTAL_ENABLE_NEW_AUTH_LIB=" + newAuth}
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "200 orders" {
				t.Fatalf("%s: the example printed %q (%v), want \"200 orders\"", example.Pos(), out, err)
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

// guardFragmentHeader turns the guard page's fragment into a file: it runs inside a function that
// is handed the ctx and mux the fragment uses.
const guardFragmentHeader = `package example

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/platform/private-run-api/guard"
)

func example(ctx context.Context, mux *http.ServeMux) {
`

// TestDocsGuardFragmentCompiles builds the ```go fragment of "Guarding a Cloud Function" inside
// the guard's own module (which the root module does not require), so that the page shows the
// options guard.New really takes.
func TestDocsGuardFragmentCompiles(t *testing.T) {
	fragment := docsGoBlock(t, "Guarding a Cloud Function")
	if err := buildOverlay(t, filepath.Join(docsRoot, "guard"), []goFile{
		{path: "internal/docexample/example.go", header: guardFragmentHeader, block: &fragment, footer: "}\n"},
	}, "./internal/docexample", os.DevNull); err != nil {
		t.Errorf("%s: the guard fragment does not compile against the guard module (%v)", fragment.Pos(), err)
	}
}
