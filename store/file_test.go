package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmstate/ssmstate/store"
	"tailscale.com/ipn"
	tsstore "tailscale.com/ipn/store"
)

func TestFileFormatIsTailscales(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tailscaled.state")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created the file (stat: %v); Open must not write", err)
	}
	state := map[string][]byte{"_machinekey": []byte("privkey:abc"), "_profiles": {0, 1, 2, 0xff}, "empty": {}}
	for k, v := range state {
		if err := s.WriteState(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Byte for byte what Tailscale's FileStore writes for this state.
	want, _ := json.MarshalIndent(state, "", "  ")
	if !bytes.Equal(got, want) {
		t.Fatalf("file content:\n%s\nwant:\n%s", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %v, want 0600", perm)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file (no temporary files left)", len(entries))
	}

	// Tailscale's own FileStore reads what we wrote…
	ts, err := tsstore.NewFileStore(t.Logf, path)
	if err != nil {
		t.Fatalf("Tailscale's FileStore cannot open our file: %v", err)
	}
	for k, v := range state {
		got, err := ts.ReadState(ipn.StateKey(k))
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("Tailscale reads %q = %q, %v; want %q", k, got, err, v)
		}
	}
	// …and we read what it writes.
	if err := ts.WriteState("_current-profile", []byte("profile-1234")); err != nil {
		t.Fatal(err)
	}
	if err := ts.WriteState("_profiles", nil); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(ctx, path)
	if err != nil {
		t.Fatalf("opening a file Tailscale wrote: %v", err)
	}
	defer s.Close()
	if v, err := s.ReadState(ctx, "_current-profile"); err != nil || string(v) != "profile-1234" {
		t.Errorf("_current-profile = %q, %v", v, err)
	}
	if _, err := s.ReadState(ctx, "_profiles"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("_profiles deleted by Tailscale reads as %v, want ErrNotExist", err)
	}
	if v, err := s.ReadState(ctx, "_machinekey"); err != nil || string(v) != "privkey:abc" {
		t.Errorf("_machinekey = %q, %v", v, err)
	}
}

func TestFileEmptyIsMissing(t *testing.T) {
	// Tailscale treats an empty state file as a missing one.
	path := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	defer s.Close()
	if err := s.WriteState(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestFileCorrupt(t *testing.T) {
	ctx := context.Background()
	for name, content := range map[string]string{
		"not JSON":        "hello",
		"truncated":       `{"k": "dm`,
		"not base64":      `{"k": "%%%"}`,
		"not an object":   `["a"]`,
		"number as value": `{"k": 1}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tailscaled.state")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := store.Open(ctx, path)
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "reset") {
				t.Errorf("error %q does not name the file and the way out", err)
			}
			if got, _ := os.ReadFile(path); string(got) != content {
				t.Fatalf("the corrupt file was changed to %q", got)
			}

			// With reset, the store starts empty and the first write
			// replaces the content; until then the file is untouched.
			s, err := store.Open(ctx, path, store.WithReset())
			if err != nil {
				t.Fatalf("Open with reset: %v", err)
			}
			if keys, _ := s.Keys(ctx); len(keys) != 0 {
				t.Fatalf("keys after reset = %q", keys)
			}
			if got, _ := os.ReadFile(path); string(got) != content {
				t.Fatalf("Open with reset wrote the file: %q", got)
			}
			if err := s.WriteState(ctx, "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = store.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v, err := s.ReadState(ctx, "k"); err != nil || string(v) != "v" {
				t.Fatalf("after reset and write: %q, %v", v, err)
			}
		})
	}
}

func TestFileUnreadable(t *testing.T) {
	// A directory where the file should be: an error that is not ErrCorrupt.
	dir := t.TempDir()
	_, err := store.Open(context.Background(), dir)
	if err == nil || errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open of a directory = %v, want a read error naming it", err)
	}
}

func TestFileConflictWithOtherWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriteState(ctx, "k", []byte("1")); err != nil {
		t.Fatal(err)
	}
	// Another program (here Tailscale's FileStore) writes the file.
	ts, err := tsstore.NewFileStore(t.Logf, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.WriteState("k", []byte("theirs")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteState(ctx, "k", []byte("2")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("WriteState over another writer's change = %v, want ErrConflict", err)
	}
	if got, _ := ts.ReadState("k"); string(got) != "theirs" {
		t.Fatalf("the other writer's value was overwritten: %q", got)
	}
}

func TestMemSharing(t *testing.T) {
	ctx := context.Background()
	a, _ := store.Open(ctx, "mem:shared-test")
	defer a.Close()
	if err := a.WriteState(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	b, _ := store.Open(ctx, "mem:shared-test")
	defer b.Close()
	if v, err := b.ReadState(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("second Open of mem:shared-test reads %q, %v; want the shared state", v, err)
	}
	p1, _ := store.Open(ctx, "mem:")
	defer p1.Close()
	if err := p1.WriteState(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	p2, _ := store.Open(ctx, "mem:")
	defer p2.Close()
	if _, err := p2.ReadState(ctx, "k"); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("mem: is private to one Open, but a second one reads %v", err)
	}
}
