package main

// Tests of the operator commands, each run as the built binary (see
// ssmstateBinary in main_test.go) against the local endpoint started in this
// process, with the endpoint named only through the environment
// (AWS_ENDPOINT_URL) or --endpoint-url, as a user would. Stable outputs are
// compared with testdata/*.golden; regenerate them with
//
//	go test ./cmd/ssmstate -run TestCLI -update

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"tailscale.com/ipn"
	ipnstore "tailscale.com/ipn/store"
	"tailscale.com/types/logger"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/internal/tsnettest"
	"github.com/ssmstate/ssmstate/ops"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const (
	acct    = emulator.DefaultAccount
	nodeLoc = "arn:aws:ssm:us-east-1:" + acct + ":parameter/ts/node1"
)

// cli is a local endpoint and the environment that points the binary at it.
type cli struct {
	t   *testing.T
	srv *emulator.Server
	env []string
	dir string
	o   ops.Options // for the test's own setup and checks, over the same endpoint
	ctx context.Context
}

func newCLI(t *testing.T, opts ...emulator.Option) *cli {
	t.Helper()
	srv := emulator.NewTestServer(t, opts...)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cfg := srv.AWSConfig(emulator.DefaultRegion)
	return &cli{
		t: t, srv: srv, dir: dir, ctx: ctx,
		o:   ops.Options{AWSConfig: &cfg, Timeout: time.Minute},
		env: awsEnv(dir, srv.URL, emulator.DummyAccessKeyID, emulator.DummySecretAccessKey),
	}
}

// awsEnv is an environment with nothing of the caller's AWS settings: the
// endpoint, a Region, static credentials, and empty shared config files.
func awsEnv(dir, url, keyID, secret string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID="+keyID,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL="+url,
	)
}

type result struct {
	stdout, stderr string
	code           int
}

func (c *cli) run(stdin string, args ...string) result {
	return c.runEnv(c.env, stdin, args...)
}

func (c *cli) runEnv(env []string, stdin string, args ...string) result {
	c.t.Helper()
	cmd := exec.CommandContext(c.ctx, ssmstateBinary(c.t), args...)
	cmd.Env = env
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case asExitError(err, &ee):
		r.code = ee.ExitCode()
	default:
		c.t.Fatalf("run ssmstate %v: %v", args, err)
	}
	return r
}

// must runs args and fails the test unless the exit code is want.
func (c *cli) must(want int, stdin string, args ...string) result {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != want {
		c.t.Fatalf("ssmstate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func (c *cli) createKey(region, alias string, multiRegion bool) string {
	c.t.Helper()
	kc := kms.NewFromConfig(c.srv.AWSConfig(region))
	k, err := kc.CreateKey(c.ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(multiRegion)})
	if err != nil {
		c.t.Fatal(err)
	}
	if alias != "" {
		if _, err := kc.CreateAlias(c.ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
			c.t.Fatal(err)
		}
	}
	return aws.ToString(k.KeyMetadata.Arn)
}

func (c *cli) seed(loc string, state map[string][]byte) {
	c.t.Helper()
	if err := ops.WriteAll(c.ctx, loc, state, c.o); err != nil {
		c.t.Fatalf("seed %s: %v", loc, err)
	}
}

func (c *cli) readAll(loc string) map[string][]byte {
	c.t.Helper()
	st, err := ops.ReadAll(c.ctx, loc, c.o)
	if err != nil {
		c.t.Fatalf("read %s: %v", loc, err)
	}
	return st
}

// smallState fits one Standard parameter; bigState needs several parts.
func smallState() map[string][]byte {
	return map[string][]byte{"_machinekey": []byte("privkey:machine"), "_current-profile": []byte("profile-1a2b")}
}

func bigState() map[string][]byte {
	st := smallState()
	// Seeded: the same bytes every run, so that sizes and part counts in
	// golden files are stable; random, so that they do not compress away.
	rng := rand.NewChaCha8([32]byte{'s', 's', 'm'})
	for i := range 5 {
		b := make([]byte, 3000)
		rng.Read(b)
		st[fmt.Sprintf("profile-%d", i)] = b
	}
	return st
}

var (
	keyIDRx = regexp.MustCompile(`\b(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`)
	timeRx  = regexp.MustCompile(`\d{4}-\d\d-\d\d( \d\d:\d\d:\d\d UTC|T\d\d:\d\d:\d\d(\.\d+)?Z)?`)
	urlRx   = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
)

// normalise replaces what changes between runs (key ids, times, the
// endpoint's port, the temporary directory) by fixed placeholders of the
// same length, so that column alignment is kept.
func (c *cli) normalise(s string) string {
	s = strings.ReplaceAll(s, c.dir, "$DIR")
	s = keyIDRx.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "mrk-") {
			return "mrk-" + strings.Repeat("K", 32)
		}
		return "KKKKKKKK-KKKK-KKKK-KKKK-KKKKKKKKKKKK"
	})
	s = timeRx.ReplaceAllStringFunc(s, func(m string) string {
		if !strings.HasSuffix(m, "UTC") && len(m) > 10 { // RFC 3339, of varying length
			return "<TIME>"
		}
		return strings.Repeat("T", len(m))
	})
	return urlRx.ReplaceAllString(s, "http://ENDPOINT")
}

