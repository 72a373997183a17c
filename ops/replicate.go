package ops

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/storeerr"
)

// ReplicateResult reports a replication to another Region.
type ReplicateResult struct {
	Locator    string `json:"locator"`
	NewLocator string `json:"newLocator"`
	Region     string `json:"region"`
	// KeyARN is the key the copy is encrypted under ("" for aws/ssm).
	KeyARN string `json:"keyArn"`
	// MultiRegionReplica is true when KeyARN is the replica of the source's
	// multi-Region key.
	MultiRegionReplica bool `json:"multiRegionReplica"`
	Keys               int  `json:"keys"`
	Bytes              int  `json:"bytes"`
	Verified           bool `json:"verified"`
}

// Replicate copies the state loc names to the parameter of the same name in
// region, encrypted under kmsKey when given, else, when loc's key is a
// multi-Region key, under its replica in region (same mrk- id), else (no
// kmsKey in loc) under aws/ssm there. A single-Region key cannot be used in
// another Region: then kmsKey is required. The copy is verified by reading
// it back; the destination must be empty unless o.Force.
func Replicate(ctx context.Context, loc, region, kmsKey string, o Options) (*ReplicateResult, error) {
	l, err := ssmLocator(loc, "replicate")
	if err != nil {
		return nil, err
	}
	if region == l.Region {
		return nil, &Error{Cause: fmt.Sprintf("the state is already in %s", region), Fix: "give --to-region another Region"}
	}
	dst := l
	dst.Region, dst.KMSKey = region, ""
	if _, err := locator.Parse(dst.String()); err != nil {
		return nil, err
	}
	res := &ReplicateResult{Locator: l.String(), Region: region}

	tctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	dc, err := o.clients(tctx, region)
	if err != nil {
		return nil, err
	}
	target := kmsKey
	switch {
	case target != "":
	case l.KMSKey == "":
		// aws/ssm in the other Region: each Region has its own.
	default:
		sc, err := o.clients(tctx, l.Region)
		if err != nil {
			return nil, err
		}
		d, err := sc.kms.DescribeKey(tctx, &kms.DescribeKeyInput{KeyId: aws.String(l.KMSKey)})
		if err != nil {
			return nil, storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpOpen, Parameter: l.ParameterARN(), Region: l.Region, Key: l.KMSKey})
		}
		m := d.KeyMetadata
		if !aws.ToBool(m.MultiRegion) {
			return nil, &Error{
				Cause: fmt.Sprintf("%s is a single-Region key: ciphertext under it cannot be decrypted in %s", aws.ToString(m.Arn), region),
				Fix:   fmt.Sprintf("give --kms-key with a key in %s, or move the state to a multi-Region key (mrk-…) with ssmstate rotate and replicate that key to %s", region, region),
			}
		}
		replica := fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", l.Partition, region, l.Account, aws.ToString(m.KeyId))
		rd, err := dc.kms.DescribeKey(tctx, &kms.DescribeKeyInput{KeyId: aws.String(replica)})
		if isNotFound(err) {
			return nil, &Error{
				Cause: fmt.Sprintf("the multi-Region key %s has no replica in %s", aws.ToString(m.Arn), region),
				Fix:   fmt.Sprintf("replicate it: aws kms replicate-key --key-id %s --replica-region %s (or give --kms-key)", aws.ToString(m.Arn), region),
				Err:   err,
			}
		}
		if err != nil {
			return nil, storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpOpen, Parameter: dst.ParameterARN(), Region: region, Key: replica})
		}
		target, res.MultiRegionReplica = aws.ToString(rd.KeyMetadata.Arn), true
		// Keep the locator readable: the same alias, when it names the
		// replica in the other Region too.
		if sub := (storeerr.Subject{Key: l.KMSKey}); sub.Alias() != "" {
			if ad, err := dc.kms.DescribeKey(tctx, &kms.DescribeKeyInput{KeyId: aws.String(sub.Alias())}); err == nil && aws.ToString(ad.KeyMetadata.Arn) == target {
				target = sub.Alias()
			}
		}
	}
	nl, err := WithKey(dst, target)
	if err != nil {
		return nil, err
	}
	res.NewLocator = nl.String()
	if nl.KMSKey != "" {
		d, err := dc.kms.DescribeKey(tctx, &kms.DescribeKeyInput{KeyId: aws.String(nl.KMSKey)})
		if err != nil {
			return nil, storeerr.Classify(err, storeerr.Subject{Op: storeerr.OpOpen, Parameter: nl.ParameterARN(), Region: region, Key: nl.KMSKey})
		}
		res.KeyARN = aws.ToString(d.KeyMetadata.Arn)
	}
	mr, err := Migrate(ctx, l.String(), nl.String(), o)
	if err != nil {
		return nil, err
	}
	res.Keys, res.Bytes, res.Verified = mr.Keys, mr.Bytes, mr.Verified
	return res, nil
}
