// Package demo is the tour `ssmstate demo` gives: on a local AWS endpoint
// started in this process with access control on, a node stores its
// Tailscale-like state in SSM Parameter Store under a customer KMS key with
// exactly the policy package policy generates, reads it back as a restarted
// node would, passes doctor, a snooping principal is denied, the state is
// rotated to another key, and CloudTrail shows who did what. It needs no AWS
// account and prints no secret value.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go/logging"

	"github.com/ssmstate/ssmstate/audit"
	"github.com/ssmstate/ssmstate/doctor"
	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/ops"
	"github.com/ssmstate/ssmstate/policy"
	"github.com/ssmstate/ssmstate/store"
	_ "github.com/ssmstate/ssmstate/store/ssmparam" // SSM locators
	"github.com/ssmstate/ssmstate/storeerr"
)

// What the tour creates.
const (
	Account       = emulator.DefaultAccount
	Region        = emulator.DefaultRegion
	Alias         = "alias/demo-node"
	NewAlias      = "alias/demo-node-2"
	ParameterName = "/demo/node1"
	ParameterARN  = "arn:aws:ssm:" + Region + ":" + Account + ":parameter" + ParameterName
	Locator       = ParameterARN + "?kmsKey=" + Alias
	NewLocator    = ParameterARN + "?kmsKey=" + NewAlias
)

// Principal is one of the demo's IAM principals and its static credentials.
type Principal struct {
	Name            string
	ARN             string
	AccessKeyID     string
	SecretAccessKey string
}

// The demo's principals. Their credentials are made up and only valid on
// the demo's endpoint.
var (
	Admin = Principal{"admin", "arn:aws:iam::" + Account + ":user/admin", "AKIADEMOADMIN0000001", "demo-admin-secret-key"}
	Node  = Principal{"node", "arn:aws:iam::" + Account + ":role/demo-node1", "AKIADEMONODE00000001", "demo-node-secret-key"}
	Snoop = Principal{"snoop", "arn:aws:iam::" + Account + ":user/snoop", "AKIADEMOSNOOP0000001", "demo-snoop-secret-key"}
)

const (
	allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	// The snooper may read every parameter, and nothing in KMS.
	snoopPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"*"}]}`
	// KMS's default key policy: the account may use the key as its IAM
	// policies allow, so the node's identity policy decides.
	keyPolicy = `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",` +
		`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + Account + `:root"},"Action":"kms:*","Resource":"*"}]}`
	// A parameter under the AWS managed key, to show what the snooper can read there.
	managedName  = "/demo/under-aws-managed-key"
	managedValue = "shared-db-password-under-aws-ssm"
)

// Options configure Run.
type Options struct {
	// Keep leaves the endpoint running after the tour; Tour.Close stops it.
	Keep bool
	// Timeout bounds each store call; 0 means one minute.
	Timeout time.Duration
}

// Tour is what Run leaves behind. Its Server is running only with
// Options.Keep.
type Tour struct {
	Server *emulator.Server
	dir    string
}

// Env returns the environment (NAME=value) that points the AWS CLI, the
// SDKs and the other ssmstate commands at the kept endpoint as the admin.
func (t *Tour) Env() []string {
	if t == nil || t.Server == nil {
		return nil
	}
	return []string{
		"AWS_ENDPOINT_URL=" + t.Server.URL,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + Admin.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + Admin.SecretAccessKey,
	}
}

// Close stops the endpoint, if it runs, and removes its data directory.
func (t *Tour) Close() error {
	if t == nil {
		return nil
	}
	var err error
	if t.Server != nil {
		err = t.Server.Close()
		t.Server = nil
	}
	if t.dir != "" {
		err = errors.Join(err, os.RemoveAll(t.dir))
		t.dir = ""
	}
	return err
}

// tour is one run's state.
type tour struct {
	out     io.Writer
	srv     *emulator.Server
	timeout time.Duration
	keyARN  map[string]string // alias → key ARN
	nodePol map[string]*policy.Policy
}

func (t *tour) say(format string, args ...any) { fmt.Fprintf(t.out, format+"\n", args...) }

