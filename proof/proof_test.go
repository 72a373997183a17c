// Package proof holds the access-control proof tests of issue 5: on the
// local endpoint with IAM enforcement on, a node principal holding exactly
// the policy `ssmstate policy` generates can run doctor and the store, a
// snooping principal with SSM-wide read cannot decrypt a node's state, two
// nodes sharing one key cannot read each other's state, every statement and
// action of the generated policy is needed, and `ssmstate audit` shows who
// was denied and who decrypted.
//
// Authentication failures (bad signature, unknown access key, stale
// X-Amz-Date) are proven in emulator/access_test.go:
// TestAccessRefusesBadSignature, TestAccessRefusesTamperedBody,
// TestAccessRefusesUnknownAccessKey, TestAccessSessionToken and
// TestAccessRefusesStaleTimestamp; they are not repeated here.
package proof

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/audit"
	"github.com/ssmstate/ssmstate/doctor"
	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/policy"
	"github.com/ssmstate/ssmstate/store"
	_ "github.com/ssmstate/ssmstate/store/ssmparam" // SSM locators
)

const (
	account  = "123456789012"
	region   = "us-east-1"
	keyAlias = "alias/ts-shared"
	locA     = "arn:aws:ssm:" + region + ":" + account + ":parameter/ts/nodeA?kmsKey=" + keyAlias
	locB     = "arn:aws:ssm:" + region + ":" + account + ":parameter/ts/nodeB?kmsKey=" + keyAlias
)

var allowAll = json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)

var admin = principal("admin", allowAll)

// principal is a role of the account signing with its own static key.
func principal(name string, policies ...json.RawMessage) emulator.IAMPrincipal {
	sum := sha256.Sum256([]byte(name))
	id := strings.ToUpper(hex.EncodeToString(sum[:8]))
	return emulator.IAMPrincipal{
		ARN:         "arn:aws:iam::" + account + ":role/" + name,
		AccessKeyID: "AKIA" + id, SecretAccessKey: name + "-secret",
		Policies: policies,
	}
}

// world is the endpoint with access control on, the shared customer key
// (KMS's default key policy: the account root delegates to IAM; rotation
// on) and the generated policies of nodes A and B.
type world struct {
	t         *testing.T
	srv       *emulator.Server
	keyARN    string
	polA      *policy.Policy
	polB      *policy.Policy
	ctx       context.Context
	principal map[string]emulator.IAMPrincipal
}

// newWorld creates the key on a first endpoint (so its ARN, which the
// generated policies name, is known), then restarts the endpoint on the
// same data directory with every principal the test needs: extra(w)
// returns them given the generated policies.
func newWorld(t *testing.T, extra func(w *world) []emulator.IAMPrincipal) *world {
	return newWorldKeyPolicy(t, "", extra)
}

