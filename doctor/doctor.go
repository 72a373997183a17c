// Package doctor checks that a state locator will work, without changing the
// state: the caller's credentials, the locator, the parameter and the KMS
// key that encrypts it, the caller's SSM and KMS rights (proven by calls AWS
// refuses before they change anything, and by a round trip through SSM on a
// probe part the store never uses, see docs/doctor.md), and that the stored
// state decodes. `ssmstate doctor` prints its Report. Every right the
// least-privilege policy (`ssmstate policy`) grants is one the store or
// doctor uses; doctor FAILs, naming the action and its statement, when one
// is missing.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/policy"
	"github.com/ssmstate/ssmstate/store"
	_ "github.com/ssmstate/ssmstate/store/ssmparam" // SSM locators
	"github.com/ssmstate/ssmstate/storeerr"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "PASS"
	Warn Status = "WARN" // works, but against best practice or not provable
	Fail Status = "FAIL" // the store will not work until fixed
	Skip Status = "SKIP" // not run because an earlier check failed
)

// Check is one line of the report. The JSON form is documented in
// docs/doctor.md and kept stable.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Summary counts the checks by status; OK is true when none failed.
type Summary struct {
	Pass int  `json:"pass"`
	Warn int  `json:"warn"`
	Fail int  `json:"fail"`
	Skip int  `json:"skip"`
	OK   bool `json:"ok"`
}

// Report is the outcome of Run.
type Report struct {
	Locator string  `json:"locator"`
	Checks  []Check `json:"checks"`
	Summary Summary `json:"summary"`
}

// Options configure Run.
type Options struct {
	// AWSConfig is used for every AWS call (its Region is replaced by the
	// locator's). Nil loads aws-sdk-go-v2's default configuration.
	AWSConfig *aws.Config
	// Timeout bounds each check's calls; 0 means 30 seconds.
	Timeout time.Duration
}

// Check names, stable for programs reading --json.
const (
	CheckLocator          = "locator"
	CheckCredentials      = "credentials"
	CheckKMSKey           = "kms-key"
	CheckKMSKeySpec       = "kms-key-spec"
	CheckKMSKeyManager    = "kms-key-manager"
	CheckKMSKeyRegions    = "kms-key-multi-region"
	CheckKMSKeyRotation   = "kms-key-rotation"
	CheckSSMRead          = "ssm-read"
	CheckParameter        = "parameter"
	CheckParameterKey     = "parameter-key"
	CheckState            = "state"
	CheckSSMWrite         = "ssm-write"
	CheckSSMWriteParts    = "ssm-write-parts"
	CheckSSMDeleteParts   = "ssm-delete-parts"
	CheckKMSEncrypt       = "kms-encrypt"
	CheckKMSGenerateData  = "kms-generate-data-key"
	CheckKMSDecrypt       = "kms-decrypt"
	defaultTimeout        = 30 * time.Second
	probePattern          = "^$"
	probeValue            = "ssmstate-doctor-probe"
	probePartSuffix       = ".part-0-0" // generation 0 is never written by the store
	ssmManagedKeyAlias    = "alias/aws/ssm"
	encryptionContextName = "PARAMETER_ARN"
)

// awsChecks are the checks that need AWS, in the order they run; they are
// reported as SKIP when credentials do not work.
var awsChecks = []string{CheckKMSKey, CheckKMSKeySpec, CheckKMSKeyManager, CheckKMSKeyRegions, CheckKMSKeyRotation,
	CheckSSMRead, CheckParameter, CheckParameterKey, CheckState, CheckSSMWrite, CheckSSMWriteParts, CheckSSMDeleteParts,
	CheckKMSEncrypt, CheckKMSGenerateData, CheckKMSDecrypt}

type runner struct {
	opts   Options
	locStr string
	loc    locator.Locator
	cfg    aws.Config
	subj   storeerr.Subject
	ssm    *ssm.Client
	kms    *kms.Client
	rep    *Report

	key *kmstypes.KeyMetadata // the locator's key (or aws/ssm), when DescribeKey answered
	// decryptViaSSM: ssm-read decrypted a SecureString under the locator's key.
	decryptViaSSM bool
	param         *ssmtypes.Parameter // the main parameter, decrypted, when present and readable
}

// Run runs every check on the locator loc and returns the report. It never
// changes the parameter, the parts of its state or the key; it writes,
// reads and deletes the probe part NAME.part-0-0, a name the store never
// uses.
func Run(ctx context.Context, loc string, opts Options) *Report {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	r := &runner{opts: opts, locStr: loc, rep: &Report{Locator: loc, Checks: []Check{}}}
	r.run(ctx)
	s := &r.rep.Summary
	for _, c := range r.rep.Checks {
		switch c.Status {
		case Pass:
			s.Pass++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		case Skip:
			s.Skip++
		}
	}
	s.OK = s.Fail == 0
	return r.rep
}

