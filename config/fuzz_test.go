package config

import (
	"testing"
)

// FuzzParseStackYAML: any bytes give values or an error, never a panic.
func FuzzParseStackYAML(f *testing.F) {
	f.Add([]byte("config:\n  gcp:project: x\n  ns:callers:\n    - name: a\n"))
	f.Add([]byte("config:\n  ns:labels:\n    secure: abc\n"))
	f.Add([]byte("config: &a\n  x: *a\n"))
	f.Add([]byte("config:\n  ns:x: [1, 2.5, true, null, 0x1F, 1e400, ~]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := ParseStackYAML("ns", "fuzz.yaml", data)
		if err == nil && sf.Values == nil {
			t.Fatal("no error and no values")
		}
	})
}
