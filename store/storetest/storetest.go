// Package storetest is the behavioural suite every store backend runs: the
// same reads, writes, reopenings, concurrency and sizes against memory, a
// file, the local endpoint and moto, so that the backends cannot drift
// apart.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/store"
)

// OpenFunc returns a locator naming a new, empty state for one test, and
// the options to open it with. The suite opens that locator several times
// (to check what a reopening sees) and may call OpenFunc from parallel
// subtests.
type OpenFunc func(t *testing.T) (locator string, opts []store.Option)

// Option adjusts the suite to what a backend supports.
type Option func(*suite)

// MaxStateSize sets the largest state (in value bytes) the suite writes
// (default 1 MiB).
func MaxStateSize(n int) Option { return func(s *suite) { s.maxSize = n } }

// WritesPerGoroutine sets how many writes each of the 16 concurrent
// goroutines makes (default 20). Slow backends may lower it.
func WritesPerGoroutine(n int) Option { return func(s *suite) { s.writesPer = n } }

type suite struct {
	open      OpenFunc
	maxSize   int
	writesPer int
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, open OpenFunc, opts ...Option) {
	s := &suite{open: open, maxSize: 1 << 20, writesPer: 20}
	for _, o := range opts {
		o(s)
	}
	t.Run("AbsentKey", s.testAbsentKey)
	t.Run("RoundTrip", s.testRoundTrip)
	t.Run("DeleteAndOverwrite", s.testDeleteAndOverwrite)
	t.Run("List", s.testList)
	t.Run("UnchangedWriteMakesNoSave", s.testUnchangedWrite)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("LargeStates", s.testLargeStates)
	t.Run("Conflict", s.testConflict)
	t.Run("Closed", s.testClosed)
}

