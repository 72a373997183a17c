package store

import (
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// DefaultTimeout bounds each backend call (Load at Open, each Save) when no
// WithTimeout is given.
const DefaultTimeout = 30 * time.Second

// Option configures Open.
type Option func(*Config)

// Config is what the options set. Backends receive it through their opener
// (see RegisterBackend); callers use the With… options.
type Config struct {
	// Logger receives the store's and the backend's logs; never nil once
	// Open has applied the options.
	Logger *slog.Logger
	// Timeout bounds each backend call: Load at Open when the caller's
	// context has no deadline, and every Save.
	Timeout time.Duration
	// Reset allows the backend to start from an empty state when the
	// existing content does not decode (instead of failing Open with
	// ErrCorrupt); the first write then replaces that content.
	Reset bool
	// AWSConfig, if set, is the AWS configuration the SSM backend uses
	// instead of aws-sdk-go-v2's default chain (Region still comes from the
	// locator).
	AWSConfig *aws.Config
	// Endpoint, if set, is the base URL the SSM backend sends SSM and KMS
	// calls to (for the local endpoint). AWS_ENDPOINT_URL* settings are
	// honoured without it.
	Endpoint string

	saveObserver func()
}

// WithLogger sends the store's logs to l (default: discarded).
func WithLogger(l *slog.Logger) Option {
	return func(c *Config) {
		if l != nil {
			c.Logger = l
		}
	}
}

// WithTimeout bounds each backend call (default DefaultTimeout): Load at
// Open when the caller's context has no deadline, and every Save. Saves run
// on behalf of every writer batched into them, so they are bounded by this
// timeout rather than by any one caller's context.
func WithTimeout(d time.Duration) Option {
	return func(c *Config) {
		if d > 0 {
			c.Timeout = d
		}
	}
}

// WithReset allows overwriting content that does not decode: instead of
// failing Open with ErrCorrupt, the store starts empty (and logs a warning),
// and the first write replaces the undecodable content.
func WithReset() Option {
	return func(c *Config) { c.Reset = true }
}

// WithAWSConfig makes the SSM backend use cfg instead of the default
// credential chain.
func WithAWSConfig(cfg aws.Config) Option {
	return func(c *Config) { c.AWSConfig = &cfg }
}

// WithEndpoint makes the SSM backend send its calls to url (e.g. the local
// endpoint's URL).
func WithEndpoint(url string) Option {
	return func(c *Config) { c.Endpoint = url }
}

// WithSaveObserver calls f after every backend Save returns, successful or
// not. Tests use it to count commits.
func WithSaveObserver(f func()) Option {
	return func(c *Config) { c.saveObserver = f }
}

func newConfig(opts []Option) Config {
	c := Config{
		Logger:  slog.New(slog.DiscardHandler),
		Timeout: DefaultTimeout,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}
