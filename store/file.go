package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileBackend keeps the state in a file in Tailscale's tailscaled.state
// format (ipn/store.FileStore): a JSON object of key → base64 value, as
// encoding/json writes a map[string][]byte with two-space indentation.
// Saves replace the file atomically with mode 0600.
type fileBackend struct {
	path  string
	reset bool
	log   func(msg string, args ...any)

	// known is the SHA-256 of the content this backend last loaded or
	// saved, or nil when the file did not exist: a Save that finds other
	// content reports ErrConflict instead of overwriting it.
	known *[sha256.Size]byte
}

func newFileBackend(path string, cfg Config) *fileBackend {
	return &fileBackend{path: path, reset: cfg.Reset, log: cfg.Logger.Warn}
}

// read returns the file's content and its hash, or nil, nil when absent.
func (b *fileBackend) read() ([]byte, *[sha256.Size]byte, error) {
	bs, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read state file %s: %w", b.path, err)
	}
	h := sha256.Sum256(bs)
	return bs, &h, nil
}

func (b *fileBackend) Load(ctx context.Context) (map[string][]byte, error) {
	bs, h, err := b.read()
	if err != nil {
		return nil, err
	}
	b.known = h
	// Tailscale treats an empty file as a missing one (tailscale#895).
	if len(bs) == 0 {
		return map[string][]byte{}, nil
	}
	var state map[string][]byte
	if err := json.Unmarshal(bs, &state); err != nil {
		if b.reset {
			b.log("state file does not decode; starting empty because of the reset option: the next write replaces it", "path", b.path, "err", err)
			return map[string][]byte{}, nil
		}
		return nil, fmt.Errorf("state file %s: %w: it is not a JSON object of base64 values as tailscaled.state is (%v); restore it from a backup, move it away, or open with the reset option to overwrite it", b.path, ErrCorrupt, err)
	}
	return state, nil
}

func (b *fileBackend) Save(ctx context.Context, state map[string][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, h, err := b.read()
	if err != nil {
		return err
	}
	if (h == nil) != (b.known == nil) || (h != nil && *h != *b.known) {
		return fmt.Errorf("state file %s: %w (its content changed since this store read it); reopen to load it", b.path, ErrConflict)
	}
	bs, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state for %s: %w", b.path, err)
	}
	if err := writeFileAtomic(b.path, bs); err != nil {
		return err
	}
	sum := sha256.Sum256(bs)
	b.known = &sum
	return nil
}

func (b *fileBackend) Close() error { return nil }

// writeFileAtomic replaces path with data so that a reader (or a crash)
// sees either the old content or the new one: it writes a temporary file in
// the same directory with mode 0600, syncs it, renames it over path and
// syncs the directory so the rename itself is durable.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory for state file %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write state file %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write state file %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write state file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write state file %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write state file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write state file %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write state file %s: open directory to sync: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write state file %s: sync directory: %w", path, err)
	}
	return nil
}
