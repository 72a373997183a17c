package iam

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// MaxSkew is how far X-Amz-Date may be from the endpoint's clock, as on AWS
// ("Signature expired: ... (... - 15 min.)").
const MaxSkew = 15 * time.Minute

const amzDateFormat = "20060102T150405Z"

// AuthFailure says why a request was refused before authorization. Its
// fields name the protocol-specific code and message (JSON 1.1 services vs
// the query protocol of STS) so that the server answers as AWS does.
type AuthFailure struct {
	JSON  *awsapi.Error // for SSM, KMS, CloudTrail (AWS JSON 1.1)
	Query *awsapi.Error // for STS (query protocol, XML)
	// AccessKeyID and PrincipalARN are what is known of the caller, for the
	// audit log; PrincipalARN is empty when the key is unknown.
	AccessKeyID  string
	PrincipalARN string
}

func (f *AuthFailure) Error() string { return f.JSON.Error() }

// The messages below are AWS's, verbatim:
//   - signature mismatch: "The request signature we calculated does not match
//     the signature you provided. Check your AWS Secret Access Key and signing
//     method. Consult the service documentation for details." — JSON services
//     as InvalidSignatureException (smithy545/aws-apps-scripts#12), the query
//     protocol as SignatureDoesNotMatch (aws/aws-cli#134), HTTP 403 there.
//   - unknown access key: "The security token included in the request is
//     invalid." — UnrecognizedClientException, HTTP 400, from SSM
//     (coveooss/spring-boot-parameter-store-integration#3); STS answers
//     InvalidClientTokenId with the same text (HTTP 403).
//   - stale date: "Signature expired: 20140325T143453Z is now earlier than
//     20140325T143751Z (20140325T145251Z - 15 min.)" as
//     InvalidSignatureException, HTTP 400 (aws/aws-sdk-js#254,
//     upmc-enterprises/registry-creds#24).
const (
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken      = "The security token included in the request is invalid."
)

func failure(jsonCode string, jsonStatus int, queryCode, msg string) *AuthFailure {
	return &AuthFailure{
		JSON:  &awsapi.Error{Status: jsonStatus, Code: jsonCode, Message: msg},
		Query: &awsapi.Error{Status: http.StatusForbidden, Code: queryCode, Message: msg},
	}
}

// Authenticator verifies SigV4 signatures against the principals' secrets.
type Authenticator struct {
	account string
	byKey   map[string]Principal
	signer  *v4.Signer
}

// NewAuthenticator returns an authenticator for a validated Config.
func NewAuthenticator(c *Config) *Authenticator {
	a := &Authenticator{account: c.Account, byKey: map[string]Principal{}, signer: v4.NewSigner()}
	for _, p := range c.Principals {
		a.byKey[p.AccessKeyID] = p
	}
	return a
}

