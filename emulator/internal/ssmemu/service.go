// Package ssmemu is the SSM Parameter Store service of the local endpoint:
// parameters with versions, labels, tiers and hierarchy, and SecureString
// values that are really encrypted through the endpoint's KMS (see Keys) and
// never stored in plaintext.
package ssmemu

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/persist"
)

// TargetPrefix is the X-Amz-Target prefix of SSM operations.
const TargetPrefix = "AmazonSSM"

// ServiceName is the service name used in requests, events and ARNs.
const ServiceName = "ssm"

// Keys is the part of the endpoint's KMS that Parameter Store uses. SSM calls
// it as the caller, with r.ViaService set to "ssm.<region>.amazonaws.com".
// Errors are *awsapi.Error with KMS codes and messages.
type Keys interface {
	// Encrypt encrypts plaintext under keyRef (key id, key ARN, alias name or
	// alias ARN); "" means alias/aws/ssm, created on first use.
	Encrypt(r *awsapi.Request, keyRef string, plaintext []byte, encCtx map[string]string) (blob []byte, keyARN string, err error)
	GenerateDataKey(r *awsapi.Request, keyRef string, encCtx map[string]string) (plaintext, blob []byte, keyARN string, err error)
	Decrypt(r *awsapi.Request, blob []byte, encCtx map[string]string) (plaintext []byte, keyARN string, err error)
	ResolveKey(r *awsapi.Request, keyRef string) (keyARN string, err error)
}

// Service serves the Parameter Store operations.
type Service struct {
	db    persist.DB
	keys  Keys
	authz awsapi.Authorizer
	audit awsapi.Auditor

	mu       sync.Mutex
	inFlight map[string]bool // region + "\x00" + canonical name: a put is under way
}

// New returns the SSM service keeping its state in db. keys may be nil, in
// which case SecureString operations fail with an InternalServerError; authz
// and audit may be nil (allow everything, record nothing).
func New(db persist.DB, keys Keys, authz awsapi.Authorizer, audit awsapi.Auditor) (*Service, error) {
	if db == nil {
		return nil, errors.New("ssmemu: a persist.DB is required")
	}
	if authz == nil {
		authz = awsapi.AllowAll{}
	}
	if audit == nil {
		audit = awsapi.NopAuditor{}
	}
	return &Service{db: db, keys: keys, authz: authz, audit: audit, inFlight: map[string]bool{}}, nil
}

// Handlers returns the operations by name, for registration under
// TargetPrefix ("AmazonSSM") and service "ssm".
func (s *Service) Handlers() map[string]awsapi.Handler {
	ops := map[string]func(*awsapi.Request, []byte) (any, []string, error){
		"PutParameter":          s.putParameter,
		"GetParameter":          s.getParameter,
		"GetParameters":         s.getParameters,
		"GetParametersByPath":   s.getParametersByPath,
		"DeleteParameter":       s.deleteParameter,
		"DeleteParameters":      s.deleteParameters,
		"DescribeParameters":    s.describeParameters,
		"GetParameterHistory":   s.getParameterHistory,
		"LabelParameterVersion": s.labelParameterVersion,
	}
	out := make(map[string]awsapi.Handler, len(ops))
	for name, op := range ops {
		out[name] = s.audited(op)
	}
	return out
}

// audited wraps an operation so that every call, successful or not, is
// recorded as a CloudTrail-like event naming the parameters it touched.
func (s *Service) audited(op func(*awsapi.Request, []byte) (any, []string, error)) awsapi.Handler {
	return func(r *awsapi.Request, body []byte) (any, error) {
		out, resources, err := op(r, body)
		ev := awsapi.Event{
			Time:         r.Time,
			EventSource:  "ssm.amazonaws.com",
			EventName:    r.Operation,
			Region:       r.Region,
			PrincipalARN: r.Principal.ARN,
			AccessKeyID:  r.Principal.AccessKeyID,
			SourceIP:     r.SourceIP,
			UserAgent:    r.UserAgent,
			RequestID:    r.RequestID,
			Resources:    resources,
		}
		var ae *awsapi.Error
		if errors.As(err, &ae) {
			ev.ErrorCode, ev.ErrorMessage = ae.Code, ae.Message
		} else if err != nil {
			ev.ErrorCode = "InternalServerError"
		}
		s.audit.Record(ev)
		return out, err
	}
}

// authorize asks whether the caller may perform ssm:<action> on resource.
func (s *Service) authorize(r *awsapi.Request, action, resource string) error {
	return s.authz.Authorize(r, awsapi.Check{Action: "ssm:" + action, Resource: resource})
}

// beginPut marks a put to one parameter as under way. AWS allows one update
// of a parameter at a time; a second concurrent one fails with TooManyUpdates.
func (s *Service) beginPut(region, canonical string) (done func(), err error) {
	k := region + "\x00" + canonical
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[k] {
		return nil, errTooManyUpdates()
	}
	s.inFlight[k] = true
	return func() {
		s.mu.Lock()
		delete(s.inFlight, k)
		s.mu.Unlock()
	}, nil
}

// Errors as AWS sends them.

func errParameterNotFound() error { return awsapi.Code("ParameterNotFound") }

func errValidation(format string, args ...any) error {
	return awsapi.Errorf("ValidationException", format, args...)
}

func errTooManyUpdates() error {
	return awsapi.Errorf("TooManyUpdates", "There are concurrent updates for a resource that supports one update at a time.")
}

func errInternal(format string, args ...any) error {
	return &awsapi.Error{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: fmt.Sprintf(format, args...)}
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
