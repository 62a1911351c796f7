package tests

// Scale benchmarks. They run only with -bench; `go test ./...` runs the one test here
// (TestFloorReplaysTheProgramsRegistrations), which checks that the replay is whole.
//
//	go test -run '^$' -bench . -benchtime 2s -count 5 ./tests/ | tee bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest bench.txt
//
// BenchmarkProgram runs the whole program (config decoding, validation, plan, components) under
// mocks; BenchmarkFloor replays the cloud resources and provider calls one run of the program
// made (deriveFloor), flat, with none of that. Both use benchMocks.
// BenchmarkOverhead runs the two back to back in every iteration and reports their ratio, which
// is less exposed to the machine's drift than a ratio of two separate benchmarks.

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/secretmanager"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/entrypoint"
	"github.com/platform/private-run-api/internal/mocktest"
	"github.com/platform/private-run-api/internal/plan"
	"github.com/platform/private-run-api/internal/program"
)

var benchSizes = []int{10, 100, 1000}

// benchMocks is the harness's mocks without the recording: it counts registrations and returns
// the same computed outputs. The program and the floor both run on it.
type benchMocks struct {
	mocktest.Calls
	all, custom atomic.Int64
}

func (m *benchMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.all.Add(1)
	if args.Custom {
		m.custom.Add(1)
	}
	id, state := mocktest.Outputs(computed).Reply(args, false)
	return id, state, nil
}

// runProgram runs the whole program once, as `pulumi up` would (warnings and exports go to the
// context), on the given mocks.
func runProgram(in benchInput, m pulumi.MockResourceMonitor) error {
	return pulumi.RunErr(func(ctx *pulumi.Context) error {
		return program.RunWith(ctx, entrypoint.Options{
			Now:        func() time.Time { return fixedNow },
			Warn:       func(string) {},
			ConfigKeys: in.keys,
			Files:      in.files,
		})
	}, pulumi.WithMocks(project, stackName, m), func(info *pulumi.RunInfo) { info.Config = in.cfg })
}

// benchInput is one generated stack as the benchmarks run it: its callers in caller files on
// disk (so that reading them is counted), its config, and the floor derived from it.
type benchInput struct {
	cfg   map[string]string
	keys  []string
	files fs.FS
	floor *floorStack
}

func newBenchInput(tb testing.TB, n int) benchInput {
	tb.Helper()
	cfg, root := genCallers(n).inFiles(tb)
	in := benchInput{cfg: cfg, keys: slices.Sorted(maps.Keys(cfg)), files: os.DirFS(root)}
	in.floor = deriveFloor(tb, in)
	return in
}

// runFloor runs the floor once on the given mocks.
func runFloor(f *floorStack, cfg map[string]string, m pulumi.MockResourceMonitor) error {
	return pulumi.RunErr(f.run, pulumi.WithMocks(project, stackName, m),
		func(info *pulumi.RunInfo) { info.Config = cfg })
}

// floorStack is the bare program, derived from the program itself: what one run of the program
// registered (components and cloud resources: types, names, parents, inputs, protection, ignored
// changes, dependencies, the options the SDK packages add) and the provider functions it called,
// replayed in order, with none of the program's work around them (config decoding and files,
// validation, plan, outputs). Derived rather than written, it cannot drift from what the program
// declares.
type floorStack struct {
	// resources are in an order where each comes after everything it depends on.
	resources []mocktest.Resource
	calls     []floorCall
	// opts are the options the SDK packages add to a resource, by URN: the provider version
	// and the aliases of a type's old names (pulumi-gcp adds both to every resource).
	opts map[string]floorOpts
}

type floorCall struct {
	token string
	args  map[string]any
}

type floorOpts struct {
	version    string
	aliasTypes []string
}

// callRecorder is the recording mocks, with the provider functions called and each resource's
// package options recorded too.
type callRecorder struct {
	*mocktest.Mocks
	mu    sync.Mutex
	calls []floorCall
	opts  map[string]floorOpts // by the resource's type and name
}

