package bench

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// FleetStore is one store's outcome for a fleet.
type FleetStore struct {
	Nodes int `json:"nodes"`
	// Ready are the times, from the start, at which nodes had their state
	// (restart) or had it durable (first login), sorted.
	Ready []time.Duration `json:"readyNs"`
	// Failed is the nodes that did not get there.
	Failed int `json:"failed"`
	// ThrottleErrors is the errors callers saw that were throttling;
	// OtherErrors the rest.
	ThrottleErrors int `json:"throttleErrors"`
	OtherErrors    int `json:"otherErrors"`
	// FirstError is one error as seen, for the notes; FirstOther the
	// first that was not throttling.
	FirstError string `json:"firstError,omitempty"`
	FirstOther string `json:"firstOther,omitempty"`
	Calls      Counts `json:"calls"`
	// FirstRead is when, from the start, the fleet's first read reached
	// SSM: before it, the nodes were starting up (in one process here,
	// sharing its CPUs), not waiting for the quota.
	FirstRead time.Duration `json:"firstReadNs"`
}

// AllFromFirstRead is All counted from the first read reaching SSM, or -1.
func (f FleetStore) AllFromFirstRead() time.Duration {
	if a := f.All(); a >= 0 {
		return a - f.FirstRead
	}
	return -1
}

// All is the time until every node was ready, or -1 if some never were.
func (f FleetStore) All() time.Duration {
	if f.Failed > 0 || len(f.Ready) == 0 {
		return -1
	}
	return f.Ready[len(f.Ready)-1]
}

// Quantile is the time until q (0..1) of the nodes were ready, or -1.
func (f FleetStore) Quantile(q float64) time.Duration {
	k := int(float64(f.Nodes)*q+0.999999) - 1
	if k < 0 || k >= len(f.Ready) {
		return -1
	}
	return f.Ready[k]
}

type fleetRecorder struct {
	mu    sync.Mutex
	start time.Time
	s     FleetStore
}

func (r *fleetRecorder) ready() {
	r.mu.Lock()
	r.s.Ready = append(r.s.Ready, time.Since(r.start))
	r.mu.Unlock()
}

func (r *fleetRecorder) fail(err error) {
	r.mu.Lock()
	r.s.Failed++
	r.mu.Unlock()
	r.error(err)
}

func (r *fleetRecorder) error(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		return
	}
	if isThrottle(err) {
		r.s.ThrottleErrors++
	} else {
		r.s.OtherErrors++
		if r.s.FirstOther == "" {
			r.s.FirstOther = err.Error()
		}
	}
	if r.s.FirstError == "" {
		r.s.FirstError = err.Error()
	}
}

func (r *fleetRecorder) result() FleetStore {
	slices.Sort(r.s.Ready)
	return r.s
}

// parallel runs f(i) for i in [0, n) on at most workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	ch := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range ch {
				f(i)
			}
		})
	}
	for i := range n {
		ch <- i
	}
	close(ch)
	wg.Wait()
}

// FleetRestartResult is the fleet-restart scenario's result.
type FleetRestartResult struct {
	Config Config              `json:"config"`
	Stores map[Kind]FleetStore `json:"stores"`
}

// Limit is the time the read quota needs to serve one read per node.
func (r *FleetRestartResult) Limit() time.Duration {
	return time.Duration(float64(r.Config.Nodes) / r.Config.ReadRate * float64(time.Second))
}

