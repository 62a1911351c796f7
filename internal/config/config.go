// Package config owns the stack configuration: its typed shape, its decoding from Pulumi config
// (or from a stack file, for tools that run without the engine), its defaults and its
// validation. Package plan resolves a validated *Config into what the program declares; no other
// package reads Pulumi config on its own, so the program, the access report and the doctor cannot
// disagree.
package config

import (
	"bytes"
	"encoding/json"

	"github.com/platform/private-run-api/internal/diag"
)

// Keys are the stack config keys this program reads, in the project's namespace
// (`<project>:<key>` in Pulumi.<stack>.yaml). Any other key in that namespace is an error, so a
// typo such as `caller:` is reported instead of silently ignored.
var Keys = []string{KeyService, KeyImpersonators, KeyCallers, KeyCallersDir, KeyCallersProject, KeyAuthz, KeyEnableAPIs, KeyLabels}

const (
	KeyService       = "service"
	KeyImpersonators = "impersonators"
	KeyCallers       = "callers"
	// KeyCallersDir names a directory of caller files, relative to the project root (see
	// callerfiles.go).
	KeyCallersDir = "callersDir"
	// KeyCallersProject is the project the caller accounts are created in (default gcp:project).
	KeyCallersProject = "callersProject"
	KeyAuthz          = "authz"
	KeyEnableAPIs     = "enableApis"
	KeyLabels         = "labels"

	// KeyGCPProject and KeyGCPRegion are the provider's own keys; the program reads them so that
	// emails and locations can be computed up front and shown in a preview.
	KeyGCPProject = "gcp:project"
	KeyGCPRegion  = "gcp:region"
)

// Config is the whole stack configuration after decoding and defaulting.
type Config struct {
	// Project is the Google Cloud project ID every resource lands in (gcp:project).
	Project string
	// Region is gcp:region, the default for Service.Region.
	Region string

	Service Service
	// Impersonators may impersonate every caller account this program creates.
	Impersonators []Impersonator
	// Callers are the inline callers in config order, then those of CallersDir's files in name
	// order.
	Callers []Caller
	// CallersDir is the directory of caller files, "" for none.
	CallersDir string
	// CallersProject is the project the program creates caller accounts in; "" for Project. In
	// a project of their own, where nothing but caller accounts lives, the deploy identity's
	// service-account permissions reach those accounts and nothing else.
	CallersProject string
	Authz          Authz
	// EnableAPIs enables the Google APIs the program needs (never disabling them on destroy).
	EnableAPIs bool
	// Labels go on every resource that takes labels.
	Labels map[string]string
}

// Service is the private Cloud Run service.
type Service struct {
	Name  string `json:"name"`
	Image string `json:"image"`
	// Region defaults to gcp:region.
	Region string `json:"region,omitempty"`
	// Ingress is one of IngressAll (default), IngressInternal, IngressInternalAndLB.
	Ingress string `json:"ingress,omitempty"`
	// Port is the container port; default DefaultPort, Cloud Run's own.
	Port         int               `json:"port,omitempty"`
	Env          map[string]string `json:"env,omitempty"`
	MinInstances *int              `json:"minInstances,omitempty"`
	MaxInstances *int              `json:"maxInstances,omitempty"`
	// Protect guards the service and its runtime account against deletion; default true.
	Protect *bool `json:"protect,omitempty"`
	// RuntimeAccountID names the service's own runtime service account; default "<name>-run".
	RuntimeAccountID string `json:"runtimeAccountId,omitempty"`
	// RuntimeAccount names an existing runtime account of gcp:project by email (one the bootstrap
	// stack made, so that the CI deploy identity needs actAs on it alone); the program then
	// creates none. Excludes RuntimeAccountID.
	RuntimeAccount string `json:"runtimeAccount,omitempty"`
	// ImageOwner says who changes the running image after the first deploy: ImageOwnerStack
	// (default) or ImageOwnerPipeline.
	ImageOwner string `json:"imageOwner,omitempty"`
	// Audiences are custom ID-token audiences the service accepts besides its URL, each of the
	// form https://<name>.<project>.<domain> (see audiences.go). The first is the one the
	// outputs, the invoke commands and the doctor use.
	Audiences []string `json:"audiences,omitempty"`

	// Secrets are read from Secret Manager as env vars or files (see runtime.go).
	Secrets []Secret `json:"secrets,omitempty"`
	// VPC is the service's egress into a VPC; none when nil.
	VPC *VPC `json:"vpc,omitempty"`
	// CPU ("1", "2", "4", "6", "8" or "0.08" to "1") and Memory ("512Mi", "2Gi") limit each
	// instance; defaults DefaultCPU and DefaultMemory.
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	// CPUAlwaysAllocated keeps CPU between requests (instance-based billing); default false.
	CPUAlwaysAllocated *bool `json:"cpuAlwaysAllocated,omitempty"`
	// StartupCPUBoost gives more CPU while an instance starts.
	StartupCPUBoost bool `json:"startupCpuBoost,omitempty"`
	// Concurrency is the most requests one instance serves at once: 1-1000, default 80 (1 with
	// less than one CPU).
	Concurrency *int `json:"concurrency,omitempty"`
	// TimeoutSeconds bounds one request: 1-3600, default 300.
	TimeoutSeconds *int `json:"timeoutSeconds,omitempty"`
	// ExecutionEnvironment is "gen1" or "gen2"; Cloud Run chooses when unset.
	ExecutionEnvironment string `json:"executionEnvironment,omitempty"`
	// StartupProbe defaults to Cloud Run's own TCP probe; LivenessProbe to none.
	StartupProbe  *Probe `json:"startupProbe,omitempty"`
	LivenessProbe *Probe `json:"livenessProbe,omitempty"`
}

