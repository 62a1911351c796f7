package guard

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

type recordingTransport struct{ reqs []*http.Request }

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.reqs = append(rt.reqs, r)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

func TestBearerTransport(t *testing.T) {
	cases := []struct {
		name     string
		url      string
		token    string
		wantSent bool
		wantErr  string
	}{
		{"adds the caller's token", "https://storage.test/storage/v1/b/x", "tok-1", true, ""},
		{"refuses without a token", "https://storage.test/storage/v1/b/x", "", false, "no caller token"},
		{"refuses another host", "https://elsewhere.test/storage/v1/b/x", "tok-1", false, "unexpected host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := &recordingTransport{}
			bt := &bearerTransport{base: base, host: "storage.test"}
			ctx := context.Background()
			if tc.token != "" {
				ctx = withCallerToken(ctx, tc.token)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tc.url, nil)
			req.Header.Set("Authorization", "Bearer someone-else")
			resp, err := bt.RoundTrip(req)
			if resp != nil {
				_ = resp.Body.Close()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if sent := len(base.reqs) > 0; sent != tc.wantSent {
				t.Fatalf("request sent = %v, want %v", sent, tc.wantSent)
			}
			if tc.wantSent {
				if got := base.reqs[0].Header.Get("Authorization"); got != "Bearer "+tc.token {
					t.Errorf("Authorization sent = %q, want the caller's token", got)
				}
				if got := req.Header.Get("Authorization"); got != "Bearer someone-else" {
					t.Errorf("the caller's request was modified: %q", got)
				}
			}
		})
	}
}

func TestValidToken(t *testing.T) {
	cases := map[string]bool{
		"ya29.a0AfH6SMB-x_y~z+/":           true,
		"abc==":                            true,
		"a":                                true,
		"":                                 false,
		"=":                                false,
		"ab=c":                             false,
		"a b":                              false,
		"a\r\nX-Evil: 1":                   false,
		"ä":                                false,
		strings.Repeat("a", maxTokenLen):   true,
		strings.Repeat("a", maxTokenLen+1): false,
	}
	for tok, want := range cases {
		if got := validToken(tok); got != want {
			t.Errorf("validToken(%.20q) = %v, want %v", tok, got, want)
		}
	}
}

func TestDecisionCacheUpdateAndExpiry(t *testing.T) {
	c := newDecisionCache(2)
	now := time.Unix(1000, 0)
	k := tokenKey{1}
	c.put(k, Deny, now.Add(time.Second))
	c.put(k, Allow, now.Add(2*time.Second)) // a refresh replaces, not duplicates
	if n := c.order.Len(); n != 1 {
		t.Fatalf("entries = %d, want 1", n)
	}
	if d, ok := c.get(k, now.Add(1500*time.Millisecond)); !ok || d != Allow {
		t.Errorf("get = %v, %v; want the refreshed allow", d, ok)
	}
	if _, ok := c.get(k, now.Add(2*time.Second)); ok {
		t.Error("entry still served at its expiry time")
	}
	if n := c.order.Len(); n != 0 || len(c.byKey) != 0 {
		t.Errorf("expired entry kept: list %d, map %d", n, len(c.byKey))
	}
}
