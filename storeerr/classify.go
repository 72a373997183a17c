package storeerr

import (
	"errors"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Subject is what a failed operation acted on. Classify copies it into the
// Error and uses it to write the fix.
type Subject struct {
	Op Op
	// Parameter is the parameter's ARN, e.g.
	// arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1.
	Parameter string
	// Region is the parameter's Region, where the SSM and KMS calls go.
	Region string
	// Key is the key as configured (the locator's kmsKey): a key id, key
	// ARN, alias/NAME or alias ARN. Empty means SSM's aws/ssm key.
	Key string
	// KeyARN is the key's ARN when already known (from DescribeKey).
	KeyARN string
}

// Alias returns the alias the key was named by (alias/NAME), or "".
func (s Subject) Alias() string {
	switch {
	case strings.HasPrefix(s.Key, "alias/"):
		return s.Key
	case strings.HasPrefix(s.Key, "arn:"):
		if a, err := arn.Parse(s.Key); err == nil && strings.HasPrefix(a.Resource, "alias/") {
			return a.Resource
		}
	}
	return ""
}

// keyRegion is the Region a key lives in: the one its ARN names, else the
// parameter's.
func (s Subject) keyRegion(keyARN string) string {
	for _, k := range []string{keyARN, s.KeyARN, s.Key} {
		if a, err := arn.Parse(k); err == nil && a.Service == "kms" && a.Region != "" {
			return a.Region
		}
	}
	return s.Region
}

func (s Subject) account() string {
	if a, err := arn.Parse(s.Parameter); err == nil {
		return a.AccountID
	}
	return ""
}

// keyRef is how a fix names the key in a CLI command: its ARN when known,
// else the configured reference.
func (s Subject) keyRef(keyARN string) string {
	switch {
	case keyARN != "":
		return keyARN
	case s.KeyARN != "":
		return s.KeyARN
	case s.Key != "":
		return s.Key
	}
	return "alias/aws/ssm"
}

// keyName is how a cause names the key: "alias/x (arn…)", "alias/x", the
// ARN, or the AWS managed key.
func (s Subject) keyName(keyARN string) string {
	if keyARN == "" {
		keyARN = s.KeyARN
	}
	alias := s.Alias()
	switch {
	case alias != "" && keyARN != "":
		return "KMS key " + alias + " (" + keyARN + ")"
	case alias != "":
		return "KMS key " + alias
	case keyARN != "":
		return "KMS key " + keyARN
	case s.Key != "":
		return "KMS key " + s.Key
	}
	return "the AWS managed KMS key aws/ssm"
}

func (s Subject) newError(kind Kind, keyARN string, err error) *Error {
	if keyARN == "" {
		keyARN = s.KeyARN
	}
	return &Error{Kind: kind, Op: s.Op, Parameter: s.Parameter, KeyARN: keyARN, KeyAlias: s.Alias(), Err: err}
}

var (
	// "… (Service: AWSKMS; Status Code: 400; Error Code: NotFoundException; Request ID: …)"
	kmsInnerRx = regexp.MustCompile(`^(.*?)\s*\(Service: AWSKMS;.*?Error Code: ([A-Za-z]+)`)
	// "User: arn:… is not authorized to perform: kms:Decrypt on resource: arn:… because …"
	deniedRx   = regexp.MustCompile(`is not authorized to perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)(?: on resource: ([^\s]+))?`)
	userRx     = regexp.MustCompile(`User: ([^\s]+) is not authorized`)
	keyArnRx   = regexp.MustCompile(`arn:[a-z0-9-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+`)
	otherRgnRx = regexp.MustCompile(`^Invalid arn ([a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2})$`)
	usageRx    = regexp.MustCompile(`key usage is ([A-Z_]+) which is not valid`)
	stateRx    = regexp.MustCompile(`is (pending [a-z ]+|[a-z]+)\.$`)
)

// Classify explains err, an error from an SSM, KMS or STS call or from the
// credential chain, as an *Error about s. It returns nil for nil, err
// itself when err already holds an *Error or is not one of the known cases
// (see Kind), and otherwise an *Error wrapping err.
func Classify(err error, s Subject) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	if e := classify(err, s); e != nil {
		return e
	}
	return err
}

