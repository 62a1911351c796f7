//go:build unix

package doctor

import (
	"bytes"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/platform/private-run-api/internal/testdir"
)

// A FIFO where the credentials file should be makes os.ReadFile wait for a writer forever; the
// doctor must say what it is instead.
func TestDiagnoseFIFO(t *testing.T) {
	dir := stackDir(t, map[string]string{"test": testStack})
	tests := []struct {
		name  string
		setup func(t *testing.T, m *machine) string
	}{
		{"at gcloud's file", func(t *testing.T, m *machine) string {
			path := m.gcloudFile()
			testdir.Write(t, path, "")
			return path
		}},
		{"named by GOOGLE_APPLICATION_CREDENTIALS", func(t *testing.T, m *machine) string {
			path := filepath.Join(m.home, "creds.json")
			m.env["GOOGLE_APPLICATION_CREDENTIALS"] = path
			return path
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t)
			path := tc.setup(t, m)
			if err := syscall.Unlink(path); err != nil && err != syscall.ENOENT {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("cannot make a FIFO here: %v", err)
			}
			done := make(chan string, 1)
			go func() {
				r, err := Diagnose(Request{Dir: dir, Stack: "test", Caller: "orders-batch", Now: now, Env: m.Env()})
				if err != nil {
					done <- "error: " + err.Error()
					return
				}
				var b bytes.Buffer
				_ = r.Write(&b)
				done <- b.String()
			}()
			select {
			case out := <-done:
				if !hasFinding(out, Problem, "The credentials path is not a regular file") || !strings.Contains(out, "not a regular file (a named pipe (FIFO))") {
					t.Errorf("want the FIFO problem:\n%s", out)
				}
				if !strings.Contains(out, batchLogin) {
					t.Errorf("want the login fix:\n%s", out)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Diagnose blocked on the FIFO")
			}
		})
	}
}
