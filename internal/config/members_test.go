package config

import (
	"encoding/json"
	"testing"

	"github.com/platform/private-run-api/internal/gcp"
	"github.com/platform/private-run-api/internal/testcheck"
)

// unreadable names the first character a reviewer cannot see for what it is, counting characters
// (not bytes) from 1.
func TestUnreadable(t *testing.T) {
	testcheck.Answers(t, "unreadable", unreadable, map[string]string{
		"user:alice@acme.example":       "",
		"user:аlice@acme.example":       "has U+0430 CYRILLIC SMALL LETTER A at character 6, which a reviewer cannot tell from an ASCII character",
		"user:ålice@аcme.example":       "has U+00E5 LATIN SMALL LETTER A WITH RING ABOVE at character 6, which a reviewer cannot tell from an ASCII character",
		"user:alice\u200b@acme.example": "has U+200B ZERO WIDTH SPACE at character 11, which a reviewer cannot tell from an ASCII character",
		"user:bob\t@acme.example":       "has the control character U+0009 at character 9, which a reviewer cannot see",
		"user:bob@acme.example\x7f":     "has the control character U+007F at character 22, which a reviewer cannot see",
		"user:\xffbob@acme.example":     "has U+FFFD REPLACEMENT CHARACTER at character 6, which a reviewer cannot tell from an ASCII character",
		"~!#$%&'*+/=?^_`{|}":            "",
	})
}

func TestSuggestAccountID(t *testing.T) {
	for in, want := range map[string]string{
		"Batch_Job":                            "batch-job",
		"api":                                  "api-sa",
		"9lives":                               "sa-9lives",
		"--x--":                                "x-sa-sa",
		"a-very-long-caller-name-that-goes-on": "a-very-long-caller-name-that-g",
	} {
		got := suggestAccountID(in)
		if got != want {
			t.Errorf("suggestAccountID(%q) = %q, want %q", in, got, want)
		}
		if !gcp.ValidAccountID(got) {
			t.Errorf("suggestion %q for %q is itself invalid", got, in)
		}
	}
}

func TestAccountEmail(t *testing.T) {
	for _, tc := range []struct{ project, id, want string }{
		{"acme-dev", "orders-batch", "orders-batch@acme-dev.iam.gserviceaccount.com"},
		{"example.com:orders", "orders-batch", "orders-batch@orders.example.com.iam.gserviceaccount.com"},
	} {
		if got := gcp.AccountEmail(tc.project, tc.id); got != tc.want {
			t.Errorf("gcp.AccountEmail(%q, %q) = %q, want %q", tc.project, tc.id, got, tc.want)
		}
	}
}

// An impersonator is written in the form people write it and read back to the same value; the
// tests' generated stacks depend on both directions.
func TestImpersonatorJSONRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		imp  Impersonator
		json string
	}{
		{Impersonator{Member: "user:ann@acme.example"}, `"user:ann@acme.example"`},
		{Impersonator{Member: "user:ann@acme.example", Expires: "2027-01-31T00:00:00Z"}, `{"member":"user:ann@acme.example","expires":"2027-01-31T00:00:00Z"}`},
	} {
		data, err := json.Marshal(tc.imp)
		if err != nil {
			t.Fatalf("marshal %+v: %v", tc.imp, err)
		}
		if string(data) != tc.json {
			t.Errorf("marshal %+v = %s, want %s", tc.imp, data, tc.json)
		}
		var back Impersonator
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", data, err)
		}
		if back != tc.imp {
			t.Errorf("unmarshal %s = %+v, want %+v", data, back, tc.imp)
		}
	}
}
