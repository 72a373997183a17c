package reliability

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
)

// TestEndpointRestartsMidWrite: the endpoint (with a data directory) is
// closed and started again on the same directory and address several times
// while a writer commits multi-part states. Every acknowledged write
// survives; a write that was not acknowledged is either wholly there or
// absent (never a mix), and the store's next commits carry it.
func TestEndpointRestartsMidWrite(t *testing.T) {
	const (
		writes   = 80
		restarts = 5
		slots    = 6 // keys written round-robin
	)
	dir := t.TempDir()
	srv, err := emulator.Start(emulator.WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.URL[len("http://"):]
	var mu sync.Mutex
	cur := srv
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		cur.Close()
	})
	e := envFor(t, srv)
	loc := e.locator("/ts/restart/node", "kmsKey="+e.alias)
	ctx := context.Background()
	s := e.open(t, loc, store.WithTimeout(time.Minute))

	type outcome struct {
		seq   uint64
		acked bool
	}
	results := make([]outcome, 0, writes)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= writes; i++ {
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := s.WriteState(wctx, fmt.Sprintf("k%d", i%slots), stamped(uint64(i), 3000))
			cancel()
			results = append(results, outcome{uint64(i), err == nil})
		}
	}()

	for r := range restarts {
		time.Sleep(time.Duration(randDuration(100, 400)) * time.Millisecond)
		mu.Lock()
		if err := cur.Close(); err != nil {
			mu.Unlock()
			t.Fatalf("restart %d: close: %v", r, err)
		}
		time.Sleep(time.Duration(randDuration(50, 300)) * time.Millisecond)
		next, err := emulator.Start(emulator.WithDataDir(dir), emulator.WithAddr(addr))
		if err != nil {
			mu.Unlock()
			t.Fatalf("restart %d: start on %s: %v", r, addr, err)
		}
		cur = next
		mu.Unlock()
	}
	<-done
	if err := s.Close(); err != nil {
		t.Fatalf("close (final commit): %v", err)
	}

	// Reopen through the restarted endpoint.
	r := e.open(t, loc)
	defer r.Close()
	acked, unacked := 0, 0
	last := map[string]uint64{}
	lastAcked := map[string]uint64{}
	for _, o := range results {
		k := fmt.Sprintf("k%d", o.seq%slots)
		last[k] = o.seq
		if o.acked {
			acked++
			lastAcked[k] = o.seq
		} else {
			unacked++
		}
	}
	for k, want := range last {
		v, err := r.ReadState(ctx, k)
		if err != nil {
			t.Fatalf("key %s after restarts: %v", k, err)
		}
		seq, err := checkStamped(v)
		if err != nil {
			t.Fatalf("key %s after restarts: %v", k, err)
		}
		if seq < lastAcked[k] {
			t.Fatalf("key %s holds write %d, older than its last acknowledged write %d: an acknowledged write was lost", k, seq, lastAcked[k])
		}
		if seq != want {
			t.Fatalf("key %s holds write %d, want its last write %d (the store's final commit carries every write)", k, seq, want)
		}
	}
	t.Logf("%d restarts of the endpoint during %d multi-part writes: %d acknowledged, %d not acknowledged in 20 s (all whole after reopen)", restarts, writes, acked, unacked)
}
