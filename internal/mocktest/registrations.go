package mocktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// RegistrationsDirEnv names the directory WriteRegistrations writes to. Unset (the default, and
// CI), nothing is written. Set, every run of the suites that call it leaves its registrations
// there, for the real provider's offline validation (shared/engine/real-provider, which needs a
// fetched provider to build and so stays out of .ci/run):
//
//	REGISTRATIONS_DIR=$TMPDIR/regs go test -count=1 ./tests/ ./bootstrap/ci/
//	../shared/engine/real-provider/check $TMPDIR/regs/*.json
const RegistrationsDirEnv = "REGISTRATIONS_DIR"

// Registrations is one run's registrations in the checker's input format (its README, "Input"):
// the stack config and every resource with its inputs as plain JSON and its outputs as the
// mocks returned them.
type Registrations struct {
	Config    map[string]string `json:"config"`
	Resources []Registration    `json:"resources"`
}

// Registration is one resource of Registrations.
type Registration struct {
	Type    string         `json:"type"`
	Name    string         `json:"name"`
	URN     string         `json:"urn"`
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
}

// NewRegistrations renders a run's resources, in URN order. A value unknown in a preview is
// Pulumi's wire sentinel for unknowns (plugin.UnknownStringValue), which the checker turns into
// Terraform's unknown: a required field that is unknown is not missing. A secret is its plain
// value, since the provider validates that.
func NewRegistrations(cfg map[string]string, resources []Resource) Registrations {
	out := Registrations{Config: map[string]string{}, Resources: []Registration{}}
	for k, v := range cfg {
		out.Config[k] = v
	}
	for _, r := range resources {
		out.Resources = append(out.Resources, Registration{
			Type: r.Type, Name: r.Name, URN: r.URN, Inputs: plainMap(r.Inputs), Outputs: plainMap(r.Outputs),
		})
	}
	sort.Slice(out.Resources, func(i, j int) bool { return out.Resources[i].URN < out.Resources[j].URN })
	return out
}

func plainMap(m resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[string(k)] = plain(v)
	}
	return out
}

// plain is v as JSON.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsComputed(), v.IsOutput() && !v.OutputValue().Known:
		return plugin.UnknownStringValue
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsArray():
		arr := make([]any, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			arr = append(arr, plain(e))
		}
		return arr
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return v.Mappable()
}

var (
	written     = map[string]int{}
	writtenMu   sync.Mutex
	unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// WriteRegistrations writes a run's registrations to $REGISTRATIONS_DIR/<label>.<test name>.json
// when the variable is set (a test's second run gets .2, and so on); a run that registered
// nothing (a refused config) writes nothing. label tells the programs apart ("main",
// "bootstrap"). It fails tb when the file cannot be written.
func WriteRegistrations(tb testing.TB, label string, cfg map[string]string, r *Result) {
	tb.Helper()
	dir := os.Getenv(RegistrationsDirEnv)
	if dir == "" || len(r.Resources) == 0 {
		return
	}
	base := label + "." + unsafeChars.ReplaceAllString(tb.Name(), "_")
	writtenMu.Lock()
	written[base]++
	if n := written[base]; n > 1 {
		base += fmt.Sprintf(".%d", n)
	}
	writtenMu.Unlock()
	data, err := json.MarshalIndent(NewRegistrations(cfg, r.Resources), "", " ")
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, base+".json"), append(data, '\n'), 0o644)
	}
	if err != nil {
		tb.Fatalf("%s: %v", RegistrationsDirEnv, err)
	}
}
