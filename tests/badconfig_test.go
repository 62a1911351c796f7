package tests

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/plan"
)

type badConfigCase struct {
	name string
	yaml string
	raw  map[string]string // overrides, for values YAML cannot express
	// diags is every diagnostic, as "Type path", in the order reported.
	diags []string
	// want are lines that must appear in the error: what a person reads (path, value, rule, fix).
	want []string
}

func badConfigCases() []badConfigCase {
	return []badConfigCase{
		{
			name:  "bad caller name",
			diags: []string{"Invalid callers[2].name"},
			yaml: base + `
  private-run-api:callers:
    - name: orders-batch
    - name: front-end
    - name: Batch_Job
`,
			want: []string{`callers[2].name "Batch_Job": must be 6-30 chars of a-z, 0-9 and "-", starting with a letter and not ending with "-"; rename it, e.g. "batch-job"`},
		},
		{
			name:  "caller name too short, too long, missing",
			diags: []string{"Invalid callers[0].name", "Invalid callers[1].name", "Required callers[2].name"},
			yaml: base + `
  private-run-api:callers:
    - name: api
    - name: a-very-long-caller-name-that-goes-on
    - description: no name
`,
			want: []string{
				`callers[0].name "api": must be 6-30 chars`,
				`callers[1].name "a-very-long-caller-name-that-goes-on": must be 6-30 chars`,
				`callers[2].name: is missing`,
			},
		},
		{
			name: "duplicate names and emails",
			// A name declared twice is one problem, not also "the same account twice".
			diags: []string{"Duplicate callers[1].name", "Duplicate callers[3]", "Duplicate callers[4]", "Duplicate callers[5]"},
			yaml: base + `
  private-run-api:callers:
    - name: orders-batch
    - name: orders-batch
    - name: partner-a
      email: runner@partner.iam.gserviceaccount.com
    - name: partner-b
      email: runner@partner.iam.gserviceaccount.com
    - name: partner-c
      email: orders-batch@acme-test.iam.gserviceaccount.com
    - name: orders-api-run
`,
			want: []string{
				`callers[1].name "orders-batch": is declared twice (also callers[0])`,
				`callers[3] "runner@partner.iam.gserviceaccount.com": is the same account as callers[2]`,
				`callers[4] "orders-batch@acme-test.iam.gserviceaccount.com": is the same account as callers[0]`,
				`callers[5] "orders-api-run@acme-test.iam.gserviceaccount.com": is the same account as the service's runtime account`,
			},
		},
		{
			name:  "service problems",
			diags: []string{"Invalid service.name", "Required service.image", "Required service.region", "NotSupported service.ingress", "Invalid service.port", "Invalid service.env.1BAD", "Forbidden service.env.PORT", "Invalid service.minInstances", "Invalid service.runtimeAccountId", "Invalid authz.bucket"},
			yaml: `
config:
  gcp:project: acme-test
  private-run-api:service:
    name: Orders-API
    ingress: public
    port: 70000
    minInstances: 5
    maxInstances: 2
    env:
      PORT: "9090"
      1BAD: x
`,
			want: []string{
				`service.name "Orders-API": must be 1-49 chars of a-z, 0-9 and "-"`,
				`service.image: is missing`,
				`service.region: is missing and gcp:region is not set; set service.region, or run ` + "`pulumi config set gcp:region <region>`",
				`service.ingress "public": is not a known ingress; use "all" (default), "internal" or "internal-and-cloud-load-balancing"`,
				`service.port "70000": is not a TCP port`,
				`service.env.1BAD: is not a valid environment variable name`,
				`service.env.PORT: is reserved: Cloud Run sets it itself`,
				`service.minInstances "5": is more than service.maxInstances (2)`,
				`service.runtimeAccountId "Orders-API-run": must be 6-30 chars`,
			},
		},
		{
			name:  "missing service and project",
			diags: []string{"Required gcp:project", "Required service.name", "Required service.image", "Required service.region"},
			yaml: `
config:
  private-run-api:callers:
    - name: orders-batch
`,
			want: []string{
				"gcp:project: is missing; run `pulumi config set gcp:project <project-id>`",
				`service.name: is missing`,
				`service.image: is missing`,
				`service.region: is missing`,
			},
		},
		{
			name:  "derived names too long",
			diags: []string{"Invalid service.runtimeAccountId", "Invalid authz.bucket"},
			yaml: `
config:
  gcp:project: acme-platform-production-1
  gcp:region: us-central1
  private-run-api:service:
    name: customer-orders-reconciliation-api
    image: gcr.io/acme/x
`,
			want: []string{
				`service.runtimeAccountId "customer-orders-reconciliation-api-run": must be 6-30 chars`,
				`it is derived from service.name; set service.runtimeAccountId explicitly`,
				`authz.bucket "acme-platform-production-1-customer-orders-reconciliation-api-authz": must be 3-63 chars`,
				`it is derived from gcp:project and service.name; set authz.bucket explicitly`,
			},
		},
		{
			name:  "bad principals",
			diags: []string{"Forbidden impersonators[0].member", "Forbidden impersonators[1].member", "Forbidden impersonators[2].member", "Invalid impersonators[3].member", "Invalid impersonators[4].member", "Invalid impersonators[5].member", "Invalid impersonators[6].member", "Invalid impersonators[7].member", "Invalid impersonators[8].member", "Invalid impersonators[9].member", "Required impersonators[10].member"},
			yaml: base + `
  private-run-api:impersonators:
    - allUsers
    - allAuthenticatedUsers
    - principalSet://goog/public:all
    - alice@example.com
    - user:Alice@Example.com
    - owner:bob@example.com
    - group:not-an-email
    - serviceAccount:someone@example.com
    - domain:Example
    - principal://
    - member: ""
  private-run-api:callers:
    - name: orders-batch
`,
			want: []string{
				`impersonators[0].member "allUsers": makes the grant public`,
				`impersonators[1].member "allAuthenticatedUsers": makes the grant public`,
				`impersonators[2].member "principalSet://goog/public:all": makes the grant public`,
				`impersonators[3].member "alice@example.com": has no principal type; prefix it with one of user:, group:, serviceAccount:, domain:, principal:// or principalSet://, e.g. "user:alice@example.com"`,
				`impersonators[4].member "user:Alice@Example.com": has upper-case letters; write "user:alice@example.com"`,
				`impersonators[5].member "owner:bob@example.com": has an unknown principal type "owner"`,
				`impersonators[6].member "group:not-an-email": is not group:EMAIL`,
				`impersonators[7].member "serviceAccount:someone@example.com": is not a service account email`,
				`impersonators[8].member "domain:Example": is not domain:DOMAIN`,
				`impersonators[9].member "principal://": is not a principal identifier`,
				`impersonators[10].member: is missing`,
			},
		},
		{
			name:  "expiry, duplicates and email with impersonators",
			diags: []string{"Invalid impersonators[0].expires", "Invalid impersonators[1].expires", "Duplicate impersonators[2].member", "Forbidden callers[0].impersonators"},
			yaml: base + `
  private-run-api:impersonators:
    - member: user:a@acme.example
      expires: next tuesday
    - member: user:b@acme.example
      expires: "2027-01-31"
    - user:a@acme.example
  private-run-api:callers:
    - name: partner
      email: caller@partner.iam.gserviceaccount.com
      impersonators: [user:c@acme.example]
`,
			want: []string{
				`impersonators[0].expires "next tuesday": is not an RFC 3339 time; write e.g. "2027-01-31T00:00:00Z"`,
				`impersonators[1].expires "2027-01-31": is not an RFC 3339 time`,
				`impersonators[2].member "user:a@acme.example": is listed twice (also impersonators[0])`,
				`callers[0].impersonators: is set on a caller named by email`,
			},
		},
		{
			name:  "bad external emails",
			diags: []string{"Forbidden callers[0].email", "Forbidden callers[1].email", "Invalid callers[2].email", "Forbidden callers[3]"},
			yaml: base + `
  private-run-api:callers:
    - name: default-compute
      email: 123456789-compute@developer.gserviceaccount.com
    - name: appengine
      email: acme@appspot.gserviceaccount.com
    - name: human-user
      email: alice@example.com
    - name: does-nothing
      email: idle@partner.iam.gserviceaccount.com
      invoke: false
`,
			want: []string{
				`callers[0].email "123456789-compute@developer.gserviceaccount.com": is a default service account`,
				`callers[1].email "acme@appspot.gserviceaccount.com": is a default service account`,
				`callers[2].email "alice@example.com": is not a lower-case service account email`,
				`callers[3] "does-nothing": grants nothing`,
			},
		},
		{
			name:  "authz problems",
			diags: []string{"Invalid authz.bucket", "Invalid authz.roleId", "TooLong authz.roleTitle", "Invalid authz.location"},
			yaml: base + `  private-run-api:authz:
    bucket: goog-authz
    roleId: orders-api-authz
    roleTitle: ` + strings.Repeat("t", 101) + `
    location: "us central"
`,
			want: []string{
				`authz.bucket "goog-authz": must not start with "goog"`,
				`authz.roleId "orders-api-authz": must be 3-64 chars of a-z, A-Z, 0-9, _ and .`,
				`authz.roleTitle`,
				`is longer than 100 bytes`,
				`authz.location "us central": is not a Cloud Storage location`,
			},
		},
		{
			name:  "bucket with google, an IP bucket",
			diags: []string{"Invalid authz.bucket"},
			yaml: base + `
  private-run-api:authz:
    bucket: my-google-bucket
`,
			want: []string{`authz.bucket "my-google-bucket": must not contain "google"`},
		},
		{
			name:  "bucket as IP address",
			diags: []string{"Invalid authz.bucket"},
			yaml: base + `
  private-run-api:authz:
    bucket: 192.168.5.4
`,
			want: []string{`authz.bucket "192.168.5.4": must not look like an IP address (four dot-separated groups of 1-3 digits, such as 192.168.5.4 or 999.1.1.1); choose another authz.bucket`},
		},
		{
			// The provider reads every 0 as o before looking for "google" (ValidateGCSName).
			name:  "bucket with a zero for an o",
			diags: []string{"Invalid authz.bucket"},
			yaml: base + `  private-run-api:authz:
    bucket: acme-g0ogle-orders-authz
`,
			want: []string{`authz.bucket "acme-g0ogle-orders-authz": must not contain "google" or a close misspelling: Cloud Storage reads every 0 as o, so "g00gle" and "go0gle" count too; choose another authz.bucket`},
		},
		{
			// The provider's IP check is a pattern, not a parse: 999.1.1.1 is refused too.
			name:  "bucket shaped like an IP address, domain verified",
			diags: []string{"Invalid authz.bucket"},
			yaml: base + `  private-run-api:authz:
    bucket: 999.1.1.1
    bucketDomainVerified: true
`,
			want: []string{`authz.bucket "999.1.1.1": must not look like an IP address (four dot-separated groups of 1-3 digits, such as 192.168.5.4 or 999.1.1.1); choose another authz.bucket`},
		},
		{
			name:  "bucket with a dotted part over 63 chars",
			diags: []string{"Invalid authz.bucket"},
			yaml: base + `  private-run-api:authz:
    bucket: authz.` + strings.Repeat("o", 64) + `.acme.example
    bucketDomainVerified: true
`,
			want: []string{`has a dot-separated part of 64 chars ("` + strings.Repeat("o", 64) + `"): each may have at most 63; choose another authz.bucket`},
		},
		{
			name:  "impersonators from a workload identity pool",
			diags: []string{"Forbidden impersonators[0].member", "Forbidden callers[0].impersonators[1].member"},
			yaml: base + `  private-run-api:impersonators:
    - principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/attribute.repository/acme/private-run-api
    - principalSet://iam.googleapis.com/locations/global/workforcePools/acme-staff/group/orders-developers
  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - user:kenji.ito@acme.example
        - principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:acme/private-run-api:pull_request
`,
			want: []string{
				`impersonators[0].member "principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/attribute.repository/acme/private-run-api": is a workload identity pool's principal: the CI jobs (a pull request's preview too) or other workloads it admits could impersonate the caller; impersonators are people: name developers or a group; a workload that calls the API is a caller of its own`,
				`callers[0].impersonators[1].member "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:acme/private-run-api:pull_request": is a workload identity pool's principal`,
			},
		},
		{
			name:  "consumer mail domains",
			diags: []string{"Forbidden impersonators[0].member", "Forbidden callers[0].impersonators[0].member"},
			yaml: base + `  private-run-api:impersonators:
    - domain:gmail.com
  private-run-api:callers:
    - name: orders-batch
      impersonators: [domain:googlemail.com]
`,
			want: []string{
				`impersonators[0].member "domain:gmail.com": is a consumer mail domain: anyone can open an account there, so the grant would be to everyone; name the developers (user:...) or a group of your organisation instead`,
				`callers[0].impersonators[0].member "domain:googlemail.com": is a consumer mail domain`,
			},
		},
		{
			// A Cyrillic "а" (U+0430) looks like a Latin "a" in every review tool.
			name:  "characters a reviewer cannot see",
			diags: []string{"Invalid service.runtimeAccount", "Invalid impersonators[0].member", "Invalid impersonators[1].member", "Invalid callers[0].email", "Invalid callers[1].impersonators[0].member"},
			yaml: base + `    runtimeAccount: "api-run@acme-tеst.iam.gserviceaccount.com"
  private-run-api:impersonators:
    - user:аlice@acme.example
    - "user:bob\t@acme.example"
  private-run-api:callers:
    - name: partner
      email: runner@pаrtner.iam.gserviceaccount.com
    - name: orders-batch
      impersonators: ["group:orders-devs@acme.examplе"]
`,
			want: []string{
				`service.runtimeAccount "api-run@acme-tеst.iam.gserviceaccount.com": has U+0435 CYRILLIC SMALL LETTER IE at character 15, which a reviewer cannot tell from an ASCII character; retype it in ASCII: IAM principals are ASCII, and a look-alike character names someone else`,
				`impersonators[0].member "user:аlice@acme.example": has U+0430 CYRILLIC SMALL LETTER A at character 6, which a reviewer cannot tell from an ASCII character; retype it in ASCII`,
				`impersonators[1].member "user:bob\t@acme.example": has the control character U+0009 at character 9, which a reviewer cannot see; retype it in ASCII`,
				`callers[0].email "runner@pаrtner.iam.gserviceaccount.com": has U+0430 CYRILLIC SMALL LETTER A at character 9`,
				`callers[1].impersonators[0].member "group:orders-devs@acme.examplе": has U+0435 CYRILLIC SMALL LETTER IE at character 30`,
			},
		},
		{
			name:  "the runtime account as impersonator",
			diags: []string{"Forbidden impersonators[0].member", "Forbidden callers[0].impersonators[0].member"},
			yaml: base + `  private-run-api:impersonators:
    - serviceAccount:orders-api-run@acme-test.iam.gserviceaccount.com
  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - member: serviceAccount:orders-api-run@acme-test.iam.gserviceaccount.com
          expires: "2027-01-31T00:00:00Z"
`,
			want: []string{
				`impersonators[0].member "serviceAccount:orders-api-run@acme-test.iam.gserviceaccount.com": is the service's runtime account: the service could mint tokens as the caller, and so act as every caller it may impersonate; remove it; the service needs no caller's identity`,
				`callers[0].impersonators[0].member "serviceAccount:orders-api-run@acme-test.iam.gserviceaccount.com": is the service's runtime account`,
			},
		},
		{
			// The runtime account named by email (the bootstrap's) is compared, not the derived one.
			name:  "an existing runtime account as impersonator",
			diags: []string{"Forbidden impersonators[0].member"},
			yaml: base + `    runtimeAccount: api-run@acme-test.iam.gserviceaccount.com
  private-run-api:impersonators:
    - serviceAccount:api-run@acme-test.iam.gserviceaccount.com
    - serviceAccount:orders-api-run@acme-test.iam.gserviceaccount.com
`,
			want: []string{`impersonators[0].member "serviceAccount:api-run@acme-test.iam.gserviceaccount.com": is the service's runtime account`},
		},
		{
			name:  "external callers: service agents and the bootstrap's CI accounts",
			diags: []string{"Forbidden callers[0].email", "Forbidden callers[1].email", "Forbidden callers[2].email", "Forbidden callers[3].email", "Forbidden callers[4].email", "Forbidden callers[5].email"},
			yaml: base + `
  private-run-api:callers:
    - name: run-agent
      email: service-123456789012@serverless-robot-prod.iam.gserviceaccount.com
    - name: build-agent
      email: service-123456789012@gcp-sa-cloudbuild.iam.gserviceaccount.com
    - name: apis-agent
      email: 123456789012@cloudservices.gserviceaccount.com
    - name: logging-sink
      email: p123456789012-abc123@gcp-sa-logging.iam.gserviceaccount.com
    - name: ci-preview
      email: ci-preview@acme-platform-ci.iam.gserviceaccount.com
    - name: ci-deploy
      email: ci-deploy@acme-platform-ci.iam.gserviceaccount.com
    - name: partner
      email: runner@partner.iam.gserviceaccount.com
`,
			want: []string{
				`callers[0].email "service-123456789012@serverless-robot-prod.iam.gserviceaccount.com": is a Google service agent, which acts for everyone allowed to use its service in its project: all of them could call the API; name the calling workload's own service account (<id>@<project>.iam.gserviceaccount.com)`,
				`callers[2].email "123456789012@cloudservices.gserviceaccount.com": is a Google service agent`,
				`callers[4].email "ci-preview@acme-platform-ci.iam.gserviceaccount.com": has the ID the bootstrap stack gives its CI preview account: CI jobs (every pull request's preview, for the preview account) could call the API; remove it; CI needs no caller grant`,
				`callers[5].email "ci-deploy@acme-platform-ci.iam.gserviceaccount.com": has the ID the bootstrap stack gives its CI deploy account`,
			},
		},
		{
			name:  "authz asked but guard off",
			diags: []string{"Forbidden callers[0].authz"},
			yaml: base + `
  private-run-api:authz:
    enabled: false
  private-run-api:callers:
    - name: orders-front
      authz: true
`,
			want: []string{`callers[0].authz "true": asks for the authz guard, but authz.enabled is false`},
		},
		{
			name:  "unknown keys at every level",
			diags: []string{"Unknown private-run-api:caller", "Unknown callers[0].invokes", "Unknown callers[0].impersonators[0].expire", "Unknown authz.bucketName"},
			yaml: base + `
  private-run-api:caller:
    - name: orders-batch
  private-run-api:callers:
    - name: orders-batch
      invokes: true
      impersonators:
        - member: user:a@acme.example
          expire: "2027-01-01T00:00:00Z"
  private-run-api:authz:
    bucketName: x
`,
			want: []string{
				`private-run-api:caller: is not a config key this program reads; did you mean "private-run-api:callers"?`,
				`callers[0].invokes: is not a known key; did you mean "invoke"?`,
				`callers[0].impersonators[0].expire: is not a known key; did you mean "expires"?`,
				`authz.bucketName: is not a known key`,
			},
		},
		{
			// The provider reads its own keys from the stack file too: a custom endpoint there
			// would hand the deploy identity's token to another host without any grant changing.
			name:  "provider settings in the stack file",
			diags: []string{"Forbidden aws:region", "Forbidden gcp:storageCustomEndpoint"},
			yaml: base + `  gcp:storageCustomEndpoint: https://storage.attacker.example/storage/v1/
  aws:region: us-east-1
`,
			want: []string{
				`gcp:storageCustomEndpoint: is a setting this program does not read: only gcp:project and gcp:region may sit beside its own keys; remove it; provider settings such as credentials or custom endpoints belong to the environment of a trusted run, never to a stack file a pull request can change`,
			},
		},
		{
			// The role outlives the guard, so its ID is checked with the guard off too.
			name:  "role ID with the guard off",
			diags: []string{"Invalid authz.roleId"},
			yaml: base + `  private-run-api:authz:
    enabled: false
    roleId: bad-role-id!
`,
			want: []string{`authz.roleId "bad-role-id!": must be 3-64 chars of a-z, A-Z, 0-9, _ and .`},
		},
		{
			name:  "wrong shapes",
			diags: []string{"Invalid impersonators[0]", "Invalid callers", "Invalid enableApis", "Invalid labels"},
			yaml: base + `
  private-run-api:callers:
    name: orders-batch
  private-run-api:labels: [a, b]
  private-run-api:enableApis: maybe
  private-run-api:impersonators:
    - 42
`,
			want: []string{
				`callers: is a mapping, expected a list`,
				`labels: is a list, expected a mapping`,
				`enableApis "maybe": does not parse; write true or false`,
				`impersonators[0]: is a number, expected a mapping`,
			},
		},
		{
			name:  "wrong field types",
			diags: []string{"Invalid service.port", "Invalid callers[0].invoke"},
			yaml: base + `
  private-run-api:callers:
    - name: orders-batch
      invoke: "yes"
`,
			raw: map[string]string{"private-run-api:service": `{"name":"orders-api","image":"x","port":"8080"}`},
			want: []string{
				`callers[0].invoke: is a string, expected true or false`,
				`service.port: is a string, expected a whole number`,
			},
		},
		{
			name:  "labels",
			diags: []string{"Invalid labels.Team", "Invalid labels.env"},
			yaml: base + `
  private-run-api:labels:
    Team: platform
    env: Dev Stage
`,
			want: []string{
				`labels.Team: is not a label key`,
				`labels.env "Dev Stage": is not a label value`,
			},
		},
		{
			name:  "bad project and region",
			diags: []string{"Invalid gcp:project", "Invalid gcp:region", "Invalid authz.bucket"},
			yaml: `
config:
  gcp:project: "My Project"
  gcp:region: tokyo
  private-run-api:service:
    name: orders-api
    image: gcr.io/acme/x
`,
			want: []string{
				`gcp:project "My Project": is not a project ID`,
				`gcp:region "tokyo": is not a Cloud Run region`,
			},
		},
		{
			name:  "images Cloud Run would refuse at deploy",
			diags: []string{"Invalid service.image"},
			yaml:  strings.Replace(base, "image: us-docker.pkg.dev/cloudrun/container/hello", "image: Bad_Name!!", 1),
			want:  []string{`service.image "Bad_Name!!": is not a container image reference (invalid reference format: repository name (library/Bad_Name!!) must be lowercase); write the repository path in lower case`},
		},
		{
			name:  "short digest and URL images",
			diags: []string{"Invalid service.image"},
			yaml:  strings.Replace(base, "image: us-docker.pkg.dev/cloudrun/container/hello", "image: gcr.io/acme/api@sha256:0123", 1),
			want:  []string{`service.image "gcr.io/acme/api@sha256:0123": is not a container image reference (invalid reference format); write the digest in full, @sha256: followed by 64 hex digits`},
		},
		{
			name:  "image as a URL",
			diags: []string{"Invalid service.image"},
			yaml:  strings.Replace(base, "image: us-docker.pkg.dev/cloudrun/container/hello", "image: https://gcr.io/acme/api:1", 1),
			want:  []string{`service.image "https://gcr.io/acme/api:1": is a URL, not a container image reference; drop the scheme`},
		},
		{
			name:  "minInstances above the default maximum, unknown image owner",
			diags: []string{"Invalid service.minInstances", "NotSupported service.imageOwner"},
			yaml: base + `    minInstances: 150
    imageOwner: ci
`,
			want: []string{
				`service.minInstances "150": is more than the default maxInstances (100); set service.maxInstances too, at least as high`,
				`service.imageOwner "ci": is not a known image owner; use "stack" (default`,
			},
		},
		{
			name:  "bucket with dots, unverified",
			diags: []string{"Forbidden authz.bucket"},
			yaml: base + `  private-run-api:authz:
    bucket: authz.orders.acme.example
`,
			want: []string{`authz.bucket "authz.orders.acme.example": has a dot: Cloud Storage creates such a bucket only for a domain verified as the deployer's; remove the dots, or set authz.bucketDomainVerified: true`},
		},
		{
			name:  "existing role: malformed, other project, with roleId and roleTitle",
			diags: []string{"Invalid authz.role", "Forbidden authz.roleId", "Forbidden authz.roleTitle"},
			yaml: base + `  private-run-api:authz:
    role: roles/storage.objectViewer
    roleId: ordersAuthz
    roleTitle: Orders
`,
			want: []string{
				`authz.role "roles/storage.objectViewer": is not a custom role's full name; write "projects/<project>/roles/<roleId>"`,
				`authz.roleId "ordersAuthz": is set together with authz.role; remove authz.roleId`,
				`authz.roleTitle "Orders": is set together with authz.role; remove authz.roleTitle`,
			},
		},
		{
			name:  "existing role of another project",
			diags: []string{"Forbidden authz.role"},
			yaml: base + `  private-run-api:authz:
    role: projects/acme-other/roles/ordersAuthz
`,
			want: []string{`authz.role "projects/acme-other/roles/ordersAuthz": is a custom role of project "acme-other", which cannot be granted on a bucket of "acme-test"; create the role in acme-test`},
		},
		{
			name:  "a deleted principal copied from a policy",
			diags: []string{"Forbidden impersonators[0].member"},
			yaml: base + `  private-run-api:impersonators:
    - deleted:user:gone@acme.example?uid=123456789
`,
			want: []string{`impersonators[0].member "deleted:user:gone@acme.example?uid=123456789": is how IAM shows a principal that was deleted; remove it from the stack config`},
		},
		{
			name:  "secrets: missing, malformed, both or neither use, clashing env and files",
			diags: []string{"Required service.secrets[0].secret", "Invalid service.secrets[1].secret", "Invalid service.secrets[1].version", "Duplicate service.secrets[2].env", "Forbidden service.secrets[3]", "Required service.secrets[4]", "Forbidden service.secrets[6].path", "Invalid service.secrets[7].path", "Forbidden service.secrets[8].path"},
			yaml: base + `    env:
      DB_PASSWORD: oops
    secrets:
      - env: TOKEN
      - secret: "my secret!"
        version: newest
        env: X
      - secret: db-password
        env: DB_PASSWORD
      - secret: api-key
        env: API_KEY
        path: /secrets/api/key
      - secret: api-key
      - secret: tls-cert
        path: /secrets/api/cert.pem
      - secret: tls-key
        path: /secrets/api/key.pem
      - secret: other
        path: secrets/relative
      - secret: kernel
        path: /proc/thing
`,
			want: []string{
				`service.secrets[0].secret: is missing`,
				`service.secrets[1].secret "my secret!": is not a Secret Manager secret ID or name`,
				`service.secrets[1].version "newest": is not "latest" or a version number`,
				`service.secrets[2].env "DB_PASSWORD": is also set by service.env.DB_PASSWORD; set each environment variable once`,
				`service.secrets[3] "api-key": sets both env and path; give each use of a secret its own entry`,
				`service.secrets[4] "api-key": says neither env nor path`,
				`service.secrets[6].path "/secrets/api/key.pem": is in /secrets/api, where another secret (projects/acme-test/secrets/tls-cert) is mounted; Cloud Run mounts one secret per directory`,
				`service.secrets[7].path "secrets/relative": is not a clean absolute file path`,
				`service.secrets[8].path "/proc/thing": would mount over /proc, which Cloud Run keeps for itself`,
			},
		},
		{
			name:  "secret mounts nested",
			diags: []string{"Forbidden service.secrets"},
			yaml: base + `    secrets:
      - secret: outer
        path: /secrets/a/file
      - secret: inner
        path: /secrets/a/b/file
`,
			want: []string{`service.secrets "/secrets/a/b": is inside /secrets/a, where another secret is mounted`},
		},
		{
			name:  "vpc: connector with direct egress, bad names, bad egress",
			diags: []string{"Forbidden service.vpc", "Invalid service.vpc.connector", "Invalid service.vpc.subnetwork", "Invalid service.vpc.tags[1]", "NotSupported service.vpc.egress"},
			yaml: base + `    vpc:
      connector: Bad Connector
      subnetwork: Orders_Subnet
      tags: [ok-tag, Bad_Tag]
      egress: everything
`,
			want: []string{
				`service.vpc "Bad Connector": sets a connector and Direct VPC egress (network, subnetwork, tags) together; choose one`,
				`service.vpc.connector "Bad Connector": is not a Serverless VPC Access connector`,
				`service.vpc.subnetwork "Orders_Subnet": is not a subnetwork`,
				`service.vpc.tags[1] "Bad_Tag": is not a network tag`,
				`service.vpc.egress "everything": is not a Cloud Run VPC egress setting; use "private-ranges-only" (default) or "all-traffic"`,
			},
		},
		{
			name:  "runtime account: default, other project, with runtimeAccountId",
			diags: []string{"Forbidden service.runtimeAccount"},
			yaml: base + `    runtimeAccount: 123456789012-compute@developer.gserviceaccount.com
`,
			want: []string{`service.runtimeAccount "123456789012-compute@developer.gserviceaccount.com": is a default service account, which holds broad project roles`},
		},
		{
			name:  "runtime account of another project, and an ID beside it",
			diags: []string{"Invalid service.runtimeAccount"},
			yaml: base + `    runtimeAccount: api-run@acme-other.iam.gserviceaccount.com
`,
			want: []string{`service.runtimeAccount "api-run@acme-other.iam.gserviceaccount.com": is not a service account of acme-test; write the email of an account in acme-test, ending in @acme-test.iam.gserviceaccount.com`},
		},
		{
			name:  "runtime account beside runtimeAccountId",
			diags: []string{"Forbidden service.runtimeAccountId"},
			yaml: base + `    runtimeAccount: api-run@acme-test.iam.gserviceaccount.com
    runtimeAccountId: api-runtime
`,
			want: []string{`service.runtimeAccountId "api-runtime": is set together with service.runtimeAccount; remove one`},
		},
		{
			name:  "vpc naming nothing",
			diags: []string{"Required service.vpc"},
			yaml: base + `    vpc:
      egress: all-traffic
`,
			want: []string{`service.vpc: names no network, subnetwork or connector; set subnetwork (Direct VPC egress) or connector, or remove service.vpc`},
		},
		{
			name:  "resources outside Cloud Run's limits",
			diags: []string{"Invalid service.cpu", "TooMany service.memory", "NotSupported service.executionEnvironment", "Invalid service.concurrency", "Invalid service.timeoutSeconds"},
			yaml: base + `    cpu: "3"
    memory: 64Gi
    concurrency: 1001
    timeoutSeconds: 3601
    executionEnvironment: gen3
`,
			want: []string{
				`service.cpu "3": is not a Cloud Run CPU limit; use "1", "2", "4", "6" or "8"`,
				`service.memory "64Gi": is more than Cloud Run's 32Gi`,
				`service.concurrency "1001": is outside Cloud Run's 1-1000 requests per instance`,
				`service.timeoutSeconds "3601": is outside Cloud Run's 1-3600 seconds`,
				`service.executionEnvironment "gen3": is not a Cloud Run execution environment`,
			},
		},
		{
			name:  "memory against CPU",
			diags: []string{"Invalid service.cpu"},
			yaml: base + `    cpu: "2"
    memory: 16Gi
`,
			want: []string{`service.cpu "2": is too little for memory 16Gi: more than 8Gi needs at least 4 CPU; raise service.cpu to 4, or lower service.memory`},
		},
		{
			name:  "CPU against memory",
			diags: []string{"Invalid service.memory"},
			yaml: base + `    cpu: "8"
    memory: 2Gi
`,
			want: []string{`service.memory "2Gi": is too little for 8 CPU, which needs at least 4Gi; raise service.memory to 4Gi, or lower service.cpu`},
		},
		{
			name:  "a fraction of a CPU",
			diags: []string{"Invalid service.cpu", "Forbidden service.concurrency", "Forbidden service.cpuAlwaysAllocated", "Forbidden service.executionEnvironment"},
			yaml: base + `    cpu: "0.5"
    memory: 2Gi
    concurrency: 10
    cpuAlwaysAllocated: true
    executionEnvironment: gen2
`,
			want: []string{
				`service.cpu "0.5": is too little for memory 2Gi: more than 1Gi needs at least 1 CPU`,
				`service.concurrency "10": is not allowed with a fraction of a CPU (0.5): Cloud Run requires 1`,
				`service.cpuAlwaysAllocated "true": is not allowed with a fraction of a CPU (0.5): CPU must be allocated only during requests`,
				`service.executionEnvironment "gen2": is not allowed with a fraction of a CPU (0.5): it needs the first generation`,
			},
		},
		{
			name:  "gen2 below its memory minimum",
			diags: []string{"Invalid service.memory"},
			yaml: base + `    memory: 256Mi
    executionEnvironment: gen2
`,
			want: []string{`service.memory "256Mi": is below Cloud Run's 512Mi minimum for this execution environment`},
		},
		{
			name:  "probes",
			diags: []string{"Required service.startupProbe", "Invalid service.startupProbe.timeoutSeconds", "TooMany service.startupProbe.failureThreshold", "Invalid service.livenessProbe.tcp", "Invalid service.livenessProbe.initialDelaySeconds"},
			yaml: base + `    startupProbe:
      periodSeconds: 60
      failureThreshold: 5
      timeoutSeconds: 90
    livenessProbe:
      tcp: true
      initialDelaySeconds: 300
`,
			want: []string{
				`service.startupProbe: says neither path (HTTP) nor tcp`,
				`service.startupProbe.timeoutSeconds "90": is longer than periodSeconds (60)`,
				`service.startupProbe.failureThreshold "5": times periodSeconds (60) is more than Cloud Run's 240 seconds for a container to start`,
				`service.livenessProbe.tcp "true": is not a Cloud Run liveness probe: liveness probes are HTTP or gRPC`,
				`service.livenessProbe.initialDelaySeconds "300": is outside Cloud Run's 0-240`,
			},
		},
		{
			name:  "unknown keys inside the new blocks",
			diags: []string{"Unknown service.startupProbe.paht", "Unknown service.vpc.subnet", "Required service.vpc", "Required service.startupProbe"},
			yaml: base + `    vpc:
      subnet: orders
    startupProbe:
      paht: /healthz
`,
			want: []string{`service.vpc.subnet: is not a known key; remove it; known keys: connector, egress, network, subnetwork, tags`, `service.startupProbe.paht: is not a known key; did you mean "path"?`},
		},
	}
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range append(badConfigCases(), runAsBadConfigCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackYAML(t, tc.yaml)
			for k, v := range tc.raw {
				cfg[k] = v
			}
			for _, dry := range []bool{false, true} {
				r := run(t, cfg, runOpts{dryRun: dry})
				if r.Err == nil {
					t.Fatalf("preview=%v: no error; want %q", dry, tc.want)
				}
				if len(r.Resources) != 0 {
					t.Errorf("preview=%v: %d resources registered for an invalid config:\n%s", dry, len(r.Resources), r.Listing())
				}
				msg := r.Err.Error()
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("preview=%v: error lacks %q; got:\n%s", dry, w, msg)
					}
				}
			}
			// The same problems through the pure entry point, listed once each.
			sf := config.StackFile{Namespace: project, Values: cfg}
			_, err := sf.Load()
			var cerr *diag.ConfigError
			if !errors.As(err, &cerr) {
				t.Fatalf("Load returned %T, want *diag.ConfigError", err)
			}
			// Every diagnostic, by type and path, in order: the structure tools act on.
			var got []string
			for _, d := range cerr.Diagnostics {
				got = append(got, string(d.Type)+" "+d.Path)
			}
			if !slices.Equal(got, tc.diags) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tc.diags)
			}
		})
	}
}

