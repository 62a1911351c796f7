// Package policydoc reads Google's allow policy (google.iam.v1.Policy) as JSON, the one form
// every reader here meets it in: the policyData document the program gives the provider, and
// the Policy type of each Google API client (cloudresourcemanager, run, iam, storage,
// secretmanager), all of which marshal to that same JSON. One reader, so that the access
// report, the doctor, the policy pack and the tests cannot disagree about a binding.
//
// It only reads. The program renders its policies in package iam, whose type of its own keeps
// the field order and omissions the provider's documents have.
package policydoc

import "encoding/json"

// Policy is the part of an allow policy that grants anything: its bindings.
type Policy struct {
	Bindings []Binding `json:"bindings"`
}

// Binding grants Role to Members, under Condition when there is one.
type Binding struct {
	Role      string     `json:"role"`
	Members   []string   `json:"members"`
	Condition *Condition `json:"condition"`
}

// Condition is a binding's IAM condition: a CEL expression, with the title the program (or
// whoever wrote it) gave it.
type Condition struct {
	Title      string `json:"title"`
	Expression string `json:"expression"`
}

// Parse reads a policy document, such as a resource's policyData.
func Parse(data []byte) (Policy, error) {
	var p Policy
	err := json.Unmarshal(data, &p)
	return p, err
}

// Of reads any Google API client's policy value (a *cloudresourcemanager.Policy, a
// *run.GoogleIamV1Policy, ...) through the JSON it marshals to.
func Of(policy any) (Policy, error) {
	data, err := json.Marshal(policy)
	if err != nil {
		return Policy{}, err
	}
	return Parse(data)
}
