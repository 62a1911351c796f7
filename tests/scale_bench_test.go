package tests

// Scale benchmarks. They run only with -bench; `go test ./...` runs the one test here
// (TestFloorDeclaresWhatTheProgramDoes), which keeps the floor honest.
//
//	go test -run '^$' -bench . -benchtime 2s -count 5 ./tests/ | tee bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest bench.txt
//
// BenchmarkProgram runs the whole program (config decoding, validation, plan, components) under
// mocks; BenchmarkFloor registers the same cloud resources of the same types, names, inputs,
// options and dependencies as a flat program with none of that. Both use benchMocks.
// BenchmarkOverhead runs the two back to back in every iteration and reports their ratio, which
// is less exposed to the machine's drift than a ratio of two separate benchmarks.

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/organizations"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/config"
	"github.com/platform/private-run-api/internal/mocktest"
	"github.com/platform/private-run-api/internal/program"
	"github.com/platform/private-run-api/plan"
	"github.com/platform/private-run-api/stack"
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
func runProgram(cfg map[string]string, keys []string, m pulumi.MockResourceMonitor) error {
	return pulumi.RunErr(func(ctx *pulumi.Context) error {
		return stack.RunWith(ctx, program.Options{
			Now:        func() time.Time { return fixedNow },
			Warn:       func(string) {},
			ConfigKeys: keys,
		})
	}, pulumi.WithMocks(project, stackName, m), func(info *pulumi.RunInfo) { info.Config = cfg })
}

// runFloor runs the floor once on the given mocks.
func runFloor(s genStack, cfg map[string]string, m pulumi.MockResourceMonitor) error {
	return pulumi.RunErr(floor(s), pulumi.WithMocks(project, stackName, m),
		func(info *pulumi.RunInfo) { info.Config = cfg })
}

