package emulator_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/emulator"
)

// Access-control tests: the endpoint with an IAM configuration, driven by
// aws-sdk-go-v2 clients signing with each principal's own credentials.

const (
	iamAccount = "123456789012"
	iamRegion  = "us-east-1"
)

func iamUserARN(name string) string { return "arn:aws:iam::" + iamAccount + ":user/" + name }

func iamParamARN(name string) string {
	return "arn:aws:ssm:" + iamRegion + ":" + iamAccount + ":parameter" + name
}

// user is a principal named name with the given inline policies (JSON).
func iamUser(name string, policies ...string) emulator.IAMPrincipal {
	p := emulator.IAMPrincipal{
		ARN:             iamUserARN(name),
		AccessKeyID:     "AKIA" + strings.ToUpper(fmt.Sprintf("%016x", []byte(name)))[:16],
		SecretAccessKey: "secret-of-" + name,
	}
	for _, pol := range policies {
		p.Policies = append(p.Policies, json.RawMessage(pol))
	}
	return p
}

// allow is a one-statement Allow policy.
func allowPolicy(action, resource string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":%q,"Resource":%q}]}`, action, resource)
}

const adminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// startIAM starts an endpoint whose principals are admin (allowed
// everything) and the given ones.
func startIAM(t *testing.T, principals ...emulator.IAMPrincipal) *emulator.Server {
	t.Helper()
	cfg := emulator.IAMConfig{Account: iamAccount, Principals: append([]emulator.IAMPrincipal{iamUser("admin", adminPolicy)}, principals...)}
	return emulator.NewTestServer(t, emulator.WithIAMConfig(cfg))
}

func cfgAs(srv *emulator.Server, p emulator.IAMPrincipal) aws.Config {
	c := srv.AWSConfigWithCredentials(iamRegion, p.AccessKeyID, p.SecretAccessKey)
	if p.SessionToken != "" {
		c.Credentials = credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, p.SessionToken)
	}
	c.RetryMaxAttempts = 1
	return c
}

func ssmAs(srv *emulator.Server, p emulator.IAMPrincipal) *ssm.Client {
	return ssm.NewFromConfig(cfgAs(srv, p))
}

func kmsAs(srv *emulator.Server, p emulator.IAMPrincipal) *kms.Client {
	return kms.NewFromConfig(cfgAs(srv, p))
}

func actx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// wantAccessErr checks that err is the AWS error code with exactly message
// (or, if message ends in "…", a message starting with what precedes it).
func wantAccessErr(t *testing.T, err error, code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want AWS error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if prefix, ok := strings.CutSuffix(message, "…"); ok {
		if !strings.HasPrefix(ae.ErrorMessage(), prefix) {
			t.Fatalf("message %q, want it to start with %q", ae.ErrorMessage(), prefix)
		}
	} else if ae.ErrorMessage() != message {
		t.Fatalf("message %q, want %q", ae.ErrorMessage(), message)
	}
}

func adminPutString(t *testing.T, srv *emulator.Server, name, value string) {
	t.Helper()
	_, err := ssmAs(srv, iamUser("admin", adminPolicy)).PutParameter(actx(t), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)})
	if err != nil {
		t.Fatalf("admin puts %s: %v", name, err)
	}
}

const (
	msgBadSignature = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgBadToken     = "The security token included in the request is invalid."
)