// newWorldKeyPolicy is newWorld with the key created under keyPolicy
// (empty: KMS's default policy).
func newWorldKeyPolicy(t *testing.T, keyPolicy string, extra func(w *world) []emulator.IAMPrincipal) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	w := &world{t: t, ctx: ctx, principal: map[string]emulator.IAMPrincipal{}}
	dir := t.TempDir()

	setup, err := emulator.Start(emulator.WithDataDir(dir), emulator.WithIAMConfig(emulator.IAMConfig{Account: account, Principals: []emulator.IAMPrincipal{admin}}))
	if err != nil {
		t.Fatal(err)
	}
	k := kms.NewFromConfig(setup.AWSConfigWithCredentials(region, admin.AccessKeyID, admin.SecretAccessKey))
	in := &kms.CreateKeyInput{Description: aws.String("ts-shared")}
	if keyPolicy != "" {
		in.Policy = aws.String(keyPolicy)
	}
	out, err := k.CreateKey(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	w.keyARN = aws.ToString(out.KeyMetadata.Arn)
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(keyAlias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	// The policies as `ssmstate policy` makes them: the alias resolved
	// with DescribeKey.
	w.polA = w.generate(ctx, k, locA)
	w.polB = w.generate(ctx, k, locB)
	if err := setup.Close(); err != nil {
		t.Fatal(err)
	}

	ps := []emulator.IAMPrincipal{admin}
	if extra != nil {
		ps = append(ps, extra(w)...)
	}
	for _, p := range ps {
		w.principal[p.ARN] = p
	}
	w.srv = emulator.NewTestServer(t, emulator.WithDataDir(dir), emulator.WithIAMConfig(emulator.IAMConfig{Account: account, Principals: ps}))
	return w
}

func (w *world) generate(ctx context.Context, k *kms.Client, loc string) *policy.Policy {
	w.t.Helper()
	l, err := locator.Parse(loc)
	if err != nil {
		w.t.Fatal(err)
	}
	keyARN, err := policy.ResolveKey(ctx, k, l)
	if err != nil {
		w.t.Fatal(err)
	}
	if keyARN != w.keyARN {
		w.t.Fatalf("ResolveKey(%s) = %s, want %s", keyAlias, keyARN, w.keyARN)
	}
	p, err := policy.Generate(l, policy.Options{KeyARN: keyARN})
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func docJSON(t *testing.T, d policy.Document) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) cfg(p emulator.IAMPrincipal) aws.Config {
	return w.srv.AWSConfigWithCredentials(region, p.AccessKeyID, p.SecretAccessKey)
}

// randomValue is incompressible, so a state holding it takes parts.
func randomValue(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// writeState opens loc as p, writes key=value and closes.
func (w *world) writeState(p emulator.IAMPrincipal, loc, key string, value []byte) error {
	st, err := store.Open(w.ctx, loc, store.WithAWSConfig(w.cfg(p)), store.WithTimeout(time.Minute))
	if err != nil {
		return err
	}
	defer st.Close()
	return st.WriteState(w.ctx, key, value)
}

// readState opens loc as p and reads key.
func (w *world) readState(p emulator.IAMPrincipal, loc, key string) ([]byte, error) {
	st, err := store.Open(w.ctx, loc, store.WithAWSConfig(w.cfg(p)), store.WithTimeout(time.Minute))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.ReadState(w.ctx, key)
}

// partCount is how many parts the main parameter's manifest names (0: the
// state is in the parameter itself), read as admin.
func (w *world) partCount(name string) int {
	w.t.Helper()
	out, err := ssm.NewFromConfig(w.cfg(admin)).GetParameter(w.ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		w.t.Fatal(err)
	}
	var m struct {
		Format *int `json:"ssmstate"`
		Parts  int  `json:"parts"`
	}
	if json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &m) != nil || m.Format == nil {
		return 0
	}
	return m.Parts
}

func reportText(rep *doctor.Report) string {
	var b strings.Builder
	rep.WriteText(&b)
	return b.String()
}

// (a) The node principal with exactly the generated policy (and the key's
// default policy, which delegates to IAM): doctor prints only PASS, and the
// store reads and writes a small and a multi-part state.
func TestGeneratedPolicySuffices(t *testing.T) {
	var node emulator.IAMPrincipal
	w := newWorld(t, func(w *world) []emulator.IAMPrincipal {
		node = principal("nodeA", docJSON(t, w.polA.Identity))
		return []emulator.IAMPrincipal{node}
	})

	// Doctor before the parameter exists, then after each write.
	cfg := w.cfg(node)
	rep := doctor.Run(w.ctx, locA, doctor.Options{AWSConfig: &cfg})
	wantAllPass(t, rep)

	if err := w.writeState(node, locA, "_machinekey", []byte("privkey:small")); err != nil {
		t.Fatalf("small write with the generated policy: %v", err)
	}
	if got, err := w.readState(node, locA, "_machinekey"); err != nil || string(got) != "privkey:small" {
		t.Fatalf("small read: %q, %v", got, err)
	}
	if n := w.partCount("/ts/nodeA"); n != 0 {
		t.Fatalf("small state took %d parts", n)
	}
	wantAllPass(t, doctor.Run(w.ctx, locA, doctor.Options{AWSConfig: &cfg}))

	big := randomValue(20 << 10) // > 4 KB: a manifest and parts
	if err := w.writeState(node, locA, "profile-big", big); err != nil {
		t.Fatalf("multi-part write with the generated policy: %v", err)
	}
	got, err := w.readState(node, locA, "profile-big")
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("multi-part read: %d bytes, %v", len(got), err)
	}
	if n := w.partCount("/ts/nodeA"); n < 2 {
		t.Fatalf("a %d-byte state took %d parts, want several", len(big), n)
	}
	// A second multi-part write supersedes and deletes the first
	// generation's parts (DeleteParameters) and re-reads.
	big2 := randomValue(24 << 10)
	if err := w.writeState(node, locA, "profile-big", big2); err != nil {
		t.Fatalf("second multi-part write: %v", err)
	}
	if got, err := w.readState(node, locA, "profile-big"); err != nil || !bytes.Equal(got, big2) {
		t.Fatalf("second multi-part read: %d bytes, %v", len(got), err)
	}
	// Only the parts of the generation in effect remain.
	desc, err := ssm.NewFromConfig(w.cfg(admin)).DescribeParameters(w.ctx, &ssm.DescribeParametersInput{MaxResults: aws.Int32(50),
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{"/ts/nodeA.part-"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := w.partCount("/ts/nodeA"); len(desc.Parameters) != n {
		t.Fatalf("%d part parameters exist, the manifest names %d: superseded parts were not deleted", len(desc.Parameters), n)
	}
	rep = doctor.Run(w.ctx, locA, doctor.Options{AWSConfig: &cfg})
	wantAllPass(t, rep)
	t.Logf("doctor with the generated policy on a multi-part state:\n%s", reportText(rep))
}

func wantAllPass(t *testing.T, rep *doctor.Report) {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Status != doctor.Pass {
			t.Errorf("doctor with exactly the generated policy: %s %s: %s (fix: %s)", c.Status, c.Name, c.Detail, c.Fix)
		}
	}
	if t.Failed() {
		t.Fatalf("report:\n%s", reportText(rep))
	}
}

// (b) A principal allowed ssm:GetParameter* on every parameter but nothing
// in KMS cannot decrypt the node's state, and nothing of it shows in what
// it gets back; the same principal reads a SecureString under the AWS
// managed key aws/ssm — the hole a customer key closes.
func TestSnooperCannotDecrypt(t *testing.T) {
	var node, snoop emulator.IAMPrincipal
	w := newWorld(t, func(w *world) []emulator.IAMPrincipal {
		node = principal("nodeA", docJSON(t, w.polA.Identity))
		snoop = principal("snoop", json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"*"}]}`))
		return []emulator.IAMPrincipal{node, snoop}
	})
	secret := []byte("privkey:" + hex.EncodeToString(randomValue(32)))
	big := randomValue(12 << 10)
	if err := w.writeState(node, locA, "_machinekey", secret); err != nil {
		t.Fatal(err)
	}
	if err := w.writeState(node, locA, "profile-big", big); err != nil {
		t.Fatal(err)
	}
	nParts := w.partCount("/ts/nodeA")
	if nParts < 2 {
		t.Fatalf("want a multi-part state, got %d parts", nParts)
	}
	// What the snooper must never see, in any encoding the state uses.
	leaks := []string{string(secret), base64.StdEncoding.EncodeToString(secret), hex.EncodeToString(big[:32]), base64.StdEncoding.EncodeToString(big[:48])}
	var seen strings.Builder

	c := ssm.NewFromConfig(w.cfg(snoop))
	_, err := c.GetParameter(w.ctx, &ssm.GetParameterInput{Name: aws.String("/ts/nodeA"), WithDecryption: aws.Bool(true)})
	wantDenied(t, err, snoop.ARN, "kms:Decrypt", w.keyARN)
	fmt.Fprintln(&seen, err)

	names := []string{"/ts/nodeA", "/ts/nodeA.moving"}
	for i := range nParts {
		names = append(names, fmt.Sprintf("/ts/nodeA.part-%d-%d", 1, i)) // may not be the generation in effect; those are simply invalid
	}
	// The parts of the generation in effect, found without decryption.
	out, err := c.GetParameter(w.ctx, &ssm.GetParameterInput{Name: aws.String("/ts/nodeA")})
	if err != nil {
		t.Fatalf("GetParameter without decryption: %v", err)
	}
	fmt.Fprintln(&seen, aws.ToString(out.Parameter.Value))
	parts, err := c.GetParametersByPath(w.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/ts"), WithDecryption: aws.Bool(true)})
	if err == nil {
		for _, p := range parts.Parameters {
			fmt.Fprintln(&seen, aws.ToString(p.Value))
		}
		t.Errorf("GetParametersByPath with decryption of the node's parameters succeeded for the snooper")
	} else {
		wantDenied(t, err, snoop.ARN, "kms:Decrypt", "")
		fmt.Fprintln(&seen, err)
	}
	gp, err := c.GetParameters(w.ctx, &ssm.GetParametersInput{Names: names[:min(len(names), 10)], WithDecryption: aws.Bool(true)})
	if err == nil {
		for _, p := range gp.Parameters {
			fmt.Fprintln(&seen, aws.ToString(p.Value))
			t.Errorf("GetParameters with decryption returned %s to the snooper", aws.ToString(p.Name))
		}
	} else {
		fmt.Fprintln(&seen, err)
	}
	// Through the store, as the snooper.
	_, err = w.readState(snoop, locA, "_machinekey")
	if err == nil {
		t.Fatalf("the snooper opened the node's state")
	}
	fmt.Fprintln(&seen, err)
	for _, l := range leaks {
		if strings.Contains(seen.String(), l) {
			t.Fatalf("the snooper saw part of the state (%.12s…) in:\n%s", l, seen.String())
		}
	}

	// The same principal reads a SecureString under aws/ssm: anyone with
	// ssm:GetParameter can, which is why the node names its own key.
	a := ssm.NewFromConfig(w.cfg(admin))
	if _, err := a.PutParameter(w.ctx, &ssm.PutParameterInput{Name: aws.String("/shared/db-password"), Value: aws.String("hunter2-managed-key"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetParameter(w.ctx, &ssm.GetParameterInput{Name: aws.String("/shared/db-password"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(got.Parameter.Value) != "hunter2-managed-key" {
		t.Fatalf("the snooper should read a SecureString under aws/ssm: %v", err)
	}
}

// wantDenied checks err is AWS's AccessDeniedException naming who, what and
// (when given) on which resource.
func wantDenied(t *testing.T, err error, who, action, resource string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("want AccessDeniedException naming %s, got %v", action, err)
	}
	for _, s := range []string{who, action, resource} {
		if s != "" && !strings.Contains(ae.ErrorMessage(), s) {
			t.Errorf("denial %q does not name %s", ae.ErrorMessage(), s)
		}
	}
}

// (c) Nodes A and B share one key, each with its own generated policy:
// neither can decrypt the other's state — not through SSM, even when also
// allowed to read every parameter, and not by calling KMS directly with the
// other's ciphertext. The encryption-context condition is what stops it.
func TestNodesSharingAKey(t *testing.T) {
	var nodeA, nodeB, nodeAWide emulator.IAMPrincipal
	w := newWorld(t, func(w *world) []emulator.IAMPrincipal {
		nodeA = principal("nodeA", docJSON(t, w.polA.Identity))
		nodeB = principal("nodeB", docJSON(t, w.polB.Identity))
		// Node A's policy plus SSM read of every parameter: only KMS
		// stands between it and node B's state.
		nodeAWide = principal("nodeAWide", docJSON(t, w.polA.Identity),
			json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"*"}]}`))
		return []emulator.IAMPrincipal{nodeA, nodeB, nodeAWide}
	})
	secretA, secretB := []byte("privkey:node-a"), []byte("privkey:node-b-"+hex.EncodeToString(randomValue(16)))
	bigB := randomValue(10 << 10)
	if err := w.writeState(nodeA, locA, "_machinekey", secretA); err != nil {
		t.Fatal(err)
	}
	if err := w.writeState(nodeB, locB, "_machinekey", secretB); err != nil {
		t.Fatal(err)
	}
	if err := w.writeState(nodeB, locB, "profile-big", bigB); err != nil {
		t.Fatal(err)
	}
	// Each reads its own.
	if got, err := w.readState(nodeA, locA, "_machinekey"); err != nil || !bytes.Equal(got, secretA) {
		t.Fatalf("node A reads its state: %v", err)
	}
	if got, err := w.readState(nodeB, locB, "profile-big"); err != nil || !bytes.Equal(got, bigB) {
		t.Fatalf("node B reads its state: %v", err)
	}

	// Node A through the store and SSM: refused by SSM (no right on B's
	// parameter).
	if _, err := w.readState(nodeA, locB, "_machinekey"); err == nil || strings.Contains(err.Error(), string(secretB)) {
		t.Fatalf("node A opened node B's state (or saw it): %v", err)
	}
	_, err := ssm.NewFromConfig(w.cfg(nodeA)).GetParameter(w.ctx, &ssm.GetParameterInput{Name: aws.String("/ts/nodeB"), WithDecryption: aws.Bool(true)})
	wantDenied(t, err, nodeA.ARN, "ssm:GetParameter", "parameter/ts/nodeB")

	// Allowed SSM-wide read, node A is stopped by KMS: its kms:Decrypt is
	// only for its own parameter's encryption context.
	wide := ssm.NewFromConfig(w.cfg(nodeAWide))
	_, err = wide.GetParameter(w.ctx, &ssm.GetParameterInput{Name: aws.String("/ts/nodeB"), WithDecryption: aws.Bool(true)})
	wantDenied(t, err, nodeAWide.ARN, "kms:Decrypt", w.keyARN)
	if _, err := w.readState(nodeAWide, locB, "profile-big"); err == nil {
		t.Fatalf("node A with SSM-wide read opened node B's state")
	}

	// Directly in KMS, with B's ciphertext (a Standard SecureString's value
	// without decryption is the KMS ciphertext).
	enc, err := wide.GetParameter(w.ctx, &ssm.GetParameterInput{Name: aws.String("/ts/nodeB")})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := base64.StdEncoding.DecodeString(aws.ToString(enc.Parameter.Value))
	if err != nil {
		t.Fatalf("node B's stored value is not base64 ciphertext: %v", err)
	}
	k := kms.NewFromConfig(w.cfg(nodeAWide))
	_, err = k.Decrypt(w.ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String(w.keyARN),
		EncryptionContext: map[string]string{"PARAMETER_ARN": "arn:aws:ssm:" + region + ":" + account + ":parameter/ts/nodeB"}})
	wantDenied(t, err, nodeAWide.ARN, "kms:Decrypt", w.keyARN)
	// Even with its own parameter's context A cannot call KMS directly:
	// the generated policy allows the key only through SSM.
	_, err = k.Decrypt(w.ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String(w.keyARN),
		EncryptionContext: map[string]string{"PARAMETER_ARN": w.polA.ParameterARN}})
	wantDenied(t, err, nodeAWide.ARN, "kms:Decrypt", w.keyARN)
}

