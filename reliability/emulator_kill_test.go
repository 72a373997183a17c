package reliability

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	bolt "go.etcd.io/bbolt"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
)

// emulatorKillsEnv scales TestEmulatorSIGKILLMidWrite (default 15 kills).
const emulatorKillsEnv = "SSMSTATE_EMULATOR_KILLS"

// emulatorChild is a running `ssmstate emulator --data DIR` process.
type emulatorChild struct {
	cmd    *exec.Cmd
	stderr strings.Builder // read only after Wait
	done   chan struct{}   // stdout drained
}

// startEmulatorChild runs bin's emulator on addr with data in dir and waits
// until it prints its export lines (it is listening by then).
func startEmulatorChild(t *testing.T, bin, addr, dir string) *emulatorChild {
	t.Helper()
	c := &emulatorChild{done: make(chan struct{})}
	c.cmd = exec.Command(bin, "emulator", "--listen", addr, "--data", dir)
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start ssmstate emulator: %v", err)
	}
	ready := make(chan string, 1)
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "export AWS_ENDPOINT_URL="); ok {
				ready <- u
			}
		}
		io.Copy(io.Discard, out)
		close(ready)
	}()
	select {
	case u, ok := <-ready:
		if !ok {
			c.cmd.Wait()
			t.Fatalf("ssmstate emulator --listen %s --data %s ended before serving: %s", addr, dir, c.stderr.String())
		}
		if u != "http://"+addr {
			c.kill(t)
			t.Fatalf("ssmstate emulator serves at %s, want http://%s", u, addr)
		}
	case <-time.After(2 * time.Minute):
		c.cmd.Process.Kill()
		c.cmd.Wait()
		t.Fatalf("ssmstate emulator did not serve within 2 minutes: %s", c.stderr.String())
	}
	return c
}

// kill SIGKILLs the emulator and waits until it is gone (its listening
// socket and bbolt file lock released).
func (c *emulatorChild) kill(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGKILL)
	err := c.cmd.Wait()
	<-c.done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("ssmstate emulator ended with %v before it was killed; stderr: %s", err, c.stderr.String())
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago; the test keeps it for every restart of the endpoint.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// checkBolt opens the endpoint's bbolt file read-only and runs bbolt's
// consistency check over every page.
func checkBolt(t *testing.T, dir, what string) {
	t.Helper()
	path := filepath.Join(dir, "state.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("%s: open %s: %v", what, path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		for e := range tx.Check() {
			errs = append(errs, e)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Fatalf("%s: %s is corrupt: %v", what, path, err)
	}
}

