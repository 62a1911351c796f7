package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"

	"github.com/platform/private-run-api/internal/plan"
)

// adcFile holds the fields of an ADC file the diagnosis needs, for every type.
type adcFile struct {
	Type string `json:"type"`
	// impersonated_service_account and external_account.
	ImpersonationURL string   `json:"service_account_impersonation_url"`
	Delegates        []string `json:"delegates"`
	Source           *struct {
		Type string `json:"type"`
	} `json:"source_credentials"`
	// service_account.
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
}

// The ADC types gcloud and the console write.
const (
	typeUser            = "authorized_user"
	typeImpersonated    = "impersonated_service_account"
	typeKey             = "service_account"
	typeExternal        = "external_account"
	typeExternalUser    = "external_account_authorized_user"
	generateAccessToken = ":generateAccessToken"
)

func (d *diag) diagnoseFile(data []byte) {
	path := shown(d.creds.Path)
	f, problem := parseADC(data)
	if problem != nil {
		d.r.add(Problem, problem.summary, []string{
			path + ": " + problem.detail + ".",
			"Go's libraries refuse it before making any call. Log in again, which rewrites gcloud's file:",
		}, d.loginFix()...)
		return
	}
	switch f.Type {
	case "":
		d.r.add(Problem, "The credentials file has no \"type\" field", []string{
			path + " is a JSON object, but not a credentials file Google's libraries know. Log in again:",
		}, d.loginFix()...)
	case typeUser:
		d.r.add(Problem, "Your credentials are a plain user login, which Go's idtoken cannot use", []string{
			"idtoken.NewClient fails with \"idtoken: unsupported credentials type\": it mints ID tokens only as a",
			"service account. Cloud Run does accept an ID token minted for your user (gcloud auth print-identity-token),",
			fmt.Sprintf("but such a call runs as you, not as %s, so it proves nothing about caller %s's", d.caller.Account.Email, d.caller.Name),
			"grant. Log in again, impersonating the caller's account:",
		}, d.loginFix()...)
	case typeImpersonated:
		d.impersonated(f)
	case typeKey:
		d.serviceAccountKey(f)
	case typeExternal:
		d.external(f)
	case typeExternalUser:
		d.r.add(Problem, "Your credentials are a workforce identity federation login, which Go's idtoken cannot use", []string{
			"idtoken.NewClient fails with \"idtoken: unsupported credentials type\". Log in with gcloud,",
			"impersonating the caller's account:",
		}, d.loginFix()...)
	default:
		d.r.add(Problem, fmt.Sprintf("Go's idtoken does not support credentials of type %q", f.Type), []string{
			"idtoken.NewClient fails with \"idtoken: unsupported credentials type\". Log in with gcloud,",
			"impersonating the caller's account:",
		}, d.loginFix()...)
	}
}

// impersonationTarget reads the account from
// https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken,
// the URL the token exchange goes to; Go's idtoken takes its target from the same place.
func impersonationTarget(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	_, rest, ok := strings.Cut(u.EscapedPath(), "/serviceAccounts/")
	if !ok {
		return "", false
	}
	rest, err = url.PathUnescape(rest)
	if err != nil {
		return "", false
	}
	email, ok := strings.CutSuffix(rest, generateAccessToken)
	email = strings.ToLower(email)
	if !ok || !emailRE.MatchString(email) {
		return "", false
	}
	return email, true
}