// floor is the bare program: the same cloud resources with the same names, inputs, protection
// and dependencies as the program declares for s, registered flat, computed straight from the
// generator's data (no config decoding, validation, plan, components or stack outputs).
func floor(s genStack) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		proj, svcName := s.Project, s.Service.Name
		email := func(id string) string { return id + "@" + proj + ".iam.gserviceaccount.com" }
		labels := pulumi.ToStringMap(s.Labels)

		var apis []pulumi.Resource
		for _, api := range []string{"iam.googleapis.com", "iamcredentials.googleapis.com", "run.googleapis.com", "storage.googleapis.com"} {
			r, err := projects.NewService(ctx, "apis-"+api, &projects.ServiceArgs{
				Project:                  pulumi.String(proj),
				Service:                  pulumi.String(api),
				DisableOnDestroy:         pulumi.Bool(false),
				DisableDependentServices: pulumi.Bool(false),
			})
			if err != nil {
				return err
			}
			apis = append(apis, r)
		}

		var invokers, guarded []string
		var invokerDeps, guardDeps []pulumi.Resource
		for _, c := range s.Callers {
			if c.external() {
				if c.invokes() {
					invokers = append(invokers, "serviceAccount:"+c.Email)
				}
				if c.Authz {
					guarded = append(guarded, "serviceAccount:"+c.Email)
				}
				continue
			}
			desc := c.Description
			if desc == "" {
				desc = "Caller of " + svcName + "."
			}
			acct, err := serviceaccount.NewAccount(ctx, c.Name, &serviceaccount.AccountArgs{
				Project:     pulumi.String(proj),
				AccountId:   pulumi.String(c.Name),
				DisplayName: pulumi.String("Caller " + c.Name),
				Description: pulumi.String(desc),
			}, pulumi.DependsOn(apis), pulumi.Protect(false))
			if err != nil {
				return err
			}
			member := "serviceAccount:" + email(c.Name)
			accountName := "projects/" + proj + "/serviceAccounts/" + email(c.Name)
			deps := pulumi.DependsOn(append([]pulumi.Resource{acct}, apis...))
			groups := floorTokenCreators(s.Impersonators, c.Impersonators)
			for _, g := range groups {
				args := &serviceaccount.IAMBindingArgs{
					ServiceAccountId: pulumi.String(accountName),
					Role:             pulumi.String(plan.RoleTokenCreator),
					Members:          pulumi.ToStringArray(g.members),
				}
				name := c.Name + "-token-creator"
				if g.expires != "" {
					t, err := time.Parse(time.RFC3339, g.expires)
					if err != nil {
						return err
					}
					title := "expires-" + strings.ToLower(t.UTC().Format("20060102t150405z"))
					name += "-" + title
					args.Condition = &serviceaccount.IAMBindingConditionArgs{
						Title:      pulumi.String(title),
						Expression: pulumi.String(`request.time < timestamp("` + t.UTC().Format(time.RFC3339) + `")`),
					}
				}
				if _, err := serviceaccount.NewIAMBinding(ctx, name, args, deps); err != nil {
					return err
				}
			}
			if len(groups) > 0 {
				if _, err := serviceaccount.NewIAMBinding(ctx, c.Name+"-openid-self", &serviceaccount.IAMBindingArgs{
					ServiceAccountId: pulumi.String(accountName),
					Role:             pulumi.String(plan.RoleOpenIDTokenCreator),
					Members:          pulumi.ToStringArray([]string{member}),
				}, deps); err != nil {
					return err
				}
			}
			if c.invokes() {
				invokers = append(invokers, member)
				invokerDeps = append(invokerDeps, acct)
			}
			if c.Authz {
				guarded = append(guarded, member)
				guardDeps = append(guardDeps, acct)
			}
		}
		sort.Strings(invokers)
		sort.Strings(guarded)

		runtimeID := svcName + "-run"
		runtime, err := serviceaccount.NewAccount(ctx, svcName+"-runtime", &serviceaccount.AccountArgs{
			Project:     pulumi.String(proj),
			AccountId:   pulumi.String(runtimeID),
			DisplayName: pulumi.String("Runtime of " + svcName),
			Description: pulumi.String("Identity the Cloud Run service " + svcName + " runs as. Holds no roles; grant it only what the service itself calls."),
		}, pulumi.DependsOn(apis), pulumi.Protect(true))
		if err != nil {
			return err
		}
		svc, err := cloudrunv2.NewService(ctx, svcName, &cloudrunv2.ServiceArgs{
			Project:  pulumi.String(proj),
			Location: pulumi.String(s.Region),
			Name:     pulumi.String(svcName),
			Ingress:  pulumi.String("INGRESS_TRAFFIC_ALL"),
			Labels:   labels,
			Template: &cloudrunv2.ServiceTemplateArgs{
				ServiceAccount: pulumi.String(email(runtimeID)),
				Containers: cloudrunv2.ServiceTemplateContainerArray{
					&cloudrunv2.ServiceTemplateContainerArgs{
						Image: pulumi.String(s.Service.Image),
						Ports: cloudrunv2.ServiceTemplateContainerPortArray{&cloudrunv2.ServiceTemplateContainerPortArgs{ContainerPort: pulumi.Int(config.DefaultPort)}},
						Resources: &cloudrunv2.ServiceTemplateContainerResourcesArgs{
							Limits:  pulumi.StringMap{"cpu": pulumi.String(config.DefaultCPU), "memory": pulumi.String(config.DefaultMemory)},
							CpuIdle: pulumi.Bool(true), StartupCpuBoost: pulumi.Bool(false),
						},
						StartupProbe: &cloudrunv2.ServiceTemplateContainerStartupProbeArgs{
							InitialDelaySeconds: pulumi.Int(0), PeriodSeconds: pulumi.Int(config.DefaultProbePeriod),
							TimeoutSeconds: pulumi.Int(config.DefaultProbeTimeout), FailureThreshold: pulumi.Int(config.DefaultProbeFailures),
							TcpSocket: &cloudrunv2.ServiceTemplateContainerStartupProbeTcpSocketArgs{},
						},
					},
				},
				Scaling:                       &cloudrunv2.ServiceTemplateScalingArgs{MinInstanceCount: pulumi.Int(0), MaxInstanceCount: pulumi.Int(config.DefaultMaxInstances)},
				MaxInstanceRequestConcurrency: pulumi.Int(config.DefaultConcurrency),
				Timeout:                       pulumi.String("300s"),
			},
		}, pulumi.Protect(true), pulumi.DependsOn(append([]pulumi.Resource{runtime}, apis...)))
		if err != nil {
			return err
		}
		var svcBindings []organizations.GetIAMPolicyBinding
		if len(invokers) > 0 {
			svcBindings = []organizations.GetIAMPolicyBinding{{Role: plan.RoleInvoker, Members: invokers}}
		}
		svcDoc, err := organizations.LookupIAMPolicy(ctx, &organizations.LookupIAMPolicyArgs{Bindings: svcBindings})
		if err != nil {
			return err
		}
		if _, err := cloudrunv2.NewServiceIamPolicy(ctx, svcName+"-policy", &cloudrunv2.ServiceIamPolicyArgs{
			Project:    pulumi.String(proj),
			Location:   pulumi.String(s.Region),
			Name:       pulumi.String(svcName),
			PolicyData: pulumi.String(svcDoc.PolicyData),
		}, pulumi.DependsOn(append(append([]pulumi.Resource{svc}, invokerDeps...), apis...))); err != nil {
			return err
		}

		role, err := projects.NewIAMCustomRole(ctx, "authz-role", &projects.IAMCustomRoleArgs{
			Project:     pulumi.String(proj),
			RoleId:      pulumi.String(s.Authz.RoleID),
			Title:       pulumi.String(s.Authz.RoleTitle),
			Description: pulumi.String(fmt.Sprintf("Held on the authz bucket of %s by the callers allowed through its guard; grants only storage.buckets.get.", svcName)),
			Permissions: pulumi.ToStringArray([]string{"storage.buckets.get"}),
			Stage:       pulumi.String("GA"),
		}, pulumi.DependsOn(apis))
		if err != nil {
			return err
		}
		bucket, err := storage.NewBucket(ctx, "authz-bucket", &storage.BucketArgs{
			Project:                  pulumi.String(proj),
			Name:                     pulumi.String(s.Authz.Bucket),
			Location:                 pulumi.String(strings.ToUpper(s.Region)),
			UniformBucketLevelAccess: pulumi.Bool(true),
			PublicAccessPrevention:   pulumi.String("enforced"),
			Versioning:               &storage.BucketVersioningArgs{Enabled: pulumi.Bool(false)},
			ForceDestroy:             pulumi.Bool(false),
			Labels:                   labels,
		}, pulumi.DependsOn(apis))
		if err != nil {
			return err
		}
		var bindings []organizations.GetIAMPolicyBinding
		if len(guarded) > 0 {
			bindings = []organizations.GetIAMPolicyBinding{{Role: "projects/" + proj + "/roles/" + s.Authz.RoleID, Members: guarded}}
		}
		doc, err := organizations.LookupIAMPolicy(ctx, &organizations.LookupIAMPolicyArgs{Bindings: bindings})
		if err != nil {
			return err
		}
		deps := append(append([]pulumi.Resource{bucket, role}, guardDeps...), apis...)
		if _, err := storage.NewBucketIAMPolicy(ctx, "authz-policy", &storage.BucketIAMPolicyArgs{
			Bucket:     bucket.Name,
			PolicyData: pulumi.String(doc.PolicyData),
		}, pulumi.DependsOn(deps)); err != nil {
			return err
		}
		return nil
	}
}

