// Package emulator is a local AWS endpoint that speaks the SSM Parameter
// Store and KMS wire protocol (AWS JSON 1.1) and really encrypts SecureString
// values under KMS keys. It is shaped like net/http/httptest: Start one, point
// aws-sdk-go-v2 clients at its URL, Close it.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/kmsemu"
	"github.com/ssmstate/ssmstate/emulator/internal/persist"
)

// DefaultAccount is the account that owns everything unless configured.
const DefaultAccount = "000000000000"

// DefaultRegion is used when a request carries no SigV4 credential scope.
const DefaultRegion = "us-east-1"

// Server is a running local endpoint.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234, for AWS_ENDPOINT_URL.
	URL string

	cfg      config
	listener net.Listener
	http     *http.Server
	db       persist.DB
	handlers map[string]serviceHandler // by X-Amz-Target
	realism  *realism
	kms      *kmsemu.Service
	access   *access // access control and audit; see iam.go
	closeOne sync.Once
	closeErr error
}

type serviceHandler struct {
	service   string
	operation string
	handle    awsapi.Handler
}

// Start starts a local endpoint with the given options, listening on
// 127.0.0.1 on a free port unless WithAddr says otherwise.
func Start(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	var db persist.DB
	if cfg.dataDir != "" {
		var err error
		if db, err = persist.Open(cfg.dataDir); err != nil {
			return nil, err
		}
	} else {
		db = persist.NewMemory()
	}
	s := &Server{cfg: cfg, db: db, handlers: map[string]serviceHandler{}, realism: newRealism(cfg.realism)}
	if err := s.setupAccess(); err != nil { // iam.go: before the services, which take its authorizer and auditor
		db.Close()
		return nil, err
	}
	s.registerAudit()
	if err := s.registerServices(); err != nil {
		db.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	s.listener = ln
	s.URL = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	return s, nil
}

// Close stops serving, waits for requests in flight, and closes the data store.
func (s *Server) Close() error {
	s.closeOne.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.http.Shutdown(ctx)
		if derr := s.db.Close(); err == nil {
			err = derr
		}
		s.closeErr = err
	})
	return s.closeErr
}

// applyRealism counts the call, waits the configured latency and decides on
// injected faults and quotas. It returns nil to serve the call; otherwise the
// error to answer with, or an empty *awsapi.Error when the connection was
// reset and nothing must be written.
func (s *Server) applyRealism(w http.ResponseWriter, r *awsapi.Request) *awsapi.Error {
	delay, f := s.realism.decide(r.Service, r.Operation, r.Account, r.Region)
	sleep(r.Context, delay)
	switch f {
	case faultReset:
		resetConnection(w)
		return &awsapi.Error{}
	case faultInternal:
		code := "InternalServerError"
		switch r.Service {
		case "kms":
			code = "KMSInternalException"
		case "sts":
			code = "InternalFailure"
		}
		return &awsapi.Error{Status: http.StatusInternalServerError, Code: code, Message: "injected internal error"}
	case faultThrottle:
		code := "ThrottlingException"
		if r.Service == "sts" {
			code = "Throttling" // the query protocol's code
		}
		return &awsapi.Error{Status: http.StatusBadRequest, Code: code, Message: "Rate exceeded"}
	}
	return nil
}

// Account returns the account that owns the endpoint's resources.
func (s *Server) Account() string { return s.cfg.account }

func (s *Server) register(service, targetPrefix string, handlers map[string]awsapi.Handler) {
	for op, h := range handlers {
		s.handlers[targetPrefix+"."+op] = serviceHandler{service: service, operation: op, handle: h}
	}
}

// ServeHTTP routes AWS JSON 1.1 requests by X-Amz-Target, and STS query
// requests by their Action.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	body, err := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	if err != nil {
		writeJSONError(w, &awsapi.Error{Status: http.StatusBadRequest, Code: "SerializationException", Message: "could not read request body"})
		return
	}
	r := &awsapi.Request{
		Context:   req.Context(),
		Region:    regionFromAuthorization(req.Header.Get("Authorization")),
		Account:   s.cfg.account,
		Partition: "aws",
		Principal: awsapi.Principal{
			ARN:         "arn:aws:iam::" + s.cfg.account + ":root",
			Account:     s.cfg.account,
			UserID:      s.cfg.account,
			AccessKeyID: accessKeyFromAuthorization(req.Header.Get("Authorization")),
		},
		RequestID: reqID,
		SourceIP:  remoteIP(req.RemoteAddr),
		UserAgent: req.UserAgent(),
		Time:      time.Now().UTC(),
	}
	if r.Region == "" {
		r.Region = DefaultRegion
	}
	target := req.Header.Get("X-Amz-Target")
	if !s.authenticate(w, req, r, body, target) { // iam.go: SigV4 when --iam is on
		return
	}
	if target == "" {
		s.serveQuery(w, req, r, body)
		return
	}
	h, ok := s.handlers[target]
	if !ok {
		writeJSONError(w, &awsapi.Error{Status: http.StatusBadRequest, Code: "UnknownOperationException", Message: "Unknown operation " + target})
		return
	}
	r.Service, r.Operation = h.service, h.operation
	if e := s.applyRealism(w, r); e != nil {
		if e.Code != "" {
			writeJSONError(w, e)
		}
		return
	}
	out, err := h.handle(r, body)
	if err != nil {
		var ae *awsapi.Error
		if !errors.As(err, &ae) {
			s.cfg.logger.Error("internal error", "target", target, "err", err)
			ae = &awsapi.Error{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: "internal error"}
		}
		writeJSONError(w, ae)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeJSONError(w, &awsapi.Error{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: "internal error"})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func writeJSONError(w http.ResponseWriter, e *awsapi.Error) {
	body := map[string]string{"__type": e.Code}
	if e.Message != "" {
		body["message"] = e.Message
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-ErrorType", e.Code)
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	w.Write(b)
}

// regionFromAuthorization reads the Region from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ssm/aws4_request, ...".
func regionFromAuthorization(h string) string {
	scope := credentialScope(h)
	parts := strings.Split(scope, "/")
	if len(parts) >= 5 {
		return parts[2]
	}
	return ""
}

func accessKeyFromAuthorization(h string) string {
	scope := credentialScope(h)
	if i := strings.IndexByte(scope, '/'); i > 0 {
		return scope[:i]
	}
	return ""
}

func credentialScope(h string) string {
	i := strings.Index(h, "Credential=")
	if i < 0 {
		return ""
	}
	rest := h[i+len("Credential="):]
	if j := strings.IndexAny(rest, ", "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
