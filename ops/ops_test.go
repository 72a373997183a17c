package ops_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/ops"
	"github.com/ssmstate/ssmstate/store"
	_ "github.com/ssmstate/ssmstate/store/ssmparam"
)

func setup(t *testing.T) (*emulator.Server, ops.Options, context.Context) {
	t.Helper()
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig(emulator.DefaultRegion)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return srv, ops.Options{AWSConfig: &cfg, Timeout: time.Minute}, ctx
}

func createKey(t *testing.T, ctx context.Context, srv *emulator.Server, region, alias string, multiRegion bool) string {
	t.Helper()
	kc := kms.NewFromConfig(srv.AWSConfig(region))
	k, err := kc.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(multiRegion)})
	if err != nil {
		t.Fatal(err)
	}
	if alias != "" {
		if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
	}
	return aws.ToString(k.KeyMetadata.Arn)
}

// bigState is large enough to need several parts.
func bigState(t *testing.T) map[string][]byte {
	st := map[string][]byte{"_machinekey": []byte("privkey:0123")}
	for i := range 6 {
		st[fmt.Sprintf("profile-%d", i)] = []byte(rand.Text() + strings.Repeat("x", 10) + rand.Text())
		b := make([]byte, 3000)
		rand.Read(b)
		st[fmt.Sprintf("blob-%d", i)] = b
	}
	return st
}

func TestRotateMultiPartThenOldKeyNotNeeded(t *testing.T) {
	srv, o, ctx := setup(t)
	oldARN := createKey(t, ctx, srv, "us-east-1", "alias/old", false)
	createKey(t, ctx, srv, "us-east-1", "alias/new", false)
	loc := "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1?kmsKey=alias/old"
	want := bigState(t)
	if err := ops.WriteAll(ctx, loc, want, o); err != nil {
		t.Fatal(err)
	}
	before, err := ops.Show(ctx, loc, o)
	if err != nil {
		t.Fatal(err)
	}
	if before.Format != "multi-part" || len(before.Parameters) < 3 {
		t.Fatalf("want a multi-part state with several parts, got %s with %d parameters", before.Format, len(before.Parameters))
	}
	res, err := ops.Rotate(ctx, loc, "new", o)
	if err != nil {
		t.Fatal(err)
	}
	wantLoc := "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1?kmsKey=alias/new"
	if res.NewLocator != wantLoc || !res.Verified || len(res.Parameters) != len(before.Parameters) || len(res.Stale) != 0 {
		t.Fatalf("rotate result %+v", res)
	}
	if _, err := kms.NewFromConfig(*o.AWSConfig).DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(oldARN)}); err != nil {
		t.Fatal(err)
	}
	if err := ops.Verify(ctx, wantLoc, want, o); err != nil {
		t.Fatalf("after disabling the old key: %v", err)
	}
	after, err := ops.Show(ctx, wantLoc, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range after.Parameters {
		if p.KeyID != "alias/new" {
			t.Errorf("parameter %s under %s", p.Name, p.KeyID)
		}
	}
	// The old locator no longer opens: its key is disabled.
	if _, err := ops.ReadAll(ctx, loc, o); err == nil {
		t.Fatal("the old locator still opens with its key disabled")
	}
}

func TestReplicateToMultiRegionReplica(t *testing.T) {
	srv, o, ctx := setup(t)
	arn := createKey(t, ctx, srv, "us-east-1", "alias/node", true)
	if _, err := kms.NewFromConfig(*o.AWSConfig).ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(arn), ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	loc := "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1?kmsKey=alias/node"
	want := bigState(t)
	if err := ops.WriteAll(ctx, loc, want, o); err != nil {
		t.Fatal(err)
	}
	res, err := ops.Replicate(ctx, loc, "eu-west-1", "", o)
	if err != nil {
		t.Fatal(err)
	}
	id := arn[strings.LastIndex(arn, "/")+1:]
	wantLoc := "arn:aws:ssm:eu-west-1:000000000000:parameter/ts/node1?kmsKey=arn:aws:kms:eu-west-1:000000000000:key/" + id
	if res.NewLocator != wantLoc || !res.MultiRegionReplica || !res.Verified {
		t.Fatalf("replicate result %+v", res)
	}
	if err := ops.Verify(ctx, wantLoc, want, o); err != nil {
		t.Fatal(err)
	}
	// A second replication refuses to overwrite, unless forced.
	if _, err := ops.Replicate(ctx, loc, "eu-west-1", "", o); !errors.Is(err, ops.ErrNotEmpty) {
		t.Fatalf("second replicate: %v, want ErrNotEmpty", err)
	}
	o.Force = true
	if _, err := ops.Replicate(ctx, loc, "eu-west-1", "", o); err != nil {
		t.Fatal(err)
	}
}