// configWarningCases are configs that deploy but warn: each warning, as "Type path", in order,
// and what a person reads.
func configWarningCases() []badConfigCase {
	return []badConfigCase{
		{
			// fixedNow is 2026-11-23: a year later is 2027-11-23T00:00:00Z, which does not warn.
			name:  "expiries more than a year away",
			diags: []string{"Invalid impersonators[1].expires", "Invalid callers[0].impersonators[0].expires"},
			yaml: base + `  private-run-api:impersonators:
    - member: user:hana.sato@acme.example
      expires: "2027-11-23T00:00:00Z"
    - member: user:contractor@partner.example
      expires: "2027-11-23T00:00:01Z"
  private-run-api:callers:
    - name: orders-batch
      impersonators:
        - member: user:kenji.ito@acme.example
          expires: "2031-01-01T09:00:00+09:00"
`,
			want: []string{
				`impersonators[1].expires "2027-11-23T00:00:01Z": is more than a year away (user:contractor@partner.example may impersonate until 2027-11-23T00:00:01Z): a grant that long is a standing grant nobody reviews; set an expiry within a year and renew it when it is still needed, or remove expires if the grant is meant to be permanent`,
				`callers[0].impersonators[0].expires "2031-01-01T00:00:00Z": is more than a year away (user:kenji.ito@acme.example may impersonate until 2031-01-01T00:00:00Z)`,
			},
		},
	}
}

