package kmsemu

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/persist"
)

// Tests of the Go-level API the SSM service calls, and of what reaches the
// data directory. The wire operations are covered by emulator/kms_test.go.

// recorder keeps every authorization check and audit event; deny, when set,
// refuses checks of that action as AWS would.
type recorder struct {
	mu     sync.Mutex
	checks []awsapi.Check
	events []awsapi.Event
	deny   string
}

func (rc *recorder) Authorize(r *awsapi.Request, c awsapi.Check) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.checks = append(rc.checks, c)
	if c.Action == rc.deny {
		return awsapi.Errorf("AccessDeniedException", "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", r.Principal.ARN, c.Action, c.Resource, c.Action)
	}
	return nil
}

func (rc *recorder) Record(e awsapi.Event) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.events = append(rc.events, e)
}

func viaSSM(region string) *awsapi.Request {
	return &awsapi.Request{
		Context: context.Background(), Service: "ssm", Operation: "PutParameter",
		Region: region, Account: "000000000000", Partition: "aws",
		Principal: awsapi.Principal{ARN: "arn:aws:iam::000000000000:user/node1", Account: "000000000000", AccessKeyID: "AKIDNODE1"},
		RequestID: "req-1", SourceIP: "127.0.0.1", UserAgent: "test", Time: time.Now().UTC(),
		ViaService: "ssm." + region + ".amazonaws.com",
	}
}

func wantCode(t *testing.T, err error, code string) *awsapi.Error {
	t.Helper()
	var ae *awsapi.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("err = %v, want *awsapi.Error %s", err, code)
	}
	return ae
}

func TestGoAPIForSSM(t *testing.T) {
	rc := &recorder{}
	s, err := New(persist.NewMemory(), rc, rc, "aws")
	if err != nil {
		t.Fatal(err)
	}
	r := viaSSM("us-east-1")
	paramCtx := map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1"}

	// "" is the AWS managed key alias/aws/ssm, created on first use.
	blob, arn, err := s.Encrypt(r, "", []byte("state"), paramCtx)
	if err != nil {
		t.Fatalf("Encrypt under the default key: %v", err)
	}
	managed, err := s.ResolveKey(r, SSMAlias)
	if err != nil || managed != arn {
		t.Fatalf("ResolveKey(alias/aws/ssm) = %s, %v; want %s", managed, err, arn)
	}
	if again, _ := s.ResolveKey(r, ""); again != arn {
		t.Fatalf("ResolveKey(\"\") = %s, want the same managed key %s", again, arn)
	}
	plain, darn, err := s.Decrypt(r, blob, paramCtx)
	if err != nil || string(plain) != "state" || darn != arn {
		t.Fatalf("Decrypt = %q, %s, %v", plain, darn, err)
	}
	_, _, err = s.Decrypt(r, blob, map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:000000000000:parameter/other"})
	wantCode(t, err, "InvalidCiphertextException")

	dk, dblob, garn, err := s.GenerateDataKey(r, "alias/aws/ssm", paramCtx)
	if err != nil || len(dk) != 32 || garn != arn {
		t.Fatalf("GenerateDataKey = %d bytes, %s, %v", len(dk), garn, err)
	}
	if got, _, err := s.Decrypt(r, dblob, paramCtx); err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("Decrypt of data key = %v", err)
	}

	// Authorization: each call is checked with the SSM condition keys and
	// the key policy.
	var decryptCheck *awsapi.Check
	for i := range rc.checks {
		if rc.checks[i].Action == "kms:Decrypt" {
			decryptCheck = &rc.checks[i]
		}
	}
	if decryptCheck == nil {
		t.Fatalf("no kms:Decrypt check among %+v", rc.checks)
	}
	if decryptCheck.Resource != arn || !decryptCheck.IsKMS || decryptCheck.ResourcePolicy == "" ||
		decryptCheck.Conditions["kms:EncryptionContext:PARAMETER_ARN"][0] != paramCtx["PARAMETER_ARN"] ||
		decryptCheck.Conditions["kms:ViaService"][0] != "ssm.us-east-1.amazonaws.com" ||
		decryptCheck.Conditions["kms:CallerAccount"][0] != "000000000000" {
		t.Errorf("kms:Decrypt check = %+v", decryptCheck)
	}
	// Audit: KMS events made via SSM.
	names := map[string]bool{}
	for _, e := range rc.events {
		names[e.EventName] = true
		if e.EventSource != "kms.amazonaws.com" || e.ViaService != "ssm.us-east-1.amazonaws.com" || e.KeyARN != arn ||
			e.PrincipalARN != "arn:aws:iam::000000000000:user/node1" || e.SourceIP != "ssm.amazonaws.com" {
			t.Errorf("event = %+v", e)
		}
	}
	if !names["Encrypt"] || !names["Decrypt"] || !names["GenerateDataKey"] {
		t.Errorf("events %v, want Encrypt, Decrypt, GenerateDataKey", names)
	}
	last := rc.events[len(rc.events)-1]
	if last.EncryptionContext["PARAMETER_ARN"] != paramCtx["PARAMETER_ARN"] {
		t.Errorf("event encryption context = %v", last.EncryptionContext)
	}

	// A denied call fails with the authorizer's error, and is audited.
	rc.deny = "kms:Decrypt"
	_, _, err = s.Decrypt(r, blob, paramCtx)
	wantCode(t, err, "AccessDeniedException")
	if e := rc.events[len(rc.events)-1]; e.ErrorCode != "AccessDeniedException" || e.EventName != "Decrypt" {
		t.Errorf("denied call's event = %+v", e)
	}
	rc.deny = ""

	// Errors SSM turns into InvalidKeyId.
	_, _, err = s.Encrypt(r, "alias/nope", []byte("x"), paramCtx)
	ae := wantCode(t, err, "NotFoundException")
	if ae.Message != "Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found." {
		t.Errorf("message = %q", ae.Message)
	}
	_, err = s.ResolveKey(r, "11111111-2222-4333-8444-555555555555")
	wantCode(t, err, "NotFoundException")
	_, err = s.ResolveKey(viaSSM("eu-west-1"), arn)
	wantCode(t, err, "NotFoundException")
}