type floorGroup struct {
	expires string // "" for no expiry
	members []string
}

// floorTokenCreators groups a caller's effective impersonators by expiry, keeping each member's
// longest grant (no expiry beats any). The generator writes only future expiries in UTC.
func floorTokenCreators(defaults, own []genImp) []floorGroup {
	best := map[string]string{}
	for _, imp := range slices.Concat(defaults, own) {
		prev, seen := best[imp.Member]
		switch {
		case !seen:
			best[imp.Member] = imp.Expires
		case prev == "":
		case imp.Expires == "" || imp.Expires > prev:
			best[imp.Member] = imp.Expires
		}
	}
	byExpiry := map[string][]string{}
	for m, e := range best {
		byExpiry[e] = append(byExpiry[e], m)
	}
	out := make([]floorGroup, 0, len(byExpiry))
	for e, ms := range byExpiry {
		sort.Strings(ms)
		out = append(out, floorGroup{expires: e, members: ms})
	}
	return out
}

// TestFloorDeclaresWhatTheProgramDoes keeps the comparison fair: the floor must register exactly
// the program's cloud resources (type, name, inputs, protection, dependencies), and the program
// only adds components on top.
func TestFloorDeclaresWhatTheProgramDoes(t *testing.T) {
	for _, n := range []int{10, 100} {
		s := genCallers(n)
		cfg := s.raw(t)
		prog := mustRun(t, cfg, runOpts{})
		fm := newMocks(false)
		if err := runFloor(s, cfg, fm); err != nil {
			t.Fatalf("n=%d: floor failed: %v", n, err)
		}
		flat := fm.Resources()

		key := func(r mocktest.Resource) string { return r.Type + " " + r.Name }
		depNames := func(all []mocktest.Resource, r mocktest.Resource) []string {
			byURN := map[string]string{}
			for _, x := range all {
				byURN[x.URN] = key(x)
			}
			var out []string
			for _, d := range r.Deps {
				out = append(out, byURN[d])
			}
			sort.Strings(out)
			return out
		}
		want := map[string]mocktest.Resource{}
		components := 0
		for _, r := range prog.Resources {
			if r.Custom {
				want[key(r)] = r
			} else {
				components++
			}
		}
		if len(flat) != len(want) {
			t.Errorf("n=%d: floor registered %d resources, the program %d cloud resources", n, len(flat), len(want))
		}
		for _, f := range flat {
			p, ok := want[key(f)]
			if !ok {
				t.Errorf("n=%d: floor declares %s, which the program does not", n, key(f))
				continue
			}
			if !f.Custom {
				t.Errorf("n=%d: floor registered a component %s", n, key(f))
			}
			if !p.Inputs.DeepEquals(f.Inputs) {
				t.Errorf("n=%d: %s inputs differ:\nprogram %v\nfloor   %v", n, key(f), p.Inputs, f.Inputs)
			}
			if p.Protect != f.Protect {
				t.Errorf("n=%d: %s protect: program %v, floor %v", n, key(f), p.Protect, f.Protect)
			}
			if pd, fd := depNames(prog.Resources, p), depNames(flat, f); !slices.Equal(pd, fd) {
				t.Errorf("n=%d: %s depends on\nprogram %q\nfloor   %q", n, key(f), pd, fd)
			}
		}
		// A fixed four, whatever the callers: Apis, PrivateApi, Callers, guard.
		if wantComponents := 4; components != wantComponents {
			t.Errorf("n=%d: program registered %d components, want %d", n, components, wantComponents)
		}
	}
}

