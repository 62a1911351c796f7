package policydoc

import (
	"reflect"
	"testing"

	crm "google.golang.org/api/cloudresourcemanager/v3"
	run "google.golang.org/api/run/v2"
)

func TestParse(t *testing.T) {
	p, err := Parse([]byte(`{"bindings":[{"role":"roles/run.invoker","members":["user:a@acme.example"]},` +
		`{"condition":{"expression":"request.time < timestamp(\"2027-01-31T00:00:00Z\")","title":"expires-2027-01-31"},"members":["user:b@acme.example"],"role":"roles/viewer"}],"etag":"BwX="}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{Bindings: []Binding{
		{Role: "roles/run.invoker", Members: []string{"user:a@acme.example"}},
		{Role: "roles/viewer", Members: []string{"user:b@acme.example"}, Condition: &Condition{Title: "expires-2027-01-31", Expression: `request.time < timestamp("2027-01-31T00:00:00Z")`}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Parse = %+v, want %+v", p, want)
	}
	if _, err := Parse([]byte(`{"bindings":{}}`)); err == nil {
		t.Error("bindings that are not a list were read")
	}
}

// Two clients' own Policy types read the same.
func TestOfClients(t *testing.T) {
	want := Policy{Bindings: []Binding{{Role: "roles/owner", Members: []string{"user:o@acme.example"}, Condition: &Condition{Title: "t", Expression: "e"}}}}
	for name, policy := range map[string]any{
		"cloudresourcemanager": &crm.Policy{Bindings: []*crm.Binding{{Role: "roles/owner", Members: []string{"user:o@acme.example"}, Condition: &crm.Expr{Title: "t", Expression: "e"}}}},
		"run":                  &run.GoogleIamV1Policy{Bindings: []*run.GoogleIamV1Binding{{Role: "roles/owner", Members: []string{"user:o@acme.example"}, Condition: &run.GoogleTypeExpr{Title: "t", Expression: "e"}}}},
	} {
		p, err := Of(policy)
		if err != nil || !reflect.DeepEqual(p, want) {
			t.Errorf("%s: Of = %+v, %v; want %+v", name, p, err, want)
		}
	}
	if p, err := Of(&crm.Policy{}); err != nil || len(p.Bindings) != 0 {
		t.Errorf("an empty policy: %+v, %v", p, err)
	}
}