func (t *tour) section(n int, title string) { t.say("\n== %d. %s", n, title) }

func (t *tour) cfg(p Principal) aws.Config {
	c := t.srv.AWSConfigWithCredentials(Region, p.AccessKeyID, p.SecretAccessKey)
	c.Logger = logging.Nop{}
	return c
}

func (t *tour) open(ctx context.Context, loc string, p Principal) (*store.Store, error) {
	return store.Open(ctx, loc, store.WithAWSConfig(t.cfg(p)), store.WithTimeout(t.timeout),
		store.WithLogger(slog.New(slog.DiscardHandler)))
}

// Run gives the tour, printing it to out. It fails if any step does not
// turn out as the tour says it does. With o.Keep the returned Tour's
// endpoint is still running; the caller must Close the Tour either way.
func Run(ctx context.Context, out io.Writer, o Options) (res *Tour, err error) {
	dir, err := os.MkdirTemp("", "ssmstate-demo-")
	if err != nil {
		return nil, fmt.Errorf("make a data directory for the demo endpoint: %w", err)
	}
	res = &Tour{dir: dir}
	defer func() {
		if err != nil || !o.Keep {
			err = errors.Join(err, res.Close())
		}
	}()
	t := &tour{out: out, timeout: o.Timeout, keyARN: map[string]string{}, nodePol: map[string]*policy.Policy{}}
	if t.timeout == 0 {
		t.timeout = time.Minute
	}
	t.say("ssmstate demo: a node's secret state in SSM Parameter Store, encrypted under a customer")
	t.say("KMS key, on a local AWS endpoint in this process. No AWS account; no value is printed.")

	if err := t.setUp(ctx, dir); err != nil {
		return res, err
	}
	res.Server = t.srv
	steps := []func(context.Context) error{t.write, t.reopen, t.doctor, t.snoop, t.rotate, t.audit}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return res, err
		}
	}
	t.say("\nDone: the state was stored, read back, checked, kept from a snooper and moved to a new key.")
	return res, nil
}

func principal(p Principal, policies ...json.RawMessage) emulator.IAMPrincipal {
	return emulator.IAMPrincipal{ARN: p.ARN, AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey, Policies: policies}
}

