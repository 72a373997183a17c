package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/storeerr"
)

const (
	region    = "us-east-1"
	paramName = "/ts/node1"
	aliasName = "alias/ts-prod"
)

// env is a local endpoint with a customer key (alias/ts-prod, rotation on)
// and a state written under it.
type env struct {
	srv    *emulator.Server
	cfg    aws.Config
	kms    *kms.Client
	ssm    *ssm.Client
	key    *kmstypes.KeyMetadata
	state  map[string][]byte
	prefix string // locator without options
}

func newEnv(t *testing.T, opts ...emulator.Option) *env {
	t.Helper()
	srv := emulator.NewTestServer(t, opts...)
	e := &env{srv: srv, cfg: srv.AWSConfig(region)}
	e.kms, e.ssm = kms.NewFromConfig(e.cfg), ssm.NewFromConfig(e.cfg)
	e.prefix = fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, srv.Account(), paramName)
	return e
}

// healthy creates the customer key and the state (large enough for parts).
func (e *env) healthy(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	e.key = e.createKey(t, e.kms, &kms.CreateKeyInput{})
	if _, err := e.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(aliasName), TargetKeyId: e.key.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.kms.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: e.key.KeyId}); err != nil {
		t.Fatal(err)
	}
	loc := e.prefix + "?kmsKey=" + aliasName
	st, err := store.Open(ctx, loc, store.WithAWSConfig(e.cfg))
	if err != nil {
		t.Fatal(err)
	}
	e.state = map[string][]byte{"_machinekey": []byte("privkey:0123"), "profile-1": bytes.Repeat([]byte("node state "), 800)}
	for k, v := range e.state {
		if err := st.WriteState(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return loc
}

func (e *env) createKey(t *testing.T, c *kms.Client, in *kms.CreateKeyInput) *kmstypes.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(context.Background(), in)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return out.KeyMetadata
}

func (e *env) open(loc string, opts ...store.Option) error {
	opts = append([]store.Option{store.WithAWSConfig(e.cfg), store.WithTimeout(10 * time.Second)}, opts...)
	st, err := store.Open(context.Background(), loc, opts...)
	if err == nil {
		st.Close()
	}
	return err
}

func (e *env) doctor(t *testing.T, loc string) *Report {
	t.Helper()
	rep := Run(context.Background(), loc, Options{AWSConfig: &e.cfg, Timeout: 10 * time.Second})
	var b bytes.Buffer
	rep.WriteText(&b)
	t.Logf("doctor %s:\n%s", loc, b.String())
	return rep
}

func check(t *testing.T, rep *Report, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in the report", name)
	return Check{}
}

// wantCheck asserts a check's status and that its detail and fix name
// what they must.
func wantCheck(t *testing.T, rep *Report, name string, st Status, detail, fix []string) {
	t.Helper()
	c := check(t, rep, name)
	if c.Status != st {
		t.Errorf("%s: status %s, want %s (%s)", name, c.Status, st, c.Detail)
	}
	for _, s := range detail {
		if !strings.Contains(c.Detail, s) {
			t.Errorf("%s: detail does not name %q: %s", name, s, c.Detail)
		}
	}
	for _, s := range fix {
		if !strings.Contains(c.Fix, s) {
			t.Errorf("%s: fix does not name %q: %s", name, s, c.Fix)
		}
	}
	if st == Fail && rep.Summary.OK {
		t.Errorf("summary OK with a FAIL")
	}
}

// wantStoreErr asserts the store's error is the model's, of kind, naming
// cause and fix.
func wantStoreErr(t *testing.T, err error, kind storeerr.Kind, cause, fix []string) *storeerr.Error {
	t.Helper()
	var se *storeerr.Error
	if !errors.As(err, &se) {
		t.Fatalf("error is not a *storeerr.Error: %v", err)
	}
	if se.Kind != kind {
		t.Errorf("kind %s, want %s: %v", se.Kind, kind, err)
	}
	for _, s := range cause {
		if !strings.Contains(se.Cause, s) {
			t.Errorf("cause does not name %q: %s", s, se.Cause)
		}
	}
	for _, s := range fix {
		if !strings.Contains(se.Fix, s) {
			t.Errorf("fix does not name %q: %s", s, se.Fix)
		}
	}
	return se
}