func ctx(t *testing.T) context.Context {
	// Generous: the machine is shared and slow backends retry.
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// openStore opens loc and closes it at the end of the test if the test did
// not.
func openStore(t *testing.T, loc string, opts []store.Option, extra ...store.Option) *store.Store {
	t.Helper()
	st, err := store.Open(ctx(t), loc, append(slices.Clone(opts), extra...)...)
	if err != nil {
		t.Fatalf("Open(%q): %v", loc, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustClose(t *testing.T, st *store.Store) {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func mustWrite(t *testing.T, st *store.Store, key string, v []byte) {
	t.Helper()
	if err := st.WriteState(ctx(t), key, v); err != nil {
		t.Fatalf("WriteState(%q, %d bytes): %v", key, len(v), err)
	}
}

func wantValue(t *testing.T, st *store.Store, key string, want []byte) {
	t.Helper()
	got, err := st.ReadState(ctx(t), key)
	if err != nil {
		t.Fatalf("ReadState(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ReadState(%q) = %d bytes %.32x…, want %d bytes %.32x…", key, len(got), got, len(want), want)
	}
	if got == nil {
		t.Fatalf("ReadState(%q) = nil, want a non-nil (possibly empty) value", key)
	}
}

func wantAbsent(t *testing.T, st *store.Store, key string) {
	t.Helper()
	got, err := st.ReadState(ctx(t), key)
	if !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("ReadState(%q) = %d bytes, %v; want an error wrapping store.ErrNotExist", key, len(got), err)
	}
}

func (s *suite) testAbsentKey(t *testing.T) {
	loc, opts := s.open(t)
	st := openStore(t, loc, opts)
	wantAbsent(t, st, "_machinekey")
	keys, err := st.Keys(ctx(t))
	if err != nil || len(keys) != 0 {
		t.Fatalf("Keys of a new state = %q, %v; want none", keys, err)
	}
}

func allBytes() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func (s *suite) testRoundTrip(t *testing.T) {
	loc, opts := s.open(t)
	values := map[string][]byte{
		"empty":                           {},
		"_machinekey":                     []byte("privkey:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		"binary":                          allBytes(),
		"nul":                             {0},
		"utf8":                            []byte("héllo, 世界 \u2028 \"quoted\" \\ "),
		"invalidutf8":                     {0xff, 0xfe, 0xc3},
		"key with spaces/and:punctuation": []byte("v"),
	}
	st := openStore(t, loc, opts)
	for k, v := range values {
		mustWrite(t, st, k, v)
	}
	for k, v := range values {
		wantValue(t, st, k, v)
	}
	// The value returned is a copy: changing it changes nothing stored.
	got, _ := st.ReadState(ctx(t), "binary")
	got[0] ^= 0xff
	wantValue(t, st, "binary", allBytes())
	// So is the value written.
	in := []byte("before")
	mustWrite(t, st, "copied", in)
	copy(in, "AFTER!")
	wantValue(t, st, "copied", []byte("before"))
	values["copied"] = []byte("before")
	mustClose(t, st)

	st = openStore(t, loc, opts)
	for k, v := range values {
		wantValue(t, st, k, v)
	}
	keys, err := st.Keys(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(values) {
		t.Fatalf("after reopen Keys = %q, want the %d written", keys, len(values))
	}
}

func (s *suite) testDeleteAndOverwrite(t *testing.T) {
	loc, opts := s.open(t)
	st := openStore(t, loc, opts)
	mustWrite(t, st, "a", []byte("1"))
	mustWrite(t, st, "b", []byte("2"))
	mustWrite(t, st, "a", []byte("one"))
	wantValue(t, st, "a", []byte("one"))
	mustWrite(t, st, "b", nil)
	wantAbsent(t, st, "b")
	mustWrite(t, st, "never", nil) // deleting an absent key is not an error
	// An empty value is a value, not a deletion.
	mustWrite(t, st, "e", []byte{})
	wantValue(t, st, "e", []byte{})
	mustClose(t, st)

	st = openStore(t, loc, opts)
	wantValue(t, st, "a", []byte("one"))
	wantAbsent(t, st, "b")
	wantAbsent(t, st, "never")
	wantValue(t, st, "e", []byte{})
	mustWrite(t, st, "a", nil)
	mustWrite(t, st, "e", nil)
	mustClose(t, st)

	st = openStore(t, loc, opts)
	keys, err := st.Keys(ctx(t))
	if err != nil || len(keys) != 0 {
		t.Fatalf("after deleting every key, Keys = %q, %v; want none", keys, err)
	}
}

func (s *suite) testList(t *testing.T) {
	loc, opts := s.open(t)
	st := openStore(t, loc, opts)
	mustWrite(t, st, "_profiles", bytes.Repeat([]byte("p"), 490))
	mustWrite(t, st, "_machinekey", bytes.Repeat([]byte("m"), 72))
	mustWrite(t, st, "_current-profile", []byte{})
	want := []store.KeyInfo{{Key: "_current-profile", Size: 0}, {Key: "_machinekey", Size: 72}, {Key: "_profiles", Size: 490}}
	check := func(st *store.Store) {
		t.Helper()
		got, err := st.List(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("List = %+v, want %+v", got, want)
		}
		keys, err := st.Keys(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys, []string{"_current-profile", "_machinekey", "_profiles"}) {
			t.Fatalf("Keys = %q, want them sorted", keys)
		}
	}
	check(st)
	mustClose(t, st)
	check(openStore(t, loc, opts))
}

func (s *suite) testUnchangedWrite(t *testing.T) {
	loc, opts := s.open(t)
	var saves atomic.Int64
	count := store.WithSaveObserver(func() { saves.Add(1) })

	// Opening and closing without writes saves nothing.
	st := openStore(t, loc, opts, count)
	mustClose(t, st)
	if n := saves.Load(); n != 0 {
		t.Fatalf("Open+Close without writes made %d Saves, want 0", n)
	}

	st = openStore(t, loc, opts, count)
	mustWrite(t, st, "k", []byte("v"))
	mustWrite(t, st, "empty", []byte{})
	if n := saves.Load(); n != 2 {
		t.Fatalf("2 changing writes made %d Saves, want 2", n)
	}
	mustWrite(t, st, "k", []byte("v"))
	mustWrite(t, st, "empty", []byte{})
	mustWrite(t, st, "absent", nil)
	mustClose(t, st)
	if n := saves.Load(); n != 2 {
		t.Fatalf("after 3 writes that change nothing and Close: %d Saves, want still 2", n)
	}

	// Same after a reopen: the loaded state is the baseline.
	st = openStore(t, loc, opts, count)
	mustWrite(t, st, "k", []byte("v"))
	mustWrite(t, st, "empty", []byte{})
	mustClose(t, st)
	if n := saves.Load(); n != 2 {
		t.Fatalf("rewriting loaded values made %d Saves in all, want 2", n)
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	loc, opts := s.open(t)
	var saves atomic.Int64
	st := openStore(t, loc, opts, store.WithSaveObserver(func() { saves.Add(1) }))

	const goroutines = 16
	const keysPer = 3
	value := func(g, k, i int) []byte { return fmt.Appendf(nil, "g%02d-k%d-write%03d", g, k, i) }
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range s.writesPer {
				k := i % keysPer
				if err := st.WriteState(ctx(t), fmt.Sprintf("g%02d-k%d", g, k), value(g, k, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent WriteState: %v", err)
	}
	writes := goroutines * s.writesPer
	if n := saves.Load(); n > int64(writes) || n < 1 {
		t.Errorf("%d writes made %d Saves, want between 1 and %d", writes, n, writes)
	}
	t.Logf("%d concurrent writes made %d Saves", writes, saves.Load())
	mustClose(t, st)

	st = openStore(t, loc, opts)
	for g := range goroutines {
		for k := range keysPer {
			last := -1
			for i := range s.writesPer {
				if i%keysPer == k {
					last = i
				}
			}
			key := fmt.Sprintf("g%02d-k%d", g, k)
			if last < 0 {
				wantAbsent(t, st, key)
				continue
			}
			wantValue(t, st, key, value(g, k, last))
		}
	}
}

func (s *suite) testLargeStates(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// Sizes around the SSM tier limits (4 KB, 8 KB of base64 JSON) and up
	// to the backend's maximum; random bytes do not compress.
	var sizes []int
	for _, n := range []int{0, 1000, 2900, 3100, 6000, 6200, 64 << 10, 256 << 10, 1 << 20} {
		if n <= s.maxSize {
			sizes = append(sizes, n)
		}
	}
	if sizes[len(sizes)-1] != s.maxSize {
		sizes = append(sizes, s.maxSize)
	}
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			loc, opts := s.open(t)
			st := openStore(t, loc, opts)
			big := random(size)
			small := random(100)
			mustWrite(t, st, "big", big)
			mustWrite(t, st, "small", small)
			mustClose(t, st)

			st = openStore(t, loc, opts)
			wantValue(t, st, "big", big)
			wantValue(t, st, "small", small)
			// Shrinking back works too (superseded parts must not be read).
			mustWrite(t, st, "big", []byte("short"))
			mustClose(t, st)
			st = openStore(t, loc, opts)
			wantValue(t, st, "big", []byte("short"))
			wantValue(t, st, "small", small)
		})
	}
}

func (s *suite) testConflict(t *testing.T) {
	loc, opts := s.open(t)
	a := openStore(t, loc, opts)
	b := openStore(t, loc, opts)
	mustWrite(t, a, "k", []byte("from a"))
	err := b.WriteState(ctx(t), "k", []byte("from b"))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second writer's WriteState = %v, want an error wrapping store.ErrConflict", err)
	}
	// The loser keeps serving its own view from memory.
	wantValue(t, b, "k", []byte("from b"))
	b.Close() // its final commit conflicts again; the error is expected
	mustClose(t, a)

	st := openStore(t, loc, opts)
	wantValue(t, st, "k", []byte("from a"))
}

func (s *suite) testClosed(t *testing.T) {
	loc, opts := s.open(t)
	st := openStore(t, loc, opts)
	mustWrite(t, st, "k", []byte("v"))
	mustClose(t, st)
	if err := st.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := st.ReadState(ctx(t), "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("ReadState after Close = %v, want ErrClosed", err)
	}
	if err := st.WriteState(ctx(t), "k", []byte("w")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("WriteState after Close = %v, want ErrClosed", err)
	}
	if _, err := st.List(ctx(t)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("List after Close = %v, want ErrClosed", err)
	}
}
