package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/diag"
	"github.com/platform/private-run-api/internal/teststack"
)

// loadAudiences loads teststack.Header (service orders-api, project acme-test) with
// service.audiences set to list, and returns the problems reported on service.audiences (as
// "Type path", in order) and the error's text.
func loadAudiences(t *testing.T, project string, list []string) ([]string, string) {
	t.Helper()
	sf := teststack.Parse(t, teststack.Header)
	raw, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	var svc map[string]any
	if err := json.Unmarshal([]byte(sf.Values["private-run-api:service"]), &svc); err != nil {
		t.Fatal(err)
	}
	svc["audiences"] = json.RawMessage(raw)
	b, _ := json.Marshal(svc)
	sf.Values["private-run-api:service"] = string(b)
	if project != "" {
		sf.Values["gcp:project"] = project
	}
	_, err = sf.Load()
	if err == nil {
		return nil, ""
	}
	var ce *diag.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("not a config error: %v", err)
	}
	var got []string
	for _, d := range ce.Diagnostics {
		if strings.HasPrefix(d.Path, "service.audiences") {
			got = append(got, string(d.Type)+" "+d.Path)
		}
	}
	if len(got) != len(ce.Diagnostics.Errors()) {
		t.Errorf("problems outside service.audiences: %v", err)
	}
	return got, err.Error()
}

// TestAudiences walks the rule's boundaries: the one form https://<service>.<project>.<domain>,
// and what Cloud Run compares as another string. The project is acme-test unless a case names
// another.
func TestAudiences(t *testing.T) {
	// Lists the rule accepts.
	for _, tc := range []struct {
		name, project string
		list          []string
	}{
		{"the form", "", []string{"https://orders-api.acme-test.internal"}},
		{"a domain of one's own, several labels", "", []string{"https://orders-api.acme-test.api.acme.example"}},
		{"two, in any order", "", []string{"https://orders-api.acme-test.internal", "https://orders-api.acme-test.acme.example"}},
		{"domain-scoped project", "example.com:acme-test", []string{"https://orders-api.example-com-acme-test.internal"}},
		{"none", "", nil},
		{"label of 63", "", []string{"https://orders-api.acme-test." + strings.Repeat("a", 63) + ".internal"}},
		{"host of 253", "", []string{"https://" + hostOf(t, 253)}},
		{"run.app as a label inside is fine", "", []string{"https://orders-api.acme-test.run.app.acme.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, msg := loadAudiences(t, tc.project, tc.list); got != nil {
				t.Errorf("refused with %v\n%s", got, msg)
			}
		})
	}

	// One audience, refused with one problem at service.audiences[0] of the type it is listed
	// under; want, when given, is in the error.
	for typ, cases := range map[string][]struct{ name, project, audience, want string }{
		"Forbidden": {
			{name: "service only, as issue 20 first wrote it", audience: "https://orders-api.internal", want: `service.audiences[0] "https://orders-api.internal": does not name this service and project: it must be https://orders-api.acme-test.<domain>, because every service (in any project) that declares the same custom audience accepts the same ID tokens, so a token sent to one could be replayed at the other; write https://orders-api.acme-test.internal`},
			{name: "project and service swapped", audience: "https://acme-test.orders-api.acme.example", want: "write https://orders-api.acme-test.acme.example"},
			{name: "service name as part of a label", audience: "https://orders-api-v2.acme-test.internal", want: "write https://orders-api.acme-test.orders-api-v2.internal"},
			{name: "service and project but no domain", audience: "https://orders-api.acme-test", want: "write https://orders-api.acme-test.internal"},
			{name: "another project", audience: "https://orders-api.acme-prod.internal", want: "write https://orders-api.acme-test.acme-prod.internal"},
			{name: "project label further right", audience: "https://orders-api.eu.acme-test.internal"},
			{name: "domain-scoped project written as the bare ID", project: "example.com:acme-test", audience: "https://orders-api.acme-test.internal", want: "it must be https://orders-api.example-com-acme-test.<domain>"},
			{name: "under run.app", audience: "https://orders-api.acme-test.run.app", want: "is under run.app, Google's domain for Cloud Run URLs"},
			{name: "a run.app URL", audience: "https://orders-api-abcdefghij-uc.a.run.app", want: "is under run.app"},
		},
		"Invalid": {
			{name: "not https", audience: "http://orders-api.acme-test.internal", want: "is not an https:// URL; write it as https://orders-api.acme-test.internal"},
			{name: "a bare name, which Google accepts", audience: "orders-api", want: "is not an https:// URL"},
			{name: "upper-case scheme", audience: "HTTPS://orders-api.acme-test.internal"},
			{name: "trailing slash", audience: "https://orders-api.acme-test.internal/", want: `ends in "/": Cloud Run compares audiences as exact strings, so it would be another audience than the one without; write it without the slash: https://orders-api.acme-test.internal`},
			{name: "path", audience: "https://orders-api.acme-test.internal/v1", want: "has a path, port, query, fragment or user name"},
			{name: "port", audience: "https://orders-api.acme-test.internal:443", want: "write https://orders-api.acme-test.internal"},
			{name: "query", audience: "https://orders-api.acme-test.internal?x=1"},
			{name: "fragment", audience: "https://orders-api.acme-test.internal#x"},
			{name: "user", audience: "https://me@orders-api.acme-test.internal", want: "write https://orders-api.acme-test.internal"},
			{name: "upper case", audience: "https://Orders-API.acme-test.internal", want: "write it in lower case: https://orders-api.acme-test.internal"},
			{name: "empty label", audience: "https://orders-api..internal"},
			{name: "label ending in a hyphen", audience: "https://orders-api.acme-test.internal-"},
			{name: "underscore", audience: "https://orders-api.acme-test.my_domain"},
			{name: "label of 64", audience: "https://orders-api.acme-test." + strings.Repeat("a", 64) + ".internal"},
			{name: "look-alike character", audience: "https://оrders-api.acme-test.internal", want: "has U+043E CYRILLIC SMALL LETTER O at character 9"},
		},
		"TooLong": {
			{name: "host of 254", audience: "https://" + hostOf(t, 254), want: "longer than DNS's 253 characters"},
		},
		"Required": {
			{name: "empty", audience: ""},
		},
	} {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, msg := loadAudiences(t, tc.project, []string{tc.audience})
				if want := []string{typ + " service.audiences[0]"}; !slices.Equal(got, want) {
					t.Errorf("problems %v, want %v\n%s", got, want, msg)
				}
				if tc.want != "" && !strings.Contains(msg, tc.want) {
					t.Errorf("error lacks %q:\n%s", tc.want, msg)
				}
			})
		}
	}

	// Several audiences: each problem is reported at its own index, all at once.
	for _, tc := range []struct {
		name  string
		list  []string
		diags []string
		want  string
	}{
		{name: "duplicate", list: []string{"https://orders-api.acme-test.internal", "https://orders-api.acme-test.acme.example", "https://orders-api.acme-test.internal"},
			diags: []string{"Duplicate service.audiences[2]"}, want: `service.audiences[2] "https://orders-api.acme-test.internal": is also service.audiences[0]; list each audience once`},
		{name: "every problem at once", list: []string{"https://orders-api.internal", "http://x", "https://orders-api.acme-test.internal/"},
			diags: []string{"Forbidden service.audiences[0]", "Invalid service.audiences[1]", "Invalid service.audiences[2]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := loadAudiences(t, "", tc.list)
			if !slices.Equal(got, tc.diags) {
				t.Errorf("problems %v, want %v\n%s", got, tc.diags, msg)
			}
			if tc.want != "" && !strings.Contains(msg, tc.want) {
				t.Errorf("error lacks %q:\n%s", tc.want, msg)
			}
		})
	}
}

