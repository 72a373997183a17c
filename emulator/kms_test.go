package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/emulator"
)

// Conformance tests of the local endpoint's KMS against the shapes, codes
// and messages AWS sends (../shared/aws-recordings/localstack/kms.snapshot.json
// and botocore's KMS model), driven by aws-sdk-go-v2 over HTTP.

const kmsAccount = emulator.DefaultAccount

func kmsTestClient(t *testing.T, srv *emulator.Server, region string) *kms.Client {
	t.Helper()
	cfg := srv.AWSConfig(region)
	cfg.Retryer = emulator.ClosedConnRetryer // errors as the endpoint sends them
	return kms.NewFromConfig(cfg)
}

func kmsTestCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wantAPIError checks err's code and, if msg is not "-", its exact message.
func kmsWantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code = %q (%v), want %q", ae.ErrorCode(), err, code)
	}
	if msg != "-" && ae.ErrorMessage() != msg {
		t.Fatalf("%s message = %q, want %q", code, ae.ErrorMessage(), msg)
	}
}

func kmsKeyARN(region, id string) string {
	return "arn:aws:kms:" + region + ":" + kmsAccount + ":key/" + id
}

func kmsCreate(t *testing.T, c *kms.Client, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kms.CreateKeyInput{}
	}
	out, err := c.CreateKey(kmsTestCtx(t), in)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

func TestKMSCreateAndDescribeKey(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	before := time.Now().Add(-time.Second)
	md := kmsCreate(t, c, &kms.CreateKeyInput{
		Description: aws.String("test key 123"),
		Tags:        []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("net")}},
	})
	if !kmsUUIDLike(*md.KeyId) {
		t.Errorf("KeyId = %q, want a UUID", *md.KeyId)
	}
	// Shape: kms.snapshot.json test_create_key.
	if *md.Arn != kmsKeyARN("us-east-1", *md.KeyId) || *md.AWSAccountId != kmsAccount ||
		!md.Enabled || *md.Description != "test key 123" || md.KeyUsage != types.KeyUsageTypeEncryptDecrypt ||
		md.KeyState != types.KeyStateEnabled || md.Origin != types.OriginTypeAwsKms ||
		md.KeyManager != types.KeyManagerTypeCustomer || md.KeySpec != types.KeySpecSymmetricDefault ||
		md.CustomerMasterKeySpec != types.CustomerMasterKeySpecSymmetricDefault ||
		len(md.EncryptionAlgorithms) != 1 || md.EncryptionAlgorithms[0] != types.EncryptionAlgorithmSpecSymmetricDefault ||
		md.MultiRegion == nil || *md.MultiRegion || md.MultiRegionConfiguration != nil || md.DeletionDate != nil ||
		md.CurrentKeyMaterialId == nil {
		t.Errorf("CreateKey metadata = %+v", md)
	}
	if md.CreationDate == nil || md.CreationDate.Before(before) || md.CreationDate.After(time.Now().Add(time.Second)) {
		t.Errorf("CreationDate = %v, want about now", md.CreationDate)
	}

	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/describe-me"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	for _, ref := range []string{*md.KeyId, *md.Arn, "alias/describe-me", "arn:aws:kms:us-east-1:" + kmsAccount + ":alias/describe-me"} {
		out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		if err != nil {
			t.Fatalf("DescribeKey(%s): %v", ref, err)
		}
		if *out.KeyMetadata.KeyId != *md.KeyId || *out.KeyMetadata.Description != "test key 123" {
			t.Errorf("DescribeKey(%s) = %+v", ref, out.KeyMetadata)
		}
		if !out.KeyMetadata.CreationDate.Equal(*md.CreationDate) {
			t.Errorf("DescribeKey CreationDate = %v, want %v", out.KeyMetadata.CreationDate, md.CreationDate)
		}
	}
}

func kmsUUIDLike(s string) bool {
	return len(s) == 36 && strings.Count(s, "-") == 4
}

func TestKMSKeyPolicy(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	md := kmsCreate(t, c, nil)
	out, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId})
	if err != nil {
		t.Fatalf("GetKeyPolicy: %v", err)
	}
	// AWS's default key policy: the account root may do kms:*.
	for _, want := range []string{`"Sid" : "Enable IAM User Permissions"`, `"AWS" : "arn:aws:iam::` + kmsAccount + `:root"`, `"Action" : "kms:*"`} {
		if !strings.Contains(*out.Policy, want) {
			t.Errorf("default policy lacks %s:\n%s", want, *out.Policy)
		}
	}
	if *out.PolicyName != "default" {
		t.Errorf("PolicyName = %q, want default", *out.PolicyName)
	}
	custom := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("default"), Policy: aws.String(custom)}); err != nil {
		t.Fatalf("PutKeyPolicy: %v", err)
	}
	out, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId})
	if err != nil || *out.Policy != custom {
		t.Fatalf("GetKeyPolicy after put = %v, %v; want the policy put", out, err)
	}
	_, err = c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String("{not json")})
	var malformed *types.MalformedPolicyDocumentException
	if !errors.As(err, &malformed) {
		t.Errorf("PutKeyPolicy(bad JSON) err = %v, want MalformedPolicyDocumentException", err)
	}
	_, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("other")})
	kmsWantErr(t, err, "NotFoundException", "No such policy exists")

	withPolicy := kmsCreate(t, c, &kms.CreateKeyInput{Policy: aws.String(custom)})
	out, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: withPolicy.KeyId})
	if err != nil || *out.Policy != custom {
		t.Fatalf("GetKeyPolicy of key created with a policy = %v, %v", out, err)
	}
}