func (c *callRecorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	o := floorOpts{version: args.RegisterRPC.GetVersion()}
	for _, a := range args.RegisterRPC.GetAliases() {
		if spec := a.GetSpec(); spec != nil && spec.GetType() != "" {
			o.aliasTypes = append(o.aliasTypes, spec.GetType())
		}
	}
	c.mu.Lock()
	c.opts[args.TypeToken+"::"+args.Name] = o
	c.mu.Unlock()
	return c.Mocks.NewResource(args)
}

func (c *callRecorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	c.mu.Lock()
	c.calls = append(c.calls, floorCall{token: args.Token, args: args.Args.Mappable()})
	c.mu.Unlock()
	return c.Mocks.Call(args)
}

// deriveFloor runs the program once on in under recording mocks and returns its floor.
func deriveFloor(tb testing.TB, in benchInput) *floorStack {
	tb.Helper()
	rec := &callRecorder{Mocks: newMocks(false), opts: map[string]floorOpts{}}
	if err := runProgram(in, rec); err != nil {
		tb.Fatalf("program failed: %v", err)
	}
	f := &floorStack{calls: rec.calls, opts: map[string]floorOpts{}}
	for _, x := range rec.Resources() {
		f.opts[x.URN] = rec.opts[x.Type+"::"+x.Name]
	}
	byURN := map[string]mocktest.Resource{}
	for _, x := range rec.Resources() {
		byURN[x.URN] = x
	}
	// Parents and dependencies first.
	done := map[string]bool{}
	var visit func(urn string)
	visit = func(urn string) {
		if done[urn] {
			return
		}
		done[urn] = true
		x := byURN[urn]
		if x.Parent != "" {
			visit(x.Parent)
		}
		for _, d := range x.Deps {
			visit(d)
		}
		f.resources = append(f.resources, x)
	}
	for _, urn := range slices.Sorted(maps.Keys(byURN)) {
		visit(urn)
	}
	return f
}

// bareComponent is any component, with no outputs read.
type bareComponent struct{ pulumi.ResourceState }

// floorStates makes, for each resource type the program registers, the state the SDK fills in
// for it: the same Go type the program's constructor registers into (an Output per output field),
// so that the floor does the SDK's work for the resource and nothing of the program's.
var floorStates = map[string]func() pulumi.CustomResource{
	tAccount:       func() pulumi.CustomResource { return &serviceaccount.Account{} },
	tAccountPolicy: func() pulumi.CustomResource { return &serviceaccount.IAMPolicy{} },
	tService:       func() pulumi.CustomResource { return &cloudrunv2.Service{} },
	tServicePolicy: func() pulumi.CustomResource { return &cloudrunv2.ServiceIamPolicy{} },
	tBucket:        func() pulumi.CustomResource { return &storage.Bucket{} },
	tBucketPolicy:  func() pulumi.CustomResource { return &storage.BucketIAMPolicy{} },
	tSecretIAM:     func() pulumi.CustomResource { return &secretmanager.SecretIamMember{} },
	tCustomRole:    func() pulumi.CustomResource { return &projects.IAMCustomRole{} },
	tProjectAPI:    func() pulumi.CustomResource { return &projects.Service{} },
}

