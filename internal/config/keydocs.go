package config

// KeyDoc is what a reader of a stack file is told about one config key: README.md's table of
// config keys is generated from KeyDocs (go generate ./internal/docgen), and a key the program
// reads without an entry here fails TestKeyDocsCoverEveryKey. The text is Markdown, and links are
// relative to the repository root, where README.md is. Details and rules live in docs/config.md.
type KeyDoc struct {
	// Key is the key as the table names it: one of Keys (the table adds the project's namespace),
	// or a provider key such as gcp:project.
	Key string
	// Part, when a key has more than one row, says which part of its value the row is about.
	Part string
	// Meaning names every field of the key's value in `code`, so that a reader of the table sees
	// each one (tests/docs_test.go checks it against the types).
	Meaning string
	Default string
}

// KeyDocs are the rows of README.md's config table, in its order.
var KeyDocs = []KeyDoc{
	{Key: KeyGCPProject, Meaning: "project ID (every email is computed from it)", Default: "required"},
	{Key: KeyGCPRegion, Meaning: "default region", Default: "required unless `service.region`"},
	{Key: KeyService,
		Meaning: "the Cloud Run service: `name`, `image`, `region`, `ingress`, `port`, `env`, `minInstances`, `maxInstances`, `protect`, `runtimeAccountId`, or `runtimeAccount` to run as an existing account, `imageOwner`, `audiences` ([details](docs/config.md#the-service))",
		Default: "ingress `all`; 0 to 100 instances; protect `true`; runtime account `<name>-run`, created; imageOwner `stack`"},
	{Key: KeyService, Part: "running it",
		Meaning: "`secrets`, `vpc`, `cpu`, `memory`, `cpuAlwaysAllocated`, `startupCpuBoost`, `concurrency`, `timeoutSeconds`, `executionEnvironment`, `startupProbe`, `livenessProbe` ([running the service](docs/config.md#running-the-service))",
		Default: "cpu `\"1\"`, memory `512Mi`, CPU only during requests, concurrency 80 (1 below one CPU), timeout 300 s, Cloud Run's TCP startup probe; no liveness probe, VPC or secrets"},
	{Key: KeyImpersonators,
		Meaning: "who may impersonate **every** caller account: `user:`, `group:`, `serviceAccount:`, `domain:`, `principal://`, `principalSet://`, each a string or `{member, expires}` (RFC 3339, quoted)",
		Default: "none"},
	{Key: KeyCallers,
		Meaning: "`{name, description, impersonators, invoke, authz, runAs}`, or `{name, email, description, invoke, authz}` for an existing account; `runAs`: `deployers`, `gkeWorkloads`, `cloudRunProjects` ([rules](docs/config.md#rules-worth-knowing))",
		Default: "`invoke: true`, `authz: false`, no `runAs`"},
	{Key: KeyCallersDir,
		Meaning: "a directory of caller files, relative to `Pulumi.yaml` ([callers in files](docs/config.md#callers-in-files))",
		Default: "none"},
	{Key: KeyCallersProject,
		Meaning: "the project caller accounts are created in, which holds nothing else ([why](docs/config.md#callers-and-impersonators))",
		Default: "`gcp:project`"},
	{Key: KeyAuthz,
		Meaning: "the [authz guard](docs/guard.md): `enabled`, `bucket`, `bucketDomainVerified`, `role` (one made elsewhere), `roleId`, `roleTitle`, `location`",
		Default: "on; bucket `<project>-<service>-authz`; role `<service>_authz`; the service's region"},
	{Key: KeyEnableAPIs, Meaning: "enable run, iam, iamcredentials, storage", Default: "`true`"},
	{Key: KeyLabels, Meaning: "labels on the service and the bucket", Default: "none"},
}