// snapshot is every parameter's name, version and value (decrypted).
func (e *env) snapshot(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	p := ssm.NewGetParametersByPathPaginator(e.ssm, &ssm.GetParametersByPathInput{Path: aws.String("/"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page.Parameters {
			out[aws.ToString(x.Name)] = fmt.Sprintf("v%d %s %s", x.Version, x.Type, aws.ToString(x.Value))
		}
	}
	return out
}

func TestHealthyOnlyPassAndUnchanged(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	before := e.snapshot(t)
	if len(before) < 2 {
		t.Fatalf("want a multi-part state, got parameters %v", len(before))
	}
	rep := e.doctor(t, loc)
	for _, c := range rep.Checks {
		if c.Status != Pass {
			t.Errorf("%s: %s %s (fix: %s)", c.Name, c.Status, c.Detail, c.Fix)
		}
	}
	if !rep.Summary.OK || rep.Summary.Pass != len(rep.Checks) {
		t.Errorf("summary %+v", rep.Summary)
	}
	wantCheck(t, rep, CheckParameter, Pass, []string{"SecureString", "version", "manifest", "Standard part"}, nil)
	wantCheck(t, rep, CheckParameterKey, Pass, []string{aws.ToString(e.key.Arn), "the locator's key"}, nil)
	wantCheck(t, rep, CheckState, Pass, []string{"2 keys"}, nil)
	after := e.snapshot(t)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("doctor changed the parameters:\nbefore %v\nafter  %v", keysOf(before), keysOf(after))
	}
	// And the store still reads the same state.
	st, err := store.Open(context.Background(), loc, store.WithAWSConfig(e.cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for k, v := range e.state {
		got, err := st.ReadState(context.Background(), k)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("%s after doctor: %v", k, err)
		}
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k, v := range m {
		ks = append(ks, k+" "+v[:min(len(v), 12)])
	}
	return ks
}

func TestJSONSchema(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	rep := e.doctor(t, loc)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Locator string `json:"locator"`
		Checks  []map[string]any
		Summary map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Locator != loc || len(got.Checks) != len(rep.Checks) {
		t.Fatalf("json: %s", b.String())
	}
	for _, c := range got.Checks {
		if len(c) != 4 || c["name"] == nil || c["status"] == nil || c["detail"] == nil || c["fix"] == nil {
			t.Errorf("check entry is not {name,status,detail,fix}: %v", c)
		}
	}
	for _, k := range []string{"pass", "warn", "fail", "skip", "ok"} {
		if _, ok := got.Summary[k]; !ok {
			t.Errorf("summary lacks %q: %v", k, got.Summary)
		}
	}
}

// TestFailFastOneCall: Open with a key makes exactly one DescribeKey before
// anything else, and a broken key fails there with no SSM call at all.
func TestFailFastOneCall(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	e.srv.ResetCalls()
	if err := e.open(loc); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Calls()["kms.DescribeKey"]; n != 1 {
		t.Errorf("DescribeKey calls at Open = %d, want 1 (%v)", n, e.srv.Calls())
	}
	if _, err := e.kms.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: e.key.KeyId}); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetCalls()
	err := e.open(loc)
	wantStoreErr(t, err, storeerr.KeyDisabled, []string{aliasName, aws.ToString(e.key.Arn), "disabled"}, []string{"aws kms enable-key --key-id " + aws.ToString(e.key.Arn) + " --region us-east-1"})
	calls := e.srv.Calls()
	if calls["kms.DescribeKey"] != 1 || len(calls) != 1 {
		t.Errorf("calls of a failed Open = %v, want exactly one kms.DescribeKey", calls)
	}
}

func TestAliasDeleted(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	if _, err := e.kms.DeleteAlias(context.Background(), &kms.DeleteAliasInput{AliasName: aws.String(aliasName)}); err != nil {
		t.Fatal(err)
	}
	err := e.open(loc)
	se := wantStoreErr(t, err, storeerr.AliasNotFound, []string{aliasName, "does not exist", e.srv.Account(), region}, []string{"aws kms create-alias --alias-name alias/ts-prod"})
	if se.Op != storeerr.OpOpen || se.KeyAlias != aliasName {
		t.Errorf("op %s alias %s", se.Op, se.KeyAlias)
	}
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("errors.As does not reach *kms types.NotFoundException: %v", err)
	}
	rep := e.doctor(t, loc)
	wantCheck(t, rep, CheckKMSKey, Fail, []string{aliasName, "does not exist"}, []string{"aws kms create-alias"})

	// Writing through an already open store: SSM's InvalidKeyId wrapping
	// KMS's NotFoundException.
	e2 := newEnv(t)
	loc2 := e2.healthy(t)
	st, err := store.Open(context.Background(), loc2, store.WithAWSConfig(e2.cfg), store.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := e2.kms.DeleteAlias(context.Background(), &kms.DeleteAliasInput{AliasName: aws.String(aliasName)}); err != nil {
		t.Fatal(err)
	}
	err = st.WriteState(context.Background(), "k", []byte("v"))
	se = wantStoreErr(t, err, storeerr.AliasNotFound, []string{aliasName}, []string{"create-alias"})
	if se.Op != storeerr.OpWrite {
		t.Errorf("op = %s, want write", se.Op)
	}
	var ik *ssmtypes.InvalidKeyId
	if !errors.As(err, &ik) {
		t.Errorf("errors.As does not reach *ssm types.InvalidKeyId: %v", err)
	}
}

func TestKeyDisabled(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	st, err := store.Open(context.Background(), loc, store.WithAWSConfig(e.cfg), store.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := e.kms.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: e.key.KeyId}); err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(e.key.Arn)
	wantStoreErr(t, e.open(loc), storeerr.KeyDisabled, []string{arn, "disabled"}, []string{"aws kms enable-key --key-id " + arn})
	// At write time, through SSM.
	err = st.WriteState(context.Background(), "k", []byte("v"))
	wantStoreErr(t, err, storeerr.KeyDisabled, []string{arn, "disabled"}, []string{"aws kms enable-key --key-id " + arn})
	rep := e.doctor(t, loc)
	wantCheck(t, rep, CheckKMSKey, Fail, []string{"disabled"}, []string{"aws kms enable-key --key-id " + arn})
	wantCheck(t, rep, CheckSSMRead, Fail, []string{"disabled"}, []string{"enable-key"})
	wantCheck(t, rep, CheckState, Fail, []string{"disabled"}, []string{"enable-key"})
}

