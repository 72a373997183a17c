package store

import (
	"context"
	"fmt"
	"maps"
	"sync"
)

// memStates holds the process-wide named in-memory states, so that every
// Open of mem:NAME in a process shares one state (as two processes share a
// file or a parameter).
var memStates = struct {
	sync.Mutex
	m map[string]*memState
}{m: map[string]*memState{}}

// memState is one in-memory state. version counts Saves, so a backend can
// tell that another Store saved since it last looked.
type memState struct {
	mu      sync.Mutex
	data    map[string][]byte
	version uint64
}

// memBackend is the Backend for mem: locators.
type memBackend struct {
	name string
	st   *memState
	seen uint64 // the version this backend last loaded or saved
}

// newMemBackend returns the backend of the shared state name, or of a new
// private state when name is empty.
func newMemBackend(name string) *memBackend {
	if name == "" {
		return &memBackend{st: &memState{}}
	}
	memStates.Lock()
	defer memStates.Unlock()
	st, ok := memStates.m[name]
	if !ok {
		st = &memState{}
		memStates.m[name] = st
	}
	return &memBackend{name: name, st: st}
}

func (b *memBackend) Load(ctx context.Context) (map[string][]byte, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	b.seen = b.st.version
	return maps.Clone(b.st.data), nil
}

func (b *memBackend) Save(ctx context.Context, state map[string][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	if b.st.version != b.seen {
		return fmt.Errorf("in-memory state mem:%s: %w (saved by another store after this one loaded it); reopen to load it", b.name, ErrConflict)
	}
	// Values are never modified in place by the Store, so sharing them
	// between the Store's snapshot and this copy is safe.
	b.st.data = maps.Clone(state)
	b.st.version++
	b.seen = b.st.version
	return nil
}

func (b *memBackend) Close() error { return nil }
