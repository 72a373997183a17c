package ssmparam

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/storeerr"
)

// explain turns an AWS failure of op into the store's error model
// (*storeerr.Error: cause and fix, wrapping the AWS error); other errors
// (ErrCorrupt, ErrConflict, …) pass unchanged.
func (b *Backend) explain(op storeerr.Op, err error) error {
	if err == nil {
		return nil
	}
	s := storeerr.Subject{Op: op, Parameter: b.name, Key: b.c.KMSKey}
	if a, perr := arn.Parse(b.c.ParameterARN); perr == nil {
		s.Region = a.Region
	}
	err = storeerr.Classify(err, s)
	if b.c.Keys != nil {
		// Only on the failure path: one DescribeKey for the deletion date.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = storeerr.AddDeletionDate(ctx, b.c.Keys, err, s)
	}
	return err
}

// checkKey is the fail-fast check of Open: with a kmsKey, one DescribeKey
// (exists, Enabled, symmetric, ENCRYPT_DECRYPT, the parameter's Region)
// before anything else, so a misconfigured node fails at boot. It uses the
// SSM calls' retry policy, bounded by timeout when ctx has no deadline.
func checkKey(ctx context.Context, keys storeerr.KeyDescriber, loc locator.Locator, timeout time.Duration) error {
	if loc.KMSKey == "" {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	_, err := storeerr.CheckKey(ctx, keys, storeerr.Subject{
		Op: storeerr.OpOpen, Parameter: loc.ParameterARN(), Region: loc.Region, Key: loc.KMSKey,
	})
	return err
}

// newKeyClient is the KMS client of the key check at Open and of the
// deletion date in errors: the SSM calls' retry policy, keeping the last
// attempt's error when retries end at the deadline.
func newKeyClient(cfg aws.Config) *kms.Client {
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		o.Retryer = Retryer()
		o.APIOptions = append(o.APIOptions, storeerr.KeepLastAttemptError)
	})
}
