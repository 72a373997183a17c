package storeerr_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmstate/ssmstate/emulator"
	"github.com/ssmstate/ssmstate/storeerr"
)

// retryForever retries until the context ends, as the store does.
func retryForever() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = math.MaxInt32
		o.MaxBackoff = 200 * time.Millisecond
		o.RateLimiter = ratelimit.None
	})
}

// TestKeepLastAttemptError: when every attempt is throttled and the
// context ends the retries, the SDK's error says only "canceled"; with the
// option it also wraps the last ThrottlingException, so Classify names
// throttling.
func TestKeepLastAttemptError(t *testing.T) {
	srv := emulator.NewTestServer(t, emulator.WithFaults(emulator.FaultSpec{ThrottleRate: 1, Seed: 7}))
	call := func(opts ...func(*ssm.Options)) error {
		c := ssm.NewFromConfig(srv.AWSConfig("us-east-1"), append([]func(*ssm.Options){func(o *ssm.Options) { o.Retryer = retryForever() }}, opts...)...)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ts/node1")})
		return err
	}
	s := storeerr.Subject{Op: storeerr.OpRead, Parameter: "arn:aws:ssm:us-east-1:000000000000:parameter/ts/node1", Region: "us-east-1"}

	without := call()
	if without == nil {
		t.Fatal("a throttled call succeeded")
	}
	if k := storeerr.KindOf(storeerr.Classify(without, s)); k == storeerr.Throttled {
		t.Logf("note: the SDK kept the throttling error by itself: %v", without)
	}

	with := call(func(o *ssm.Options) { o.APIOptions = append(o.APIOptions, storeerr.KeepLastAttemptError) })
	if !errors.Is(with, context.DeadlineExceeded) {
		t.Errorf("the deadline is no longer reachable: %v", with)
	}
	got := storeerr.Classify(with, s)
	if k := storeerr.KindOf(got); k != storeerr.Throttled {
		t.Fatalf("kind %q, want throttled: %v", k, got)
	}
}
