package storeerr

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

var update = flag.Bool("update", false, "rewrite docs/errors.md from the catalogue")

// Example names used throughout the catalogue.
const (
	exParam  = "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1"
	exKeyARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	exWest   = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	exUser   = "arn:aws:iam::123456789012:user/node1"
	exReqID  = "Request ID: 8f3c1f58-7d0a-4b1e-9a55-1b2f4c7d9e10; Proxy: null"
)

func subj(op Op, key string) Subject {
	return Subject{Op: op, Parameter: exParam, Region: "us-east-1", Key: key}
}

// opErr wraps an API error as the SDK returns it from a call.
func opErr(service, op string, api error) error {
	return &smithy.OperationError{ServiceID: service, OperationName: op, Err: api}
}

func generic(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

// viaSSM is a KMS failure as SSM reports it: InvalidKeyId with KMS's error
// in the message.
func viaSSM(kmsCode, kmsMsg string) error {
	return &ssmtypes.InvalidKeyId{Message: aws.String(fmt.Sprintf("%s (Service: AWSKMS; Status Code: 400; Error Code: %s; %s)", kmsMsg, kmsCode, exReqID))}
}

// entry is one catalogued case: the AWS error that triggers it and what the
// store then says.
type entry struct {
	kind    Kind
	title   string
	trigger string // where the input error comes from
	err     error  // nil: the case comes from KeyProblem (fail-fast at Open)
	meta    *kmstypes.KeyMetadata
	s       Subject
	// checks on the result beyond the kind.
	action string
	keyARN string
}

var deletion = time.Date(2026, 12, 10, 16, 6, 0, 0, time.UTC)

func catalogue() []entry {
	meta := func(mod func(*kmstypes.KeyMetadata)) *kmstypes.KeyMetadata {
		m := &kmstypes.KeyMetadata{Arn: aws.String(exKeyARN), KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab"),
			KeySpec: kmstypes.KeySpecSymmetricDefault, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt, KeyState: kmstypes.KeyStateEnabled, Enabled: true}
		mod(m)
		return m
	}
	return []entry{
		{kind: AliasNotFound, title: "The alias does not exist",
			trigger: "SSM GetParameter/PutParameter with `KeyId: alias/ts-prod` when no such alias exists in that account and Region, or the fail-fast DescribeKey at Open (`NotFoundException` directly from KMS)",
			err:     opErr("SSM", "PutParameter", viaSSM("NotFoundException", "Alias arn:aws:kms:us-east-1:123456789012:alias/ts-prod is not found.")),
			s:       subj(OpWrite, "alias/ts-prod")},
		{kind: KeyNotFound, title: "The key does not exist",
			trigger: "a key id or key ARN that names no key in that account and Region (never created, deleted, or in another Region)",
			err:     opErr("KMS", "DescribeKey", generic("NotFoundException", "Key '"+exKeyARN+"' does not exist")),
			s:       subj(OpOpen, exKeyARN), keyARN: exKeyARN},
		{kind: KeyDisabled, title: "The key is disabled (found while reading)",
			trigger: "SSM GetParameter of a SecureString whose key is disabled",
			err:     opErr("SSM", "GetParameters", viaSSM("DisabledException", exKeyARN+" is disabled.")),
			s:       subj(OpRead, "alias/ts-prod"), keyARN: exKeyARN},
		{kind: KeyDisabled, title: "The key is disabled (found at Open)",
			trigger: "the fail-fast DescribeKey at Open shows `KeyState: Disabled`",
			meta:    meta(func(m *kmstypes.KeyMetadata) { m.KeyState, m.Enabled = kmstypes.KeyStateDisabled, false }),
			s:       subj(OpOpen, "alias/ts-prod"), keyARN: exKeyARN},
		{kind: KeyPendingDeletion, title: "The key is pending deletion (found at Open, with the date)",
			trigger: "the fail-fast DescribeKey at Open shows `KeyState: PendingDeletion` and its `DeletionDate`",
			meta: meta(func(m *kmstypes.KeyMetadata) {
				m.KeyState, m.Enabled, m.DeletionDate = kmstypes.KeyStatePendingDeletion, false, aws.Time(deletion)
			}),
			s: subj(OpOpen, "alias/ts-prod"), keyARN: exKeyARN},
		{kind: KeyPendingDeletion, title: "The key is pending deletion (found while writing)",
			trigger: "SSM PutParameter under a key scheduled for deletion (`KMSInvalidStateException`; the date is not in AWS's message)",
			err:     opErr("SSM", "PutParameter", viaSSM("KMSInvalidStateException", exKeyARN+" is pending deletion.")),
			s:       subj(OpWrite, "alias/ts-prod"), keyARN: exKeyARN},
		{kind: KeyUnavailable, title: "The key is in another unusable state",
			trigger: "a key whose state is PendingImport, Unavailable, Creating or Updating (`KMSInvalidStateException`, `KeyUnavailableException`)",
			err:     opErr("SSM", "PutParameter", viaSSM("KMSInvalidStateException", exKeyARN+" is pending import.")),
			s:       subj(OpWrite, exKeyARN), keyARN: exKeyARN},
		{kind: KeyNotSymmetric, title: "The key is asymmetric",
			trigger: "the fail-fast DescribeKey at Open shows a KeySpec other than SYMMETRIC_DEFAULT (RSA_2048, ECC_NIST_P256, HMAC_256, …)",
			meta:    meta(func(m *kmstypes.KeyMetadata) { m.KeySpec = kmstypes.KeySpecRsa2048 }),
			s:       subj(OpOpen, "alias/ts-prod"), keyARN: exKeyARN},
		{kind: KeyNotSymmetric, title: "The key is asymmetric (found while writing)",
			trigger: "SSM PutParameter under an asymmetric key (`InvalidKeyUsageException`)",
			err:     opErr("SSM", "PutParameter", viaSSM("InvalidKeyUsageException", "The key ID in the request does not identify a CMK that can perform this operation.")),
			s:       subj(OpWrite, "alias/ts-prod")},
		{kind: KeyWrongUsage, title: "The key is not for ENCRYPT_DECRYPT",
			trigger: "a key whose KeyUsage is SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT (DescribeKey at Open, or `InvalidKeyUsageException` from SSM)",
			err:     opErr("SSM", "PutParameter", viaSSM("InvalidKeyUsageException", exKeyARN+" key usage is SIGN_VERIFY which is not valid for Encrypt.")),
			s:       subj(OpWrite, "alias/ts-prod"), keyARN: exKeyARN},
		{kind: KeyOtherRegion, title: "The key is in another Region than the parameter",
			trigger: "kmsKey= is a key ARN of another Region (found at Open without any call), or KMS answers `NotFoundException: Invalid arn <region>`",
			err:     opErr("SSM", "PutParameter", viaSSM("NotFoundException", "Invalid arn us-west-2")),
			s:       subj(OpWrite, exWest)},
		{kind: CiphertextInvalid, title: "The stored ciphertext does not decrypt",
			trigger: "SSM GetParameter of a SecureString that was tampered with or encrypted for another parameter ARN (`InvalidCiphertextException`)",
			err:     opErr("SSM", "GetParameters", viaSSM("InvalidCiphertextException", "")),
			s:       subj(OpRead, "alias/ts-prod")},
		{kind: AccessDenied, title: "Access denied: ssm:GetParameter, ssm:GetParameters",
			trigger: "the caller's IAM policies do not allow reading the parameter",
			err: opErr("SSM", "GetParameters", &ssmtypes.AccessDeniedException{Message: aws.String("User: " + exUser +
				" is not authorized to perform: ssm:GetParameters on resource: " + exParam + " because no identity-based policy allows the ssm:GetParameters action")}),
			s: subj(OpRead, "alias/ts-prod"), action: "ssm:GetParameters"},
		{kind: AccessDenied, title: "Access denied: ssm:PutParameter",
			trigger: "the caller's IAM policies do not allow writing the parameter",
			err: opErr("SSM", "PutParameter", &ssmtypes.AccessDeniedException{Message: aws.String("User: " + exUser +
				" is not authorized to perform: ssm:PutParameter on resource: " + exParam + " because no identity-based policy allows the ssm:PutParameter action")}),
			s: subj(OpWrite, "alias/ts-prod"), action: "ssm:PutParameter"},
		{kind: AccessDenied, title: "Access denied: ssm:DeleteParameter, ssm:DeleteParameters (explicit deny)",
			trigger: "a Deny statement forbids deleting superseded parts",
			err: opErr("SSM", "DeleteParameters", &ssmtypes.AccessDeniedException{Message: aws.String("User: " + exUser +
				" is not authorized to perform: ssm:DeleteParameters on resource: " + exParam + ".g2.p0 with an explicit deny in an identity-based policy")}),
			s: subj(OpDelete, "alias/ts-prod"), action: "ssm:DeleteParameters"},
		{kind: AccessDenied, title: "Access denied: kms:Decrypt",
			trigger: "SSM GetParameter with decryption when the caller may not use the key (SSM passes KMS's AccessDeniedException through)",
			err: opErr("SSM", "GetParameters", generic("AccessDeniedException", "User: "+exUser+" is not authorized to perform: kms:Decrypt on resource: "+exKeyARN+
				" because no identity-based policy allows the kms:Decrypt action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; "+exReqID+")")),
			s: subj(OpRead, "alias/ts-prod"), action: "kms:Decrypt", keyARN: exKeyARN},
		{kind: AccessDenied, title: "Access denied: kms:Encrypt (key policy)",
			trigger: "SSM PutParameter of a Standard SecureString when the key policy does not allow the caller",
			err: opErr("SSM", "PutParameter", generic("AccessDeniedException", "User: "+exUser+" is not authorized to perform: kms:Encrypt on resource: "+exKeyARN+
				" because no resource-based policy allows the kms:Encrypt action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; "+exReqID+")")),
			s: subj(OpWrite, "alias/ts-prod"), action: "kms:Encrypt", keyARN: exKeyARN},
		{kind: AccessDenied, title: "Access denied: kms:GenerateDataKey",
			trigger: "SSM PutParameter of an Advanced SecureString (envelope encryption) when the caller may not generate data keys",
			err: opErr("SSM", "PutParameter", generic("AccessDeniedException", "User: "+exUser+" is not authorized to perform: kms:GenerateDataKey on resource: "+exKeyARN+
				" because no identity-based policy allows the kms:GenerateDataKey action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; "+exReqID+")")),
			s: subj(OpWrite, "alias/ts-prod"), action: "kms:GenerateDataKey", keyARN: exKeyARN},
		{kind: AccessDenied, title: "Access denied: kms:DescribeKey",
			trigger: "the fail-fast DescribeKey at Open is not allowed",
			err: opErr("KMS", "DescribeKey", generic("AccessDeniedException", "User: "+exUser+" is not authorized to perform: kms:DescribeKey on resource: "+exKeyARN+
				" because no identity-based policy allows the kms:DescribeKey action")),
			s: subj(OpOpen, "alias/ts-prod"), action: "kms:DescribeKey", keyARN: exKeyARN},
		{kind: Throttled, title: "Throttled, and the retries ran out",
			trigger: "`ThrottlingException: Rate exceeded` on every attempt until the deadline",
			err:     opErr("SSM", "GetParameters", generic("ThrottlingException", "Rate exceeded")),
			s:       subj(OpRead, "alias/ts-prod")},
		{kind: ValueTooLarge, title: "The value is too large for the tier",
			trigger: "SSM PutParameter of more than 4,096 characters as Standard (8,192 as Advanced)",
			err: opErr("SSM", "PutParameter", generic("ValidationException", "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. "+
				"For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html")),
			s: subj(OpWrite, "alias/ts-prod")},
		{kind: TypeMismatch, title: "String/SecureString type mismatch",
			trigger: "SSM refuses a change of type (`HierarchyTypeMismatchException`), or `KeyId` sent for a parameter that is not a SecureString",
			err:     opErr("SSM", "PutParameter", &ssmtypes.HierarchyTypeMismatchException{Message: aws.String("Parameter Store does not support changing a parameter type in a hierarchy.")}),
			s:       subj(OpWrite, "alias/ts-prod")},
		{kind: NoCredentials, title: "No credentials",
			trigger: "aws-sdk-go-v2's default chain found nothing (no environment keys, profile, SSO, web identity or instance role)",
			err: &smithy.OperationError{ServiceID: "SSM", OperationName: "GetParameters", Err: fmt.Errorf("get identity: %w", fmt.Errorf("get credentials: %w",
				errors.New("failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, access disabled to EC2 IMDS via client option, or \"AWS_EC2_METADATA_DISABLED\" environment variable")))},
			s: subj(OpOpen, "alias/ts-prod")},
		{kind: ExpiredCredentials, title: "Expired credentials",
			trigger: "`ExpiredTokenException` (SSM, KMS) or `ExpiredToken` (STS)",
			err:     opErr("SSM", "GetParameters", generic("ExpiredTokenException", "The security token included in the request is expired")),
			s:       subj(OpRead, "alias/ts-prod")},
		{kind: InvalidCredentials, title: "Credentials not accepted",
			trigger: "`UnrecognizedClientException`, `InvalidClientTokenId`, `InvalidSignatureException` or `SignatureDoesNotMatch`",
			err:     opErr("SSM", "GetParameters", generic("UnrecognizedClientException", "The security token included in the request is invalid.")),
			s:       subj(OpRead, "alias/ts-prod")},
		{kind: NoRegion, title: "No Region",
			trigger: "a client without a Region (the SDK's `Missing Region` endpoint error)",
			err:     opErr("STS", "GetCallerIdentity", fmt.Errorf("resolve auth scheme: %w", errors.New("endpoint rule error, Invalid Configuration: Missing Region"))),
			s:       Subject{Op: OpOpen}},
		{kind: EndpointUnreachable, title: "Endpoint unreachable",
			trigger: "connection refused, DNS failure, reset or timeout on every attempt",
			err: opErr("SSM", "GetParameters", &smithyhttp.RequestSendError{Err: errors.New(
				`Post "https://ssm.us-east-1.amazonaws.com/": dial tcp: lookup ssm.us-east-1.amazonaws.com: no such host`)}),
			s: subj(OpOpen, "alias/ts-prod")},
		{kind: ServiceFailure, title: "AWS internal error",
			trigger: "HTTP 5xx (`InternalServerError`, `KMSInternalException`) on every attempt until the deadline",
			err:     opErr("SSM", "PutParameter", generic("InternalServerError", "An internal error occurred.")),
			s:       subj(OpWrite, "alias/ts-prod")},
	}
}

func (c entry) run() *Error {
	if c.err == nil {
		return KeyProblem(c.meta, c.s)
	}
	var e *Error
	if !errors.As(Classify(c.err, c.s), &e) {
		return nil
	}
	return e
}

func TestCatalogueCases(t *testing.T) {
	for _, c := range catalogue() {
		t.Run(c.title, func(t *testing.T) {
			e := c.run()
			if e == nil {
				t.Fatalf("not classified: %v", c.err)
			}
			if e.Kind != c.kind {
				t.Errorf("kind = %s, want %s\n%s", e.Kind, c.kind, e)
			}
			if e.Op != c.s.Op || e.Parameter != c.s.Parameter {
				t.Errorf("op/parameter = %s %s, want %s %s", e.Op, e.Parameter, c.s.Op, c.s.Parameter)
			}
			if c.action != "" && e.Action != c.action {
				t.Errorf("action = %q, want %q", e.Action, c.action)
			}
			if c.keyARN != "" && e.KeyARN != c.keyARN {
				t.Errorf("key ARN = %q, want %q", e.KeyARN, c.keyARN)
			}
			if a := c.s.Alias(); e.KeyAlias != a {
				t.Errorf("alias = %q, want %q", e.KeyAlias, a)
			}
			if e.Cause == "" || e.Fix == "" {
				t.Errorf("cause %q / fix %q empty", e.Cause, e.Fix)
			}
			msg := e.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message is not one paragraph: %q", msg)
			}
			if c.err != nil {
				// The AWS error stays reachable.
				if !errors.Is(e, c.err) {
					t.Errorf("errors.Is does not reach the AWS error")
				}
				var ae smithy.APIError
				if errors.As(c.err, &ae) && !errors.As(e, &ae) {
					t.Errorf("errors.As does not reach smithy.APIError")
				}
			}
			if c.action != "" && !strings.Contains(e.Fix, c.action) {
				t.Errorf("fix does not name %s: %s", c.action, e.Fix)
			}
		})
	}
}