func TestConfigWarnings(t *testing.T) {
	for _, tc := range configWarningCases() {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackYAML(t, tc.yaml)
			r := mustRun(t, cfg, runOpts{})
			all := strings.Join(r.warnings, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("warnings lack %q; got:\n%s", w, all)
				}
			}
			c, err := config.StackFile{Namespace: project, Values: cfg}.Load()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range plan.Resolve(c, fixedNow).Warnings {
				got = append(got, string(d.Type)+" "+d.Path)
			}
			if !slices.Equal(got, tc.diags) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tc.diags)
			}
		})
	}
}

// TestTooManyPrincipals checks IAM's 1,500-principal limit on one policy is enforced before
// anything is registered.
func TestTooManyPrincipals(t *testing.T) {
	var b strings.Builder
	b.WriteString(base + "  private-run-api:impersonators:\n")
	for i := 0; i < 1500; i++ {
		b.WriteString("    - user:dev" + itoa(i) + "@acme.example\n")
	}
	b.WriteString("  private-run-api:callers:\n    - name: orders-batch\n")
	r := run(t, stackYAML(t, b.String()), runOpts{})
	if r.Err == nil || !strings.Contains(r.Err.Error(), `callers[0].impersonators "1501": impersonators (with the defaults, the account itself and its run-as grants) exceed IAM's 1500 principals in one allow policy`) {
		t.Fatalf("err = %v", r.Err)
	}
	if len(r.Resources) != 0 {
		t.Errorf("%d resources registered", len(r.Resources))
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
