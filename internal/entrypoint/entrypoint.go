// Package entrypoint is what the two Pulumi programs (the private API's stack and the bootstrap's
// ci) share around their resources: the options tests run them with, and the stack outputs they
// export in a stable order.
package entrypoint

import (
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/config"
)

// Options adjust a program's run for tests; the zero value is what `pulumi up` uses.
type Options struct {
	// Now decides which expiries have passed; default time.Now.
	Now func() time.Time
	// Warn receives each warning; default ctx.Log.Warn, which the engine prints.
	Warn func(msg string)
	// Export receives each stack output; default ctx.Export.
	Export func(name string, value pulumi.Input)
	// ConfigKeys lists every config key the stack sets, for reporting unknown ones; default read
	// from PULUMI_CONFIG, where the Pulumi language host passes the whole stack config.
	ConfigKeys []string
	// Files is the project's tree, which caller files are read from; default the project root
	// the engine names (where Pulumi.yaml is), or the working directory.
	Files fs.FS
}

// WithDefaults fills what the options leave out with the engine's own.
func (o Options) WithDefaults(ctx *pulumi.Context) Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Warn == nil {
		o.Warn = func(msg string) { _ = ctx.Log.Warn(msg, nil) }
	}
	if o.Export == nil {
		o.Export = ctx.Export
	}
	if o.ConfigKeys == nil {
		o.ConfigKeys = config.EngineConfigKeys()
	}
	if o.Files == nil {
		root := ctx.RootDirectory()
		if root == "" {
			root = "."
		}
		o.Files = os.DirFS(root)
	}
	return o
}

// Outputs are a program's stack outputs, by name.
type Outputs map[string]pulumi.Input

// Names lists the outputs in a stable order.
func (o Outputs) Names() []string {
	return slices.Sorted(maps.Keys(o))
}

// ExportTo exports every output, in name order.
func (o Outputs) ExportTo(export func(name string, value pulumi.Input)) {
	for _, name := range o.Names() {
		export(name, o[name])
	}
}