func classify(err error, s Subject) *Error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return classifyAPI(err, ae, s)
	}
	var mr *aws.MissingRegionError
	msg := err.Error()
	switch {
	case errors.As(err, &mr) || strings.Contains(msg, "Missing Region"):
		return noRegion(s, err)
	case isCredentialChainError(msg):
		return noCredentials(s, err)
	}
	var se *smithyhttp.RequestSendError
	var ne net.Error
	if errors.As(err, &se) || errors.As(err, &ne) {
		return unreachable(s, err)
	}
	return nil
}

// isCredentialChainError recognises the SDK's failure to get credentials:
// "get identity: get credentials: failed to refresh cached credentials, no
// EC2 IMDS role found, …" (aws-sdk-go-v2 has no type for it).
func isCredentialChainError(msg string) bool {
	for _, s := range []string{"get identity: ", "failed to retrieve credentials", "failed to refresh cached credentials", "static credentials are empty"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func classifyAPI(err error, ae smithy.APIError, s Subject) *Error {
	code, msg := ae.ErrorCode(), ae.ErrorMessage()
	// SSM reports a KMS failure as InvalidKeyId (or AccessDeniedException)
	// with KMS's own error inside the message, in the AWS SDK for Java's
	// format; unwrap it and judge KMS's code.
	if m := kmsInnerRx.FindStringSubmatch(msg); m != nil {
		msg, code = m[1], m[2]
	}
	switch code {
	case "NotFoundException", "InvalidKeyId":
		return keyNotFound(s, msg, err)
	case "DisabledException":
		return keyDisabled(s, keyArnRx.FindString(msg), err)
	case "KMSInvalidStateException":
		keyARN := keyArnRx.FindString(msg)
		if strings.Contains(msg, "pending deletion") {
			return keyPendingDeletion(s, keyARN, time.Time{}, err)
		}
		state := "in a state that does not allow its use"
		if m := stateRx.FindStringSubmatch(msg); m != nil {
			state = m[1]
		}
		return keyUnavailable(s, keyARN, state, err)
	case "KeyUnavailableException":
		return keyUnavailable(s, keyArnRx.FindString(msg), "unavailable", err)
	case "InvalidKeyUsageException":
		usage := ""
		if m := usageRx.FindStringSubmatch(msg); m != nil {
			usage = m[1]
		}
		if usage != "" && usage != "ENCRYPT_DECRYPT" {
			return keyWrongUsage(s, keyArnRx.FindString(msg), usage, err)
		}
		return keyNotSymmetric(s, keyArnRx.FindString(msg), "", err)
	case "InvalidCiphertextException", "IncorrectKeyException":
		return ciphertextInvalid(s, err)
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation":
		return accessDenied(s, msg, operationOf(err), err)
	case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded":
		return throttled(s, serviceOf(err), err)
	case "ValidationException":
		switch {
		case strings.Contains(msg, "support a maximum parameter value"):
			return valueTooLarge(s, msg, err)
		case strings.Contains(msg, "KeyId is required for SecureString type parameter only"):
			return typeMismatch(s, err)
		}
	case "HierarchyTypeMismatchException":
		return typeMismatch(s, err)
	case "ExpiredTokenException", "ExpiredToken":
		return expiredCredentials(s, err)
	case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken", "MissingAuthenticationTokenException":
		return invalidCredentials(s, err)
	case "InternalServerError", "KMSInternalException", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException", "DependencyTimeoutException":
		return serviceFailure(s, serviceOf(err), err)
	}
	return nil
}

func operationOf(err error) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return oe.ServiceID + ":" + oe.OperationName
	}
	return ""
}

func serviceOf(err error) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return oe.ServiceID
	}
	return ""
}

// actionFor maps an operation ("SSM:GetParameter") to its IAM action.
func actionFor(op string) string {
	svc, name, ok := strings.Cut(op, ":")
	if !ok {
		return ""
	}
	return strings.ToLower(svc) + ":" + name
}