// golden compares got with testdata/name.golden (or rewrites it with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("output differs from %s (go test -update rewrites it) at line %d:\n got: %s\nwant: %s\n--- got:\n%s", path, i+1, gl[i], wl[i], got)
				return
			}
		}
		t.Errorf("output differs from %s (go test -update rewrites it) in length: %d lines, want %d\n--- got:\n%s", path, len(gl), len(wl), got)
	}
}

// errorLines checks the error convention: a cause line and a fix line.
func errorLines(t *testing.T, r result) (cause, fix string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ssmstate: ") || !strings.HasPrefix(lines[1], "fix: ") {
		t.Fatalf("stderr is not one cause line and one fix line:\n%s", r.stderr)
	}
	return lines[0], lines[1]
}

var opCommands = []string{"rm", "show", "export", "import", "migrate", "rotate", "replicate"}

func TestCLIHelpHasExamples(t *testing.T) {
	c := newCLI(t)
	for _, name := range opCommands {
		r := c.must(0, "", name, "--help")
		if !strings.Contains(r.stdout, "Examples:\n  ") {
			t.Errorf("%s --help has no examples", name)
		}
		for _, f := range []string{"--profile", "--region", "--endpoint-url"} {
			if !strings.Contains(r.stdout, f) {
				t.Errorf("%s --help does not list the global flag %s", name, f)
			}
		}
		golden(t, "help-"+name, r.stdout)
	}
	if r := c.must(0, "", "completion", "bash"); !strings.Contains(r.stdout, "__start_ssmstate") {
		t.Errorf("completion bash gave no bash completion script")
	}
}

func TestCLIUsageErrorsExit2(t *testing.T) {
	c := newCLI(t)
	bad := "arn:aws:sm:us-east-1:123456789012:parameter/ts/node1"
	for _, args := range [][]string{
		{"rm", bad, "k"},
		{"show", bad},
		{"export", bad, "-"},
		{"import", bad, "-"},
		{"migrate", bad, "mem:x"},
		{"migrate", "mem:x", "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=a&kmsKey=b"},
		{"rotate", bad, "--to-key", "alias/x"},
		{"replicate", bad, "--to-region", "eu-west-1"},
	} {
		r := c.must(2, "", args...)
		cause, fix := errorLines(t, r)
		if !strings.Contains(cause, `locator "`) || (strings.Contains(cause, bad) && !strings.Contains(fix, "arn:aws:ssm:")) {
			t.Errorf("%v: error does not quote the locator and show a right one:\n%s", args, r.stderr)
		}
	}
	golden(t, "bad-locator.stderr", c.must(2, "", "show", bad).stderr)

	for _, args := range [][]string{
		{"show"},
		{"rm", nodeLoc},
		{"migrate", nodeLoc},
		{"rotate", nodeLoc},
		{"rotate", nodeLoc, "--to-key", "alias/a", "--enable-auto-rotation"},
		{"rotate", nodeLoc, "--to-key", "alias/a", "--period", "90"},
		{"rotate", nodeLoc, "--enable-auto-rotation", "--period", "30"},
		{"replicate", nodeLoc},
		{"show", nodeLoc, "--no-such-flag"},
	} {
		r := c.must(2, "", args...)
		errorLines(t, r)
	}
}