func reportScale(b *testing.B, m *benchMocks) {
	n := float64(b.N)
	custom := float64(m.custom.Load()) / n
	b.ReportMetric(float64(m.all.Load())/n, "registrations/op")
	b.ReportMetric(custom, "resources/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/custom, "ns/resource")
}

// BenchmarkProgram is the whole program under mocks.
func BenchmarkProgram(b *testing.B) {
	benchRegistrations(b, func(_ genStack, cfg map[string]string, keys []string, m *benchMocks) error {
		return runProgram(cfg, keys, m)
	})
}

// BenchmarkFloor is the same cloud resources registered flat.
func BenchmarkFloor(b *testing.B) {
	benchRegistrations(b, func(s genStack, cfg map[string]string, _ []string, m *benchMocks) error {
		return runFloor(s, cfg, m)
	})
}

// benchRegistrations benchmarks register (the program or the floor) on the generated stack of
// each bench size, given as the stack, its config and the config's keys, and reports its scale.
func benchRegistrations(b *testing.B, register func(s genStack, cfg map[string]string, keys []string, m *benchMocks) error) {
	for _, n := range benchSizes {
		s := genCallers(n)
		cfg := s.raw(b)
		keys := slices.Sorted(maps.Keys(cfg))
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			m := &benchMocks{}
			for b.Loop() {
				if err := register(s, cfg, keys, m); err != nil {
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
		s := genCallers(n)
		cfg := s.raw(b)
		keys := slices.Sorted(maps.Keys(cfg))
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
				measure(&progT, &progCPU, func() error { return runProgram(cfg, keys, pm) })
				measure(&floorT, &floorCPU, func() error { return runFloor(s, cfg, fm) })
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

// BenchmarkValidate is config decoding and validation (config.Load) alone.
func BenchmarkValidate(b *testing.B) {
	for _, n := range benchSizes {
		cfg := genCallers(n).raw(b)
		keys := slices.Sorted(maps.Keys(cfg))
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			src := config.MapSource(cfg)
			for b.Loop() {
				if _, err := config.Load(project, src, keys); err != nil {
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
