package emulator

import (
	"log/slog"
	"time"
)

// config is what Options set.
type config struct {
	addr    string
	dataDir string
	account string
	logger  *slog.Logger
	realism Realism
	access  accessOptions // access control and audit; see iam.go
}

func defaultConfig() config {
	return config{
		addr:    "127.0.0.1:0",
		account: DefaultAccount,
		logger:  slog.New(slog.DiscardHandler),
	}
}

// Option configures a Server.
type Option func(*config)

// WithAddr sets the listen address, e.g. "127.0.0.1:4566".
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithDataDir keeps parameters and keys in dir so that they survive a restart.
func WithDataDir(dir string) Option { return func(c *config) { c.dataDir = dir } }

// WithAccount sets the account id that owns the endpoint's resources.
func WithAccount(id string) Option { return func(c *config) { c.account = id } }

// WithLogger sets where the endpoint logs (never secret values).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithLatency delays every call by d before it is served, as a remote AWS
// endpoint would. Off (0) by default.
func WithLatency(d time.Duration) Option {
	return func(c *config) { c.realism.Latency = d }
}

// WithLatencySpikes adds an extra delay d to a fraction prob (0..1) of calls,
// on top of WithLatency. Which calls are hit is decided by the fault seed
// (FaultSpec.Seed), so a seeded run is repeatable.
func WithLatencySpikes(prob float64, d time.Duration) Option {
	return func(c *config) { c.realism.SpikeProb, c.realism.SpikeDelay = prob, d }
}

// WithQuota adds a request quota: a token bucket refilled at rate requests a
// second holding at most burst, shared by the listed operations per account
// and Region, as AWS shares 40 TPS among GetParameter, GetParameters and
// GetParametersByPath. Operations are named "GetParameter" or, to be
// specific about the service, "ssm.GetParameter"; no operations means every
// operation. A call over the quota gets HTTP 400 ThrottlingException "Rate
// exceeded". Several WithQuota options make several independent buckets; a
// call must find a token in every bucket that lists it.
func WithQuota(rate float64, burst int, operations ...string) Option {
	return func(c *config) {
		c.realism.Quotas = append(c.realism.Quotas, Quota{Rate: rate, Burst: burst, Operations: operations})
	}
}

// WithFaults injects failures (throttling, HTTP 500s, connection resets) into
// a fraction of calls; see FaultSpec.
func WithFaults(f FaultSpec) Option { return func(c *config) { c.realism.Faults = f } }

// WithRealism sets all realism switches at once.
func WithRealism(r Realism) Option { return func(c *config) { c.realism = r } }