// emailRE accepts what IAM accepts as an account email, and nothing a shell or a terminal would
// act on, so a matching value can go into a printed command as it is.
var emailRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._%+-]*@[a-z0-9][a-z0-9.-]*$`)

// keyIDRE is a service account key ID (40 hex digits in practice), loosely, for the same reason.
var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// adcProblem says why a file is not usable credentials JSON.
type adcProblem struct{ summary, detail string }

// parseADC decodes an ADC file, telling apart a file that is not JSON at all (truncated, or
// something else written there) from JSON of the wrong shape (an array, or a field of the wrong
// type), since the two have different causes.
func parseADC(data []byte) (adcFile, *adcProblem) {
	var f adcFile
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return f, &adcProblem{"The credentials file is empty", "it holds no JSON at all (an interrupted login, or a file truncated by hand)"}
	case !json.Valid(trimmed):
		err := json.Unmarshal(trimmed, new(any))
		return f, &adcProblem{"The credentials file is not JSON", "it does not parse as JSON: " + shown(err.Error())}
	case trimmed[0] != '{':
		return f, &adcProblem{"The credentials file is valid JSON of the wrong shape", "it holds " + jsonKindOf(trimmed[0]) + ", but credentials are one JSON object with a \"type\" field"}
	}
	if err := json.Unmarshal(trimmed, &f); err != nil {
		detail := "it is a JSON object, but not credentials: " + shown(err.Error())
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			detail = fmt.Sprintf("it is a JSON object, but its field %s is %s where credentials have %s", shown(te.Field), article(te.Value), goKind(te.Type))
		}
		return adcFile{}, &adcProblem{"The credentials file is valid JSON of the wrong shape", detail}
	}
	return f, nil
}

func jsonKindOf(first byte) string {
	switch first {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// article names a JSON value kind as encoding/json reports it ("number", "array", ...).
func article(kind string) string {
	switch kind {
	case "array", "object":
		return "an " + kind
	case "null":
		return kind
	}
	return "a " + kind
}

func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(goKind(t.Elem()), "a ") + "s"
	case reflect.Struct, reflect.Pointer:
		return "an object"
	default:
		return "a " + t.Kind().String()
	}
}

func (d *diag) impersonated(f adcFile) {
	c := d.caller
	target, ok := impersonationTarget(f.ImpersonationURL)
	if !ok {
		d.r.add(Problem, "Your impersonated credentials name no service account", []string{
			fmt.Sprintf("service_account_impersonation_url is %q, not .../serviceAccounts/EMAIL%s,", f.ImpersonationURL, generateAccessToken),
			"so Go's idtoken cannot tell which account to mint the ID token as. Log in again:",
		}, d.loginFix()...)
		return
	}
	if f.Source != nil && f.Source.Type == typeKey {
		d.r.add(Warning, "Your impersonated login starts from a service account key", []string{
			"Its source_credentials are a key file's contents: the key this setup exists to avoid sits on disk.",
			"Start from your own login instead (gcloud auth login first, if needed):",
		}, d.loginFix()...)
	}
	if len(f.Delegates) > 0 {
		d.r.add(Warning, "Your impersonated login goes through a delegation chain, which Go's idtoken skips", []string{
			fmt.Sprintf("delegates: %s. Go's idtoken mints the ID token as %s directly,", shown(strings.Join(f.Delegates, ", ")), target),
			"so you need the grant on that account itself. Log in without the chain:",
		}, d.loginFix()...)
	}
	switch {
	case target != c.Account.Email:
		d.r.add(Problem, fmt.Sprintf("Your credentials impersonate %s, not caller %s's account", target, c.Name), []string{
			fmt.Sprintf("%s is %s; the call would be made as it, not as %s.", target, d.whoIs(target), c.Account.Email),
			"Log in again, impersonating the caller's account:",
		}, d.loginFix()...)
	case !c.Created:
		d.r.add(Warning, fmt.Sprintf("Your credentials impersonate %s, which this stack grants nobody", target), []string{
			fmt.Sprintf("They work only if the owners of project %s granted you %s on the account;", projectOf(target), plan.RoleTokenCreator),
			"the doctor cannot check that offline.",
		})
	default:
		var detail []string
		if c.OpenIDSelf {
			detail = append(detail, fmt.Sprintf("The stack also grants the account %s on itself, which Go's idtoken", plan.RoleOpenIDTokenCreator),
				"needs under impersonation before google.golang.org/api v0.277.0 (google-api-go-client#2301).")
		}
		detail = append(detail,
			"If a call still fails with \"Permission 'iam.serviceAccounts.getOpenIdToken' denied\" (or getAccessToken):",
			"a new grant takes about 2 minutes to apply, sometimes 7 or more. After that, gcloud's cached login",
			"may be stale: revoke it and log in again:")
		d.r.add(OK, fmt.Sprintf("Your credentials impersonate %s, caller %s's account", target, c.Name), detail,
			"gcloud auth application-default revoke", d.loginCmd())
	}
}

func (d *diag) serviceAccountKey(f adcFile) {
	c := d.caller
	email := strings.ToLower(f.ClientEmail)
	if email == "" {
		d.r.add(Problem, "The service account key file has no client_email", []string{
			shown(d.creds.Path) + " is damaged. Do not repair it: log in with impersonation instead:",
		}, d.loginFix()...)
		return
	}
	// The key ID and email go into a command the developer copies: only values that cannot
	// break out of it are used as they are, anything else becomes a placeholder.
	cmds := d.loginFix()
	keyID, account := f.PrivateKeyID, email
	if !keyIDRE.MatchString(keyID) {
		keyID = "KEY_ID"
	}
	if !emailRE.MatchString(account) {
		account = "SA_EMAIL"
	}
	cmds = append(cmds, fmt.Sprintf("gcloud iam service-accounts keys delete %s --iam-account %s", keyID, account))
	why := []string{
		"A key is a long-lived secret on a laptop (CIS GCP 1.4: no user-managed keys); it is what this setup",
		"exists to avoid. Impersonation gives the same identity with short-lived tokens and grants that expire.",
		"Switch to impersonation, then delete the key (and the file):",
	}
	if email == c.Account.Email {
		d.r.add(Warning, fmt.Sprintf("Your credentials are a service account key for %s", email), why, cmds...)
		return
	}
	d.r.add(Problem, fmt.Sprintf("Your credentials are a service account key for %s, not caller %s's account", shown(email), c.Name),
		append([]string{fmt.Sprintf("%s is %s; the call would be made as it.", shown(email), d.whoIs(email))}, why...), cmds...)
}

func (d *diag) external(f adcFile) {
	c := d.caller
	detail := []string{
		"This is a workload identity federation config: it trades a token from another identity provider",
		"(a CI system, another cloud) for Google credentials. It is for services and pipelines, not the laptop",
		"flow, which is your own login impersonating the caller's account.",
	}
	target, ok := impersonationTarget(f.ImpersonationURL)
	switch {
	case !ok:
		d.r.add(Problem, "Your credentials are a workload identity federation config that impersonates no service account",
			append(detail, "Without service_account_impersonation_url, Go's idtoken cannot mint an ID token from it. Log in instead:"),
			d.loginFix()...)
	case target == c.Account.Email && c.Created && d.federatedImpersonator():
		d.r.add(Warning, "Your credentials are a workload identity federation config for "+target,
			append(detail, "The stack does let a federated identity impersonate the account, so it works where that",
				"identity's token is available; on a laptop, log in instead:"),
			d.loginFix()...)
	default:
		d.r.add(Problem, "Your credentials are a workload identity federation config, which this stack does not grant", append(detail,
			fmt.Sprintf("It impersonates %s (%s), and the stack grants no federated identity", target, d.whoIs(target)),
			fmt.Sprintf("%s on %s. Log in instead:", plan.RoleTokenCreator, c.Account.Email)),
			d.loginFix()...)
	}
}

// federatedImpersonator reports whether the caller's account may be impersonated by a workload
// identity federation principal.
func (d *diag) federatedImpersonator() bool {
	for _, b := range d.caller.Impersonators {
		for _, m := range b.Members {
			if strings.HasPrefix(m, "principal://") || strings.HasPrefix(m, "principalSet://") {
				return true
			}
		}
	}
	return false
}
