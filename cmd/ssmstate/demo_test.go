package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/demo"
)

// demoLines are lines `ssmstate demo` must print: each step's outcome.
var demoLines = []string{
	"== 1. A local AWS endpoint with IAM on",
	"  " + demo.Locator,
	"  wrote _machinekey          72 bytes",
	"every value is byte for byte what was written",
	"17 checks: 17 pass, 0 warn, 0 fail, 0 skipped. OK",
	"get-parameter --with-decryption: DENIED",
	"arn:aws:iam::000000000000:user/snoop is not allowed to call kms:Decrypt on arn:aws:kms:us-east-1:000000000000:key/",
	"/demo/node1 is a SecureString (tier Standard) under alias/demo-node, a customer managed key",
	"  " + demo.NewLocator,
	"The node, restarted with the new locator, reads all 4 keys: the old key is not needed.",
	"  snoop  kms:Decrypt (via SSM)  AccessDeniedException: ",
	"Done: ",
}

func checkDemoOutput(t *testing.T, out string) {
	t.Helper()
	rest := out
	for _, w := range demoLines {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("demo output lacks %q (after the lines before it)", w)
			continue
		}
		rest = rest[i+len(w):]
	}
	for _, s := range demo.Secrets() {
		if strings.Contains(out, s) {
			t.Errorf("demo printed a secret value (%.12s…)", s)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestDemoInProcess(t *testing.T) {
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"demo"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("ssmstate demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	checkDemoOutput(t, out.String())
	if errOut.Len() != 0 {
		t.Errorf("demo wrote to stderr:\n%s", errOut.String())
	}
}

// cleanAWSEnv is the environment without AWS settings, and with no shared
// config or credentials files, so that only what a test sets applies.
func cleanAWSEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	dir := t.TempDir()
	return append(env, "AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"))
}

func TestDemoBinaryExitsZero(t *testing.T) {
	cmd := exec.Command(ssmstateBinary(t), "demo")
	cmd.Env = cleanAWSEnv(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ssmstate demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	checkDemoOutput(t, stdout.String())
	if stderr.Len() != 0 {
		t.Errorf("demo wrote to stderr:\n%s", stderr.String())
	}
}

// With --keep the endpoint stays up with the state in it: the printed
// exports let `ssmstate show` and `ssmstate get` reach it, and SIGINT ends
// the demo with exit 0.
func TestDemoKeep(t *testing.T) {
	bin := ssmstateBinary(t)
	cmd := exec.Command(bin, "demo", "--keep")
	cmd.Env = cleanAWSEnv(t)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	var stderr syncWriter
	stderr.b = &strings.Builder{}
	cmd.Stderr = &stderr
	stderrText := func() string {
		stderr.mu.Lock()
		defer stderr.mu.Unlock()
		return stderr.b.String()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		done <- err
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	var exports []string
	timeout := time.After(3 * time.Minute)
	for len(exports) < 5 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("ssmstate demo --keep ended before printing its exports:\n%s\nstderr:\n%s", out.String(), stderrText())
			}
			out.WriteString(line + "\n")
			if kv, found := strings.CutPrefix(line, "export "); found {
				exports = append(exports, kv)
			}
		case <-timeout:
			t.Fatalf("no exports after 3 minutes:\n%s", out.String())
		}
	}
	checkDemoOutput(t, out.String())

	env := append(cleanAWSEnv(t), exports...)
	show := exec.Command(bin, "show", demo.NewLocator)
	show.Env = env
	got, err := show.CombinedOutput()
	if err != nil {
		t.Fatalf("ssmstate show on the kept endpoint: %v\n%s", err, got)
	}
	if !strings.Contains(string(got), "alias/demo-node-2") {
		t.Errorf("show does not name the new key:\n%s", got)
	}
	for _, s := range demo.Secrets() {
		if strings.Contains(string(got), s) {
			t.Errorf("show printed a secret value")
		}
	}
	get := exec.Command(bin, "get", demo.NewLocator, "_machinekey")
	get.Env = env
	val, err := get.Output()
	if err != nil {
		t.Fatalf("ssmstate get on the kept endpoint: %v", err)
	}
	if !bytes.Equal(val, demo.NodeState()["_machinekey"]) {
		t.Errorf("get _machinekey on the kept endpoint: %d bytes, not the demo's value", len(val))
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err != nil {
			t.Fatalf("ssmstate demo --keep after SIGINT: %v\nstderr:\n%s", err, stderrText())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("ssmstate demo --keep did not stop after SIGINT")
	}
}