// Authenticate checks req's SigV4 signature (over body, already read) at
// time now and returns the caller. It recomputes the signature with
// aws-sdk-go-v2's signer over a copy of the request that holds exactly the
// headers the client signed, and compares.
func (a *Authenticator) Authenticate(ctx context.Context, req *http.Request, body []byte, now time.Time) (awsapi.Principal, *AuthFailure) {
	auth := req.Header.Get("Authorization")
	if auth == "" {
		// The SDKs always sign; a request without Authorization is refused
		// as AWS refuses it.
		f := failure("MissingAuthenticationTokenException", http.StatusBadRequest, "MissingAuthenticationToken", "Missing Authentication Token")
		f.Query.Message = "Request is missing Authentication Token"
		return awsapi.Principal{}, f
	}
	parsed, err := parseAuthorization(auth)
	if err != nil {
		f := failure("IncompleteSignatureException", http.StatusBadRequest, "IncompleteSignature", err.Error())
		return awsapi.Principal{}, f
	}
	p, ok := a.byKey[parsed.accessKeyID]
	if !ok {
		f := failure("UnrecognizedClientException", http.StatusBadRequest, "InvalidClientTokenId", msgInvalidToken)
		f.AccessKeyID = parsed.accessKeyID
		return awsapi.Principal{}, f
	}
	known := func(f *AuthFailure) *AuthFailure {
		f.AccessKeyID, f.PrincipalARN = p.AccessKeyID, p.ARN
		return f
	}
	if tok := req.Header.Get("X-Amz-Security-Token"); tok != p.SessionToken {
		return awsapi.Principal{}, known(failure("UnrecognizedClientException", http.StatusBadRequest, "InvalidClientTokenId", msgInvalidToken))
	}
	amzDate := req.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil || !strings.HasPrefix(amzDate, parsed.date) {
		return awsapi.Principal{}, known(failure("IncompleteSignatureException", http.StatusBadRequest, "IncompleteSignature",
			fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", parsed.date, amzDate, amzDate)))
	}
	if signedAt.Before(now.Add(-MaxSkew)) {
		msg := fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-MaxSkew).Format(amzDateFormat), now.Format(amzDateFormat))
		return awsapi.Principal{}, known(failure("InvalidSignatureException", http.StatusBadRequest, "SignatureDoesNotMatch", msg))
	}
	if signedAt.After(now.Add(MaxSkew)) {
		msg := fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(MaxSkew).Format(amzDateFormat), now.Format(amzDateFormat))
		return awsapi.Principal{}, known(failure("InvalidSignatureException", http.StatusBadRequest, "SignatureDoesNotMatch", msg))
	}

	want, err := a.recompute(ctx, req, body, parsed, p, signedAt)
	if err != nil || !hmac.Equal([]byte(want), []byte(parsed.signature)) {
		return awsapi.Principal{}, known(failure("InvalidSignatureException", http.StatusBadRequest, "SignatureDoesNotMatch", msgSignatureMismatch))
	}
	pa, _ := arn.Parse(p.ARN)
	return awsapi.Principal{ARN: p.ARN, Account: pa.AccountID, UserID: userID(p), AccessKeyID: p.AccessKeyID}, nil
}

// recompute signs a copy of req holding only the headers the client signed
// and returns the signature the client should have sent.
func (a *Authenticator) recompute(ctx context.Context, req *http.Request, body []byte, parsed authorization, p Principal, signedAt time.Time) (string, error) {
	u := *req.URL
	clone, err := http.NewRequestWithContext(ctx, req.Method, u.String(), nil)
	if err != nil {
		return "", err
	}
	clone.URL.RawPath, clone.URL.Path, clone.URL.RawQuery = req.URL.RawPath, req.URL.Path, req.URL.RawQuery
	clone.Host = req.Host
	clone.ContentLength = 0
	for _, h := range parsed.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			clone.ContentLength = int64(len(body))
		default:
			clone.Header[http.CanonicalHeaderKey(h)] = req.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey, SessionToken: p.SessionToken}
	if err := a.signer.SignHTTP(ctx, creds, clone, hex.EncodeToString(sum[:]), parsed.service, parsed.region, signedAt); err != nil {
		return "", err
	}
	got, err := parseAuthorization(clone.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if strings.Join(got.signedHeaders, ";") != strings.Join(parsed.signedHeaders, ";") {
		return "", fmt.Errorf("signed headers differ: %v vs %v", got.signedHeaders, parsed.signedHeaders)
	}
	return got.signature, nil
}

// userID is the principalId CloudTrail shows; we derive a stable one.
func userID(p Principal) string {
	sum := sha256.Sum256([]byte(p.ARN))
	prefix := "AIDA"
	if strings.Contains(p.ARN, ":role/") {
		prefix = "AROA"
	}
	return prefix + strings.ToUpper(hex.EncodeToString(sum[:8]))
}

type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/20240101/
// us-east-1/ssm/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, fmt.Errorf("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, fmt.Errorf("Credential should be scoped to a valid region. ")
			}
			a.accessKeyID, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKeyID == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return a, fmt.Errorf("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	}
	return a, nil
}
