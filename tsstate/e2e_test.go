package tsstate_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"tailscale.com/ipn"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/internal/tsnettest"
	"github.com/ssmstate/ssmstate/tsstate"
)

const (
	e2eRegion  = "us-east-1"
	e2eAlias   = "alias/ts-e2e"
	e2eLocator = "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1?kmsKey=" + e2eAlias
)

// useEndpoint points aws-sdk-go-v2's default configuration — which is what
// a program using tsstate.New gets — at the local endpoint, with dummy
// credentials, and keeps the machine's own AWS files and instance metadata
// out of the test.
func useEndpoint(t *testing.T, endpointVar, url string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		endpointVar:                   url,
		"AWS_ACCESS_KEY_ID":           emulator.DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       emulator.DummySecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// createKey makes a customer KMS key named by alias on the endpoint and
// returns its metadata.
func createKey(t *testing.T, srv *emulator.Server, alias string) (keyID, keyARN string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := kms.NewFromConfig(srv.AWSConfig(e2eRegion))
	out, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("Tailscale node state, " + alias)})
	if err != nil {
		t.Fatalf("create KMS key: %v", err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("create KMS alias %s: %v", alias, err)
	}
	return aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
}

// A tsnet node whose state lives in SSM through tsstate, under a customer
// key, logs in once and comes back after a restart — brand-new server,
// brand-new store — as the same node without logging in again; the
// endpoint holds the state only as SecureString under that key, and the
// machine key appears nowhere in its data in plaintext.
func TestTsnetStateInSSM(t *testing.T) {
	dataDir := t.TempDir()
	ep, err := emulator.Start(emulator.WithDataDir(dataDir))
	if err != nil {
		t.Fatalf("start the local endpoint: %v", err)
	}
	t.Cleanup(func() { ep.Close() }) // Close is idempotent; closed below before the scan
	useEndpoint(t, "AWS_ENDPOINT_URL", ep.URL)
	keyID, keyARN := createKey(t, ep, e2eAlias)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tn := tsnettest.StartTailnet(t)

	// First start: logs in.
	st1, err := tsstate.New(ctx, e2eLocator)
	if err != nil {
		t.Fatalf("tsstate.New(%s): %v", e2eLocator, err)
	}
	if _, ok := st1.(ipn.EncryptedStateStore); !ok || !st1.Encrypted() {
		t.Errorf("the SSM store %v does not report encryption at rest (ipn.EncryptedStateStore)", st1)
	}
	n1 := tn.StartNode(t, "node1", st1, true)
	if err := n1.Server.Close(); err != nil {
		t.Fatalf("close the first node: %v", err)
	}
	if err := st1.Close(); err != nil {
		t.Fatalf("close the first store: %v", err)
	}
	if tn.Logins() != 1 {
		t.Fatalf("first start completed %d logins, want 1", tn.Logins())
	}

	// Restart: a brand-new store and a brand-new server (in a new directory)
	// on the same locator. StartNode fails at once if it asks to log in.
	st2, err := tsstate.New(ctx, e2eLocator)
	if err != nil {
		t.Fatalf("tsstate.New(%s) for the restart: %v", e2eLocator, err)
	}
	n2 := tn.StartNode(t, "node1", st2, false)
	if a, b := n1.Status.Self.PublicKey, n2.Status.Self.PublicKey; a != b || a.IsZero() {
		t.Errorf("node key changed across the restart: %v then %v", a, b)
	}
	if a, b := n1.Status.TailscaleIPs, n2.Status.TailscaleIPs; !slices.Equal(a, b) || len(a) == 0 {
		t.Errorf("Tailscale IPs changed across the restart: %v then %v", a, b)
	}
	if n := tn.Logins(); n != 1 {
		t.Errorf("logins after the restart = %d, want still 1", n)
	}
	if n := tn.Control.NumNodes(); n != 1 {
		t.Errorf("control server knows %d nodes, want 1", n)
	}
	t.Logf("node key %v, IPs %v; %d register requests over both starts, 1 login", n2.Status.Self.PublicKey, n2.Status.TailscaleIPs, tn.Registers())

	machineKey, err := st2.ReadState(ipn.MachineKeyStateKey)
	if err != nil || len(machineKey) == 0 {
		t.Fatalf("read %s through the store: %d bytes, %v", ipn.MachineKeyStateKey, len(machineKey), err)
	}
	if err := n2.Server.Close(); err != nil {
		t.Fatalf("close the restarted node: %v", err)
	}
	if err := st2.Close(); err != nil {
		t.Fatalf("close the second store: %v", err)
	}

	// The endpoint holds the state only as SecureString under the key.
	c := ssm.NewFromConfig(ep.AWSConfig(e2eRegion))
	var params []types.ParameterMetadata
	for p := ssm.NewDescribeParametersPaginator(c, &ssm.DescribeParametersInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeParameters: %v", err)
		}
		params = append(params, page.Parameters...)
	}
	if !slices.ContainsFunc(params, func(p types.ParameterMetadata) bool { return aws.ToString(p.Name) == "/ts/node1" }) {
		t.Fatalf("no parameter /ts/node1 on the endpoint; have %d parameters", len(params))
	}
	for _, p := range params {
		name, kid := aws.ToString(p.Name), aws.ToString(p.KeyId)
		if p.Type != types.ParameterTypeSecureString {
			t.Errorf("parameter %s is %s, want SecureString", name, p.Type)
		}
		if kid != e2eAlias && kid != keyID && kid != keyARN {
			t.Errorf("parameter %s is encrypted under %q, want the customer key %s (%s)", name, kid, e2eAlias, keyARN)
		}
	}
	t.Logf("%d parameter(s) on the endpoint, all SecureString under %s", len(params), e2eAlias)

	// A plain String parameter is a control: the scan below must find its
	// value, or it would not find a plaintext machine key either.
	const control = "plaintext-control-7c1d2e9f"
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/control/plain"), Value: aws.String(control), Type: types.ParameterTypeString}); err != nil {
		t.Fatalf("put the control parameter: %v", err)
	}
	if err := ep.Close(); err != nil {
		t.Fatalf("close the endpoint: %v", err)
	}

	// No plaintext of the machine key anywhere in the endpoint's data: not
	// the value ("privkey:<hex>"), not its hex, not its raw bytes, not its
	// base64 (how the state's JSON carries it).
	if hits := scanFor(t, dataDir, []byte(control)); len(hits) == 0 {
		t.Fatalf("the scan did not find the plain String control value in %s; it cannot show that the machine key is absent", dataDir)
	}
	needles := map[string][]byte{
		"value":  machineKey,
		"base64": []byte(base64.StdEncoding.EncodeToString(machineKey)),
	}
	if hexPart, ok := strings.CutPrefix(string(machineKey), "privkey:"); ok {
		needles["hex"] = []byte(hexPart)
		if raw, err := hex.DecodeString(hexPart); err == nil {
			needles["raw bytes"] = raw
		}
	} else {
		t.Errorf("%s is not of the form privkey:<hex> (%d bytes); checked as a whole only", ipn.MachineKeyStateKey, len(machineKey))
	}
	for what, n := range needles {
		if hits := scanFor(t, dataDir, n); len(hits) > 0 {
			t.Errorf("the machine key (%s) is in plaintext in the endpoint's data: %v", what, hits)
		}
	}
}

// scanFor returns the files under dir whose bytes contain needle.
func scanFor(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", dir, err)
	}
	return hits
}