// TestEmulatorSIGKILLMidWrite: the endpoint is a separate `ssmstate
// emulator --data DIR` process, SIGKILLed at random moments while a store
// commits stamped multi-part states in a loop, and restarted on the same
// address and data directory, after an outage that is usually short and
// every fifth time longer than a writer waits (those writes are not
// acknowledged). After every kill the bbolt file passes
// bbolt's check; after every restart a fresh store reads a whole state no
// older than the last acknowledged write and no newer than the last one
// issued; at the end, after the store's final commit and one more SIGKILL,
// the state is exactly the last write.
func TestEmulatorSIGKILLMidWrite(t *testing.T) {
	kills := envInt(emulatorKillsEnv, 15)
	bin := buildCLI(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	start := time.Now()

	emu := startEmulatorChild(t, bin, addr, dir)
	t.Cleanup(func() {
		if emu != nil {
			emu.cmd.Process.Kill()
			emu.cmd.Wait()
		}
	})
	cfg := childConfig("http://" + addr)
	ctx := context.Background()
	const alias = "alias/ts-emulator-kill"
	kc := kms.NewFromConfig(cfg)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("emulator kill test key")})
	if err != nil {
		t.Fatalf("create KMS key: %v", err)
	}
	if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("create alias: %v", err)
	}
	loc := "arn:aws:ssm:" + region + ":" + emulator.DefaultAccount + ":parameter/ts/emukill/node?kmsKey=" + alias
	s, err := store.Open(ctx, loc, store.WithAWSConfig(cfg), store.WithTimeout(20*time.Second))
	if err != nil {
		t.Fatalf("open %s: %v", loc, err)
	}

	// The writer: one key, each write a stamped state of 8–30 KB (several
	// SSM parts). issued is set before WriteState, lastAck after it
	// returns nil, so at any moment the durable state lies in
	// [lastAck, issued].
	var issued, lastAck atomic.Uint64
	var acks, failed atomic.Int64
	var firstErr atomic.Pointer[string]
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			issued.Store(seq)
			// The caller waits 3 s (a write takes tens of milliseconds,
			// so only an outage makes it give up); the store keeps
			// saving for up to 20 s.
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := s.WriteState(wctx, "state", stamped(seq, randDuration(8000, 30000)))
			cancel()
			if err != nil {
				failed.Add(1)
				msg := err.Error()
				firstErr.CompareAndSwap(nil, &msg)
				continue
			}
			lastAck.Store(seq)
			acks.Add(1)
		}
	}()
	stopWriter := func() {
		if stop != nil {
			close(stop)
			<-writerDone
			stop = nil
		}
	}
	defer stopWriter()

	// waitAcks waits until the writer has acknowledged more than n writes.
	waitAcks := func(n int64, what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for acks.Load() <= n {
			if time.Now().After(deadline) {
				msg := "none"
				if p := firstErr.Load(); p != nil {
					msg = *p
				}
				t.Fatalf("%s: the store acknowledged no write in 2 minutes (%d failed; first error: %s)", what, failed.Load(), msg)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// check reopens the state through the running endpoint.
	var backwards uint64 // the newest state a check has seen
	check := func(what string) uint64 {
		t.Helper()
		lo := lastAck.Load()
		r, err := store.Open(ctx, loc, store.WithAWSConfig(cfg))
		if err != nil {
			t.Fatalf("%s: reopen: %v", what, err)
		}
		v, err := r.ReadState(ctx, "state")
		hi := issued.Load()
		r.Close()
		var got uint64
		switch {
		case errors.Is(err, store.ErrNotExist):
			// got stays 0: allowed only while nothing is acknowledged.
		case err != nil:
			t.Fatalf("%s: read: %v", what, err)
		default:
			if got, err = checkStamped(v); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		if got < lo || got > hi {
			t.Fatalf("%s: reopened state is write %d; the last acknowledged was %d and the last issued %d, so it must lie between them", what, got, lo, hi)
		}
		if got < backwards {
			t.Fatalf("%s: state went back from write %d to %d", what, backwards, got)
		}
		backwards = got
		return got
	}

	var inFlightSeen int // checks that found a write newer than the last ack
	var midWrite int     // kills that landed while a write was unacknowledged
	var longOutages int
	for i := range kills {
		what := fmt.Sprintf("kill %d", i+1)
		// Every kill lands while the store is committing: wait for a
		// write acknowledged through this endpoint process, then kill at
		// a random moment of the writes that follow.
		waitAcks(acks.Load(), what)
		time.Sleep(time.Duration(randDuration(0, 600)) * time.Millisecond)
		if issued.Load() > lastAck.Load() {
			midWrite++
		}
		emu.kill(t)
		checkBolt(t, dir, what)
		// An outage: mostly short (retries span it), every fifth one
		// longer than a writer waits, so the write in flight is not
		// acknowledged and a later commit must carry it.
		outage := randDuration(0, 300)
		if i%5 == 4 {
			outage = randDuration(4000, 5000)
			longOutages++
		}
		time.Sleep(time.Duration(outage) * time.Millisecond)
		emu = startEmulatorChild(t, bin, addr, dir)
		lo := lastAck.Load()
		if got := check(what + ", after restart"); got > lo {
			inFlightSeen++
		}
	}
	waitAcks(acks.Load(), "after the last restart")
	stopWriter()
	final := issued.Load()
	if err := s.Close(); err != nil {
		t.Fatalf("close (final commit of write %d): %v", final, err)
	}
	if got := check("after the final commit"); got != final {
		t.Fatalf("after the final commit the state is write %d, want the last write %d", got, final)
	}

	// One more SIGKILL at rest, then the data directory must open in the
	// in-process endpoint and hold the last write.
	emu.kill(t)
	emu = nil
	checkBolt(t, dir, "final kill")
	srv, err := emulator.Start(emulator.WithDataDir(dir), emulator.WithAddr(addr))
	if err != nil {
		t.Fatalf("start the in-process endpoint on the killed endpoint's data directory: %v", err)
	}
	defer srv.Close()
	if got := check("in-process endpoint on the data directory"); got != final {
		t.Fatalf("the in-process endpoint on the data directory holds write %d, want %d", got, final)
	}

	msg := ""
	if p := firstErr.Load(); p != nil {
		msg = "; first failure: " + *p
	}
	t.Logf("%d SIGKILLs of `ssmstate emulator --data` in %v (%d mid-write, %d outages of ~4 s): %d writes issued, %d acknowledged, %d failed during outages (unacknowledged); %d reopenings found a write committed whose ack had not returned yet; bbolt check clean after every kill%s",
		kills, time.Since(start).Round(time.Second), midWrite, longOutages, final, acks.Load(), failed.Load(), inFlightSeen, msg)
}
