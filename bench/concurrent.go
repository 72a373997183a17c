package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"tailscale.com/ipn"
)

func keyOf(s string) ipn.StateKey { return ipn.StateKey(s) }

// ConcurrentStore is one store's outcome with concurrent writers.
type ConcurrentStore struct {
	Writes     int           `json:"writes"`     // WriteState calls made
	Errors     int           `json:"errors"`     // WriteState calls that failed
	Wall       time.Duration `json:"wallNs"`     // first write to last return
	WritesPerS float64       `json:"writesPerS"` // successful writes a second
	// Commits is the successful PutParameter calls of the main parameter.
	Commits int `json:"commits"`
	// Lost is the keys not at their last written value after a reopen.
	Lost  int    `json:"lost"`
	Calls Counts `json:"calls"`
}

// ConcurrentResult is the concurrent-writers scenario's result.
type ConcurrentResult struct {
	Config Config                   `json:"config"`
	Stores map[Kind]ConcurrentStore `json:"stores"`
}

// Concurrent runs cfg.Writers goroutines that each write their own key
// cfg.WritesPerWriter times (values "w<i>:<n>") into one store, as the
// goroutines of a tsnet program share its store, then reopens the state
// and counts the keys that are not at their last value.
func Concurrent(ctx context.Context, cfg Config) (*ConcurrentResult, error) {
	e, done, err := newEnv(ctx, cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer done()
	res := &ConcurrentResult{Config: cfg, Stores: map[Kind]ConcurrentStore{}}
	for _, kind := range Kinds {
		cfg.logf("concurrent: %s", kind)
		name := fmt.Sprintf("bench/concurrent/%s/node1", kind)
		n, err := e.open(ctx, kind, name)
		if err != nil {
			return nil, fmt.Errorf("concurrent writers: open %s: %w", kind, err)
		}
		e.proxy.Take()
		var errs atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := range cfg.Writers {
			wg.Go(func() {
				key := keyOf(fmt.Sprintf("writer-%02d", w))
				for i := range cfg.WritesPerWriter {
					if err := n.WriteState(key, fmt.Appendf(nil, "w%d:%d", w, i)); err != nil {
						errs.Add(1)
					}
				}
			})
		}
		wg.Wait()
		wall := time.Since(start)
		calls := e.proxy.Take()
		n.close()

		s := ConcurrentStore{
			Writes:  cfg.Writers * cfg.WritesPerWriter,
			Errors:  int(errs.Load()),
			Wall:    wall,
			Commits: calls.OK["ssm.PutParameter"],
			Calls:   calls,
		}
		s.WritesPerS = float64(s.Writes-s.Errors) / wall.Seconds()

		// Reopen as a restarted process would, and check every key.
		r, err := e.open(ctx, kind, name)
		if err != nil {
			return nil, fmt.Errorf("concurrent writers: reopen %s: %w", kind, err)
		}
		for w := range cfg.Writers {
			v, err := r.ReadState(keyOf(fmt.Sprintf("writer-%02d", w)))
			if err != nil || string(v) != fmt.Sprintf("w%d:%d", w, cfg.WritesPerWriter-1) {
				s.Lost++
			}
		}
		r.close()
		e.proxy.Take()
		res.Stores[kind] = s
	}
	return res, nil
}

// Table renders the result.
func (r *ConcurrentResult) Table() Table {
	o, t := r.Stores[Ours], r.Stores[Theirs]
	lat := r.Config.Latency
	limit := "—"
	if lat > 0 {
		// One write in flight per writer, each needing at least one call.
		limit = fmt.Sprintf("≤ %.0f/s (%d writers, 1 call of %v each)", float64(r.Config.Writers)/lat.Seconds(), r.Config.Writers, lat)
	}
	return Table{
		Scenario: "concurrent",
		Title:    "Concurrent writers on one node's store",
		Settings: []string{
			fmt.Sprintf("%d goroutines × %d writes, each goroutine its own key; latency %v per call, no quota", r.Config.Writers, r.Config.WritesPerWriter, lat),
		},
		Rows: []Row{
			{"successful writes/s", fmt.Sprintf("%.0f", o.WritesPerS), fmt.Sprintf("%.0f", t.WritesPerS), ratio(o.WritesPerS, t.WritesPerS), limit},
			durRow("wall time", o.Wall, t.Wall, "—"),
			intRow("failed writes (error to the caller)", o.Errors, t.Errors, "0"),
			intRow("commits (successful PutParameter)", o.Commits, t.Commits, "—"),
			intRow("SSM calls", o.Calls.SSMCalls, t.Calls.SSMCalls, "—"),
			intRow("lost updates after reopen (keys)", o.Lost, t.Lost, "0"),
		},
		Notes: []string{"awsstore writes every WriteState as one PutParameter of the whole state, from the writer's goroutine, with no ordering between them: a put of an older snapshot can land after a newer one, and SSM answers concurrent puts to one parameter with TooManyUpdates, which the SDK does not retry."},
	}
}
