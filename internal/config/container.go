package config

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

// The container's settings (service.secrets, vpc, cpu, memory, cpuAlwaysAllocated,
// startupCpuBoost, concurrency, timeoutSeconds, executionEnvironment, startupProbe,
// livenessProbe): what the private service needs to run for real. Cloud Run's documented limits
// are checked here, so a config that the API would refuse halfway through a deploy fails in
// preview with the key that sets it.

// Secret is one Secret Manager secret the service reads, as an env var or as a file. The program
// references existing secrets and never creates one: a secret's value is written by whoever owns
// it (`gcloud secrets versions add`), never through config, state or outputs, and `pulumi destroy`
// must not take a secret and its versions with it.
type Secret struct {
	// Secret is the secret's ID in gcp:project, or projects/<project>/secrets/<id> for another
	// project's.
	Secret string `json:"secret"`
	// Version is "latest" (default) or a version number.
	Version string `json:"version,omitempty"`
	// Env exposes the secret as this environment variable; Path mounts it as this file. Exactly
	// one of the two.
	Env  string `json:"env,omitempty"`
	Path string `json:"path,omitempty"`
}

// VPC is the service's egress into a VPC: Direct VPC egress (Network and/or Subnetwork, Tags) or
// a Serverless VPC Access connector (Connector), never both.
type VPC struct {
	Network    string   `json:"network,omitempty"`
	Subnetwork string   `json:"subnetwork,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Connector  string   `json:"connector,omitempty"`
	// Egress is EgressPrivateRanges (default) or EgressAllTraffic.
	Egress string `json:"egress,omitempty"`
}

// Egress values accepted in config, and the Cloud Run v2 enum each maps to.
const (
	EgressPrivateRanges = "private-ranges-only"
	EgressAllTraffic    = "all-traffic"
)

// EgressValues maps config egress values to the Cloud Run v2 API's enum.
var EgressValues = map[string]string{
	EgressPrivateRanges: "PRIVATE_RANGES_ONLY",
	EgressAllTraffic:    "ALL_TRAFFIC",
}

// Probe is a startup or liveness probe: HTTP GET of Path, or a TCP connection (TCP true), on the
// container port.
type Probe struct {
	Path                string `json:"path,omitempty"`
	TCP                 bool   `json:"tcp,omitempty"`
	InitialDelaySeconds *int   `json:"initialDelaySeconds,omitempty"`
	PeriodSeconds       *int   `json:"periodSeconds,omitempty"`
	TimeoutSeconds      *int   `json:"timeoutSeconds,omitempty"`
	FailureThreshold    *int   `json:"failureThreshold,omitempty"`
}

// Execution environments accepted in config, and the Cloud Run v2 enum each maps to.
var ExecutionEnvironments = map[string]string{
	"gen1": "EXECUTION_ENVIRONMENT_GEN1",
	"gen2": "EXECUTION_ENVIRONMENT_GEN2",
}

// Cloud Run's defaults, sent when config leaves a value out: the provider keeps the last value of
// an Optional+Computed field that is no longer sent, so removing a key from config would
// otherwise change nothing.
const (
	DefaultCPU            = "1"
	DefaultMemory         = "512Mi"
	DefaultConcurrency    = 80
	DefaultTimeoutSeconds = 300
	// The default startup probe Cloud Run adds to a new service: TCP on the container port.
	DefaultProbeTimeout, DefaultProbePeriod, DefaultProbeFailures = 240, 240, 1
)

var (
	versionRe = regexp.MustCompile(`^(latest|[1-9][0-9]*)$`)
	memoryRe  = regexp.MustCompile(`^([1-9][0-9]*)(Mi|Gi)$`)
	cpuRe     = regexp.MustCompile(`^(0\.[0-9]{1,3}|1|2|4|6|8)$`)
)

// reservedMounts are directories Cloud Run keeps for itself.
var reservedMounts = []string{"/dev", "/proc", "/sys"}

// SecretRef is one secret the service reads, resolved.
type SecretRef struct {
	Project string
	ID      string
	// Name is projects/<project>/secrets/<id>.
	Name string
	// Ref is what Cloud Run takes: the ID for a secret of the service's project, the full name
	// for another project's.
	Ref string
	// Key is a stable suffix for the logical name of the accessor grant: the ID for a secret of
	// gcp:project, "<project>/<id>" for another's. Never lower-cased or rewritten, so that two
	// secrets ("db_pass" and "db-pass") cannot share one logical name.
	Key string
}

// validateContainer checks the service's secrets, VPC, resources, behaviour and probes.
func validateContainer(ps *problems, c *Config) {
	s := c.Service
	validateSecrets(ps, c)
	if s.VPC != nil {
		validateVPC(ps, *s.VPC)
	}
	cpu, cpuOK := validateCPU(ps, s.CPU)
	mem, memOK := validateMemory(ps, s.Memory)
	if s.ExecutionEnvironment != "" {
		if _, ok := ExecutionEnvironments[s.ExecutionEnvironment]; !ok {
			ps.Add(diag.NotSupported, diag.NewPath(KeyService).Child("executionEnvironment"), s.ExecutionEnvironment, "is not a Cloud Run execution environment", `use "gen1" or "gen2", or leave it out for Cloud Run's choice`)
		}
	}
	if s.Concurrency != nil && (*s.Concurrency < 1 || *s.Concurrency > 1000) {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("concurrency"), fmt.Sprint(*s.Concurrency), "is outside Cloud Run's 1-1000 requests per instance", "use 1 to 1000, or leave it out for 80")
	}
	if s.TimeoutSeconds != nil && (*s.TimeoutSeconds < 1 || *s.TimeoutSeconds > 3600) {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("timeoutSeconds"), fmt.Sprint(*s.TimeoutSeconds), "is outside Cloud Run's 1-3600 seconds", "use 1 to 3600, or leave it out for 300")
	}
	if cpuOK && memOK {
		validateCPUMemory(ps, c, cpu, mem)
	}
	if s.StartupProbe != nil {
		validateProbe(ps, diag.NewPath(KeyService).Child("startupProbe"), *s.StartupProbe, true)
	}
	if s.LivenessProbe != nil {
		validateProbe(ps, diag.NewPath(KeyService).Child("livenessProbe"), *s.LivenessProbe, false)
	}
}