func TestKMSNotFound(t *testing.T) {
	srv := emulator.NewTestServer(t)
	east := kmsTestClient(t, srv, "us-east-1")
	west := kmsTestClient(t, srv, "us-west-2")
	ctx := kmsTestCtx(t)
	var nf *types.NotFoundException

	const missing = "11111111-2222-4333-8444-555555555555"
	_, err := east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(missing)})
	if !errors.As(err, &nf) {
		t.Fatalf("missing key err = %v, want *types.NotFoundException", err)
	}
	// Source: kms.snapshot.json test_get_key_does_not_exist.
	kmsWantErr(t, err, "NotFoundException", "Key '"+kmsKeyARN("us-east-1", missing)+"' does not exist")
	_, err = east.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(kmsKeyARN("us-east-1", missing)), Plaintext: []byte("x")})
	kmsWantErr(t, err, "NotFoundException", "Key '"+kmsKeyARN("us-east-1", missing)+"' does not exist")

	// Source: kms.snapshot.json test_get_key_invalid_uuid.
	for _, bad := range []string{"fake-key-id", "134f2428cec14b25a1ae9048164dba47", "mrk-fake-key-id"} {
		_, err = east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(bad)})
		kmsWantErr(t, err, "NotFoundException", "Invalid keyId '"+bad+"'")
	}

	// An alias that does not exist is named by its ARN (real AWS, as
	// reported in cloudposse/docs#152).
	_, err = east.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/nope"), Plaintext: []byte("x")})
	if !errors.As(err, &nf) {
		t.Fatalf("missing alias err = %v, want *types.NotFoundException", err)
	}
	kmsWantErr(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:"+kmsAccount+":alias/nope is not found.")
	_, err = east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:us-east-1:" + kmsAccount + ":alias/nope")})
	kmsWantErr(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:"+kmsAccount+":alias/nope is not found.")

	// Each Region has its own keys. Source: kms.snapshot.json
	// test_get_key_in_different_region.
	md := kmsCreate(t, west, nil)
	if _, err := west.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatalf("DescribeKey in the key's Region: %v", err)
	}
	_, err = east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	kmsWantErr(t, err, "NotFoundException", "Key '"+kmsKeyARN("us-east-1", *md.KeyId)+"' does not exist")
	_, err = east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.Arn})
	kmsWantErr(t, err, "NotFoundException", "Invalid arn us-west-2")
	// Aliases are per Region too.
	if _, err := west.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/west-only"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/west-only")})
	kmsWantErr(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:"+kmsAccount+":alias/west-only is not found.")
	list, err := east.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list.Keys {
		if *k.KeyId == *md.KeyId {
			t.Errorf("ListKeys in us-east-1 lists the us-west-2 key %s", *md.KeyId)
		}
	}
}

func TestKMSEncryptDecrypt(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	md := kmsCreate(t, c, nil)
	other := kmsCreate(t, c, nil)
	encCtx := map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1"}
	plaintext := []byte("tailscale node state")

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: plaintext, EncryptionContext: encCtx})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if *enc.KeyId != *md.Arn || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("Encrypt = KeyId %s alg %s, want %s SYMMETRIC_DEFAULT", *enc.KeyId, enc.EncryptionAlgorithm, *md.Arn)
	}
	if bytes.Contains(enc.CiphertextBlob, plaintext) {
		t.Fatal("ciphertext contains the plaintext")
	}
	enc2, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: plaintext, EncryptionContext: encCtx})
	if err != nil || bytes.Equal(enc.CiphertextBlob, enc2.CiphertextBlob) {
		t.Fatalf("second Encrypt = %v; ciphertexts of the same plaintext must differ", err)
	}

	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(dec.Plaintext, plaintext) || *dec.KeyId != *md.Arn || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("Decrypt = %q under %s", dec.Plaintext, *dec.KeyId)
	}
	if dec.KeyMaterialId == nil || *dec.KeyMaterialId != *md.CurrentKeyMaterialId {
		t.Errorf("Decrypt KeyMaterialId = %v, want %s", dec.KeyMaterialId, *md.CurrentKeyMaterialId)
	}
	// Naming the key, by alias, is allowed.
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/enc"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	if dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx, KeyId: aws.String("alias/enc")}); err != nil || !bytes.Equal(dec.Plaintext, plaintext) {
		t.Fatalf("Decrypt naming the key by alias = %v", err)
	}

	// Source: kms.snapshot.json test_encrypt_decrypt_encryption_context:
	// InvalidCiphertextException with no message.
	var ic *types.InvalidCiphertextException
	for name, in := range map[string]*kms.DecryptInput{
		"no context":        {CiphertextBlob: enc.CiphertextBlob},
		"different context": {CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:000000000000:parameter/other"}},
		"extra context":     {CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"PARAMETER_ARN": encCtx["PARAMETER_ARN"], "x": "y"}},
		"garbage":           {CiphertextBlob: []byte("not a ciphertext at all, really not")},
	} {
		_, err := c.Decrypt(ctx, in)
		if !errors.As(err, &ic) {
			t.Errorf("Decrypt with %s: err = %v, want *types.InvalidCiphertextException", name, err)
			continue
		}
		kmsWantErr(t, err, "InvalidCiphertextException", "")
	}
	// A change of any byte is detected.
	for i := 0; i < len(enc.CiphertextBlob); i++ {
		tampered := append([]byte{}, enc.CiphertextBlob...)
		tampered[i] ^= 0x01
		_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: encCtx})
		if err == nil {
			t.Fatalf("Decrypt of ciphertext with byte %d changed succeeded", i)
		}
		if !errors.As(err, &ic) {
			t.Fatalf("Decrypt of ciphertext with byte %d changed: err = %v, want InvalidCiphertextException", i, err)
		}
	}
	// Naming another key: IncorrectKeyException. Source: kms.snapshot.json
	// test_re_encrypt_incorrect_source_key.
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx, KeyId: other.KeyId})
	var ik *types.IncorrectKeyException
	if !errors.As(err, &ik) {
		t.Fatalf("Decrypt naming another key: err = %v, want *types.IncorrectKeyException", err)
	}
	kmsWantErr(t, err, "IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")

	// Plaintext limits. Source: kms.snapshot.json test_plaintext_size_for_encrypt.
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: make([]byte, 4097)})
	kmsWantErr(t, err, "ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: make([]byte, 4096)}); err != nil {
		t.Fatalf("Encrypt of 4096 bytes: %v", err)
	}
}

