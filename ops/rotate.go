package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/store/ssmparam"
	"github.com/ssmstate/ssmstate/storeerr"
)

// WithKey returns loc with its kmsKey replaced by key ("" for SSM's
// aws/ssm key), parsed and normalised (a bare NAME becomes alias/NAME).
func WithKey(loc locator.Locator, key string) (locator.Locator, error) {
	l := loc
	l.KMSKey = ""
	s := l.String()
	if key != "" {
		sep := "?"
		if strings.Contains(s, "?") {
			sep = "&"
		}
		s += sep + "kmsKey=" + key
	}
	return locator.Parse(s)
}

// ssmLocator parses loc and requires an SSM locator for what.
func ssmLocator(loc, what string) (locator.Locator, error) {
	l, err := locator.Parse(loc)
	if err != nil {
		return l, err
	}
	if l.Kind != locator.KindSSM {
		return l, &locator.Error{Locator: loc, Problem: what + " needs an SSM parameter locator, not a " + l.Kind.String() + " one", Want: "an SSM parameter ARN such as " + locator.Example}
	}
	return l, nil
}

// RotateResult reports a rotation to another key.
type RotateResult struct {
	Locator    string `json:"locator"`
	NewLocator string `json:"newLocator"`
	// KeyARN is the new key's ARN.
	KeyARN string `json:"keyArn"`
	Keys   int    `json:"keys"`
	// Parameters are the parameters re-encrypted, each checked to be under
	// the new key.
	Parameters []string `json:"parameters"`
	Verified   bool     `json:"verified"`
	// Stale are parameters of superseded generations that still exist
	// (removal failed); they hold no current state.
	Stale []string `json:"stale,omitempty"`
}

// Rotate re-encrypts every parameter of the state loc names under toKey:
// it reads the state, commits it again through the SSM backend configured
// with the new key (so every part is written anew under it, and the
// superseded parts, still under the old key, are removed), then verifies by
// reading the state back through the new locator and by checking, with
// DescribeParameters and DescribeKey, that every parameter is encrypted under
// the new key. After it the old key is no longer needed.
func Rotate(ctx context.Context, loc, toKey string, o Options) (*RotateResult, error) {
	l, err := ssmLocator(loc, "rotate")
	if err != nil {
		return nil, err
	}
	if toKey == "" {
		return nil, &Error{Cause: "no key to rotate to", Fix: "give --to-key with a key id, key ARN or alias/NAME"}
	}
	nl, err := WithKey(l, toKey)
	if err != nil {
		return nil, err
	}
	res := &RotateResult{Locator: l.String(), NewLocator: nl.String(), Parameters: []string{}}

	// Opening through the new locator checks the new key first (exists,
	// enabled, symmetric, this Region); reading decrypts under whatever key
	// each parameter is under now.
	o.progress("reading state", 0, 1)
	s, err := store.Open(ctx, nl.String(), o.storeOptions()...)
	if err != nil {
		return nil, err
	}
	state, err := snapshot(ctx, s)
	s.Close()
	if err != nil {
		return nil, err
	}
	res.Keys = len(state)

	cfg, err := o.awsConfig(ctx, l.Region)
	if err != nil {
		return nil, err
	}
	c, err := o.clients(ctx, l.Region)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	subj := storeerr.Subject{Op: storeerr.OpOpen, Parameter: l.ParameterARN(), Region: l.Region, Key: nl.KMSKey}
	d, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(nl.KMSKey)})
	if err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	res.KeyARN = aws.ToString(d.KeyMetadata.Arn)

	layout, err := ssmparam.Inspect(ctx, c.ssm, l.ParameterName)
	if err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	if layout.Format == "absent" {
		// Nothing stored: the new locator writes under the new key.
		res.Verified = true
		return res, nil
	}
	o.progress("re-encrypting parameters", 0, len(layout.Names()))
	b, err := ssmparam.NewFromConfig(ctx, cfg, ssmparam.Config{
		ParameterName: l.ParameterName, ParameterARN: l.ParameterARN(), KMSKey: nl.KMSKey,
		Advanced: nl.Advanced, Logger: o.Logger, Timeout: o.timeout(),
	})
	if err != nil {
		return nil, err
	}
	if _, err := b.Load(ctx); err != nil {
		return nil, err
	}
	// Save always commits (the Store skips unchanged writes; the backend
	// does not), writing a new generation of parts under the new key.
	if err := b.Save(ctx, state); err != nil {
		return nil, err
	}

	if err := Verify(ctx, nl.String(), state, o); err != nil {
		return nil, err
	}
	layout, err = ssmparam.Inspect(ctx, c.ssm, l.ParameterName)
	if err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	names := layout.Names()
	meta, err := parameterMetadata(ctx, c.ssm, names)
	if err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	resolved := map[string]string{}
	for i, n := range names {
		o.progress("checking parameter keys", i, len(names))
		m, ok := meta[n]
		if !ok {
			return nil, &Error{Cause: fmt.Sprintf("SSM parameter %s of the rotated state is missing", n), Fix: "check that no other process writes this state, then run the rotation again", Err: ErrVerify}
		}
		ref := aws.ToString(m.KeyId)
		arn, ok := resolved[ref]
		if !ok {
			kd, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
			if err != nil {
				return nil, storeerr.Classify(err, subj)
			}
			arn = aws.ToString(kd.KeyMetadata.Arn)
			resolved[ref] = arn
		}
		if arn != res.KeyARN {
			return nil, &Error{
				Cause: fmt.Sprintf("SSM parameter %s is still encrypted under %s, not %s", n, ref, res.KeyARN),
				Fix:   "check that no other process writes this state with the old locator, then run the rotation again",
				Err:   ErrVerify,
			}
		}
		res.Parameters = append(res.Parameters, n)
	}
	o.progress("checking parameter keys", len(names), len(names))
	all, err := listParameters(ctx, c.ssm, l.ParameterName)
	if err == nil {
		for _, m := range all {
			if n := aws.ToString(m.Name); !slices.Contains(names, n) {
				res.Stale = append(res.Stale, n)
			}
		}
	}
	res.Verified = true
	return res, nil
}