// variant is the generated policy with one statement or one action removed.
type variant struct {
	name    string
	removed []string // the actions no longer allowed where they were
	sid     string   // the statement they were in
	doc     policy.Document
}

func variants(d policy.Document) []variant {
	var vs []variant
	for i, s := range d.Statement {
		without := policy.Document{Version: d.Version, Statement: slices.Delete(slices.Clone(d.Statement), i, i+1)}
		vs = append(vs, variant{name: "without statement " + s.Sid, removed: s.Action, sid: s.Sid, doc: without})
		if len(s.Action) < 2 {
			continue
		}
		for j, a := range s.Action {
			doc := policy.Document{Version: d.Version, Statement: slices.Clone(d.Statement)}
			st := doc.Statement[i]
			st.Action = slices.Delete(slices.Clone(s.Action), j, j+1)
			doc.Statement[i] = st
			vs = append(vs, variant{name: "without " + a + " in " + s.Sid, removed: []string{a}, sid: s.Sid, doc: doc})
		}
	}
	return vs
}

// (d) Every statement and every action of the generated policy is needed:
// without any one of them doctor FAILs, and a FAIL line names the missing
// action and the statement of the generated policy that grants it. The
// store's own operations (open, multi-part write, reopen and read) are the
// second oracle: when they fail, the error names the missing action. So
// the policy holds nothing the node (the store and doctor) does not use.
func TestEveryStatementAndActionIsNeeded(t *testing.T) {
	t.Run("standard", func(t *testing.T) { everyStatementNeeded(t, locA) })
	// tier=advanced adds kms:GenerateDataKey through SSM.
	t.Run("advanced", func(t *testing.T) { everyStatementNeeded(t, locA+"&tier=advanced") })
}

