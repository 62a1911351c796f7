package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/api/idtoken"

	"github.com/platform/private-run-api/config"
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

// Online makes one real call the way the developer's code does: an ID token from ADC through
// idtoken.NewClient, then GET rawURL. It needs Google Cloud and the network, which the tests do
// not have: only the classification below is tested, so keep this function to the calls.
func Online(ctx context.Context, rawURL string, c config.CallerPlan, timeout time.Duration) Finding {
	audience, err := Audience(rawURL)
	if err != nil {
		return Finding{Severity: Problem, Summary: "Online check skipped", Detail: []string{err.Error()}}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := idtoken.NewClient(ctx, audience)
	if err != nil {
		return onlineError(err, c)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return onlineError(err, c)
	}
	resp, err := client.Do(req)
	if err != nil {
		return onlineError(err, c)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return onlineStatus(resp.StatusCode, string(body), audience, c)
}

// onlineError explains a failure before any answer from the service: minting the token.
func onlineError(err error, c config.CallerPlan) Finding {
	msg := err.Error()
	f := Finding{Severity: Problem, Detail: []string{"Error: " + msg}}
	switch {
	case strings.Contains(msg, "unsupported credentials type"):
		f.Summary = "Could not mint an ID token: your ADC is not a service account identity"
		f.Detail = append(f.Detail, "Log in impersonating the caller's account (see the findings above):")
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
			"Likely causes, most likely first: you lack "+config.RoleTokenCreator+" on the account (check",
			"offline with -me); the grant is younger than about 2 minutes (sometimes 7 or more); or, with the new",
			"auth library or google.golang.org/api before v0.277.0, the account lacks "+config.RoleOpenIDTokenCreator,
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
func onlineStatus(code int, body, audience string, c config.CallerPlan) Finding {
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	switch {
	case code >= 200 && code < 400:
		return Finding{Severity: OK, Summary: "The service answered " + status + " to a call as " + c.Account.Email}
	case code == http.StatusUnauthorized:
		return Finding{Severity: Problem, Summary: "The service answered " + status + ": it did not accept the ID token", Detail: []string{
			"The token's audience must be the service's run.app URL; it was " + audience + ".",
			"If -url is a custom domain or a load balancer, pass the run.app URL instead:",
		}, Commands: []string{"pulumi stack output serviceUrl"}}
	case code == http.StatusForbidden && strings.Contains(body, "does not have permission"):
		detail := []string{"Cloud Run accepted the token, but " + c.Account.Email + " lacks " + config.RoleInvoker + " on the service."}
		if !c.Invoke {
			detail = append(detail, "The stack sets invoke: false on this caller; see the findings above.")
		} else {
			detail = append(detail, "The stack grants it: make sure it is deployed, then allow about 2 minutes (sometimes 7 or more).")
		}
		return Finding{Severity: Problem, Summary: "The service answered " + status + ": the caller may not invoke it", Detail: detail}
	case code == http.StatusForbidden:
		return Finding{Severity: Problem, Summary: "The service answered " + status, Detail: []string{
			"The page is not Cloud Run's own, so the application refused the call: check the caller's authz",
			"setting (the authz guard) in the stack config, or the application's logs.",
		}}
	case code >= 500:
		return Finding{Severity: Warning, Summary: "The service answered " + status + ": authentication passed, the application failed", Detail: []string{
			"Look at the service's logs in Cloud Logging.",
		}}
	default:
		return Finding{Severity: Warning, Summary: "The service answered " + status + ": authentication passed", Detail: []string{
			"Cloud Run let the call through; the application answered this status (check the path in -url).",
		}}
	}
}