func (r *runner) add(name string, st Status, detail, fix string) {
	r.rep.Checks = append(r.rep.Checks, Check{Name: name, Status: st, Detail: detail, Fix: fix})
}

// addErr reports err as a FAIL (or st) of check name, with the error
// model's cause and fix when it has them.
func (r *runner) addErr(name string, st Status, op storeerr.Op, err error) {
	s := r.subj
	s.Op = op
	err = storeerr.Classify(err, s)
	var e *storeerr.Error
	if errors.As(err, &e) {
		r.add(name, st, e.Cause, e.Fix)
		return
	}
	r.add(name, st, err.Error(), "")
}

func (r *runner) skipRest(from []string, why string) {
	for _, n := range from {
		r.add(n, Skip, why, "")
	}
}

func (r *runner) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.opts.Timeout)
}

func (r *runner) run(ctx context.Context) {
	l, err := locator.Parse(r.locStr)
	if err != nil {
		var le *locator.Error
		fix := "write the locator as " + locator.Example
		if errors.As(err, &le) {
			fix = "write " + le.Want
		}
		r.add(CheckLocator, Fail, err.Error(), fix)
		return
	}
	r.loc = l
	switch l.Kind {
	case locator.KindMem:
		r.add(CheckLocator, Pass, "in-memory state "+l.String()+"; it lives only as long as the process", "")
		return
	case locator.KindFile:
		r.add(CheckLocator, Pass, "file "+l.Path, "")
		r.checkState(ctx)
		return
	}
	keyDesc := "kmsKey=" + l.KMSKey
	if l.KMSKey == "" {
		keyDesc = "no kmsKey (SSM's AWS managed key aws/ssm)"
	}
	r.add(CheckLocator, Pass, fmt.Sprintf("SSM parameter %s in %s, account %s, %s", l.ParameterName, l.Region, l.Account, keyDesc), "")
	r.subj = storeerr.Subject{Parameter: l.ParameterARN(), Region: l.Region, Key: l.KMSKey}

	if err := r.loadConfig(ctx); err != nil {
		r.addErr(CheckCredentials, Fail, storeerr.OpOpen, err)
		r.skipRest(awsChecks, "needs an AWS configuration")
		return
	}
	if !r.checkCredentials(ctx) {
		r.skipRest(awsChecks, "needs working credentials")
		return
	}
	r.checkKey(ctx)
	r.checkRead(ctx)
	r.checkParameter(ctx)
	r.checkState(ctx)
	r.checkReplicas(ctx)
	r.checkWrite(ctx)
}

func (r *runner) loadConfig(ctx context.Context) error {
	if r.opts.AWSConfig != nil {
		r.cfg = r.opts.AWSConfig.Copy()
	} else {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("load AWS configuration: %w", err)
		}
		r.cfg = cfg
	}
	r.cfg.Region = r.loc.Region
	r.ssm = ssm.NewFromConfig(r.cfg)
	r.kms = kms.NewFromConfig(r.cfg)
	return nil
}

func (r *runner) checkCredentials(ctx context.Context) bool {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	out, err := sts.NewFromConfig(r.cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		r.addErr(CheckCredentials, Fail, storeerr.OpOpen, err)
		return false
	}
	who, acct := aws.ToString(out.Arn), aws.ToString(out.Account)
	if acct != r.loc.Account {
		r.add(CheckCredentials, Fail,
			fmt.Sprintf("the credentials are %s of account %s, but the locator names account %s; SSM writes parameters only in the caller's own account", who, acct, r.loc.Account),
			fmt.Sprintf("use credentials of account %s, or put account %s in the locator", r.loc.Account, acct))
		return true
	}
	r.add(CheckCredentials, Pass, fmt.Sprintf("%s (account %s)", who, acct), "")
	return true
}

func (r *runner) keyRef() string {
	if r.loc.KMSKey == "" {
		return ssmManagedKeyAlias
	}
	return r.loc.KMSKey
}

