package policy

import (
	"bytes"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ssmstate/ssmstate/locator"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const testKeyARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func mustParse(t *testing.T, s string) locator.Locator {
	t.Helper()
	l, err := locator.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func statement(t *testing.T, d []Statement, sid string) Statement {
	t.Helper()
	for _, s := range d {
		if s.Sid == sid {
			return s
		}
	}
	t.Fatalf("no statement %s", sid)
	return Statement{}
}

func TestStandardTier(t *testing.T) {
	p, err := Generate(mustParse(t, "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod"), Options{KeyARN: testKeyARN, RoleARN: "arn:aws:iam::123456789012:role/n1"})
	if err != nil {
		t.Fatal(err)
	}
	param := "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1"
	st := statement(t, p.Identity.Statement, SidState)
	if want := []string{param, param + ".part-*", param + ".moving"}; !slices.Equal(st.Resource, want) {
		t.Errorf("SSM resources %v, want %v", st.Resource, want)
	}
	use := statement(t, p.Identity.Statement, SidUseKeyViaSSM)
	if !slices.Equal(use.Action, []string{"kms:Decrypt", "kms:Encrypt"}) {
		t.Errorf("Standard tier: KMS actions %v, want Decrypt and Encrypt only", use.Action)
	}
	if !slices.Equal(use.Resource, []string{testKeyARN}) {
		t.Errorf("KMS resource %v", use.Resource)
	}
	if v := use.Condition["StringEquals"]["kms:ViaService"]; !slices.Equal(v, []string{"ssm.us-east-1.amazonaws.com"}) {
		t.Errorf("ViaService %v", v)
	}
	if v := use.Condition["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"]; !slices.Equal(v, st.Resource) {
		t.Errorf("encryption context %v", v)
	}
	desc := statement(t, p.Identity.Statement, SidDescribeKey)
	if desc.Condition != nil {
		t.Errorf("DescribeKey is not called through SSM, yet conditioned: %v", desc.Condition)
	}
	for _, s := range p.KeyPolicy {
		if !slices.Equal(s.Principal["AWS"], []string{"arn:aws:iam::123456789012:role/n1"}) || !slices.Equal(s.Resource, []string{"*"}) {
			t.Errorf("key-policy statement %+v", s)
		}
	}
	if kp := statement(t, p.KeyPolicy, SidKeyUseViaSSM); !slices.Equal(kp.Action, use.Action) {
		t.Errorf("key policy allows %v, identity %v", kp.Action, use.Action)
	}
}

func TestAdvancedTierAddsGenerateDataKey(t *testing.T) {
	p, err := Generate(mustParse(t, "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey="+testKeyARN+"&tier=advanced"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.KeyARN != testKeyARN {
		t.Errorf("key ARN %s", p.KeyARN)
	}
	if a := statement(t, p.Identity.Statement, SidUseKeyViaSSM).Action; !slices.Contains(a, "kms:GenerateDataKey") || !slices.Contains(a, "kms:Encrypt") {
		t.Errorf("Advanced tier: %v, want Encrypt (main parameter) and GenerateDataKey (parts)", a)
	}
	if !strings.Contains(strings.Join(p.Notes, " "), "role/NODE_ROLE") {
		t.Errorf("no note on the placeholder role: %v", p.Notes)
	}
}

func TestKeyIDBecomesARN(t *testing.T) {
	p, err := Generate(mustParse(t, "arn:aws:ssm:eu-west-1:123456789012:parameter/n?kmsKey=1234abcd-12ab-34cd-56ef-1234567890ab"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"; p.KeyARN != want {
		t.Errorf("key ARN %s, want %s", p.KeyARN, want)
	}
}

func TestOfflineAlias(t *testing.T) {
	l := mustParse(t, "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey=alias/ts-prod")
	if !NeedsResolving(l) {
		t.Fatal("an alias needs resolving")
	}
	p, err := Generate(l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	use := statement(t, p.Identity.Statement, SidUseKeyViaSSM)
	if !slices.Equal(use.Resource, []string{"arn:aws:kms:us-east-1:123456789012:key/*"}) ||
		!slices.Equal(use.Condition["ForAnyValue:StringEquals"]["kms:ResourceAliases"], []string{"alias/ts-prod"}) {
		t.Errorf("alias form: %+v", use)
	}
	if !strings.Contains(strings.Join(p.Notes, " "), "IAM cannot scope KMS actions by alias") {
		t.Errorf("no note on the alias form: %v", p.Notes)
	}
}

func TestNoDoctorAndManagedKey(t *testing.T) {
	p, err := Generate(mustParse(t, "arn:aws:ssm:us-east-1:123456789012:parameter/n?kmsKey="+testKeyARN), Options{NoDoctor: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(p.Identity.Statement, p.KeyPolicy...) {
		if s.Sid == SidDoctorProbes || s.Sid == SidKeyDoctor || slices.Contains(s.Action, "kms:GetKeyRotationStatus") {
			t.Errorf("--no-doctor kept %+v", s)
		}
	}
	p, err = Generate(mustParse(t, "arn:aws:ssm:us-east-1:123456789012:parameter/n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Identity.Statement {
		if strings.HasPrefix(s.Action[0], "kms:") {
			t.Errorf("aws/ssm: KMS statement %+v", s)
		}
	}
	if len(p.KeyPolicy) != 0 || !strings.Contains(strings.Join(p.Notes, " "), "aws/ssm") {
		t.Errorf("aws/ssm: key policy %v, notes %v", p.KeyPolicy, p.Notes)
	}
	if _, err := Generate(mustParse(t, "mem:"), Options{}); err == nil {
		t.Error("a mem: locator got a policy")
	}
}

func TestTerraformGolden(t *testing.T) {
	p, err := Generate(mustParse(t, "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod"), Options{KeyARN: testKeyARN, RoleARN: "arn:aws:iam::123456789012:role/ts-node1"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.WriteTerraform(&b); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/terraform.golden"
	if *update {
		os.WriteFile(golden, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("terraform output differs from %s (go test ./policy -update to accept):\n%s", golden, b.String())
	}
	if got := hclString("${x} %{y}"); got != `"$${x} %%{y}"` {
		t.Errorf("hclString escapes templates as %s", got)
	}
}

func TestViaServiceInChina(t *testing.T) {
	l := mustParse(t, "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/n?kmsKey=1234abcd-12ab-34cd-56ef-1234567890ab")
	if got := ViaService(l); got != "ssm.cn-north-1.amazonaws.com.cn" {
		t.Errorf("ViaService = %s", got)
	}
	p, err := Generate(l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.KeyARN, "arn:aws-cn:kms:cn-north-1:") {
		t.Errorf("key ARN %s", p.KeyARN)
	}
}
