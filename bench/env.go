package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"tailscale.com/ipn"
	"tailscale.com/ipn/store/awsstore"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/tsstate"
)

// Region, account and key every scenario uses on the local endpoint.
const (
	Region  = "us-east-1"
	Account = emulator.DefaultAccount
	KeyName = "alias/bench"
)

// Kind names one of the two stores compared.
type Kind string

const (
	// Ours is ssmstate (package tsstate over store and store/ssmparam).
	Ours Kind = "ssmstate"
	// Theirs is Tailscale's ipn/store/awsstore (tailscale.com v1.102.5).
	Theirs Kind = "awsstore"
)

// Kinds lists both stores in table order.
var Kinds = []Kind{Ours, Theirs}

// env is one local endpoint with a counting proxy in front of it. Both
// stores send their calls to the proxy, so calls, bytes and throttles are
// counted the same way for both.
type env struct {
	srv   *emulator.Server
	proxy *countingProxy
	cfg   aws.Config // direct to the endpoint, not counted: setup and checks
	ssm   *ssm.Client
}

// envMu serializes the use of process environment variables, through
// which awsstore (which has no option for an endpoint or an AWS
// configuration) finds the endpoint.
var envMu sync.Mutex

// newEnv starts an endpoint with latency and a KMS key, a counting proxy,
// and points awsstore at the proxy through the process environment. The
// returned function undoes all of it.
func newEnv(ctx context.Context, latency time.Duration) (*env, func(), error) {
	srv, err := emulator.Start(emulator.WithLatency(latency))
	if err != nil {
		return nil, nil, fmt.Errorf("start the local AWS endpoint: %w", err)
	}
	p, err := newCountingProxy(srv.URL)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	e := &env{srv: srv, proxy: p, cfg: srv.AWSConfig(Region)}
	e.ssm = ssm.NewFromConfig(e.cfg)
	k := kms.NewFromConfig(e.cfg)
	out, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("ssmstate bench")})
	if err == nil {
		_, err = k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(KeyName), TargetKeyId: out.KeyMetadata.KeyId})
	}
	if err != nil {
		p.Close()
		srv.Close()
		return nil, nil, fmt.Errorf("create KMS key %s on the local endpoint: %w", KeyName, err)
	}
	envMu.Lock()
	restore := setEnv(map[string]string{
		"AWS_ENDPOINT_URL_SSM":        p.URL,
		"AWS_ACCESS_KEY_ID":           emulator.DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       emulator.DummySecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
		// The SDK's defaults (standard retry mode, 3 attempts) are what
		// awsstore users get; make sure nothing here changes them.
		"AWS_MAX_ATTEMPTS": "",
		"AWS_RETRY_MODE":   "",
	})
	return e, func() {
		restore()
		envMu.Unlock()
		p.Close()
		srv.Close()
	}, nil
}

