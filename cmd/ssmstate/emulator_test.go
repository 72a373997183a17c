package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func asExitError(err error, ee **exec.ExitError) bool { return errors.As(err, ee) }

// runningEmulator is `ssmstate emulator` started as a process.
type runningEmulator struct {
	cmd    *exec.Cmd
	env    map[string]string // the exports it printed
	stderr *strings.Builder
	done   chan error
}

func startEmulator(t *testing.T, args ...string) *runningEmulator {
	t.Helper()
	cmd := exec.Command(ssmstateBinary(t), append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...)...)
	pr, pw := io.Pipe()
	e := &runningEmulator{cmd: cmd, env: map[string]string{}, stderr: &strings.Builder{}, done: make(chan error, 1)}
	cmd.Stdout = pw
	cmd.Stderr = &syncWriter{b: e.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ssmstate emulator: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		pw.Close()
		e.done <- err
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads past the exports
			}
		}
		close(lines)
	}()
	timeout := time.After(2 * time.Minute)
	for len(e.env) < 5 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("ssmstate emulator exited before printing its environment; stderr:\n%s", e.stderr)
			}
			k, v, found := strings.Cut(strings.TrimPrefix(line, "export "), "=")
			if !strings.HasPrefix(line, "export ") || !found {
				t.Fatalf("unexpected output line %q", line)
			}
			e.env[k] = v
		case <-timeout:
			t.Fatalf("ssmstate emulator printed no environment in 2 minutes; stderr:\n%s", e.stderr)
		}
	}
	return e
}

// syncWriter lets the test read stderr while the process writes it.
type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// stop sends SIGTERM and returns the exit code.
func (e *runningEmulator) stop(t *testing.T) int {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case err := <-e.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(time.Minute):
		t.Fatalf("ssmstate emulator did not stop within a minute of SIGTERM; stderr:\n%s", e.stderr)
		return -1
	}
}

// awsConfig is what a user gets from the printed exports.
func (e *runningEmulator) awsConfig() aws.Config {
	return aws.Config{
		Region:       e.env["AWS_REGION"],
		BaseEndpoint: aws.String(e.env["AWS_ENDPOINT_URL"]),
		Credentials:  credentials.NewStaticCredentialsProvider(e.env["AWS_ACCESS_KEY_ID"], e.env["AWS_SECRET_ACCESS_KEY"], ""),
	}
}

func TestEmulatorPrintsEnvironmentServesAndStopsOnSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := startEmulator(t, "--account", "123456789012")
	if !strings.HasPrefix(e.env["AWS_ENDPOINT_URL"], "http://127.0.0.1:") || e.env["AWS_REGION"] != "us-east-1" || e.env["AWS_DEFAULT_REGION"] != "us-east-1" ||
		e.env["AWS_ACCESS_KEY_ID"] == "" || e.env["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Fatalf("printed environment %v", e.env)
	}
	id, err := sts.NewFromConfig(e.awsConfig()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity through the printed environment: %v", err)
	}
	if aws.ToString(id.Account) != "123456789012" {
		t.Errorf("account %q, want 123456789012 from --account", aws.ToString(id.Account))
	}
	if code := e.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, e.stderr)
	}
	if !strings.Contains(e.stderr.String(), "shutting down") {
		t.Errorf("stderr does not say it shut down:\n%s", e.stderr)
	}
}

func TestEmulatorRejectsBadAccount(t *testing.T) {
	out, err := exec.Command(ssmstateBinary(t), "emulator", "--listen", "127.0.0.1:0", "--account", "12ab").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "12-digit") {
		t.Fatalf("exit %v, output %s; want exit %d naming the 12-digit rule", err, out, exitUsage)
	}
}

func TestEmulatorKeepsDataAcrossRestartWithDataDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	e := startEmulator(t, "--data", dir)
	cfg := e.awsConfig()
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	const value = "persisted-through-restart"
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/restart/p"), Type: ssmtypes.ParameterTypeSecureString, KeyId: key.KeyMetadata.KeyId, Value: aws.String(value),
	}); err != nil {
		t.Fatalf("PutParameter: %v", err)
	}
	if code := e.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, e.stderr)
	}

	e = startEmulator(t, "--data", dir)
	got, err := ssm.NewFromConfig(e.awsConfig()).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/restart/p"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetParameter after restart: %v", err)
	}
	if aws.ToString(got.Parameter.Value) != value || aws.ToString(got.Parameter.ARN) == "" {
		t.Errorf("after restart the parameter reads back differently (version %d)", got.Parameter.Version)
	}
	if code := e.stop(t); code != 0 {
		t.Fatalf("second run: exit code %d after SIGTERM; stderr:\n%s", code, e.stderr)
	}
}