func (r *runner) checkKey(ctx context.Context) {
	keyChecks := []string{CheckKMSKeySpec, CheckKMSKeyManager, CheckKMSKeyRegions, CheckKMSKeyRotation}
	s := r.subj
	s.Op = storeerr.OpOpen
	var meta *kmstypes.KeyMetadata
	var err error
	cctx, cancel := r.bound(ctx)
	defer cancel()
	if r.loc.KMSKey != "" {
		// The store's own fail-fast check; its error is the one Open gives.
		meta, err = storeerr.CheckKey(cctx, r.kms, s)
		var se *storeerr.Error
		if err != nil && meta == nil {
			r.addErr(CheckKMSKey, Fail, storeerr.OpOpen, err)
			r.fixInPolicy(err)
			r.skipRest(keyChecks, "needs the KMS key")
			return
		} else if err != nil && errors.As(err, &se) && se.Kind == storeerr.KeyOtherRegion {
			r.add(CheckKMSKey, Fail, se.Cause, se.Fix)
			r.skipRest(keyChecks, "needs a KMS key in the parameter's Region")
			return
		}
	} else {
		out, derr := r.kms.DescribeKey(cctx, &kms.DescribeKeyInput{KeyId: aws.String(ssmManagedKeyAlias)})
		if derr != nil {
			var ae smithy.APIError
			if errors.As(derr, &ae) && ae.ErrorCode() == "NotFoundException" {
				// AWS creates aws/ssm on the first SecureString put.
				r.add(CheckKMSKey, Pass, "no kmsKey: SSM's AWS managed key aws/ssm, which AWS creates at the first SecureString write in this Region", "")
				r.add(CheckKMSKeyManager, Warn, "AWS managed key aws/ssm: any principal of the account with ssm:GetParameter on the parameter can read the node's keys", managerFix(r.loc.Region))
				r.skipRest([]string{CheckKMSKeySpec, CheckKMSKeyRegions, CheckKMSKeyRotation}, "aws/ssm does not exist yet")
				return
			}
			r.addErr(CheckKMSKey, Fail, storeerr.OpOpen, derr)
			r.fixInPolicy(derr)
			r.skipRest(keyChecks, "needs the KMS key")
			return
		}
		meta = out.KeyMetadata
	}
	r.key = meta
	s.KeyARN = aws.ToString(meta.Arn)
	r.subj.KeyARN = s.KeyARN
	name := s.KeyARN
	if a := s.Alias(); a != "" {
		name = a + " (" + s.KeyARN + ")"
	} else if r.loc.KMSKey == "" {
		name = ssmManagedKeyAlias + " (" + s.KeyARN + ")"
	}
	if e := storeerr.KeyStateProblem(meta, s); e != nil {
		r.add(CheckKMSKey, Fail, e.Cause, e.Fix)
	} else {
		r.add(CheckKMSKey, Pass, fmt.Sprintf("%s is %s in %s", name, meta.KeyState, r.loc.Region), "")
	}
	if e := storeerr.KeySpecProblem(meta, s); e != nil {
		r.add(CheckKMSKeySpec, Fail, e.Cause, e.Fix)
	} else {
		r.add(CheckKMSKeySpec, Pass, fmt.Sprintf("%s, %s", meta.KeySpec, meta.KeyUsage), "")
	}
	if meta.KeyManager == kmstypes.KeyManagerTypeAws {
		r.add(CheckKMSKeyManager, Warn, "AWS managed key aws/ssm: any principal of the account with ssm:GetParameter on the parameter can read the node's keys", managerFix(r.loc.Region))
	} else {
		r.add(CheckKMSKeyManager, Pass, "customer managed: only principals the key policy and IAM allow kms:Decrypt can read the state", "")
	}
	r.add(CheckKMSKeyRegions, Pass, multiRegionDetail(meta), "")
	r.checkRotation(ctx, meta)
}

func managerFix(region string) string {
	return fmt.Sprintf("create a customer managed key and name it in the locator: `aws kms create-key --region %s`, `aws kms create-alias --alias-name alias/NAME --target-key-id <key id> --region %s`, then add ?kmsKey=alias/NAME; the next write re-encrypts the state under it", region, region)
}

func multiRegionDetail(m *kmstypes.KeyMetadata) string {
	if !aws.ToBool(m.MultiRegion) || m.MultiRegionConfiguration == nil {
		return "single-Region key"
	}
	c := m.MultiRegionConfiguration
	var replicas []string
	for _, k := range c.ReplicaKeys {
		replicas = append(replicas, aws.ToString(k.Region))
	}
	primary := ""
	if c.PrimaryKey != nil {
		primary = aws.ToString(c.PrimaryKey.Region)
	}
	if c.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica {
		return "multi-Region replica key; its primary is in " + primary
	}
	if len(replicas) == 0 {
		return "multi-Region primary key, no replicas"
	}
	return "multi-Region primary key, replicas in " + strings.Join(replicas, ", ")
}