func TestKMSDataKeys(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	md := kmsCreate(t, c, nil)
	encCtx := map[string]string{"purpose": "envelope"}

	for spec, size := range map[types.DataKeySpec]int{types.DataKeySpecAes256: 32, types.DataKeySpecAes128: 16} {
		dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: spec, EncryptionContext: encCtx})
		if err != nil {
			t.Fatalf("GenerateDataKey %s: %v", spec, err)
		}
		if len(dk.Plaintext) != size || *dk.KeyId != *md.Arn || *dk.KeyMaterialId != *md.CurrentKeyMaterialId {
			t.Errorf("GenerateDataKey %s = %d bytes under %s", spec, len(dk.Plaintext), *dk.KeyId)
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: encCtx})
		if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
			t.Fatalf("Decrypt of the data key = %v; want the plaintext data key", err)
		}
		// Source: kms.snapshot.json test_encryption_context_generate_data_key.
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
		kmsWantErr(t, err, "InvalidCiphertextException", "")
	}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, NumberOfBytes: aws.Int32(64)})
	if err != nil || len(dk.Plaintext) != 64 {
		t.Fatalf("GenerateDataKey 64 bytes = %v", err)
	}
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId})
	kmsWantErr(t, err, "ValidationException", "Please specify either number of bytes or key spec.")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, NumberOfBytes: aws.Int32(1025)})
	kmsWantErr(t, err, "ValidationException", "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024")

	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: encCtx})
	if err != nil || *wp.KeyId != *md.Arn {
		t.Fatalf("GenerateDataKeyWithoutPlaintext = %v", err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || len(dec.Plaintext) != 32 {
		t.Fatalf("Decrypt of GenerateDataKeyWithoutPlaintext blob = %v", err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
	kmsWantErr(t, err, "InvalidCiphertextException", "")
}

func TestKMSReEncrypt(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	a, b := kmsCreate(t, c, nil), kmsCreate(t, c, nil)
	ctxA, ctxB := map[string]string{"k": "a"}, map[string]string{"k": "b"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: a.KeyId, Plaintext: []byte("move me"), EncryptionContext: ctxA})
	if err != nil {
		t.Fatal(err)
	}
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ctxA,
		DestinationKeyId: b.KeyId, DestinationEncryptionContext: ctxB})
	if err != nil {
		t.Fatalf("ReEncrypt: %v", err)
	}
	// Shape: kms.snapshot.json test_re_encrypt.
	if *re.SourceKeyId != *a.Arn || *re.KeyId != *b.Arn || re.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault ||
		re.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("ReEncrypt = %+v", re)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: ctxB})
	if err != nil || string(dec.Plaintext) != "move me" || *dec.KeyId != *b.Arn {
		t.Fatalf("Decrypt of re-encrypted blob = %v", err)
	}
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ctxA, SourceKeyId: b.KeyId, DestinationKeyId: b.KeyId})
	kmsWantErr(t, err, "IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ctxB, DestinationKeyId: b.KeyId})
	kmsWantErr(t, err, "InvalidCiphertextException", "")
}