func validateSecrets(ps *problems, c *Config) {
	envs := map[string]string{}
	for k := range c.Service.Env {
		envs[k] = diag.NewPath(KeyService).Child("env").Child(k).String()
	}
	dirs := map[string]string{}  // mount directory -> secret name, one secret per directory
	files := map[string]string{} // file path -> entry path
	for i, sec := range c.Service.Secrets {
		p := diag.NewPath(KeyService).Child("secrets").Index(i)
		ref, ok := ParseSecret(c.Project, sec.Secret)
		switch {
		case sec.Secret == "":
			ps.Add(diag.Required, p.Child("secret"), "", "is missing", `name the secret, e.g. "orders-db-password" (in gcp:project) or "projects/<project>/secrets/<id>"`)
		case !ok:
			ps.Add(diag.Invalid, p.Child("secret"), sec.Secret, "is not a Secret Manager secret ID or name", `write its ID (letters, digits, "-" and "_") or projects/<project>/secrets/<id>; never the secret's value`)
		}
		if sec.Version != "" && !versionRe.MatchString(sec.Version) {
			ps.Add(diag.Invalid, p.Child("version"), sec.Version, `is not "latest" or a version number`, `write "latest" (default) or a number such as "3"`)
		}
		switch {
		case sec.Env == "" && sec.Path == "":
			ps.Add(diag.Required, p, sec.Secret, "says neither env nor path", "set env (an environment variable) or path (a file) for it")
		case sec.Env != "" && sec.Path != "":
			ps.Add(diag.Forbidden, p, sec.Secret, "sets both env and path", "give each use of a secret its own entry")
		case sec.Env != "":
			switch {
			case !envNameRe.MatchString(sec.Env):
				ps.Add(diag.Invalid, p.Child("env"), sec.Env, "is not a valid environment variable name", "use letters, digits and _, not starting with a digit")
			case reservedEnv[sec.Env]:
				ps.Add(diag.Forbidden, p.Child("env"), sec.Env, "is reserved: Cloud Run sets it itself", "choose another name")
			case envs[sec.Env] != "":
				ps.Add(diag.Duplicate, p.Child("env"), sec.Env, "is also set by "+envs[sec.Env], "set each environment variable once")
			default:
				envs[sec.Env] = p.Child("env").String()
			}
		default:
			clean := path.Clean(sec.Path)
			dir := path.Dir(clean)
			switch {
			case !path.IsAbs(sec.Path) || clean != sec.Path || strings.HasSuffix(sec.Path, "/"):
				ps.Add(diag.Invalid, p.Child("path"), sec.Path, "is not a clean absolute file path", `write it as "/secrets/db/password": the file appears there, in a directory that holds only this secret`)
			case dir == "/" || reservedMount(dir):
				ps.Add(diag.Forbidden, p.Child("path"), sec.Path, "would mount over "+dir+", which Cloud Run keeps for itself", `put the file in a directory of its own, e.g. "/secrets/`+path.Base(clean)+`/`+path.Base(clean)+`"`)
			case files[clean] != "":
				ps.Add(diag.Duplicate, p.Child("path"), sec.Path, "is also the file of "+files[clean], "give each file its own path")
			case ok && dirs[dir] != "" && dirs[dir] != ref.Name:
				ps.Add(diag.Forbidden, p.Child("path"), sec.Path, "is in "+dir+", where another secret ("+dirs[dir]+") is mounted; Cloud Run mounts one secret per directory", "use a directory of its own for each secret")
			default:
				files[clean] = p.String()
				if ok {
					dirs[dir] = ref.Name
				}
			}
		}
	}
	// A mount inside another would hide or be hidden by it.
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	for i := 1; i < len(ds); i++ {
		for _, outer := range ds[:i] {
			if strings.HasPrefix(ds[i], outer+"/") {
				ps.Add(diag.Forbidden, diag.NewPath(KeyService).Child("secrets"), ds[i], "is inside "+outer+", where another secret is mounted", "use directories side by side, e.g. /secrets/a and /secrets/b")
			}
		}
	}
}

