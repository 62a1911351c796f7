package program

// OutputDoc is what README.md's table of stack outputs says about one output: the table is
// generated from OutputDocs (go generate ./internal/docgen), and tests/docs_test.go fails on an
// output the program exports without an entry, or an entry for one it does not export. The text
// is Markdown; links are relative to the repository root.
type OutputDoc struct {
	Name string
	What string
}

// OutputDocs are the rows of README.md's outputs table, in its order.
var OutputDocs = []OutputDoc{
	{"serviceUrl", "the service URL: where requests go, and an ID-token audience Cloud Run always accepts"},
	{"audience", "the **audience** to ask ID tokens for: the first of `service.audiences`, or `serviceUrl` when none is set (known only after deploy then)"},
	{"audiences", "the custom audiences the service accepts besides its URL (`service.audiences`, sorted; `[]` when none)"},
	{"serviceName", "the Cloud Run service's name"},
	{"region", "the service's region"},
	{"runtimeServiceAccount", "the email of the account the service runs as"},
	// tests/docs_test.go holds the fields after "per caller:" to those of the callers output.
	{"callers", "per caller: `email`, `member`, `created`, `invoke`, `authz`, and `impersonateCommand` when someone may impersonate it"},
	{"invokers", "the members of the `roles/run.invoker` binding"},
	{"impersonationCommands", "per caller: `gcloud auth application-default login --impersonate-service-account <email>`"},
	{"invokeCommands", "per invoking caller: a `curl` to `serviceUrl` with an impersonated ID token for `audience`"},
	{"authzBucket", "the guard's bucket, when the guard is on"},
	{"authzRole", "the guard's custom role, by full name, whenever the stack creates or names one"},
}