func (f *floorStack) run(ctx *pulumi.Context) error {
	for _, c := range f.calls {
		var out map[string]any
		if err := ctx.Invoke(c.token, c.args, &out); err != nil {
			return err
		}
	}
	registered := make(map[string]pulumi.Resource, len(f.resources))
	var components []*bareComponent
	for _, x := range f.resources {
		var deps []pulumi.Resource
		for _, d := range x.Deps {
			if r, ok := registered[d]; ok {
				deps = append(deps, r)
			}
		}
		parent := []pulumi.ResourceOption{}
		if p, ok := registered[x.Parent]; ok {
			parent = append(parent, pulumi.Parent(p))
		}
		if !x.Custom {
			c := &bareComponent{}
			if err := ctx.RegisterComponentResource(x.Type, x.Name, c, append(parent, pulumi.DependsOn(deps))...); err != nil {
				return err
			}
			registered[x.URN] = c
			components = append(components, c)
			continue
		}
		state, ok := floorStates[x.Type]
		if !ok {
			return fmt.Errorf("the floor knows no state type for %s: add it to floorStates", x.Type)
		}
		res := state()
		opts := append(parent, pulumi.DependsOn(deps), pulumi.Protect(x.Protect))
		if len(x.IgnoreChanges) > 0 {
			opts = append(opts, pulumi.IgnoreChanges(x.IgnoreChanges))
		}
		o := f.opts[x.URN]
		if o.version != "" {
			opts = append(opts, pulumi.Version(o.version))
		}
		if len(o.aliasTypes) > 0 {
			aliases := make([]pulumi.Alias, len(o.aliasTypes))
			for i, typ := range o.aliasTypes {
				aliases[i] = pulumi.Alias{Type: pulumi.String(typ)}
			}
			opts = append(opts, pulumi.Aliases(aliases))
		}
		// An input the program took from another resource's output carries that dependency here
		// too: the engine replaces dependents through these, and awaiting them is SDK work.
		inputs := pulumi.Map{}
		for k, v := range x.Inputs.Mappable() {
			var from []pulumi.Resource
			for _, d := range x.PropertyDeps[k] {
				if r, ok := registered[d]; ok {
					from = append(from, r)
				}
			}
			if len(from) == 0 {
				inputs[k] = pulumi.Any(v)
				continue
			}
			inputs[k] = pulumi.OutputWithDependencies(ctx.Context(), pulumi.Any(v), from...)
		}
		if err := ctx.RegisterResource(x.Type, x.Name, inputs, res, opts...); err != nil {
			return err
		}
		registered[x.URN] = res
	}
	for _, c := range components {
		if err := ctx.RegisterResourceOutputs(c, pulumi.Map{}); err != nil {
			return err
		}
	}
	return nil
}

// TestFloorReplaysTheProgramsRegistrations: the floor registers every component and cloud
// resource the program does, under the same URN, with its inputs, protection and ignored changes,
// waiting for what it waited for; only the program's own work is missing.
func TestFloorReplaysTheProgramsRegistrations(t *testing.T) {
	for _, n := range []int{10, 100} {
		cfg, root := genCallers(n).inFiles(t)
		prog := mustRun(t, cfg, runOpts{root: root})
		f := newBenchInput(t, n).floor
		fm := newMocks(false)
		if err := runFloor(f, cfg, fm); err != nil {
			t.Fatalf("n=%d: floor failed: %v", n, err)
		}
		want := prog.URNs()
		flat := fm.Resources()
		if len(flat) != len(want) {
			t.Errorf("n=%d: floor registered %d resources, the program %d", n, len(flat), len(want))
		}
		for _, x := range flat {
			p, ok := want[x.URN]
			switch {
			case !ok:
				t.Errorf("n=%d: floor registers %s, which the program does not", n, x.URN)
			case !p.Inputs.DeepEquals(x.Inputs) || p.Protect != x.Protect || !slices.Equal(p.IgnoreChanges, x.IgnoreChanges) || p.Parent != x.Parent:
				t.Errorf("n=%d: %s differs:\nprogram %v\nfloor   %v", n, x.URN, p.Inputs, x.Inputs)
			case !slices.Equal(sortedCopy(p.Deps), sortedCopy(x.Deps)):
				t.Errorf("n=%d: %s waits for\nprogram %v\nfloor   %v", n, x.URN, sortedCopy(p.Deps), sortedCopy(x.Deps))
			case !maps.EqualFunc(nonEmpty(p.PropertyDeps), nonEmpty(x.PropertyDeps), func(a, b []string) bool { return slices.Equal(sortedCopy(a), sortedCopy(b)) }):
				t.Errorf("n=%d: %s takes inputs from\nprogram %v\nfloor   %v", n, x.URN, nonEmpty(p.PropertyDeps), nonEmpty(x.PropertyDeps))
			}
		}
	}
}

