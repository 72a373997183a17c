// Package store keeps a node's state — a map of keys to byte values, as
// Tailscale's ipn.StateStore sees it — in memory, and persists the whole
// state through a Backend (a file, an in-memory state for tests, or SSM
// Parameter Store) named by a locator (see package locator).
//
// Writes are group-committed: one committer goroutine saves the latest
// in-memory state, so concurrent writers share one Save, and Saves happen one
// at a time in order, so the persisted state always ends equal to the last
// in-memory state and an older snapshot is never saved after a newer one.
//
// When a Save fails, every writer whose write it carried gets the error, but
// the in-memory state keeps the change: reads keep answering from memory,
// and the next commit (the next changing write, a repeated write of the same
// value, or Close) saves it. A caller that must not go on after a failed
// write should treat the error as fatal (tailscaled does).
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ssmstate/ssmstate/locator"
)

// Errors callers can test for with errors.Is.
var (
	// ErrNotExist: the key has no value.
	ErrNotExist = errors.New("state key does not exist")
	// ErrConflict: the backend saw that another writer changed the state
	// since this store loaded or last saved it, and did not overwrite it.
	// Reopen the store to load the other writer's state.
	ErrConflict = errors.New("state was changed by another writer")
	// ErrCorrupt: the stored content does not decode. The store refuses to
	// write over it unless opened WithReset.
	ErrCorrupt = errors.New("stored state does not decode")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store is closed")
)

// BackendOpener opens the backend for a parsed locator. cfg carries the
// options given to Open (logger, timeout, reset, AWS settings).
type BackendOpener func(ctx context.Context, loc locator.Locator, cfg Config) (Backend, error)

var (
	openersMu sync.Mutex
	openers   = map[locator.Kind]BackendOpener{}
)

// RegisterBackend makes Open use open for locators of kind. The SSM backend
// (package store/ssmparam) registers itself for locator.KindSSM when
// imported: it imports this package, so this package cannot import it.
// Registering a kind again replaces the earlier opener.
func RegisterBackend(kind locator.Kind, open BackendOpener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	openers[kind] = open
}

func registeredOpener(kind locator.Kind) BackendOpener {
	openersMu.Lock()
	defer openersMu.Unlock()
	return openers[kind]
}

// Store is an open state. It is safe for concurrent use.
type Store struct {
	loc     locator.Locator
	cfg     Config
	log     *slog.Logger
	backend Backend

	// commitCtx bounds Saves past any one writer's context; cancelled by
	// Close after the final commit.
	commitCtx    context.Context
	cancelCommit context.CancelFunc
	kick         chan struct{} // buffered 1: a commit may be needed
	stop         chan struct{} // closed by Close
	done         chan struct{} // closed when the committer has exited

	mu       sync.Mutex
	state    map[string][]byte // values are never modified in place
	gen      uint64            // bumped by every change to state
	savedGen uint64            // the gen whose state is durable
	waiters  []waiter          // writers waiting for their gen to be durable
	closed   bool
	// lastBatch is how many writers the last commit answered; see linger.
	lastBatch int
}

type waiter struct {
	gen uint64
	ch  chan error // buffered 1
}

// Open parses the locator, opens its backend and loads the state. Open never
// writes. The Load is bounded by ctx, or by the store's timeout when ctx has
// no deadline.
func Open(ctx context.Context, loc string, opts ...Option) (*Store, error) {
	l, err := locator.Parse(loc)
	if err != nil {
		return nil, err
	}
	cfg := newConfig(opts)

	var b Backend
	switch l.Kind {
	case locator.KindMem:
		b = newMemBackend(l.MemName)
	case locator.KindFile:
		b = newFileBackend(l.Path, cfg)
	case locator.KindSSM:
		open := registeredOpener(locator.KindSSM)
		if open == nil {
			return nil, fmt.Errorf("open %s: SSM backend not wired yet: import _ \"github.com/ssmstate/ssmstate/store/ssmparam\" so that it registers itself with store.RegisterBackend", l)
		}
		if b, err = open(ctx, l, cfg); err != nil {
			return nil, fmt.Errorf("open %s: %w", l, err)
		}
	default:
		return nil, fmt.Errorf("open %s: no backend for locator kind %v", l, l.Kind)
	}
	return openBackend(ctx, l, cfg, b)
}

// openBackend loads the state through b and starts the store's committer.
// It closes b if the load fails.
func openBackend(ctx context.Context, l locator.Locator, cfg Config, b Backend) (*Store, error) {
	lctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	state, err := b.Load(lctx)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", l, err)
	}
	if state == nil {
		state = map[string][]byte{}
	}
	for k, v := range state {
		if v == nil {
			state[k] = []byte{} // a present key always has a non-nil value
		}
	}

	s := &Store{
		loc:     l,
		cfg:     cfg,
		log:     cfg.Logger.With("locator", l.String()),
		backend: b,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		state:   state,
	}
	s.commitCtx, s.cancelCommit = context.WithCancel(context.WithoutCancel(ctx))
	go s.committer()
	s.log.Debug("store opened", "keys", len(state))
	return s, nil
}

// Locator is the parsed locator the store was opened with.
func (s *Store) Locator() locator.Locator { return s.loc }

