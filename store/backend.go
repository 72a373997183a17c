package store

import "context"

// Backend persists a whole state (key → value) for the Store, which keeps the
// state in memory and batches writes into commits. Backends are not required
// to be safe for concurrent use: the Store calls them from one goroutine at a
// time.
type Backend interface {
	// Load reads the whole state. A state that does not exist yet is an empty
	// map and a nil error; Load never writes.
	Load(ctx context.Context) (map[string][]byte, error)
	// Save durably replaces the whole state with state. It returns only once
	// the new state is durable, or an error, in which case the previous
	// state is still the one a reader sees. A Backend that can tell that
	// another writer changed the state since its last Load or Save returns an
	// error wrapping ErrConflict instead of overwriting.
	Save(ctx context.Context, state map[string][]byte) error
	// Close releases what the backend holds.
	Close() error
}