// nonEmpty is the property dependencies that name a resource.
func nonEmpty(deps map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range deps {
		if len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

func reportScale(b *testing.B, m *benchMocks) {
	n := float64(b.N)
	custom := float64(m.custom.Load()) / n
	b.ReportMetric(float64(m.all.Load())/n, "registrations/op")
	b.ReportMetric(custom, "resources/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/custom, "ns/resource")
}

// BenchmarkProgram is the whole program under mocks, reading its caller files.
func BenchmarkProgram(b *testing.B) {
	benchRegistrations(b, func(in benchInput, m *benchMocks) error { return runProgram(in, m) })
}

// BenchmarkFloor is the same cloud resources registered flat.
func BenchmarkFloor(b *testing.B) {
	benchRegistrations(b, func(in benchInput, m *benchMocks) error { return runFloor(in.floor, in.cfg, m) })
}

// benchRegistrations benchmarks register (the program or the floor) on the generated stack of
// each bench size and reports its scale.
func benchRegistrations(b *testing.B, register func(in benchInput, m *benchMocks) error) {
	for _, n := range benchSizes {
		in := newBenchInput(b, n)
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			m := &benchMocks{}
			for b.Loop() {
				if err := register(in, m); err != nil {
					b.Fatal(err)
				}
			}
			reportScale(b, m)
		})
	}
}

// BenchmarkOverhead runs program and floor back to back in every iteration, each from a
// collected heap, and reports for each ns/resource of wall time and, where /proc/self/stat is
// readable, of process CPU time (both cores: GC workers included), and the ratios program/floor.
// CPU time is less exposed than wall time to other processes on a shared machine. ns/op is the
// pair plus the two forced collections.
func BenchmarkOverhead(b *testing.B) {
	for _, n := range benchSizes {
		in := newBenchInput(b, n)
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			pm, fm := &benchMocks{}, &benchMocks{}
			var progT, floorT, progCPU, floorCPU time.Duration
			_, cpuOK := processCPU()
			measure := func(wall, cpu *time.Duration, fn func() error) {
				runtime.GC()
				c0, _ := processCPU()
				t0 := time.Now()
				if err := fn(); err != nil {
					b.Fatal(err)
				}
				*wall += time.Since(t0)
				c1, _ := processCPU()
				*cpu += c1 - c0
			}
			for b.Loop() {
				measure(&progT, &progCPU, func() error { return runProgram(in, pm) })
				measure(&floorT, &floorCPU, func() error { return runFloor(in.floor, in.cfg, fm) })
			}
			if pm.custom.Load() != fm.custom.Load() {
				b.Fatalf("program registered %d cloud resources, floor %d", pm.custom.Load(), fm.custom.Load())
			}
			res := float64(pm.custom.Load())
			b.ReportMetric(res/float64(b.N), "resources/op")
			b.ReportMetric(float64(progT.Nanoseconds())/res, "program-ns/resource")
			b.ReportMetric(float64(floorT.Nanoseconds())/res, "floor-ns/resource")
			b.ReportMetric(float64(progT)/float64(floorT), "program/floor")
			if cpuOK && floorCPU > 0 {
				b.ReportMetric(float64(progCPU.Nanoseconds())/res, "program-cpu-ns/resource")
				b.ReportMetric(float64(floorCPU.Nanoseconds())/res, "floor-cpu-ns/resource")
				b.ReportMetric(float64(progCPU)/float64(floorCPU), "cpu-program/floor")
			}
		})
	}
}

// processCPU is the user plus system CPU time of this process from /proc/self/stat, in clock
// ticks of 10 ms (USER_HZ is 100 on Linux); ok is false where there is no such file. Summed
// over many iterations the tick sampling averages out.
func processCPU() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0, false
	}
	// After "pid (comm) ": state is field 0, utime field 11, stime field 12.
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, false
	}
	user, err1 := strconv.ParseInt(f[11], 10, 64)
	sys, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(user+sys) * 10 * time.Millisecond, true
}

// BenchmarkValidate is config decoding, reading the caller files, and validation alone.
func BenchmarkValidate(b *testing.B) {
	for _, n := range benchSizes {
		cfg, root := genCallers(n).inFiles(b)
		keys := slices.Sorted(maps.Keys(cfg))
		files := os.DirFS(root)
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			src := config.MapSource(cfg)
			for b.Loop() {
				if _, err := config.LoadWithFiles(project, src, keys, files); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/caller")
		})
	}
}

// BenchmarkResolve is the plan alone, from a loaded config.
func BenchmarkResolve(b *testing.B) {
	for _, n := range benchSizes {
		cfg := genCallers(n).raw(b)
		c, err := config.Load(project, config.MapSource(cfg), slices.Sorted(maps.Keys(cfg)))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := plan.Resolve(c, fixedNow); len(p.Callers) != n {
					b.Fatalf("plan has %d callers, want %d", len(p.Callers), n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/caller")
		})
	}
}