func TestKeyPendingDeletion(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	out, err := e.kms.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: e.key.KeyId, PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	date := out.DeletionDate.UTC().Format("2006-01-02 15:04 UTC")
	arn := aws.ToString(e.key.Arn)
	se := wantStoreErr(t, e.open(loc), storeerr.KeyPendingDeletion, []string{arn, "scheduled for deletion on " + date},
		[]string{"aws kms cancel-key-deletion --key-id " + arn + " --region us-east-1", "aws kms enable-key"})
	if !se.DeletionDate.Equal(*out.DeletionDate) {
		t.Errorf("deletion date %v, want %v", se.DeletionDate, out.DeletionDate)
	}
	rep := e.doctor(t, loc)
	wantCheck(t, rep, CheckKMSKey, Fail, []string{"on " + date}, []string{"cancel-key-deletion"})
}

func TestAsymmetricKey(t *testing.T) {
	e := newEnv(t)
	e.healthy(t)
	rsa := e.createKey(t, e.kms, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt})
	if _, err := e.kms.CreateAlias(context.Background(), &kms.CreateAliasInput{AliasName: aws.String("alias/ts-rsa"), TargetKeyId: rsa.KeyId}); err != nil {
		t.Fatal(err)
	}
	loc := e.prefix + "?kmsKey=alias/ts-rsa"
	wantStoreErr(t, e.open(loc), storeerr.KeyNotSymmetric, []string{"RSA_2048", "symmetric"}, []string{"--key-spec SYMMETRIC_DEFAULT", "aws kms update-alias --alias-name alias/ts-rsa"})
	rep := e.doctor(t, loc)
	wantCheck(t, rep, CheckKMSKeySpec, Fail, []string{"RSA_2048"}, []string{"SYMMETRIC_DEFAULT"})

	// A put through SSM under the asymmetric key, as a store without the
	// fail-fast check would make it.
	_, err := e.ssm.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/ts/other"), Value: aws.String("{}"),
		Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String("alias/ts-rsa")})
	got := storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpWrite, Parameter: e.prefix, Region: region, Key: "alias/ts-rsa"})
	if k := storeerr.KindOf(got); k != storeerr.KeyNotSymmetric && k != storeerr.KeyWrongUsage {
		t.Errorf("SSM put under an RSA key: kind %q: %v", k, got)
	}
}

