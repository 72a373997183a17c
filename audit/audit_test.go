package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/locator"
)

// TestLookupPagesAndFilters: more events than one LookupEvents page (50)
// are all found, and calls on a parameter whose name merely starts with
// the state's (/ts/node10 for /ts/node1) are not the state's.
func TestLookupPagesAndFilters(t *testing.T) {
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	c := ssm.NewFromConfig(cfg)
	for _, n := range []string{"/ts/node1", "/ts/node10", "/ts/node1.part-3-0"} {
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("v"), Type: ssmtypes.ParameterTypeSecureString, KeyId: key.KeyMetadata.Arn}); err != nil {
			t.Fatal(err)
		}
	}
	const reads = 60
	for range reads {
		for _, n := range []string{"/ts/node1", "/ts/node10"} {
			if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(n), WithDecryption: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ts/node1.part-3-0"), WithDecryption: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	l, err := locator.Parse("arn:aws:ssm:us-east-1:" + srv.Account() + ":parameter/ts/node1")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Lookup(ctx, l, Options{AWSConfig: &cfg, Since: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var decrypts, partDecrypts, getParams, writes int
	for i, e := range rep.Entries {
		if strings.Contains(e.Parameter, "node10") {
			t.Fatalf("an event of /ts/node10: %+v", e)
		}
		if i > 0 && e.Time.Before(rep.Entries[i-1].Time) {
			t.Fatalf("events not oldest first at %d", i)
		}
		switch {
		case e.Kind == KindDecrypt && e.Parameter == l.ParameterARN():
			decrypts++
			if !e.ViaSSM || e.Principal == "" || e.Key != aws.ToString(key.KeyMetadata.Arn) {
				t.Errorf("decrypt entry %+v", e)
			}
		case e.Kind == KindDecrypt && strings.HasSuffix(e.Parameter, ".part-3-0"):
			partDecrypts++
		case e.Kind == KindRead:
			getParams++
		case e.Kind == KindWrite:
			writes++
		}
	}
	if decrypts != reads || partDecrypts != 1 || getParams != reads || writes != 1 {
		t.Errorf("found %d decrypts (want %d), %d of the part (want 1), %d reads (want %d), %d writes (want 1)", decrypts, reads, partDecrypts, getParams, reads, writes)
	}
	if len(rep.Principals) != 1 || rep.Principals[0].Decrypts != reads+1 {
		t.Errorf("summary %+v", rep.Principals)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "kms:Decrypt (via SSM)  /ts/node1\n") != reads {
		t.Errorf("text output:\n%s", b.String())
	}
	// A range before anything happened is empty.
	rep, err = Lookup(ctx, l, Options{AWSConfig: &cfg, Since: time.Minute, Now: time.Now().Add(-time.Hour)})
	if err != nil || len(rep.Entries) != 0 {
		t.Errorf("an hour ago: %d events, %v", len(rep.Entries), err)
	}
}

// TestDryRunIsNotAFailure: KMS DryRun permission checks (doctor's probes)
// come back from AWS as DryRunOperationException; audit reports them as
// passed dry runs, not as failed calls, and the principal's summary counts
// no failure.
func TestDryRunIsNotAFailure(t *testing.T) {
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := locator.Parse("arn:aws:ssm:us-east-1:" + srv.Account() + ":parameter/ts/node1")
	if err != nil {
		t.Fatal(err)
	}
	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	encCtx := map[string]string{"PARAMETER_ARN": l.ParameterARN()}
	_, err = k.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.Arn, Plaintext: []byte("x"), EncryptionContext: encCtx, DryRun: aws.Bool(true)})
	if err == nil || !strings.Contains(err.Error(), "DryRunOperation") {
		t.Fatalf("DryRun Encrypt: %v, want DryRunOperationException", err)
	}
	rep, err := Lookup(ctx, l, Options{AWSConfig: &cfg, Since: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var dry int
	for _, e := range rep.Entries {
		if e.DryRun {
			dry++
		}
	}
	if dry != 1 {
		t.Fatalf("%d dry-run entries, want 1: %+v", dry, rep.Entries)
	}
	for _, p := range rep.Principals {
		if p.Failed != 0 {
			t.Errorf("summary counts a dry run as a failure: %+v", p)
		}
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "FAILED") || !strings.Contains(b.String(), "dry-run") {
		t.Errorf("text output:\n%s", b.String())
	}
}
