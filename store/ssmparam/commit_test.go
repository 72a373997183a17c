package ssmparam

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmstate/ssmstate/emulator"
)

// TestConflictAfterTheFact: with no read before a put, a stale writer of a
// small state is detected from the version its put returns; both writers
// then refuse to write until reloaded, and reloading clears it. No Save of a
// small state reads anything.
func TestConflictAfterTheFact(t *testing.T) {
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	ctx := context.Background()
	const name = "/ts/commit/conflict"
	open := func() *Backend {
		b, err := NewFromConfig(ctx, cfg, Config{ParameterName: name, KMSKey: DefaultKey})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := open()
	if err := a.Save(ctx, map[string][]byte{"k": []byte("a1")}); err != nil {
		t.Fatal(err)
	}
	stale := open()
	if err := a.Save(ctx, map[string][]byte{"k": []byte("a2")}); err != nil {
		t.Fatal(err)
	}
	srv.ResetCalls()
	err := stale.Save(ctx, map[string][]byte{"k": []byte("s1")})
	if !errors.Is(err, errConflict) {
		t.Fatalf("stale Save = %v, want ErrConflict", err)
	}
	if err := stale.Save(ctx, map[string][]byte{"k": []byte("s2")}); !errors.Is(err, errConflict) {
		t.Fatalf("stale Save after its conflict = %v, want ErrConflict", err)
	}
	if c := srv.Calls(); c["ssm.PutParameter"] != 1 || len(c) != 1 {
		t.Fatalf("stale writer's two Saves made %v, want exactly 1 PutParameter (the one that detects the conflict)", c)
	}
	// The overwritten write is not lost: the error names the version SSM
	// still holds it under, and that version reads back as a's state.
	if !strings.Contains(err.Error(), "'"+name+":2'") {
		t.Fatalf("conflict error does not name the overwritten version %s:2: %v", name, err)
	}
	old, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name + ":2"), WithDecryption: aws.Bool(true)})
	if err != nil || !strings.Contains(aws.ToString(old.Parameter.Value), base64.StdEncoding.EncodeToString([]byte("a2"))) {
		t.Fatalf("version 2, named by the conflict error, does not hold a's overwritten state: %v", err)
	}
	if err := a.Save(ctx, map[string][]byte{"k": []byte("a3")}); !errors.Is(err, errConflict) {
		t.Fatalf("overwritten writer's next Save = %v, want ErrConflict", err)
	}
	// Reloading clears the refusal and continues from what SSM holds.
	st, err := a.Load(ctx)
	if err != nil || string(st["k"]) != "a3" {
		t.Fatalf("reload = %q, %v; want a3", st["k"], err)
	}
	if err := a.Save(ctx, map[string][]byte{"k": []byte("a4")}); err != nil {
		t.Fatalf("Save after reload: %v", err)
	}
}

// dropResponse is an HTTP client that, when armed, lets the next
// PutParameter reach the endpoint (so it applies) and then loses its
// response, as a connection reset would: the SDK retries the put, which
// applies a second time.
type dropResponse struct {
	inner aws.HTTPClient
	mu    sync.Mutex
	armed bool
}

func (d *dropResponse) Do(r *http.Request) (*http.Response, error) {
	resp, err := d.inner.Do(r)
	d.mu.Lock()
	drop := d.armed && err == nil && strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutParameter")
	if drop {
		d.armed = false
	}
	d.mu.Unlock()
	if drop {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return resp, err
}

// TestRetriedPutIsNotAConflict: a put that applied twice because its first
// response was lost makes the version jump by 2; the backend checks that the
// skipped version holds its own content and does not report a conflict.
func TestRetriedPutIsNotAConflict(t *testing.T) {
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	inner := cfg.HTTPClient
	if inner == nil {
		inner = http.DefaultClient
	}
	lossy := &dropResponse{inner: inner}
	cfg.HTTPClient = lossy
	ctx := context.Background()
	const name = "/ts/commit/retried"
	b, err := NewFromConfig(ctx, cfg, Config{ParameterName: name, KMSKey: DefaultKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, map[string][]byte{"k": []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	lossy.mu.Lock()
	lossy.armed = true
	lossy.mu.Unlock()
	if err := b.Save(ctx, map[string][]byte{"k": []byte("v2")}); err != nil {
		t.Fatalf("Save whose put applied twice = %v, want success", err)
	}
	if v, _ := b.Version(); v != 3 {
		t.Fatalf("version after a put applied twice = %d, want 3 (the test did not lose a response)", v)
	}
	if err := b.Save(ctx, map[string][]byte{"k": []byte("v3")}); err != nil {
		t.Fatalf("next Save: %v", err)
	}
	out, err := ssm.NewFromConfig(srv.AWSConfig("us-east-1")).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil || !bytes.Contains([]byte(aws.ToString(out.Parameter.Value)), []byte(`"k"`)) || out.Parameter.Version != 4 {
		t.Fatalf("parameter after the saves: %v, %v", out, err)
	}
}

// raceClient runs hook once, just before the first GetParameters call that
// fetches parts: another writer commits in between a reader's fetch of the
// manifest and its fetch of the parts.
type raceClient struct {
	Client
	hook func()
	once sync.Once
}

func (c *raceClient) GetParameters(ctx context.Context, in *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	if len(in.Names) > 0 && strings.Contains(in.Names[0], ".part-") {
		c.once.Do(c.hook)
	}
	return c.Client.GetParameters(ctx, in, optFns...)
}

// TestLoadRacingACommit: a reader that fetched a manifest whose parts a
// writer then superseded and deleted does not report the state corrupt: it
// loads the newer commit.
func TestLoadRacingACommit(t *testing.T) {
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	ctx := context.Background()
	const name = "/ts/commit/race"
	big := func(tag string) map[string][]byte {
		st := map[string][]byte{}
		for i := range 8 {
			v := make([]byte, 2048)
			for j := range v {
				v[j] = byte(i*131 + j*7 + len(tag))
			}
			st[fmt.Sprintf("%s-%d", tag, i)] = v
		}
		return st
	}
	w, err := NewFromConfig(ctx, cfg, Config{ParameterName: name, KMSKey: DefaultKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Save(ctx, big("old")); err != nil {
		t.Fatal(err)
	}
	if w.gen == 0 {
		t.Fatal("the state is not multi-part; the test needs parts")
	}
	newer := big("new")
	rc := &raceClient{Client: NewClient(cfg), hook: func() {
		if err := w.Save(ctx, newer); err != nil {
			t.Errorf("writer's commit during the read: %v", err)
		}
	}}
	r, err := New(ctx, Config{Client: rc, ParameterName: name, KMSKey: DefaultKey})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Load(ctx)
	if err != nil {
		t.Fatalf("load racing a commit: %v", err)
	}
	if len(got) != len(newer) || !bytes.Equal(got["new-0"], newer["new-0"]) {
		t.Fatalf("loaded %d keys, want the newer state's %d", len(got), len(newer))
	}
}