func TestKeyInOtherRegion(t *testing.T) {
	e := newEnv(t)
	e.healthy(t)
	west := e.createKey(t, kms.NewFromConfig(e.srv.AWSConfig("us-west-2")), &kms.CreateKeyInput{})
	westARN := aws.ToString(west.Arn)
	loc := e.prefix + "?kmsKey=" + westARN
	// The locator parser already refuses a key ARN of another Region, so
	// Open fails before any call.
	e.srv.ResetCalls()
	err := e.open(loc)
	if err == nil || !strings.Contains(err.Error(), "us-west-2") || !strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("open with a us-west-2 key: %v", err)
	}
	if n := len(e.srv.Calls()); n != 0 {
		t.Errorf("an other-Region key ARN needs no call; made %v", e.srv.Calls())
	}
	rep := e.doctor(t, loc)
	wantCheck(t, rep, CheckLocator, Fail, []string{"us-west-2"}, nil)
	// The store's own check, should a locator get past the parser.
	_, err = storeerr.CheckKey(context.Background(), e.kms, storeerr.Subject{Op: storeerr.OpOpen, Parameter: e.prefix, Region: region, Key: westARN})
	wantStoreErr(t, err, storeerr.KeyOtherRegion, []string{"us-west-2", "us-east-1"}, []string{"replicate-key", "--replica-region us-east-1"})

	// What SSM itself answers for that key, classified.
	_, err = e.ssm.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/ts/other"), Value: aws.String("{}"),
		Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String(westARN)})
	got := storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpWrite, Parameter: e.prefix, Region: region, Key: westARN})
	if k := storeerr.KindOf(got); k != storeerr.KeyOtherRegion {
		t.Errorf("SSM put under a us-west-2 key: kind %q: %v", k, got)
	}
}

func TestValueTooLargeForTier(t *testing.T) {
	e := newEnv(t)
	e.healthy(t)
	_, err := e.ssm.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/ts/big"), Value: aws.String(strings.Repeat("x", 5000)),
		Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String(aliasName), Tier: ssmtypes.ParameterTierStandard})
	got := storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpWrite, Parameter: e.prefix, Region: region, Key: aliasName})
	wantStoreErr(t, got, storeerr.ValueTooLarge, []string{"4,096"}, []string{"tier=advanced"})
}

// TestThrottledEverywhere: every call is throttled; the store gives up at
// its deadline saying so, and doctor fails at the first call.
func TestThrottledEverywhere(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	e.srv.SetFaults(emulator.FaultSpec{ThrottleRate: 1, Seed: 1})
	err := e.open(loc, store.WithTimeout(3*time.Second))
	wantStoreErr(t, err, storeerr.Throttled, []string{"throttled", "retries"}, []string{"lower the request rate"})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
		t.Errorf("errors.As does not reach the ThrottlingException: %v", err)
	}
	rep := e.doctor(t, loc)
	wantCheck(t, rep, CheckCredentials, Fail, []string{"throttled"}, []string{"lower the rate"})
	if check(t, rep, CheckState).Status != Skip {
		t.Errorf("state should be skipped without credentials")
	}
}

func TestEndpointUnreachable(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	cfg := e.cfg.Copy()
	e.srv.Close()
	err := e.open(loc, store.WithAWSConfig(cfg), store.WithTimeout(3*time.Second))
	wantStoreErr(t, err, storeerr.EndpointUnreachable, []string{"could not be reached"}, []string{"AWS_ENDPOINT_URL"})
	rep := Run(context.Background(), loc, Options{AWSConfig: &cfg, Timeout: 5 * time.Second})
	wantCheck(t, rep, CheckCredentials, Fail, []string{"could not be reached"}, []string{"network path"})
}

func TestInvalidCredentials(t *testing.T) {
	e := newEnv(t, emulator.WithIAMConfig(emulator.IAMConfig{Account: "123456789012", Principals: []emulator.IAMPrincipal{admin}}))
	cfg := e.srv.AWSConfigWithCredentials(region, "AKIAUNKNOWN000000000", "nope")
	loc := e.prefix + "?kmsKey=" + aliasName
	err := e.open(loc, store.WithAWSConfig(cfg))
	wantStoreErr(t, err, storeerr.InvalidCredentials, []string{"does not accept the credentials"}, []string{"aws sts get-caller-identity"})
	rep := Run(context.Background(), loc, Options{AWSConfig: &cfg})
	wantCheck(t, rep, CheckCredentials, Fail, []string{"does not accept"}, []string{"get-caller-identity"})
}

