package reliability

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
)

// TestFaultyCloud: while 2,000 writes are acknowledged, the endpoint
// answers 30% of calls with ThrottlingException, 5% with HTTP 500, resets
// 3% of connections and delays 5% by a 300 ms spike. After a reopen on a
// healthy endpoint every acknowledged write is there; no goroutine of the
// store is left behind and the heap does not grow without bound.
func TestFaultyCloud(t *testing.T) {
	const (
		writers = 100
		each    = 20 // writers × each = 2,000 acknowledged writes
		keys    = 1  // per writer, of 8 bytes: a state of ~3 KB
	)
	// Not parallel: the goroutine and heap checks see the whole process.
	e := newEnv(t)
	loc := e.locator("/ts/faults/node", "kmsKey="+e.alias)
	ctx := context.Background()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	baseG := runtime.NumGoroutine()

	s := e.open(t, loc, store.WithTimeout(3*time.Minute))
	e.srv.ResetCalls()
	e.srv.SetRealism(emulator.Realism{
		Latency:   time.Millisecond,
		SpikeProb: 0.05, SpikeDelay: 300 * time.Millisecond,
		Faults: emulator.FaultSpec{ThrottleRate: 0.30, InternalErrorRate: 0.05, ConnectionResetRate: 0.03, Seed: 9},
	})
	start := time.Now()
	want := map[string][]byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("w%03d-k%d", w, i%keys)
				v := randomBytes(8)
				if err := s.WriteState(ctx, k, v); err != nil {
					errs <- fmt.Errorf("writer %d, write %d: %w", w, i, err)
					return
				}
				mu.Lock()
				want[k] = v // each writer owns its keys: the last ack wins
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	calls := e.srv.Calls()
	e.srv.SetRealism(emulator.Realism{})
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Reopen on the healthy endpoint: nothing acknowledged is missing.
	r := e.open(t, loc)
	got, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("reopened state has %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		g, err := r.ReadState(ctx, k)
		if err != nil || !bytes.Equal(g, v) {
			t.Fatalf("key %s after reopen: %v (value equal: %v)", k, err, bytes.Equal(g, v))
		}
	}
	r.Close()

	// No goroutine of ours is left: the committers are gone, and what
	// remains (idle HTTP connections of the SDK's transport, which close
	// on their own) is bounded.
	var leaked string
	deadline := time.Now().Add(30 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		leaked = ""
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "ssmstate/store.") || strings.Contains(g, "ssmstate/store/") {
				leaked = g
			}
		}
		if leaked == "" && runtime.NumGoroutine() <= baseG+40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after; a store goroutine is left: %s", baseG, runtime.NumGoroutine(), leaked)
		}
		time.Sleep(100 * time.Millisecond)
	}

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if growth > 64<<20 {
		t.Fatalf("heap grew by %d MiB over 2,000 writes", growth>>20)
	}

	total := 0
	for _, n := range calls {
		total += n
	}
	t.Logf("%d acknowledged writes by %d writers in %v under 30%% throttling, 5%% HTTP 500, 3%% resets, 5%% 300 ms spikes: %d calls, about 38%% of them failed (%v); goroutines %d → %d; heap %d KiB → %d KiB (growth %d KiB)",
		writers*each, writers, elapsed.Round(time.Millisecond), total, calls, baseG, runtime.NumGoroutine(), before.HeapAlloc>>10, after.HeapAlloc>>10, growth>>10)
}
