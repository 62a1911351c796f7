package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/distribution/reference"

	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/gcp"
)

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

	// The container's settings: their types, defaults and rules are in container.go.

	// Secrets are read from Secret Manager as env vars or files.
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

// DefaultPort is Cloud Run's container port, sent when service.port is not set (see Port).
const DefaultPort = 8080

var (
	runNameRe = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// reservedEnv are names Cloud Run sets itself and refuses in a service's env.
var reservedEnv = map[string]bool{"PORT": true, "K_SERVICE": true, "K_REVISION": true, "K_CONFIGURATION": true}

// ServiceRegion is service.region, or gcp:region when unset.
func (c *Config) ServiceRegion() string {
	if c.Service.Region != "" {
		return c.Service.Region
	}
	return c.Region
}

// IngressOrDefault is service.ingress, or "all" when unset.
func (c *Config) IngressOrDefault() string {
	if c.Service.Ingress == "" {
		return IngressAll
	}
	return c.Service.Ingress
}

// Protected reports whether the service and its runtime account are protected (default true).
func (c *Config) Protected() bool { return c.Service.Protect == nil || *c.Service.Protect }

// RuntimeAccountID is service.runtimeAccountId, or "<service name>-run".
func (c *Config) RuntimeAccountID() string {
	if c.Service.RuntimeAccountID != "" {
		return c.Service.RuntimeAccountID
	}
	return c.Service.Name + "-run"
}

// RuntimeEmail is the runtime account's email: service.runtimeAccount, or the one the program
// creates.
func (c *Config) RuntimeEmail() string {
	if c.Service.RuntimeAccount != "" {
		return c.Service.RuntimeAccount
	}
	return gcp.AccountEmail(c.Project, c.RuntimeAccountID())
}

// ImageOwnerOrDefault is service.imageOwner, or "stack" when unset.
func (c *Config) ImageOwnerOrDefault() string {
	if c.Service.ImageOwner == "" {
		return ImageOwnerStack
	}
	return c.Service.ImageOwner
}

// Port is service.port, or Cloud Run's 8080: always sent, since the provider keeps the last port
// when none is sent, so removing service.port would otherwise change nothing.
func (c *Config) Port() int {
	if c.Service.Port != 0 {
		return c.Service.Port
	}
	return DefaultPort
}

// MinInstances and MaxInstances are what the program sends: both always, so that removing either
// from config resets it rather than leaving the last value in place.
func (c *Config) MinInstances() int {
	if c.Service.MinInstances != nil {
		return *c.Service.MinInstances
	}
	return 0
}

func (c *Config) MaxInstances() int {
	if c.Service.MaxInstances != nil {
		return *c.Service.MaxInstances
	}
	return DefaultMaxInstances
}

func validateService(ps *problems, c *Config) {
	s := c.Service
	switch {
	case s.Name == "":
		ps.Add(diag.Required, diag.NewPath(KeyService).Child("name"), "", "is missing", `set service.name, e.g. "orders-api"`)
	case len(s.Name) >= 50 || !runNameRe.MatchString(s.Name):
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("name"), s.Name, `must be 1-49 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-"`, "rename the service")
	}
	validateImage(ps, s.Image)
	switch r := c.ServiceRegion(); {
	case r == "":
		ps.Add(diag.Required, diag.NewPath(KeyService).Child("region"), "", "is missing and gcp:region is not set", "set service.region, or run `pulumi config set gcp:region <region>`")
	case !gcp.Region.MatchString(r):
		path := diag.NewPath(KeyService).Child("region")
		if s.Region == "" {
			path = diag.NewPath(KeyGCPRegion)
		}
		ps.Add(diag.Invalid, path, r, "is not a Cloud Run region", `use a region such as "asia-northeast1" or "us-central1"`)
	}
	if _, ok := IngressValues[c.IngressOrDefault()]; !ok {
		ps.Add(diag.NotSupported, diag.NewPath(KeyService).Child("ingress"), s.Ingress, "is not a known ingress", fmt.Sprintf("use %q (default), %q or %q", IngressAll, IngressInternal, IngressInternalAndLB))
	}
	if s.Port < 0 || s.Port > 65535 {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("port"), fmt.Sprint(s.Port), "is not a TCP port", "use 1-65535, or leave it out for Cloud Run's 8080")
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		switch {
		case !envNameRe.MatchString(k):
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("env").Child(k), "", "is not a valid environment variable name", "use letters, digits and _, not starting with a digit")
		case reservedEnv[k]:
			ps.Add(diag.Forbidden, diag.NewPath(KeyService).Child("env").Child(k), "", "is reserved: Cloud Run sets it itself", "remove it (use service.port for the port)")
		}
	}
	if s.MinInstances != nil && *s.MinInstances < 0 {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("minInstances"), fmt.Sprint(*s.MinInstances), "is negative", "use 0 or more")
	}
	if s.MaxInstances != nil && *s.MaxInstances < 1 {
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("maxInstances"), fmt.Sprint(*s.MaxInstances), "must be at least 1", "use 1 or more, or leave it out")
	}
	if s.MinInstances != nil && *s.MinInstances >= 0 && c.MaxInstances() >= 1 && *s.MinInstances > c.MaxInstances() {
		if s.MaxInstances != nil {
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("minInstances"), fmt.Sprint(*s.MinInstances), fmt.Sprintf("is more than service.maxInstances (%d)", *s.MaxInstances), "lower minInstances or raise maxInstances")
		} else {
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("minInstances"), fmt.Sprint(*s.MinInstances), fmt.Sprintf("is more than the default maxInstances (%d)", DefaultMaxInstances), "set service.maxInstances too, at least as high")
		}
	}
	switch s.ImageOwner {
	case "", ImageOwnerStack, ImageOwnerPipeline:
	default:
		ps.Add(diag.NotSupported, diag.NewPath(KeyService).Child("imageOwner"), s.ImageOwner, "is not a known image owner", fmt.Sprintf("use %q (default: every `pulumi up` deploys service.image) or %q (the app's pipeline deploys new images after the first)", ImageOwnerStack, ImageOwnerPipeline))
	}
	if s.RuntimeAccount != "" {
		own := "@" + strings.TrimPrefix(gcp.AccountEmail(c.Project, "x"), "x@")
		switch bad := unreadable(s.RuntimeAccount); {
		case bad != "":
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("runtimeAccount"), s.RuntimeAccount, bad, retypeASCII)
		case s.RuntimeAccountID != "":
			ps.Add(diag.Forbidden, diag.NewPath(KeyService).Child("runtimeAccountId"), s.RuntimeAccountID, "is set together with service.runtimeAccount", "remove one: runtimeAccount names an existing account, runtimeAccountId one the program creates")
		case gcp.DefaultServiceAccount.MatchString(s.RuntimeAccount):
			ps.Add(diag.Forbidden, diag.NewPath(KeyService).Child("runtimeAccount"), s.RuntimeAccount, "is a default service account, which holds broad project roles", "give the service a dedicated account with no roles")
		case !gcp.ServiceAccountEmail.MatchString(s.RuntimeAccount) || !strings.HasSuffix(s.RuntimeAccount, own):
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("runtimeAccount"), s.RuntimeAccount, "is not a service account of "+c.Project, "write the email of an account in "+c.Project+", ending in "+own+" (the bootstrap stack's runtimeServiceAccount output)")
		}
	} else if s.Name != "" || s.RuntimeAccountID != "" {
		if id := c.RuntimeAccountID(); !gcp.ValidAccountID(id) {
			fix := "choose another service.runtimeAccountId"
			if s.RuntimeAccountID == "" {
				fix = `it is derived from service.name; set service.runtimeAccountId explicitly, e.g. "` + suggestAccountID(s.Name+"-run") + `"`
			}
			ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("runtimeAccountId"), id, gcp.AccountIDRule, fix)
		}
	}
}

