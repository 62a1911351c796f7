package mocktest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// twoResources registers an account and a bucket whose label is taken from the account's
// computed email (unknown in a preview) and whose location is a secret.
func twoResources(ctx *pulumi.Context, _ func(string, pulumi.Input)) error {
	acct, err := serviceaccount.NewAccount(ctx, "acct", &serviceaccount.AccountArgs{
		Project: pulumi.String("acme-test"), AccountId: pulumi.String("orders-batch"),
	})
	if err != nil {
		return err
	}
	_, err = storage.NewBucket(ctx, "bucket", &storage.BucketArgs{
		Name:     pulumi.String("acme-test-bucket"),
		Location: pulumi.ToSecret(pulumi.String("US")).(pulumi.StringOutput),
		Labels:   pulumi.StringMap{"owner": acct.Email, "team": pulumi.String("platform")},
	})
	return err
}

func emailOutput(typ string, inputs, state resource.PropertyMap) {
	if typ == "gcp:serviceaccount/account:Account" {
		state["email"] = resource.NewProperty("orders-batch@acme-test.iam.gserviceaccount.com")
	}
}

func readRegistrations(t *testing.T, path string) Registrations {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var regs Registrations
	if err := json.Unmarshal(data, &regs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return regs
}

func find(t *testing.T, regs Registrations, name string) Registration {
	t.Helper()
	for _, r := range regs.Resources {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no registration %q in %+v", name, regs.Resources)
	return Registration{}
}

func TestWriteRegistrations(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(RegistrationsDirEnv, dir)
	cfg := map[string]string{"gcp:project": "acme-test", "gcp:region": "us-central1"}

	up := Run(&Mocks{Project: "p", Stack: "s", Outputs: emailOutput}, cfg, twoResources)
	preview := Run(&Mocks{Project: "p", Stack: "s", DryRun: true, Outputs: emailOutput}, cfg, twoResources)
	if up.Err != nil || preview.Err != nil {
		t.Fatalf("runs failed: %v, %v", up.Err, preview.Err)
	}
	WriteRegistrations(t, "x", cfg, up)
	WriteRegistrations(t, "x", cfg, preview)
	WriteRegistrations(t, "x", cfg, &Result{}) // a refused config registers nothing: no file

	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"x.TestWriteRegistrations.2.json", "x.TestWriteRegistrations.json"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("files %q, want %q", names, want)
	}

	got := readRegistrations(t, filepath.Join(dir, "x.TestWriteRegistrations.json"))
	if !reflect.DeepEqual(got.Config, cfg) {
		t.Errorf("config %v, want %v", got.Config, cfg)
	}
	acct := find(t, got, "acct")
	if acct.Type != "gcp:serviceaccount/account:Account" || acct.URN != "urn:pulumi:s::p::gcp:serviceaccount/account:Account::acct" {
		t.Errorf("account registered as %s %s", acct.Type, acct.URN)
	}
	if acct.Inputs["accountId"] != "orders-batch" || acct.Outputs["email"] != "orders-batch@acme-test.iam.gserviceaccount.com" {
		t.Errorf("account inputs %v, outputs %v", acct.Inputs, acct.Outputs)
	}
	bucket := find(t, got, "bucket")
	if bucket.Inputs["location"] != "US" {
		t.Errorf("secret location written as %#v, want the plain value", bucket.Inputs["location"])
	}
	if want := map[string]any{"owner": "orders-batch@acme-test.iam.gserviceaccount.com", "team": "platform"}; !reflect.DeepEqual(bucket.Inputs["labels"], want) {
		t.Errorf("labels %v, want %v", bucket.Inputs["labels"], want)
	}

	// In a preview the email is unknown, and the SDK's mock monitor drops unknown inputs: the
	// label is missing, the rest kept.
	pre := find(t, readRegistrations(t, filepath.Join(dir, "x.TestWriteRegistrations.2.json")), "bucket")
	if want := map[string]any{"team": "platform"}; !reflect.DeepEqual(pre.Inputs["labels"], want) {
		t.Errorf("preview labels %v, want %v", pre.Inputs["labels"], want)
	}
}

// An unknown value that does reach a registration (computed, or an unknown output, at any
// depth) is written as Pulumi's unknown sentinel, which the checker reads as unknown.
func TestUnknownsAsSentinel(t *testing.T) {
	unknown := resource.MakeComputed(resource.NewProperty(""))
	inputs := resource.PropertyMap{
		"a": unknown,
		"b": resource.NewProperty(resource.Output{Known: false}),
		"c": resource.NewProperty([]resource.PropertyValue{resource.NewProperty("x"), unknown}),
		"d": resource.NewProperty(resource.PropertyMap{"e": unknown}),
		"f": resource.NewProperty(resource.Output{Known: true, Element: resource.NewProperty(3.0)}),
	}
	got := NewRegistrations(nil, []Resource{{Type: "t", Name: "n", Inputs: inputs}}).Resources[0].Inputs
	u := plugin.UnknownStringValue
	want := map[string]any{"a": u, "b": u, "c": []any{"x", u}, "d": map[string]any{"e": u}, "f": 3.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inputs %v, want %v", got, want)
	}
}

func TestWriteRegistrationsOffByDefault(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(RegistrationsDirEnv, "")
	t.Chdir(dir) // nothing may land in the working directory either
	r := Run(&Mocks{Project: "p", Stack: "s"}, nil, twoResources)
	WriteRegistrations(t, "x", nil, r)
	if entries, _ := os.ReadDir(dir); len(r.Resources) == 0 || len(entries) != 0 {
		t.Errorf("%d resources, %d files written with %s unset", len(r.Resources), len(entries), RegistrationsDirEnv)
	}
}