// setEnv sets (or, for "", unsets) variables and returns a function that
// restores them.
func setEnv(vars map[string]string) func() {
	type old struct {
		v  string
		ok bool
	}
	saved := map[string]old{}
	for k, v := range vars {
		ov, ok := os.LookupEnv(k)
		saved[k] = old{ov, ok}
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
	return func() {
		for k, o := range saved {
			if o.ok {
				os.Setenv(k, o.v)
			} else {
				os.Unsetenv(k)
			}
		}
	}
}

// arn is the parameter ARN of a node's state.
func arn(name string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", Region, Account, strings.TrimPrefix(name, "/"))
}

// node is an open state store of either kind.
type node struct {
	ipn.StateStore
	close func() error
}

// open opens the state of node name with store kind, as a tsnet program
// would: ssmstate through tsstate.New with its defaults, awsstore through
// awsstore.New with the key, its SDK client from the default chain.
func (e *env) open(ctx context.Context, kind Kind, name string) (*node, error) {
	switch kind {
	case Ours:
		cfg := e.cfg.Copy()
		cfg.BaseEndpoint = aws.String(e.proxy.URL)
		st, err := tsstate.New(ctx, arn(name)+"?kmsKey="+KeyName, tsstate.WithStoreOptions(store.WithAWSConfig(cfg)))
		if err != nil {
			return nil, err
		}
		return &node{StateStore: st, close: st.Close}, nil
	case Theirs:
		st, err := awsstore.New(nil, arn(name), awsstore.WithKeyID(KeyName))
		if err != nil {
			return nil, err
		}
		return &node{StateStore: st, close: func() error { return nil }}, nil
	}
	return nil, fmt.Errorf("unknown store kind %q", kind)
}

// seed writes items as the state of node name, in the single-parameter
// form both stores read (awsstore's JSON of base64 values, SecureString
// under the bench key), straight to the endpoint.
func (e *env) seed(ctx context.Context, name string, items []Item) error {
	m := map[string][]byte{}
	for _, it := range items {
		m[it.Key] = it.Value
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	_, err = e.ssm.PutParameter(ctx, &ssm.PutParameterInput{
		Name:      aws.String("/" + strings.TrimPrefix(name, "/")),
		Value:     aws.String(string(b)),
		Type:      ssmtypes.ParameterTypeSecureString,
		KeyId:     aws.String(KeyName),
		Tier:      ssmtypes.ParameterTierIntelligentTiering,
		Overwrite: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("seed the state of %s: %w", name, err)
	}
	return nil
}

// isThrottle reports whether err is (or wraps) an AWS ThrottlingException.
func isThrottle(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "Throttl") {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "ThrottlingException")
}

// Counts are the SSM and KMS calls the proxy saw.
type Counts struct {
	// Calls per "Operation" (e.g. "ssm.PutParameter"), throttled ones
	// included, as AWS counts them against the quota.
	Calls map[string]int `json:"calls"`
	// OK counts the calls per operation that succeeded (HTTP 200).
	OK map[string]int `json:"ok"`
	// SSMCalls and KMSCalls are the totals per service.
	SSMCalls int `json:"ssmCalls"`
	KMSCalls int `json:"kmsCalls"`
	// BytesSent is the request bodies' bytes.
	BytesSent int64 `json:"bytesSent"`
	// Throttled is the calls answered ThrottlingException.
	Throttled int `json:"throttled"`
	// ProxyErrors is the calls whose connection to the endpoint failed
	// (answered 502 to the client).
	ProxyErrors int `json:"proxyErrors"`
	// FirstRead is when the first GetParameter, GetParameters or
	// GetParametersByPath call arrived (zero if none did).
	FirstRead time.Time `json:"firstRead"`
}

// countingProxy forwards to the endpoint and counts what passes.
type countingProxy struct {
	URL string
	ln  net.Listener
	srv *http.Server

	mu          sync.Mutex
	calls       map[string]int
	ok          map[string]int
	bytes       int64
	throttled   int
	proxyErrors int
	firstRead   time.Time
}

func newCountingProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the counting proxy: %w", err)
	}
	p := &countingProxy{URL: "http://" + ln.Addr().String(), ln: ln, calls: map[string]int{}, ok: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     30 * time.Second,
	}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// The endpoint dropped the connection (or the client gave up):
		// the client sees a 502 and its retryer decides.
		p.mu.Lock()
		p.proxyErrors++
		p.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}
	rp.ModifyResponse = func(r *http.Response) error {
		if r.StatusCode == http.StatusOK {
			p.mu.Lock()
			p.ok[opName(r.Request)]++
			p.mu.Unlock()
			return nil
		}
		if r.StatusCode == http.StatusBadRequest && strings.Contains(r.Header.Get("X-Amzn-Errortype"), "Throttl") {
			p.mu.Lock()
			p.throttled++
			p.mu.Unlock()
			return nil
		}
		if r.StatusCode == http.StatusBadRequest {
			// The error code is in the body; peek at it and put it back.
			body, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return err
			}
			if strings.Contains(string(body), "Throttling") {
				p.mu.Lock()
				p.throttled++
				p.mu.Unlock()
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		return nil
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := opName(r)
		p.mu.Lock()
		if p.firstRead.IsZero() && slices.Contains(readOps, op) {
			p.firstRead = time.Now()
		}
		p.calls[op]++
		if r.ContentLength > 0 {
			p.bytes += r.ContentLength
		}
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// opName is "ssm.Operation" or "kms.Operation" from the request's target.
func opName(r *http.Request) string {
	op := r.Header.Get("X-Amz-Target")
	if _, after, ok := strings.Cut(op, "."); ok {
		svc := "ssm"
		if strings.HasPrefix(op, "TrentService") {
			svc = "kms"
		}
		op = svc + "." + after
	}
	return op
}

// Take returns the counts since the last Take (or the start) and resets
// them.
func (p *countingProxy) Take() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := Counts{Calls: p.calls, OK: p.ok, BytesSent: p.bytes, Throttled: p.throttled, ProxyErrors: p.proxyErrors, FirstRead: p.firstRead}
	for op, n := range c.Calls {
		switch {
		case strings.HasPrefix(op, "ssm."):
			c.SSMCalls += n
		case strings.HasPrefix(op, "kms."):
			c.KMSCalls += n
		}
	}
	p.calls, p.ok, p.bytes, p.throttled, p.proxyErrors, p.firstRead = map[string]int{}, map[string]int{}, 0, 0, 0, time.Time{}
	return c
}

func (p *countingProxy) Close() error { return p.srv.Close() }

// readOps share AWS's read quota.
var readOps = []string{"ssm.GetParameter", "ssm.GetParameters", "ssm.GetParametersByPath"}

// readQuota is AWS's default shared read quota: 40 transactions a second
// shared by GetParameter, GetParameters and GetParametersByPath. Burst is
// not documented; one second's worth is assumed.
func readQuota(rate float64) emulator.Quota {
	return emulator.Quota{Rate: rate, Burst: int(rate), Operations: readOps}
}

func writeQuota(rate float64) emulator.Quota {
	return emulator.Quota{Rate: rate, Burst: max(int(rate), 1), Operations: []string{"ssm.PutParameter"}}
}