func (r *runner) checkRotation(ctx context.Context, m *kmstypes.KeyMetadata) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	out, err := r.kms.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: m.Arn})
	if err != nil {
		// Only doctor reads the rotation status, but the least-privilege
		// policy grants it for that: without it doctor cannot vouch for
		// the key's rotation, and the policy is not the generated one.
		r.addErr(CheckKMSKeyRotation, Fail, storeerr.OpOpen, err)
		r.fixInPolicy(err)
		return
	}
	if mc := m.MultiRegionConfiguration; !out.KeyRotationEnabled && mc != nil && mc.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica && mc.PrimaryKey != nil {
		// A replica rotates with its primary; rotation is set there only.
		r.add(CheckKMSKeyRotation, Warn, "automatic rotation is off (a multi-Region replica rotates with its primary key)",
			fmt.Sprintf("turn it on for the primary key: `aws kms enable-key-rotation --key-id %s --region %s`", aws.ToString(mc.PrimaryKey.Arn), aws.ToString(mc.PrimaryKey.Region)))
		return
	}
	if !out.KeyRotationEnabled {
		r.add(CheckKMSKeyRotation, Warn, "automatic rotation is off",
			fmt.Sprintf("turn it on (yearly by default; old ciphertexts keep decrypting): `aws kms enable-key-rotation --key-id %s --region %s`", aws.ToString(m.Arn), r.loc.Region))
		return
	}
	detail := "automatic rotation is on"
	if out.RotationPeriodInDays != nil {
		detail += fmt.Sprintf(", every %d days", aws.ToInt32(out.RotationPeriodInDays))
	}
	if out.NextRotationDate != nil {
		detail += ", next on " + out.NextRotationDate.UTC().Format("2006-01-02")
	}
	r.add(CheckKMSKeyRotation, Pass, detail, "")
}

// checkRead reads the main parameter decrypted, exactly as a reader does:
// it proves ssm:GetParameter and kms:Decrypt through SSM.
func (r *runner) checkRead(ctx context.Context) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	out, err := r.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(r.loc.ParameterName), WithDecryption: aws.Bool(true)})
	switch {
	case errors.As(err, new(*ssmtypes.ParameterNotFound)):
		r.add(CheckSSMRead, Pass, "ssm:GetParameter is allowed (the parameter does not exist yet, so kms:Decrypt is not proven here)", "")
	case err != nil:
		r.addErr(CheckSSMRead, Fail, storeerr.OpRead, err)
		r.fixInPolicy(err)
	default:
		r.param = out.Parameter
		// Until parameter-key says otherwise, the parameter is taken to be
		// under the locator's key.
		r.decryptViaSSM = out.Parameter.Type == ssmtypes.ParameterTypeSecureString
		what := "ssm:GetParameter is allowed"
		if out.Parameter.Type == ssmtypes.ParameterTypeSecureString {
			what += " and kms:Decrypt through SSM works"
		}
		r.add(CheckSSMRead, Pass, what, "")
	}
}

// manifest is the part of the SSM backend's manifest (docs/format.md) the
// doctor reports.
type manifest struct {
	Format     *int   `json:"ssmstate"`
	Generation uint64 `json:"generation"`
	Parts      int    `json:"parts"`
	Size       int64  `json:"size"`
	Advanced   bool   `json:"advanced"`
}

// describeAll lists the main parameter, its parts and its side parameter
// (every name that begins with the main parameter's).
func (r *runner) describeAll(ctx context.Context) (map[string]ssmtypes.ParameterMetadata, error) {
	all := map[string]ssmtypes.ParameterMetadata{}
	p := ssm.NewDescribeParametersPaginator(r.ssm, &ssm.DescribeParametersInput{
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{r.loc.ParameterName}}},
		MaxResults:       aws.Int32(50),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range page.Parameters {
			all[aws.ToString(m.Name)] = m
		}
	}
	return all, nil
}