func everyStatementNeeded(t *testing.T, loc string) {
	var vs []variant
	w := newWorld(t, func(w *world) []emulator.IAMPrincipal {
		l, _ := locator.Parse(loc)
		gen, err := policy.Generate(l, policy.Options{KeyARN: w.keyARN})
		if err != nil {
			t.Fatal(err)
		}
		vs = variants(gen.Identity)
		var ps []emulator.IAMPrincipal
		for i := range vs {
			ps = append(ps, principal(fmt.Sprintf("variant%02d", i), docJSON(t, vs[i].doc)))
		}
		return ps
	})
	if len(vs) < 10 {
		t.Fatalf("only %d variants of the generated policy", len(vs))
	}
	// A multi-part state to start from, written by the admin.
	if err := w.writeState(admin, loc, "profile-big", randomValue(16<<10)); err != nil {
		t.Fatal(err)
	}
	if w.partCount("/ts/nodeA") < 2 {
		t.Fatal("the starting state is not multi-part")
	}
	for i, v := range vs {
		p := w.principal["arn:aws:iam::"+account+":role/"+fmt.Sprintf("variant%02d", i)]
		t.Run(strings.ReplaceAll(v.name, " ", "_"), func(t *testing.T) {
			cfg := w.cfg(p)
			rep := doctor.Run(w.ctx, loc, doctor.Options{AWSConfig: &cfg})
			var doctorSays []string
			for _, c := range rep.Checks {
				if c.Status != doctor.Fail {
					continue
				}
				for _, a := range v.removed {
					if strings.Contains(c.Detail+" "+c.Fix, a) && strings.Contains(c.Fix, v.sid) {
						doctorSays = append(doctorSays, fmt.Sprintf("%s %s names %s and %s", c.Status, c.Name, a, v.sid))
					}
				}
			}
			if rep.Summary.OK || len(doctorSays) == 0 {
				t.Errorf("removing %v from %s: doctor does not FAIL naming the action and the statement:\n%s", v.removed, v.sid, reportText(rep))
			}
			storeErr := w.storeOps(p, loc)
			if storeErr != nil && !slices.ContainsFunc(v.removed, func(a string) bool { return strings.Contains(storeErr.Error(), a) }) {
				t.Errorf("the store failed without naming %v: %v", v.removed, storeErr)
			}
			t.Logf("doctor: %s; summary %+v; store: %v", strings.Join(doctorSays, "; "), rep.Summary, storeErr)
		})
	}
}