func TestKMSDryRun(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	md := kmsCreate(t, c, nil)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	// Source: kms.snapshot.json test_generate_data_key_pair_dry_run.
	const msg = "The request would have succeeded, but the DryRun option is set."
	calls := map[string]func(dry bool) error{
		"Encrypt": func(dry bool) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("p"), DryRun: aws.Bool(dry)})
			return err
		},
		"Decrypt": func(dry bool) error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, DryRun: aws.Bool(dry)})
			return err
		},
		"GenerateDataKey": func(dry bool) error {
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(dry)})
			return err
		},
		"GenerateDataKeyWithoutPlaintext": func(dry bool) error {
			_, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(dry)})
			return err
		},
		"ReEncrypt": func(dry bool) error {
			_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: md.KeyId, DryRun: aws.Bool(dry)})
			return err
		},
	}
	for name, call := range calls {
		err := call(true)
		var dr *types.DryRunOperationException
		if !errors.As(err, &dr) {
			t.Errorf("%s DryRun: err = %v, want *types.DryRunOperationException", name, err)
			continue
		}
		kmsWantErr(t, err, "DryRunOperationException", msg)
		if err := call(false); err != nil {
			t.Errorf("%s without DryRun: %v", name, err)
		}
	}
	// A dry run checks the key's state: it would not have succeeded.
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	for name, call := range calls {
		var de *types.DisabledException
		if err := call(true); !errors.As(err, &de) {
			t.Errorf("%s DryRun on a disabled key: err = %v, want *types.DisabledException", name, err)
		}
	}
}

func TestKMSKeyStates(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	md := kmsCreate(t, c, nil)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	if d.KeyMetadata.Enabled || d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Errorf("after DisableKey: Enabled %v state %s", d.KeyMetadata.Enabled, d.KeyMetadata.KeyState)
	}
	// Source: kms.snapshot.json test_rotate_key_on_demand_raises_error_given_key_is_disabled.
	var de *types.DisabledException
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("p")})
	if !errors.As(err, &de) {
		t.Fatalf("Encrypt with a disabled key: err = %v, want *types.DisabledException", err)
	}
	kmsWantErr(t, err, "DisabledException", *md.Arn+" is disabled.")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	kmsWantErr(t, err, "DisabledException", *md.Arn+" is disabled.")
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt after EnableKey: %v", err)
	}

	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(6)})
	kmsWantErr(t, err, "ValidationException", "1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7")
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(31)})
	kmsWantErr(t, err, "ValidationException", "-")

	sched, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId})
	if err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	wantDel := time.Now().Add(30 * 24 * time.Hour)
	if *sched.KeyId != *md.Arn || sched.KeyState != types.KeyStatePendingDeletion || *sched.PendingWindowInDays != 30 ||
		sched.DeletionDate.Sub(wantDel).Abs() > time.Minute {
		t.Errorf("ScheduleKeyDeletion = %s %s %d %v, want default 30 days", *sched.KeyId, sched.KeyState, *sched.PendingWindowInDays, sched.DeletionDate)
	}
	d, _ = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	if d.KeyMetadata.KeyState != types.KeyStatePendingDeletion || d.KeyMetadata.DeletionDate == nil ||
		!d.KeyMetadata.DeletionDate.Equal(*sched.DeletionDate) || *d.KeyMetadata.PendingDeletionWindowInDays != 30 || d.KeyMetadata.Enabled {
		t.Errorf("DescribeKey of a key pending deletion = %+v", d.KeyMetadata)
	}
	var is *types.KMSInvalidStateException
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("p")})
	if !errors.As(err, &is) {
		t.Fatalf("Encrypt with a key pending deletion: err = %v, want *types.KMSInvalidStateException", err)
	}
	kmsWantErr(t, err, "KMSInvalidStateException", *md.Arn+" is pending deletion.")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	kmsWantErr(t, err, "KMSInvalidStateException", *md.Arn+" is pending deletion.")
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId})
	kmsWantErr(t, err, "KMSInvalidStateException", *md.Arn+" is pending deletion.")

	cancel, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: md.KeyId})
	if err != nil || *cancel.KeyId != *md.Arn {
		t.Fatalf("CancelKeyDeletion = %v", err)
	}
	// A cancelled key is Disabled (KMS API reference, CancelKeyDeletion).
	d, _ = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled || d.KeyMetadata.DeletionDate != nil {
		t.Errorf("after CancelKeyDeletion: state %s deletion %v, want Disabled and none", d.KeyMetadata.KeyState, d.KeyMetadata.DeletionDate)
	}
	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: md.KeyId})
	kmsWantErr(t, err, "KMSInvalidStateException", *md.Arn+" is not pending deletion.")
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt after cancel and enable: %v", err)
	}
	sched, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)})
	if err != nil || *sched.PendingWindowInDays != 7 {
		t.Fatalf("ScheduleKeyDeletion 7 days = %v", err)
	}
}

