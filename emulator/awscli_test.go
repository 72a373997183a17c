package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssmstate/ssmstate/emulator"
)

// awsCLI is one installed AWS CLI.
type awsCLI struct {
	path    string
	version string // e.g. "1.45.11" or "2.9.19"
	// endpointFlag is set for CLI releases that do not read AWS_ENDPOINT_URL
	// (v2 before 2.13, such as Debian 12's 2.9): the user passes
	// --endpoint-url instead.
	endpointFlag bool
}

var cliVersionRE = regexp.MustCompile(`aws-cli/(\d+)\.(\d+)\.(\d+)`)

// findAWSCLIs returns every distinct AWS CLI installed: v1 from pyenv (the
// `aws` on PATH or under ~/.pyenv) and v2 from Debian at /usr/bin/aws.
func findAWSCLIs(t *testing.T) []awsCLI {
	candidates := []string{"/usr/bin/aws"}
	if p, err := exec.LookPath("aws"); err == nil {
		candidates = append(candidates, p)
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".pyenv", "shims", "aws"))
	}
	var clis []awsCLI
	seen := map[string]bool{}
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").CombinedOutput()
		m := cliVersionRE.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			t.Logf("%s --version: %v %s (not used)", p, err, out)
			continue
		}
		version := m[1] + "." + m[2] + "." + m[3]
		if seen[version] {
			continue
		}
		seen[version] = true
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		clis = append(clis, awsCLI{path: p, version: version, endpointFlag: major == 2 && minor < 13})
	}
	return clis
}

// cliEnv is the environment a user has after pasting what `ssmstate
// emulator` prints, with the user's own AWS settings and files out of the way.
func cliEnv(t *testing.T, url string) []string {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ENDPOINT_URL="+url,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID="+emulator.DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+emulator.DummySecretAccessKey,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_PAGER=",
		"AWS_DEFAULT_OUTPUT=json",
	)
}

type cliRun struct {
	t    *testing.T
	cli  awsCLI
	env  []string
	url  string
	seen []string // commands run, for failure messages
}

