// Package storeerr is the store's error model: it turns a failure of SSM,
// KMS, STS or the AWS credential chain into an *Error that says what failed
// (open, read, write or delete), on which parameter and which KMS key, the
// cause in plain words and the fix (the IAM action and resource to grant, or
// the key state to change and the aws CLI command that does it), while still
// wrapping the AWS error so that errors.As reaches *types.InvalidKeyId,
// smithy.APIError and the like.
//
// Classify does the translation; CheckKey is the store's fail-fast key check
// (one DescribeKey); KeyProblem judges key metadata already in hand. The
// catalogue of every case with the exact text a user sees is docs/errors.md,
// generated from this package's tests (go test ./storeerr -run
// TestCatalogue -update) so that it cannot drift.
package storeerr

import (
	"errors"
	"strings"
	"time"

	"github.com/aws/smithy-go"
)

// Op is what the store was doing when it failed.
type Op string

const (
	OpOpen   Op = "open"
	OpRead   Op = "read"
	OpWrite  Op = "write"
	OpDelete Op = "delete"
)

// Kind names a failure. The values are stable identifiers: they appear in
// docs/errors.md and may be matched by programs.
type Kind string

const (
	// KeyNotFound: the key id or key ARN names no key in that account and Region.
	KeyNotFound Kind = "key-not-found"
	// AliasNotFound: the alias names no key in that account and Region.
	AliasNotFound Kind = "alias-not-found"
	// KeyDisabled: the key exists but is disabled.
	KeyDisabled Kind = "key-disabled"
	// KeyPendingDeletion: the key is scheduled for deletion.
	KeyPendingDeletion Kind = "key-pending-deletion"
	// KeyUnavailable: the key is in another state that forbids use
	// (PendingImport, Unavailable, Creating, Updating, …).
	KeyUnavailable Kind = "key-unavailable"
	// KeyNotSymmetric: the key is asymmetric (RSA, ECC) or HMAC; Parameter
	// Store needs a symmetric encryption key.
	KeyNotSymmetric Kind = "key-not-symmetric"
	// KeyWrongUsage: the key's usage is not ENCRYPT_DECRYPT.
	KeyWrongUsage Kind = "key-wrong-usage"
	// KeyOtherRegion: the key is in another Region than the parameter.
	KeyOtherRegion Kind = "key-other-region"
	// CiphertextInvalid: KMS refused the stored ciphertext (tampered, or
	// encrypted for another parameter ARN or key).
	CiphertextInvalid Kind = "ciphertext-invalid"
	// AccessDenied: an IAM or key policy does not allow an action.
	AccessDenied Kind = "access-denied"
	// Throttled: AWS throttled the calls and the retries ran out.
	Throttled Kind = "throttled"
	// ValueTooLarge: a value exceeds what the parameter's tier holds.
	ValueTooLarge Kind = "value-too-large"
	// TypeMismatch: the parameter's type (String/SecureString) conflicts
	// with the request.
	TypeMismatch Kind = "type-mismatch"
	// NoCredentials: the credential chain found no credentials.
	NoCredentials Kind = "no-credentials"
	// ExpiredCredentials: the credentials (session token) have expired.
	ExpiredCredentials Kind = "expired-credentials"
	// InvalidCredentials: AWS does not recognise the access key, or the
	// signature does not match the secret.
	InvalidCredentials Kind = "invalid-credentials"
	// NoRegion: no Region was configured.
	NoRegion Kind = "no-region"
	// EndpointUnreachable: the request could not be sent or no answer came.
	EndpointUnreachable Kind = "endpoint-unreachable"
	// ServiceFailure: AWS answered with an internal error (HTTP 5xx) and the
	// retries ran out.
	ServiceFailure Kind = "aws-internal-error"
)

// Error is a store failure caused by AWS or the credential chain, explained.
type Error struct {
	Kind Kind
	Op   Op
	// Parameter is the SSM parameter's ARN (or name when no ARN is known).
	Parameter string
	// KeyARN is the KMS key's ARN when known.
	KeyARN string
	// KeyAlias is the alias the key was named by (alias/NAME), if any.
	KeyAlias string
	// Action and Resource are the denied IAM action and its resource
	// (AccessDenied), and Principal the caller AWS named.
	Action    string
	Resource  string
	Principal string
	// DeletionDate is when a key pending deletion goes (KeyPendingDeletion,
	// when DescribeKey told it).
	DeletionDate time.Time
	// Cause says what is wrong, in plain words; Fix what to do about it.
	Cause string
	Fix   string
	// Err is the error AWS or the SDK returned.
	Err error
}

// Error renders one readable paragraph: what failed, the cause, the fix and
// the AWS error it came from.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cannot ")
	b.WriteString(string(e.Op))
	if e.Parameter != "" {
		b.WriteString(" SSM parameter ")
		b.WriteString(e.Parameter)
	}
	b.WriteString(": ")
	b.WriteString(e.Cause)
	b.WriteString(". Fix: ")
	b.WriteString(e.Fix)
	b.WriteString(".")
	if s := awsText(e.Err); s != "" {
		b.WriteString(" (AWS error: ")
		b.WriteString(s)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the AWS error.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the *Error in err's chain, or "" when there is
// none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// awsText is the short form of the underlying error shown in Error: the
// API error's code and message, or the error's own text otherwise.
func awsText(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if m := ae.ErrorMessage(); m != "" {
			return ae.ErrorCode() + ": " + m
		}
		return ae.ErrorCode()
	}
	return err.Error()
}

// fmtDate prints a deletion date as users read it.
func fmtDate(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