func reservedMount(dir string) bool {
	for _, r := range reservedMounts {
		if dir == r || strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

// ParseSecret resolves a secret as written in config, for gcp:project.
func ParseSecret(project, s string) (SecretRef, bool) {
	if m := gcp.SecretName.FindStringSubmatch(s); m != nil {
		if m[1] == project {
			s = m[2] // the same secret as its bare ID: one grant, one key
		} else {
			return SecretRef{Project: m[1], ID: m[2], Name: s, Ref: s, Key: m[1] + "/" + m[2]}, true
		}
	}
	if !gcp.SecretID.MatchString(s) {
		return SecretRef{}, false
	}
	return SecretRef{Project: project, ID: s, Name: "projects/" + project + "/secrets/" + s, Ref: s, Key: s}, true
}

func validateVPC(ps *problems, v VPC) {
	direct := v.Network != "" || v.Subnetwork != "" || len(v.Tags) > 0
	switch {
	case v.Connector != "" && direct:
		ps.Add(diag.Forbidden, diag.NewPath(KeyService).Child("vpc"), v.Connector, "sets a connector and Direct VPC egress (network, subnetwork, tags) together", "choose one: Direct VPC egress is the newer, cheaper path")
	case v.Connector == "" && v.Network == "" && v.Subnetwork == "":
		ps.Add(diag.Required, diag.NewPath(KeyService).Child("vpc"), "", "names no network, subnetwork or connector", "set subnetwork (Direct VPC egress) or connector, or remove service.vpc")
	}
	if v.Connector != "" && !gcp.ConnectorName.MatchString(v.Connector) && !gcp.ConnectorID.MatchString(v.Connector) {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("vpc").Child("connector"), v.Connector, "is not a Serverless VPC Access connector", "write its name, or projects/<project>/locations/<region>/connectors/<name>")
	}
	if v.Network != "" && !gcp.NetworkName.MatchString(v.Network) && !gcp.ResourceName.MatchString(v.Network) {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("vpc").Child("network"), v.Network, "is not a VPC network", "write its name, or projects/<project>/global/networks/<name> for a Shared VPC")
	}
	if v.Subnetwork != "" && !gcp.SubnetworkName.MatchString(v.Subnetwork) && !gcp.ResourceName.MatchString(v.Subnetwork) {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("vpc").Child("subnetwork"), v.Subnetwork, "is not a subnetwork", "write its name, or projects/<project>/regions/<region>/subnetworks/<name> for a Shared VPC")
	}
	for i, t := range v.Tags {
		if !gcp.ResourceName.MatchString(t) {
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("vpc").Child("tags").Index(i), t, "is not a network tag", `use 1-63 chars of a-z, 0-9 and "-", starting with a letter`)
		}
	}
	if _, ok := EgressValues[v.Egress]; v.Egress != "" && !ok {
		ps.Add(diag.NotSupported, diag.NewPath(KeyService).Child("vpc").Child("egress"), v.Egress, "is not a Cloud Run VPC egress setting", fmt.Sprintf("use %q (default) or %q", EgressPrivateRanges, EgressAllTraffic))
	}
}

