package doctor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/storeerr"
)

// Access-denied cases on the endpoint with IAM enforcement: an admin sets
// up the key and the state; node principals with too few rights run the
// store and doctor.

const iamAccount = "123456789012"

var admin = emulator.IAMPrincipal{
	ARN: "arn:aws:iam::" + iamAccount + ":user/admin", AccessKeyID: "AKIAADMIN0000000001", SecretAccessKey: "admin-secret",
	Policies: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)},
}

// node is a principal allowed the given actions on every resource.
func node(name string, actions ...string) emulator.IAMPrincipal {
	acts, _ := json.Marshal(actions)
	return emulator.IAMPrincipal{
		ARN: "arn:aws:iam::" + iamAccount + ":user/" + name, AccessKeyID: "AKIA" + name + "0000000000000"[:16-len(name)], SecretAccessKey: name + "-secret",
		Policies: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":` + string(acts) + `,"Resource":"*"}]}`)},
	}
}

// storeActions is everything the store and doctor use.
var storeActions = []string{"sts:GetCallerIdentity", "ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters",
	"ssm:DescribeParameters", "kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}

func without(drop string) []string {
	var out []string
	for _, a := range storeActions {
		if a != drop {
			out = append(out, a)
		}
	}
	return out
}

// iamEnv is newEnv with enforcement on, the admin's credentials in e.cfg,
// and the healthy state written; it returns the locator.
func iamEnv(t *testing.T, nodes ...emulator.IAMPrincipal) (*env, string) {
	t.Helper()
	cfg := emulator.IAMConfig{Account: iamAccount, Principals: append([]emulator.IAMPrincipal{admin}, nodes...)}
	e := newEnv(t, emulator.WithIAMConfig(cfg))
	e.cfg = e.srv.AWSConfigWithCredentials(region, admin.AccessKeyID, admin.SecretAccessKey)
	e.kms, e.ssm = kms.NewFromConfig(e.cfg), ssm.NewFromConfig(e.cfg)
	return e, e.healthy(t)
}

func (e *env) as(p emulator.IAMPrincipal) aws.Config {
	return e.srv.AWSConfigWithCredentials(region, p.AccessKeyID, p.SecretAccessKey)
}

func TestAccessDeniedDecrypt(t *testing.T) {
	reader := node("noDecrypt", without("kms:Decrypt")...)
	e, loc := iamEnv(t, reader)
	cfg := e.as(reader)
	err := e.open(loc, store.WithAWSConfig(cfg))
	se := wantStoreErr(t, err, storeerr.AccessDenied, []string{reader.ARN, "kms:Decrypt", aws.ToString(e.key.Arn)}, []string{"kms:Decrypt"})
	if se.Action != "kms:Decrypt" || se.Op != storeerr.OpRead {
		t.Errorf("action %q op %s", se.Action, se.Op)
	}
	rep := Run(context.Background(), loc, Options{AWSConfig: &cfg})
	logReport(t, rep)
	wantCheck(t, rep, CheckSSMRead, Fail, []string{"kms:Decrypt"}, []string{"kms:Decrypt"})
	wantCheck(t, rep, CheckKMSDecrypt, Fail, []string{"kms:Decrypt"}, []string{"kms:Decrypt"})
	wantCheck(t, rep, CheckKMSEncrypt, Pass, nil, nil)
}

func TestAccessDeniedPut(t *testing.T) {
	writer := node("noPut", without("ssm:PutParameter")...)
	e, loc := iamEnv(t, writer)
	cfg := e.as(writer)
	st, err := store.Open(context.Background(), loc, store.WithAWSConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.WriteState(context.Background(), "k", []byte("v"))
	se := wantStoreErr(t, err, storeerr.AccessDenied, []string{"ssm:PutParameter"}, []string{"ssm:PutParameter"})
	if se.Op != storeerr.OpWrite {
		t.Errorf("op %s", se.Op)
	}
	rep := Run(context.Background(), loc, Options{AWSConfig: &cfg})
	logReport(t, rep)
	wantCheck(t, rep, CheckSSMWrite, Fail, []string{"ssm:PutParameter"}, []string{"ssm:PutParameter"})
	wantCheck(t, rep, CheckSSMWriteParts, Fail, []string{"ssm:PutParameter"}, nil)
}

func TestAccessDeniedDescribeKeyAndEncrypt(t *testing.T) {
	noDescribe := node("noDescribe", without("kms:DescribeKey")...)
	noEncrypt := node("noEncrypt", without("kms:Encrypt")...)
	noGDK := node("noGDK", without("kms:GenerateDataKey")...)
	noDelete := node("noDelete", without("ssm:DeleteParameter")...)
	noBatchDelete := node("noBatchDel", without("ssm:DeleteParameters")...)
	e, loc := iamEnv(t, noDescribe, noEncrypt, noGDK, noDelete, noBatchDelete)

	cfg := e.as(noDescribe)
	se := wantStoreErr(t, e.open(loc, store.WithAWSConfig(cfg)), storeerr.AccessDenied, []string{"kms:DescribeKey"}, []string{"kms:DescribeKey"})
	if se.Op != storeerr.OpOpen {
		t.Errorf("op %s", se.Op)
	}
	rep := Run(context.Background(), loc, Options{AWSConfig: &cfg})
	wantCheck(t, rep, CheckKMSKey, Fail, []string{"kms:DescribeKey"}, []string{"kms:DescribeKey"})

	cfg = e.as(noEncrypt)
	rep = Run(context.Background(), loc, Options{AWSConfig: &cfg})
	logReport(t, rep)
	wantCheck(t, rep, CheckKMSEncrypt, Fail, []string{"kms:Encrypt"}, []string{"kms:Encrypt"})

	cfg = e.as(noGDK)
	rep = Run(context.Background(), loc, Options{AWSConfig: &cfg})
	// Standard parameters do not use data keys.
	wantCheck(t, rep, CheckKMSGenerateData, Pass, []string{"tier=advanced"}, nil)
	rep = Run(context.Background(), loc+"&tier=advanced", Options{AWSConfig: &cfg})
	wantCheck(t, rep, CheckKMSGenerateData, Fail, []string{"kms:GenerateDataKey"}, []string{"kms:GenerateDataKey", "UseStateKeyThroughSSM"})

	cfg = e.as(noDelete)
	rep = Run(context.Background(), loc, Options{AWSConfig: &cfg})
	wantCheck(t, rep, CheckSSMDeleteParts, Fail, []string{"ssm:DeleteParameter", "10,000-parameter quota"}, []string{"ssm:DeleteParameter", "StateParameters", "delete-parameter --name /ts/node1.part-0-0"})
	cfg = e.as(noBatchDelete)
	rep = Run(context.Background(), loc, Options{AWSConfig: &cfg})
	wantCheck(t, rep, CheckSSMDeleteParts, Fail, []string{"ssm:DeleteParameters", "10,000-parameter quota"}, []string{"ssm:DeleteParameters", "StateParameters"})
}

// TestViaServicePolicy: the policy docs/iam-file.md recommends allows KMS
// only through SSM; doctor proves its KMS rights through SSM (the probe
// part's round trip), so it passes.
func TestViaServicePolicy(t *testing.T) {
	p := emulator.IAMPrincipal{
		ARN: "arn:aws:iam::" + iamAccount + ":user/viassm", AccessKeyID: "AKIAVIASSM000000001", SecretAccessKey: "viassm-secret",
		Policies: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["sts:GetCallerIdentity","ssm:GetParameter","ssm:GetParameters","ssm:PutParameter","ssm:DeleteParameter","ssm:DeleteParameters","ssm:DescribeParameters","kms:DescribeKey","kms:GetKeyRotationStatus"],"Resource":"*"},
			{"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey"],"Resource":"*",
			 "Condition":{"StringEquals":{"kms:ViaService":"ssm.us-east-1.amazonaws.com"}}}]}`)},
	}
	e, loc := iamEnv(t, p)
	cfg := e.as(p)
	if err := e.open(loc, store.WithAWSConfig(cfg)); err != nil {
		t.Fatalf("the store works with this policy: %v", err)
	}
	rep := Run(context.Background(), loc, Options{AWSConfig: &cfg})
	logReport(t, rep)
	if !rep.Summary.OK {
		t.Errorf("a working kms:ViaService policy is reported as failing")
	}
	for _, c := range []string{CheckKMSEncrypt, CheckKMSDecrypt} {
		wantCheck(t, rep, c, Pass, []string{"through SSM"}, nil)
	}
}

func logReport(t *testing.T, rep *Report) {
	t.Helper()
	var b strings.Builder
	rep.WriteText(&b)
	t.Logf("\n%s", b.String())
}

// TestREADMEPolicy: the short policy the README once gave lets the store
// read and write, but leaves out ssm:DescribeParameters (the store's sweep
// of leftover parts) and kms:GetKeyRotationStatus (doctor's rotation
// check): doctor fails both, naming the action and the generated policy's
// statement that grants it; everything else passes.
func TestREADMEPolicy(t *testing.T) {
	// The policy names the key, which exists only after setup: build the
	// endpoint in two steps on one data directory.
	dir := t.TempDir()
	setup := newEnv(t, emulator.WithDataDir(dir), emulator.WithIAMConfig(emulator.IAMConfig{Account: iamAccount, Principals: []emulator.IAMPrincipal{admin}}))
	setup.cfg = setup.srv.AWSConfigWithCredentials(region, admin.AccessKeyID, admin.SecretAccessKey)
	setup.kms, setup.ssm = kms.NewFromConfig(setup.cfg), ssm.NewFromConfig(setup.cfg)
	loc := setup.healthy(t)
	keyARN := aws.ToString(setup.key.Arn)
	setup.srv.Close()

	p := emulator.IAMPrincipal{
		ARN: "arn:aws:iam::" + iamAccount + ":user/readme", AccessKeyID: "AKIAREADME000000001", SecretAccessKey: "readme-secret",
		Policies: []json.RawMessage{json.RawMessage(`{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow",
   "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters"],
   "Resource": "arn:aws:ssm:us-east-1:` + iamAccount + `:parameter/ts/node1*"},
  {"Effect": "Allow",
   "Action": ["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt"],
   "Resource": "` + keyARN + `"}]}`)},
	}
	srv := emulator.NewTestServer(t, emulator.WithDataDir(dir), emulator.WithIAMConfig(emulator.IAMConfig{Account: iamAccount, Principals: []emulator.IAMPrincipal{admin, p}}))
	cfg := srv.AWSConfigWithCredentials(region, p.AccessKeyID, p.SecretAccessKey)
	rep := Run(context.Background(), loc, Options{AWSConfig: &cfg})
	logReport(t, rep)
	if rep.Summary.Fail != 2 {
		t.Errorf("summary %+v, want exactly the two FAILs", rep.Summary)
	}
	wantCheck(t, rep, CheckKMSKeyRotation, Fail, []string{"kms:GetKeyRotationStatus"}, []string{"DescribeStateKey"})
	wantCheck(t, rep, CheckParameter, Fail, []string{"ssm:DescribeParameters", "10,000-parameter quota"}, []string{"ListStateParts"})
	wantCheck(t, rep, CheckState, Pass, nil, nil)
	wantCheck(t, rep, CheckSSMWriteParts, Pass, nil, nil)
	wantCheck(t, rep, CheckKMSEncrypt, Pass, nil, nil)
	wantCheck(t, rep, CheckKMSDecrypt, Pass, nil, nil)
}
