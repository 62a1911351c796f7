// Package config owns the stack configuration: its typed shape, its decoding from Pulumi config
// (or from a stack file, for tools that run without the engine), its defaults and its
// validation. Package plan resolves a validated *Config into what the program declares; no other
// package reads Pulumi config on its own, so the program, the access report and the doctor cannot
// disagree.
package config

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

// Config is the whole stack configuration after decoding and defaulting. Each part's types,
// effective values (defaults) and rules live in the file named for it: project.go, service.go
// (with container.go and audiences.go), impersonators.go, callers.go (with callerfiles.go),
// authz.go, labels.go. load.go reads the keys in turn, validate.go checks the parts.
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
	// Authz is the authz guard (see authz.go).
	Authz AuthzGuard
	// EnableAPIs enables the Google APIs the program needs (never disabling them on destroy).
	EnableAPIs bool
	// Labels go on every resource that takes labels.
	Labels map[string]string
}
