package bench

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// LifecycleStore is one store's cost over a node's lifecycle.
type LifecycleStore struct {
	// FirstLogin is open + the 5 first-login writes + close.
	FirstLogin Counts `json:"firstLogin"`
	// Restarts sums every restart (open + 3 writes + close).
	Restarts Counts `json:"restarts"`
	// UnchangedSSMCalls is the SSM calls the unchanged writes made.
	UnchangedSSMCalls int `json:"unchangedSsmCalls"`
	// Wall is the wall time of the whole lifecycle.
	Wall time.Duration `json:"wallNs"`
	// Errors counts failed opens and writes.
	Errors int `json:"errors"`
}

// SSMCalls is every SSM call of the lifecycle.
func (s LifecycleStore) SSMCalls() int { return s.FirstLogin.SSMCalls + s.Restarts.SSMCalls }

// LifecycleResult is the lifecycle scenario's result.
type LifecycleResult struct {
	Config   Config                  `json:"config"`
	Restarts int                     `json:"restarts"`
	Stores   map[Kind]LifecycleStore `json:"stores"`
}

// Lifecycle runs a node's write pattern (REFERENCE.md's tsnet trace): 5
// writes at first login, then cfg.Restarts restarts of 3 writes each, one
// of them unchanged. Each phase opens a new store, as a restarted process
// does, reads its machine key, writes, and closes it.
func Lifecycle(ctx context.Context, cfg Config) (*LifecycleResult, error) {
	e, done, err := newEnv(ctx, cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer done()
	res := &LifecycleResult{Config: cfg, Restarts: cfg.Restarts, Stores: map[Kind]LifecycleStore{}}
	ns := newNodeState("node1")
	for _, kind := range Kinds {
		cfg.logf("lifecycle: %s", kind)
		var r LifecycleStore
		name := fmt.Sprintf("bench/lifecycle/%s/node1", kind)
		e.proxy.Take()
		start := time.Now()
		phase := func(items []Item, unchangedIdx int) {
			n, err := e.open(ctx, kind, name)
			if err != nil {
				cfg.logf("lifecycle: %s: open: %v", kind, err)
				r.Errors++
				return
			}
			defer n.close()
			if v, err := n.ReadState("_machinekey"); err == nil && !bytes.Equal(v, ns.machine) {
				r.Errors++ // a restart that lost its machine key
			}
			for i, it := range items {
				var before Counts
				if i == unchangedIdx {
					before = e.proxy.Take()
					r.Restarts = addCounts(r.Restarts, before)
				}
				if err := n.WriteState(keyOf(it.Key), it.Value); err != nil {
					cfg.logf("lifecycle: %s: write %s: %v", kind, it.Key, err)
					r.Errors++
				}
				if i == unchangedIdx {
					c := e.proxy.Take()
					r.UnchangedSSMCalls += c.SSMCalls
					r.Restarts = addCounts(r.Restarts, c)
				}
			}
		}
		phase(ns.firstLogin(), -1)
		r.FirstLogin = e.proxy.Take()
		for gen := 1; gen <= cfg.Restarts; gen++ {
			phase(ns.restart(gen), 2) // _current-profile is written unchanged
			r.Restarts = addCounts(r.Restarts, e.proxy.Take())
		}
		r.Wall = time.Since(start)
		res.Stores[kind] = r
	}
	return res, nil
}

func addCounts(a, b Counts) Counts {
	out := Counts{Calls: map[string]int{}, OK: map[string]int{}}
	for _, c := range []Counts{a, b} {
		for k, v := range c.Calls {
			out.Calls[k] += v
		}
		for k, v := range c.OK {
			out.OK[k] += v
		}
		out.SSMCalls += c.SSMCalls
		out.KMSCalls += c.KMSCalls
		out.BytesSent += c.BytesSent
		out.Throttled += c.Throttled
		out.ProxyErrors += c.ProxyErrors
	}
	return out
}

// Table renders the result.
func (r *LifecycleResult) Table() Table {
	o, t := r.Stores[Ours], r.Stores[Theirs]
	n := max(r.Restarts, 1)
	per := func(c Counts) float64 { return float64(c.SSMCalls) / float64(n) }
	perRow := Row{"SSM calls per restart (3 writes, 1 unchanged)", fmt.Sprintf("%.1f", per(o.Restarts)), fmt.Sprintf("%.1f", per(t.Restarts)), ratio(per(o.Restarts), per(t.Restarts)), "—"}
	return Table{
		Scenario: "lifecycle",
		Title:    "Lifecycle of a node: first login, then restarts",
		Settings: []string{
			fmt.Sprintf("5 writes at first login (sizes of the tsnet trace: 72 B … 1.3 KB, 2.6 KB state), then %d restarts of 3 writes each, one unchanged", r.Restarts),
			fmt.Sprintf("latency %v per call, no quota; each phase opens a new store and closes it", r.Config.Latency),
		},
		Rows: []Row{
			intRow("SSM calls, first login", o.FirstLogin.SSMCalls, t.FirstLogin.SSMCalls, "—"),
			perRow,
			intRow("SSM calls, whole lifecycle", o.SSMCalls(), t.SSMCalls(), "—"),
			intRow("SSM calls for unchanged writes", o.UnchangedSSMCalls, t.UnchangedSSMCalls, "0 (nothing to save)"),
			intRow("KMS calls made by the store itself", o.FirstLogin.KMSCalls+o.Restarts.KMSCalls, t.FirstLogin.KMSCalls+t.Restarts.KMSCalls, "—"),
			{"bytes sent (request bodies)", humanBytes(o.FirstLogin.BytesSent + o.Restarts.BytesSent), humanBytes(t.FirstLogin.BytesSent + t.Restarts.BytesSent), ratio(float64(o.FirstLogin.BytesSent+o.Restarts.BytesSent), float64(t.FirstLogin.BytesSent+t.Restarts.BytesSent)), "—"},
			durRow("wall time", o.Wall, t.Wall, fmt.Sprintf("≥ calls × %v", r.Config.Latency)),
			intRow("errors (open, write, lost machine key)", o.Errors, t.Errors, "0"),
		},
	}
}
