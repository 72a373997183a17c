package reliability

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/ops"
	"github.com/ssmstate/ssmstate/store"
)

// leakFinder knows a secret's encodings and looks for any of them.
type leakFinder struct{ forms map[string][]byte }

func newLeakFinder(secret []byte) *leakFinder {
	f := &leakFinder{forms: map[string][]byte{
		"raw":       secret,
		"base64":    []byte(base64.StdEncoding.EncodeToString(secret)),
		"base64url": []byte(base64.URLEncoding.EncodeToString(secret)),
		"base64raw": []byte(base64.RawStdEncoding.EncodeToString(secret)),
		"hex":       []byte(hex.EncodeToString(secret)),
	}}
	return f
}

// find returns the name of an encoding of the secret found in b, or "".
func (f *leakFinder) find(b []byte) string {
	for name, form := range f.forms {
		if bytes.Contains(b, form) {
			return name
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// buildCLI builds cmd/ssmstate into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ssmstate")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/ssmstate/ssmstate/cmd/ssmstate")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/ssmstate: %v\n%s", err, out)
	}
	return bin
}

// cliCommands lists the commands the built binary has.
func cliCommands(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("ssmstate --help: %v\n%s", err, out)
	}
	cmds := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			if f := strings.Fields(line); len(f) > 0 {
				cmds[f[0]] = true
			}
		}
	}
	return cmds
}

