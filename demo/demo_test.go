package demo

import (
	"bytes"
	"context"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/store"
	_ "github.com/ssmstate/ssmstate/store/ssmparam"
)

// wantLines are lines the tour must print, in this order: each step's
// heading and the outcome it shows.
var wantLines = []string{
	`^== 1\. A local AWS endpoint with IAM on`,
	`^The endpoint \(SSM, KMS, STS, CloudTrail\) at http://127\.0\.0\.1:\d+, account 000000000000, us-east-1,$`,
	`^           UseStateKeyThroughSSM  kms:Decrypt kms:Encrypt$`,
	`^  ` + regexp.QuoteMeta(Locator) + `$`,
	`^== 2\. The node stores its state \(as node\)$`,
	`^  wrote _machinekey +72 bytes$`,
	`^4 keys, \d+ bytes, in one SecureString parameter /demo/node1 \(version 4\)`,
	`^== 3\. A restarted node reads it back \(as node\)$`,
	`^  profile-a1b2 +\d+ bytes$`,
	`^every value is byte for byte what was written`,
	`^== 4\. ssmstate doctor \(as node\)$`,
	`^  PASS  kms-decrypt `,
	`^  17 checks: 17 pass, 0 warn, 0 fail, 0 skipped\. OK`,
	`^== 5\. A snooper`,
	`^get-parameter --with-decryption: DENIED$`,
	`^  arn:aws:iam::000000000000:user/snoop is not allowed to call kms:Decrypt on arn:aws:kms:us-east-1:000000000000:key/[0-9a-f-]{36}$`,
	`^get-parameter without decryption: \d+ characters of ciphertext, no state$`,
	`^/demo/node1 is a SecureString \(tier Standard\) under alias/demo-node, a customer managed key:$`,
	`^the same snooper decrypts`,
	`^== 6\. Rotate to alias/demo-node-2`,
	`^  ` + regexp.QuoteMeta(NewLocator) + `$`,
	`^admin disabled the old key \(alias/demo-node\)\.$`,
	`^The node, restarted with the new locator, reads all 4 keys: the old key is not needed\.$`,
	`^  the KMS key alias/demo-node \(arn:aws:kms:[^)]+\) is disabled`,
	`^== 7\. ssmstate audit`,
	`^  arn:aws:iam::000000000000:role/demo-node1 +[1-9]\d* +[1-9]\d* +[1-9]\d* +0$`,
	`^  arn:aws:iam::000000000000:user/snoop +0 +\d+ +0 +[1-9]\d*$`,
	`^  snoop  kms:Decrypt \(via SSM\)  AccessDeniedException: `,
	`^Done: `,
}

// checkOutput fails t unless out has every wanted line in order and none
// of the state's secret values, raw or base64-encoded.
func checkOutput(t *testing.T, out string) {
	t.Helper()
	rest := out
	for _, w := range wantLines {
		re := regexp.MustCompile("(?m)" + w)
		loc := re.FindStringIndex(rest)
		if loc == nil {
			t.Errorf("the tour lacks a line matching %s (after the lines before it)", w)
			continue
		}
		rest = rest[loc[1]:]
	}
	for _, s := range Secrets() {
		if strings.Contains(out, s) {
			t.Errorf("the tour printed a secret value (%.12s…)", s)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	tour, err := Run(ctx, &out, Options{})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if tour.Server != nil {
		t.Errorf("without Keep the endpoint was left running")
	}
	if err := tour.Close(); err != nil {
		t.Fatal(err)
	}
	checkOutput(t, out.String())
}

// With Keep the endpoint still runs and holds the state, under the new
// key, exactly as planted: so the values the output check looks for are
// the ones that were really stored.
func TestRunKeep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	tour, err := Run(ctx, &out, Options{Keep: true})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	defer tour.Close()
	checkOutput(t, out.String())
	if len(tour.Env()) == 0 || !strings.HasPrefix(tour.Env()[0], "AWS_ENDPOINT_URL=http://127.0.0.1:") {
		t.Fatalf("Env = %q", tour.Env())
	}
	cfg := tour.Server.AWSConfigWithCredentials(Region, Admin.AccessKeyID, Admin.SecretAccessKey)
	st, err := store.Open(ctx, NewLocator, store.WithAWSConfig(cfg))
	if err != nil {
		t.Fatalf("open the kept state as the admin: %v", err)
	}
	defer st.Close()
	want := NodeState()
	keys, err := st.Keys(ctx)
	if err != nil || len(keys) != len(want) {
		t.Fatalf("kept state has keys %q (%v), want %d", keys, err, len(want))
	}
	for k, v := range want {
		got, err := st.ReadState(ctx, k)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("kept state's %s differs from the planted value (%v)", k, err)
		}
	}
	if _, err := store.Open(ctx, Locator, store.WithAWSConfig(cfg)); err == nil {
		t.Errorf("the old locator still opens: its key should be disabled")
	}
}

// Every secret the output check looks for is really in the planted state.
func TestSecretsAreInTheState(t *testing.T) {
	var all strings.Builder
	for _, v := range NodeState() {
		all.Write(v)
	}
	raw := all.String()
	n := 0
	for _, s := range Secrets() {
		if strings.Contains(raw, s) {
			n++
		}
	}
	// Raw values and key material are in it; base64 forms are not.
	if want := 3 + 3; n != want {
		t.Errorf("%d of the secrets are in the state's values, want %d", n, want)
	}
	if v := NodeState()["_machinekey"]; len(v) != 72 || !bytes.HasPrefix(v, []byte("privkey:")) {
		t.Errorf("_machinekey is %d bytes, want Tailscale's 72 (privkey: and 64 hex digits)", len(v))
	}
}

var update = flag.Bool("update", false, "rewrite the demo's output in ../README.md")

// normalize blanks what varies between runs: key ids, the port, dates and
// the ciphertext's length.
func normalize(s string) string {
	for _, r := range []struct{ re, with string }{
		{`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`, "KEY-ID"},
		{`127\.0\.0\.1:\d+`, "127.0.0.1:PORT"},
		{`\d{4}-\d{2}-\d{2}`, "DATE"},
		{`\d+ characters of ciphertext`, "N characters of ciphertext"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.with)
	}
	return s
}

// The README shows the demo's real output: TestREADMEOutput fails when the
// tour's output changes and the README's copy does not (go test ./demo
// -run TestREADMEOutput -update rewrites it).
func TestREADMEOutput(t *testing.T) {
	const start, end = "$ go run ./cmd/ssmstate demo\n", "```"
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, start)
	if i < 0 {
		t.Fatalf("README.md has no %q block", strings.TrimSpace(start))
	}
	i += len(start)
	j := strings.Index(readme[i:], end)
	if j < 0 {
		t.Fatal("README.md's demo block does not end")
	}
	shown := readme[i : i+j]

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	tour, err := Run(ctx, &out, Options{})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	tour.Close()
	if normalize(shown) == normalize(out.String()) {
		return
	}
	if *update {
		if err := os.WriteFile("../README.md", []byte(readme[:i]+out.String()+readme[i+j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's demo output differs from the demo's (run go test ./demo -run TestREADMEOutput -update):\n--- README\n%s\n--- demo\n%s", shown, out.String())
}
