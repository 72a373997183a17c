package emulator

import (
	"errors"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Dummy credentials for the open endpoint, which accepts any. They are the
// values `ssmstate emulator` tells users to export.
const (
	DummyAccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	DummySecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// NewTestServer starts a local endpoint for the test, failing it if the
// endpoint cannot start, and closes the endpoint when the test ends:
//
//	srv := emulator.NewTestServer(t)
//	client := ssm.NewFromConfig(srv.AWSConfig("us-east-1"))
func NewTestServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("start the local AWS endpoint: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close the local AWS endpoint: %v", err)
		}
	})
	return s
}

// AWSConfig returns an aws-sdk-go-v2 configuration that sends every service's
// calls to this endpoint in region, signed with dummy static credentials.
// Clients made from it (ssm.NewFromConfig, kms.NewFromConfig,
// sts.NewFromConfig) keep the SDK's default retryer; set RetryMaxAttempts to
// 1 on the returned config to see throttling and injected faults unretried.
func (s *Server) AWSConfig(region string) aws.Config {
	return s.AWSConfigWithCredentials(region, DummyAccessKeyID, DummySecretAccessKey)
}

// AWSConfigWithCredentials is AWSConfig with the given static credentials,
// for tests that act as a particular principal.
func (s *Server) AWSConfigWithCredentials(region, accessKeyID, secretAccessKey string) aws.Config {
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
	}
}

// ClosedConnRetryer is a retryer for tests that assert errors exactly as the
// endpoint sends them: it retries nothing but net.ErrClosed. Go's HTTP
// client can close a kept-alive connection under a response it is still
// reading (aws/aws-sdk-go-v2#2737, whose fix is to retry it); that is no
// answer of the endpoint's and would make a no-retry test flaky on a loaded
// machine. Use it as cfg.Retryer = emulator.ClosedConnRetryer.
func ClosedConnRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.RateLimiter = ratelimit.None
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, net.ErrClosed) {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
}