func (r *runner) checkParameter(ctx context.Context) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	name := r.loc.ParameterName
	all, err := r.describeAll(ctx)
	var meta *ssmtypes.ParameterMetadata
	if m, ok := all[name]; ok {
		meta = &m
	}
	side, hasSide := all[name+".moving"]
	if err == nil && meta == nil && r.param == nil {
		if hasSide {
			r.add(CheckParameter, Warn, "absent, but "+name+".moving holds the state: a move from String to SecureString was cut short",
				"write the state once through ssmstate (e.g. `ssmstate put LOCATOR KEY VALUE`): the store reads the state from "+name+".moving and completes the move")
			r.checkParameterKey(ctx, &side, nil)
			return
		}
		r.add(CheckParameter, Pass, "absent: Open starts from an empty state and the first write creates the parameter", "")
		r.add(CheckParameterKey, Pass, "absent: the first write encrypts it under "+r.keyRef(), "")
		return
	}
	var parts []string
	if r.param != nil {
		parts = append(parts, fmt.Sprintf("%s, version %d", r.param.Type, r.param.Version))
	} else if meta != nil {
		parts = append(parts, fmt.Sprintf("%s, version %d", meta.Type, meta.Version))
	}
	if meta != nil {
		parts = append(parts, "tier "+string(meta.Tier))
	}
	status, fix := Pass, ""
	var current []ssmtypes.ParameterMetadata // parts of the generation in effect
	if r.param != nil {
		var m manifest
		v := aws.ToString(r.param.Value)
		if json.Unmarshal([]byte(v), &m) == nil && m.Format != nil {
			tier := "Standard"
			if m.Advanced {
				tier = "Advanced"
			}
			parts = append(parts, fmt.Sprintf("a manifest of generation %d naming %s (%d bytes of state)", m.Generation, plural(m.Parts, tier+" part"), m.Size))
			if err == nil {
				missing := 0
				for i := range m.Parts {
					pm, ok := all[fmt.Sprintf("%s.part-%d-%d", name, m.Generation, i)]
					if !ok {
						missing++
						continue
					}
					current = append(current, pm)
				}
				if missing > 0 {
					status = Fail
					parts = append(parts, fmt.Sprintf("%s missing", plural(missing, "part")))
					fix = "restore the parts from a backup (`ssmstate import`), or open the store with reset to start over"
				}
			}
		} else {
			parts = append(parts, fmt.Sprintf("the state in the parameter itself (%d bytes, Tailscale's format)", len(v)))
		}
		if r.param.Type != ssmtypes.ParameterTypeSecureString {
			status = Warn
			parts = append(parts, "stored in plain text")
			fix = "write the state once through ssmstate (e.g. `ssmstate put LOCATOR KEY VALUE`): it rewrites the parameter as a SecureString under the configured key"
		}
	}
	if err == nil {
		if n := len(all) - 1 - len(current) - boolInt(hasSide); n > 0 && meta != nil {
			parts = append(parts, fmt.Sprintf("%s left from superseded generations (removed after the next write)", plural(n, "other parameter")))
		}
	}
	detail := strings.Join(parts, "; ")
	if err != nil {
		// The store sweeps parts left by killed writers with
		// DescribeParameters; without it they pile up against the
		// account's 10,000-parameter quota.
		var e *storeerr.Error
		s := r.subj
		s.Op = storeerr.OpRead
		why := "; without it the store cannot sweep parts left by interrupted writes, which pile up against the account's 10,000-parameter quota"
		if errors.As(storeerr.Classify(err, s), &e) {
			r.add(CheckParameter, Fail, strings.TrimPrefix(detail+"; ", "; ")+"tier, parts and key unknown: "+e.Cause+why, e.Fix)
		} else {
			r.add(CheckParameter, Fail, strings.TrimPrefix(detail+"; ", "; ")+"tier, parts and key unknown: "+err.Error()+why, "")
		}
		r.fixInPolicy(err)
		r.add(CheckParameterKey, Skip, "needs ssm:DescribeParameters", "")
		return
	}
	r.add(CheckParameter, status, detail, fix)
	r.checkParameterKey(ctx, meta, current)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkParameterKey says which key encrypts the parameter (and its parts)
// now and whether it is the locator's.
func (r *runner) checkParameterKey(ctx context.Context, meta *ssmtypes.ParameterMetadata, parts []ssmtypes.ParameterMetadata) {
	if meta == nil {
		r.add(CheckParameterKey, Skip, "DescribeParameters does not list the parameter", "")
		return
	}
	if meta.Type != ssmtypes.ParameterTypeSecureString {
		r.decryptViaSSM = false
		r.add(CheckParameterKey, Warn, "not encrypted (type "+string(meta.Type)+")", "the next write through ssmstate encrypts it under "+r.keyRef())
		return
	}
	want := ""
	if r.key != nil {
		want = aws.ToString(r.key.Arn)
	}
	resolved := map[string]string{} // key id as SSM records it → key ARN
	arnOf := func(id string) string {
		if id == "" {
			id = ssmManagedKeyAlias
		}
		if a, ok := resolved[id]; ok {
			return a
		}
		a := id
		if out, err := r.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); err == nil {
			a = aws.ToString(out.KeyMetadata.Arn)
		}
		resolved[id] = a
		return a
	}
	cur := aws.ToString(meta.KeyId)
	if cur == "" {
		cur = ssmManagedKeyAlias
	}
	curARN := arnOf(cur)
	name := cur
	if curARN != cur {
		name = cur + " (" + curARN + ")"
	}
	var otherParts []string
	for _, p := range parts {
		if a := arnOf(aws.ToString(p.KeyId)); a != want || p.Type != ssmtypes.ParameterTypeSecureString {
			otherParts = append(otherParts, aws.ToString(p.Name)+" under "+a)
		}
	}
	if want != "" && curARN == want && len(otherParts) == 0 {
		what := "encrypted under " + name + ", the locator's key"
		if len(parts) > 0 {
			what = "encrypted, with its " + plural(len(parts), "part") + ", under " + name + ", the locator's key"
		}
		r.add(CheckParameterKey, Pass, what, "")
		return
	}
	r.decryptViaSSM = false
	var detail string
	if want == "" || curARN != want {
		detail = fmt.Sprintf("encrypted under %s, not the locator's key %s; reading it needs kms:Decrypt on %s", name, r.keyRef(), curARN)
	} else {
		detail = "the main parameter is under the locator's key " + name
	}
	if len(otherParts) > 0 {
		detail += "; parts under another key: " + strings.Join(otherParts, ", ")
	}
	r.add(CheckParameterKey, Warn, detail,
		"write the state once through ssmstate (e.g. `ssmstate put LOCATOR KEY VALUE`): every write re-encrypts it under "+r.keyRef())
}

