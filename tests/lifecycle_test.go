package tests

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/testcheck"
)

// The configs and changes below pass under mocks whatever the program does, because mocks echo
// inputs back; on a real `pulumi up` each broke or silently degraded a deploy. Each case pins the
// exact resources, names and dependencies that make it survive, in preview and in update mode.
func TestLifecycleTraps(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		check func(t *testing.T, r *result)
	}{
		{
			// Two expiries a fraction of a second apart (and the same instant in another zone)
			// used to group apart yet share a binding name: two resources with one URN.
			name: "expiries a fraction of a second apart are one grant",
			yaml: minimal + `  private-run-api:impersonators:
    - member: user:ann@acme.example
      expires: "2027-01-31T00:00:00.2Z"
    - member: user:bob@acme.example
      expires: "2027-01-31T00:00:00.7Z"
    - member: user:cy@acme.example
      expires: "2027-01-31T09:00:00.5+09:00"
`,
			check: func(t *testing.T, r *result) {
				grants := accountGrants(t, r)
				names := slices.Sorted(maps.Keys(grants))
				want := []string{"orders-batch-openid-self", "orders-batch-token-creator-expires-20270131t000000z"}
				if !reflect.DeepEqual(names, want) {
					t.Fatalf("account bindings = %v, want %v", names, want)
				}
				g := grants["orders-batch-token-creator-expires-20270131t000000z"]
				if !reflect.DeepEqual(g.Members, []string{"user:ann@acme.example", "user:bob@acme.example", "user:cy@acme.example"}) || g.Condition != `request.time < timestamp("2027-01-31T00:00:00Z")` {
					t.Errorf("the merged expiring grant = %+v", g)
				}
			},
		},
		{
			// A domain-scoped project's ID has a dot; a bucket name with one needs the domain
			// verified, so the derived name must not carry it.
			name: "domain-scoped project",
			yaml: strings.Replace(minimal, "gcp:project: acme-test", "gcp:project: example.com:acme-proj", 1),
			check: func(t *testing.T, r *result) {
				if got := r.Find(t, tBucket, "authz-bucket").Str("name"); got != "example-com-acme-proj-orders-api-authz" {
					t.Errorf("bucket name = %q", got)
				}
				if got := r.Find(t, tCustomRole, "authz-role").Str("project"); got != "example.com:acme-proj" {
					t.Errorf("role project = %q", got)
				}
				if got := invokersOf(t, r, "orders-api"); !reflect.DeepEqual(got, []string{"serviceAccount:orders-batch@acme-proj.example.com.iam.gserviceaccount.com"}) {
					t.Errorf("invokers = %v", got)
				}
			},
		},
		{
			name: "bucket name with dots on a verified domain",
			yaml: minimal + `    - name: orders-front
      authz: true
  private-run-api:authz:
    bucket: authz.orders.acme.example
    bucketDomainVerified: true
`,
			check: func(t *testing.T, r *result) {
				p := r.Find(t, tBucketPolicy, "authz-policy")
				if p.Str("bucket") != "authz.orders.acme.example" {
					t.Errorf("policy bucket = %q", p.Str("bucket"))
				}
			},
		},
		{
			// The bootstrap stack makes the role; the deploy identity holds no iam.roles.*.
			name: "authz role made elsewhere",
			yaml: minimal + `    - name: orders-front
      authz: true
  private-run-api:authz:
    role: projects/acme-test/roles/ordersApiAuthz
`,
			check: func(t *testing.T, r *result) {
				if n := len(r.ByType(tCustomRole)); n != 0 {
					t.Errorf("%d custom roles registered; authz.role names one made elsewhere", n)
				}
				p := policyOf(t, r.Find(t, tBucketPolicy, "authz-policy"))
				if len(p.Bindings) != 1 || p.Bindings[0].Role != "projects/acme-test/roles/ordersApiAuthz" {
					t.Errorf("bucket policy = %+v", p)
				}
				if r.Outputs["authzRole"] != "projects/acme-test/roles/ordersApiAuthz" {
					t.Errorf("authzRole output = %v", r.Outputs["authzRole"])
				}
			},
		},
		{
			// With the bootstrap stack the runtime account is the admin's: the deploy identity
			// then needs actAs on that one account only, and the program creates none.
			name: "runtime account made elsewhere",
			yaml: strings.Replace(minimal, "    image: us-docker.pkg.dev/cloudrun/container/hello\n", "    image: us-docker.pkg.dev/cloudrun/container/hello\n    runtimeAccount: orders-api-run@acme-test.iam.gserviceaccount.com\n    secrets:\n      - secret: db-password\n        env: DB_PASSWORD\n", 1),
			check: func(t *testing.T, r *result) {
				for _, a := range r.ByType(tAccount) {
					if a.Name == "orders-api-runtime" {
						t.Errorf("runtime account created though service.runtimeAccount names one")
					}
				}
				svc := r.Find(t, tService, "orders-api")
				if got := svc.Obj("template")["serviceAccount"].StringValue(); got != "orders-api-run@acme-test.iam.gserviceaccount.com" {
					t.Errorf("runs as %q", got)
				}
				if m := r.Find(t, tSecretIAM, "orders-api-secret-db-password"); m.Str("member") != "serviceAccount:orders-api-run@acme-test.iam.gserviceaccount.com" {
					t.Errorf("secret accessor = %q", m.Str("member"))
				}
				if r.Outputs["runtimeServiceAccount"] != "orders-api-run@acme-test.iam.gserviceaccount.com" {
					t.Errorf("runtimeServiceAccount output = %v", r.Outputs["runtimeServiceAccount"])
				}
			},
		},
		{
			// Only the minimum used to be sent; the API has refused that, and without a maximum
			// the server's default showed as a diff. Both go, always.
			name: "minInstances without maxInstances",
			yaml: strings.Replace(minimal, "    image: us-docker.pkg.dev/cloudrun/container/hello\n", "    image: us-docker.pkg.dev/cloudrun/container/hello\n    minInstances: 2\n", 1),
			check: func(t *testing.T, r *result) {
				sc := r.Find(t, tService, "orders-api").Obj("template")["scaling"].ObjectValue()
				if sc["minInstanceCount"].NumberValue() != 2 || sc["maxInstanceCount"].NumberValue() != 100 {
					t.Errorf("scaling = %v, want min 2 and max 100", sc)
				}
			},
		},
		{
			// Two secrets whose IDs differ only in "_" and "-", a full name of this project's, and
			// another project's secret whose project and ID run together like a local ID: one
			// grant each, none sharing a logical name.
			name: "secrets that look alike",
			yaml: strings.Replace(minimal, "    image: us-docker.pkg.dev/cloudrun/container/hello\n", `    image: us-docker.pkg.dev/cloudrun/container/hello
    secrets:
      - secret: db_pass
        env: DB_PASS_A
      - secret: db-pass
        env: DB_PASS_B
      - secret: projects/acme-test/secrets/db-pass
        env: DB_PASS_C
      - secret: acme-x
        env: X_LOCAL
      - secret: projects/acme/secrets/x
        env: X_OTHER
`, 1),
			check: func(t *testing.T, r *result) {
				var got []string
				for _, m := range r.ByType(tSecretIAM) {
					got = append(got, m.Name+" "+m.Str("project")+"/"+m.Str("secretId"))
				}
				slices.Sort(got)
				want := []string{
					"orders-api-secret-acme-x acme-test/acme-x",
					"orders-api-secret-acme/x acme/x",
					"orders-api-secret-db-pass acme-test/db-pass",
					"orders-api-secret-db_pass acme-test/db_pass",
				}
				testcheck.Lines(t, "secret grants", got, want)
			},
		},
		{
			name: "image owned by the app's pipeline",
			yaml: strings.Replace(minimal, "    image: us-docker.pkg.dev/cloudrun/container/hello\n", "    image: us-docker.pkg.dev/cloudrun/container/hello\n    imageOwner: pipeline\n", 1),
			check: func(t *testing.T, r *result) {
				svc := r.Find(t, tService, "orders-api")
				want := []string{"template.containers[0].image", "client", "clientVersion"}
				if !reflect.DeepEqual(svc.IgnoreChanges, want) {
					t.Errorf("ignoreChanges = %v, want %v", svc.IgnoreChanges, want)
				}
				// The first deploy still needs an image.
				if img := svc.Obj("template")["containers"].ArrayValue()[0].ObjectValue()["image"].StringValue(); img != "us-docker.pkg.dev/cloudrun/container/hello" {
					t.Errorf("first image = %q", img)
				}
			},
		},
		{
			name: "image owned by the stack (default)",
			yaml: minimal,
			check: func(t *testing.T, r *result) {
				if ic := r.Find(t, tService, "orders-api").IgnoreChanges; len(ic) != 0 {
					t.Errorf("ignoreChanges = %v; by default every `pulumi up` deploys service.image", ic)
				}
			},
		},
	}
	for _, tc := range cases {
		for _, dry := range []bool{false, true} {
			name := tc.name + "/update"
			if dry {
				name = tc.name + "/preview"
			}
			t.Run(name, func(t *testing.T) {
				r := mustRun(t, stackYAML(t, tc.yaml), runOpts{dryRun: dry})
				tc.check(t, r)
				checkInvariants(t, r, stackYAML(t, tc.yaml))
			})
		}
	}
}

