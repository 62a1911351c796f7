package config

import (
	"testing"
)

// FuzzParseStack: any bytes give values or an error, never a panic, with Pulumi's loader under
// the tool's own checks.
func FuzzParseStack(f *testing.F) {
	f.Add([]byte("config:\n  gcp:project: x\n  ns:callers:\n    - name: a\n"))
	f.Add([]byte("config:\n  ns:labels:\n    secure: abc\n"))
	f.Add([]byte("config: &a\n  x: *a\n"))
	f.Add([]byte("config:\n  ns:x: [1, 2.5, true, null, 0x1F, 1e400, ~, 2027-01-31T00:00:00Z, !!binary aGk=]\n"))
	f.Add([]byte("environment: [a]\nconfig: {}\n"))
	p, err := LoadProject([]byte("name: ns\nruntime: go\nconfig:\n  labels:\n    default: {a: b}\n"), "Pulumi.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := ParseStack(p, "fuzz.yaml", data)
		if err == nil && sf.Values == nil {
			t.Fatal("no error and no values")
		}
	})
}