// storeOps is what a node does: open (reading the multi-part state), write
// a new multi-part state, reopen and read it back.
func (w *world) storeOps(p emulator.IAMPrincipal, loc string) error {
	v := randomValue(16 << 10)
	if err := w.writeState(p, loc, "profile-big", v); err != nil {
		return err
	}
	got, err := w.readState(p, loc, "profile-big")
	if err != nil {
		return err
	}
	if !bytes.Equal(got, v) {
		return fmt.Errorf("read back %d bytes, not what was written", len(got))
	}
	return nil
}

// (f) The audit library shows the snooper's denied attempt with its
// principal, and the node's decryptions through SSM.
func TestAuditShowsDenialsAndDecryptions(t *testing.T) {
	var node, snoop emulator.IAMPrincipal
	w := newWorld(t, func(w *world) []emulator.IAMPrincipal {
		node = principal("nodeA", docJSON(t, w.polA.Identity))
		snoop = principal("snoop", json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"*"}]}`))
		return []emulator.IAMPrincipal{node, snoop}
	})
	if err := w.writeState(node, locA, "profile-big", randomValue(10<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.readState(node, locA, "profile-big"); err != nil {
		t.Fatal(err)
	}
	_, err := ssm.NewFromConfig(w.cfg(snoop)).GetParameter(w.ctx, &ssm.GetParameterInput{Name: aws.String("/ts/nodeA"), WithDecryption: aws.Bool(true)})
	wantDenied(t, err, snoop.ARN, "kms:Decrypt", "")
	// Another node's traffic on the same key is not this state's.
	if err := w.writeState(admin, locB, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	l, _ := locator.Parse(locA)
	cfg := w.cfg(admin)
	rep, err := audit.Lookup(w.ctx, l, audit.Options{AWSConfig: &cfg, Since: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("\n%s", text.String())

	var snoopDenied, nodeDecrypts, nodePartDecrypts, nodeWrites int
	for _, e := range rep.Entries {
		if strings.Contains(e.Parameter, "nodeB") {
			t.Errorf("node B's event in node A's audit: %+v", e)
		}
		switch {
		case e.Principal == snoop.ARN && e.Denied:
			snoopDenied++
			if !strings.Contains(e.Error, "kms:Decrypt") && !strings.Contains(e.Error, "AccessDenied") {
				t.Errorf("snooper's denial without its reason: %+v", e)
			}
		case e.Principal == node.ARN && e.Kind == audit.KindDecrypt && e.ViaSSM && !e.Denied:
			nodeDecrypts++
			if strings.Contains(e.Parameter, ".part-") {
				nodePartDecrypts++
			}
		case e.Principal == node.ARN && e.Kind == audit.KindWrite && e.Error == "":
			nodeWrites++
		}
	}
	if snoopDenied == 0 {
		t.Errorf("the audit does not show the snooper's denied attempt")
	}
	if nodeDecrypts == 0 || nodePartDecrypts == 0 {
		t.Errorf("the audit shows %d decryptions by the node (%d of parts), want both", nodeDecrypts, nodePartDecrypts)
	}
	if nodeWrites == 0 {
		t.Errorf("the audit shows no writes by the node")
	}
	for _, want := range []string{"DENIED", snoop.ARN, "decrypt", node.ARN, "kms:Decrypt (via SSM)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the audit's text does not show %q", want)
		}
	}
	var sum *audit.PrincipalSummary
	for i := range rep.Principals {
		if rep.Principals[i].Principal == snoop.ARN {
			sum = &rep.Principals[i]
		}
	}
	if sum == nil || sum.Denied == 0 || sum.Decrypts != 0 {
		t.Errorf("snooper's summary %+v: want denials and no decryptions", sum)
	}
}

// The key-policy statements `ssmstate policy --role-arn` prints are enough
// on their own: with a key policy that does not delegate to IAM (only the
// admin and those statements), a node whose identity policy holds only the
// SSM statements runs doctor (all PASS) and the store; a principal with the
// same identity policy that the key policy does not name cannot even open.
func TestKeyPolicyStatementsSuffice(t *testing.T) {
	l, _ := locator.Parse(locA)
	nodeARN := "arn:aws:iam::" + account + ":role/nodeA"
	gen, err := policy.Generate(l, policy.Options{RoleARN: nodeARN})
	if err != nil {
		t.Fatal(err)
	}
	keyPolicy := policy.Document{Version: "2012-10-17", Statement: append([]policy.Statement{{
		Sid: "Admin", Effect: "Allow", Principal: map[string][]string{"AWS": {admin.ARN}}, Action: []string{"kms:*"}, Resource: []string{"*"},
	}}, gen.KeyPolicy...)}
	var node, other emulator.IAMPrincipal
	w := newWorldKeyPolicy(t, string(docJSON(t, keyPolicy)), func(w *world) []emulator.IAMPrincipal {
		ssmOnly := policy.Document{Version: "2012-10-17"}
		for _, st := range w.polA.Identity.Statement {
			if strings.HasPrefix(st.Action[0], "ssm:") {
				ssmOnly.Statement = append(ssmOnly.Statement, st)
			}
		}
		node = principal("nodeA", docJSON(t, ssmOnly))
		other = principal("other", docJSON(t, ssmOnly))
		return []emulator.IAMPrincipal{node, other}
	})
	if node.ARN != nodeARN {
		t.Fatalf("node ARN %s", node.ARN)
	}
	big := randomValue(16 << 10)
	if err := w.writeState(node, locA, "profile-big", big); err != nil {
		t.Fatalf("multi-part write with the key-policy statements: %v", err)
	}
	if got, err := w.readState(node, locA, "profile-big"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("multi-part read: %v", err)
	}
	cfg := w.cfg(node)
	rep := doctor.Run(w.ctx, locA, doctor.Options{AWSConfig: &cfg})
	wantAllPass(t, rep)

	_, err = w.readState(other, locA, "profile-big")
	if err == nil || !strings.Contains(err.Error(), "kms:DescribeKey") {
		t.Fatalf("a principal the key policy does not name: want a kms:DescribeKey denial, got %v", err)
	}
}

// The generated policy for tier=advanced (Advanced parts, envelope
// encryption with kms:GenerateDataKey) suffices too, and needs its
// kms:GenerateDataKey through SSM.
func TestGeneratedPolicyAdvancedTier(t *testing.T) {
	const locAdv = locA + "&tier=advanced"
	var node, noGDK emulator.IAMPrincipal
	w := newWorld(t, func(w *world) []emulator.IAMPrincipal {
		l, _ := locator.Parse(locAdv)
		p, err := policy.Generate(l, policy.Options{KeyARN: w.keyARN})
		if err != nil {
			t.Fatal(err)
		}
		node = principal("nodeA", docJSON(t, p.Identity))
		without := policy.Document{Version: p.Identity.Version}
		for _, st := range p.Identity.Statement {
			if st.Sid == policy.SidUseKeyViaSSM {
				st.Action = slices.DeleteFunc(slices.Clone(st.Action), func(a string) bool { return a == "kms:GenerateDataKey" })
			}
			without.Statement = append(without.Statement, st)
		}
		noGDK = principal("noGDK", docJSON(t, without))
		return []emulator.IAMPrincipal{node, noGDK}
	})
	big := randomValue(40 << 10)
	if err := w.writeState(node, locAdv, "profile-big", big); err != nil {
		t.Fatalf("Advanced multi-part write with the generated policy: %v", err)
	}
	if got, err := w.readState(node, locAdv, "profile-big"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("Advanced multi-part read: %v", err)
	}
	if n := w.partCount("/ts/nodeA"); n < 2 {
		t.Fatalf("%d parts", n)
	}
	cfg := w.cfg(node)
	wantAllPass(t, doctor.Run(w.ctx, locAdv, doctor.Options{AWSConfig: &cfg}))

	err := w.writeState(noGDK, locAdv, "profile-big", randomValue(40<<10))
	if err == nil || !strings.Contains(err.Error(), "kms:GenerateDataKey") {
		t.Fatalf("Advanced write without kms:GenerateDataKey through SSM: want a denial naming it, got %v", err)
	}
}

// With --no-doctor (policy.Options.NoDoctor) the store works unchanged; the
// policy lacks only kms:GetKeyRotationStatus, and doctor, run anyway, FAILs
// exactly kms-key-rotation, naming it and its statement.
func TestGeneratedPolicyWithoutDoctor(t *testing.T) {
	var node emulator.IAMPrincipal
	w := newWorld(t, func(w *world) []emulator.IAMPrincipal {
		l, _ := locator.Parse(locA)
		p, err := policy.Generate(l, policy.Options{KeyARN: w.keyARN, NoDoctor: true})
		if err != nil {
			t.Fatal(err)
		}
		node = principal("nodeA", docJSON(t, p.Identity))
		return []emulator.IAMPrincipal{node}
	})
	big := randomValue(16 << 10)
	if err := w.writeState(node, locA, "profile-big", big); err != nil {
		t.Fatalf("multi-part write: %v", err)
	}
	if got, err := w.readState(node, locA, "profile-big"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("multi-part read: %v", err)
	}
	cfg := w.cfg(node)
	rep := doctor.Run(w.ctx, locA, doctor.Options{AWSConfig: &cfg})
	var notPass []string
	for _, c := range rep.Checks {
		if c.Status != doctor.Pass {
			notPass = append(notPass, string(c.Status)+" "+c.Name)
		}
		if c.Name == doctor.CheckKMSKeyRotation && !strings.Contains(c.Fix, "kms:GetKeyRotationStatus") || !strings.Contains(c.Fix, policy.SidDescribeKey) {
			if c.Name == doctor.CheckKMSKeyRotation {
				t.Errorf("kms-key-rotation's fix does not name kms:GetKeyRotationStatus and %s: %s", policy.SidDescribeKey, c.Fix)
			}
		}
	}
	if want := []string{"FAIL " + doctor.CheckKMSKeyRotation}; !slices.Equal(notPass, want) {
		t.Errorf("doctor reported %v, want %v:\n%s", notPass, want, reportText(rep))
	}
}