// TestGuardOffAndOnAgain: turning the guard off removes the bucket and its policy but keeps the
// role, with the same URN and inputs, so turning it on again registers exactly what was there
// and never re-creates a role ID that Google blocks for weeks after a delete.
func TestGuardOffAndOnAgain(t *testing.T) {
	on := mustRun(t, stackYAML(t, minimal), runOpts{})
	off := mustRun(t, stackYAML(t, minimal+"  private-run-api:authz:\n    enabled: false\n"), runOpts{})
	again := mustRun(t, stackYAML(t, minimal+"  private-run-api:authz:\n    enabled: true\n"), runOpts{})

	roleOn, roleOff := on.Find(t, tCustomRole, "authz-role"), off.Find(t, tCustomRole, "authz-role")
	if roleOn.URN != roleOff.URN || !roleOn.Inputs.DeepEquals(roleOff.Inputs) {
		t.Errorf("the role changes when the guard goes off:\n on  %s %v\n off %s %v", roleOn.URN, roleOn.Inputs, roleOff.URN, roleOff.Inputs)
	}
	if len(off.ByType(tBucket)) != 0 || len(off.ByType(tBucketPolicy)) != 0 {
		t.Error("the bucket or its policy stays with the guard off")
	}
	if !reflect.DeepEqual(urnSet(on), urnSet(again)) {
		t.Errorf("on again registers %v, first time %v", urnSet(again), urnSet(on))
	}
}

func urnSet(r *result) []string {
	var out []string
	for _, x := range r.Resources {
		out = append(out, x.URN)
	}
	slices.Sort(out)
	return out
}
