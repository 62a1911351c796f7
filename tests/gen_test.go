package tests

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/platform/private-run-api/internal/config"
	"github.com/platform/private-run-api/internal/testdir"
)

// genStack is a generated stack config with a realistic mix of callers, in the config package's
// own types, which raw and inFiles render as a team writes them (config.Impersonator marshals a
// member without an expiry as a plain string).
type genStack struct {
	Project, Region string
	Service         config.Service
	Impersonators   []config.Impersonator
	Callers         []config.Caller
	Authz           config.AuthzGuard
	Labels          map[string]string
}

// Future expiries (fixedNow is 2026-11-23), all within a year so that none warns: three distinct
// dates shared across callers, as temporary grants tend to end on the same few dates.
var genExpiries = []string{"2027-03-31T00:00:00Z", "2027-06-30T00:00:00Z", "2027-09-30T00:00:00Z"}

// genCallers builds a stack with n callers:
//   - two default impersonators without expiry (a group and a lead);
//   - every 4th caller (i%4 == 1) has one own impersonator with a future expiry, every 10th
//     (i%10 == 5) two with different expiries, every 8th (i%8 == 3) an own on-call without expiry;
//   - a third of the callers (i%3 == 0) pass the authz guard;
//   - every 20th (i%20 == 13) only passes the guard (invoke: false, authz: true);
//   - every 25th (i%25 == 9) is an existing account in another project (email, no impersonators).
func genCallers(n int) genStack {
	s := genStack{
		Project: "acme-scale",
		Region:  "asia-northeast1",
		Service: config.Service{Name: "orders-api", Image: "asia-northeast1-docker.pkg.dev/acme-scale/apps/orders-api:1.4.2"},
		Impersonators: []config.Impersonator{
			{Member: "group:orders-api-developers@acme.example"},
			{Member: "user:platform-lead@acme.example"},
		},
		Authz:  config.AuthzGuard{Bucket: "acme-scale-orders-api-authz", RoleID: "ordersApiAuthz", RoleTitle: "Orders API authz guard"},
		Labels: map[string]string{"team": "platform", "env": "scale"},
	}
	no := false
	for i := range n {
		c := config.Caller{Name: fmt.Sprintf("caller-%04d", i)}
		if i%2 == 0 {
			c.Description = fmt.Sprintf("Service %d of the order pipeline.", i)
		}
		switch {
		case i%25 == 9:
			c.Name = fmt.Sprintf("ext-caller-%04d", i)
			c.Email = fmt.Sprintf("caller-%04d@other-proj.iam.gserviceaccount.com", i)
		default:
			if i%4 == 1 {
				c.Impersonators = append(c.Impersonators, config.Impersonator{
					Member:  fmt.Sprintf("user:dev-%02d@acme.example", i%37),
					Expires: genExpiries[i%len(genExpiries)],
				})
			}
			if i%10 == 5 {
				c.Impersonators = append(c.Impersonators, config.Impersonator{
					Member:  fmt.Sprintf("user:contractor-%02d@partner.example", i%13),
					Expires: genExpiries[(i+1)%len(genExpiries)],
				})
			}
			if i%8 == 3 {
				c.Impersonators = append(c.Impersonators, config.Impersonator{Member: fmt.Sprintf("user:oncall-%d@acme.example", i%5)})
			}
		}
		if i%3 == 0 {
			c.Authz = true
		}
		if i%20 == 13 {
			c.Invoke, c.Authz = &no, true
		}
		s.Callers = append(s.Callers, c)
	}
	return s
}

// raw renders the stack as the engine hands config to the program: fully qualified keys,
// structured values as JSON text.
func (s genStack) raw(tb testing.TB) map[string]string {
	tb.Helper()
	m := map[string]string{
		"gcp:project": s.Project,
		"gcp:region":  s.Region,
	}
	put := func(key string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			tb.Fatalf("marshal %s: %v", key, err)
		}
		m[project+":"+key] = string(data)
	}
	put("service", s.Service)
	if len(s.Impersonators) > 0 {
		put("impersonators", s.Impersonators)
	}
	put("callers", s.Callers)
	put("authz", s.Authz)
	put("labels", s.Labels)
	return m
}

// inFiles renders the stack with its callers in files, as a team with many callers keeps them:
// callersDir "callers", one callers/<name>.yaml each (JSON, which is YAML), written into a new
// directory that stands for the project root. It returns the config and that directory.
func (s genStack) inFiles(tb testing.TB) (map[string]string, string) {
	tb.Helper()
	cfg := s.raw(tb)
	delete(cfg, project+":callers")
	cfg[project+":callersDir"] = "callers"
	root := tb.TempDir()
	for _, c := range s.Callers {
		data, err := json.Marshal(c)
		if err != nil {
			tb.Fatal(err)
		}
		testdir.Write(tb, filepath.Join(root, "callers", c.Name+".yaml"), string(data))
	}
	return cfg, root
}

// clone copies the stack deeply enough for tests to vary it.
func (s genStack) clone() genStack {
	out := s
	out.Impersonators = slices.Clone(s.Impersonators)
	out.Callers = make([]config.Caller, len(s.Callers))
	for i, c := range s.Callers {
		c.Impersonators = slices.Clone(c.Impersonators)
		out.Callers[i] = c
	}
	return out
}

// created counts the callers whose account the program creates.
func (s genStack) created() int {
	n := 0
	for _, c := range s.Callers {
		if !c.External() {
			n++
		}
	}
	return n
}
