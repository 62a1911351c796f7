package ci

import "slices"

// KeyDoc is what bootstrap/README.md's config reference says of one or more keys: the table is
// generated from KeyDocs (go generate ./internal/docgen), and Keys, the keys the program accepts,
// are the keys listed here, so that a key cannot be read without being documented. The text is
// Markdown.
type KeyDoc struct {
	// Keys are the keys of one row: one of the Key constants each, or gcp:project.
	Keys    []string
	Default string
	Rule    string
}

// code is s as Markdown code.
func code(s string) string { return "`" + s + "`" }

// KeyDocs are the rows of bootstrap/README.md's config reference, in its order.
var KeyDocs = []KeyDoc{
	{Keys: []string{KeyGCPProject}, Default: "required",
		Rule: "the main stack's project ID"},
	{Keys: []string{KeyCallersProject}, Default: "`gcp:project`",
		Rule: "project ID where the main stack creates its caller accounts (its `private-run-api:callersProject`), holding nothing else; not `ciProject`, and no `secrets` or `vpc` of it when it is not `gcp:project`"},
	{Keys: []string{KeyCIProject}, Default: "required",
		Rule: "project ID for the pool, the CI accounts and the state; not `gcp:project` nor `callersProject`"},
	{Keys: []string{KeyCIProjectNumber}, Default: "required",
		Rule: "`ciProject`'s number (`gcloud projects describe <ciProject> --format='value(projectNumber)'`), 6-19 digits: the pool's name, and so every principal set, is built from it"},
	{Keys: []string{KeyRepository}, Default: "required",
		Rule: "`OWNER/REPO`, exactly as GitHub spells it; no URL"},
	{Keys: []string{KeyRepositoryID}, Default: "required",
		Rule: "the repository's numeric ID (`gh api repos/OWNER/REPO --jq .id`)"},
	{Keys: []string{KeyRepositoryOwnerID}, Default: "required",
		Rule: "its owner's numeric ID (`--jq .owner.id`)"},
	{Keys: []string{KeyDeployWorkflow}, Default: code(DefaultDeployWorkflow),
		Rule: "a file name in `.github/workflows`"},
	{Keys: []string{KeyDeployBranch}, Default: code(DefaultDeployBranch),
		Rule: "one branch name (no `refs/heads/`, no pattern)"},
	{Keys: []string{KeyDeployEnvironment}, Default: code(DefaultDeployEnvironment),
		Rule: "the GitHub environment of the deploy job (letters, digits, `.`, `_`, `-`)"},
	{Keys: []string{KeyPoolID, KeyProviderID}, Default: code(DefaultPoolID) + ", " + code(DefaultProviderID),
		Rule: "4-32 chars of `a-z 0-9 -`, not starting with `gcp-`"},
	{Keys: []string{KeyPreviewAccountID, KeyDeployAccountID}, Default: code(DefaultPreviewAccountID) + ", " + code(DefaultDeployAccountID),
		Rule: "6-30 chars, `^[a-z]([-a-z0-9]*[a-z0-9])$`, different from each other"},
	{Keys: []string{KeyRuntimeAccountID}, Default: "required",
		Rule: "the Cloud Run runtime account's ID, same rule"},
	{Keys: []string{KeyStateBucket}, Default: "required",
		Rule: "bucket name of the main stack's state, without `gs://`"},
	{Keys: []string{KeyAuthzBucket}, Default: "required",
		Rule: "the main stack's authz bucket (`authz.bucket`), not the state bucket"},
	{Keys: []string{KeyAuthzRoleID, KeyDeployRoleID, KeyAuthzBucketRoleID}, Default: code(DefaultAuthzRoleID) + ", " + code(DefaultDeployRoleID) + ", " + code(DefaultAuthzBucketRoleID),
		Rule: "custom role IDs, `^[a-zA-Z0-9_.]{3,64}$`, all different"},
	{Keys: []string{KeyCallersRoleID, KeyAuditCallersRoleID}, Default: code(DefaultCallersRoleID) + ", " + code(DefaultAuditCallersRoleID),
		Rule: "custom role IDs in `callersProject`, same rule, different from every other role ID"},
	{Keys: []string{KeyEnableAPIs}, Default: "`true`",
		Rule: "`true` or `false`"},
	{Keys: []string{KeyProtect}, Default: "`true`",
		Rule: "`true` or `false`"},
	{Keys: []string{KeySecrets}, Default: "none",
		Rule: "a list of full secret names `projects/<project ID>/secrets/<id>`, each once, none in `ciProject`: every secret the main stack's `service.secrets` reads"},
	{Keys: []string{KeySecretRoleID}, Default: code(DefaultSecretRoleID),
		Rule: "custom role ID, same rule, different from the three above; created in each project of `secrets`"},
	{Keys: []string{KeyVPC}, Default: "none",
		Rule: "the main stack's subnetwork `projects/<project ID>/regions/<region>/subnetworks/<name>` or connector `projects/<project ID>/locations/<region>/connectors/<name>`, not in `ciProject`; never a short name or a network"},
	{Keys: []string{KeyProjectNumber}, Default: "none",
		Rule: "`gcp:project`'s number; required when `vpc` is in another project"},
	{Keys: []string{KeyAuditAccountID}, Default: code(DefaultAuditAccountID),
		Rule: "the read-only audit account's ID (in `ciProject`), same rule as the other accounts, none of theirs"},
	{Keys: []string{KeyAuditWorkflow}, Default: code(DefaultAuditWorkflow),
		Rule: "the file in `.github/workflows`, read from `deployBranch`, whose scheduled and manual runs may impersonate the audit account; not `deployWorkflow`"},
	{Keys: []string{KeyAuditRoleID, KeyAuditBucketRoleID, KeyAuditSecretRoleID}, Default: code(DefaultAuditRoleID) + ", " + code(DefaultAuditBucketRoleID) + ", " + code(DefaultAuditSecretRoleID),
		Rule: "custom role IDs, same rule, different from every other role ID; the last is created in each project of `secrets` other than `gcp:project`"},
}

// Keys lists every key the bootstrap program reads in its namespace: every key of KeyDocs but the
// provider's gcp:project.
var Keys = func() []string {
	var keys []string
	for _, d := range KeyDocs {
		keys = append(keys, d.Keys...)
	}
	return slices.DeleteFunc(keys, func(k string) bool { return k == KeyGCPProject })
}()