// hostOf is a host of the required form, n characters long.
func hostOf(t *testing.T, n int) string {
	h := "orders-api.acme-test"
	for len(h)+len(".internal") < n {
		h += "." + strings.Repeat("a", min(63, n-len(h)-len(".internal")-1))
	}
	h += ".internal"
	if len(h) != n {
		t.Fatalf("built a host of %d characters, want %d", len(h), n)
	}
	return h
}

// TestAudiencesJSONLimit holds the list to Cloud Run's 32,768 characters of JSON, at the boundary.
func TestAudiencesJSONLimit(t *testing.T) {
	// Each audience is "https://orders-api.acme-test.<label>.internal", distinct by its label.
	build := func(total int) []string {
		var list []string
		size := 1 // "["
		for i := 0; ; i++ {
			a := fmt.Sprintf("https://orders-api.acme-test.a%05d.internal", i)
			if size+len(a)+3 > total-10 { // quotes and a comma (or the closing "]"); room to pad
				break
			}
			list = append(list, a)
			size += len(a) + 3
		}
		// Pad the last audience's label up to the exact size.
		last := list[len(list)-1]
		pad := total - size
		label := strings.TrimSuffix(strings.TrimPrefix(last, "https://orders-api.acme-test."), ".internal")
		list[len(list)-1] = "https://orders-api.acme-test." + label + "." + strings.Repeat("b", pad-1) + ".internal"
		raw, _ := json.Marshal(list)
		if len(raw) != total {
			t.Fatalf("built %d characters of JSON, want %d", len(raw), total)
		}
		return list
	}
	if got, msg := loadAudiences(t, "", build(config.MaxAudiencesJSON)); got != nil {
		t.Errorf("%d characters refused: %v\n%s", config.MaxAudiencesJSON, got, msg)
	}
	got, msg := loadAudiences(t, "", build(config.MaxAudiencesJSON+1))
	if !slices.Equal(got, []string{"TooLong service.audiences"}) || !strings.Contains(msg, "take 32769 characters as a JSON list, more than Cloud Run's 32768") {
		t.Errorf("%d characters: %v\n%s", config.MaxAudiencesJSON+1, got, msg)
	}
}

// TestAudiencesNeedValidNames: with a broken service name the form cannot be checked, and only
// the name is reported, not every audience as well.
func TestAudiencesNeedValidNames(t *testing.T) {
	sf := teststack.Parse(t, strings.Replace(teststack.Header, "name: orders-api", "name: Orders_API", 1)+"    audiences: [\"https://orders.acme-test.internal\"]\n")
	_, err := sf.Load()
	var ce *diag.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want a config error, got %v", err)
	}
	for _, d := range ce.Diagnostics {
		if strings.HasPrefix(d.Path, "service.audiences") {
			t.Errorf("audience reported although the service name is what is wrong: %s", d)
		}
	}
	if !strings.Contains(err.Error(), "service.name") {
		t.Errorf("the service name is not reported: %v", err)
	}
}

func TestAudienceLabel(t *testing.T) {
	for project, want := range map[string]string{"acme-test": "acme-test", "example.com:acme-test": "example-com-acme-test"} {
		if got := config.AudienceLabel(project); got != want {
			t.Errorf("AudienceLabel(%q) = %q, want %q", project, got, want)
		}
	}
}