// TestCatalogueDoc keeps docs/errors.md equal to what the code says.
// Regenerate with: go test ./storeerr -run TestCatalogueDoc -update
func TestCatalogueDoc(t *testing.T) {
	var b strings.Builder
	b.WriteString(docHeader)
	for _, c := range catalogue() {
		e := c.run()
		if e == nil {
			t.Fatalf("%s: not classified", c.title)
		}
		fmt.Fprintf(&b, "### `%s`: %s\n\n", c.kind, c.title)
		fmt.Fprintf(&b, "When: %s.\n\n", c.trigger)
		if c.err != nil {
			fmt.Fprintf(&b, "AWS error: `%s`\n\n", awsText(c.err))
		}
		fmt.Fprintf(&b, "What the store returns (`Error()`):\n\n```\n%s\n```\n\n", e.Error())
	}
	got := b.String()
	const path = "../docs/errors.md"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./storeerr -run TestCatalogueDoc -update)", err)
	}
	if string(want) != got {
		t.Errorf("docs/errors.md is out of date with the code; run go test ./storeerr -run TestCatalogueDoc -update")
	}
}

const docHeader = `# Errors: what ssmstate says when AWS fails

<!-- Generated by go test ./storeerr -run TestCatalogueDoc -update; do not edit by hand. -->

Every failure of an SSM, KMS or STS call, or of the AWS credential chain,
reaches the caller as a ` + "`*storeerr.Error`" + ` (package
` + "`github.com/ssmstate/ssmstate/storeerr`" + `). It says what failed (open,
read, write or delete), on which parameter and which KMS key (its ARN and the
alias it came from), the cause in plain words and the fix: the IAM action and
resource to grant, or the key state to change and the aws CLI command that
does it. It still wraps the AWS error, so ` + "`errors.As`" + ` reaches
` + "`*types.InvalidKeyId`" + `, ` + "`smithy.APIError`" + ` and the rest:

` + "```go" + `
var se *storeerr.Error
if errors.As(err, &se) {
	fmt.Println(se.Kind, se.Action, se.KeyARN) // e.g. access-denied kms:Decrypt arn:aws:kms:…
}
var ae smithy.APIError
errors.As(err, &ae) // the AWS error code and message
` + "```" + `

` + "`storeerr.KindOf(err)`" + ` returns the stable kind name used as the
heading of each case below. When a KMS key is named (` + "`?kmsKey=`" + `),
the store checks it at Open with one DescribeKey call, so a wrong alias, a
disabled key, a key pending deletion, an asymmetric key or a key in another
Region fails at boot rather than at the first write. ` + "`ssmstate doctor`" + `
runs the same checks and more (docs/doctor.md).

SSM reports KMS failures as ` + "`InvalidKeyId`" + ` (or
` + "`AccessDeniedException`" + `) with KMS's own error inside the message, in
the form ` + "`<message> (Service: AWSKMS; Status Code: 400; Error Code: <code>; …)`" + `;
the classifier reads the inner code. The examples below use the parameter
` + "`" + exParam + "`" + `, the locator option ` + "`kmsKey=alias/ts-prod`" + `
and the caller ` + "`" + exUser + "`" + `; the store prefixes the message with
` + "`open <locator>: `" + ` when Open fails. The ` + "`ssmstate`" + ` commands print
the same error as two lines, ` + "`ssmstate: cannot <op> SSM parameter <arn>: <cause> (AWS <code>)`" + `
and ` + "`fix: <fix>`" + `; ` + "`ssmstate doctor`" + ` prints the cause on a check's line
and the fix under it.

When the store's retries end because the context ran out, the SDK reports
only the cancellation; the store's clients carry the API option
` + "`storeerr.KeepLastAttemptError`" + `, which adds the last attempt's error
(e.g. ` + "`ThrottlingException`" + `) so that the case can still be named.

## Catalogue

`