func TestKMSAsymmetricMisuse(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048})
	// Source: kms.snapshot.json test_hmac_create_key_invalid_operations.
	kmsWantErr(t, err, "ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")

	encKey := kmsCreate(t, c, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	if encKey.KeySpec != types.KeySpecRsa2048 || len(encKey.EncryptionAlgorithms) != 2 || encKey.EncryptionAlgorithms[0] != types.EncryptionAlgorithmSpecRsaesOaepSha1 {
		t.Errorf("RSA key metadata = %+v", encKey)
	}
	// SYMMETRIC_DEFAULT (the default algorithm, and what SSM uses) does
	// not work with an RSA key.
	var iku *types.InvalidKeyUsageException
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: encKey.KeyId, Plaintext: []byte("p")})
	if !errors.As(err, &iku) {
		t.Fatalf("Encrypt SYMMETRIC_DEFAULT with RSA key: err = %v, want *types.InvalidKeyUsageException", err)
	}
	kmsWantErr(t, err, "InvalidKeyUsageException", "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: encKey.KeyId, KeySpec: types.DataKeySpecAes256})
	if !errors.As(err, &iku) {
		t.Fatalf("GenerateDataKey with RSA key: err = %v, want *types.InvalidKeyUsageException", err)
	}
	// With an RSA algorithm it encrypts for real.
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: encKey.KeyId, Plaintext: []byte("rsa secret"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil {
		t.Fatalf("Encrypt RSAES_OAEP_SHA_256: %v", err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: encKey.KeyId, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil || string(dec.Plaintext) != "rsa secret" {
		t.Fatalf("Decrypt RSAES_OAEP_SHA_256 = %v", err)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: encKey.KeyId, Plaintext: make([]byte, 191), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	// Source: kms.snapshot.json test_encrypt_validate_plaintext_size_per_key_type.
	kmsWantErr(t, err, "ValidationException", "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.")

	signKey := kmsCreate(t, c, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: signKey.KeyId, Plaintext: []byte("p")})
	// Source: kms.snapshot.json test_error_messaging_for_invalid_keys.
	kmsWantErr(t, err, "InvalidKeyUsageException", *signKey.Arn+" key usage is SIGN_VERIFY which is not valid for Encrypt.")

	// Rotation is for symmetric keys only. Source: kms.snapshot.json
	// test_rotate_key_on_demand_raises_error_given_non_symmetric_key.
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: encKey.KeyId})
	var uo *types.UnsupportedOperationException
	if !errors.As(err, &uo) {
		t.Fatalf("RotateKeyOnDemand of RSA key: err = %v, want *types.UnsupportedOperationException", err)
	}
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: encKey.KeyId})
	kmsWantErr(t, err, "UnsupportedOperationException", "-")
}

func TestKMSRotation(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	md := kmsCreate(t, c, nil)
	encCtx := map[string]string{"a": "b"}
	old, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("before rotation"), EncryptionContext: encCtx})
	if err != nil {
		t.Fatal(err)
	}

	st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if err != nil || st.KeyRotationEnabled || st.NextRotationDate != nil {
		t.Fatalf("GetKeyRotationStatus of a new key = %+v, %v; want disabled", st, err)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId}); err != nil {
		t.Fatalf("EnableKeyRotation: %v", err)
	}
	st, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if err != nil || !st.KeyRotationEnabled || *st.RotationPeriodInDays != 365 || st.NextRotationDate == nil ||
		st.NextRotationDate.Sub(time.Now().AddDate(0, 0, 365)).Abs() > time.Hour || *st.KeyId != *md.KeyId {
		t.Fatalf("GetKeyRotationStatus after enable = %+v, %v; want 365 days", st, err)
	}
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId, RotationPeriodInDays: aws.Int32(89)})
	kmsWantErr(t, err, "ValidationException", "1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90")
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId, RotationPeriodInDays: aws.Int32(2561)})
	kmsWantErr(t, err, "ValidationException", "-")
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId, RotationPeriodInDays: aws.Int32(180)}); err != nil {
		t.Fatal(err)
	}
	st, _ = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if *st.RotationPeriodInDays != 180 {
		t.Errorf("RotationPeriodInDays = %d, want 180", *st.RotationPeriodInDays)
	}

	rot, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: md.KeyId})
	if err != nil || *rot.KeyId != *md.Arn {
		t.Fatalf("RotateKeyOnDemand = %v", err)
	}
	d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	if *d.KeyMetadata.CurrentKeyMaterialId == *md.CurrentKeyMaterialId || *d.KeyMetadata.KeyId != *md.KeyId {
		t.Fatalf("after rotation CurrentKeyMaterialId = %s, unchanged", *d.KeyMetadata.CurrentKeyMaterialId)
	}
	// Old ciphertext still decrypts, with the old material.
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: old.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || string(dec.Plaintext) != "before rotation" || *dec.KeyMaterialId != *md.CurrentKeyMaterialId {
		t.Fatalf("Decrypt of pre-rotation ciphertext = %v", err)
	}
	fresh, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("after"), EncryptionContext: encCtx})
	if err != nil {
		t.Fatal(err)
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: fresh.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || *dec.KeyMaterialId != *d.KeyMetadata.CurrentKeyMaterialId {
		t.Fatalf("Decrypt of post-rotation ciphertext = %v, want new material", err)
	}
	// Source: kms.snapshot.json test_key_rotations_encryption_decryption.
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: fresh.CiphertextBlob})
	kmsWantErr(t, err, "InvalidCiphertextException", "")

	lr, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: md.KeyId})
	if err != nil || len(lr.Rotations) != 1 || lr.Rotations[0].RotationType != types.RotationTypeOnDemand ||
		*lr.Rotations[0].KeyMaterialId != *d.KeyMetadata.CurrentKeyMaterialId || lr.Rotations[0].RotationDate == nil || lr.Truncated {
		t.Fatalf("ListKeyRotations = %+v, %v", lr, err)
	}
	// On-demand rotation is limited to 25 per key. Source: kms.snapshot.json test_key_rotations_limits.
	for i := 2; i <= 25; i++ {
		if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: md.KeyId}); err != nil {
			t.Fatalf("RotateKeyOnDemand #%d: %v", i, err)
		}
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: md.KeyId})
	kmsWantErr(t, err, "LimitExceededException", "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: "+*md.Arn)
	// ListKeyRotations pages.
	var seen []string
	p := kms.NewListKeyRotationsPaginator(c, &kms.ListKeyRotationsInput{KeyId: md.KeyId, Limit: aws.Int32(10)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.Rotations {
			seen = append(seen, *r.KeyMaterialId)
		}
	}
	if len(seen) != 25 || pages != 3 {
		t.Errorf("ListKeyRotations pages: %d rotations in %d pages, want 25 in 3", len(seen), pages)
	}
	if dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: old.CiphertextBlob, EncryptionContext: encCtx}); err != nil || string(dec.Plaintext) != "before rotation" {
		t.Fatalf("Decrypt of the first ciphertext after 25 rotations = %v", err)
	}

	if _, err := c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	st, _ = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if st.KeyRotationEnabled {
		t.Error("rotation still enabled after DisableKeyRotation")
	}
	// A disabled key cannot be rotated. Source: kms.snapshot.json
	// test_rotate_key_on_demand_raises_error_given_key_is_disabled.
	k2 := kmsCreate(t, c, nil)
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k2.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: k2.KeyId})
	kmsWantErr(t, err, "DisabledException", *k2.Arn+" is disabled.")
}

