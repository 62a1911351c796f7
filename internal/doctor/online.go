package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/idtoken"

	"github.com/platform/private-run-api/internal/bounded"
	"github.com/platform/private-run-api/internal/plan"
)

// Audience is the ID-token audience for a service URL: its scheme and host, which is what Cloud
// Run accepts (the run.app URL). It refuses anything but an absolute https URL.
func Audience(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("-url %q: give the service's https URL, for example https://orders-api-abc123-an.a.run.app (run `pulumi stack output serviceUrl`)", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

// OnlineAudience is the audience -online mints its ID token for. Given one (-audience), it must
// be one Cloud Run accepts for this service as far as the stack can tell: a custom audience the
// stack declares, the origin of -url, or a run.app origin (the service's own URL, which is always
// accepted). Otherwise it is the stack's first custom audience, or "" for the origin of -url.
func OnlineAudience(s plan.Service, given, rawURL string) (string, error) {
	if given == "" {
		return s.PrimaryAudience, nil
	}
	origin, _ := Audience(rawURL)
	if slices.Contains(s.Audiences, given) || given == origin {
		return given, nil
	}
	if o, err := Audience(given); err == nil && o == given && strings.HasSuffix(given, ".run.app") {
		return given, nil
	}
	declared := "declares no custom audience (service.audiences)"
	if len(s.Audiences) > 0 {
		declared = "declares " + strings.Join(s.Audiences, ", ") + " (service.audiences)"
	}
	return "", fmt.Errorf("-audience %q is not an audience service %s accepts: the stack %s, and Cloud Run also accepts the service's run.app URL (`pulumi stack output serviceUrl`)", given, s.Name, declared)
}

// OnlineRequest is one real call to the service as the caller.
type OnlineRequest struct {
	URL string
	// Audience is what the ID token is minted for (OnlineAudience); "" means the origin of URL.
	// The request goes to URL either way.
	Audience string
	// Audiences are the service's custom audiences, to explain a refused token.
	Audiences []string
	Caller    plan.Caller
	// Timeout bounds the whole check: finding the credentials, minting the ID token, the call.
	Timeout time.Duration
	// Transport carries every request of the check, the token exchange and the call; nil means
	// http.DefaultTransport. Tests pass an httptest TLS server's, which trusts its certificate.
	// (An impersonated login's generateIdToken call is made by Google's library on a transport of
	// its own; the Timeout still bounds it.)
	Transport http.RoundTripper
}

// Online makes one real call the way the developer's code does: an ID token for the audience
// (req.Audience, or the origin of URL) minted from Application Default Credentials (as
// idtoken.NewClient does), then GET URL with it. The credentials are found by Google's libraries from the real process
// environment, not from Env.
func Online(ctx context.Context, req OnlineRequest) Finding {
	audience, err := Audience(req.URL)
	if err != nil {
		return Finding{Status: Problem, Summary: "Online check skipped", Detail: []string{err.Error()}}
	}
	if req.Audience != "" {
		audience = req.Audience
	}
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	var step atomic.Value
	step.Store("reading your credentials and minting an ID token")
	f, ok := bounded.Run(ctx, func(ctx context.Context) Finding { return call(ctx, req, audience, &step) })
	if !ok || ctx.Err() != nil {
		// An error the deadline caused is reported as the timeout it is, whichever came first.
		return timedOut(ctx, req, step.Load().(string))
	}
	return f
}

func call(ctx context.Context, req OnlineRequest, audience string, step *atomic.Value) Finding {
	base := req.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	// golang.org/x/oauth2 takes the client for token exchanges from the context.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: base})
	// idtoken.NewClient is NewTokenSource plus a transport that cannot be given a base, so the
	// two are assembled here, with the same token source, to let tests trust their TLS server.
	ts, err := idtoken.NewTokenSource(ctx, audience)
	if err != nil {
		return onlineError(err, req.Caller)
	}
	client := &http.Client{
		Transport: &oauth2.Transport{Source: steps{ts, step, req.URL}, Base: base},
		// oauth2.Transport adds the ID token to every request, redirects included, so following
		// one would hand the token to wherever the service points. The answer is reported instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
	if err != nil {
		return onlineError(err, req.Caller)
	}
	resp, err := client.Do(r)
	if err != nil {
		return onlineError(err, req.Caller)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return onlineStatus(resp.StatusCode, string(body), audience, req.Audiences, req.Caller)
}

// steps records whether a token is being minted or the service called, for the timeout message:
// an impersonated login mints its ID token only inside client.Do.
type steps struct {
	ts   oauth2.TokenSource
	step *atomic.Value
	url  string
}

func (s steps) Token() (*oauth2.Token, error) {
	s.step.Store("minting an ID token")
	t, err := s.ts.Token()
	s.step.Store("calling " + s.url)
	return t, err
}

func timedOut(ctx context.Context, req OnlineRequest, step string) Finding {
	if errors.Is(ctx.Err(), context.Canceled) {
		return Finding{Status: Problem, Summary: "The online check was interrupted", Detail: []string{"It stopped while " + step + "."}}
	}
	return Finding{Status: Problem, Summary: fmt.Sprintf("The online check timed out after %s", req.Timeout), Detail: []string{
		"Nothing answered while " + step + ".",
		"Check your network (VPN, proxy, firewall) and the URL; a service scaled to zero can also take a while",
		"to start. Impersonation needs iamcredentials.googleapis.com and oauth2.googleapis.com to be reachable.",
		"Try again with a longer -timeout.",
	}}
}

// onlineError explains a failure before any answer from the service: minting the token.
func onlineError(err error, c plan.Caller) Finding {
	msg := err.Error()
	f := Finding{Status: Problem, Detail: []string{"Error: " + msg}}
	switch {
	case strings.Contains(msg, "unsupported credentials type"):
		f.Summary = "Could not mint an ID token: your ADC is not a service account identity"
		f.Detail = append(f.Detail, "Log in impersonating the caller's account (see the findings above):")
		f.Commands = []string{c.ImpersonationCommand()}
	case strings.Contains(msg, "error getting credentials using "+envCredentials):
		f.Summary = "Could not mint an ID token: " + envCredentials + " names a file Go cannot read"
		f.Detail = append(f.Detail, "Go does not fall back to gcloud's file while it is set. Unset it (the findings above give the",
			"command for your shell) and log in, impersonating the caller's account:")
		f.Commands = []string{c.ImpersonationCommand()}
	case strings.Contains(msg, "could not find default credentials"), strings.Contains(msg, "couldn't find any credentials"):
		f.Summary = "Could not mint an ID token: no Application Default Credentials"
		f.Commands = []string{c.ImpersonationCommand()}
	case strings.Contains(msg, "SERVICE_DISABLED"), strings.Contains(msg, "has not been used in project"):
		f.Summary = "Could not mint an ID token: the IAM Credentials API is disabled"
		f.Detail = append(f.Detail, "Impersonation needs iamcredentials.googleapis.com in the account's project; enable it:")
		f.Commands = []string{"gcloud services enable iamcredentials.googleapis.com --project " + projectOf(c.Account.Email)}
	case strings.Contains(msg, "getOpenIdToken"), strings.Contains(msg, "getAccessToken"),
		strings.Contains(msg, "generateIdToken") && strings.Contains(msg, "403"),
		strings.Contains(msg, "generateAccessToken") && strings.Contains(msg, "403"):
		f.Summary = "Could not mint a token as " + c.Account.Email + ": permission denied"
		f.Detail = append(f.Detail,
			"Likely causes, most likely first: you lack "+plan.RoleTokenCreator+" on the account (check",
			"offline with -me); the grant is younger than about 2 minutes (sometimes 7 or more); or, with the new",
			"auth library or google.golang.org/api before v0.277.0, the account lacks "+plan.RoleOpenIDTokenCreator,
			"on itself (google-api-go-client#2301; the stack declares it, so deploy). Then clear gcloud's cached login:")
		f.Commands = []string{"gcloud auth application-default revoke", c.ImpersonationCommand()}
	case strings.Contains(msg, "invalid_grant"), strings.Contains(msg, "invalid_rapt"), strings.Contains(msg, "reauth"):
		f.Summary = "Could not mint an ID token: your gcloud login has expired"
		f.Commands = []string{c.ImpersonationCommand()}
	case strings.Contains(msg, "context deadline exceeded"), strings.Contains(msg, "Client.Timeout"):
		f.Summary = "The call timed out"
		f.Detail = append(f.Detail, "Check the URL and your network (VPN, proxy); the service may also be starting from zero instances.")
	default:
		f.Summary = "The call failed before the service answered"
	}
	return f
}

// onlineStatus explains the service's answer. Cloud Run answers 401 and 403 itself, before the
// application runs; its 403 page says "Your client does not have permission".
// custom are the service's custom audiences.
func onlineStatus(code int, body, audience string, custom []string, c plan.Caller) Finding {
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	switch {
	case code >= 200 && code < 400:
		return Finding{Status: OK, Summary: "The service answered " + status + " to a call as " + c.Account.Email,
			Detail: []string{"The ID token's audience was " + audience + "."}}
	case code == http.StatusUnauthorized && slices.Contains(custom, audience):
		return Finding{Status: Problem, Summary: "The service answered " + status + ": it did not accept the ID token", Detail: []string{
			"The token was for " + audience + ", a custom audience the stack declares (service.audiences).",
			"Cloud Run accepts it only once that is deployed; until then the service accepts its run.app URL",
			"alone. Deploy, or see which audiences the deployed stack has (and try the URL with -audience):",
		}, Commands: []string{"pulumi stack output audiences", "pulumi stack output serviceUrl"}}
	case code == http.StatusUnauthorized:
		detail := []string{"The token's audience must be the service's run.app URL or one of its custom audiences; it was " + audience + "."}
		if len(custom) > 0 {
			detail = append(detail, "The stack declares "+strings.Join(custom, ", ")+" (service.audiences): pass one with -audience, or")
		}
		detail = append(detail, "if -url is a custom domain or a load balancer, pass the run.app URL instead:")
		return Finding{Status: Problem, Summary: "The service answered " + status + ": it did not accept the ID token", Detail: detail,
			Commands: []string{"pulumi stack output serviceUrl"}}
	case code == http.StatusForbidden && strings.Contains(body, "does not have permission"):
		detail := []string{"Cloud Run accepted the token, but " + c.Account.Email + " lacks " + plan.RoleInvoker + " on the service."}
		if !c.Invoke {
			detail = append(detail, "The stack sets invoke: false on this caller; see the findings above.")
		} else {
			detail = append(detail, "The stack grants it: make sure it is deployed, then allow about 2 minutes (sometimes 7 or more).")
		}
		return Finding{Status: Problem, Summary: "The service answered " + status + ": the caller may not invoke it", Detail: detail}
	case code == http.StatusForbidden:
		return Finding{Status: Problem, Summary: "The service answered " + status, Detail: []string{
			"The page is not Cloud Run's own, so the application refused the call: check the caller's authz",
			"setting (the authz guard) in the stack config, or the application's logs.",
		}}
	case code >= 500:
		return Finding{Status: Warning, Summary: "The service answered " + status + ": authentication passed, the application failed", Detail: []string{
			"Look at the service's logs in Cloud Logging.",
		}}
	default:
		return Finding{Status: Warning, Summary: "The service answered " + status + ": authentication passed", Detail: []string{
			"Cloud Run let the call through; the application answered this status (check the path in -url).",
		}}
	}
}
