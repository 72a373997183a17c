package ssmparam

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmstate/ssmstate/storeerr"
)

// MaxBackoff is the longest wait between two attempts of one call.
const MaxBackoff = 5 * time.Second

// Retryer returns the retry policy of every SSM call: ThrottlingException,
// TooManyUpdates, InternalServerError, any HTTP 5xx and connection errors
// are retried with jittered exponential backoff (up to MaxBackoff) for as
// long as the call's context allows, not a fixed number of times. The SDK's
// retry quota (a token bucket that stops retrying under sustained errors) is
// off: the context's deadline is the bound.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = math.MaxInt32
		o.MaxBackoff = MaxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables,
			retry.RetryableErrorCode{Codes: map[string]struct{}{
				"TooManyUpdates":      {},
				"InternalServerError": {},
				"ServiceUnavailable":  {},
			}},
			retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				var v interface{ HTTPStatusCode() int }
				if errors.As(err, &v) && v.HTTPStatusCode() >= 500 {
					return aws.TrueTernary
				}
				return aws.UnknownTernary
			}),
		)
	})
}

// NewClient returns an SSM client for cfg with Retryer's policy and an HTTP
// client whose attempts cannot hang: every attempt waits at most 30 s for
// response headers (the call as a whole is bounded by its context).
func NewClient(cfg aws.Config) *ssm.Client {
	return ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		o.Retryer = Retryer()
		o.APIOptions = append(o.APIOptions, storeerr.KeepLastAttemptError)
		headerTimeout := func(tr *http.Transport) { tr.ResponseHeaderTimeout = 30 * time.Second }
		switch hc := cfg.HTTPClient.(type) {
		case nil:
			o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(headerTimeout)
		case *awshttp.BuildableClient:
			o.HTTPClient = hc.WithTransportOptions(headerTimeout)
		}
	})
}

// NewFromConfig is New with a client made from cfg by NewClient.
func NewFromConfig(ctx context.Context, cfg aws.Config, c Config) (*Backend, error) {
	c.Client = NewClient(cfg)
	if c.Keys == nil && c.KMSKey != "" {
		c.Keys = newKeyClient(cfg)
	}
	return New(ctx, c)
}

// Dial loads aws-sdk-go-v2's default configuration (credential chain,
// shared config, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_SSM) for the Region
// of c.ParameterARN and returns a Backend that uses it.
func Dial(ctx context.Context, c Config, optFns ...func(*config.LoadOptions) error) (*Backend, error) {
	a, err := arn.Parse(c.ParameterARN)
	if err != nil {
		return nil, fmt.Errorf("ssmparam: parameter ARN %q: %w", c.ParameterARN, err)
	}
	opts := append([]func(*config.LoadOptions) error{config.WithRegion(a.Region)}, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration for SSM parameter %s: %w", c.ParameterARN, err)
	}
	return NewFromConfig(ctx, cfg, c)
}