func TestAccessRefusesBadSignature(t *testing.T) {
	reader := iamUser("reader", allowPolicy("ssm:*", "*"))
	srv := startIAM(t, reader)
	wrong := reader
	wrong.SecretAccessKey = "not-the-secret"
	_, err := ssmAs(srv, wrong).DescribeParameters(actx(t), &ssm.DescribeParametersInput{})
	wantAccessErr(t, err, "InvalidSignatureException", msgBadSignature)

	// STS speaks the query protocol: the same refusal as SignatureDoesNotMatch.
	_, err = sts.NewFromConfig(cfgAs(srv, wrong)).GetCallerIdentity(actx(t), &sts.GetCallerIdentityInput{})
	wantAccessErr(t, err, "SignatureDoesNotMatch", msgBadSignature)

	// With the right secret the same calls go through, as reader.
	if _, err := ssmAs(srv, reader).DescribeParameters(actx(t), &ssm.DescribeParametersInput{}); err != nil {
		t.Fatalf("reader with its own secret: %v", err)
	}
	id, err := sts.NewFromConfig(cfgAs(srv, reader)).GetCallerIdentity(actx(t), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(id.Arn) != reader.ARN || aws.ToString(id.Account) != iamAccount {
		t.Fatalf("GetCallerIdentity = %s in %s, want %s in %s", aws.ToString(id.Arn), aws.ToString(id.Account), reader.ARN, iamAccount)
	}
}

func TestAccessRefusesTamperedBody(t *testing.T) {
	reader := iamUser("reader", allowPolicy("ssm:*", "*"))
	srv := startIAM(t, reader)
	// A request signed for one body and sent with another: the payload hash
	// is part of the signature.
	req := signedSSMRequest(t, srv, reader, `{"Name":"/a"}`, time.Now())
	req.Body = io.NopCloser(strings.NewReader(`{"Name":"/b"}`))
	code, msg := sendSigned(t, req)
	if code != "InvalidSignatureException" || msg != msgBadSignature {
		t.Fatalf("tampered body: %s %q, want InvalidSignatureException", code, msg)
	}
}

func TestAccessRefusesUnknownAccessKey(t *testing.T) {
	srv := startIAM(t)
	stranger := iamUser("stranger")
	_, err := ssmAs(srv, stranger).DescribeParameters(actx(t), &ssm.DescribeParametersInput{})
	wantAccessErr(t, err, "UnrecognizedClientException", msgBadToken)
	_, err = kmsAs(srv, stranger).ListKeys(actx(t), &kms.ListKeysInput{})
	wantAccessErr(t, err, "UnrecognizedClientException", msgBadToken)
	_, err = sts.NewFromConfig(cfgAs(srv, stranger)).GetCallerIdentity(actx(t), &sts.GetCallerIdentityInput{})
	wantAccessErr(t, err, "InvalidClientTokenId", msgBadToken)
}

func TestAccessSessionToken(t *testing.T) {
	temp := iamUser("temp", allowPolicy("ssm:DescribeParameters", "*"))
	temp.SessionToken = "FwoGZXIvYXdzEXAMPLETOKEN"
	srv := startIAM(t, temp)
	if _, err := ssmAs(srv, temp).DescribeParameters(actx(t), &ssm.DescribeParametersInput{}); err != nil {
		t.Fatalf("with its session token: %v", err)
	}
	noToken := temp
	noToken.SessionToken = ""
	_, err := ssmAs(srv, noToken).DescribeParameters(actx(t), &ssm.DescribeParametersInput{})
	wantAccessErr(t, err, "UnrecognizedClientException", msgBadToken)
}

// signedSSMRequest builds an SSM DescribeParameters request signed by p at
// signedAt with the SDK's signer, as a client whose clock is off would.
func signedSSMRequest(t *testing.T, srv *emulator.Server, p emulator.IAMPrincipal, body string, signedAt time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.DescribeParameters")
	hash := sha256HexOf(body)
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "ssm", iamRegion, signedAt); err != nil {
		t.Fatal(err)
	}
	return req
}

func sendSigned(t *testing.T, req *http.Request) (code, message string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return "", ""
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("HTTP %d with a body that is not JSON: %q", resp.StatusCode, b)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("HTTP %d, want 400 for %s", resp.StatusCode, body.Type)
	}
	return body.Type, body.Message
}

func TestAccessRefusesStaleTimestamp(t *testing.T) {
	reader := iamUser("reader", allowPolicy("ssm:*", "*"))
	srv := startIAM(t, reader)
	old := time.Now().UTC().Add(-20 * time.Minute)
	code, msg := sendSigned(t, signedSSMRequest(t, srv, reader, "{}", old))
	want := "Signature expired: " + old.Format("20060102T150405Z") + " is now earlier than "
	if code != "InvalidSignatureException" || !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, " - 15 min.)") {
		t.Fatalf("stale request: %s %q, want InvalidSignatureException %q… (… - 15 min.)", code, msg, want)
	}
	// A clock 5 minutes off is within AWS's tolerance.
	if code, msg := sendSigned(t, signedSSMRequest(t, srv, reader, "{}", time.Now().Add(-5*time.Minute))); code != "" {
		t.Fatalf("request 5 minutes old: %s %s, want it served", code, msg)
	}
	// The refusals are in the audit log with the principal they claimed.
	found := false
	for _, e := range srv.AuditEvents() {
		if e.ErrorCode == "InvalidSignatureException" && e.PrincipalARN == reader.ARN && e.EventName == "DescribeParameters" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit event for the stale request among %d events", len(srv.AuditEvents()))
	}
}

func TestAccessOpenWithoutIAM(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := srv.AWSConfigWithCredentials(iamRegion, "ANYKEY", "anysecret")
	if _, err := ssm.NewFromConfig(c).DescribeParameters(actx(t), &ssm.DescribeParametersInput{}); err != nil {
		t.Fatalf("open endpoint refused arbitrary credentials: %v", err)
	}
}

func TestAccessIAMFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "iam.json")
	file := `{
  "account": "` + iamAccount + `",
  "principals": [
    {"arn": "` + iamUserARN("node1") + `", "accessKeyId": "AKIANODE1", "secretAccessKey": "s1",
     "policies": [` + allowPolicy("ssm:GetParameter", iamParamARN("/ts/node1")) + `]}
  ]
}`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := emulator.NewTestServer(t, emulator.WithIAM(path))
	node1 := emulator.IAMPrincipal{ARN: iamUserARN("node1"), AccessKeyID: "AKIANODE1", SecretAccessKey: "s1"}
	_, err := ssmAs(srv, node1).GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/ts/node1")})
	wantAccessErr(t, err, "ParameterNotFound", "")
	_, err = ssmAs(srv, node1).GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/ts/node2")})
	wantAccessErr(t, err, "AccessDeniedException",
		"User: "+iamUserARN("node1")+" is not authorized to perform: ssm:GetParameter on resource: "+iamParamARN("/ts/node2")+" because no identity-based policy allows the ssm:GetParameter action")

	// A file with a mistake does not start, and says what is wrong.
	bad := strings.Replace(file, `"accessKeyId"`, `"accessKey"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := emulator.Start(emulator.WithIAM(path)); err == nil {
		s.Close()
		t.Fatal("an IAM file with an unknown field was accepted")
	} else if !strings.Contains(err.Error(), "accessKey") {
		t.Fatalf("error %q does not name the bad field", err)
	}
}

func TestAccessExplicitDenyBeatsAllow(t *testing.T) {
	p := iamUser("p", allowPolicy("ssm:*", "*"),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:*:*:parameter/secret/*"}]}`)
	srv := startIAM(t, p)
	adminPutString(t, srv, "/secret/a", "x")
	adminPutString(t, srv, "/public/a", "y")
	c := ssmAs(srv, p)
	if _, err := c.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/public/a")}); err != nil {
		t.Fatalf("allowed read: %v", err)
	}
	_, err := c.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/secret/a")})
	wantAccessErr(t, err, "AccessDeniedException",
		"User: "+p.ARN+" is not authorized to perform: ssm:GetParameter on resource: "+iamParamARN("/secret/a")+" with an explicit deny in an identity-based policy")
}

func TestAccessNotActionAndWildcards(t *testing.T) {
	notDelete := iamUser("notdelete", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["ssm:Delete*","kms:*"],"Resource":"*"}]}`)
	// Actions match case-insensitively; ? is one character; resources
	// match case-sensitively.
	appReader := iamUser("appreader", allowPolicy("SSM:get?arameter*", "arn:aws:ssm:us-east-1:"+iamAccount+":parameter/app/*"))
	notResource := iamUser("notresource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter","NotResource":"arn:aws:ssm:*:*:parameter/app/*"}]}`)
	srv := startIAM(t, notDelete, appReader, notResource)
	adminPutString(t, srv, "/app/db", "x")
	adminPutString(t, srv, "/other", "y")

	if _, err := ssmAs(srv, notDelete).GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/other")}); err != nil {
		t.Fatalf("NotAction Delete*: GetParameter: %v", err)
	}
	_, err := ssmAs(srv, notDelete).DeleteParameter(actx(t), &ssm.DeleteParameterInput{Name: aws.String("/other")})
	wantAccessErr(t, err, "AccessDeniedException", "User: "+notDelete.ARN+" is not authorized to perform: ssm:DeleteParameter on resource: "+iamParamARN("/other")+" because no identity-based policy allows the ssm:DeleteParameter action")

	a := ssmAs(srv, appReader)
	if _, err := a.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/app/db")}); err != nil {
		t.Fatalf("wildcard action and resource: %v", err)
	}
	if _, err := a.GetParameters(actx(t), &ssm.GetParametersInput{Names: []string{"/app/db"}}); err != nil {
		t.Fatalf("get?arameter* matches GetParameters: %v", err)
	}
	_, err = a.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/other")})
	wantAccessErr(t, err, "AccessDeniedException", "User: "+appReader.ARN+" is not authorized to perform: ssm:GetParameter…")
	_, err = a.PutParameter(actx(t), &ssm.PutParameterInput{Name: aws.String("/app/db"), Value: aws.String("z"), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)})
	wantAccessErr(t, err, "AccessDeniedException", "User: "+appReader.ARN+" is not authorized to perform: ssm:PutParameter…")

	n := ssmAs(srv, notResource)
	if _, err := n.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/other")}); err != nil {
		t.Fatalf("NotResource outside /app: %v", err)
	}
	_, err = n.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/app/db")})
	wantAccessErr(t, err, "AccessDeniedException", "User: "+notResource.ARN+" is not authorized to perform: ssm:GetParameter…")
}

