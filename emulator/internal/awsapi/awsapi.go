// Package awsapi holds what every service of the local endpoint shares: the
// request a handler receives, AWS-shaped errors, and the hooks through which
// authorization and auditing are plugged in.
package awsapi

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Error is an error exactly as an AWS JSON 1.1 service sends it: an HTTP
// status and a body {"__type": Code, "message": Message}. An empty Message is
// left out of the body, as AWS does for e.g. ParameterNotFound.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Errorf returns an HTTP 400 error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Code returns an HTTP 400 error with the given code and no message.
func Code(code string) *Error { return &Error{Status: http.StatusBadRequest, Code: code} }

// Principal is the caller a request is made by.
type Principal struct {
	ARN         string // e.g. arn:aws:iam::000000000000:user/node1, or arn:aws:iam::000000000000:root
	Account     string
	UserID      string
	AccessKeyID string
}

// Request is one API call as a handler sees it.
type Request struct {
	Context   context.Context
	Service   string // "ssm", "kms", "sts", "cloudtrail"
	Operation string // e.g. "GetParameter"
	Region    string // from the SigV4 credential scope
	Account   string // the account that owns the resources addressed
	Partition string // "aws" unless configured otherwise
	Principal Principal
	RequestID string
	SourceIP  string
	UserAgent string
	Time      time.Time
	// ViaService is set when one service calls another on the caller's
	// behalf, as SSM calls KMS for a SecureString: "ssm.<region>.amazonaws.com".
	ViaService string
}

// Check is one authorization question: may the request's principal perform
// Action on Resource, given the condition-key values in Conditions.
type Check struct {
	Action   string // e.g. "kms:Decrypt"
	Resource string // ARN of the parameter or key
	// Conditions holds the request's condition keys, e.g.
	// "kms:EncryptionContext:PARAMETER_ARN", "kms:ViaService", "kms:CallerAccount".
	// aws:PrincipalArn is filled in by the authorizer from the request.
	Conditions map[string][]string
	// ResourcePolicy is the key policy (JSON) for KMS keys; empty for SSM.
	ResourcePolicy string
	// IsKMS says that the resource is a KMS key, so the key policy must allow
	// the call (directly or through the account-root statement).
	IsKMS bool
}

// Authorizer decides Checks. It returns nil when allowed, or an *Error
// (AccessDeniedException with AWS's message) when not.
type Authorizer interface {
	Authorize(r *Request, c Check) error
}

// AllowAll is the authorizer of the open endpoint: every call is allowed.
type AllowAll struct{}

func (AllowAll) Authorize(*Request, Check) error { return nil }

// Event is one audited call, the subset of a CloudTrail record we keep.
type Event struct {
	Time              time.Time
	EventSource       string // "ssm.amazonaws.com", "kms.amazonaws.com"
	EventName         string // operation
	Region            string
	PrincipalARN      string
	Username          string
	AccessKeyID       string
	SourceIP          string
	UserAgent         string
	RequestID         string
	ViaService        string            // set for calls SSM made to KMS on the caller's behalf
	KeyARN            string            // KMS key involved, if any
	EncryptionContext map[string]string // for KMS calls
	Resources         []string          // ARNs of parameters or keys
	ErrorCode         string
	ErrorMessage      string
}

// Auditor records events.
type Auditor interface {
	Record(Event)
}

// NopAuditor records nothing.
type NopAuditor struct{}

func (NopAuditor) Record(Event) {}

// Handler serves one operation. body is the raw JSON request body. The value
// returned is marshalled as the JSON response; an error that is an *Error is
// sent as is, any other error as an InternalServerError (HTTP 500).
type Handler func(r *Request, body []byte) (any, error)