// checkState loads the state with the store itself, which is what Open
// does (including its fail-fast key check); it never writes.
func (r *runner) checkState(ctx context.Context) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	opts := []store.Option{store.WithTimeout(r.opts.Timeout)}
	if r.loc.Kind == locator.KindSSM {
		opts = append(opts, store.WithAWSConfig(r.cfg))
	}
	st, err := store.Open(ctx, r.locStr, opts...)
	if err != nil {
		var e *storeerr.Error
		switch {
		case errors.As(err, &e):
			r.add(CheckState, Fail, e.Cause, e.Fix)
			r.fixInPolicy(err)
		case errors.Is(err, store.ErrCorrupt):
			r.add(CheckState, Fail, err.Error(), "restore a good version (`aws ssm get-parameter-history`), delete the parameter, or open the store with reset to start over")
		default:
			r.add(CheckState, Fail, err.Error(), "")
		}
		return
	}
	defer st.Close()
	keys, err := st.List(ctx)
	if err != nil {
		r.add(CheckState, Fail, err.Error(), "")
		return
	}
	total := 0
	for _, k := range keys {
		total += int(k.Size)
	}
	r.add(CheckState, Pass, fmt.Sprintf("decodes: %s, %d bytes of values", plural(len(keys), "key"), total), "")
}

// writeProbe asks SSM to create name with a value that does not match the
// AllowedPattern it sends, and without Overwrite. AWS authorizes the call
// first (AccessDeniedException when ssm:PutParameter is not allowed) and then
// refuses it: ParameterAlreadyExists when name exists,
// ParameterPatternMismatchException otherwise. Neither creates or changes
// anything.
func (r *runner) writeProbe(ctx context.Context, check, name string) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	_, err := r.ssm.PutParameter(ctx, &ssm.PutParameterInput{
		Name:           aws.String(name),
		Value:          aws.String(probeValue),
		Type:           ssmtypes.ParameterTypeSecureString,
		KeyId:          aws.String(r.keyRef()),
		AllowedPattern: aws.String(probePattern),
		Overwrite:      aws.Bool(false),
	})
	var ae smithy.APIError
	switch {
	case err == nil:
		r.add(check, Fail, "the write probe unexpectedly created "+name+"; SSM did not apply AllowedPattern",
			fmt.Sprintf("delete it: `aws ssm delete-parameter --name %s --region %s`", name, r.loc.Region))
	case errors.As(err, &ae) && (ae.ErrorCode() == "ParameterAlreadyExists" || ae.ErrorCode() == "ParameterPatternMismatchException"):
		r.add(check, Pass, fmt.Sprintf("ssm:PutParameter on %s is allowed (proven by a put SSM refused with %s; nothing changed)", name, ae.ErrorCode()), "")
	default:
		r.addErr(check, Fail, storeerr.OpWrite, err)
		r.fixInPolicy(err)
	}
}

func (r *runner) checkWrite(ctx context.Context) {
	r.writeProbe(ctx, CheckSSMWrite, r.loc.ParameterName)
	part := r.loc.ParameterName + probePartSuffix
	if r.key == nil {
		// No key to encrypt under yet (aws/ssm not created, or the
		// locator's key not described): prove the put right without
		// writing, and leave the KMS checks to a later run.
		r.writeProbe(ctx, CheckSSMWriteParts, part)
		r.deleteProbe(ctx, part, false)
		r.skipRest([]string{CheckKMSEncrypt, CheckKMSGenerateData, CheckKMSDecrypt}, "needs the KMS key")
		return
	}
	r.roundTrip(ctx, part)
	// Report ssm-delete-parts, which runs last, with the other SSM checks.
	cs := r.rep.Checks
	if n := len(cs); n >= 4 && cs[n-1].Name == CheckSSMDeleteParts {
		d := cs[n-1]
		copy(cs[n-3:], cs[n-4:n-1])
		cs[n-4] = d
	}
}