// setUp creates the keys and aliases as the admin on a first endpoint, so
// that their ARNs are known, generates the node's policies, and restarts
// the endpoint on the same data directory with every principal: IAM
// principals are fixed when the endpoint starts, as the node's role would
// be created once the key exists.
func (t *tour) setUp(ctx context.Context, dir string) error {
	t.section(1, "A local AWS endpoint with IAM on; a customer key and alias (as admin)")
	quiet := emulator.WithLogger(slog.New(slog.DiscardHandler))
	setup, err := emulator.Start(quiet, emulator.WithDataDir(dir),
		emulator.WithIAMConfig(emulator.IAMConfig{Account: Account, Principals: []emulator.IAMPrincipal{principal(Admin, json.RawMessage(allowAll))}}))
	if err != nil {
		return fmt.Errorf("start the in-process local AWS endpoint: %w", err)
	}
	t.srv = setup
	defer setup.Close()
	kc := kms.NewFromConfig(t.cfg(Admin))
	for _, alias := range []string{Alias, NewAlias} {
		key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("ssmstate demo node state"), Policy: aws.String(keyPolicy)})
		if err != nil {
			return fmt.Errorf("create the demo's KMS key for %s: %w", alias, err)
		}
		id := key.KeyMetadata.KeyId
		if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: id}); err != nil {
			return fmt.Errorf("create %s: %w", alias, err)
		}
		if _, err := kc.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id}); err != nil {
			return fmt.Errorf("enable automatic rotation of %s: %w", alias, err)
		}
		t.keyARN[alias] = aws.ToString(key.KeyMetadata.Arn)
	}
	t.say("admin created two customer managed keys (symmetric, automatic rotation on), each")
	t.say("with KMS's default key policy, which delegates to IAM (account root: kms:*):")
	t.say("  %-17s for the node's state", Alias)
	t.say("  %-17s for later, to rotate to (step 6)", NewAlias)

	// The node's identity policy is exactly what `ssmstate policy` prints
	// for the locator, and for the one it will have after the rotation.
	for _, l := range []string{Locator, NewLocator} {
		loc, err := locator.Parse(l)
		if err != nil {
			return fmt.Errorf("parse the demo locator %s: %w", l, err)
		}
		keyARN, err := policy.ResolveKey(ctx, kc, loc)
		if err != nil {
			return err
		}
		p, err := policy.Generate(loc, policy.Options{KeyARN: keyARN, RoleARN: Node.ARN})
		if err != nil {
			return fmt.Errorf("generate the node's policy for %s: %w", l, err)
		}
		t.nodePol[l] = p
	}
	if err := setup.Close(); err != nil {
		return fmt.Errorf("stop the set-up endpoint: %w", err)
	}

	ps := []emulator.IAMPrincipal{principal(Admin, json.RawMessage(allowAll)), principal(Snoop, json.RawMessage(snoopPolicy))}
	var nodePolicies []json.RawMessage
	for _, l := range []string{Locator, NewLocator} {
		b, err := json.Marshal(t.nodePol[l].Identity)
		if err != nil {
			return err
		}
		nodePolicies = append(nodePolicies, b)
	}
	ps = append(ps, principal(Node, nodePolicies...))
	srv, err := emulator.Start(quiet, emulator.WithDataDir(dir), emulator.WithIAMConfig(emulator.IAMConfig{Account: Account, Principals: ps}))
	if err != nil {
		return fmt.Errorf("restart the in-process local AWS endpoint with the node's policy: %w", err)
	}
	t.srv = srv
	t.say("")
	t.say("The endpoint (SSM, KMS, STS, CloudTrail) at %s, account %s, %s,", srv.URL, Account, Region)
	t.say("checks every request's signature and policies as AWS does. Principals:")
	t.say("  admin  %s  Allow * on *", Admin.ARN)
	t.say("  node   %s", Node.ARN)
	t.say("         exactly what `ssmstate policy` generates for the locator (and for the")
	t.say("         rotated one, step 6):")
	for _, st := range t.nodePol[Locator].Identity.Statement {
		t.say("           %-22s %s", st.Sid, strings.Join(st.Action, " "))
	}
	t.say("  snoop  %s  ssm:GetParameter* on *, nothing in KMS", Snoop.ARN)
	t.say("The node's locator:")
	t.say("  %s", Locator)
	return nil
}

func sortedKeys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }

func total(m map[string][]byte) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// write stores the node's state as the node, one key at a time as
// tailscaled does on its first login.
func (t *tour) write(ctx context.Context) error {
	t.section(2, "The node stores its state (as node)")
	st, err := t.open(ctx, Locator, Node)
	if err != nil {
		return fmt.Errorf("open the node's state as the node: %w", err)
	}
	state := NodeState()
	order := []string{"_machinekey", "_profiles", profileKey, "_current-profile"}
	for _, k := range order {
		if err := st.WriteState(ctx, k, state[k]); err != nil {
			st.Close()
			return fmt.Errorf("write %s as the node: %w", k, err)
		}
		t.say("  wrote %-17s %5d bytes", k, len(state[k]))
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("close the node's state: %w", err)
	}
	p, err := ssm.NewFromConfig(t.cfg(Admin)).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ParameterName)})
	if err != nil {
		return fmt.Errorf("look at %s as the admin: %w", ParameterName, err)
	}
	t.say("%d keys, %d bytes, in one SecureString parameter %s (version %d), in the",
		len(state), total(state), ParameterName, p.Parameter.Version)
	t.say("JSON Tailscale's own awsstore writes: `tailscaled --state=<the locator>` reads it too.")
	return nil
}

