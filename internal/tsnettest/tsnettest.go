// Package tsnettest runs real Tailscale nodes (tsnet) on loopback for tests
// and benchmarks: Tailscale's in-process control server (testcontrol) with
// DERP and STUN, nodes whose state lives in a given ipn.StateStore, and a
// counted node lifecycle (first start with login, then a restart) to compare
// state stores by the calls they make.
package tsnettest

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"tailscale.com/ipn"
	"tailscale.com/ipn/ipnstate"
	"tailscale.com/net/netns"
	"tailscale.com/tailcfg"
	"tailscale.com/tsnet"
	"tailscale.com/tstest/integration"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/logger"
)

// UpTimeout bounds one node start (Up) against the in-process control
// server. It is generous: on a loaded 2-core machine a first start, which
// generates keys, logs in and connects to DERP, can take many seconds.
const UpTimeout = 3 * time.Minute

// Tailnet is Tailscale's in-process control server plus DERP and STUN, all
// on loopback. Every new node key must log in interactively (the control
// server's RequireAuth); a node key that logged in before is let in without
// a login, as the real control server does. A node that comes back Running
// without a login therefore kept its node key.
type Tailnet struct {
	Control *testcontrol.Server
	URL     string // the control server's URL, for tsnet.Server.ControlURL

	registers atomic.Int64
	logins    atomic.Int64
}

// StartTailnet starts a control server, DERP and STUN for t; they stop when
// t ends.
func StartTailnet(t testing.TB) *Tailnet {
	t.Helper()
	// As tsnet's own tests do: no netns socket marking in tests.
	netns.SetEnabled(false)
	t.Cleanup(func() { netns.SetEnabled(true) })

	tn := &Tailnet{}
	derpMap := integration.RunDERPAndSTUN(t, logger.Discard, "127.0.0.1")
	tn.Control = &testcontrol.Server{
		DERPMap:        derpMap,
		DNSConfig:      &tailcfg.DNSConfig{Proxied: true},
		MagicDNSDomain: "tail-scale.ts.net",
		RequireAuth:    true,
		Logf:           logger.Discard,
		// Not rate limiting: the hook is the one place that sees every
		// register request, so it counts them.
		MaybeRateLimitRegister: func() (bool, string, string) {
			tn.registers.Add(1)
			return false, "", ""
		},
	}
	tn.Control.HTTPTestServer = httptest.NewUnstartedServer(tn.Control)
	tn.Control.HTTPTestServer.Start()
	t.Cleanup(tn.Control.HTTPTestServer.Close)
	tn.URL = tn.Control.HTTPTestServer.URL
	return tn
}

// Registers is how many register requests the control server has seen. A
// node sends one on every start, login or not; a login adds a follow-up.
func (tn *Tailnet) Registers() int64 { return tn.registers.Load() }

// Logins is how many interactive logins have been completed (by StartNode
// or CompleteLogin).
func (tn *Tailnet) Logins() int64 { return tn.logins.Load() }

// CompleteLogin completes the interactive login at url, the login URL a
// node printed or sent on its IPN bus, as a user visiting it would. It
// reports whether the control server knew the URL.
func (tn *Tailnet) CompleteLogin(url string) bool {
	if !tn.Control.CompleteAuth(url) {
		return false
	}
	tn.logins.Add(1)
	return true
}

// Node is one run of a tsnet server, Running.
type Node struct {
	Server *tsnet.Server
	// Status is the node's status when it came Up: Self.PublicKey is the
	// node key, TailscaleIPs its addresses.
	Status *ipnstate.Status
}

// StartNode starts a persistent (non-ephemeral) tsnet server named hostname
// whose state lives in store, in a fresh directory so that nothing but
// store can carry state from an earlier run, and waits until it is Running.
// If the node asks for an interactive login, StartNode completes it when
// allowLogin, and fails t at once otherwise. The server is closed when t
// ends if the caller has not closed it.
func (tn *Tailnet) StartNode(t testing.TB, hostname string, store ipn.StateStore, allowLogin bool) *Node {
	t.Helper()
	srv := &tsnet.Server{
		Dir:        filepath.Join(t.TempDir(), hostname),
		ControlURL: tn.URL,
		Hostname:   hostname,
		Store:      store,
		Ephemeral:  false,
		Logf:       logger.Discard,
		UserLogf:   logger.Discard,
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), UpTimeout)
	defer cancel()

	// Watch the node's IPN bus for a login URL before bringing it Up.
	lc, err := srv.LocalClient() // starts the server
	if err != nil {
		t.Fatalf("start tsnet node %s: %v", hostname, err)
	}
	watcher, err := lc.WatchIPNBus(ctx, ipn.NotifyInitialState)
	if err != nil {
		t.Fatalf("watch the IPN bus of node %s: %v", hostname, err)
	}
	defer watcher.Close()
	askedLogin := make(chan string, 1)
	go func() {
		for {
			n, err := watcher.Next()
			if err != nil {
				return // watcher closed or ctx done
			}
			if n.BrowseToURL == nil || *n.BrowseToURL == "" {
				continue
			}
			if !allowLogin {
				askedLogin <- *n.BrowseToURL
				cancel() // stop Up now rather than at the timeout
				return
			}
			tn.CompleteLogin(*n.BrowseToURL)
		}
	}()

	st, err := srv.Up(ctx)
	select {
	case u := <-askedLogin:
		t.Fatalf("node %s asked to log in again (%s): its state did not survive the restart", hostname, u)
	default:
	}
	if err != nil {
		t.Fatalf("bring tsnet node %s up: %v", hostname, err)
	}
	return &Node{Server: srv, Status: st}
}
