package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmstate/ssmstate/audit"
	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/policy"
	"github.com/ssmstate/ssmstate/store"
)

// Tests of `ssmstate policy` and `ssmstate audit`, run as the binary
// against the local endpoint with access control on. What the generated
// policy allows and denies is proven in package proof.

const iamAcct = "123456789012"

var (
	cliAdmin = emulator.IAMPrincipal{
		ARN: "arn:aws:iam::" + iamAcct + ":user/admin", AccessKeyID: "AKIAADMIN0000000001", SecretAccessKey: "admin-secret",
		Policies: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)},
	}
	cliSnoop = emulator.IAMPrincipal{
		ARN: "arn:aws:iam::" + iamAcct + ":user/snoop", AccessKeyID: "AKIASNOOP0000000001", SecretAccessKey: "snoop-secret",
		Policies: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"*"}]}`)},
	}
)

// iamCLI is an endpoint with access control, a customer key alias/ts-prod
// made by the admin, and the key's ARN.
func iamCLI(t *testing.T) (*emulator.Server, string) {
	t.Helper()
	srv := emulator.NewTestServer(t, emulator.WithIAMConfig(emulator.IAMConfig{Account: iamAcct, Principals: []emulator.IAMPrincipal{cliAdmin, cliSnoop}}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := kms.NewFromConfig(srv.AWSConfigWithCredentials("us-east-1", cliAdmin.AccessKeyID, cliAdmin.SecretAccessKey))
	out, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ts-prod"), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	return srv, aws.ToString(out.KeyMetadata.Arn)
}

func envAs(t *testing.T, url string, p emulator.IAMPrincipal) []string {
	return append(doctorEnv(t, url), "AWS_ACCESS_KEY_ID="+p.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+p.SecretAccessKey)
}

func TestCLIPolicy(t *testing.T) {
	srv, keyARN := iamCLI(t)
	loc := "arn:aws:ssm:us-east-1:" + iamAcct + ":parameter/ts/node1?kmsKey=alias/ts-prod"
	role := "arn:aws:iam::" + iamAcct + ":role/ts-node1"
	env := envAs(t, srv.URL, cliAdmin)

	// JSON: the alias resolved to the key's ARN; the same as the library's.
	out, stderr, code := doctorRun(t, env, "policy", "--role-arn", role, loc)
	if code != 0 {
		t.Fatalf("policy exit %d: %s", code, stderr)
	}
	var got policy.Policy
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("policy --format json is not JSON: %v\n%s", err, out)
	}
	l, _ := locator.Parse(loc)
	want, _ := policy.Generate(l, policy.Options{KeyARN: keyARN, RoleARN: role})
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("printed policy differs from policy.Generate:\n%s", out)
	}
	if got.KeyARN != keyARN || !strings.Contains(out, `"`+keyARN+`"`) || strings.Contains(out, "kms:ResourceAliases") {
		t.Errorf("the key is not named by its ARN %s:\n%s", keyARN, out)
	}

	// Terraform.
	out, stderr, code = doctorRun(t, env, "policy", "--format", "terraform", "--role-arn", role, loc)
	if code != 0 {
		t.Fatalf("policy --format terraform exit %d: %s", code, stderr)
	}
	for _, s := range []string{`data "aws_iam_policy_document" "ssmstate_ts_node1"`, `data "aws_iam_policy_document" "ssmstate_ts_node1_key_policy"`,
		`identifiers = ["` + role + `"]`, `variable = "kms:ViaService"`, `"` + keyARN + `"`, `"arn:aws:ssm:us-east-1:` + iamAcct + `:parameter/ts/node1.part-*"`} {
		if !strings.Contains(out, s) {
			t.Errorf("terraform output lacks %s:\n%s", s, out)
		}
	}

	// Offline: no AWS call, the alias-based form and its note.
	out, stderr, code = doctorRun(t, doctorEnv(t, "http://127.0.0.1:1"), "policy", "--offline", loc)
	if code != 0 || !strings.Contains(out, "kms:ResourceAliases") || !strings.Contains(out, "IAM cannot scope KMS actions by alias") {
		t.Errorf("--offline: exit %d, stderr %s, output:\n%s", code, stderr, out)
	}

	// A principal that may not describe the key: exit 1, naming the way out.
	_, stderr, code = doctorRun(t, envAs(t, srv.URL, cliSnoop), "policy", loc)
	if code != 1 || !strings.Contains(stderr, "kms:DescribeKey") || !strings.Contains(stderr, "--offline") {
		t.Errorf("alias not resolvable: exit %d, stderr %s", code, stderr)
	}
	// Usage errors.
	for _, args := range [][]string{{"policy", "--format", "yaml", loc}, {"policy", "mem:"}, {"policy", "not-a-locator"}} {
		if _, stderr, code := doctorRun(t, env, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}

func TestCLIAudit(t *testing.T) {
	srv, _ := iamCLI(t)
	loc := "arn:aws:ssm:us-east-1:" + iamAcct + ":parameter/ts/node1?kmsKey=alias/ts-prod"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, loc, store.WithAWSConfig(srv.AWSConfigWithCredentials("us-east-1", cliAdmin.AccessKeyID, cliAdmin.SecretAccessKey)))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteState(ctx, "_machinekey", []byte("privkey:audit")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	snoop := ssm.NewFromConfig(srv.AWSConfigWithCredentials("us-east-1", cliSnoop.AccessKeyID, cliSnoop.SecretAccessKey))
	if _, err := snoop.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ts/node1"), WithDecryption: aws.Bool(true)}); err == nil {
		t.Fatal("the snooper decrypted the state")
	}
	// The admin reads it back: a decryption through SSM.
	if st, err = store.Open(ctx, loc, store.WithAWSConfig(srv.AWSConfigWithCredentials("us-east-1", cliAdmin.AccessKeyID, cliAdmin.SecretAccessKey))); err != nil {
		t.Fatal(err)
	}
	st.Close()

	env := envAs(t, srv.URL, cliAdmin)
	out, stderr, code := doctorRun(t, env, "audit", "--since", "1h", loc)
	if code != 0 {
		t.Fatalf("audit exit %d: %s", code, stderr)
	}
	for _, s := range []string{"DENIED   " + cliSnoop.ARN + "  kms:Decrypt (via SSM)  /ts/node1", "decrypt  " + cliAdmin.ARN + "  kms:Decrypt (via SSM)  /ts/node1",
		"write    " + cliAdmin.ARN + "  ssm:PutParameter  /ts/node1", cliSnoop.ARN + ": 0 decrypts"} {
		if !strings.Contains(out, s) {
			t.Errorf("audit output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "privkey") {
		t.Errorf("audit output shows the state:\n%s", out)
	}

	out, stderr, code = doctorRun(t, env, "audit", "--json", loc)
	var rep audit.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("audit --json: exit %d, %s\n%s", code, stderr, out)
	}
	denied := false
	for _, e := range rep.Entries {
		denied = denied || (e.Denied && e.Principal == cliSnoop.ARN && e.Action == "kms:Decrypt")
	}
	if !denied {
		t.Errorf("audit --json has no denied kms:Decrypt by %s:\n%s", cliSnoop.ARN, out)
	}

	// Without cloudtrail:LookupEvents: exit 1, naming the right.
	_, stderr, code = doctorRun(t, envAs(t, srv.URL, cliSnoop), "audit", loc)
	if code != 1 || !strings.Contains(stderr, "cloudtrail:LookupEvents") {
		t.Errorf("audit without cloudtrail:LookupEvents: exit %d, stderr %s", code, stderr)
	}
	if _, _, code := doctorRun(t, env, "audit", "--since", "-1h", loc); code != 2 {
		t.Errorf("--since -1h: exit %d, want 2", code)
	}
}