func TestCLIShow(t *testing.T) {
	c := newCLI(t)
	c.createKey("us-east-1", "alias/ts-prod", false)
	loc := nodeLoc + "?kmsKey=alias/ts-prod"
	c.seed(loc, bigState())

	r := c.must(0, "", "show", loc)
	golden(t, "show-multi-part", c.normalise(r.stdout))

	r = c.must(0, "", "show", "--json", loc)
	var info ops.Info
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("show --json: %v\n%s", err, r.stdout)
	}
	if info.Format != "multi-part" || info.Keys != 7 || len(info.Parameters) < 4 || info.Key == nil ||
		!slices.Equal(info.Key.Aliases, []string{"alias/ts-prod"}) || info.Key.Manager != "CUSTOMER" {
		t.Errorf("show --json: %s", r.stdout)
	}
	for _, p := range info.Parameters {
		if p.KeyID != "alias/ts-prod" || p.Type != "SecureString" || p.LastModified.IsZero() || p.Version < 1 {
			t.Errorf("parameter %+v", p)
		}
	}
	golden(t, "show-multi-part.json", c.normalise(r.stdout))
	for k, v := range bigState() {
		if len(v) > 8 && strings.Contains(r.stdout+c.must(0, "", "show", loc).stdout, string(v)) {
			t.Errorf("show printed the value of %s", k)
		}
	}

	// A single-parameter state, written as Tailscale writes it.
	small := nodeLoc + "-small?kmsKey=alias/ts-prod"
	c.seed(small, smallState())
	golden(t, "show-single", c.normalise(c.must(0, "", "show", small).stdout))

	// A file.
	file := filepath.Join(c.dir, "tailscaled.state")
	c.seed(file, smallState())
	golden(t, "show-file", c.normalise(c.must(0, "", "show", file).stdout))

	// Under aws/ssm: a warning.
	def := nodeLoc + "-default"
	c.seed(def, smallState())
	if r := c.must(0, "", "show", def); !strings.Contains(r.stdout, "aws/ssm: any principal with ssm:GetParameter can read it") {
		t.Errorf("show of a state under aws/ssm gives no warning:\n%s", r.stdout)
	}
}

func TestCLIRm(t *testing.T) {
	c := newCLI(t)
	c.createKey("us-east-1", "alias/ts-prod", false)
	loc := nodeLoc + "?kmsKey=alias/ts-prod"
	c.seed(loc, smallState())

	r := c.must(0, "", "rm", loc, "_current-profile")
	golden(t, "rm", r.stdout)
	if got := c.readAll(loc); len(got) != 1 || got["_machinekey"] == nil {
		t.Errorf("after rm: keys %v", slices.Collect(func(yield func(string) bool) {
			for k := range got {
				yield(k)
			}
		}))
	}
	r = c.must(1, "", "rm", loc, "_current-profile")
	cause, fix := errorLines(t, r)
	if !strings.Contains(cause, `"_current-profile"`) || !strings.Contains(fix, "ssmstate ls") {
		t.Errorf("rm of a missing key:\n%s", r.stderr)
	}
	r = c.must(0, "", "rm", "--json", loc, "_machinekey")
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["removed"] != true {
		t.Errorf("rm --json: %v %s", err, r.stdout)
	}
}