// validateCPU returns the CPU in vCPUs (Cloud Run's default when unset).
func validateCPU(ps *problems, s string) (float64, bool) {
	if s == "" {
		s = DefaultCPU
	}
	v, err := strconv.ParseFloat(s, 64)
	if !cpuRe.MatchString(s) || err != nil || v < 0.08 {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("cpu"), s, "is not a Cloud Run CPU limit", `use "1", "2", "4", "6" or "8", or a fraction from "0.08" to "1" (at most 3 decimals)`)
		return 0, false
	}
	return v, true
}

// validateMemory returns the memory in MiB (Cloud Run's default when unset).
func validateMemory(ps *problems, s string) (int, bool) {
	if s == "" {
		s = DefaultMemory
	}
	m := memoryRe.FindStringSubmatch(s)
	if m == nil {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("memory"), s, "is not a memory limit", `write it in Mi or Gi, e.g. "512Mi" or "2Gi"`)
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	if m[2] == "Gi" {
		n *= 1024
	}
	if n > 32*1024 {
		ps.Add(diag.TooMany, diag.NewPath(KeyService).Child("memory"), s, "is more than Cloud Run's 32Gi", "use at most 32Gi")
		return 0, false
	}
	return n, true
}

// validateCPUMemory checks Cloud Run's table of CPU against memory, and what a fraction of a CPU
// requires (https://cloud.google.com/run/docs/configuring/services/cpu and .../memory-limits).
func validateCPUMemory(ps *problems, c *Config, cpu float64, mib int) {
	s := c.Service
	memText, cpuText := s.Memory, s.CPU
	if memText == "" {
		memText = DefaultMemory + " (default)"
	}
	if cpuText == "" {
		cpuText = DefaultCPU + " (default)"
	}
	minMem := 128
	if s.ExecutionEnvironment == "gen2" {
		minMem = 512
	}
	if mib < minMem {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("memory"), s.Memory, fmt.Sprintf("is below Cloud Run's %dMi minimum for this execution environment", minMem), "use at least "+fmt.Sprint(minMem)+"Mi")
	}
	for _, row := range []struct {
		overMiB int
		minCPU  float64
	}{{24 * 1024, 8}, {16 * 1024, 6}, {8 * 1024, 4}, {4 * 1024, 2}, {1024, 1}, {512, 0.5}} {
		if mib > row.overMiB && cpu < row.minCPU {
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("cpu"), cpuText, fmt.Sprintf("is too little for memory %s: more than %s needs at least %g CPU", memText, mibText(row.overMiB), row.minCPU), fmt.Sprintf("raise service.cpu to %g, or lower service.memory", row.minCPU))
			break
		}
	}
	for _, row := range []struct {
		cpu    float64
		minMiB int
	}{{8, 4096}, {6, 4096}, {4, 2048}} {
		if cpu == row.cpu && mib < row.minMiB {
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("memory"), memText, fmt.Sprintf("is too little for %g CPU, which needs at least %s", cpu, mibText(row.minMiB)), "raise service.memory to "+mibText(row.minMiB)+", or lower service.cpu")
		}
	}
	if cpu < 1 {
		why := fmt.Sprintf("is not allowed with a fraction of a CPU (%s)", cpuText)
		if s.Concurrency != nil && *s.Concurrency != 1 {
			ps.Add(diag.Forbidden, diag.NewPath(KeyService).Child("concurrency"), fmt.Sprint(*s.Concurrency), why+": Cloud Run requires 1", "set concurrency to 1, or service.cpu to 1 or more")
		}
		if s.CPUAlwaysAllocated != nil && *s.CPUAlwaysAllocated {
			ps.Add(diag.Forbidden, diag.NewPath(KeyService).Child("cpuAlwaysAllocated"), "true", why+": CPU must be allocated only during requests", "remove cpuAlwaysAllocated, or set service.cpu to 1 or more")
		}
		if s.ExecutionEnvironment == "gen2" {
			ps.Add(diag.Forbidden, diag.NewPath(KeyService).Child("executionEnvironment"), "gen2", why+": it needs the first generation", `use "gen1", or set service.cpu to 1 or more`)
		}
	}
}