// FleetRestart gives cfg.Nodes nodes a state (without quota), then opens
// them all at once under the shared read quota and records when each node
// has read its machine key back.
func FleetRestart(ctx context.Context, cfg Config) (*FleetRestartResult, error) {
	e, done, err := newEnv(ctx, cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer done()
	res := &FleetRestartResult{Config: cfg, Stores: map[Kind]FleetStore{}}
	states := make([]*nodeState, cfg.Nodes)
	for i := range states {
		states[i] = newNodeState(fmt.Sprintf("node%04d", i))
	}
	name := func(kind Kind, i int) string { return fmt.Sprintf("bench/fleet-restart/%s/node%04d", kind, i) }

	// Setup: every node has the state its first login left, written
	// straight to SSM without latency or quota. Below 4 KB both stores
	// keep the state in exactly this form (awsstore's JSON in one
	// SecureString parameter), so one seed serves both.
	e.srv.SetLatency(0)
	for _, kind := range Kinds {
		cfg.logf("fleet-restart: seeding %d %s nodes", cfg.Nodes, kind)
		var setupErr error
		var mu sync.Mutex
		parallel(cfg.Nodes, 32, func(i int) {
			if err := e.seed(ctx, name(kind, i), states[i].firstLogin()); err != nil {
				mu.Lock()
				setupErr = err
				mu.Unlock()
			}
		})
		if setupErr != nil {
			return nil, fmt.Errorf("fleet restart: seeding %s nodes: %w", kind, setupErr)
		}
	}

	e.srv.SetLatency(cfg.Latency)
	for _, kind := range Kinds {
		cfg.logf("fleet-restart: %d %s nodes start at once", cfg.Nodes, kind)
		e.srv.SetQuotas(readQuota(cfg.ReadRate)) // a full bucket for each store
		e.proxy.Take()
		rec := &fleetRecorder{start: time.Now(), s: FleetStore{Nodes: cfg.Nodes}}
		var wg sync.WaitGroup
		for i := range cfg.Nodes {
			wg.Go(func() {
				n, err := e.open(ctx, kind, name(kind, i))
				if err != nil {
					rec.fail(err)
					return
				}
				defer n.close()
				v, err := n.ReadState("_machinekey")
				if err != nil || !bytes.Equal(v, states[i].machine) {
					rec.fail(fmt.Errorf("node %d came back without its machine key: %v", i, err))
					return
				}
				rec.ready()
			})
		}
		wg.Wait()
		rec.s.Calls = e.proxy.Take()
		if !rec.s.Calls.FirstRead.IsZero() {
			rec.s.FirstRead = rec.s.Calls.FirstRead.Sub(rec.start)
		}
		res.Stores[kind] = rec.result()
	}
	e.srv.SetQuotas()
	return res, nil
}

func durOrNever(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return secs(d)
}

func durRatio(a, b time.Duration) string {
	if a < 0 || b < 0 {
		return "—"
	}
	return ratio(float64(a), float64(b))
}

// Table renders the result.
func (r *FleetRestartResult) Table() Table {
	o, t := r.Stores[Ours], r.Stores[Theirs]
	lim := r.Limit()
	return Table{
		Scenario: "fleet-restart",
		Title:    "Fleet restart under the shared read quota",
		Settings: []string{
			fmt.Sprintf("%d nodes with a first-login state (2.6 KB) open it at once", r.Config.Nodes),
			fmt.Sprintf("read quota %.0f/s (burst %.0f) shared by GetParameter, GetParameters and GetParametersByPath; latency %v per call", r.Config.ReadRate, r.Config.ReadRate, r.Config.Latency),
			"ssmstate: tsstate.New defaults (store timeout 30 s per load, retries until then); awsstore: SDK defaults (standard retryer, 3 attempts)",
		},
		Rows: []Row{
			{"time until every node has its state, from the first read reaching SSM", durOrNever(o.AllFromFirstRead()), durOrNever(t.AllFromFirstRead()), durRatio(o.AllFromFirstRead(), t.AllFromFirstRead()), fmt.Sprintf("%s (%d / %.0f per s); goal ≤ %s", secs(lim), r.Config.Nodes, r.Config.ReadRate, secs(lim*5/4))},
			{"time until every node has its state, from the start of all nodes", durOrNever(o.All()), durOrNever(t.All()), durRatio(o.All(), t.All()), "limit + start-up"},
			durRow("start-up: from the start until the first read reached SSM", o.FirstRead, t.FirstRead, "— (CPU of 1,000 nodes in one process)"),
			{"time until half the nodes have it", durOrNever(o.Quantile(0.5)), durOrNever(t.Quantile(0.5)), durRatio(o.Quantile(0.5), t.Quantile(0.5)), secs(lim / 2)},
			intRow("nodes that started", len(o.Ready), len(t.Ready), num(r.Config.Nodes)),
			intRow("nodes that failed to start", o.Failed, t.Failed, "0"),
			intRow("throttling errors seen by callers", o.ThrottleErrors, t.ThrottleErrors, "0"),
			intRow("SSM calls (throttled included)", o.Calls.SSMCalls, t.Calls.SSMCalls, fmt.Sprintf("≥ %d", r.Config.Nodes)),
			intRow("calls answered ThrottlingException", o.Calls.Throttled, t.Calls.Throttled, "—"),
			intRow("calls whose connection the endpoint dropped (502)", o.Calls.ProxyErrors, t.Calls.ProxyErrors, "0"),
		},
		Notes: firstErrors(o, t),
	}
}

func firstErrors(o, t FleetStore) []string {
	var n []string
	if o.FirstError != "" {
		n = append(n, "ssmstate's first error: "+truncate(o.FirstError, 300))
	}
	if t.FirstError != "" {
		n = append(n, "awsstore's first error: "+truncate(t.FirstError, 300))
	}
	if o.FirstOther != "" && o.FirstOther != o.FirstError {
		n = append(n, "ssmstate's first error other than throttling: "+truncate(o.FirstOther, 300))
	}
	if t.FirstOther != "" && t.FirstOther != t.FirstError {
		n = append(n, "awsstore's first error other than throttling: "+truncate(t.FirstOther, 300))
	}
	return n
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// FleetLoginResult is the fleet-first-login scenario's result.
type FleetLoginResult struct {
	Config Config              `json:"config"`
	Stores map[Kind]FleetStore `json:"stores"`
}

// FleetLogin has cfg.LoginNodes new nodes open an empty state and make
// their 5 first-login writes at once, under the write quota (and the read
// quota), closes them, and then checks with quotas off which nodes' states
// are durable: all 5 keys at their values after a reopen.
func FleetLogin(ctx context.Context, cfg Config) (*FleetLoginResult, error) {
	e, done, err := newEnv(ctx, cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer done()
	res := &FleetLoginResult{Config: cfg, Stores: map[Kind]FleetStore{}}
	states := make([]*nodeState, cfg.LoginNodes)
	for i := range states {
		states[i] = newNodeState(fmt.Sprintf("node%04d", i))
	}
	name := func(kind Kind, i int) string { return fmt.Sprintf("bench/fleet-login/%s/node%04d", kind, i) }
	for _, kind := range Kinds {
		cfg.logf("fleet-login: %d %s nodes log in at once", cfg.LoginNodes, kind)
		e.srv.SetQuotas(readQuota(cfg.ReadRate), writeQuota(cfg.WriteRate))
		e.proxy.Take()
		rec := &fleetRecorder{start: time.Now(), s: FleetStore{Nodes: cfg.LoginNodes}}
		doneAt := make([]time.Duration, cfg.LoginNodes)
		var wg sync.WaitGroup
		for i := range cfg.LoginNodes {
			wg.Go(func() {
				doneAt[i] = -1
				n, err := e.open(ctx, kind, name(kind, i))
				if err != nil {
					rec.error(err)
					return
				}
				for _, it := range states[i].firstLogin() {
					// A caller that sees an error goes on, as tailscaled
					// logs a failed write and carries on.
					rec.error(n.WriteState(keyOf(it.Key), it.Value))
				}
				rec.error(n.close())
				doneAt[i] = time.Since(rec.start)
			})
		}
		wg.Wait()
		rec.s.Calls = e.proxy.Take()

		// Durable: a reopened store (quotas off) has all 5 values.
		e.srv.SetQuotas()
		var mu sync.Mutex
		parallel(cfg.LoginNodes, 32, func(i int) {
			ok := doneAt[i] >= 0
			if ok {
				n, err := e.open(ctx, kind, name(kind, i))
				if err != nil {
					ok = false
				} else {
					for _, it := range states[i].firstLogin() {
						v, err := n.ReadState(keyOf(it.Key))
						if err != nil || !bytes.Equal(v, it.Value) {
							ok = false
						}
					}
					n.close()
				}
			}
			mu.Lock()
			if ok {
				rec.s.Ready = append(rec.s.Ready, doneAt[i])
			} else {
				rec.s.Failed++
			}
			mu.Unlock()
		})
		e.proxy.Take()
		res.Stores[kind] = rec.result()
	}
	return res, nil
}

// Table renders the result.
func (r *FleetLoginResult) Table() Table {
	o, t := r.Stores[Ours], r.Stores[Theirs]
	puts := 5 * r.Config.LoginNodes
	lim := time.Duration(float64(puts) / r.Config.WriteRate * float64(time.Second))
	return Table{
		Scenario: "fleet-login",
		Title:    "Fleet first login under the write quota",
		Settings: []string{
			fmt.Sprintf("%d new nodes each make the 5 first-login writes at once, then close", r.Config.LoginNodes),
			fmt.Sprintf("write quota %.0f PutParameter/s (burst %.0f; an assumption: AWS does not publish this default here) and read quota %.0f/s; latency %v per call", r.Config.WriteRate, r.Config.WriteRate, r.Config.ReadRate, r.Config.Latency),
			"durable = a reopened store has all 5 values",
		},
		Rows: []Row{
			{"time until all nodes durable", durOrNever(o.All()), durOrNever(t.All()), durRatio(o.All(), t.All()), fmt.Sprintf("%s (%d puts / %.0f per s)", secs(lim), puts, r.Config.WriteRate)},
			intRow("nodes durable", len(o.Ready), len(t.Ready), num(r.Config.LoginNodes)),
			intRow("throttling errors seen by callers", o.ThrottleErrors, t.ThrottleErrors, "0"),
			intRow("other errors seen by callers", o.OtherErrors, t.OtherErrors, "0"),
			intRow("SSM calls (throttled included)", o.Calls.SSMCalls, t.Calls.SSMCalls, fmt.Sprintf("≥ %d puts", puts)),
			intRow("PutParameter calls", o.Calls.Calls["ssm.PutParameter"], t.Calls.Calls["ssm.PutParameter"], "—"),
			intRow("calls answered ThrottlingException", o.Calls.Throttled, t.Calls.Throttled, "—"),
			intRow("calls whose connection the endpoint dropped (502)", o.Calls.ProxyErrors, t.Calls.ProxyErrors, "0"),
		},
		Notes: firstErrors(o, t),
	}
}
