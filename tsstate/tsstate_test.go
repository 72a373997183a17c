package tsstate_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tailscale.com/ipn"
	tsstore "tailscale.com/ipn/store"
	"tailscale.com/types/logger"

	"github.com/ssmstate/ssmstate/tsstate"
)

func TestReadWriteDelete(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loc := filepath.Join(t.TempDir(), "state")
	st, err := tsstate.New(ctx, loc, tsstate.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// Tailscale compares with ==, so the sentinel must come back unwrapped.
	if v, err := st.ReadState("_machinekey"); err != ipn.ErrStateNotExist || v != nil {
		t.Fatalf("ReadState of an absent key = %q, %v; want nil, ipn.ErrStateNotExist itself", v, err)
	}
	want := []byte("privkey:0001")
	if err := st.WriteState("_machinekey", want); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteState("_empty", []byte{}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.ReadState("_machinekey"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadState = %q, %v; want %q", got, err, want)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A new store on the same file sees the writes; nil deletes.
	st, err = tsstate.New(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := st.ReadState("_machinekey"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after reopen ReadState = %q, %v; want %q", got, err, want)
	}
	if got, err := st.ReadState("_empty"); err != nil || len(got) != 0 {
		t.Fatalf("after reopen ReadState(_empty) = %q, %v; want an empty value", got, err)
	}
	if err := st.WriteState("_machinekey", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadState("_machinekey"); err != ipn.ErrStateNotExist {
		t.Fatalf("ReadState after WriteState(nil) = %v; want ipn.ErrStateNotExist", err)
	}
	if _, ok := st.(ipn.EncryptedStateStore); ok || st.Encrypted() {
		t.Errorf("file store claims encryption at rest")
	}
}

func TestNewRejectsBadLocator(t *testing.T) {
	_, err := tsstate.New(context.Background(), "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=k&color=blue")
	if err == nil {
		t.Fatal("New accepted an unknown locator option")
	}
	t.Logf("error: %v", err)
}

func TestRegister(t *testing.T) {
	tsstate.Register()
	tsstate.Register() // idempotent: the registry would panic on a second registration
	loc := tsstate.RegistryPrefix + filepath.Join(t.TempDir(), "state")
	st, err := tsstore.New(logger.Discard, loc)
	if err != nil {
		t.Fatalf("Tailscale's store.New(%q): %v", loc, err)
	}
	ts, ok := st.(tsstate.StateStore)
	if !ok {
		t.Fatalf("store.New(%q) gave %T, not a tsstate store", loc, st)
	}
	defer ts.Close()
	if err := st.WriteState("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := st.ReadState("k"); err != nil || string(v) != "v" {
		t.Fatalf("ReadState = %q, %v", v, err)
	}
}

// Safe for concurrent use, as ipn.StateStore requires: concurrent writers
// and readers on distinct and shared keys, each write visible once
// WriteState returns.
func TestConcurrentUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := tsstate.New(ctx, filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16*20)
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				k := ipn.StateKey(fmt.Sprintf("k%d", g))
				v := fmt.Appendf(nil, "v%d-%d", g, i)
				if err := st.WriteState(k, v); err != nil {
					errs <- err
					return
				}
				if got, err := st.ReadState(k); err != nil || !bytes.Equal(got, v) {
					errs <- fmt.Errorf("ReadState(%s) = %q, %v right after writing %q", k, got, err, v)
					return
				}
				if err := st.WriteState("shared", v); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
