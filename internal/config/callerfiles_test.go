package config

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/platform/private-run-api/internal/diag"
)

// stackWithDir is a stack whose callers live in callers/, with one inline caller beside them.
var stackWithDir = map[string]string{
	"gcp:project":                "acme-test",
	"gcp:region":                 "us-central1",
	"private-run-api:service":    `{"name":"orders-api","image":"us-docker.pkg.dev/cloudrun/container/hello"}`,
	"private-run-api:callers":    `[{"name":"orders-inline"}]`,
	"private-run-api:callersDir": "callers",
}

func loadFiles(t *testing.T, files fs.FS, cfg map[string]string) (*Config, diag.List) {
	t.Helper()
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	c, err := LoadWithFiles("private-run-api", MapSource(cfg), keys, files)
	var ce *diag.ConfigError
	if errors.As(err, &ce) {
		return nil, ce.Diagnostics
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, nil
}

func TestCallerFiles(t *testing.T) {
	good := fstest.MapFS{
		"callers/orders-batch.yaml": {Data: []byte("description: Nightly batch.\nimpersonators:\n  - member: user:kenji@acme.example\n    expires: 2027-03-31T00:00:00Z\n")},
		"callers/orders-front.yaml": {Data: []byte("name: orders-front\nauthz: true\n")},
		"callers/README.md":         {Data: []byte("One file per caller.\n")},
		"callers/.gitkeep":          {},
	}
	c, ps := loadFiles(t, good, stackWithDir)
	if ps != nil {
		t.Fatalf("problems: %v", ps)
	}
	var names, paths []string
	for i, caller := range c.Callers {
		names = append(names, caller.Name)
		paths = append(paths, c.CallerPath(i).String())
	}
	if want := []string{"orders-inline", "orders-batch", "orders-front"}; !slices.Equal(names, want) {
		t.Errorf("callers = %v, want %v (inline first, then files by name; a missing name is the file's)", names, want)
	}
	if want := []string{"callers[0]", "callers/orders-batch.yaml:", "callers/orders-front.yaml:"}; !slices.Equal(paths, want) {
		t.Errorf("paths = %v, want %v", paths, want)
	}
	// No engine stands between a caller file and the program: an unquoted time is the text written.
	if got := c.Callers[1].Impersonators[0].Expires; got != "2027-03-31T00:00:00Z" {
		t.Errorf("expires = %q, want the text of the file", got)
	}

	bad := []struct {
		name  string
		files fstest.MapFS
		cfg   map[string]string
		want  []string // "Type path" in order
		says  string
	}{
		{
			name: "every problem in every file, with the file and the path in it",
			files: fstest.MapFS{
				"callers/a-typo.yaml":     {Data: []byte("invok: false\n")},
				"callers/mismatch.yaml":   {Data: []byte("name: other-name\n")},
				"callers/not-yaml.yaml":   {Data: []byte("impersonators: [\n")},
				"callers/orders-old.yml":  {Data: []byte("{}\n")},
				"callers/sub/x.yaml":      {Data: []byte("{}\n")},
				"callers/public-one.yaml": {Data: []byte("impersonators: [allUsers]\n")},
			},
			cfg: stackWithDir,
			want: []string{
				"Unknown callers/a-typo.yaml:invok", "Invalid callers/mismatch.yaml:name", "Invalid callers/not-yaml.yaml:",
				"Invalid callers/orders-old.yml:", "Forbidden callers/sub:",
				"Forbidden callers/public-one.yaml:impersonators[0].member",
			},
			says: `callers/mismatch.yaml:name "other-name": is not the file's name`,
		},
		{
			name:  "a caller declared inline and in a file",
			files: fstest.MapFS{"callers/orders-inline.yaml": {Data: []byte("{}\n")}},
			cfg:   stackWithDir,
			want:  []string{"Duplicate callers/orders-inline.yaml:name"},
			says:  `callers/orders-inline.yaml:name "orders-inline": is declared twice (also callers[0])`,
		},
		{
			name: "a directory outside the project",
			cfg:  with(stackWithDir, "private-run-api:callersDir", "../shared/callers"),
			want: []string{"Forbidden callersDir"},
		},
		{
			name: "an absolute directory",
			cfg:  with(stackWithDir, "private-run-api:callersDir", "/etc/callers"),
			want: []string{"Forbidden callersDir"},
		},
		{
			name:  "a directory that is not there",
			files: fstest.MapFS{"other/x.yaml": {Data: []byte("{}\n")}},
			cfg:   stackWithDir,
			want:  []string{"Invalid callersDir"},
			says:  "no such directory",
		},
		{
			name: "a symlink, to a file or as the directory",
			files: fstest.MapFS{
				"callers/link.yaml": {Data: []byte("../secret.yaml"), Mode: fs.ModeSymlink},
				"secret.yaml":       {Data: []byte("{}\n")},
			},
			cfg:  stackWithDir,
			want: []string{"Forbidden callers/link.yaml:"},
			says: "is a symbolic link",
		},
		{
			name:  "a file too big",
			files: fstest.MapFS{"callers/big.yaml": {Data: []byte("description: " + strings.Repeat("x", MaxCallerFileSize) + "\n")}},
			cfg:   stackWithDir,
			want:  []string{"Invalid callers/big.yaml:"},
		},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			files := tc.files
			if files == nil {
				files = good
			}
			_, ps := loadFiles(t, files, tc.cfg)
			var got []string
			for _, d := range ps {
				got = append(got, string(d.Type)+" "+d.Path)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q\n%v", got, tc.want, ps)
			}
			if tc.says != "" && !strings.Contains((&diag.ConfigError{Diagnostics: ps}).Error(), tc.says) {
				t.Errorf("no problem says %q:\n%v", tc.says, ps)
			}
		})
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}
