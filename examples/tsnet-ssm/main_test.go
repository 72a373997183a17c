package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/internal/tsnettest"
)

// The example as a user runs it: built, pointed at SSM (the local endpoint)
// with a customer key and at a control server (Tailscale's in-process one,
// through TS_CONTROL_URL), it logs in on its first run through the printed
// login URL, and on its second run comes back with the same Tailscale IPs
// without one.
func TestExampleRestartsAsSameNode(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tsnet-ssm")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the example: %v\n%s", err, out)
	}

	ep := emulator.NewTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := kms.NewFromConfig(ep.AWSConfig("us-east-1"))
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ts-example"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	tn := tsnettest.StartTailnet(t)

	none := filepath.Join(t.TempDir(), "none")
	env := append(os.Environ(),
		"AWS_ENDPOINT_URL="+ep.URL,
		"AWS_ACCESS_KEY_ID="+emulator.DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+emulator.DummySecretAccessKey,
		"AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none,
		"AWS_EC2_METADATA_DISABLED=true",
		"TS_CONTROL_URL="+tn.URL,
		"TS_NO_LOGS_NO_SUPPORT=true", // no log uploads to Tailscale from a test
		"TS_AUTHKEY=",
	)
	const state = "arn:aws:ssm:us-east-1:000000000000:parameter/ts/example?kmsKey=alias/ts-example"

	first := runExample(t, bin, env, state, tn, true)
	second := runExample(t, bin, env, state, tn, false)
	if first == "" || first != second {
		t.Errorf("the example came back with other Tailscale IPs: %q then %q", first, second)
	}
	if n := tn.Logins(); n != 1 {
		t.Errorf("logins = %d, want 1 (first run only)", n)
	}
	t.Logf("first run %s, second run %s, %d login", first, second, tn.Logins())
}

// runExample runs the example until it reports the node up, completing the
// login it prints when allowLogin (and failing if it prints one
// otherwise), interrupts it, checks that it exits cleanly, and returns the
// IPs it reported.
func runExample(t *testing.T, bin string, env []string, state string, tn *tsnettest.Tailnet, allowLogin bool) (ips string) {
	t.Helper()
	cmd := exec.Command(bin, "-state", state, "-hostname", "example", "-dir", t.TempDir())
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the example: %v", err)
	}
	exited := make(chan error, 1)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()

	deadline := time.After(tsnettest.UpTimeout)
	var log []string
	for ips == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the example exited before the node was up:\n%s", strings.Join(log, "\n"))
			}
			log = append(log, line)
			if _, url, ok := strings.Cut(line, "or go to: "); ok {
				if !allowLogin {
					t.Fatalf("the restarted example asked to log in again (%s): its state did not survive", url)
				}
				if !tn.CompleteLogin(strings.TrimSpace(url)) {
					t.Fatalf("the control server does not know the login URL %q", url)
				}
				continue
			}
			if strings.Contains(line, "node is up") {
				if !strings.Contains(line, "state_encrypted=true") {
					t.Errorf("the example does not report its SSM state as encrypted: %s", line)
				}
				_, rest, _ := strings.Cut(line, "ips=")
				ips, _, _ = strings.Cut(rest, " state_encrypted")
			}
		case <-deadline:
			t.Fatalf("the example was not up within %v:\n%s", tsnettest.UpTimeout, strings.Join(log, "\n"))
		}
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go func() {
		for l := range lines {
			_ = l // drain until the example exits
		}
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the example did not exit cleanly on interrupt: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the example did not exit within a minute of an interrupt")
	}
	return ips
}