// ReadState returns a copy of key's value, or an error wrapping ErrNotExist.
// Reads are served from memory.
func (s *Store) ReadState(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("read %q from %s: %w", key, s.loc, ErrClosed)
	}
	v, ok := s.state[key]
	if !ok {
		return nil, fmt.Errorf("read %q from %s: %w", key, s.loc, ErrNotExist)
	}
	return bytes.Clone(v), nil
}

// WriteState sets key to value (a nil value deletes key; an empty non-nil
// value is kept as an empty value) and returns once a state holding this
// write is durable, or with the error of the Save that carried it. A write
// that changes nothing returns at once without a Save (unless an earlier
// change is not durable yet, in which case it waits for that).
//
// If ctx ends first, WriteState returns its error; the write stays in memory
// and the committer still saves it.
func (s *Store) WriteState(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("write to %s: empty key; give a key name such as _machinekey", s.loc)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("write %q to %s: %w", key, s.loc, ErrClosed)
	}
	old, present := s.state[key]
	switch {
	case value == nil && !present, value != nil && present && bytes.Equal(old, value):
		if s.gen == s.savedGen {
			s.mu.Unlock()
			return nil // nothing to do and nothing pending
		}
		// Unchanged, but the state holding this value is not durable yet
		// (a commit is running or the last one failed): wait for it.
	case value == nil:
		delete(s.state, key)
		s.gen++
	default:
		s.state[key] = bytes.Clone(value)
		s.gen++
	}
	w := waiter{gen: s.gen, ch: make(chan error, 1)}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()

	select {
	case s.kick <- struct{}{}:
	default: // a commit is already due; it will take this write
	}

	select {
	case err := <-w.ch:
		if err != nil {
			return fmt.Errorf("write %q to %s: %w", key, s.loc, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("write %q to %s: not confirmed durable before the context ended (the write stays in memory and will still be saved): %w", key, s.loc, ctx.Err())
	}
}

// KeyInfo describes one key without its value.
type KeyInfo struct {
	Key  string
	Size int // bytes
}

// List returns the keys and their value sizes, sorted by key.
func (s *Store) List(ctx context.Context) ([]KeyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("list %s: %w", s.loc, ErrClosed)
	}
	out := make([]KeyInfo, 0, len(s.state))
	for _, k := range slices.Sorted(maps.Keys(s.state)) {
		out = append(out, KeyInfo{Key: k, Size: len(s.state[k])})
	}
	return out, nil
}

// Keys returns the keys, sorted.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	l, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(l))
	for i, ki := range l {
		keys[i] = ki.Key
	}
	return keys, nil
}

// Close saves any change not yet durable (a write whose Save failed, or one
// whose caller stopped waiting), then closes the backend. It returns the
// error of that last Save, if any. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	close(s.stop)
	<-s.done
	err := s.commit() // the final commit, with the committer gone
	s.cancelCommit()
	if cerr := s.backend.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close %s: %w", s.loc, cerr))
	}
	return err
}

// committer runs commits one at a time until Close.
func (s *Store) committer() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
			s.linger()
			s.commit()
		}
	}
}

// maxLinger bounds how long linger holds a commit back.
const maxLinger = 2 * time.Millisecond

// linger holds the next commit back, for at most maxLinger, until as many
// writers wait as the last commit answered. A commit wakes all the writers
// it carried at once; without this the first of them to write again starts
// the next commit alone and the rest queue behind it, so a steady group of
// concurrent writers would need two commits where one does. A lone writer
// (last batch of one) never waits.
func (s *Store) linger() {
	s.mu.Lock()
	want, n := s.lastBatch, len(s.waiters)
	s.mu.Unlock()
	if want <= 1 || n >= want {
		return
	}
	timer := time.NewTimer(maxLinger)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return
		case <-s.stop:
			return
		case <-s.kick: // another write arrived
		}
		s.mu.Lock()
		n = len(s.waiters)
		s.mu.Unlock()
		if n >= want {
			return
		}
	}
}

// commit saves the current state if it is not durable yet, and answers the
// writers it carried. Only the committer goroutine (or Close, after it has
// exited) calls it, so Saves never overlap and each saves a newer state than
// the one before.
func (s *Store) commit() error {
	s.mu.Lock()
	if s.gen == s.savedGen {
		s.answer(s.gen, nil) // waiters of an already durable state, if any
		s.mu.Unlock()
		return nil
	}
	gen := s.gen
	snap := maps.Clone(s.state)
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(s.commitCtx, s.cfg.Timeout)
	err := s.backend.Save(ctx, snap)
	cancel()
	if s.cfg.saveObserver != nil {
		s.cfg.saveObserver()
	}
	if err != nil {
		// Keys and sizes only: values are secrets.
		s.log.Error("saving state failed; the change stays in memory and the next commit retries it", "keys", len(snap), "err", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.savedGen = gen
	}
	s.answer(gen, err)
	return err
}

// answer sends err to every waiter whose write is in the state of gen.
// s.mu must be held.
func (s *Store) answer(gen uint64, err error) {
	s.lastBatch = 0
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if w.gen <= gen {
			w.ch <- err
			s.lastBatch++
		} else {
			kept = append(kept, w)
		}
	}
	clear(s.waiters[len(kept):])
	s.waiters = kept
}
