package rules

import (
	"fmt"
	"strings"

	"github.com/platform/private-run-api/internal/gcp/policydoc"
)

// IAMKind is how a pulumi-gcp IAM resource states its grants.
type IAMKind int

// The three shapes every pulumi-gcp IAM resource comes in.
const (
	NotIAM IAMKind = iota
	// Binding is authoritative for one role: `role` and `members`.
	Binding
	// Member adds one principal to one role: `role` and `member`.
	Member
	// Policy is the whole allow policy of the target: `policyData`, a JSON document.
	Policy
)

// IAMKindOf classifies a type token. Every pulumi-gcp IAM resource follows one naming scheme
// (gcp:projects/iAMBinding:IAMBinding, gcp:cloudrunv2/serviceIamMember:ServiceIamMember,
// gcp:storage/bucketIAMPolicy:BucketIAMPolicy, ...), so matching the scheme covers the ~100 kinds
// of the provider, including ones added later, rather than a list that goes stale.
// gcp:projects/iamMemberRemove:IamMemberRemove removes a grant and does not match.
func IAMKindOf(typ string) IAMKind {
	if !strings.HasPrefix(typ, "gcp:") {
		return NotIAM
	}
	name := strings.ToLower(typ[strings.LastIndex(typ, ":")+1:])
	switch {
	case strings.HasSuffix(name, "iambinding"):
		return Binding
	case strings.HasSuffix(name, "iammember"):
		return Member
	case strings.HasSuffix(name, "iampolicy"):
		return Policy
	}
	return NotIAM
}

// module is the provider module of a type token: "projects" for gcp:projects/iAMMember:IAMMember.
func module(typ string) string {
	rest, ok := strings.CutPrefix(typ, "gcp:")
	if !ok {
		return ""
	}
	m, _, _ := strings.Cut(rest, "/")
	return m
}

// hierarchyLevel is "project", "folder" or "organization" for an IAM resource on a node of the
// resource hierarchy, "" otherwise. A grant there reaches every resource below it.
func hierarchyLevel(typ string) string {
	if IAMKindOf(typ) == NotIAM {
		return ""
	}
	switch module(typ) {
	case "projects":
		return "project"
	case "folder":
		return "folder"
	case "organizations":
		return "organization"
	}
	return ""
}

// onServiceAccount is true for IAM on one service account (gcp:serviceaccount/iAM*).
func onServiceAccount(typ string) bool {
	return IAMKindOf(typ) != NotIAM && module(typ) == "serviceaccount"
}

// Condition is an IAM condition as written in the resource.
type Condition struct {
	Title, Expression string
	// Known is false when the condition, or its expression, is unknown in a preview.
	Known bool
}

// Grant is one role for some principals, read from any of the three IAM shapes.
type Grant struct {
	Role      string
	RoleKnown bool
	// Members are the known principals; MembersUnknown says some were not known yet.
	Members        []string
	MembersUnknown bool
	// Condition is nil for an unconditional grant.
	Condition *Condition
}

// Grants reads the grants of an IAM resource. unknown is true when the grants cannot be read in
// a preview (a policyData computed from other outputs); err when policyData is not an IAM policy
// document at all.
func Grants(r Resource) (grants []Grant, unknown bool, err error) {
	p := r.Properties
	switch IAMKindOf(r.Type) {
	case Binding, Member:
		role := str(p.Get("role"))
		g := Grant{Role: role.s, RoleKnown: role.known}
		if IAMKindOf(r.Type) == Binding {
			g.Members, g.MembersUnknown = strList(p.Get("members"))
		} else {
			switch m := str(p.Get("member")); {
			case !m.known:
				g.MembersUnknown = true
			case m.s != "":
				g.Members = []string{m.s}
			}
		}
		if c := p.Get("condition"); c.IsComputed() {
			g.Condition = &Condition{}
		} else if c.IsMap() {
			title, expr := str(c.AsMap().Get("title")), str(c.AsMap().Get("expression"))
			g.Condition = &Condition{Title: title.s, Expression: expr.s, Known: title.known && expr.known}
		}
		return []Grant{g}, false, nil
	case Policy:
		data := str(p.Get("policyData"))
		if !data.known {
			return nil, true, nil
		}
		if !data.set {
			return nil, false, nil
		}
		return parsePolicyData(data.s)
	}
	return nil, false, nil
}

// parsePolicyData reads the grants of an IAM policy document (the JSON the provider takes as
// policyData, as rendered by getIAMPolicy).
func parsePolicyData(data string) ([]Grant, bool, error) {
	doc, err := policydoc.Parse([]byte(data))
	if err != nil {
		return nil, false, fmt.Errorf("policyData is not an IAM policy document: %v", err)
	}
	grants := make([]Grant, 0, len(doc.Bindings))
	for _, b := range doc.Bindings {
		g := Grant{Role: b.Role, RoleKnown: true, Members: b.Members}
		if b.Condition != nil {
			g.Condition = &Condition{Title: b.Condition.Title, Expression: b.Condition.Expression, Known: true}
		}
		grants = append(grants, g)
	}
	return grants, false, nil
}
