package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
)

// The crash test's child commits states in a loop until it is killed. Each
// state is one value: an 8-byte sequence number, a random blob large enough
// to need several parts, and the SHA-256 of both, so a reader can tell a
// whole committed state from a mix.
const (
	crashChildEnv = "SSMSTATE_CRASH_CHILD_URL"
	crashLocEnv   = "SSMSTATE_CRASH_LOCATOR"
	crashKills    = 25
)

func crashValue(seq uint64) []byte {
	blob := randomValue(20000 + mrand.IntN(30000))
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, seq)
	b.Write(blob)
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// checkCrashValue returns the value's sequence number, or an error if the
// value is not one whole committed state.
func checkCrashValue(v []byte) (uint64, error) {
	if len(v) < 8+sha256.Size {
		return 0, fmt.Errorf("value of %d bytes is too short", len(v))
	}
	body, sum := v[:len(v)-sha256.Size], v[len(v)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return 0, errors.New("value checksum mismatch: a mix of states")
	}
	return binary.BigEndian.Uint64(body[:8]), nil
}

func crashConfig(url string) aws.Config {
	return aws.Config{
		Region:       testRegion,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(emulator.DummyAccessKeyID, emulator.DummySecretAccessKey, ""),
	}
}

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	url := os.Getenv(crashChildEnv)
	if url == "" {
		return // not the child: nothing to do
	}
	ctx := context.Background()
	s, err := store.Open(ctx, os.Getenv(crashLocEnv), store.WithAWSConfig(crashConfig(url)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "child: open: %v\n", err)
		os.Exit(3)
	}
	var seq uint64
	if v, err := s.ReadState(ctx, "state"); err == nil {
		if seq, err = checkCrashValue(v); err != nil {
			fmt.Fprintf(os.Stderr, "child: %v\n", err)
			os.Exit(3)
		}
	}
	os.Stdout.WriteString("ready\n")
	for {
		seq++
		if err := s.WriteState(ctx, "state", crashValue(seq)); err != nil {
			fmt.Fprintf(os.Stderr, "child: write %d: %v\n", seq, err)
			os.Exit(4)
		}
	}
}

// TestCrashDuringCommit kills a committing child at random moments; every
// reopening must yield exactly one committed state: no error, no mix, and
// never an older state than a previous reopening saw.
func TestCrashDuringCommit(t *testing.T) {
	srv := emulator.NewTestServer(t, emulator.WithDataDir(t.TempDir()))
	e := newSSMEnvFor(t, srv)
	loc := e.locator("/ts/crash/node", "kmsKey="+e.alias)
	ctx := context.Background()

	var last uint64
	commits := 0
	for i := range crashKills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+srv.URL, crashLocEnv+"="+loc)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child: %v", err)
		}
		// Wait until the child has opened the store, then let it commit
		// for a random while.
		buf := make([]byte, 6)
		if _, err := stdout.Read(buf); err != nil {
			cmd.Wait()
			t.Fatalf("kill %d: child did not start: %v; stderr: %s", i, err, stderr.String())
		}
		time.Sleep(time.Duration(20+mrand.IntN(600)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended with %v before it was killed; stderr: %s", i, err, stderr.String())
		}

		s, err := store.Open(ctx, loc, store.WithAWSConfig(e.cfg))
		if err != nil {
			t.Fatalf("reopen after kill %d: %v", i, err)
		}
		v, err := s.ReadState(ctx, "state")
		s.Close()
		if errors.Is(err, store.ErrNotExist) && last == 0 {
			continue // killed before its first commit
		}
		if err != nil {
			t.Fatalf("read after kill %d: %v", i, err)
		}
		seq, err := checkCrashValue(v)
		if err != nil {
			t.Fatalf("after kill %d: %v", i, err)
		}
		if seq < last {
			t.Fatalf("after kill %d: state went back from %d to %d", i, last, seq)
		}
		commits += int(seq - last)
		last = seq
	}
	if last == 0 {
		t.Fatalf("no child committed anything in %d runs", crashKills)
	}
	t.Logf("%d kills, %d commits survived; parameters left: %d", crashKills, commits, len(e.params(t, "/ts/crash/")))
}