// validateImage parses the image as Docker and containerd do (distribution/reference), so that a
// reference Cloud Run would refuse fails in preview rather than halfway through a deploy.
func validateImage(ps *problems, image string) {
	const example = `e.g. "us-docker.pkg.dev/cloudrun/container/hello" or "REGISTRY/PATH@sha256:<64 hex digits>"`
	switch {
	case strings.TrimSpace(image) == "":
		ps.Add(diag.Required, diag.NewPath(KeyService).Child("image"), "", "is missing", "set service.image to a container image, "+example)
		return
	case strings.Contains(image, "://"):
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("image"), image, "is a URL, not a container image reference", "drop the scheme: write REGISTRY/PATH[:TAG][@DIGEST], "+example)
		return
	}
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		rule := "is not a container image reference (" + err.Error() + ")"
		fix := "write REGISTRY/PATH[:TAG][@DIGEST] in lower case, " + example
		switch {
		// The parser wraps its sentinel errors in text, so match on what they say.
		case strings.Contains(err.Error(), "lowercase"):
			fix = "write the repository path in lower case (only a tag may have upper-case letters)"
		case strings.Contains(image, "@"):
			fix = "write the digest in full, @sha256: followed by 64 hex digits"
		}
		ps.Add(diag.Invalid, diag.NewPath(KeyService).Child("image"), image, rule, fix)
	}
}

// runtimeMember is the runtime account's member when the config names the service or its
// account, "" otherwise.
func runtimeMember(c *Config) string {
	if c.Service.Name == "" && c.Service.RuntimeAccountID == "" && c.Service.RuntimeAccount == "" {
		return ""
	}
	return "serviceAccount:" + c.RuntimeEmail()
}
