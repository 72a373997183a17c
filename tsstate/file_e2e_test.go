package tsstate_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tailscale.com/ipn"

	"github.com/ssmstate/ssmstate/internal/tsnettest"
	"github.com/ssmstate/ssmstate/tsstate"
)

// A tsnet node whose state is a file through the adapter keeps its identity
// across a restart, and the file store is not reported as encrypted.
func TestTsnetRestartFileLocator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tn := tsnettest.StartTailnet(t)
	loc := filepath.Join(t.TempDir(), "tailscaled.state")

	st1, err := tsstate.New(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st1.(ipn.EncryptedStateStore); ok || st1.Encrypted() {
		t.Errorf("file store %v claims to be encrypted at rest", st1)
	}
	n1 := tn.StartNode(t, "filenode", st1, true)
	if err := n1.Server.Close(); err != nil {
		t.Fatalf("close first node: %v", err)
	}
	if err := st1.Close(); err != nil {
		t.Fatalf("close first store: %v", err)
	}

	st2, err := tsstate.New(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	n2 := tn.StartNode(t, "filenode", st2, false)
	if a, b := n1.Status.Self.PublicKey, n2.Status.Self.PublicKey; a != b {
		t.Errorf("node key changed across restart: %v then %v", a, b)
	}
	if a, b := n1.Status.TailscaleIPs, n2.Status.TailscaleIPs; !slices.Equal(a, b) {
		t.Errorf("Tailscale IPs changed across restart: %v then %v", a, b)
	}
	if n := tn.Logins(); n != 1 {
		t.Errorf("logins = %d, want 1 (the first start only)", n)
	}
}
