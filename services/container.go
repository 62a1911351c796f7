package services

import (
	"sort"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/plan"
)

// container renders the service's one container from its plan: image, port, env (plain and from
// secrets, sorted by name so that no preview shows them shuffled), secret files, resources and
// probes.
func container(p plan.Service) *cloudrunv2.ServiceTemplateContainerArgs {
	c := &cloudrunv2.ServiceTemplateContainerArgs{
		Image: pulumi.String(p.Image),
		// Every limit is sent, Cloud Run's default when config has none: the provider keeps the
		// last value of an Optional+Computed field that is no longer sent.
		Resources: &cloudrunv2.ServiceTemplateContainerResourcesArgs{
			Limits:          pulumi.StringMap{"cpu": pulumi.String(p.CPU), "memory": pulumi.String(p.Memory)},
			CpuIdle:         pulumi.Bool(p.CPUIdle),
			StartupCpuBoost: pulumi.Bool(p.StartupCPUBoost),
		},
		StartupProbe: startupProbe(p.StartupProbe),
	}
	c.Ports = cloudrunv2.ServiceTemplateContainerPortArray{
		&cloudrunv2.ServiceTemplateContainerPortArgs{ContainerPort: pulumi.Int(p.Port)},
	}
	type env struct {
		name string
		arg  *cloudrunv2.ServiceTemplateContainerEnvArgs
	}
	var envs []env
	for k, v := range p.Env {
		envs = append(envs, env{k, &cloudrunv2.ServiceTemplateContainerEnvArgs{Name: pulumi.String(k), Value: pulumi.String(v)}})
	}
	for _, s := range p.SecretEnvs {
		// A reference only: Cloud Run reads the value when an instance starts; it never passes
		// through config, state or outputs.
		envs = append(envs, env{s.Name, &cloudrunv2.ServiceTemplateContainerEnvArgs{
			Name: pulumi.String(s.Name),
			ValueSource: &cloudrunv2.ServiceTemplateContainerEnvValueSourceArgs{
				SecretKeyRef: &cloudrunv2.ServiceTemplateContainerEnvValueSourceSecretKeyRefArgs{
					Secret: pulumi.String(s.Ref), Version: pulumi.String(s.Version),
				},
			},
		}})
	}
	sort.Slice(envs, func(a, b int) bool { return envs[a].name < envs[b].name })
	if len(envs) > 0 {
		arr := make(cloudrunv2.ServiceTemplateContainerEnvArray, len(envs))
		for i, e := range envs {
			arr[i] = e.arg
		}
		c.Envs = arr
	}
	if len(p.SecretVolumes) > 0 {
		var mounts cloudrunv2.ServiceTemplateContainerVolumeMountArray
		for _, v := range p.SecretVolumes {
			mounts = append(mounts, &cloudrunv2.ServiceTemplateContainerVolumeMountArgs{
				Name: pulumi.String(v.Name), MountPath: pulumi.String(v.MountPath),
			})
		}
		c.VolumeMounts = mounts
	}
	if lp := p.LivenessProbe; lp != nil {
		c.LivenessProbe = &cloudrunv2.ServiceTemplateContainerLivenessProbeArgs{
			InitialDelaySeconds: pulumi.Int(lp.InitialDelay),
			PeriodSeconds:       pulumi.Int(lp.Period),
			TimeoutSeconds:      pulumi.Int(lp.Timeout),
			FailureThreshold:    pulumi.Int(lp.Failures),
			HttpGet:             &cloudrunv2.ServiceTemplateContainerLivenessProbeHttpGetArgs{Path: pulumi.String(lp.HTTPPath)},
		}
	}
	return c
}

func startupProbe(sp config.ProbeValues) *cloudrunv2.ServiceTemplateContainerStartupProbeArgs {
	pr := &cloudrunv2.ServiceTemplateContainerStartupProbeArgs{
		InitialDelaySeconds: pulumi.Int(sp.InitialDelay),
		PeriodSeconds:       pulumi.Int(sp.Period),
		TimeoutSeconds:      pulumi.Int(sp.Timeout),
		FailureThreshold:    pulumi.Int(sp.Failures),
	}
	if sp.TCP {
		pr.TcpSocket = &cloudrunv2.ServiceTemplateContainerStartupProbeTcpSocketArgs{}
	} else {
		pr.HttpGet = &cloudrunv2.ServiceTemplateContainerStartupProbeHttpGetArgs{Path: pulumi.String(sp.HTTPPath)}
	}
	return pr
}

// templateRuntime adds the revision-level settings: concurrency, timeout, execution environment,
// VPC egress and the secret volumes.
func templateRuntime(t *cloudrunv2.ServiceTemplateArgs, p plan.Service) {
	t.MaxInstanceRequestConcurrency = pulumi.Int(p.Concurrency)
	t.Timeout = pulumi.String(p.Timeout)
	if p.ExecutionEnvironment != "" {
		t.ExecutionEnvironment = pulumi.String(p.ExecutionEnvironment)
	}
	if v := p.VPC; v != nil {
		va := &cloudrunv2.ServiceTemplateVpcAccessArgs{Egress: pulumi.String(v.Egress)}
		if v.Connector != "" {
			va.Connector = pulumi.String(v.Connector)
		} else {
			ni := &cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArgs{}
			if v.Network != "" {
				ni.Network = pulumi.String(v.Network)
			}
			if v.Subnetwork != "" {
				ni.Subnetwork = pulumi.String(v.Subnetwork)
			}
			if len(v.Tags) > 0 {
				ni.Tags = pulumi.ToStringArray(v.Tags)
			}
			va.NetworkInterfaces = cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArray{ni}
		}
		t.VpcAccess = va
	}
	if len(p.SecretVolumes) > 0 {
		var vols cloudrunv2.ServiceTemplateVolumeArray
		for _, v := range p.SecretVolumes {
			var items cloudrunv2.ServiceTemplateVolumeSecretItemArray
			for _, it := range v.Items {
				items = append(items, &cloudrunv2.ServiceTemplateVolumeSecretItemArgs{Path: pulumi.String(it.Path), Version: pulumi.String(it.Version)})
			}
			vols = append(vols, &cloudrunv2.ServiceTemplateVolumeArgs{
				Name:   pulumi.String(v.Name),
				Secret: &cloudrunv2.ServiceTemplateVolumeSecretArgs{Secret: pulumi.String(v.Ref), Items: items},
			})
		}
		t.Volumes = vols
	}
}