// roundTrip writes the probe part NAME.part-0-0 as a SecureString under the
// locator's key (a name the store never uses: generation 0 is never
// written), reads it back decrypted and deletes it. That is what the store
// does with its parts, so it proves, through SSM and with the part's
// encryption context, ssm:PutParameter, kms:Encrypt (and, with
// tier=advanced, kms:GenerateDataKey: an Advanced SecureString is
// envelope-encrypted), ssm:GetParameter with kms:Decrypt,
// ssm:DeleteParameter and ssm:DeleteParameters — the rights of the
// generated policy's StateParameters and UseStateKeyThroughSSM statements.
// The state (the main parameter and the parts of its generation) is not
// touched.
func (r *runner) roundTrip(ctx context.Context, part string) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	put := func(tier ssmtypes.ParameterTier) error {
		in := &ssm.PutParameterInput{
			Name: aws.String(part), Value: aws.String(probeValue), Type: ssmtypes.ParameterTypeSecureString,
			Overwrite: aws.Bool(true), Tier: tier,
		}
		if r.loc.KMSKey != "" {
			in.KeyId = aws.String(r.loc.KMSKey)
		}
		_, err := r.ssm.PutParameter(ctx, in)
		return err
	}
	readBack := func() error {
		out, err := r.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(part), WithDecryption: aws.Bool(true)})
		if err == nil && aws.ToString(out.Parameter.Value) != probeValue {
			err = fmt.Errorf("SSM returned another value for %s than doctor wrote; another writer changed it meanwhile", part)
		}
		return err
	}
	written := false
	err := put(ssmtypes.ParameterTierStandard)
	var se *storeerr.Error
	s := r.subj
	s.Op = storeerr.OpWrite
	switch {
	case err == nil:
		written = true
		r.add(CheckSSMWriteParts, Pass, fmt.Sprintf("ssm:PutParameter on %s is allowed (doctor wrote this part name, which the store never uses, read it back and deleted it)", part), "")
		r.add(CheckKMSEncrypt, Pass, fmt.Sprintf("kms:Encrypt through SSM works (SSM encrypted %s under %s with encryption context %s=%s)", part, r.keyRef(), encryptionContextName, r.loc.ParameterARN()+probePartSuffix), "")
	case errors.As(storeerr.Classify(err, s), &se) && strings.HasPrefix(se.Action, "kms:"):
		// SSM authorizes PutParameter before it asks KMS, as the caller.
		r.add(CheckSSMWriteParts, Pass, fmt.Sprintf("ssm:PutParameter on %s is allowed (SSM went on to ask KMS to encrypt it)", part), "")
		r.addErr(CheckKMSEncrypt, Fail, storeerr.OpWrite, err)
		r.fixInPolicy(err)
	default:
		r.addErr(CheckSSMWriteParts, Fail, storeerr.OpWrite, err)
		r.fixInPolicy(err)
		r.add(CheckKMSEncrypt, Skip, "needs ssm:PutParameter on the parts: doctor proves kms:Encrypt through SSM by writing a probe part", "")
	}

	var decErr error
	if written {
		decErr = readBack()
	}
	switch {
	case !r.loc.Advanced:
		r.add(CheckKMSGenerateData, Pass, "not used: without tier=advanced the store writes Standard parameters, which SSM encrypts with kms:Encrypt", "")
	case !written:
		r.add(CheckKMSGenerateData, Skip, "needs the probe part, which could not be written", "")
	default:
		// Standard → Advanced in place is allowed (never back).
		if err := put(ssmtypes.ParameterTierAdvanced); err != nil {
			r.addErr(CheckKMSGenerateData, Fail, storeerr.OpWrite, err)
			r.fixInPolicy(err)
		} else {
			r.add(CheckKMSGenerateData, Pass, fmt.Sprintf("kms:GenerateDataKey through SSM works (SSM envelope-encrypted %s as an Advanced parameter)", part), "")
			if decErr == nil {
				decErr = readBack()
			}
		}
	}
	switch {
	case !written && r.decryptViaSSM:
		r.add(CheckKMSDecrypt, Pass, "kms:Decrypt through SSM works (ssm-read decrypted the parameter)", "")
	case !written:
		r.add(CheckKMSDecrypt, Skip, "needs the probe part, which could not be written", "")
	case decErr != nil:
		r.addErr(CheckKMSDecrypt, Fail, storeerr.OpRead, decErr)
		r.fixInPolicy(decErr)
	default:
		r.add(CheckKMSDecrypt, Pass, fmt.Sprintf("kms:Decrypt through SSM works (SSM decrypted %s for doctor)", part), "")
	}
	r.deleteProbe(ctx, part, written)
}