// AutoRotationResult reports EnableAutoRotation.
type AutoRotationResult struct {
	Locator string   `json:"locator"`
	KeyARN  string   `json:"keyArn"`
	Aliases []string `json:"aliases"`
	// Rotation is the status read back after enabling it.
	Rotation Rotation `json:"rotation"`
}

// EnableAutoRotation turns on KMS automatic rotation of the locator's key
// (every periodDays days, 90–2560; 0 keeps KMS's default of 365) and reads
// the status back. Old ciphertexts keep decrypting and the key id does not
// change, so the locator stays as it is.
func EnableAutoRotation(ctx context.Context, loc string, periodDays int32, o Options) (*AutoRotationResult, error) {
	l, err := ssmLocator(loc, "rotate --enable-auto-rotation")
	if err != nil {
		return nil, err
	}
	if l.KMSKey == "" {
		return nil, &Error{
			Cause: "the locator names no kmsKey: the state is under the AWS managed key aws/ssm, which AWS rotates yearly and whose rotation cannot be configured",
			Fix:   "move the state to a customer key first: ssmstate rotate " + loc + " --to-key alias/NAME",
		}
	}
	if periodDays != 0 && (periodDays < 90 || periodDays > 2560) {
		return nil, &Error{Cause: fmt.Sprintf("rotation period %d days is outside what KMS accepts", periodDays), Fix: "give --period between 90 and 2560 days"}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	c, err := o.clients(ctx, l.Region)
	if err != nil {
		return nil, err
	}
	subj := storeerr.Subject{Op: storeerr.OpOpen, Parameter: l.ParameterARN(), Region: l.Region, Key: l.KMSKey}
	d, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(l.KMSKey)})
	if err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	m := d.KeyMetadata
	if mc := m.MultiRegionConfiguration; mc != nil && mc.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica {
		primary := ""
		if mc.PrimaryKey != nil {
			primary = aws.ToString(mc.PrimaryKey.Arn)
		}
		return nil, &Error{
			Cause: fmt.Sprintf("%s is a multi-Region replica key: it rotates with its primary key %s", aws.ToString(m.Arn), primary),
			Fix:   "enable rotation on the primary key (run this command with a locator in the primary key's Region)",
		}
	}
	in := &kms.EnableKeyRotationInput{KeyId: m.Arn}
	if periodDays != 0 {
		in.RotationPeriodInDays = aws.Int32(periodDays)
	}
	if _, err := c.kms.EnableKeyRotation(ctx, in); err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	ki, err := describeKey(ctx, c.kms, aws.ToString(m.Arn))
	if err != nil {
		return nil, storeerr.Classify(err, subj)
	}
	if ki.Rotation.Enabled == nil || !*ki.Rotation.Enabled {
		return nil, &Error{
			Cause: fmt.Sprintf("KMS accepted EnableKeyRotation for %s but its rotation status does not read back as enabled (%s)", ki.ARN, ki.Rotation.Note),
			Fix:   "check with: aws kms get-key-rotation-status --key-id " + ki.ARN,
			Err:   ErrVerify,
		}
	}
	return &AutoRotationResult{Locator: l.String(), KeyARN: ki.ARN, Aliases: ki.Aliases, Rotation: ki.Rotation}, nil
}

// isNotFound reports a KMS NotFoundException.
func isNotFound(err error) bool {
	return errors.As(err, new(*kmstypes.NotFoundException))
}
