package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/store"
)

// doctorRun runs the built binary with env and returns stdout, stderr and
// the exit code.
func doctorRun(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ssmstateBinary(t), args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case asExitError(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run ssmstate %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// doctorEnv is an environment with none of the caller's AWS settings that
// points at the endpoint.
func doctorEnv(t *testing.T, url string) []string {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID="+emulator.DummyAccessKeyID, "AWS_SECRET_ACCESS_KEY="+emulator.DummySecretAccessKey,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL="+url)
}

// TestCLIDoctor runs `ssmstate doctor` as a user does, against the local
// endpoint named only through the environment: a healthy customer-key setup
// prints only PASS lines and exits 0; a disabled key exits 1 naming the cause
// and the fix; a malformed locator or missing argument exits 2.
func TestCLIDoctor(t *testing.T) {
	ctx := context.Background()
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	env := doctorEnv(t, srv.URL)
	kc := kms.NewFromConfig(cfg)
	k, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(k.KeyMetadata.Arn)
	if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ts-prod"), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	base := "arn:aws:ssm:us-east-1:" + srv.Account() + ":parameter/ts/node1"
	loc := base + "?kmsKey=alias/ts-prod"
	st, err := store.Open(ctx, loc, store.WithAWSConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteState(ctx, "profile-1", bytes.Repeat([]byte("node state "), 1000)); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, errOut, code := doctorRun(t, env, "doctor", loc)
	if code != exitOK {
		t.Fatalf("healthy: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines[:len(lines)-1] {
		if !strings.HasPrefix(line, "PASS  ") {
			t.Errorf("healthy setup: line is not PASS: %q", line)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "0 fail") || !strings.Contains(last, "OK") {
		t.Errorf("summary line: %q", last)
	}

	out, _, code = doctorRun(t, env, "doctor", "--json", loc)
	var rep struct {
		Locator string
		Checks  []struct{ Name, Status, Detail, Fix string }
		Summary struct {
			Pass, Warn, Fail, Skip int
			OK                     bool
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK {
		t.Fatalf("--json output (exit %d): %v\n%s", code, err, out)
	}
	if rep.Locator != loc || !rep.Summary.OK || rep.Summary.Pass != len(rep.Checks) || len(rep.Checks) < 15 {
		t.Errorf("--json report: %+v", rep)
	}

	if _, err := kc.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = doctorRun(t, env, "doctor", loc)
	if code != exitFailed {
		t.Errorf("disabled key: exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(out, "FAIL  kms-key ") || !strings.Contains(out, "is disabled") ||
		!strings.Contains(out, "fix: enable it: `aws kms enable-key --key-id "+keyARN+" --region us-east-1`") {
		t.Errorf("disabled key: output does not name the cause and the fix:\n%s", out)
	}
	if !strings.Contains(errOut, "ssmstate: doctor: ") || !strings.Contains(errOut, "fix: ") {
		t.Errorf("stderr: %q", errOut)
	}

	out, _, code = doctorRun(t, env, "doctor", base+"?color=blue")
	if code != exitUsage || !strings.Contains(out, "FAIL  locator") || !strings.Contains(out, "unknown option") {
		t.Errorf("bad locator: exit %d\n%s", code, out)
	}
	if _, _, code = doctorRun(t, env, "doctor"); code != exitUsage {
		t.Errorf("no argument: exit %d, want %d", code, exitUsage)
	}
}

// TestCLIDoctorFailureModes: each broken setup, made for real on the local
// endpoint, exits 1 with a FAIL line that names the cause and a fix line.
func TestCLIDoctorFailureModes(t *testing.T) {
	ctx := context.Background()
	srv := emulator.NewTestServer(t)
	cfg := srv.AWSConfig("us-east-1")
	env := doctorEnv(t, srv.URL)
	kc := kms.NewFromConfig(cfg)
	base := "arn:aws:ssm:us-east-1:" + srv.Account() + ":parameter/ts/"
	newKey := func(alias string, in *kms.CreateKeyInput) string {
		k, err := kc.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.KeyId)
	}
	gone := newKey("alias/gone", &kms.CreateKeyInput{})
	if _, err := kc.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/gone")}); err != nil {
		t.Fatal(err)
	}
	_ = gone
	doomed := newKey("alias/doomed", &kms.CreateKeyInput{})
	if _, err := kc.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(doomed), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	newKey("alias/rsa", &kms.CreateKeyInput{KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT"})

	for _, tc := range []struct {
		name, loc, check, cause, fix string
	}{
		{"alias deleted", base + "a?kmsKey=alias/gone", "kms-key", "alias/gone does not exist", "aws kms create-alias --alias-name alias/gone"},
		{"pending deletion", base + "b?kmsKey=alias/doomed", "kms-key", "scheduled for deletion on ", "aws kms cancel-key-deletion --key-id "},
		{"asymmetric", base + "c?kmsKey=alias/rsa", "kms-key-spec", "RSA_2048", "--key-spec SYMMETRIC_DEFAULT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, code := doctorRun(t, env, "doctor", tc.loc)
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			line := failLine(out, tc.check)
			if !strings.Contains(line, tc.cause) || !strings.Contains(line, "fix: ") || !strings.Contains(line, tc.fix) {
				t.Errorf("FAIL %s does not name %q and %q:\n%s", tc.check, tc.cause, tc.fix, out)
			}
		})
	}

	t.Run("throttled", func(t *testing.T) {
		srv.SetFaults(emulator.FaultSpec{ThrottleRate: 1, Seed: 1})
		defer srv.SetFaults(emulator.FaultSpec{})
		out, _, code := doctorRun(t, env, "doctor", base+"d?kmsKey=alias/rsa")
		if code != exitFailed || !strings.Contains(failLine(out, "credentials"), "throttled") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

// failLine returns the FAIL line of check and the fix line under it.
func failLine(out, check string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "FAIL  "+check+" ") && i+1 < len(lines) {
			return l + "\n" + strings.TrimSpace(lines[i+1])
		}
	}
	return ""
}