// Image owners accepted in config.
const (
	// ImageOwnerStack: every `pulumi up` deploys service.image, reverting any other deploy.
	ImageOwnerStack = "stack"
	// ImageOwnerPipeline: the stack deploys service.image once; afterwards the app's own pipeline
	// (`gcloud run deploy`) owns the image, and the stack ignores it and the client fields that
	// such tools stamp on the service.
	ImageOwnerPipeline = "pipeline"
)

// DefaultMaxInstances is what the program sends when service.maxInstances is not set: Cloud Run's
// documented default for a service. Sending it, rather than leaving the field out, makes removing
// maxInstances from config really reset it (the provider keeps a computed value otherwise).
const DefaultMaxInstances = 100

// Ingress values accepted in config, and the Cloud Run v2 enum each maps to.
const (
	IngressAll           = "all"
	IngressInternal      = "internal"
	IngressInternalAndLB = "internal-and-cloud-load-balancing"
)

// IngressValues maps config ingress values to the Cloud Run v2 API's enum.
var IngressValues = map[string]string{
	IngressAll:           "INGRESS_TRAFFIC_ALL",
	IngressInternal:      "INGRESS_TRAFFIC_INTERNAL_ONLY",
	IngressInternalAndLB: "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
}

// Impersonator is a principal allowed to mint tokens as a caller account, optionally until an
// RFC 3339 time. In YAML it is either a plain member string or {member, expires}.
type Impersonator struct {
	Member  string `json:"member"`
	Expires string `json:"expires,omitempty"`
}

// Caller is a service allowed to call the private API: either an account this program creates
// (Name is its account ID) or an existing account named by Email.
type Caller struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Email names an existing service account (another project's, say). The program then creates
	// nothing for the caller and grants no impersonation on it.
	Email         string         `json:"email,omitempty"`
	Impersonators []Impersonator `json:"impersonators,omitempty"`
	// Invoke grants roles/run.invoker on the private service; default true.
	Invoke *bool `json:"invoke,omitempty"`
	// Authz grants the authz guard's custom role on its bucket; default false.
	Authz bool `json:"authz,omitempty"`
	// RunAs says who may run workloads as the caller's account (see runas.go); only for an
	// account the program creates.
	RunAs *RunAs `json:"runAs,omitempty"`

	// path is where the caller is declared, for messages: callers[2], or
	// callers/orders-audit.yaml: for a caller file.
	path diag.Path
}

// Path is where the caller is declared: its entry of the inline list (callers[2]) or its file
// (callers/orders-audit.yaml:), for the messages that name it.
func (c Caller) Path() diag.Path { return c.path }

// CallerPath is where the i-th caller is declared: its own path, or (for a caller built by hand)
// its index in the callers list.
func (c *Config) CallerPath(i int) diag.Path {
	if p := c.Callers[i].path; p.String() != "" {
		return p
	}
	return diag.NewPath(KeyCallers).Index(i)
}

// UnmarshalJSON accepts a member string or a {member, expires} mapping, strictly: an unknown key
// is an error here too.
func (i *Impersonator) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		*i = Impersonator{Member: s}
		return nil
	}
	type plain Impersonator // no UnmarshalJSON: no recursion
	var p plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*i = Impersonator(p)
	return nil
}

// External reports whether the caller is an existing account named by email.
func (c Caller) External() bool { return c.Email != "" }

// Invokes reports whether the caller may invoke the private service (default true).
func (c Caller) Invokes() bool { return c.Invoke == nil || *c.Invoke }

// Authz is the authz guard: a bucket holding no objects and a custom role with only
// storage.buckets.get, granted on the bucket to the callers that pass the guard.
type Authz struct {
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
	// Bucket defaults to "<project>-<service>-authz".
	Bucket string `json:"bucket,omitempty"`
	// BucketDomainVerified admits a configured bucket name with dots, which Cloud Storage accepts
	// only when the domain it ends in is verified as owned by the deployer.
	BucketDomainVerified bool `json:"bucketDomainVerified,omitempty"`
	// Role names an existing custom role (projects/<project>/roles/<id> or
	// organizations/<number>/roles/<id>) holding only storage.buckets.get, made elsewhere (the
	// bootstrap stack): the program then creates no role of its own. Excludes RoleID and RoleTitle.
	Role string `json:"role,omitempty"`
	// RoleID defaults to the service name with "-" turned into "_", plus "_authz".
	RoleID    string `json:"roleId,omitempty"`
	RoleTitle string `json:"roleTitle,omitempty"`
	// Location defaults to the service's region.
	Location string `json:"location,omitempty"`
}

// On reports whether the guard exists (default true).
func (a Authz) On() bool { return a.Enabled == nil || *a.Enabled }
