package config_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/testdir"
	"github.com/platform/private-run-api/internal/teststack"
)

func mustProject(t *testing.T, text string) config.Project {
	t.Helper()
	p, err := config.LoadProject([]byte(text), "Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParseStack pins how values reach the program, as the Pulumi engine v3.259.0 renders them
// (captured with the real CLI; tests/engineconfig_test.go holds whole stacks to such captures).
func TestParseStack(t *testing.T) {
	cases := []struct {
		name    string
		project string // "" is teststack.ProjectFile
		yaml    string
		want    map[string]string
		wantErr []string
	}{
		{
			name: "scalars as the engine renders them, structures as JSON",
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
    env: {RATIO: 0.50, EMPTY: null, OCTAL: 010, YES: yes}
  private-run-api:bin: !!binary aGVsbG8=
  private-run-api:day: 2027-01-31
`,
			want: map[string]string{
				"gcp:project":                   "acme-test",
				"private-run-api:enableApis":    "false",
				"private-run-api:impersonators": `[{"expires":"2027-01-31 00:00:00 +0000 UTC","member":"user:a@acme.example"},"group:devs@acme.example"]`,
				"private-run-api:service":       `{"env":{"EMPTY":null,"OCTAL":8,"RATIO":0.5,"YES":"yes"},"name":"orders-api","port":8080,"protect":true}`,
				"private-run-api:bin":           "hello",
				"private-run-api:day":           "2027-01-31 00:00:00 +0000 UTC",
			},
		},
		{
			name: "keys without a namespace belong to the project",
			yaml: "config:\n  labels: {team: platform}\n",
			want: map[string]string{"private-run-api:labels": `{"team":"platform"}`},
		},
		{
			name:    "Pulumi.yaml's defaults and values fill what the stack leaves out",
			project: teststack.ProjectFile + "config:\n  impersonators:\n    - user:extra@evil.example\n  labels:\n    default: {team: x}\n  gcp:region: us-east1\n  enableApis:\n    value: false\n",
			yaml:    "config:\n  gcp:project: acme-test\n  private-run-api:labels: {team: platform}\n",
			want: map[string]string{
				"gcp:project":                   "acme-test",
				"gcp:region":                    "us-east1",
				"private-run-api:enableApis":    "false",
				"private-run-api:impersonators": `["user:extra@evil.example"]`,
				"private-run-api:labels":        `{"team":"platform"}`,
			},
		},
		{
			name:    "a secret is refused",
			yaml:    "config:\n  private-run-api:labels:\n    secure: AAABAHk=\n",
			wantErr: []string{"private-run-api:labels: is a secret (secure:)"},
		},
		{
			name:    "an ESC environment is refused",
			yaml:    "environment:\n  - acme/orders\nconfig:\n  gcp:project: acme-test\n",
			wantErr: []string{`environment "acme/orders": imports Pulumi ESC environments`},
		},
		{
			name:    "a secret in Pulumi.yaml is refused",
			project: teststack.ProjectFile + "config:\n  labels:\n    type: string\n    secret: true\n    default: x\n",
			yaml:    "config: {}\n",
			wantErr: []string{"private-run-api:labels: Pulumi.yaml declares it secret"},
		},
		{
			name:    "a key Pulumi.yaml requires and the stack leaves out",
			project: teststack.ProjectFile + "config:\n  labels:\n    type: string\n",
			yaml:    "config:\n  gcp:project: acme-test\n",
			wantErr: []string{"private-run-api:labels: Pulumi.yaml declares it with neither a value nor a default"},
		},
		{
			name:    "a typed key with a value of another type",
			project: teststack.ProjectFile + "config:\n  enableApis:\n    type: boolean\n",
			yaml:    "config:\n  private-run-api:enableApis: [x]\n",
			wantErr: []string{`private-run-api:enableApis "[\"x\"]": must be of type boolean, as Pulumi.yaml declares`},
		},
		{
			name:    "recursive alias",
			yaml:    "config:\n  private-run-api:labels: &a\n    x: *a\n",
			wantErr: []string{"not a stack file Pulumi can read"},
		},
		{
			name: "alias bomb",
			yaml: "config:\n  private-run-api:labels:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
				"    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
				"    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n    f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
			wantErr: []string{"not a stack file Pulumi can read"},
		},
		{
			name:    "not YAML",
			yaml:    "config: [\n",
			wantErr: []string{"not a stack file Pulumi can read"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proj := tc.project
			if proj == "" {
				proj = teststack.ProjectFile
			}
			sf, err := config.ParseStack(mustProject(t, proj), "Pulumi.test.yaml", []byte(tc.yaml))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error; values %v", sf.Values)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v\nwant it to contain %q", err, w)
					}
				}
				if !strings.HasPrefix(err.Error(), "Pulumi.test.yaml") {
					t.Errorf("err = %v: does not name the file", err)
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

// TestTimestampProblemNamesFileAndLine: the program names the key and says "quote it"; a tool
// reading the file also names where it is written.
func TestTimestampProblemNamesFileAndLine(t *testing.T) {
	sf, err := config.ParseStack(mustProject(t, teststack.ProjectFile), "Pulumi.test.yaml", []byte(`config:
  gcp:project: acme-test
  gcp:region: us-central1
  private-run-api:service: {name: orders-api, image: gcr.io/acme/x}
  private-run-api:impersonators:
    - member: user:a@acme.example
      expires: 2027-01-31T00:00:00Z
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sf.Load()
	var ce *diag.ConfigError
	if !errors.As(err, &ce) || len(ce.Diagnostics) != 1 {
		t.Fatalf("err = %v, want one problem", err)
	}
	d := ce.Diagnostics[0]
	// The program, which sees only what the engine passes, names the key and says what to write.
	if _, perr := config.Load("private-run-api", config.MapSource(sf.Values), sf.Keys()); perr == nil || !strings.Contains(perr.Error(), `quote it in the stack file: expires: "2027-01-31T00:00:00Z"`) {
		t.Errorf("the program says %v", perr)
	}
	for _, want := range []string{"quote it", `"2027-01-31T00:00:00Z"`, "Pulumi.test.yaml:7 writes it as an unquoted YAML timestamp"} {
		if !strings.Contains(d.String(), want) {
			t.Errorf("problem %q does not say %q", d.String(), want)
		}
	}
	if d.Path != "impersonators[0].expires" {
		t.Errorf("path = %s", d.Path)
	}
}

func TestReadStackAndLoad(t *testing.T) {
	dir := t.TempDir()
	testdir.Write(t, filepath.Join(dir, "Pulumi.yaml"), teststack.ProjectFile)
	testdir.Write(t, filepath.Join(dir, "Pulumi.test.yaml"), `config:
  gcp:project: acme-test
  gcp:region: us-central1
  private-run-api:service: {name: orders-api, image: gcr.io/acme/x}
  private-run-api:callers: [{name: orders-batch, invoke: false}]
`)
	sf, err := config.ReadStack(config.Dir(dir), "test")
	if err != nil {
		t.Fatal(err)
	}
	if sf.Path != filepath.Join(dir, "Pulumi.test.yaml") {
		t.Errorf("path = %s", sf.Path)
	}
	cfg, err := sf.Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Project != "acme-test" || cfg.ServiceRegion() != "us-central1" || len(cfg.Callers) != 1 || cfg.Callers[0].Invokes() {
		t.Errorf("config = %+v", cfg)
	}
	if !cfg.EnableAPIs || !cfg.Authz.On() || !cfg.Protected() || cfg.IngressOrDefault() != config.IngressAll {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if _, err := config.ReadStack(config.Dir(dir), "missing"); err == nil {
		t.Error("a missing stack file read without error")
	}
	if _, err := config.ReadStack(config.Dir(t.TempDir()), "test"); err == nil || !strings.Contains(err.Error(), "no Pulumi.yaml") {
		t.Errorf("a directory without Pulumi.yaml: %v", err)
	}
}
