package tests

import (
	"slices"
	"strings"
	"testing"
)

// Custom audiences (service.audiences): what the service is sent, and what callers and
// developers are told to ask ID tokens for.

const (
	audInternal = "https://orders-api.acme-test.internal"
	audOwn      = "https://orders-api.acme-test.api.acme.example"
	// testURL is the uri the mocks compute for the service (see computed).
	testURL = "https://orders-api-abcdefghij-an.a.run.app"
)

// audienceStack is base with service.audiences as written, one invoking caller somebody may
// impersonate.
func audienceStack(audiences ...string) string {
	s := base
	if len(audiences) > 0 {
		s += "    audiences:\n"
		for _, a := range audiences {
			s += "      - " + a + "\n"
		}
	}
	return s + `  private-run-api:impersonators:
    - group:devs@acme.example
  private-run-api:callers:
    - name: orders-batch
`
}

func TestAudiences(t *testing.T) {
	const batch = "orders-batch@acme-test.iam.gserviceaccount.com"
	for _, tc := range []struct {
		name    string
		written []string
		// sent is the service's customAudiences input, nil when the key must be absent.
		sent []string
		// audience is the audience output and the one the invoke command asks for.
		audience string
	}{
		{"none: the URL is the audience, nothing is sent", nil, nil, testURL},
		{"one", []string{audInternal}, []string{audInternal}, audInternal},
		// Sent sorted, so that reordering config changes nothing; the first as written is the one
		// callers are told to use.
		{"two, the first as written is the primary", []string{audOwn, audInternal}, []string{audOwn, audInternal}, audOwn},
		{"two, the other way round", []string{audInternal, audOwn}, []string{audOwn, audInternal}, audInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, stackYAML(t, audienceStack(tc.written...)), runOpts{})
			svc := r.Find(t, tService, "orders-api")
			if _, present := svc.Inputs["customAudiences"]; present != (tc.sent != nil) {
				t.Errorf("customAudiences present = %v, want %v (inputs: %v)", present, tc.sent != nil, svc.Inputs["customAudiences"])
			}
			if got := svc.Strs("customAudiences"); !slices.Equal(got, tc.sent) {
				t.Errorf("customAudiences = %q, want %q", got, tc.sent)
			}
			if got := r.Outputs["audience"]; got != tc.audience {
				t.Errorf("audience output = %v, want %q", got, tc.audience)
			}
			auds, ok := r.Outputs["audiences"].([]string)
			if !ok {
				t.Fatalf("audiences output is %T: %v", r.Outputs["audiences"], r.Outputs["audiences"])
			}
			if want := tc.sent; !slices.Equal(auds, want) || auds == nil {
				t.Errorf("audiences output = %q, want %q", auds, want)
			}
			if got := r.Outputs["serviceUrl"]; got != testURL {
				t.Errorf("serviceUrl = %v, want the run.app URL %s whatever the audiences", got, testURL)
			}
			cmd := r.Outputs["invokeCommands"].(map[string]string)["orders-batch"]
			want := `curl -H "Authorization: Bearer $(gcloud auth print-identity-token --impersonate-service-account=` + batch +
				` --audiences=` + tc.audience + ` --include-email)" ` + testURL
			if cmd != want {
				t.Errorf("invoke command:\n got %s\nwant %s", cmd, want)
			}
		})
	}
}

// TestAudiencesInPreview: a custom audience is known before the first deploy, so a preview
// shows it and the invoke commands wait only for the URL.
func TestAudiencesInPreview(t *testing.T) {
	r := mustRun(t, stackYAML(t, audienceStack(audInternal)), runOpts{dryRun: true})
	if !r.Known["audience"] || r.Outputs["audience"] != audInternal {
		t.Errorf("audience in a preview: known %v, %v; want %s", r.Known["audience"], r.Outputs["audience"], audInternal)
	}
	if !r.Known["audiences"] {
		t.Error("audiences unknown in a preview; they come from config")
	}
	if got := r.Find(t, tService, "orders-api").Strs("customAudiences"); !slices.Equal(got, []string{audInternal}) {
		t.Errorf("customAudiences in a preview = %q", got)
	}
	if r.Known["serviceUrl"] || r.Known["invokeCommands"] {
		t.Errorf("serviceUrl or invokeCommands known in a preview: the mocks do not model preview")
	}
	none := mustRun(t, stackYAML(t, audienceStack()), runOpts{dryRun: true})
	if none.Known["audience"] {
		t.Errorf("audience known in a preview without custom audiences (%v): it is the URL, known after deploy", none.Outputs["audience"])
	}
}

// TestBadAudiencesRegisterNothing: every bad audience at once, each named by its path, and
// nothing registered.
func TestBadAudiencesRegisterNothing(t *testing.T) {
	r := run(t, stackYAML(t, audienceStack("https://orders-api.internal", audInternal+"/", audInternal, audInternal)), runOpts{})
	if r.Err == nil {
		t.Fatal("bad audiences accepted")
	}
	for _, want := range []string{
		`service.audiences[0] "https://orders-api.internal": does not name this service and project: it must be https://orders-api.acme-test.<domain>`,
		`service.audiences[1] "` + audInternal + `/": ends in "/"`,
		`service.audiences[3] "` + audInternal + `": is also service.audiences[2]`,
		"invalid stack config (3 problems); nothing was deployed",
	} {
		if !strings.Contains(r.Err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, r.Err)
		}
	}
	if len(r.Resources) != 0 {
		t.Errorf("%d resources registered for an invalid config", len(r.Resources))
	}
}
