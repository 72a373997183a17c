package tsstate_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"tailscale.com/ipn"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/internal/tsnettest"
	"github.com/ssmstate/ssmstate/tsstate"
)

const (
	iamAccount = "123456789012"
	adminKeyID = "AKIAADMIN0000000001"
	adminKey   = "admin-secret"
	nodeKeyID  = "AKIANODE10000000001"
	nodeKey    = "node1-secret"
)

// readmePolicy returns the IAM policy of the README's Tailscale section
// ("**Permissions.**"), with its key placeholder replaced by keyID, so that
// the policy users copy is the one tested.
func readmePolicy(t *testing.T, keyID string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("read the README: %v", err)
	}
	_, rest, ok := strings.Cut(string(b), "**Permissions.**")
	if ok {
		_, rest, ok = strings.Cut(rest, "```json\n")
	}
	var doc string
	if ok {
		doc, _, ok = strings.Cut(rest, "```")
	}
	if !ok {
		t.Fatal("README.md has no ```json block after **Permissions.** in its Tailscale section")
	}
	doc = strings.ReplaceAll(doc, "KEY-ID", keyID)
	if !json.Valid([]byte(doc)) {
		t.Fatalf("the README's policy is not valid JSON:\n%s", doc)
	}
	return json.RawMessage(doc)
}

// iamEndpoint starts a local endpoint with access control: an admin who may
// do anything, and node1 with the given policy.
func iamEndpoint(t *testing.T, nodePolicy func(keyID string) json.RawMessage) *emulator.Server {
	t.Helper()
	allowAll := json.RawMessage(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}`)
	// The key must exist before node1's policy can name it, and the IAM
	// configuration is fixed at start: so create the key on a first
	// endpoint over a data directory, and restart it with node1's policy.
	dir := t.TempDir()
	cfg := emulator.IAMConfig{Account: iamAccount, Principals: []emulator.IAMPrincipal{
		{ARN: "arn:aws:iam::" + iamAccount + ":user/admin", AccessKeyID: adminKeyID, SecretAccessKey: adminKey, Policies: []json.RawMessage{allowAll}},
	}}
	ep, err := emulator.Start(emulator.WithDataDir(dir), emulator.WithAccount(iamAccount), emulator.WithIAMConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := kms.NewFromConfig(ep.AWSConfigWithCredentials(e2eRegion, adminKeyID, adminKey))
	out, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("create key as admin: %v", err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ts-prod"), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("create alias as admin: %v", err)
	}
	if err := ep.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Principals = append(cfg.Principals, emulator.IAMPrincipal{
		ARN: "arn:aws:iam::" + iamAccount + ":user/node1", AccessKeyID: nodeKeyID, SecretAccessKey: nodeKey,
		Policies: []json.RawMessage{nodePolicy(aws.ToString(out.KeyMetadata.KeyId))},
	})
	return emulator.NewTestServer(t, emulator.WithDataDir(dir), emulator.WithAccount(iamAccount), emulator.WithIAMConfig(cfg))
}

// The README's policy is enough for a tsnet node to log in, restart and
// keep its identity with its state in SSM under the customer key.
func TestReadmePolicySuffices(t *testing.T) {
	ep := iamEndpoint(t, func(keyID string) json.RawMessage { return readmePolicy(t, keyID) })
	useEndpoint(t, "AWS_ENDPOINT_URL", ep.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", nodeKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", nodeKey)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const loc = "arn:aws:ssm:us-east-1:" + iamAccount + ":parameter/ts/node1?kmsKey=alias/ts-prod"
	lc := tsnettest.RunLifecycle(t, tsnettest.StartTailnet(t), ep, "node1", func() (ipn.StateStore, error) {
		return tsstate.New(ctx, loc)
	})
	t.Logf("with the README's policy: first start %v; restart %v", lc.First, lc.Restart)
}

// Without kms:Decrypt on the key, ssm:GetParameter is not enough to read
// the node's state: opening it fails and says what to grant.
func TestWithoutDecryptNoState(t *testing.T) {
	ep := iamEndpoint(t, func(keyID string) json.RawMessage {
		p := readmePolicy(t, keyID)
		return json.RawMessage(strings.Replace(string(p), `"kms:Decrypt"`, `"kms:ListAliases"`, 1))
	})
	// Write a state as admin first.
	useEndpoint(t, "AWS_ENDPOINT_URL", ep.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", adminKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", adminKey)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const loc = "arn:aws:ssm:us-east-1:" + iamAccount + ":parameter/ts/node1?kmsKey=alias/ts-prod"
	st, err := tsstate.New(ctx, loc)
	if err != nil {
		t.Fatalf("open as admin: %v", err)
	}
	if err := st.WriteState(ipn.MachineKeyStateKey, []byte("privkey:0123")); err != nil {
		t.Fatalf("write as admin: %v", err)
	}
	st.Close()

	t.Setenv("AWS_ACCESS_KEY_ID", nodeKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", nodeKey)
	st, err = tsstate.New(ctx, loc)
	if err == nil {
		st.Close()
		t.Fatal("node1 without kms:Decrypt opened the state")
	}
	if !strings.Contains(err.Error(), "kms:Decrypt") {
		t.Errorf("the error does not name kms:Decrypt: %v", err)
	}
	t.Logf("error: %v", err)
}