// deleteProbe proves ssm:DeleteParameter and ssm:DeleteParameters on the
// probe part: a real delete when doctor wrote it, else a delete of the
// absent name (ParameterNotFound proves the right). The batch form, which
// the store's cleanup uses, answers a missing name in InvalidParameters
// rather than with an error. Without these rights the store cannot remove
// superseded parts: they pile up against the account's 10,000-parameter
// quota, and a String parameter cannot be moved to SecureString.
func (r *runner) deleteProbe(ctx context.Context, part string, written bool) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	_, err := r.ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(part)})
	if err == nil || errors.As(err, new(*ssmtypes.ParameterNotFound)) {
		_, err = r.ssm.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: []string{part}})
	}
	if err != nil {
		r.addErr(CheckSSMDeleteParts, Fail, storeerr.OpDelete, err)
		r.fixInPolicy(err)
		c := &r.rep.Checks[len(r.rep.Checks)-1]
		c.Detail += "; without it the store cannot remove superseded parts, which pile up against the account's 10,000-parameter quota, nor move a String parameter to SecureString"
		if written {
			c.Fix += fmt.Sprintf("; then delete doctor's probe: `aws ssm delete-parameter --name %s --region %s`", part, r.loc.Region)
		}
		return
	}
	how := "proven by deleting a part name the store never uses, which does not exist"
	if written {
		how = "proven by deleting doctor's probe part"
	}
	r.add(CheckSSMDeleteParts, Pass, "ssm:DeleteParameter and ssm:DeleteParameters on "+part+" are allowed ("+how+")", "")
}

// policySid is the statement of the generated policy (`ssmstate policy`)
// that grants each action the store and doctor use.
var policySid = map[string]string{
	"ssm:GetParameter": policy.SidState, "ssm:GetParameters": policy.SidState, "ssm:PutParameter": policy.SidState,
	"ssm:DeleteParameter": policy.SidState, "ssm:DeleteParameters": policy.SidState,
	"ssm:DescribeParameters": policy.SidListParts,
	"kms:DescribeKey":        policy.SidDescribeKey, "kms:GetKeyRotationStatus": policy.SidDescribeKey,
	"kms:Encrypt": policy.SidUseKeyViaSSM, "kms:Decrypt": policy.SidUseKeyViaSSM, "kms:GenerateDataKey": policy.SidUseKeyViaSSM,
}

// fixInPolicy appends to the last check's fix the generated policy's
// statement that grants the action err was denied.
func (r *runner) fixInPolicy(err error) {
	var ae smithy.APIError
	var se *storeerr.Error
	switch {
	case errors.As(err, &se) && se.Kind == storeerr.AccessDenied:
	case errors.As(err, &ae) && strings.HasPrefix(ae.ErrorCode(), "AccessDenied"):
	default:
		return
	}
	c := &r.rep.Checks[len(r.rep.Checks)-1]
	for _, a := range slices.Sorted(maps.Keys(policySid)) {
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(a) + `\b`).MatchString(err.Error()) {
			c.Fix = strings.TrimPrefix(c.Fix+"; ", "; ") + fmt.Sprintf("%s is in statement %s of the least-privilege policy `ssmstate policy LOCATOR` prints", a, policySid[a])
			if !strings.Contains(c.Detail+c.Fix, a) {
				c.Detail += " (" + a + ")"
			}
			return
		}
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// WriteText prints the report, one line per check and a summary:
//
//	PASS  credentials            arn:aws:iam::123456789012:user/node1 (account 123456789012)
//	FAIL  kms-key                the KMS key alias/ts-prod (…) is disabled, …
//	                             fix: enable it: `aws kms enable-key …`
func (rep *Report) WriteText(w io.Writer) error {
	width := 0
	for _, c := range rep.Checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	for _, c := range rep.Checks {
		fmt.Fprintf(&b, "%-4s  %-*s  %s\n", c.Status, width, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(&b, "%-4s  %-*s  fix: %s\n", "", width, "", c.Fix)
		}
	}
	s := rep.Summary
	verdict := "OK: nothing failed"
	if !s.OK {
		verdict = "FAILED: fix the FAIL lines (the store will not work, or lacks a right it uses)"
	}
	fmt.Fprintf(&b, "%d checks: %d pass, %d warn, %d fail, %d skipped. %s\n", len(rep.Checks), s.Pass, s.Warn, s.Fail, s.Skip, verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as the JSON object documented in
// docs/doctor.md.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
