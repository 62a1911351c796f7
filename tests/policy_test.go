package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/platform/private-run-api/iam"
	"github.com/platform/private-run-api/internal/mocktest"
	"github.com/platform/private-run-api/policy/rules"
)

// policyConfig is the pack's config for this program. Every custom role the program registers
// is its authz guard's, whatever roleId the stack config gives it, so every custom role must hold
// exactly storage.buckets.get, not only those whose name says "authz".
const policyConfig = `{"authz-role-only-buckets-get": {"guardRolePattern": ".*"}}`

// expectedAdvisories are the people each stack lets impersonate a caller with no expiry: the
// advisory policy impersonation-grants-expire names each of them, and nothing else is reported.
var expectedAdvisories = map[string][]string{
	"dev":                                   {"user:kenji.ito@acme.example"},
	"minimal":                               nil,
	"guard off, apis off, internal ingress": nil,
	"callers named like the program's own resources": {"user:dev@acme.example"},
	"external only, expiring grants":                 nil,
	"authz role made elsewhere":                      nil,
}

// authzRoleElsewhere names the guard's role with authz.role: the stack holds no definition of it.
const authzRoleElsewhere = minimal + `    - name: orders-front
      authz: true
  private-run-api:authz:
    role: projects/acme-test/roles/madeByBootstrap
`

// policyResources is what the pack's policies see of a run: the inputs of every registration,
// converted as policyx converts what the engine sends.
func policyResources(r *result) []rules.Resource {
	out := make([]rules.Resource, 0, len(r.Resources))
	for _, x := range r.Resources {
		out = append(out, rules.Resource{Type: x.Type, URN: x.URN, Name: x.Name, Properties: resource.FromResourcePropertyMap(x.Inputs)})
	}
	return out
}

// TestPolicyPackKnowsTheGuardComponent: the pack recognises the guard's role named by authz.role
// through the component's type, which it spells on its own (it imports nothing of the program).
func TestPolicyPackKnowsTheGuardComponent(t *testing.T) {
	if rules.AuthzGuardType != iam.AuthzGuardType {
		t.Fatalf("rules.AuthzGuardType = %q, the program registers %q", rules.AuthzGuardType, iam.AuthzGuardType)
	}
	const role = "projects/acme-test/roles/madeByBootstrap"
	for _, dry := range []bool{false, true} {
		r := mustRun(t, stackYAML(t, authzRoleElsewhere), runOpts{dryRun: dry})
		for name, extra := range map[string]rules.Resource{
			"a partial grant on the guard's bucket": added("gcp:storage/bucketIAMMember:BucketIAMMember", map[string]any{
				"bucket": "acme-test-orders-api-authz", "role": role, "member": "user:eve@acme.example"}),
			"a project-level grant": added("gcp:projects/iAMMember:IAMMember", map[string]any{
				"project": "acme-test", "role": role, "member": "group:everyone@acme.example"}),
		} {
			vs := checkPolicies(t, append(policyResources(r), extra))
			if !slices.ContainsFunc(vs, func(v rules.Violation) bool {
				return v.Policy == "authz-bucket-iam-one-policy" && v.URN == extra.URN && v.Level == policyx.EnforcementLevelMandatory
			}) {
				t.Errorf("preview=%v: %s of the role authz.role names passed: %v", dry, name, vs)
			}
		}
	}
}

// added is a resource the program never registers, as a policy would see it in the same stack.
func added(typ string, props map[string]any) rules.Resource {
	return rules.Resource{Type: typ, URN: "urn:pulumi:dev::private-run-api::" + typ + "::added", Name: "added",
		Properties: resource.FromResourcePropertyMap(resource.NewPropertyMapFromMap(props))}
}

func checkPolicies(t *testing.T, rs []rules.Resource) []rules.Violation {
	t.Helper()
	c, err := rules.ParseConfig([]byte(policyConfig))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := rules.CheckStackWith(rs, c)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestPolicyPackOverEveryStack runs every policy of the pack, resource-level and stack-level,
// over every resource the program registers for the dev stack and the invariant stacks, in
// preview and in update mode.
func TestPolicyPackOverEveryStack(t *testing.T) {
	stacks := map[string]map[string]string{"dev": exampleStack(t)}
	for name, text := range invariantStacks {
		stacks[name] = stackYAML(t, text)
	}
	stacks["authz role made elsewhere"] = stackYAML(t, authzRoleElsewhere)
	for name, cfg := range stacks {
		want, ok := expectedAdvisories[name]
		if !ok {
			t.Errorf("stack %q has no entry in expectedAdvisories", name)
		}
		for _, dry := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/preview=%v", name, dry), func(t *testing.T) {
				r := mustRun(t, cfg, runOpts{dryRun: dry})
				var flagged []string
				for _, v := range checkPolicies(t, policyResources(r)) {
					if v.Level != policyx.EnforcementLevelAdvisory || v.Policy != "impersonation-grants-expire" {
						t.Errorf("%s", v)
						continue
					}
					i := slices.IndexFunc(want, func(m string) bool { return strings.Contains(v.Message, " to "+m+" ") })
					if i < 0 {
						t.Errorf("unexpected advisory: %s", v)
						continue
					}
					flagged = append(flagged, want[i])
				}
				for _, m := range want {
					if !slices.Contains(flagged, m) {
						t.Errorf("no advisory for %s, who may impersonate with no expiry", m)
					}
				}
			})
		}
	}
}