// reopen reads the state back through a new store, as a restarted node.
func (t *tour) reopen(ctx context.Context) error {
	t.section(3, "A restarted node reads it back (as node)")
	st, err := t.open(ctx, Locator, Node)
	if err != nil {
		return fmt.Errorf("reopen the node's state as the node: %w", err)
	}
	defer st.Close()
	list, err := st.List(ctx)
	if err != nil {
		return err
	}
	want := NodeState()
	if len(list) != len(want) {
		return fmt.Errorf("read back %d keys, wrote %d", len(list), len(want))
	}
	for _, k := range list {
		got, err := st.ReadState(ctx, k.Key)
		if err != nil {
			return fmt.Errorf("read %s back: %w", k.Key, err)
		}
		if !bytes.Equal(got, want[k.Key]) {
			return fmt.Errorf("read %s back: not the value written", k.Key)
		}
		t.say("  %-17s %5d bytes", k.Key, k.Size)
	}
	t.say("every value is byte for byte what was written (compared, not printed)")
	return nil
}

// doctor runs the checks as the node.
func (t *tour) doctor(ctx context.Context) error {
	t.section(4, "ssmstate doctor (as node)")
	cfg := t.cfg(Node)
	rep := doctor.Run(ctx, Locator, doctor.Options{AWSConfig: &cfg})
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		return err
	}
	for line := range strings.Lines(b.String()) {
		t.say("  %s", strings.TrimRight(line, "\n"))
	}
	if !rep.Summary.OK {
		return fmt.Errorf("doctor found %d failures with the node's generated policy", rep.Summary.Fail)
	}
	return nil
}

// snoop shows what a principal with SSM-wide read but no KMS grant gets.
func (t *tour) snoop(ctx context.Context) error {
	t.section(5, "A snooper with ssm:GetParameter* on * (as snoop)")
	sc := ssm.NewFromConfig(t.cfg(Snoop))
	_, err := sc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ParameterName), WithDecryption: aws.Bool(true)})
	if err == nil {
		return fmt.Errorf("the snooper decrypted %s: the customer key did not protect it", ParameterName)
	}
	cause := err.Error()
	var se *storeerr.Error
	if errors.As(storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpRead, Parameter: ParameterARN, Region: Region, Key: Alias}), &se) {
		if se.Kind != storeerr.AccessDenied {
			return fmt.Errorf("the snooper's read failed, but not for lack of permission: %w", err)
		}
		cause = se.Cause
	}
	t.say("get-parameter --with-decryption: DENIED")
	t.say("  %s", cause)
	raw, err := sc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ParameterName)})
	if err != nil {
		return fmt.Errorf("the snooper's read without decryption: %w", err)
	}
	t.say("get-parameter without decryption: %d characters of ciphertext, no state", len(aws.ToString(raw.Parameter.Value)))

	ac := ssm.NewFromConfig(t.cfg(Admin))
	d, err := ac.DescribeParameters(ctx, &ssm.DescribeParametersInput{
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{ParameterName}}},
	})
	if err != nil || len(d.Parameters) != 1 {
		return fmt.Errorf("describe %s as the admin: %d parameters, %v", ParameterName, len(d.Parameters), err)
	}
	p := d.Parameters[0]
	if p.Type != ssmtypes.ParameterTypeSecureString || aws.ToString(p.KeyId) != Alias {
		return fmt.Errorf("%s is %s under %s, want SecureString under %s", ParameterName, p.Type, aws.ToString(p.KeyId), Alias)
	}
	t.say("%s is a %s (tier %s) under %s, a customer managed key:", ParameterName, p.Type, p.Tier, aws.ToString(p.KeyId))
	t.say("reading it takes kms:Decrypt on that key, not just ssm:GetParameter.")

	// The same snooper and a SecureString under the AWS managed key.
	if _, err := ac.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(managedName), Value: aws.String(managedValue), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		return fmt.Errorf("put %s as the admin: %w", managedName, err)
	}
	got, err := sc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(managedName), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(got.Parameter.Value) != managedValue {
		return fmt.Errorf("the snooper should read a SecureString under aws/ssm (the point of a customer key): %v", err)
	}
	t.say("Compare: a SecureString under the AWS managed key aws/ssm (%s)", managedName)
	t.say("the same snooper decrypts: any principal with ssm:GetParameter can.")
	return nil
}