func mibText(mib int) string {
	if mib%1024 == 0 {
		return fmt.Sprintf("%dGi", mib/1024)
	}
	return fmt.Sprintf("%dMi", mib)
}

func validateProbe(ps *problems, p diag.Path, pr Probe, startup bool) {
	switch {
	case pr.Path == "" && !pr.TCP:
		ps.Add(diag.Required, p, "", "says neither path (HTTP) nor tcp", `set path, e.g. "/healthz", or tcp: true`)
	case pr.Path != "" && pr.TCP:
		ps.Add(diag.Forbidden, p, pr.Path, "sets both path and tcp", "choose one")
	case pr.TCP && !startup:
		ps.Add(diag.Invalid, p.Child("tcp"), "true", "is not a Cloud Run liveness probe: liveness probes are HTTP or gRPC", `set path to an HTTP endpoint, e.g. "/healthz"`)
	case pr.Path != "" && !strings.HasPrefix(pr.Path, "/"):
		ps.Add(diag.Invalid, p.Child("path"), pr.Path, `does not start with "/"`, `write the request path, e.g. "/healthz"`)
	}
	bound := func(key string, v *int, lo, hi int) {
		if v != nil && (*v < lo || *v > hi) {
			ps.Add(diag.Invalid, p.Child(key), fmt.Sprint(*v), fmt.Sprintf("is outside Cloud Run's %d-%d", lo, hi), fmt.Sprintf("use %d to %d", lo, hi))
		}
	}
	maxPeriod := 3600
	if startup {
		maxPeriod = 240
	}
	bound("initialDelaySeconds", pr.InitialDelaySeconds, 0, 240)
	bound("periodSeconds", pr.PeriodSeconds, 1, maxPeriod)
	bound("timeoutSeconds", pr.TimeoutSeconds, 1, 3600)
	bound("failureThreshold", pr.FailureThreshold, 1, math.MaxInt32)
	plan := pr.Values()
	if plan.Timeout > plan.Period && (pr.TimeoutSeconds != nil || pr.PeriodSeconds != nil) {
		ps.Add(diag.Invalid, p.Child("timeoutSeconds"), fmt.Sprint(plan.Timeout), fmt.Sprintf("is longer than periodSeconds (%d)", plan.Period), "make timeoutSeconds at most periodSeconds")
	}
	if startup && plan.Failures*plan.Period > 240 && (pr.FailureThreshold != nil || pr.PeriodSeconds != nil) {
		ps.Add(diag.TooMany, p.Child("failureThreshold"), fmt.Sprint(plan.Failures), fmt.Sprintf("times periodSeconds (%d) is more than Cloud Run's 240 seconds for a container to start", plan.Period), "lower failureThreshold or periodSeconds")
	}
}

// ProbeValues is a probe with every value filled in.
type ProbeValues struct {
	HTTPPath                                string
	InitialDelay, Period, Timeout, Failures int
	TCP                                     bool
}

// Values fills a probe's unset values with Cloud Run's defaults (timeout 1 s, period 10 s,
// failure threshold 3, no initial delay).
func (pr Probe) Values() ProbeValues {
	get := func(v *int, d int) int {
		if v != nil {
			return *v
		}
		return d
	}
	return ProbeValues{HTTPPath: pr.Path, TCP: pr.TCP, InitialDelay: get(pr.InitialDelaySeconds, 0),
		Period: get(pr.PeriodSeconds, 10), Timeout: get(pr.TimeoutSeconds, 1), Failures: get(pr.FailureThreshold, 3)}
}
