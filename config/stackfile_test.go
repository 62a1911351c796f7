package config

import (
	"github.com/platform/private-run-api/gcp"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseStackYAML(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		want    map[string]string
		wantErr string
	}{
		{
			name: "scalars stay as written, structures become JSON",
			yaml: `
config:
  gcp:project: acme-test
  private-run-api:enableApis: false
  private-run-api:impersonators:
    - member: user:a@acme.example
      expires: 2027-01-31T00:00:00Z
    - group:devs@acme.example
  private-run-api:service:
    name: orders-api
    port: 8080
    protect: true
    env: {RATIO: 0.5, EMPTY: null}
`,
			want: map[string]string{
				"gcp:project":                   "acme-test",
				"private-run-api:enableApis":    "false",
				"private-run-api:impersonators": `[{"expires":"2027-01-31T00:00:00Z","member":"user:a@acme.example"},"group:devs@acme.example"]`,
				"private-run-api:service":       `{"env":{"EMPTY":null,"RATIO":0.5},"name":"orders-api","port":8080,"protect":true}`,
			},
		},
		{
			name: "keys without a namespace belong to the project",
			yaml: "config:\n  labels: {team: platform}\n",
			want: map[string]string{"private-run-api:labels": `{"team":"platform"}`},
		},
		{
			name:    "secrets are refused",
			yaml:    "config:\n  private-run-api:labels:\n    secure: AAABAHk=\n",
			wantErr: "private-run-api:labels is a secret",
		},
		{
			name:    "recursive alias",
			yaml:    "config:\n  private-run-api:labels: &a\n    x: *a\n",
			wantErr: "nests too deep or expands too far",
		},
		{
			name: "alias bomb",
			yaml: "config:\n  private-run-api:labels:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
				"    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
				"    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n    f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
			wantErr: "nests too deep or expands too far",
		},
		{
			name:    "not YAML",
			yaml:    "config: [\n",
			wantErr: "not valid YAML",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sf, err := ParseStackYAML("private-run-api", "Pulumi.test.yaml", []byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sf.Values) != len(tc.want) {
				t.Errorf("values = %v", sf.Values)
			}
			for k, want := range tc.want {
				if got := sf.Values[k]; got != want {
					t.Errorf("%s = %s\nwant %s", k, got, want)
				}
			}
		})
	}
}

func TestReadStackAndLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("Pulumi.yaml", "name: private-run-api\nruntime: go\n")
	write("Pulumi.test.yaml", `config:
  gcp:project: acme-test
  gcp:region: us-central1
  private-run-api:service: {name: orders-api, image: gcr.io/acme/x}
  private-run-api:callers: [{name: orders-batch, invoke: false}]
`)
	sf, err := ReadStack(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sf.Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Project != "acme-test" || cfg.ServiceRegion() != "us-central1" || len(cfg.Callers) != 1 || cfg.Callers[0].Invokes() {
		t.Errorf("config = %+v", cfg)
	}
	if !cfg.EnableAPIs || !cfg.Authz.On() || !cfg.Protected() || cfg.IngressOrDefault() != IngressAll {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if _, err := ReadStack(dir, "missing"); err == nil {
		t.Error("a missing stack file read without error")
	}
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