// TestDataDirHoldsNoKeyMaterial checks that the bytes of every key's
// material appear nowhere in the data directory, and that a new Service on
// the same directory decrypts what the first made.
func TestDataDirHoldsNoKeyMaterial(t *testing.T) {
	dir := t.TempDir()
	db, err := persist.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(db, awsapi.AllowAll{}, awsapi.NopAuditor{}, "aws")
	if err != nil {
		t.Fatal(err)
	}
	r := viaSSM("us-east-1")
	h := s.Handlers()
	out, err := h["CreateKey"](r, []byte(`{"Description":"scan me"}`))
	if err != nil {
		t.Fatal(err)
	}
	id := out.(map[string]any)["KeyMetadata"].(keyMetadata).KeyId
	if _, err := h["RotateKeyOnDemand"](r, []byte(`{"KeyId":"`+id+`"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := h["CreateKey"](r, []byte(`{"KeySpec":"RSA_2048","KeyUsage":"ENCRYPT_DECRYPT"}`)); err != nil {
		t.Fatal(err)
	}
	blob, _, err := s.Encrypt(r, id, []byte("persisted"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var secrets [][]byte
	for _, k := range s.keys {
		for _, m := range k.Materials {
			secrets = append(secrets, m.plain)
		}
		if k.private != nil {
			secrets = append(secrets, k.private.D.Bytes(), k.private.Primes[0].Bytes())
		}
	}
	if len(secrets) < 4 {
		t.Fatalf("found %d secrets to scan for, want at least 4", len(secrets))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "master.key" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, sec := range secrets {
			if bytes.Contains(b, sec) {
				t.Errorf("%s holds plaintext key material #%d", path, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	db2, err := persist.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	s2, err := New(db2, awsapi.AllowAll{}, awsapi.NopAuditor{}, "aws")
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if p, _, err := s2.Decrypt(r, blob, nil); err != nil || string(p) != "persisted" {
		t.Fatalf("Decrypt after reload = %v", err)
	}
}

// TestAutomaticRotation moves a key's NextRotationDate into the past (the
// endpoint has no clock to advance) and checks that the next use rotates it,
// keeping old ciphertext decryptable.
func TestAutomaticRotation(t *testing.T) {
	s, err := New(persist.NewMemory(), awsapi.AllowAll{}, awsapi.NopAuditor{}, "aws")
	if err != nil {
		t.Fatal(err)
	}
	r := viaSSM("us-east-1")
	h := s.Handlers()
	out, err := h["CreateKey"](r, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := out.(map[string]any)["KeyMetadata"].(keyMetadata).KeyId
	if _, err := h["EnableKeyRotation"](r, []byte(`{"KeyId":"`+id+`","RotationPeriodInDays":90}`)); err != nil {
		t.Fatal(err)
	}
	old, _, err := s.Encrypt(r, id, []byte("old"), nil)
	if err != nil {
		t.Fatal(err)
	}
	due := r.Time.Add(-time.Hour)
	s.mu.Lock()
	k := s.keys["us-east-1/"+id].clone()
	k.NextRotation = &due
	if err := s.putKeys(k); err != nil {
		t.Fatal(err)
	}
	s.mu.Unlock()

	fresh, _, err := s.Encrypt(viaSSM("us-east-1"), id, []byte("new"), nil)
	if err != nil {
		t.Fatal(err)
	}
	hOld, _, _, _ := parseBlob(old)
	hNew, _, _, _ := parseBlob(fresh)
	if hOld.materialID == hNew.materialID {
		t.Fatal("no new key material after the rotation date passed")
	}
	if p, _, err := s.Decrypt(r, old, nil); err != nil || string(p) != "old" {
		t.Fatalf("Decrypt of pre-rotation ciphertext = %v", err)
	}
	lr, err := h["ListKeyRotations"](r, []byte(`{"KeyId":"`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if b := mustJSON(lr); !bytes.Contains([]byte(b), []byte(`"RotationType":"AUTOMATIC"`)) {
		t.Errorf("ListKeyRotations = %s, want an AUTOMATIC rotation", b)
	}
	st, err := h["GetKeyRotationStatus"](r, []byte(`{"KeyId":"`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	next := time.Time(*st.(map[string]any)["NextRotationDate"].(*epoch))
	if !next.After(r.Time) || next.Sub(due) != 90*24*time.Hour {
		t.Errorf("NextRotationDate = %v, want 90 days after %v", next, due)
	}
}
