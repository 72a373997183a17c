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
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
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
	// The SDK's default retryer stays on: AWS errors such as
	// AccessDeniedException are not retried, and it covers a known client-side
	// race of aws-sdk-go-v2 with Go's transport that fails a read of a larger
	// response with "use of closed network connection" (aws/aws-sdk-go-v2#1825,
	// #2737; seen here on LookupEvents pages of ~40 KB about 3% of the time).
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

// --- KMS key policies and SecureStrings (SSM calling KMS as the caller) ---

// createKey makes a symmetric key as admin with the given key policy ("" =
// KMS's default policy, which delegates to IAM through the account root).
func createKeyWithPolicy(t *testing.T, srv *emulator.Server, policy string) string {
	t.Helper()
	in := &kms.CreateKeyInput{BypassPolicyLockoutSafetyCheck: true}
	if policy != "" {
		in.Policy = aws.String(policy)
	}
	out, err := kmsAs(srv, iamUser("admin", adminPolicy)).CreateKey(actx(t), in)
	if err != nil {
		t.Fatalf("admin creates a key: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

func keyPolicy(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func TestAccessKeyPolicy(t *testing.T) {
	direct := iamUser("direct")                              // no identity policy at all
	iamOnly := iamUser("iamonly", allowPolicy("kms:*", "*")) // identity policy only
	nobody := iamUser("nobody")
	srv := startIAM(t, direct, iamOnly, nobody)

	// A key policy that names direct and has no account-root statement:
	// identity policies cannot open it, not even admin's "*".
	closed := createKeyWithPolicy(t, srv, keyPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+direct.ARN+`"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":["`+direct.ARN+`"]},"Action":"kms:ReEncrypt*","Resource":"*"}`))
	encrypt := func(p emulator.IAMPrincipal, key string) error {
		_, err := kmsAs(srv, p).Encrypt(actx(t), &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")})
		return err
	}
	if err := encrypt(direct, closed); err != nil {
		t.Fatalf("principal named in the key policy, without identity policy: %v", err)
	}
	for _, p := range []emulator.IAMPrincipal{iamOnly, iamUser("admin", adminPolicy)} {
		wantAccessErr(t, encrypt(p, closed), "AccessDeniedException",
			"User: "+p.ARN+" is not authorized to perform: kms:Encrypt on resource: "+closed+" because no resource-based policy allows the kms:Encrypt action")
	}
	// An explicit Deny in the key policy.
	out, err := kmsAs(srv, direct).Encrypt(actx(t), &kms.EncryptInput{KeyId: aws.String(closed), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kmsAs(srv, direct).ReEncrypt(actx(t), &kms.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, DestinationKeyId: aws.String(closed)})
	wantAccessErr(t, err, "AccessDeniedException", "User: "+direct.ARN+" is not authorized to perform: kms:ReEncryptFrom on resource: "+closed+" with an explicit deny in a resource-based policy")

	// The default key policy delegates to IAM: identity policies decide.
	open := createKeyWithPolicy(t, srv, "")
	if err := encrypt(iamOnly, open); err != nil {
		t.Fatalf("IAM-allowed principal on a key with the default policy: %v", err)
	}
	for _, p := range []emulator.IAMPrincipal{direct, nobody} {
		wantAccessErr(t, encrypt(p, open), "AccessDeniedException",
			"User: "+p.ARN+" is not authorized to perform: kms:Encrypt on resource: "+open+" because no identity-based policy allows the kms:Encrypt action")
	}

	// Principal "*" with kms:CallerAccount: anyone of the account, no
	// identity policy needed; another account's condition admits no one.
	account := createKeyWithPolicy(t, srv, keyPolicy(
		`{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"`+iamAccount+`"}}}`))
	other := createKeyWithPolicy(t, srv, keyPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"999999999999"}}}`))
	if err := encrypt(nobody, account); err != nil {
		t.Fatalf("kms:CallerAccount of the caller's account: %v", err)
	}
	wantAccessErr(t, encrypt(nobody, other), "AccessDeniedException", "User: "+nobody.ARN+" is not authorized to perform: kms:Encrypt on resource: "+other+" because no resource-based policy allows the kms:Encrypt action")
}

func adminPutSecure(t *testing.T, srv *emulator.Server, name, value, keyID string) {
	t.Helper()
	in := &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)}
	if keyID != "" {
		in.KeyId = aws.String(keyID)
	}
	if _, err := ssmAs(srv, iamUser("admin", adminPolicy)).PutParameter(actx(t), in); err != nil {
		t.Fatalf("admin puts SecureString %s: %v", name, err)
	}
}

// TestAccessSnooperCannotDecryptCustomerKey is issue 5's proof: ssm:GetParameter*
// on * without KMS permissions reads nothing of a SecureString under a
// customer key, but everything under aws/ssm.
func TestAccessSnooperCannotDecryptCustomerKey(t *testing.T) {
	snooper := iamUser("snooper", allowPolicy("ssm:GetParameter*", "*"))
	auditor := iamUser("auditor", allowPolicy("cloudtrail:LookupEvents", "*"))
	srv := startIAM(t, snooper, auditor)
	key := createKeyWithPolicy(t, srv, "")
	const secret = "node-private-key-0123456789"
	adminPutSecure(t, srv, "/ts/node1", secret, key)
	adminPutSecure(t, srv, "/legacy/node", "legacy-private-key-42", "")

	c := ssmAs(srv, snooper)
	_, err := c.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/ts/node1"), WithDecryption: aws.Bool(true)})
	// SSM passes KMS's denial on as AccessDeniedException with KMS's message
	// and the "(Service: AWSKMS; ...)" suffix (terraform-provider-aws#42849).
	wantAccessErr(t, err, "AccessDeniedException",
		"User: "+snooper.ARN+" is not authorized to perform: kms:Decrypt on resource: "+key+" because no identity-based policy allows the kms:Decrypt action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException;…")
	if strings.Contains(err.Error(), secret) {
		t.Fatal("the denial reveals the value")
	}
	_, err = c.GetParametersByPath(actx(t), &ssm.GetParametersByPathInput{Path: aws.String("/ts"), WithDecryption: aws.Bool(true)})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("GetParametersByPath WithDecryption by the snooper: %v", err)
	}
	// Without decryption the snooper gets ciphertext only.
	out, err := c.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/ts/node1")})
	if err != nil {
		t.Fatalf("ciphertext read: %v", err)
	}
	if v := aws.ToString(out.Parameter.Value); v == "" || strings.Contains(v, secret) {
		t.Fatalf("value without decryption %q", v)
	}
	// The hole a customer key closes: aws/ssm lets any SSM reader decrypt.
	out, err = c.GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/legacy/node"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("snooper reading an aws/ssm SecureString: %v", err)
	}
	if aws.ToString(out.Parameter.Value) != "legacy-private-key-42" {
		t.Fatalf("aws/ssm SecureString decrypted to %q", aws.ToString(out.Parameter.Value))
	}

	// CloudTrail shows the denied Decrypt, made by SSM as the snooper, with
	// the parameter's encryption context.
	evs := lookupAllEvents(t, ctAs(srv, auditor), eventNamed("Decrypt"))
	var denied, allowed int
	for _, e := range evs {
		r := ctRecordOf(t, e)
		ec, _ := r.RequestParameters["encryptionContext"].(map[string]any)
		if r.UserIdentity.ARN != snooper.ARN || r.UserIdentity.InvokedBy != "ssm.amazonaws.com" || r.SourceIPAddress != "ssm.amazonaws.com" || r.EventSource != "kms.amazonaws.com" {
			t.Fatalf("Decrypt record %+v", r)
		}
		switch {
		case r.ErrorCode == "AccessDeniedException" && ec["PARAMETER_ARN"] == iamParamARN("/ts/node1") && r.Resources[0].ARN == key:
			denied++
		case r.ErrorCode == "" && ec["PARAMETER_ARN"] == iamParamARN("/legacy/node"):
			allowed++
		}
		if strings.Contains(aws.ToString(e.CloudTrailEvent), "private-key") {
			t.Fatal("a value is in CloudTrail")
		}
	}
	if denied < 1 || allowed != 1 {
		t.Fatalf("Decrypt events: %d denied on /ts/node1, %d allowed on /legacy/node; want ≥1 and 1", denied, allowed)
	}
	byUser := lookupAllEvents(t, ctAs(srv, auditor), &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(key)}}})
	if len(byUser) == 0 {
		t.Fatal("ResourceName=<key ARN> finds no events")
	}
}

// nodePolicy is a node's least-privilege policy: its own parameter in SSM
// (here, reads of every node's, so that only KMS stands in the way), and
// the key only through SSM for its own parameter.
func nodePolicy(name, key string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["ssm:GetParameter"],"Resource":"arn:aws:ssm:%[1]s:%[2]s:parameter/ts/*"},
 {"Effect":"Allow","Action":["ssm:PutParameter"],"Resource":"arn:aws:ssm:%[1]s:%[2]s:parameter/ts/%[3]s"},
 {"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey"],"Resource":%[4]q,
  "Condition":{"StringEquals":{"kms:EncryptionContext:PARAMETER_ARN":"arn:aws:ssm:%[1]s:%[2]s:parameter/ts/%[3]s",
                               "kms:ViaService":"ssm.%[1]s.amazonaws.com"}}}]}`, iamRegion, iamAccount, name, key)
}

func TestAccessNodesSharingAKey(t *testing.T) {
	// The key does not exist before the endpoint starts: the policies name
	// the account's keys by pattern, and the conditions do the narrowing.
	anyKey := "arn:aws:kms:" + iamRegion + ":" + iamAccount + ":key/*"
	node1 := iamUser("node1", nodePolicy("node1", anyKey))
	node2 := iamUser("node2", nodePolicy("node2", anyKey))
	auditor := iamUser("auditor", allowPolicy("cloudtrail:LookupEvents", "*"))
	srv := startIAM(t, node1, node2, auditor)
	key := createKeyWithPolicy(t, srv, "")

	for _, n := range []emulator.IAMPrincipal{node1, node2} {
		name := "/ts/" + iamUserName(n)
		for _, tier := range []ssmtypes.ParameterTier{ssmtypes.ParameterTierStandard, ssmtypes.ParameterTierAdvanced} {
			_, err := ssmAs(srv, n).PutParameter(actx(t), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("state-of-" + name),
				Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String(key), Overwrite: aws.Bool(true), Tier: tier})
			if err != nil {
				t.Fatalf("%s writes its own %s SecureString: %v", n.ARN, tier, err)
			}
		}
		out, err := ssmAs(srv, n).GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil || aws.ToString(out.Parameter.Value) != "state-of-"+name {
			t.Fatalf("%s reads its own state: %v", n.ARN, err)
		}
	}
	_, err := ssmAs(srv, node1).GetParameter(actx(t), &ssm.GetParameterInput{Name: aws.String("/ts/node2"), WithDecryption: aws.Bool(true)})
	wantAccessErr(t, err, "AccessDeniedException",
		"User: "+node1.ARN+" is not authorized to perform: kms:Decrypt on resource: "+key+" because no identity-based policy allows the kms:Decrypt action…")
	if strings.Contains(err.Error(), "state-of") {
		t.Fatal("the denial reveals the value")
	}
	// Writing the other node's parameter is refused by SSM already.
	_, err = ssmAs(srv, node1).PutParameter(actx(t), &ssm.PutParameterInput{Name: aws.String("/ts/node2"), Value: aws.String("x"), Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String(key), Overwrite: aws.Bool(true)})
	wantAccessErr(t, err, "AccessDeniedException", "User: "+node1.ARN+" is not authorized to perform: ssm:PutParameter…")

	// kms:ViaService: the same key and context straight to KMS, not through
	// SSM, is refused.
	_, err = kmsAs(srv, node1).Encrypt(actx(t), &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x"),
		EncryptionContext: map[string]string{"PARAMETER_ARN": iamParamARN("/ts/node1")}})
	wantAccessErr(t, err, "AccessDeniedException",
		"User: "+node1.ARN+" is not authorized to perform: kms:Encrypt on resource: "+key+" because no identity-based policy allows the kms:Encrypt action")

	// CloudTrail: node1's decryptions carry its PARAMETER_ARN; its attempt
	// on node2's parameter is there, denied, with its name.
	var own, denied int
	for _, e := range lookupAllEvents(t, ctAs(srv, auditor), &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("node1")}}}) {
		r := ctRecordOf(t, e)
		if r.EventName != "Decrypt" {
			continue
		}
		ec, _ := r.RequestParameters["encryptionContext"].(map[string]any)
		switch {
		case r.ErrorCode == "" && ec["PARAMETER_ARN"] == iamParamARN("/ts/node1"):
			own++
		case r.ErrorCode == "AccessDeniedException" && ec["PARAMETER_ARN"] == iamParamARN("/ts/node2"):
			denied++
		default:
			t.Fatalf("unexpected Decrypt record for node1: %+v", r)
		}
	}
	if own < 1 || denied != 1 {
		t.Fatalf("node1's Decrypt events: %d of its own, %d denied on node2's; want ≥1 and 1", own, denied)
	}
}

func iamUserName(p emulator.IAMPrincipal) string { return p.ARN[strings.LastIndexByte(p.ARN, '/')+1:] }
