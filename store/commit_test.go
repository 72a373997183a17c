package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/locator"
)

// gatedBackend is the real mem backend with a gate in front of Save, so a
// test can hold a commit in flight, and a way to make the next Saves fail.
type gatedBackend struct {
	*memBackend
	entered chan map[string][]byte // receives each Save's state as it starts
	release chan struct{}          // each Save waits for one value
	mu      sync.Mutex
	failing error // returned by Saves while set
	loadErr error
}

func newGated(name string) *gatedBackend {
	return &gatedBackend{
		memBackend: newMemBackend(name),
		entered:    make(chan map[string][]byte, 100),
		release:    make(chan struct{}, 100),
	}
}

func (g *gatedBackend) Load(ctx context.Context) (map[string][]byte, error) {
	if g.loadErr != nil {
		<-ctx.Done()
		return nil, fmt.Errorf("load: %w", ctx.Err())
	}
	return g.memBackend.Load(ctx)
}

func (g *gatedBackend) Save(ctx context.Context, state map[string][]byte) error {
	g.entered <- state
	<-g.release
	g.mu.Lock()
	err := g.failing
	g.mu.Unlock()
	if err != nil {
		return err
	}
	return g.memBackend.Save(ctx, state)
}

// next returns the state of the next Save to start.
func (g *gatedBackend) next(t *testing.T) map[string][]byte {
	t.Helper()
	select {
	case st := <-g.entered:
		return st
	case <-time.After(time.Minute):
		t.Fatal("timed out waiting for a Save to start")
		return nil
	}
}

func (g *gatedBackend) fail(err error) {
	g.mu.Lock()
	g.failing = err
	g.mu.Unlock()
}

var gatedSeq atomic.Int64

func openGated(t *testing.T, name string, opts ...Option) (*Store, *gatedBackend) {
	t.Helper()
	name = fmt.Sprintf("%s-%d", name, gatedSeq.Add(1)) // fresh under -count
	g := newGated(name)
	l := locator.Locator{Kind: locator.KindMem, MemName: name}
	s, err := openBackend(context.Background(), l, newConfig(opts), g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Let any remaining Saves through so Close can finish.
		for range 10 {
			g.release <- struct{}{}
		}
		s.Close()
	})
	return s, g
}

// waitFor polls cond: the test asserts an outcome, not a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *Store) pendingWaiters() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}

func TestGroupCommitBatchesWritersIntoOneSave(t *testing.T) {
	s, g := openGated(t, "group-commit")
	ctx := context.Background()

	first := make(chan error, 1)
	go func() { first <- s.WriteState(ctx, "first", []byte("1")) }()
	snap1 := g.next(t) // the first commit is in flight, holding only "first"
	if len(snap1) != 1 {
		t.Fatalf("first Save carried %d keys, want 1", len(snap1))
	}

	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- s.WriteState(ctx, fmt.Sprint("k", i), []byte{byte(i)}) }()
	}
	waitFor(t, "8 writers queued behind the running commit", func() bool { return s.pendingWaiters() == n+1 })

	g.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	snap2 := g.next(t)
	if len(snap2) != n+1 {
		t.Fatalf("second Save carried %d keys, want all %d (one commit for the 8 queued writers)", len(snap2), n+1)
	}
	g.release <- struct{}{}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	select {
	case extra := <-g.entered:
		t.Fatalf("a third Save ran with %d keys; want exactly 2 Saves for 9 writes", len(extra))
	default:
	}
	if got := g.st.data; len(got) != n+1 {
		t.Fatalf("persisted state has %d keys, want %d", len(got), n+1)
	}
}

func TestFailedSaveReachesEveryWaiterAndChangeIsKept(t *testing.T) {
	s, g := openGated(t, "failed-save")
	ctx := context.Background()
	boom := errors.New("backend unavailable")

	g.fail(boom)
	errs := make(chan error, 3)
	go func() { errs <- s.WriteState(ctx, "a", []byte("1")) }()
	g.next(t)
	go func() { errs <- s.WriteState(ctx, "b", []byte("2")) }()
	go func() { errs <- s.WriteState(ctx, "c", []byte("3")) }()
	waitFor(t, "2 writers queued", func() bool { return s.pendingWaiters() == 3 })
	g.release <- struct{}{} // first Save fails: "a" gets the error
	g.next(t)               // the second carries b and c; also fails
	g.release <- struct{}{}
	for range 3 {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("WriteState = %v, want the Save's error", err)
		}
	}
	// Reads keep serving the change from memory.
	if v, err := s.ReadState(ctx, "c"); err != nil || string(v) != "3" {
		t.Fatalf("ReadState after failed Save = %q, %v", v, err)
	}
	if len(g.st.data) != 0 {
		t.Fatalf("persisted state has %d keys after failed Saves, want 0", len(g.st.data))
	}

	// Writing the same value again is not a no-op while it is not durable:
	// it commits, and that commit persists everything kept in memory.
	g.fail(nil)
	done := make(chan error, 1)
	go func() { done <- s.WriteState(ctx, "a", []byte("1")) }()
	g.next(t)
	g.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := map[string][]byte{"a": []byte("1"), "b": []byte("2"), "c": []byte("3")}; !maps.EqualFunc(g.st.data, want, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("persisted state = %q, want %q", g.st.data, want)
	}
}