func TestReplicateSingleRegionKeyNeedsKMSKey(t *testing.T) {
	srv, o, ctx := setup(t)
	createKey(t, ctx, srv, "us-east-1", "alias/node", false)
	loc := "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1?kmsKey=alias/node"
	if err := ops.WriteAll(ctx, loc, map[string][]byte{"k": []byte("v")}, o); err != nil {
		t.Fatal(err)
	}
	_, err := ops.Replicate(ctx, loc, "eu-west-1", "", o)
	var oe *ops.Error
	if !errors.As(err, &oe) || !strings.Contains(oe.Cause, "single-Region") {
		t.Fatalf("got %v", err)
	}
	createKey(t, ctx, srv, "eu-west-1", "alias/node-eu", false)
	res, err := ops.Replicate(ctx, loc, "eu-west-1", "alias/node-eu", o)
	if err != nil {
		t.Fatal(err)
	}
	if res.NewLocator != "arn:aws:ssm:eu-west-1:000000000000:parameter/ts/node1?kmsKey=alias/node-eu" {
		t.Fatalf("new locator %s", res.NewLocator)
	}
}

func TestEnableAutoRotation(t *testing.T) {
	srv, o, ctx := setup(t)
	createKey(t, ctx, srv, "us-east-1", "alias/node", false)
	loc := "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1?kmsKey=alias/node"
	res, err := ops.EnableAutoRotation(ctx, loc, 180, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rotation.Enabled == nil || !*res.Rotation.Enabled || res.Rotation.PeriodDays != 180 || res.Rotation.NextRotation == nil {
		t.Fatalf("rotation %+v", res.Rotation)
	}
	info, err := ops.Show(ctx, loc, o)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "absent" || info.Key.Rotation.PeriodDays != 180 || len(info.Key.Aliases) != 1 {
		t.Fatalf("show %+v key %+v", info, info.Key)
	}
}

func TestMigrateFileMemFileRoundTrip(t *testing.T) {
	_, o, ctx := setup(t)
	dir := t.TempDir()
	want := bigState(t)
	a, b := dir+"/a.state", dir+"/b.state"
	if err := ops.WriteAll(ctx, a, want, o); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Migrate(ctx, a, "mem:x", o); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Migrate(ctx, "mem:x", b, o); err != nil {
		t.Fatal(err)
	}
	var ea, eb bytes.Buffer
	if _, err := ops.Export(ctx, a, &ea, o); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Export(ctx, b, &eb, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ea.Bytes(), eb.Bytes()) {
		t.Fatal("exports differ")
	}
	if err := ops.Remove(ctx, b, "_machinekey", o); err != nil {
		t.Fatal(err)
	}
	if err := ops.Remove(ctx, b, "_machinekey", o); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("second remove: %v", err)
	}
}

// A state under SSM's aws/ssm key (a locator without kmsKey, as many
// awsstore users have) moves to a customer key.
func TestRotateFromDefaultKey(t *testing.T) {
	srv, o, ctx := setup(t)
	createKey(t, ctx, srv, "us-east-1", "alias/new", false)
	loc := "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1"
	want := map[string][]byte{"_machinekey": []byte("privkey:0123")}
	if err := ops.WriteAll(ctx, loc, want, o); err != nil {
		t.Fatal(err)
	}
	before, err := ops.Show(ctx, loc, o)
	if err != nil {
		t.Fatal(err)
	}
	if before.Format != "single" || before.Key.Manager != "AWS" || len(before.Warnings) == 0 {
		t.Fatalf("before: format %s, key %+v, warnings %q", before.Format, before.Key, before.Warnings)
	}
	res, err := ops.Rotate(ctx, loc, "alias/new", o)
	if err != nil {
		t.Fatal(err)
	}
	if res.NewLocator != loc+"?kmsKey=alias/new" || len(res.Parameters) != 1 {
		t.Fatalf("rotate: %+v", res)
	}
	after, err := ops.Show(ctx, res.NewLocator, o)
	if err != nil {
		t.Fatal(err)
	}
	if after.Parameters[0].KeyID != "alias/new" || after.Key.Manager != "CUSTOMER" {
		t.Fatalf("after: %+v key %+v", after.Parameters, after.Key)
	}
	if err := ops.Verify(ctx, res.NewLocator, want, o); err != nil {
		t.Fatal(err)
	}
}

// Rotating an absent state writes nothing and returns the new locator.
func TestRotateAbsentState(t *testing.T) {
	srv, o, ctx := setup(t)
	createKey(t, ctx, srv, "us-east-1", "alias/new", false)
	res, err := ops.Rotate(ctx, "arn:aws:ssm:us-east-1:000000000000:parameter/none", "alias/new", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Parameters) != 0 || !res.Verified {
		t.Fatalf("%+v", res)
	}
	info, err := ops.Show(ctx, res.NewLocator, o)
	if err != nil || info.Format != "absent" {
		t.Fatalf("show: %v %+v", err, info)
	}
}