// run runs `aws args...` and returns stdout, stderr and the exit code.
func (c *cliRun) run(args ...string) (string, string, int) {
	c.t.Helper()
	if c.cli.endpointFlag {
		args = append([]string{"--endpoint-url", c.url}, args...)
	}
	cmd := exec.Command(c.cli.path, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start aws %s: %v", strings.Join(args, " "), err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		c.t.Fatalf("aws %s did not finish in 2 minutes", strings.Join(args, " "))
	}
	c.seen = append(c.seen, "aws "+strings.Join(args, " "))
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs a command that must succeed and decodes its JSON output.
func (c *cliRun) ok(out any, args ...string) {
	c.t.Helper()
	stdout, stderr, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("aws %s: exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			c.t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
}

type cliParameter struct {
	Name, Type, Value, ARN, DataType, KeyId, Tier, Description string
	Version                                                    int
	Labels                                                     []string
}

func TestAWSCLI(t *testing.T) {
	clis := findAWSCLIs(t)
	if len(clis) == 0 {
		// CI installs Debian's awscli (.ci/run); a missing CLI is a failure,
		// not a reason to skip.
		t.Fatal("no AWS CLI found (looked for /usr/bin/aws, aws on PATH, ~/.pyenv/shims/aws); install one, e.g. apt-get install awscli, or run .ci/run")
	}
	for _, cli := range clis {
		t.Run("v"+cli.version, func(t *testing.T) {
			t.Parallel()
			srv := emulator.NewTestServer(t)
			c := &cliRun{t: t, cli: cli, env: cliEnv(t, srv.URL), url: srv.URL}
			cliSequence(t, c, srv)
		})
	}
}

func cliSequence(t *testing.T, c *cliRun, srv *emulator.Server) {
	var id struct{ Account, Arn, UserId string }
	c.ok(&id, "sts", "get-caller-identity")
	if id.Account != emulator.DefaultAccount || id.Arn != "arn:aws:iam::000000000000:root" {
		t.Errorf("sts get-caller-identity: %+v", id)
	}

	var key struct {
		KeyMetadata struct{ KeyId, Arn, KeyState, KeySpec string }
	}
	c.ok(&key, "kms", "create-key", "--description", "cli test key")
	if key.KeyMetadata.KeyState != "Enabled" || key.KeyMetadata.KeySpec != "SYMMETRIC_DEFAULT" || !strings.HasSuffix(key.KeyMetadata.Arn, key.KeyMetadata.KeyId) {
		t.Errorf("kms create-key: %+v", key.KeyMetadata)
	}
	c.ok(nil, "kms", "create-alias", "--alias-name", "alias/cli-test", "--target-key-id", key.KeyMetadata.KeyId)
	var aliases struct {
		Aliases []struct{ AliasName, TargetKeyId string }
	}
	c.ok(&aliases, "kms", "list-aliases", "--key-id", key.KeyMetadata.KeyId)
	if len(aliases.Aliases) != 1 || aliases.Aliases[0].AliasName != "alias/cli-test" {
		t.Errorf("kms list-aliases --key-id: %+v", aliases)
	}

	const name, secret = "/cli/app/db-password", "correct horse battery staple"
	var put struct {
		Version int
		Tier    string
	}
	c.ok(&put, "ssm", "put-parameter", "--name", name, "--type", "SecureString", "--key-id", "alias/cli-test", "--value", secret, "--description", "from the CLI")
	if put.Version != 1 || put.Tier != "Standard" {
		t.Errorf("ssm put-parameter: %+v, want version 1, tier Standard", put)
	}

	var got struct{ Parameter cliParameter }
	c.ok(&got, "ssm", "get-parameter", "--name", name)
	if got.Parameter.Value == secret || got.Parameter.Value == "" || got.Parameter.Type != "SecureString" {
		t.Errorf("ssm get-parameter without decryption must give ciphertext; got type %q, plaintext=%v", got.Parameter.Type, got.Parameter.Value == secret)
	}
	c.ok(&got, "ssm", "get-parameter", "--name", name, "--with-decryption")
	if got.Parameter.Value != secret || got.Parameter.Version != 1 || got.Parameter.ARN != "arn:aws:ssm:us-east-1:000000000000:parameter"+name {
		t.Errorf("ssm get-parameter --with-decryption: version %d, ARN %q, value matches: %v", got.Parameter.Version, got.Parameter.ARN, got.Parameter.Value == secret)
	}

	// Overwrite makes version 2; without --overwrite it is refused.
	_, stderr, code := c.run("ssm", "put-parameter", "--name", name, "--type", "SecureString", "--key-id", "alias/cli-test", "--value", "v2")
	if code == 0 || !strings.Contains(stderr, "(ParameterAlreadyExists)") {
		t.Errorf("put-parameter without --overwrite: exit %d, stderr %s", code, stderr)
	}
	c.ok(&put, "ssm", "put-parameter", "--name", name, "--type", "SecureString", "--key-id", "alias/cli-test", "--value", secret+" 2", "--overwrite")
	if put.Version != 2 {
		t.Errorf("put-parameter --overwrite: version %d, want 2", put.Version)
	}
	c.ok(nil, "ssm", "put-parameter", "--name", "/cli/app/region", "--type", "String", "--value", "us-east-1")
	c.ok(nil, "ssm", "label-parameter-version", "--name", name, "--parameter-version", "1", "--labels", "first")

	var desc struct{ Parameters []cliParameter }
	c.ok(&desc, "ssm", "describe-parameters", "--parameter-filters", "Key=Name,Values="+name)
	if len(desc.Parameters) != 1 || desc.Parameters[0].KeyId != "alias/cli-test" || desc.Parameters[0].Type != "SecureString" ||
		desc.Parameters[0].Version != 2 || desc.Parameters[0].Tier != "Standard" || desc.Parameters[0].Description != "from the CLI" {
		t.Errorf("ssm describe-parameters: %+v", desc.Parameters)
	}

	var hist struct{ Parameters []cliParameter }
	c.ok(&hist, "ssm", "get-parameter-history", "--name", name, "--with-decryption")
	if len(hist.Parameters) != 2 || hist.Parameters[0].Version != 1 || hist.Parameters[1].Version != 2 ||
		hist.Parameters[0].Value != secret || hist.Parameters[1].Value != secret+" 2" ||
		len(hist.Parameters[0].Labels) != 1 || hist.Parameters[0].Labels[0] != "first" || hist.Parameters[0].KeyId != "alias/cli-test" {
		t.Errorf("ssm get-parameter-history --with-decryption: %d entries %+v", len(hist.Parameters), redact(hist.Parameters))
	}
	c.ok(&got, "ssm", "get-parameter", "--name", name+":first", "--with-decryption")
	if got.Parameter.Value != secret || got.Parameter.Version != 1 {
		t.Errorf("get-parameter NAME:label: version %d", got.Parameter.Version)
	}

	// The CLI pages GetParametersByPath itself (MaxResults ≤ 10 per call).
	for i := range 12 {
		c.ok(nil, "ssm", "put-parameter", "--name", fmt.Sprintf("/cli/many/p%02d", i), "--type", "String", "--value", strconv.Itoa(i))
	}
	srv.ResetCalls()
	var byPath struct{ Parameters []cliParameter }
	c.ok(&byPath, "ssm", "get-parameters-by-path", "--path", "/cli", "--recursive", "--with-decryption")
	if len(byPath.Parameters) != 14 {
		t.Errorf("get-parameters-by-path --recursive: %d parameters, want 14", len(byPath.Parameters))
	}
	if calls := srv.Calls()["ssm.GetParametersByPath"]; calls < 2 {
		t.Errorf("14 parameters came back in %d GetParametersByPath calls; pages hold at most 10", calls)
	}

	c.ok(nil, "ssm", "delete-parameter", "--name", name)
	stdout, stderr, code := c.run("ssm", "get-parameter", "--name", name)
	// AWS CLI v1 exits 255 on a service error, v2 254.
	if code != 255 && code != 254 || !strings.Contains(stderr, "An error occurred (ParameterNotFound) when calling the GetParameter operation") || stdout != "" {
		t.Errorf("get-parameter after delete-parameter: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, stderr, code = c.run("ssm", "put-parameter", "--name", "/cli/bad-key", "--type", "SecureString", "--key-id", "alias/does-not-exist", "--value", "x")
	if code == 0 || !strings.Contains(stderr, "(InvalidKeyId)") {
		t.Errorf("put-parameter with a missing key: exit %d, stderr %s", code, stderr)
	}
	if t.Failed() {
		t.Logf("commands run with AWS CLI %s:\n%s", c.cli.version, strings.Join(c.seen, "\n"))
	}
}

// redact drops values from parameters for failure messages.
func redact(ps []cliParameter) []cliParameter {
	out := make([]cliParameter, len(ps))
	for i, p := range ps {
		p.Value = fmt.Sprintf("<%d characters>", len(p.Value))
		out[i] = p
	}
	return out
}