// TestNoCredentials uses aws-sdk-go-v2's default chain with nothing in it.
func TestNoCredentials(t *testing.T) {
	e := newEnv(t)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL", e.srv.URL)
	loc := e.prefix + "?kmsKey=" + aliasName
	_, err := store.Open(context.Background(), loc, store.WithTimeout(5*time.Second))
	wantStoreErr(t, err, storeerr.NoCredentials, []string{"no AWS credentials"}, []string{"AWS_PROFILE"})
	rep := Run(context.Background(), loc, Options{Timeout: 5 * time.Second})
	wantCheck(t, rep, CheckCredentials, Fail, []string{"no AWS credentials"}, []string{"AWS_ACCESS_KEY_ID"})
}

func TestNoRegion(t *testing.T) {
	e := newEnv(t)
	cfg := aws.Config{Credentials: e.cfg.Credentials} // no Region, no endpoint
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err == nil {
		t.Fatal("a call without a Region succeeded")
	}
	wantStoreErr(t, storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpOpen}), storeerr.NoRegion, []string{"Region"}, []string{"AWS_REGION"})
}

func TestBadLocator(t *testing.T) {
	rep := Run(context.Background(), "arn:aws:s3:us-east-1:123456789012:parameter/x", Options{})
	wantCheck(t, rep, CheckLocator, Fail, []string{"not \"ssm\""}, []string{"arn:aws:ssm:"})
	if len(rep.Checks) != 1 {
		t.Errorf("checks after a bad locator: %v", rep.Checks)
	}
}

func TestAWSManagedKeyWarns(t *testing.T) {
	e := newEnv(t)
	loc := e.prefix
	st, err := store.Open(context.Background(), loc, store.WithAWSConfig(e.cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteState(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	rep := e.doctor(t, loc)
	wantCheck(t, rep, CheckKMSKeyManager, Warn, []string{"ssm:GetParameter", "aws/ssm"}, []string{"kmsKey="})
	if !rep.Summary.OK {
		t.Errorf("a warning is not a failure: %+v", rep.Summary)
	}
}

func TestRotationOffWarnsAndOtherKeyWarns(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	// Another key named in the locator: the parameter is still under the
	// first.
	k2 := e.createKey(t, e.kms, &kms.CreateKeyInput{})
	if _, err := e.kms.EnableKeyRotation(context.Background(), &kms.EnableKeyRotationInput{KeyId: k2.KeyId}); err != nil {
		t.Fatal(err)
	}
	rep := e.doctor(t, e.prefix+"?kmsKey="+aws.ToString(k2.Arn))
	wantCheck(t, rep, CheckParameterKey, Warn, []string{aws.ToString(e.key.Arn), "not the locator's key"}, []string{"re-encrypts"})
	if !rep.Summary.OK {
		t.Errorf("another key is a warning, not a failure: %+v", rep.Summary)
	}

	if _, err := e.kms.DisableKeyRotation(context.Background(), &kms.DisableKeyRotationInput{KeyId: e.key.KeyId}); err != nil {
		t.Fatal(err)
	}
	rep = e.doctor(t, loc)
	wantCheck(t, rep, CheckKMSKeyRotation, Warn, []string{"off"}, []string{"aws kms enable-key-rotation --key-id " + aws.ToString(e.key.Arn)})
}

func TestMissingPart(t *testing.T) {
	e := newEnv(t)
	loc := e.healthy(t)
	rep := e.doctor(t, loc)
	wantCheck(t, rep, CheckParameterKey, Pass, []string{"1 part", "the locator's key"}, nil)
	var part string
	for name := range e.snapshot(t) {
		if strings.Contains(name, ".part-") {
			part = name
		}
	}
	if _, err := e.ssm.DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(part)}); err != nil {
		t.Fatal(err)
	}
	err := e.open(loc)
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("open with a part missing: %v", err)
	}
	rep = e.doctor(t, loc)
	wantCheck(t, rep, CheckParameter, Fail, []string{"1 part missing"}, []string{"reset"})
	wantCheck(t, rep, CheckState, Fail, []string{"missing"}, []string{"reset"})
}

func TestFileLocator(t *testing.T) {
	path := t.TempDir() + "/tailscaled.state"
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteState(context.Background(), "_machinekey", []byte("privkey:0123")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	rep := Run(context.Background(), path, Options{})
	if len(rep.Checks) != 2 || !rep.Summary.OK {
		t.Errorf("file locator: %+v", rep.Checks)
	}
	wantCheck(t, rep, CheckState, Pass, []string{"1 key"}, nil)
	if err := os.WriteFile(path, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep = Run(context.Background(), path, Options{})
	wantCheck(t, rep, CheckState, Fail, []string{path}, nil)
}
