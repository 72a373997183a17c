package tsstate_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/tsstate"
)

// ipn.StateStore has no context: a WriteState during an outage (here, an
// endpoint that does not answer) returns when the adapter's timeout ends
// instead of hanging the node, and the write is still saved once the
// endpoint answers again.
func TestWriteStateIsBounded(t *testing.T) {
	ep := emulator.NewTestServer(t)
	useEndpoint(t, "AWS_ENDPOINT_URL", ep.URL)
	createKey(t, ep, e2eAlias)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const loc = "arn:aws:ssm:us-east-1:000000000000:parameter/ts/bounded?kmsKey=" + e2eAlias

	// The store bounds each commit to 5 seconds, so that the commit stuck in
	// the outage gives up soon after the endpoint answers again.
	st, err := tsstate.New(ctx, loc, tsstate.WithTimeout(200*time.Millisecond), tsstate.WithStoreOptions(store.WithTimeout(5*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	ep.SetLatency(time.Hour) // every call now waits until its client gives up
	err = st.WriteState("_machinekey", []byte("privkey:4242"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WriteState against an endpoint that does not answer = %v; want an error wrapping context.DeadlineExceeded", err)
	}
	t.Logf("error: %v", err)
	// Served from memory, reads do not wait for the endpoint.
	if v, err := st.ReadState("_machinekey"); err != nil || string(v) != "privkey:4242" {
		t.Errorf("ReadState during the outage = %q, %v", v, err)
	}

	// Once the endpoint answers again, the write lands: at the latest when
	// the store is closed, which commits what is not yet durable.
	ep.SetLatency(0)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err := store.Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.ReadState(ctx, "_machinekey"); err != nil || !bytes.Equal(v, []byte("privkey:4242")) {
		t.Errorf("after the outage the stored _machinekey = %q, %v", v, err)
	}
}