func TestCloseSavesWhatAFailedSaveLeftInMemory(t *testing.T) {
	s, g := openGated(t, "close-flush")
	ctx := context.Background()
	g.fail(errors.New("down"))
	g.release <- struct{}{}
	if err := s.WriteState(ctx, "k", []byte("v")); err == nil {
		t.Fatal("WriteState succeeded with a failing backend")
	}
	g.next(t)
	g.fail(nil)
	g.release <- struct{}{}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	g.next(t)
	if string(g.st.data["k"]) != "v" {
		t.Fatalf("after Close the persisted state is %q, want k=v", g.st.data)
	}
}

func TestWriterContextEndsButWriteIsStillSaved(t *testing.T) {
	s, g := openGated(t, "ctx-ends")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.WriteState(ctx, "k", []byte("v")) }()
	g.next(t)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteState with cancelled context = %v, want context.Canceled", err)
	}
	g.release <- struct{}{}
	waitFor(t, "the commit to finish", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.savedGen == s.gen
	})
	if string(g.st.data["k"]) != "v" {
		t.Fatalf("persisted state = %q, want k=v", g.st.data)
	}
}

func TestOpenLoadIsBoundedByTimeout(t *testing.T) {
	g := newGated("slow-load")
	g.loadErr = errors.New("hang")
	_, err := openBackend(context.Background(), locator.Locator{Kind: locator.KindMem, MemName: "slow-load"}, newConfig([]Option{WithTimeout(10 * time.Millisecond)}), g)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with a hanging Load = %v, want context.DeadlineExceeded", err)
	}
}

func TestSavesAreOrderedNewestLast(t *testing.T) {
	// Many writers to one key: whatever the interleaving, the persisted
	// value is the last one in memory, never an older snapshot.
	name := fmt.Sprint("ordered-", gatedSeq.Add(1))
	s, err := Open(context.Background(), "mem:"+name)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				if err := s.WriteState(context.Background(), "k", fmt.Appendf(nil, "%d-%d", i, j)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	inMemory, _ := s.ReadState(context.Background(), "k")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b := newMemBackend(name)
	persisted, _ := b.Load(context.Background())
	if string(persisted["k"]) != string(inMemory) {
		t.Fatalf("persisted %q, last in memory %q", persisted["k"], inMemory)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, "arn:aws:s3:us-east-1:123456789012:parameter/n")
	var le *locator.Error
	if !errors.As(err, &le) {
		t.Fatalf("Open of a malformed locator = %v, want a *locator.Error", err)
	}
	withOpener(t, locator.KindSSM, nil) // as if store/ssmparam were not linked in
	_, err = Open(ctx, "arn:aws:ssm:us-east-1:123456789012:parameter/n")
	if err == nil || !strings.Contains(err.Error(), "SSM backend not wired yet") {
		t.Fatalf("Open of an SSM locator with no SSM backend registered = %v", err)
	}
	if _, err := Open(ctx, "mem:x", WithLogger(nil)); err != nil {
		t.Fatalf("WithLogger(nil) must keep the default logger: %v", err)
	}
	s, _ := Open(ctx, "mem:x")
	if err := s.WriteState(ctx, "", []byte("v")); err == nil || !strings.Contains(err.Error(), "empty key") {
		t.Fatalf("WriteState with an empty key = %v", err)
	}
	s.Close()
}

func TestRegisteredBackendIsUsed(t *testing.T) {
	var got locator.Locator
	var gotCfg Config
	withOpener(t, locator.KindSSM, func(ctx context.Context, l locator.Locator, cfg Config) (Backend, error) {
		got, gotCfg = l, cfg
		return newMemBackend(""), nil
	})
	s, err := Open(context.Background(), "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=k", WithEndpoint("http://127.0.0.1:1"), WithReset(), WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got.KMSKey != "alias/k" || got.ParameterName != "/n" {
		t.Errorf("opener got locator %+v", got)
	}
	if gotCfg.Endpoint != "http://127.0.0.1:1" || !gotCfg.Reset || gotCfg.Timeout != time.Minute || gotCfg.Logger == nil {
		t.Errorf("opener got config %+v", gotCfg)
	}
}

// withOpener replaces the opener of kind (nil: none) for the test. The
// external tests of this package link store/ssmparam in, which registers
// the real SSM backend.
func withOpener(t *testing.T, kind locator.Kind, open BackendOpener) {
	old := registeredOpener(kind)
	openersMu.Lock()
	if open == nil {
		delete(openers, kind)
	} else {
		openers[kind] = open
	}
	openersMu.Unlock()
	t.Cleanup(func() {
		openersMu.Lock()
		defer openersMu.Unlock()
		if old == nil {
			delete(openers, kind)
		} else {
			openers[kind] = old
		}
	})
}