func TestKMSMultiRegionReplicate(t *testing.T) {
	srv := emulator.NewTestServer(t)
	east := kmsTestClient(t, srv, "us-east-1")
	eu := kmsTestClient(t, srv, "eu-west-1")
	ctx := kmsTestCtx(t)
	md := kmsCreate(t, east, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Description: aws.String("test replicated key")})
	if !strings.HasPrefix(*md.KeyId, "mrk-") || len(*md.KeyId) != 36 || !*md.MultiRegion {
		t.Fatalf("multi-Region key id = %s", *md.KeyId)
	}
	// Shape: kms.snapshot.json test_create_multi_region_key.
	mrc := md.MultiRegionConfiguration
	if mrc == nil || mrc.MultiRegionKeyType != types.MultiRegionKeyTypePrimary || *mrc.PrimaryKey.Arn != *md.Arn ||
		*mrc.PrimaryKey.Region != "us-east-1" || len(mrc.ReplicaKeys) != 0 {
		t.Fatalf("MultiRegionConfiguration = %+v", mrc)
	}
	encCtx := map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:000000000000:parameter/x"}
	fromEast, err := east.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("from east"), EncryptionContext: encCtx})
	if err != nil {
		t.Fatal(err)
	}
	// Before replication the key does not exist in eu-west-1.
	_, err = eu.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	kmsWantErr(t, err, "NotFoundException", "Key '"+kmsKeyARN("eu-west-1", *md.KeyId)+"' does not exist")
	_, err = eu.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: fromEast.CiphertextBlob, EncryptionContext: encCtx})
	kmsWantErr(t, err, "InvalidCiphertextException", "")

	rep, err := east.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: md.KeyId, ReplicaRegion: aws.String("eu-west-1")})
	if err != nil {
		t.Fatalf("ReplicateKey: %v", err)
	}
	// Shape: kms.snapshot.json test_replicate_key "replicate-key".
	rmd := rep.ReplicaKeyMetadata
	if *rmd.KeyId != *md.KeyId || *rmd.Arn != kmsKeyARN("eu-west-1", *md.KeyId) || rmd.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypeReplica ||
		*rmd.MultiRegionConfiguration.PrimaryKey.Arn != *md.Arn || len(rmd.MultiRegionConfiguration.ReplicaKeys) != 1 ||
		*rmd.MultiRegionConfiguration.ReplicaKeys[0].Region != "eu-west-1" || rmd.KeyState != types.KeyStateCreating {
		t.Errorf("ReplicaKeyMetadata = %+v", rmd)
	}
	if !strings.Contains(*rep.ReplicaPolicy, "Enable IAM User Permissions") {
		t.Errorf("ReplicaPolicy = %s, want the default policy", *rep.ReplicaPolicy)
	}
	d, err := east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	if err != nil || len(d.KeyMetadata.MultiRegionConfiguration.ReplicaKeys) != 1 || *d.KeyMetadata.MultiRegionConfiguration.ReplicaKeys[0].Arn != *rmd.Arn {
		t.Fatalf("primary after replication = %+v, %v", d, err)
	}
	rd, err := eu.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	if err != nil || rd.KeyMetadata.KeyState != types.KeyStateEnabled || *rd.KeyMetadata.Arn != *rmd.Arn {
		t.Fatalf("DescribeKey of replica = %+v, %v", rd, err)
	}

	// The replica decrypts the primary's ciphertext and vice versa.
	dec, err := eu.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: fromEast.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || string(dec.Plaintext) != "from east" || *dec.KeyId != *rmd.Arn {
		t.Fatalf("replica Decrypt of primary's ciphertext = %v", err)
	}
	fromEU, err := eu.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("from eu")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := east.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: fromEU.CiphertextBlob}); err != nil || string(dec.Plaintext) != "from eu" {
		t.Fatalf("primary Decrypt of replica's ciphertext = %v", err)
	}
	// Rotation of the primary reaches the replica.
	if _, err := east.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	rotated, err := east.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("rotated")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := eu.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: rotated.CiphertextBlob}); err != nil || string(dec.Plaintext) != "rotated" {
		t.Fatalf("replica Decrypt after primary rotation = %v", err)
	}

	_, err = east.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: md.KeyId, ReplicaRegion: aws.String("eu-west-1")})
	var ae *types.AlreadyExistsException
	if !errors.As(err, &ae) {
		t.Errorf("second ReplicateKey to the same Region: err = %v, want AlreadyExistsException", err)
	}
	// Source: kms.snapshot.json test_replicate_replica_key_should_fail.
	_, err = eu.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: md.KeyId, ReplicaRegion: aws.String("ap-southeast-1")})
	kmsWantErr(t, err, "UnsupportedOperationException", *rmd.Arn+" is not a multi-region primary key.")
	single := kmsCreate(t, east, nil)
	_, err = east.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: single.KeyId, ReplicaRegion: aws.String("eu-west-1")})
	kmsWantErr(t, err, "UnsupportedOperationException", *single.Arn+" is not a multi-region primary key.")
}

