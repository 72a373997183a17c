package emulator

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Realism holds the switches that make the local endpoint behave like a
// remote, shared, imperfect AWS: latency, request quotas and injected faults.
// The zero value turns them all off, which is the default.
type Realism struct {
	// Latency delays every call before it is served.
	Latency time.Duration
	// SpikeProb (0..1) of calls get SpikeDelay more.
	SpikeProb  float64
	SpikeDelay time.Duration
	// Quotas are token buckets per account and Region; see WithQuota.
	Quotas []Quota
	// Faults are injected failures; see FaultSpec.
	Faults FaultSpec
}

// Quota is one token bucket shared by Operations (all operations when empty)
// per account and Region: Rate tokens a second, at most Burst held.
type Quota struct {
	Rate       float64
	Burst      int
	Operations []string // "GetParameter" or "ssm.GetParameter"
}

// FaultSpec injects failures into a fraction of calls. Rates are
// probabilities in 0..1 and are exclusive of each other (their sum should be
// at most 1). A call that draws a fault is not served at all: nothing is
// written.
type FaultSpec struct {
	// ThrottleRate answers HTTP 400 ThrottlingException "Rate exceeded".
	ThrottleRate float64
	// InternalErrorRate answers HTTP 500 (InternalServerError for SSM,
	// KMSInternalException for KMS, InternalFailure for STS).
	InternalErrorRate float64
	// ConnectionResetRate closes the connection with a TCP reset before any
	// response is written.
	ConnectionResetRate float64
	// Operations limits faults to these operations ("GetParameter" or
	// "ssm.GetParameter"); empty means every operation.
	Operations []string
	// Seed makes the sequence of faults (and latency spikes) repeatable for
	// calls made one after another; 0 picks a random seed.
	Seed uint64
}

func (f FaultSpec) active() bool {
	return f.ThrottleRate > 0 || f.InternalErrorRate > 0 || f.ConnectionResetRate > 0
}

// fault is what realism decided to do to one call instead of serving it.
type fault int

const (
	faultNone fault = iota
	faultThrottle
	faultInternal
	faultReset
)

type bucketKey struct {
	quota   int
	account string
	region  string
}

// realism is the runtime state behind Realism: it can be changed while the
// server runs, and it counts calls.
type realism struct {
	mu      sync.Mutex
	cfg     Realism
	rng     *rand.Rand
	buckets map[bucketKey]*rate.Limiter
	calls   map[string]int
}

func newRealism(r Realism) *realism {
	x := &realism{calls: map[string]int{}}
	x.set(r)
	return x
}

// set replaces every switch; buckets start full again.
func (x *realism) set(r Realism) {
	x.mu.Lock()
	defer x.mu.Unlock()
	r.Quotas = slices.Clone(r.Quotas)
	x.cfg = r
	x.buckets = map[bucketKey]*rate.Limiter{}
	x.reseed()
}

func (x *realism) reseed() {
	seed := x.cfg.Faults.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	x.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func (x *realism) get() Realism {
	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.cfg
	r.Quotas = slices.Clone(r.Quotas)
	return r
}

func matches(ops []string, service, op string) bool {
	if len(ops) == 0 {
		return true
	}
	return slices.Contains(ops, op) || slices.Contains(ops, service+"."+op)
}

// decide counts the call and returns the delay to apply and the fault to
// inject, if any. Quotas are checked here too: a call over quota is a
// throttle.
func (x *realism) decide(service, op, account, region string) (time.Duration, fault) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls[service+"."+op]++
	delay := x.cfg.Latency
	if x.cfg.SpikeProb > 0 && x.rng.Float64() < x.cfg.SpikeProb {
		delay += x.cfg.SpikeDelay
	}
	if f := x.cfg.Faults; f.active() && matches(f.Operations, service, op) {
		u := x.rng.Float64()
		switch {
		case u < f.ConnectionResetRate:
			return delay, faultReset
		case u < f.ConnectionResetRate+f.InternalErrorRate:
			return delay, faultInternal
		case u < f.ConnectionResetRate+f.InternalErrorRate+f.ThrottleRate:
			return delay, faultThrottle
		}
	}
	throttled := false
	for i, q := range x.cfg.Quotas {
		if !matches(q.Operations, service, op) {
			continue
		}
		k := bucketKey{quota: i, account: account, region: region}
		b := x.buckets[k]
		if b == nil {
			b = rate.NewLimiter(rate.Limit(q.Rate), max(q.Burst, 1))
			x.buckets[k] = b
		}
		if !b.Allow() {
			throttled = true
		}
	}
	if throttled {
		return delay, faultThrottle
	}
	return delay, faultNone
}

func (x *realism) snapshotCalls() map[string]int {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := make(map[string]int, len(x.calls))
	for k, v := range x.calls {
		m[k] = v
	}
	return m
}

func (x *realism) resetCalls() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls = map[string]int{}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// resetConnection closes the client's connection with a TCP RST (linger 0)
// so the client sees "connection reset by peer" and no response.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// SetRealism replaces every realism switch while the server runs; quota
// buckets start full again and the fault sequence restarts from its seed.
func (s *Server) SetRealism(r Realism) { s.realism.set(r) }

// Realism returns the realism switches in force.
func (s *Server) Realism() Realism { return s.realism.get() }

// SetLatency changes the per-call latency while the server runs.
func (s *Server) SetLatency(d time.Duration) {
	r := s.realism.get()
	r.Latency = d
	s.realism.set(r)
}

// SetFaults changes the injected faults while the server runs, e.g. to turn
// them on in the middle of a reliability test; FaultSpec{} turns them off.
func (s *Server) SetFaults(f FaultSpec) {
	r := s.realism.get()
	r.Faults = f
	s.realism.set(r)
}

// SetQuotas replaces the request quotas while the server runs; no arguments
// removes them. Buckets start full.
func (s *Server) SetQuotas(q ...Quota) {
	r := s.realism.get()
	r.Quotas = q
	s.realism.set(r)
}

// Calls returns how many calls the endpoint received per "service.Operation"
// (e.g. "ssm.GetParameter", "kms.Decrypt", "sts.GetCallerIdentity"),
// counting every call that reached a known operation, including calls that
// were then throttled or failed by injected faults (as AWS bills and
// throttles them). Unknown operations are not counted.
func (s *Server) Calls() map[string]int { return s.realism.snapshotCalls() }

// ResetCalls sets every call counter back to zero.
func (s *Server) ResetCalls() { s.realism.resetCalls() }
