package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/platform/private-run-api/internal/config"
)

// SecretEnv is one env var read from a secret.
type SecretEnv struct {
	Name, Ref, Version string
}

// SecretVolume is one directory of files read from one secret.
type SecretVolume struct {
	// Name is the volume's name, derived from MountPath.
	Name      string
	MountPath string
	Ref       string
	Items     []SecretItem
}

// SecretItem is one file of a secret volume: Path is relative to the mount.
type SecretItem struct {
	Path, Version string
}

// VPC is the service's VPC egress, with Egress as the API's enum.
type VPC struct {
	Connector, Network, Subnetwork string
	Tags                           []string
	Egress                         string
}

// resolveSecrets turns the validated secrets into the distinct secrets to grant access on, the
// env vars and the volumes, each sorted so that no order in config matters.
func resolveSecrets(project string, secrets []config.Secret) ([]config.SecretRef, []SecretEnv, []SecretVolume) {
	refs := map[string]config.SecretRef{}
	var envs []SecretEnv
	vols := map[string]*SecretVolume{}
	for _, s := range secrets {
		r, _ := config.ParseSecret(project, s.Secret)
		refs[r.Name] = r
		v := s.Version
		if v == "" {
			v = "latest"
		}
		if s.Env != "" {
			envs = append(envs, SecretEnv{Name: s.Env, Ref: r.Ref, Version: v})
			continue
		}
		dir := path.Dir(s.Path)
		vol, ok := vols[dir]
		if !ok {
			vol = &SecretVolume{Name: volumeName(dir), MountPath: dir, Ref: r.Ref}
			vols[dir] = vol
		}
		vol.Items = append(vol.Items, SecretItem{Path: path.Base(s.Path), Version: v})
	}
	var outRefs []config.SecretRef
	for _, r := range refs {
		outRefs = append(outRefs, r)
	}
	sort.Slice(outRefs, func(a, b int) bool { return outRefs[a].Name < outRefs[b].Name })
	sort.Slice(envs, func(a, b int) bool { return envs[a].Name < envs[b].Name })
	var outVols []SecretVolume
	for _, v := range vols {
		sort.Slice(v.Items, func(a, b int) bool { return v.Items[a].Path < v.Items[b].Path })
		outVols = append(outVols, *v)
	}
	sort.Slice(outVols, func(a, b int) bool { return outVols[a].MountPath < outVols[b].MountPath })
	return outRefs, envs, outVols
}

// volumeName is a readable, stable volume name for a mount directory: its path in a-z0-9-, and a
// short hash so that "/a-b" and "/a/b" differ.
func volumeName(dir string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.Trim(dir, "/")) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 40 {
		name = strings.Trim(name[:40], "-")
	}
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "secret-" + name
	}
	sum := sha256.Sum256([]byte(dir))
	return strings.TrimSuffix(name, "-") + "-" + hex.EncodeToString(sum[:])[:6]
}

// resolveRuntime fills the service plan's custom audiences, secrets, VPC, resources, behaviour
// and probes from a validated config, with Cloud Run's defaults where config is silent.
func resolveRuntime(c *config.Config, sp *Service) {
	s := c.Service
	if len(s.Audiences) > 0 {
		sp.Audiences = slices.Sorted(slices.Values(s.Audiences))
		sp.PrimaryAudience = s.Audiences[0]
	}
	sp.Secrets, sp.SecretEnvs, sp.SecretVolumes = resolveSecrets(c.Project, s.Secrets)
	if v := s.VPC; v != nil {
		egress := v.Egress
		if egress == "" {
			egress = config.EgressPrivateRanges
		}
		sp.VPC = &VPC{Connector: v.Connector, Network: v.Network, Subnetwork: v.Subnetwork, Tags: v.Tags, Egress: config.EgressValues[egress]}
	}
	sp.CPU, sp.Memory = s.CPU, s.Memory
	if sp.CPU == "" {
		sp.CPU = config.DefaultCPU
	}
	if sp.Memory == "" {
		sp.Memory = config.DefaultMemory
	}
	sp.CPUIdle = s.CPUAlwaysAllocated == nil || !*s.CPUAlwaysAllocated
	sp.StartupCPUBoost = s.StartupCPUBoost
	sp.Concurrency = config.DefaultConcurrency
	if cpu, _ := strconv.ParseFloat(sp.CPU, 64); cpu < 1 {
		sp.Concurrency = 1 // Cloud Run's rule for a fraction of a CPU
	}
	if s.Concurrency != nil {
		sp.Concurrency = *s.Concurrency
	}
	timeout := config.DefaultTimeoutSeconds
	if s.TimeoutSeconds != nil {
		timeout = *s.TimeoutSeconds
	}
	sp.Timeout = fmt.Sprintf("%ds", timeout)
	sp.ExecutionEnvironment = config.ExecutionEnvironments[s.ExecutionEnvironment]
	sp.StartupProbe = config.ProbeValues{TCP: true, Timeout: config.DefaultProbeTimeout, Period: config.DefaultProbePeriod, Failures: config.DefaultProbeFailures}
	if s.StartupProbe != nil {
		sp.StartupProbe = s.StartupProbe.Values()
	}
	if s.LivenessProbe != nil {
		lp := s.LivenessProbe.Values()
		sp.LivenessProbe = &lp
	}
}
