package tsnettest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"tailscale.com/ipn"
)

// CallCounter counts calls at an endpoint per "service.Operation";
// *emulator.Server is one.
type CallCounter interface {
	Calls() map[string]int
}

// Phase is what one phase of a node's lifecycle cost: from opening its
// store to closing the node and the store.
type Phase struct {
	// WriteState is how many WriteState calls Tailscale made.
	WriteState int
	// Unchanged is how many of them wrote the value the key already had.
	Unchanged int
	// Keys are the keys written, in order, with repeats.
	Keys []string
	// Calls counts the endpoint calls of the phase by "service.Operation".
	Calls map[string]int
}

// SSMCalls is the number of SSM calls of the phase.
func (p Phase) SSMCalls() int { return p.count("ssm.") }

// KMSCalls is the number of KMS calls the store made itself (not those SSM
// makes on its behalf).
func (p Phase) KMSCalls() int { return p.count("kms.") }

func (p Phase) count(prefix string) int {
	n := 0
	for op, c := range p.Calls {
		if strings.HasPrefix(op, prefix) {
			n += c
		}
	}
	return n
}

// String is a one-line summary, e.g. "5 WriteState (0 unchanged); 7 SSM
// + 0 KMS calls: ssm.GetParameter=1 ssm.PutParameter=6".
func (p Phase) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d WriteState (%d unchanged); %d SSM + %d KMS calls:", p.WriteState, p.Unchanged, p.SSMCalls(), p.KMSCalls())
	for _, op := range slices.Sorted(maps.Keys(p.Calls)) {
		fmt.Fprintf(&b, " %s=%d", op, p.Calls[op])
	}
	return b.String()
}

// Lifecycle is a node's first start (with login) and its restart.
type Lifecycle struct {
	First, Restart Phase
	// SameIdentity reports whether the restarted node came back with the
	// node key and Tailscale IPs of the first start (it is always true when
	// RunLifecycle returns; a node that lost them fails the test).
	SameIdentity bool
}

// OpenFunc opens the state store of one run of the node. RunLifecycle
// closes the store after the node when it implements io.Closer.
type OpenFunc func() (ipn.StateStore, error)

// RunLifecycle runs node hostname on tn through a first start (which logs
// in), a close, and a restart with a brand-new store from open and a
// brand-new tsnet server (which must not log in), and returns what each
// phase cost: Tailscale's WriteState calls, counted by wrapping the store,
// and the endpoint's calls, counted by ep.
func RunLifecycle(t testing.TB, tn *Tailnet, ep CallCounter, hostname string, open OpenFunc) Lifecycle {
	t.Helper()
	var lc Lifecycle
	first, n1 := runPhase(t, tn, ep, hostname, open, true)
	restart, n2 := runPhase(t, tn, ep, hostname, open, false)
	lc.First, lc.Restart = first, restart
	k1, k2 := n1.Status.Self.PublicKey, n2.Status.Self.PublicKey
	ip1, ip2 := n1.Status.TailscaleIPs, n2.Status.TailscaleIPs
	if k1 != k2 || !slices.Equal(ip1, ip2) {
		t.Fatalf("node %s changed identity across the restart: node key %v, IPs %v, then %v, %v", hostname, k1, ip1, k2, ip2)
	}
	lc.SameIdentity = true
	return lc
}

func runPhase(t testing.TB, tn *Tailnet, ep CallCounter, hostname string, open OpenFunc, login bool) (Phase, *Node) {
	t.Helper()
	before := ep.Calls()
	st, err := open()
	if err != nil {
		t.Fatalf("open the state store of node %s: %v", hostname, err)
	}
	cs := &countingStore{StateStore: st}
	var node ipn.StateStore = cs
	if e, ok := st.(ipn.EncryptedStateStore); ok {
		// Keep the marker visible to Tailscale through the wrapper.
		node = struct {
			*countingStore
			ipn.EncryptedStateStore
		}{cs, e}
	}
	n := tn.StartNode(t, hostname, node, login)
	if err := n.Server.Close(); err != nil {
		t.Fatalf("close node %s: %v", hostname, err)
	}
	if c, ok := st.(io.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatalf("close the state store of node %s: %v", hostname, err)
		}
	}
	p := cs.phase()
	p.Calls = diff(ep.Calls(), before)
	return p, n
}

func diff(after, before map[string]int) map[string]int {
	d := map[string]int{}
	for op, n := range after {
		if n -= before[op]; n != 0 {
			d[op] = n
		}
	}
	return d
}

// countingStore passes every call to the store it wraps and counts writes.
type countingStore struct {
	ipn.StateStore

	mu        sync.Mutex
	writes    int
	unchanged int
	keys      []string
}

func (s *countingStore) WriteState(id ipn.StateKey, bs []byte) error {
	old, err := s.StateStore.ReadState(id)
	same := (err == nil && bs != nil && bytes.Equal(old, bs)) ||
		(errors.Is(err, ipn.ErrStateNotExist) && bs == nil)
	s.mu.Lock()
	s.writes++
	if same {
		s.unchanged++
	}
	s.keys = append(s.keys, string(id))
	s.mu.Unlock()
	return s.StateStore.WriteState(id, bs)
}

func (s *countingStore) phase() Phase {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Phase{WriteState: s.writes, Unchanged: s.unchanged, Keys: slices.Clone(s.keys)}
}
