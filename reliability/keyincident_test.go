package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmstate/ssmstate/doctor"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/storeerr"
)

// TestKeyDisabledMidRun: writes fail with the explained error while the key
// is disabled, reads keep serving from memory, and after the key is enabled
// again the next commit persists every pending change.
func TestKeyDisabledMidRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	loc := e.locator("/ts/keys/disabled", "kmsKey="+e.alias)
	s := e.open(t, loc)
	defer s.Close()
	want := map[string][]byte{}
	write := func(k string, v []byte) error {
		want[k] = v
		return s.WriteState(ctx, k, v)
	}
	if err := write("before", randomBytes(9000)); err != nil { // multi-part
		t.Fatal(err)
	}

	if _, err := e.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(e.keyID)}); err != nil {
		t.Fatal(err)
	}
	var failed int
	for i := range 5 {
		err := write(fmt.Sprintf("during-%d", i), randomBytes(3000))
		if err == nil {
			t.Fatalf("write %d with the key disabled succeeded", i)
		}
		var se *storeerr.Error
		if !errors.As(err, &se) || se.Kind != storeerr.KeyDisabled {
			t.Fatalf("write with the key disabled: %v; want a *storeerr.Error of kind %s", err, storeerr.KeyDisabled)
		}
		if !strings.Contains(se.Fix, "aws kms enable-key") || !strings.Contains(err.Error(), "disabled") {
			t.Fatalf("error does not give the cause and the fix: %v", err)
		}
		failed++
	}
	// Reads are served from memory, pending changes included.
	for k, v := range want {
		got, err := s.ReadState(ctx, k)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("read %s while the key is disabled: %v", k, err)
		}
	}
	// Nothing pending reached SSM, and what was committed is intact: a
	// second reader (which needs the key too) cannot open now.
	if _, err := store.Open(ctx, loc, store.WithAWSConfig(e.cfg)); storeerr.KindOf(err) != storeerr.KeyDisabled {
		t.Fatalf("open with the key disabled: %v, want kind %s", err, storeerr.KeyDisabled)
	}

	if _, err := e.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(e.keyID)}); err != nil {
		t.Fatal(err)
	}
	if err := write("after", []byte("x")); err != nil {
		t.Fatalf("first write after enabling the key: %v", err)
	}
	r := e.open(t, loc)
	defer r.Close()
	keys, _ := r.Keys(ctx)
	if len(keys) != len(want) {
		t.Fatalf("after re-enabling, SSM holds %d keys, want %d (%v)", len(keys), len(want), keys)
	}
	for k, v := range want {
		if got, err := r.ReadState(ctx, k); err != nil || !bytes.Equal(got, v) {
			t.Fatalf("key %s after re-enabling: %v", k, err)
		}
	}
	t.Logf("key disabled: %d writes failed with %q; after enable-key one commit persisted all %d keys", failed, storeerr.KeyDisabled, len(want))
}

// TestKeyPendingDeletion: the error (at Open, and on a write of an open
// store) and doctor give the deletion date and the cancel command.
func TestKeyPendingDeletion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	loc := e.locator("/ts/keys/deletion", "kmsKey="+e.alias)
	s := e.open(t, loc)
	defer s.Close()
	if err := s.WriteState(ctx, "k", randomBytes(100)); err != nil {
		t.Fatal(err)
	}
	out, err := e.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(e.keyID), PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	date := out.DeletionDate.UTC().Format("2006-01-02")

	check := func(what string, err error, wantDate bool) {
		t.Helper()
		var se *storeerr.Error
		if !errors.As(err, &se) || se.Kind != storeerr.KeyPendingDeletion {
			t.Fatalf("%s: %v; want kind %s", what, err, storeerr.KeyPendingDeletion)
		}
		if !strings.Contains(se.Fix, "aws kms cancel-key-deletion") {
			t.Fatalf("%s: fix does not give the cancel command: %v", what, err)
		}
		if wantDate && !strings.Contains(err.Error(), date) {
			t.Fatalf("%s: error does not give the deletion date %s: %v", what, date, err)
		}
	}
	werr := s.WriteState(ctx, "k", randomBytes(100))
	check("write", werr, true)
	_, oerr := store.Open(ctx, loc, store.WithAWSConfig(e.cfg))
	check("open", oerr, true)

	rep := doctor.Run(ctx, loc, doctor.Options{AWSConfig: &e.cfg, Timeout: time.Minute})
	var found bool
	for _, c := range rep.Checks {
		if c.Status == doctor.Fail && strings.Contains(c.Detail+c.Fix, date) && strings.Contains(c.Fix, "cancel-key-deletion") {
			found = true
		}
	}
	if !found {
		t.Fatalf("doctor does not report the deletion date %s and the cancel command: %+v", date, rep.Checks)
	}
	t.Logf("pending deletion: a write, open and doctor give %s and cancel-key-deletion", date)
}

// TestAliasRepointed: after the alias moves to another key, the parts
// written under the old key still read, and the next write puts every
// parameter under the new key.
func TestAliasRepointed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const name = "/ts/keys/alias"
	loc := e.locator(name, "kmsKey="+e.alias)
	s := e.open(t, loc)
	v1 := randomBytes(20000) // multi-part
	if err := s.WriteState(ctx, "k", v1); err != nil {
		t.Fatal(err)
	}
	s.Close()

	keyB, keyBARN := e.createKey(t, "reliability key B")
	if _, err := e.kms.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(e.alias), TargetKeyId: aws.String(keyB)}); err != nil {
		t.Fatal(err)
	}
	// Old parts (under key A) still read.
	s = e.open(t, loc)
	defer s.Close()
	if got, err := s.ReadState(ctx, "k"); err != nil || !bytes.Equal(got, v1) {
		t.Fatalf("read after the alias moved: %v", err)
	}
	v2 := randomBytes(20000)
	if err := s.WriteState(ctx, "k", v2); err != nil {
		t.Fatal(err)
	}
	// Every parameter is now under key B: SSM's metadata names the alias
	// it was written with, so prove it by disabling key A and reading.
	params := e.params(t, name)
	for _, p := range params {
		if k := aws.ToString(p.KeyId); k != e.alias && k != keyB && k != keyBARN {
			t.Errorf("%s is under %s, want the alias or key B", aws.ToString(p.Name), k)
		}
	}
	if _, err := e.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(e.keyID)}); err != nil {
		t.Fatal(err)
	}
	r := e.open(t, loc)
	defer r.Close()
	if got, err := r.ReadState(ctx, "k"); err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("read with the old key disabled: %v; a parameter is still under the old key", err)
	}
	t.Logf("alias repointed: %d parameters after the next write, all readable with the old key disabled (KeyId as SSM reports it: %s)", len(params), aws.ToString(params[0].KeyId))
}