// TestAccessConditionOperators evaluates each operator over request keys the
// endpoint fills for every call (aws:PrincipalArn, aws:SecureTransport) and
// one it does not fill for SSM calls (kms:ViaService).
func TestAccessConditionOperators(t *testing.T) {
	me := func(name string) string { return iamUserARN(name) }
	cases := []struct {
		name, op, key string
		values        any
		allowed       bool
	}{
		{"se-hit", "StringEquals", "aws:PrincipalArn", me("se-hit"), true},
		{"se-miss", "StringEquals", "aws:PrincipalArn", me("someone"), false},
		{"se-list", "StringEquals", "aws:PrincipalArn", []string{me("x"), me("se-list")}, true},
		{"sne-hit", "StringNotEquals", "aws:PrincipalArn", me("someone"), true},
		{"sne-miss", "StringNotEquals", "aws:PrincipalArn", me("sne-miss"), false},
		{"sl-hit", "StringLike", "aws:PrincipalArn", "arn:aws:iam::*:user/sl-*", true},
		{"sl-miss", "StringLike", "aws:PrincipalArn", "arn:aws:iam::*:role/*", false},
		{"snl-hit", "StringNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/*", true},
		{"snl-miss", "StringNotLike", "aws:PrincipalArn", "*:user/snl-*", false},
		{"al-hit", "ArnLike", "aws:PrincipalArn", "arn:aws:iam::" + iamAccount + ":user/al-*", true},
		{"al-miss", "ArnLike", "aws:PrincipalArn", "arn:aws:iam::999999999999:user/*", false},
		{"ae-hit", "ArnEquals", "aws:PrincipalArn", me("ae-hit"), true},
		{"ae-miss", "ArnEquals", "aws:PrincipalArn", me("other"), false},
		{"bool-hit", "Bool", "aws:SecureTransport", "false", true},
		{"bool-miss", "Bool", "aws:SecureTransport", "true", false},
		{"null-absent", "Null", "kms:ViaService", "true", true},
		{"null-present", "Null", "aws:PrincipalArn", "true", false},
		{"null-false", "Null", "aws:PrincipalArn", "false", true},
		// A missing key fails a plain operator, passes its IfExists form,
		// and passes a negated one.
		{"se-absent", "StringEquals", "kms:ViaService", "ssm.us-east-1.amazonaws.com", false},
		{"seie-absent", "StringEqualsIfExists", "kms:ViaService", "ssm.us-east-1.amazonaws.com", true},
		{"seie-present", "StringEqualsIfExists", "aws:PrincipalArn", me("other"), false},
		{"slie-absent", "StringLikeIfExists", "kms:ViaService", "ssm.*", true},
		{"alie-absent", "ArnLikeIfExists", "kms:EncryptionContext:PARAMETER_ARN", "arn:aws:ssm:*:*:parameter/x", true},
		{"boolie-absent", "BoolIfExists", "aws:MultiFactorAuthPresent", "true", true},
		{"sne-absent", "StringNotEquals", "kms:ViaService", "ssm.us-east-1.amazonaws.com", true},
		{"fav-hit", "ForAnyValue:StringLike", "aws:PrincipalArn", []string{"nope", "*fav-hit"}, true},
		{"fallv-absent", "ForAllValues:StringEquals", "kms:EncryptionContextKeys", "PARAMETER_ARN", true},
		{"fanyv-absent", "ForAnyValue:StringEquals", "kms:EncryptionContextKeys", "PARAMETER_ARN", false},
	}
	var principals []emulator.IAMPrincipal
	for _, c := range cases {
		cond, _ := json.Marshal(map[string]map[string]any{c.op: {c.key: c.values}})
		principals = append(principals, iamUser(c.name, fmt.Sprintf(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*","Condition":%s}]}`, cond)))
	}
	srv := startIAM(t, principals...)
	adminPutString(t, srv, "/cond", "v")
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ssmAs(srv, principals[i]).GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/cond")})
			if c.allowed && err != nil {
				t.Fatalf("%s %s %v: %v, want allowed", c.op, c.key, c.values, err)
			}
			if !c.allowed {
				wantAccessErr(t, err, "AccessDeniedException", "User: "+principals[i].ARN+" is not authorized to perform: ssm:GetParameter on resource: "+iamParamARN("/cond")+" because no identity-based policy allows the ssm:GetParameter action")
			}
		})
	}
}

func sha256HexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
