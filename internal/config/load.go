package config

import (
	"encoding/json"
	"io/fs"
	"os"
	"strings"

	"github.com/platform/private-run-api/internal/diag"
)

// Loading: the raw values of each key (from the engine or a stack file) are decoded in turn
// (decode, below, with the strict machinery of decode.go), then validated part by part (validate
// in validate.go), every problem of every key collected before the load fails.

// Source is where raw config values come from: a function returning the string Pulumi holds for
// a fully qualified key (`<namespace>:<key>`), as ctx.GetConfig does. Structured values arrive as
// JSON text.
type Source func(key string) (string, bool)

// MapSource serves config from a map of fully qualified keys, as RunInfo.Config and stack files
// hold it.
func MapSource(m map[string]string) Source {
	return func(key string) (string, bool) { v, ok := m[key]; return v, ok }
}

// Load decodes and validates the stack config. namespace is the Pulumi project name; allKeys, when
// known, lists every config key the stack sets so that unknown keys in the namespace are reported
// (pass nil when the caller cannot list them). The error, if any, is a *diag.ConfigError listing
// every problem found. A config with callersDir needs LoadWithFiles.
func Load(namespace string, src Source, allKeys []string) (*Config, error) {
	return LoadWithFiles(namespace, src, allKeys, nil)
}

// LoadWithFiles is Load with the project's tree (rooted where Pulumi.yaml is), from which the
// caller files of callersDir are read.
func LoadWithFiles(namespace string, src Source, allKeys []string, files fs.FS) (*Config, error) {
	cfg, problems, broken := decode(namespace, src, allKeys, files)
	if cfg != nil {
		problems = append(problems, validate(cfg, broken)...)
	}
	if len(problems) > 0 {
		return nil, &diag.ConfigError{Diagnostics: problems}
	}
	normalizeExpiries(cfg)
	return cfg, nil
}

// decode turns raw strings into a Config, collecting shape problems instead of stopping at the
// first, so that one run reports everything wrong with a stack.
func decode(namespace string, src Source, allKeys []string, files fs.FS) (*Config, diag.List, reported) {
	broken := reported{}
	var ps problems
	cfg := &Config{EnableAPIs: true}

	ps = append(ps, UnknownKeys(namespace, allKeys, Keys, "this program")...)

	cfg.Project, _ = src(KeyGCPProject)
	cfg.Region, _ = src(KeyGCPRegion)
	cfg.Project, cfg.Region = strings.TrimSpace(cfg.Project), strings.TrimSpace(cfg.Region)

	get := func(key string) (string, bool) {
		v, ok := src(namespace + ":" + key)
		if ok && strings.TrimSpace(v) == "" {
			return "", false
		}
		return v, ok
	}

	if raw, ok := get(KeyService); ok {
		decodeObject(&ps, diag.NewPath(KeyService), json.RawMessage(raw), &cfg.Service, "a mapping with name, image and optional region, ingress, port, env, minInstances, maxInstances, protect, runtimeAccountId, runtimeAccount, imageOwner, secrets, vpc, cpu, memory, cpuAlwaysAllocated, startupCpuBoost, concurrency, timeoutSeconds, executionEnvironment, startupProbe, livenessProbe")
	}
	if raw, ok := get(KeyImpersonators); ok {
		cfg.Impersonators = decodeImpersonators(&ps, broken, diag.NewPath(KeyImpersonators), json.RawMessage(raw))
	}
	if raw, ok := get(KeyCallers); ok {
		var items []json.RawMessage
		if decodeInto(&ps, diag.NewPath(KeyCallers), raw, &items, "a list of callers, each a mapping with a name") {
			for i, item := range items {
				p := diag.NewPath(KeyCallers).Index(i)
				c := decodeCaller(&ps, broken, p, item)
				c.path = p
				cfg.Callers = append(cfg.Callers, c)
			}
		}
	}
	if raw, ok := get(KeyCallersProject); ok {
		decodeInto(&ps, diag.NewPath(KeyCallersProject), jsonString(raw), &cfg.CallersProject, "a project ID")
	}
	if raw, ok := get(KeyCallersDir); ok && decodeInto(&ps, diag.NewPath(KeyCallersDir), jsonString(raw), &cfg.CallersDir, "a directory relative to Pulumi.yaml, e.g. callers") {
		cfg.Callers = append(cfg.Callers, readCallerFiles(&ps, broken, files, cfg.CallersDir)...)
	}
	if raw, ok := get(KeyAuthz); ok {
		decodeObject(&ps, diag.NewPath(KeyAuthz), json.RawMessage(raw), &cfg.Authz, "a mapping with optional enabled, bucket, bucketDomainVerified, role, roleId, roleTitle, location")
	}
	if raw, ok := get(KeyEnableAPIs); ok {
		decodeInto(&ps, diag.NewPath(KeyEnableAPIs), raw, &cfg.EnableAPIs, "true or false")
	}
	if raw, ok := get(KeyLabels); ok {
		decodeInto(&ps, diag.NewPath(KeyLabels), raw, &cfg.Labels, "a mapping of label keys to string values")
	}
	return cfg, ps, broken
}

// EngineConfigKeys lists the keys of the whole stack config, which the Pulumi language host
// passes to the program as a JSON object in PULUMI_CONFIG; nil when it is absent (tests, tools).
// ctx.GetConfig answers one key at a time, so this is the only way to see a typo'd key.
func EngineConfigKeys() []string {
	raw := os.Getenv("PULUMI_CONFIG")
	if raw == "" {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
