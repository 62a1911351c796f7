package tests

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/teststack"
)

// TestCallersInFilesRegisterWhatInlineDoes: moving every caller from the inline list into caller
// files changes no URN, no input and no grant, in preview and in update mode.
func TestCallersInFilesRegisterWhatInlineDoes(t *testing.T) {
	s := genCallers(100)
	inline := s.raw(t)
	files, root := s.inFiles(t)
	for _, dry := range []bool{false, true} {
		a := mustRun(t, inline, runOpts{dryRun: dry})
		b := mustRun(t, files, runOpts{dryRun: dry, root: root})
		if ra, rb := registered(t, a), registered(t, b); !maps.Equal(ra, rb) {
			t.Fatalf("preview=%v: callers in files register otherwise:\n%s", dry, registeredDiff(ra, rb))
		}
		if len(a.Resources) < 100 {
			t.Fatalf("preview=%v: only %d resources: the comparison proves nothing", dry, len(a.Resources))
		}
		if !maps.Equal(accessDeployedGrants(t, a), accessDeployedGrants(t, b)) {
			t.Errorf("preview=%v: callers in files grant otherwise", dry)
		}
	}
}

// TestEngineConfigLimit: the stack reader refuses exactly what the engine cannot start. Measured
// through the real CLI v3.259.0 and its Go language host: the generated stack with 1,269 inline
// callers ran (PULUMI_CONFIG of 130,984 bytes with its name and NUL), and with 1,270 every
// preview failed before the program ran, "fork/exec /tmp/pulumi-go.…: argument list too long".
func TestEngineConfigLimit(t *testing.T) {
	p, err := config.LoadProject([]byte(teststack.ProjectFile), "Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n      int
		refuse bool
	}{{1269, false}, {1270, true}} {
		var b strings.Builder
		b.WriteString("config:\n")
		for k, v := range genCallers(tc.n).raw(t) {
			fmt.Fprintf(&b, "  %s: %q\n", k, v)
		}
		_, err := config.ParseStack(p, "Pulumi.dev.yaml", []byte(b.String()))
		if refused := err != nil && strings.Contains(err.Error(), "more config than the engine can hand the program"); refused != tc.refuse {
			t.Errorf("%d inline callers: refused %v, want %v (%v)", tc.n, refused, tc.refuse, err)
		}
	}
	// In files, the config stays small however many callers there are.
	files, _ := genCallers(2000).inFiles(t)
	if n := config.EngineConfigSize(files); n > 2048 {
		t.Errorf("2,000 callers in files still pass %d bytes of config", n)
	}
}