// rotate moves the state to the second key with ops.Rotate, disables the
// first key and reads the state through the new locator.
func (t *tour) rotate(ctx context.Context) error {
	t.section(6, "Rotate to "+NewAlias+" (as admin), then disable the old key")
	cfg := t.cfg(Admin)
	r, err := ops.Rotate(ctx, Locator, NewAlias, ops.Options{AWSConfig: &cfg, Timeout: t.timeout, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("rotate the node's state to %s: %w", NewAlias, err)
	}
	if !r.Verified || r.NewLocator != NewLocator {
		return fmt.Errorf("rotation to %s: verified %v, new locator %s, want %s", NewAlias, r.Verified, r.NewLocator, NewLocator)
	}
	t.say("ops.Rotate (ssmstate rotate --to-key %s) re-encrypted %d parameter(s) and", NewAlias, len(r.Parameters))
	t.say("verified the %d keys through the new locator:", r.Keys)
	t.say("  %s", r.NewLocator)
	kc := kms.NewFromConfig(cfg)
	if _, err := kc.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(t.keyARN[Alias])}); err != nil {
		return fmt.Errorf("disable the old key %s: %w", Alias, err)
	}
	t.say("admin disabled the old key (%s).", Alias)

	st, err := t.open(ctx, NewLocator, Node)
	if err != nil {
		return fmt.Errorf("open the rotated state as the node: %w", err)
	}
	defer st.Close()
	want := NodeState()
	for _, k := range sortedKeys(want) {
		got, err := st.ReadState(ctx, k)
		if err != nil {
			return fmt.Errorf("read %s after the rotation: %w", k, err)
		}
		if !bytes.Equal(got, want[k]) {
			return fmt.Errorf("read %s after the rotation: not the value written", k)
		}
	}
	t.say("The node, restarted with the new locator, reads all %d keys: the old key is not needed.", len(want))

	_, err = t.open(ctx, Locator, Node)
	var se *storeerr.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("opening the old locator after disabling its key: want a key error, got %v", err)
	}
	t.say("The old locator now fails at start, with the reason:")
	t.say("  %s", se.Cause)
	return nil
}

// audit prints what CloudTrail recorded for the parameter.
func (t *tour) audit(ctx context.Context) error {
	t.section(7, "ssmstate audit: CloudTrail for "+ParameterName+" (as admin)")
	loc, err := locator.Parse(NewLocator)
	if err != nil {
		return err
	}
	cfg := t.cfg(Admin)
	rep, err := audit.Lookup(ctx, loc, audit.Options{AWSConfig: &cfg, Since: time.Hour})
	if err != nil {
		return fmt.Errorf("look up CloudTrail for %s: %w", ParameterName, err)
	}
	t.say("%d calls on %s and its KMS encryption context in the last hour, by principal:", len(rep.Entries), ParameterName)
	t.say("  %-42s %8s %5s %6s %6s", "", "decrypts", "reads", "writes", "denied")
	for _, p := range rep.Principals {
		t.say("  %-42s %8d %5d %6d %6d", p.Principal, p.Decrypts, p.Reads, p.Writes, p.Denied)
	}
	denied := 0
	for _, e := range rep.Entries {
		if !e.Denied {
			continue
		}
		if denied == 0 {
			t.say("Denied:")
		}
		denied++
		act := e.Action
		if e.ViaSSM {
			act += " (via SSM)"
		}
		t.say("  %s  %s  %s", iamName(e.Principal), act, shortError(e.Error))
	}
	if denied == 0 {
		return fmt.Errorf("CloudTrail does not show the snooper's denied read of %s", ParameterName)
	}
	t.say("(`ssmstate audit <locator>` lists each call with its time.)")
	return nil
}

// iamName is the last element of a principal's ARN ("snoop").
func iamName(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// shortError keeps an AWS error message's first clause: its code and who
// was refused what, without the request id and the policy explanation.
func shortError(s string) string {
	for _, cut := range []string{" because ", " (Service:"} {
		if i := strings.Index(s, cut); i > 0 {
			s = s[:i]
		}
	}
	return s
}