func TestCLIExportImport(t *testing.T) {
	c := newCLI(t)
	c.createKey("us-east-1", "alias/ts-prod", false)
	loc := nodeLoc + "?kmsKey=alias/ts-prod"
	want := bigState()
	c.seed(loc, want)

	r := c.must(0, "", "export", loc)
	got, err := ops.DecodeState([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if !equalStates(got, want) {
		t.Fatal("export to stdout differs from the state")
	}
	file := filepath.Join(c.dir, "backup.state")
	r = c.must(0, "", "export", loc, file)
	if r.stdout != "exported 7 keys to "+file+"\n" {
		t.Errorf("export to file printed %q", r.stdout)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, mode %v", err, fi.Mode())
	}

	dst := nodeLoc + "-restored?kmsKey=alias/ts-prod"
	c.must(0, r.stdout, "import", dst, file)
	if !equalStates(c.readAll(dst), want) {
		t.Fatal("imported state differs")
	}
	// Importing over a state is refused, then allowed with --force.
	small, _ := ops.EncodeState(smallState())
	r = c.must(1, string(small), "import", dst, "-")
	if _, fix := errorLines(t, r); !strings.Contains(fix, "--force") {
		t.Errorf("import over a state: %s", r.stderr)
	}
	r = c.must(0, string(small), "import", "--json", "--force", dst, "-")
	if !equalStates(c.readAll(dst), smallState()) {
		t.Fatal("import --force did not replace the state (keys absent from the input must go)")
	}
	golden(t, "import.json", r.stdout)
	// Not a state.
	r = c.must(1, "not json", "import", nodeLoc+"-x", "-")
	errorLines(t, r)
}

func equalStates(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// A real tailscaled.state, written by Tailscale's own FileStore for a tsnet
// node that logged in to Tailscale's test control server, migrated to SSM
// and back, gives the same bytes, and a node started on the file that came
// back is the same node without logging in again.
func TestCLIMigrateTailscaleStateRoundTrip(t *testing.T) {
	c := newCLI(t)
	c.createKey("us-east-1", "alias/ts-prod", false)
	tn := tsnettest.StartTailnet(t)

	orig := filepath.Join(c.dir, "tailscaled.state")
	fs1, err := ipnstore.NewFileStore(logger.Discard, orig)
	if err != nil {
		t.Fatal(err)
	}
	n1 := tn.StartNode(t, "node1", fs1, true)
	if err := n1.Server.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(before, []byte(`"_machinekey"`)) {
		t.Fatalf("tailscaled.state has no _machinekey:\n%d bytes", len(before))
	}

	loc := nodeLoc + "?kmsKey=alias/ts-prod"
	r := c.must(0, "", "migrate", orig, loc)
	if !strings.Contains(r.stdout, "verified") {
		t.Errorf("migrate printed %q", r.stdout)
	}
	back := filepath.Join(c.dir, "back.state")
	r = c.must(0, "", "migrate", "--json", loc, back)
	var res ops.MigrateResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.Verified || res.To != back {
		t.Errorf("migrate --json: %v %s", err, r.stdout)
	}

	after, _ := os.ReadFile(orig)
	if !bytes.Equal(before, after) {
		t.Error("migrate changed its source file")
	}
	a, err := ops.DecodeState(before)
	if err != nil {
		t.Fatal(err)
	}
	backBytes, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ops.DecodeState(backBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !equalStates(a, b) {
		t.Fatal("the values that came back from SSM differ from tailscaled.state's")
	}
	if !bytes.Equal(before, backBytes) {
		t.Error("the file that came back is not byte-identical to tailscaled.state (same values, different encoding)")
	}
	// Migrating onto a state is refused.
	r = c.must(1, "", "migrate", back, loc)
	if _, fix := errorLines(t, r); !strings.Contains(fix, "--force") {
		t.Errorf("migrate onto a state: %s", r.stderr)
	}

	fs2, err := ipnstore.NewFileStore(logger.Discard, back)
	if err != nil {
		t.Fatal(err)
	}
	n2 := tn.StartNode(t, "node1", fs2, false)
	if k1, k2 := n1.Status.Self.PublicKey, n2.Status.Self.PublicKey; k1 != k2 {
		t.Errorf("node key changed: %v then %v", k1, k2)
	}
	var _ ipn.StateStore = fs2
}

func TestCLIRotateToKey(t *testing.T) {
	c := newCLI(t)
	oldARN := c.createKey("us-east-1", "alias/ts-2025", false)
	newARN := c.createKey("us-east-1", "alias/ts-2026", false)
	loc := nodeLoc + "?kmsKey=alias/ts-2025"
	want := bigState()
	c.seed(loc, want)

	r := c.must(0, "", "rotate", loc, "--to-key", "ts-2026")
	newLoc := nodeLoc + "?kmsKey=alias/ts-2026"
	if r.stdout != newLoc+"\n" {
		t.Fatalf("rotate printed %q, want the new locator", r.stdout)
	}
	golden(t, "rotate.stderr", c.normalise(r.stderr))

	// The old key is no longer needed: disable it and read everything.
	if _, err := kms.NewFromConfig(*c.o.AWSConfig).DisableKey(c.ctx, &kms.DisableKeyInput{KeyId: aws.String(oldARN)}); err != nil {
		t.Fatal(err)
	}
	got, err := ops.DecodeState([]byte(c.must(0, "", "export", newLoc).stdout))
	if err != nil || !equalStates(got, want) {
		t.Fatalf("state after rotation (old key disabled): %v", err)
	}
	var info ops.Info
	if err := json.Unmarshal([]byte(c.must(0, "", "show", "--json", newLoc).stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.Key.ARN != newARN || len(info.Parameters) < 4 || len(info.Warnings) != 1 { // the one warning: rotation off
		t.Errorf("show after rotation: key %s, %d parameters, warnings %q", info.Key.ARN, len(info.Parameters), info.Warnings)
	}
	for _, p := range info.Parameters {
		if p.KeyID != "alias/ts-2026" {
			t.Errorf("parameter %s still under %s", p.Name, p.KeyID)
		}
	}
	// The old locator fails: its key is disabled. Cause and fix, exit 1.
	r = c.must(1, "", "show", loc)
	cause, fix := errorLines(t, r)
	if !strings.Contains(cause, "disabled") || !strings.Contains(fix, "enable-key") {
		t.Errorf("old locator with its key disabled:\n%s", r.stderr)
	}
	// --json.
	r = c.must(0, "", "rotate", "--json", newLoc, "--to-key", "alias/ts-2026")
	var rr ops.RotateResult
	if err := json.Unmarshal([]byte(r.stdout), &rr); err != nil || !rr.Verified || rr.NewLocator != newLoc {
		t.Errorf("rotate --json: %v %s", err, r.stdout)
	}
	// A key that does not exist: exit 1, cause and fix, state untouched.
	r = c.must(1, "", "rotate", newLoc, "--to-key", "alias/nope")
	errorLines(t, r)
	if !equalStates(c.readAll(newLoc), want) {
		t.Error("a failed rotation changed the state")
	}
}

func TestCLIEnableAutoRotation(t *testing.T) {
	c := newCLI(t)
	c.createKey("us-east-1", "alias/ts-prod", false)
	loc := nodeLoc + "?kmsKey=alias/ts-prod"
	r := c.must(0, "", "rotate", loc, "--enable-auto-rotation", "--period", "180")
	golden(t, "rotate-auto", c.normalise(r.stdout))
	r = c.must(0, "", "rotate", "--json", loc, "--enable-auto-rotation")
	var res ops.AutoRotationResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Rotation.Enabled == nil || !*res.Rotation.Enabled || res.Rotation.PeriodDays != 365 {
		t.Errorf("rotate --enable-auto-rotation --json: %v %s", err, r.stdout)
	}
	// aws/ssm cannot be configured.
	r = c.must(1, "", "rotate", nodeLoc, "--enable-auto-rotation")
	if _, fix := errorLines(t, r); !strings.Contains(fix, "--to-key") {
		t.Errorf("auto rotation of aws/ssm: %s", r.stderr)
	}
}

func TestCLIReplicate(t *testing.T) {
	c := newCLI(t)
	mrk := c.createKey("us-east-1", "alias/ts-mrk", true)
	if _, err := kms.NewFromConfig(*c.o.AWSConfig).ReplicateKey(c.ctx, &kms.ReplicateKeyInput{KeyId: aws.String(mrk), ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	loc := nodeLoc + "?kmsKey=alias/ts-mrk"
	want := bigState()
	c.seed(loc, want)

	r := c.must(0, "", "replicate", loc, "--to-region", "eu-west-1")
	id := mrk[strings.LastIndex(mrk, "/")+1:]
	newLoc := "arn:aws:ssm:eu-west-1:" + acct + ":parameter/ts/node1?kmsKey=arn:aws:kms:eu-west-1:" + acct + ":key/" + id
	if r.stdout != newLoc+"\n" {
		t.Fatalf("replicate printed %q, want %q", r.stdout, newLoc)
	}
	golden(t, "replicate.stderr", c.normalise(r.stderr))
	if !equalStates(c.readAll(newLoc), want) {
		t.Fatal("replica state differs")
	}
	// show knows the copy, from either side.
	golden(t, "show-replicated", c.normalise(c.must(0, "", "show", loc).stdout))
	if r := c.must(0, "", "show", newLoc); !strings.Contains(r.stdout, "us-east-1: in-sync (7 keys)") {
		t.Errorf("show of the copy does not find the original in sync:\n%s", r.stdout)
	}
	c.must(0, "", "rm", loc, "_current-profile")
	var info ops.Info
	if err := json.Unmarshal([]byte(c.must(0, "", "show", "--json", loc).stdout), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Replicas) != 1 || info.Replicas[0].Status != ops.ReplicaDiffers || !strings.Contains(info.Replicas[0].Fix, "--to-region eu-west-1 --force") {
		t.Errorf("show after the original changed: replicas %+v", info.Replicas)
	}
	want = c.readAll(loc)

	// Again: refused, then --force.
	r = c.must(1, "", "replicate", loc, "--to-region", "eu-west-1")
	errorLines(t, r)
	r = c.must(0, "", "replicate", "--json", "--force", loc, "--to-region", "eu-west-1")
	var rr ops.ReplicateResult
	if err := json.Unmarshal([]byte(r.stdout), &rr); err != nil || !rr.MultiRegionReplica || !rr.Verified || rr.Keys != len(want) {
		t.Errorf("replicate --json: %v %s", err, r.stdout)
	}

	// A single-Region key needs --kms-key.
	c.createKey("us-east-1", "alias/single", false)
	single := nodeLoc + "-s?kmsKey=alias/single"
	c.seed(single, smallState())
	r = c.must(1, "", "replicate", single, "--to-region", "eu-west-1")
	if cause, fix := errorLines(t, r); !strings.Contains(cause, "single-Region") || !strings.Contains(fix, "--kms-key") {
		t.Errorf("replicate under a single-Region key:\n%s", r.stderr)
	}
	c.createKey("eu-west-1", "alias/single-eu", false)
	r = c.must(0, "", "replicate", single, "--to-region", "eu-west-1", "--kms-key", "alias/single-eu")
	if r.stdout != "arn:aws:ssm:eu-west-1:"+acct+":parameter/ts/node1-s?kmsKey=alias/single-eu\n" {
		t.Errorf("replicate --kms-key printed %q", r.stdout)
	}
	// A multi-Region key without a replica there: the fix says how to make one.
	r = c.must(1, "", "replicate", loc, "--to-region", "ap-southeast-2")
	if _, fix := errorLines(t, r); !strings.Contains(fix, "aws kms replicate-key") {
		t.Errorf("replicate without a replica:\n%s", r.stderr)
	}
}

// --endpoint-url and --region work without AWS_ENDPOINT_URL and AWS_REGION.
func TestCLIEndpointFlag(t *testing.T) {
	c := newCLI(t)
	c.seed(nodeLoc, smallState())
	var env []string
	for _, kv := range c.env {
		if !strings.HasPrefix(kv, "AWS_ENDPOINT_URL=") && !strings.HasPrefix(kv, "AWS_REGION=") {
			env = append(env, kv)
		}
	}
	r := c.runEnv(env, "", "--endpoint-url", c.srv.URL, "--region", "us-east-1", "show", nodeLoc)
	if r.code != 0 || !strings.Contains(r.stdout, "2 keys") {
		t.Fatalf("show with --endpoint-url: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A profile that does not exist is an error, with a cause and a fix line.
	r = c.runEnv(env, "", "--profile", "nope", "--endpoint-url", c.srv.URL, "show", nodeLoc)
	if r.code != 1 {
		t.Errorf("unknown --profile: exit %d\n%s", r.code, r.stderr)
	}
}

// A principal without the key's kms:Decrypt is denied: exit 1, a cause
// line naming the denial and a fix line.
func TestCLIDeniedPrincipal(t *testing.T) {
	const account = "123456789012"
	policy := func(doc string) json.RawMessage { return json.RawMessage(doc) }
	c := newCLI(t, emulator.WithIAMConfig(emulator.IAMConfig{
		Account: account,
		Principals: []emulator.IAMPrincipal{
			{ARN: "arn:aws:iam::" + account + ":user/admin", AccessKeyID: "AKIAADMIN0000000001", SecretAccessKey: "admin-secret",
				Policies: []json.RawMessage{policy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}},
			{ARN: "arn:aws:iam::" + account + ":user/snoop", AccessKeyID: "AKIASNOOP0000000001", SecretAccessKey: "snoop-secret",
				Policies: []json.RawMessage{policy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:GetParameter*","ssm:DescribeParameters","kms:DescribeKey"],"Resource":"*"}]}`)}},
		},
	}))
	admin := c.srv.AWSConfigWithCredentials("us-east-1", "AKIAADMIN0000000001", "admin-secret")
	c.o.AWSConfig = &admin
	kc := kms.NewFromConfig(admin)
	k, err := kc.CreateKey(c.ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CreateAlias(c.ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ts-prod"), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	loc := "arn:aws:ssm:us-east-1:" + account + ":parameter/ts/node1?kmsKey=alias/ts-prod"
	c.seed(loc, smallState())

	snoop := awsEnv(c.dir, c.srv.URL, "AKIASNOOP0000000001", "snoop-secret")
	for _, args := range [][]string{{"export", loc}, {"show", loc}, {"migrate", loc, "mem:x"}} {
		r := c.runEnv(snoop, "", args...)
		if r.code != 1 {
			t.Fatalf("%v as a denied principal: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%v as a denied principal printed %q", args, r.stdout)
		}
		cause, fix := errorLines(t, r)
		if !strings.Contains(cause, "kms:Decrypt") || !strings.Contains(fix, "kms:Decrypt") {
			t.Errorf("%v denied: cause and fix do not name kms:Decrypt:\n%s", args, r.stderr)
		}
	}
	golden(t, "denied.stderr", c.normalise(c.runEnv(snoop, "", "export", loc).stderr))
	// The admin may.
	r := c.runEnv(awsEnv(c.dir, c.srv.URL, "AKIAADMIN0000000001", "admin-secret"), "", "show", loc)
	if r.code != 0 {
		t.Fatalf("admin show: %d %s", r.code, r.stderr)
	}
}

// doctor compares the state with its copies in the other Regions of its
// multi-Region key, from either side, and says how to refresh a stale one.
func TestCLIDoctorUnderstandsReplicas(t *testing.T) {
	c := newCLI(t)
	mrk := c.createKey("us-east-1", "alias/ts-mrk", true)
	if _, err := kms.NewFromConfig(*c.o.AWSConfig).ReplicateKey(c.ctx, &kms.ReplicateKeyInput{KeyId: aws.String(mrk), ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	loc := nodeLoc + "?kmsKey=alias/ts-mrk"
	c.seed(loc, smallState())
	replicaCheck := func(loc string) (status, detail, fix string) {
		t.Helper()
		r := c.run("", "doctor", "--json", loc)
		var rep struct {
			Checks []struct{ Name, Status, Detail, Fix string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("doctor --json: %v\n%s%s", err, r.stdout, r.stderr)
		}
		for _, ch := range rep.Checks {
			if ch.Name == "state-replicas" {
				return ch.Status, ch.Detail, ch.Fix
			}
		}
		t.Fatalf("doctor has no state-replicas check:\n%s", r.stdout)
		return
	}
	if st, d, _ := replicaCheck(loc); st != "PASS" || !strings.Contains(d, "eu-west-1: absent") {
		t.Errorf("before replicate: %s %s", st, d)
	}
	newLoc := strings.TrimSpace(c.must(0, "", "replicate", loc, "--to-region", "eu-west-1").stdout)
	if st, d, _ := replicaCheck(loc); st != "PASS" || !strings.Contains(d, "eu-west-1: in-sync (2 keys)") {
		t.Errorf("after replicate: %s %s", st, d)
	}
	if st, d, _ := replicaCheck(newLoc); st != "PASS" || !strings.Contains(d, "us-east-1: in-sync (2 keys)") {
		t.Errorf("doctor on the copy: %s %s", st, d)
	}
	c.must(0, "", "rm", loc, "_current-profile")
	if st, d, fix := replicaCheck(loc); st != "WARN" || !strings.Contains(d, "eu-west-1: differs") || !strings.Contains(fix, "--to-region eu-west-1 --force") {
		t.Errorf("after the original changed: %s %s %s", st, d, fix)
	}
}

// The progress display is drawn only on a terminal; piped output (as in
// every other test here) never carries it.
func TestProgressOnlyOnTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(&bytes.Buffer{}) {
		t.Error("a pipe or a buffer is taken for a terminal")
	}
	var b bytes.Buffer
	p := progressPrinter(&b)
	for i := range 3 {
		p(ops.Progress{Step: "writing keys", Done: i, Total: 2})
	}
	p(ops.Progress{Step: "checking parameter keys", Done: 1, Total: 1})
	want := "\rwriting keys: 0/2\rwriting keys: 1/2\rwriting keys: 2/2\n\rchecking parameter keys: 1/1\n"
	if b.String() != want {
		t.Errorf("progress drawn as %q, want %q", b.String(), want)
	}
}
