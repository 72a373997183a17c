package emulator

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssmstate/ssmstate/emulator/internal/audit"
	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/iam"
)

// IAMConfig is the content of an IAM file (--iam FILE): the account and its
// principals with their access keys and inline identity policies. The format
// is documented in docs/iam-file.md.
type IAMConfig = iam.Config

// IAMPrincipal is one user or role of an IAMConfig.
type IAMPrincipal = iam.Principal

// accessOptions is what the access-control options set.
type accessOptions struct {
	iamPath       string
	iamConfig     *IAMConfig
	auditCapacity int
}

// WithIAM turns on access control with the principals and policies of the
// IAM file at path (JSON; see docs/iam-file.md). Every request must then be
// signed (SigV4) with one of the file's access keys, and SSM and KMS calls
// are authorized against the principals' identity policies and the KMS key
// policies, as AWS evaluates them. Without WithIAM or WithIAMConfig the
// endpoint accepts any credentials and allows everything.
func WithIAM(path string) Option {
	return func(c *config) { c.access.iamPath = path }
}

// WithIAMConfig is WithIAM with the file's content given in Go.
func WithIAMConfig(cfg IAMConfig) Option {
	return func(c *config) { c.access.iamConfig = &cfg }
}

// WithAuditCapacity sets how many events the audit log keeps in memory
// (default 10,000; the oldest are dropped first).
func WithAuditCapacity(n int) Option {
	return func(c *config) { c.access.auditCapacity = n }
}

// access is the endpoint's access control and audit state.
type access struct {
	authn *iam.Authenticator // nil: open endpoint
	authz awsapi.Authorizer
	log   *audit.Log
}

// setupAccess loads the IAM configuration, if any, and makes the audit log.
// It runs before the services are registered, which take s.access's
// authorizer and auditor.
func (s *Server) setupAccess() error {
	o := s.cfg.access
	if o.iamPath != "" && o.iamConfig != nil {
		return fmt.Errorf("both WithIAM(%q) and WithIAMConfig were given; use one", o.iamPath)
	}
	cfg := o.iamConfig
	if o.iamPath != "" {
		var err error
		if cfg, err = iam.Load(o.iamPath); err != nil {
			return err
		}
	} else if cfg != nil {
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("IAM configuration: %w", err)
		}
	}
	a := &access{authz: awsapi.AllowAll{}}
	if cfg != nil {
		switch s.cfg.account {
		case DefaultAccount:
			s.cfg.account = cfg.Account
		case cfg.Account:
		default:
			return fmt.Errorf("the endpoint's account %s (WithAccount) differs from the IAM file's account %s; use the same account", s.cfg.account, cfg.Account)
		}
		authz, err := iam.NewAuthorizer(cfg)
		if err != nil {
			return err
		}
		a.authn, a.authz = iam.NewAuthenticator(cfg), authz
	}
	a.log = audit.New(s.cfg.account, o.auditCapacity)
	s.access = a
	return nil
}

// authorizer is what services ask; auditor is where they record.
func (s *Server) authorizer() awsapi.Authorizer { return s.access.authz }
func (s *Server) auditor() awsapi.Auditor       { return s.access.log }

// AuditEvents returns the calls the endpoint has recorded, oldest first:
// every SSM and KMS call (including denied ones and the KMS calls SSM makes
// for SecureStrings) and every request refused for its signature.
func (s *Server) AuditEvents() []awsapi.Event { return s.access.log.Events() }

// authenticate verifies the request's signature when access control is on
// and sets r.Principal to the caller. On failure it answers as AWS does,
// records the attempt, and returns false.
func (s *Server) authenticate(w http.ResponseWriter, req *http.Request, r *awsapi.Request, body []byte, target string) bool {
	if s.access == nil || s.access.authn == nil {
		return true
	}
	p, f := s.access.authn.Authenticate(r.Context, req, body, r.Time)
	if f == nil {
		r.Principal = p
		return true
	}
	scope := strings.Split(credentialScope(req.Header.Get("Authorization")), "/")
	service := ""
	if len(scope) == 5 {
		service = scope[3]
	}
	name := target[strings.LastIndexByte(target, '.')+1:]
	if target == "" {
		form, _ := url.ParseQuery(string(body))
		name = form.Get("Action")
		if service == "" {
			service = "sts"
		}
	}
	if service == "" {
		service = "unknown"
	}
	code := f.JSON
	if target == "" {
		code = f.Query
	}
	s.access.log.Record(awsapi.Event{
		Time:         r.Time,
		EventSource:  service + ".amazonaws.com",
		EventName:    name,
		Region:       r.Region,
		PrincipalARN: f.PrincipalARN,
		AccessKeyID:  f.AccessKeyID,
		SourceIP:     r.SourceIP,
		UserAgent:    r.UserAgent,
		RequestID:    r.RequestID,
		ErrorCode:    code.Code,
		ErrorMessage: code.Message,
	})
	if target == "" {
		writeAuthQueryError(w, r.RequestID, f.Query)
	} else {
		writeJSONError(w, f.JSON)
	}
	return false
}

// writeAuthQueryError writes a query-protocol (STS) error document:
// <ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>.
func writeAuthQueryError(w http.ResponseWriter, requestID string, e *awsapi.Error) {
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	doc := struct {
		XMLName   xml.Name  `xml:"ErrorResponse"`
		Xmlns     string    `xml:"xmlns,attr"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}{Xmlns: "https://sts.amazonaws.com/doc/2011-06-15/", Error: errorBody{"Sender", e.Code, e.Message}, RequestID: requestID}
	b, _ := xml.Marshal(doc)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	w.Write(b)
}