func TestKMSAliases(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	a, b := kmsCreate(t, c, nil), kmsCreate(t, c, nil)

	_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("no-prefix"), TargetKeyId: a.KeyId})
	// Source: kms.snapshot.json test_create_alias.
	kmsWantErr(t, err, "ValidationException", `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: a.KeyId})
	// NotAuthorizedException is not in the KMS model, so the SDK reports
	// it as a generic API error with the code only.
	kmsWantErr(t, err, "NotAuthorizedException", "-")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/bad name!"), TargetKeyId: a.KeyId})
	kmsWantErr(t, err, "ValidationException", "-")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/x"), TargetKeyId: aws.String("11111111-2222-4333-8444-555555555555")})
	kmsWantErr(t, err, "NotFoundException", "Key '"+kmsKeyARN("us-east-1", "11111111-2222-4333-8444-555555555555")+"' does not exist")

	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: a.Arn}); err != nil {
		t.Fatalf("CreateAlias with key ARN: %v", err)
	}
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: b.KeyId})
	var exists *types.AlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("duplicate alias: err = %v, want AlreadyExistsException", err)
	}
	kmsWantErr(t, err, "AlreadyExistsException", "An alias with the name arn:aws:kms:us-east-1:"+kmsAccount+":alias/app already exists")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app2"), TargetKeyId: aws.String("alias/app")})
	kmsWantErr(t, err, "ValidationException", "Aliases must refer to keys. Not aliases")

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("p")})
	if err != nil || *enc.KeyId != *a.Arn {
		t.Fatalf("Encrypt via alias = %v", err)
	}
	if _, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: b.KeyId}); err != nil {
		t.Fatalf("UpdateAlias: %v", err)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	if err != nil || *d.KeyMetadata.KeyId != *b.KeyId {
		t.Fatalf("alias after UpdateAlias resolves to %v, %v; want %s", d, err, *b.KeyId)
	}
	// Ciphertext names its key, not the alias: it still decrypts under a.
	if dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || *dec.KeyId != *a.Arn {
		t.Fatalf("Decrypt after alias moved = %v", err)
	}
	_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/missing"), TargetKeyId: b.KeyId})
	kmsWantErr(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:"+kmsAccount+":alias/missing is not found.")

	for i := 0; i < 4; i++ {
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/page-%d", i)), TargetKeyId: a.KeyId}); err != nil {
			t.Fatal(err)
		}
	}
	la, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: a.KeyId})
	if err != nil || len(la.Aliases) != 4 {
		t.Fatalf("ListAliases for key a = %d aliases, %v; want 4", len(la.Aliases), err)
	}
	for _, al := range la.Aliases {
		if *al.TargetKeyId != *a.KeyId || *al.AliasArn != "arn:aws:kms:us-east-1:"+kmsAccount+":"+*al.AliasName || al.CreationDate == nil || al.LastUpdatedDate == nil {
			t.Errorf("alias entry = %+v", al)
		}
	}
	var names []string
	p := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Aliases) > 2 {
			t.Fatalf("page of %d aliases, limit 2", len(out.Aliases))
		}
		for _, al := range out.Aliases {
			names = append(names, *al.AliasName)
		}
	}
	if strings.Join(names, ",") != "alias/app,alias/page-0,alias/page-1,alias/page-2,alias/page-3" {
		t.Errorf("ListAliases pages = %v", names)
	}

	if _, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
		t.Fatalf("DeleteAlias: %v", err)
	}
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	kmsWantErr(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:"+kmsAccount+":alias/app is not found.")
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	kmsWantErr(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:"+kmsAccount+":alias/app is not found.")
}

func TestKMSListKeysPaging(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "ap-south-1")
	ctx := kmsTestCtx(t)
	want := map[string]bool{}
	for i := 0; i < 5; i++ {
		want[*kmsCreate(t, c, nil).KeyId] = true
	}
	first, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(2)})
	if err != nil || len(first.Keys) != 2 || !first.Truncated || first.NextMarker == nil {
		t.Fatalf("ListKeys limit 2 = %+v, %v", first, err)
	}
	got := map[string]bool{}
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{Limit: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, k := range out.Keys {
			if got[*k.KeyId] {
				t.Errorf("key %s listed twice", *k.KeyId)
			}
			got[*k.KeyId] = true
			if *k.KeyArn != kmsKeyARN("ap-south-1", *k.KeyId) {
				t.Errorf("KeyArn = %s", *k.KeyArn)
			}
		}
	}
	if len(got) != 5 || pages != 3 {
		t.Errorf("ListKeys pages: %d keys in %d pages, want 5 in 3", len(got), pages)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("key %s not listed", id)
		}
	}
	_, err = c.ListKeys(ctx, &kms.ListKeysInput{Marker: aws.String("!!!not a marker")})
	var im *types.InvalidMarkerException
	if !errors.As(err, &im) {
		t.Errorf("ListKeys with a bad marker: err = %v, want InvalidMarkerException", err)
	}
}

func TestKMSManagedSSMKey(t *testing.T) {
	srv := emulator.NewTestServer(t)
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	// AWS creates an AWS managed key when its alias is first used.
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ssm")})
	if err != nil {
		t.Fatalf("DescribeKey alias/aws/ssm: %v", err)
	}
	md := d.KeyMetadata
	if md.KeyManager != types.KeyManagerTypeAws || *md.Description != "Default key that protects my parameters when no other key is defined" ||
		md.KeySpec != types.KeySpecSymmetricDefault || md.KeyState != types.KeyStateEnabled {
		t.Errorf("alias/aws/ssm key = %+v", md)
	}
	again, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ssm")})
	if err != nil || *again.KeyMetadata.KeyId != *md.KeyId {
		t.Fatalf("second DescribeKey alias/aws/ssm = %v; want the same key", err)
	}
	la, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: md.KeyId})
	if err != nil || len(la.Aliases) != 1 || *la.Aliases[0].AliasName != "alias/aws/ssm" {
		t.Fatalf("ListAliases of the SSM key = %+v, %v", la, err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/aws/ssm"), Plaintext: []byte("p")})
	if err != nil || *enc.KeyId != *md.Arn {
		t.Fatalf("Encrypt under alias/aws/ssm = %v", err)
	}
	pol, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId})
	if err != nil || !strings.Contains(*pol.Policy, `"kms:ViaService" : "ssm.us-east-1.amazonaws.com"`) {
		t.Fatalf("AWS managed key policy = %v, %v; want use only via SSM", pol, err)
	}
	// AWS managed keys cannot be deleted or disabled.
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId})
	kmsWantErr(t, err, "UnsupportedOperationException", "-")
	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId})
	kmsWantErr(t, err, "UnsupportedOperationException", "-")
	// Another Region gets its own.
	other, err := kmsTestClient(t, srv, "eu-central-1").DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ssm")})
	if err != nil || *other.KeyMetadata.KeyId == *md.KeyId {
		t.Fatalf("alias/aws/ssm in another Region = %v; want a key of its own", err)
	}
}

// TestKMSDataDirHoldsNoPlaintextAndSurvivesRestart encrypts in an endpoint
// with a data directory, scans every file there for the plaintexts, then
// restarts the endpoint on the same directory and decrypts.
func TestKMSDataDirHoldsNoPlaintextAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := emulator.Start(emulator.WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	c := kmsTestClient(t, srv, "us-east-1")
	ctx := kmsTestCtx(t)
	md := kmsCreate(t, c, &kms.CreateKeyInput{Description: aws.String("persistent")})
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/keep"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	secret := []byte("PLAINTEXT-MARKER-3f9a1c7e-do-not-store")
	encCtx := map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:000000000000:parameter/keep"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/keep"), Plaintext: secret, EncryptionContext: encCtx})
	if err != nil {
		t.Fatal(err)
	}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId, RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, secret) {
			t.Errorf("%s holds the plaintext", path)
		}
		if bytes.Contains(b, dk.Plaintext) {
			t.Errorf("%s holds a plaintext data key", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	srv2, err := emulator.Start(emulator.WithDataDir(dir))
	if err != nil {
		t.Fatalf("restart on the same data directory: %v", err)
	}
	t.Cleanup(func() { srv2.Close() })
	c2 := kmsTestClient(t, srv2, "us-east-1")
	d, err := c2.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/keep")})
	if err != nil || *d.KeyMetadata.KeyId != *md.KeyId || *d.KeyMetadata.Description != "persistent" {
		t.Fatalf("DescribeKey after restart = %v", err)
	}
	dec, err := c2.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || !bytes.Equal(dec.Plaintext, secret) {
		t.Fatalf("Decrypt after restart = %v", err)
	}
	ddk, err := c2.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || !bytes.Equal(ddk.Plaintext, dk.Plaintext) {
		t.Fatalf("Decrypt of data key after restart = %v", err)
	}
	st, err := c2.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if err != nil || !st.KeyRotationEnabled || *st.RotationPeriodInDays != 90 {
		t.Fatalf("rotation status after restart = %+v, %v", st, err)
	}
}