// TestSecretHygiene plants a known secret and runs every command of the
// built ssmstate binary, and every failure path it can provoke (disabled
// key, corrupt content, a principal denied kms:Decrypt), against the local
// endpoint; the secret (raw, base64, hex) must appear in no log, error or
// output (except get's, which prints it by design, and an export file,
// which holds it by design), nor in the endpoint's data files, logs or audit
// events.
func TestSecretHygiene(t *testing.T) {
	bin := buildCLI(t)
	cmds := cliCommands(t, bin)

	secret := append([]byte("tskey-SECRET-"), randomBytes(24)...)
	leaks := newLeakFinder(secret)
	var epLog syncBuffer
	logger := slog.New(slog.NewJSONHandler(&epLog, &slog.HandlerOptions{Level: slog.LevelDebug}))

	const adminAK, adminSK = "AKIAHYGIENEADMIN0001", "hygiene-admin-secret-000000000000000000"
	const snoopAK, snoopSK = "AKIAHYGIENESNOOP0001", "hygiene-snoop-secret-000000000000000000"
	dataDir := t.TempDir()
	srv := emulator.NewTestServer(t, emulator.WithDataDir(dataDir), emulator.WithLogger(logger),
		emulator.WithIAMConfig(emulator.IAMConfig{
			Account: emulator.DefaultAccount,
			Principals: []emulator.IAMPrincipal{
				{ARN: "arn:aws:iam::" + emulator.DefaultAccount + ":user/admin", AccessKeyID: adminAK, SecretAccessKey: adminSK,
					Policies: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}},
				{ARN: "arn:aws:iam::" + emulator.DefaultAccount + ":user/snoop", AccessKeyID: snoopAK, SecretAccessKey: snoopSK,
					Policies: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["kms:Decrypt","ssm:PutParameter"],"Resource":"*"}]}`)}},
			},
		}))
	e := &env{srv: srv, alias: "alias/ts-hygiene", cfg: srv.AWSConfigWithCredentials(region, adminAK, adminSK)}
	e.ssm, e.kms = nil, kms.NewFromConfig(e.cfg)
	e.keyID, e.keyARN = e.createKey(t, "hygiene key A")
	ctx := context.Background()
	if _, err := e.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(e.alias), TargetKeyId: aws.String(e.keyID)}); err != nil {
		t.Fatal(err)
	}
	_, keyB := e.createKey(t, "hygiene key B")
	loc := e.locator("/ts/hygiene/node", "kmsKey="+e.alias)
	loc2 := e.locator("/ts/hygiene/copy", "kmsKey="+e.alias)
	loc3 := e.locator("/ts/hygiene/migrated", "kmsKey="+e.alias)
	corruptLoc := e.locator("/ts/hygiene/corrupt", "kmsKey="+e.alias)
	exportFile := filepath.Join(t.TempDir(), "state.json")

	baseEnv := append(os.Environ(), "AWS_ENDPOINT_URL="+srv.URL, "AWS_REGION="+region,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	admin := append(slices.Clip(baseEnv), "AWS_ACCESS_KEY_ID="+adminAK, "AWS_SECRET_ACCESS_KEY="+adminSK)
	snoop := append(slices.Clip(baseEnv), "AWS_ACCESS_KEY_ID="+snoopAK, "AWS_SECRET_ACCESS_KEY="+snoopSK)

	ran, failed := 0, 0
	var mustWork bool // the happy paths must succeed, or they test nothing
	run := func(env []string, stdin []byte, args ...string) []byte {
		t.Helper()
		if !cmds[args[0]] {
			return nil
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stdin = bytes.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		ran++
		if err != nil {
			failed++
			if leaks.find(stderr.Bytes()) == "" {
				msg := strings.SplitN(stderr.String(), "\n", 2)[0]
				if mustWork {
					t.Errorf("ssmstate %s: %v: %s", strings.Join(args, " "), err, msg)
				} else {
					t.Logf("provoked: ssmstate %s: %.200s", args[0], msg)
				}
			}
		}
		if args[0] != "get" {
			if form := leaks.find(stdout.Bytes()); form != "" {
				t.Errorf("ssmstate %s: the secret (%s) is in standard output", strings.Join(args, " "), form)
			}
		}
		if form := leaks.find(stderr.Bytes()); form != "" {
			t.Errorf("ssmstate %s: the secret (%s) is in standard error: %s", strings.Join(args, " "), form, stderr.String())
		}
		return stdout.Bytes()
	}

	// The happy paths.
	mustWork = true
	run(admin, secret, "put", loc, "_machinekey", "-")
	run(admin, nil, "put", loc, "_profiles", "not-secret")
	if out := run(admin, nil, "get", loc, "_machinekey"); cmds["get"] && !bytes.Contains(out, secret) {
		t.Errorf("control: get did not print the planted secret (got %d bytes)", len(out))
	}
	run(admin, nil, "ls", loc)
	run(admin, nil, "ls", "--json", loc)
	run(admin, nil, "show", loc)
	run(admin, nil, "show", "--json", loc)
	run(admin, nil, "export", loc, exportFile)
	if b, err := os.ReadFile(exportFile); cmds["export"] && (err != nil || leaks.find(b) == "") {
		t.Errorf("control: the export file does not hold the secret (%v)", err)
	}
	run(admin, nil, "export", "--json", loc, exportFile+".2")
	run(admin, nil, "import", loc2, exportFile)
	run(admin, nil, "migrate", loc, loc3)
	run(admin, nil, "doctor", loc)
	run(admin, nil, "doctor", "--json", loc)
	run(admin, nil, "policy", loc)
	run(admin, nil, "rotate", loc, "--to-key", keyB)
	run(admin, nil, "rotate", "--json", e.locator("/ts/hygiene/node", "kmsKey="+keyB), "--to-key", e.alias)
	run(admin, nil, "audit", loc)
	run(admin, nil, "audit", "--json", loc)
	run(admin, nil, "rm", loc2, "_profiles")
	mustWork = false
	// No replica key in us-west-2: it fails, and must fail cleanly.
	run(admin, nil, "replicate", loc, "--to-region", "us-west-2")

	// Failure paths. A principal denied kms:Decrypt and ssm:PutParameter.
	for _, args := range [][]string{{"ls", loc}, {"show", loc}, {"get", loc, "_machinekey"}, {"export", loc, exportFile + ".snoop"},
		{"put", loc, "x", "y"}, {"doctor", loc}, {"migrate", loc, loc3 + "-snoop"}, {"rotate", loc, "--to-key", keyB}, {"audit", loc}} {
		run(snoop, nil, args...)
	}
	// Corrupt content: truncated JSON around the secret's base64, and a
	// value that is not base64 but the raw secret.
	e.ssm = ssmClient(e.cfg)
	e.put(t, "/ts/hygiene/corrupt", `{"_machinekey":"`+base64.StdEncoding.EncodeToString(secret)+`"`)
	for _, args := range [][]string{{"ls", corruptLoc}, {"show", corruptLoc}, {"export", corruptLoc, exportFile + ".c"}, {"put", corruptLoc, "x", "y"},
		{"doctor", corruptLoc}, {"migrate", corruptLoc, loc3 + "-c"}, {"rotate", corruptLoc, "--to-key", keyB}} {
		run(admin, nil, args...)
	}
	e.put(t, "/ts/hygiene/corrupt", `{"_machinekey":"`+string(secret)+`"}`)
	for _, args := range [][]string{{"ls", corruptLoc}, {"show", corruptLoc}, {"doctor", corruptLoc}} {
		run(admin, nil, args...)
	}
	// The key disabled.
	if _, err := e.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(e.keyID)}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"ls", loc}, {"show", loc}, {"get", loc, "_machinekey"}, {"put", loc, "x", "y"}, {"export", loc, exportFile + ".d"},
		{"doctor", loc}, {"migrate", loc, loc3 + "-d"}, {"rotate", loc, "--to-key", keyB}, {"import", loc2, exportFile}} {
		run(admin, nil, args...)
	}

	// The same failure paths through the library, logging at debug level.
	var libLog syncBuffer
	lib := slog.New(slog.NewJSONHandler(&libLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var libErrs []string
	for _, l := range []string{loc, corruptLoc} {
		s, err := store.Open(ctx, l, store.WithAWSConfig(e.cfg), store.WithLogger(lib))
		if err == nil {
			err = s.WriteState(ctx, "x", []byte("y"))
			s.Close()
		}
		if err != nil {
			libErrs = append(libErrs, err.Error())
		}
		if _, err := ops.Show(ctx, l, ops.Options{AWSConfig: &e.cfg, Logger: lib}); err != nil {
			libErrs = append(libErrs, err.Error())
		}
	}
	if form := leaks.find([]byte(strings.Join(libErrs, "\n"))); form != "" {
		t.Errorf("a library error holds the secret (%s)", form)
	}
	if form := leaks.find(libLog.Bytes()); form != "" {
		t.Errorf("the library's debug log holds the secret (%s)", form)
	}

	// The endpoint: its log, its audit events and its data files.
	if form := leaks.find(epLog.Bytes()); form != "" {
		t.Errorf("the endpoint's log holds the secret (%s)", form)
	}
	audit, _ := json.Marshal(srv.AuditEvents())
	if form := leaks.find(audit); form != "" {
		t.Errorf("the endpoint's audit events hold the secret (%s)", form)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	files := 0
	filepath.WalkDir(dataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("read %s: %v", p, err)
			return nil
		}
		files++
		if form := leaks.find(b); form != "" {
			t.Errorf("the endpoint's data file %s holds the secret (%s)", p, form)
		}
		return nil
	})
	var have []string
	for c := range cmds {
		have = append(have, c)
	}
	t.Logf("secret hygiene: %d command runs (%d failed as provoked) over commands %v; %d library errors; %d endpoint data files, %d bytes of endpoint log, %d audit bytes: no trace of the secret",
		ran, failed, have, len(libErrs), files, len(epLog.Bytes()), len(audit))
}