// TestPolicyPackSeesTheProgramsShapes tampers with what the program registered, one way per
// policy, and expects that policy to object. It keeps the test above from passing because the
// policies read the program's properties in a shape they are not in.
func TestPolicyPackSeesTheProgramsShapes(t *testing.T) {
	for _, dry := range []bool{false, true} {
		t.Run(fmt.Sprintf("preview=%v", dry), func(t *testing.T) {
			r := mustRun(t, exampleStack(t), runOpts{dryRun: dry})
			if vs := checkPolicies(t, policyResources(r)); slices.ContainsFunc(vs, func(v rules.Violation) bool {
				return v.Level == policyx.EnforcementLevelMandatory
			}) {
				t.Fatalf("the dev stack breaks a mandatory policy before tampering: %v", vs)
			}
			tampers := []struct {
				policy string
				typ    string
				edit   func(in resource.PropertyMap)
			}{
				{"no-public-principals", tServicePolicy, func(in resource.PropertyMap) {
					in["policyData"] = resource.NewProperty(`{"bindings":[{"members":["allUsers"],"role":"roles/run.invoker"}]}`)
				}},
				{"run-invoker-service-accounts-only", tServicePolicy, func(in resource.PropertyMap) {
					in["policyData"] = resource.NewProperty(`{"bindings":[{"members":["user:eve@acme.example"],"role":"roles/run.invoker"}]}`)
				}},
				{"run-as-dedicated-service-account", tService, func(in resource.PropertyMap) {
					tmpl := in["template"].ObjectValue().Copy()
					delete(tmpl, "serviceAccount")
					in["template"] = resource.NewProperty(tmpl)
				}},
				{"bucket-uniform-access-public-prevention", tBucket, func(in resource.PropertyMap) {
					in["publicAccessPrevention"] = resource.NewProperty("inherited")
				}},
				{"authz-role-only-buckets-get", tCustomRole, func(in resource.PropertyMap) {
					in["permissions"] = resource.NewProperty(append(in["permissions"].ArrayValue(), resource.NewProperty("storage.objects.get")))
				}},
				{"impersonation-grants-expire", tAccountPolicy, func(in resource.PropertyMap) {
					in["policyData"] = resource.NewProperty(`{"bindings":[{"members":["user:eve@acme.example"],"role":"roles/iam.serviceAccountTokenCreator"}]}`)
				}},
				{"impersonation-only-on-service-accounts", tServicePolicy, func(in resource.PropertyMap) {
					in["policyData"] = resource.NewProperty(`{"bindings":[{"members":["user:eve@acme.example"],"role":"roles/iam.serviceAccountUser"}]}`)
				}},
				{"impersonation-only-to-named-principals", tAccountPolicy, func(in resource.PropertyMap) {
					in["policyData"] = resource.NewProperty(`{"bindings":[{"members":["principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/*"],"role":"roles/iam.serviceAccountTokenCreator"}]}`)
				}},
				{"run-invoker-service-accounts-only", tServicePolicy, func(in resource.PropertyMap) {
					in["policyData"] = resource.NewProperty(`{"bindings":[{"members":["group:devs@acme.example"],"role":"roles/run.developer"}]}`)
				}},
				{"custom-role-grants", tCustomRole, func(in resource.PropertyMap) {
					// The guard's role, granted on its bucket, now mints tokens.
					in["permissions"] = resource.NewProperty(append(in["permissions"].ArrayValue(), resource.NewProperty("iam.serviceAccounts.getAccessToken")))
				}},
				{"authz-bucket-iam-one-policy", tBucketPolicy, func(in resource.PropertyMap) {
					// The guard's grant as a partial binding instead of the whole policy.
					p := policyOf(t, mocktest.Resource{Name: "authz-policy", Inputs: in})
					delete(in, "policyData")
					in["role"] = resource.NewProperty(p.Bindings[0].Role)
					in["members"] = resource.NewPropertyValue(p.Bindings[0].Members)
				}},
			}
			for _, tc := range tampers {
				rs := policyResources(r)
				i := slices.IndexFunc(r.Resources, func(x mocktest.Resource) bool { return x.Type == tc.typ })
				if i < 0 {
					t.Fatalf("the dev stack registers no %s", tc.typ)
				}
				in := r.Resources[i].Inputs.Copy()
				tc.edit(in)
				typ := tc.typ
				if tc.policy == "authz-bucket-iam-one-policy" {
					typ = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
				}
				rs[i] = rules.Resource{Type: typ, URN: rs[i].URN, Name: rs[i].Name, Properties: resource.FromResourcePropertyMap(in)}
				if !slices.ContainsFunc(checkPolicies(t, rs), func(v rules.Violation) bool { return v.Policy == tc.policy }) {
					t.Errorf("%s did not object to a tampered %s", tc.policy, tc.typ)
				}
			}
			// Resources the program never registers, added to its stack.
			for policy, extra := range map[string]rules.Resource{
				"no-service-account-keys": added("gcp:serviceaccount/key:Key", map[string]any{"serviceAccountId": "x"}),
				"impersonation-only-on-service-accounts": added("gcp:projects/iAMMember:IAMMember", map[string]any{
					"project": "acme-platform-dev", "role": "roles/iam.serviceAccountTokenCreator", "member": "group:devs@acme.example"}),
				"no-public-principals": added("gcp:storage/bucketAccessControl:BucketAccessControl", map[string]any{
					"bucket": "acme-platform-dev-orders-api-authz", "entity": "allUsers", "role": "READER"}),
				"impersonation-only-to-named-principals": added("gcp:serviceaccount/iAMBinding:IAMBinding", map[string]any{
					"role": "roles/iam.serviceAccountTokenCreator", "members": []string{"domain:gmail.com"}}),
			} {
				if !slices.ContainsFunc(checkPolicies(t, append(policyResources(r), extra)), func(v rules.Violation) bool { return v.Policy == policy }) {
					t.Errorf("%s did not object to an added %s", policy, extra.Type)
				}
			}
		})
	}
}
