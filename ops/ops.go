// Package ops holds the operator workflows over state locators — show,
// export, import, migrate, remove, key rotation and cross-Region
// replication — as a library, so that `ssmstate` stays a thin layer of
// flags and output and programs can run the same workflows.
//
// Every workflow that writes verifies its result by reading it back through
// a fresh store, and never prints or logs a value.
package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/store/ssmparam"
	"github.com/ssmstate/ssmstate/storeerr"
)

// DefaultTimeout bounds each store call (load, save) of a workflow.
const DefaultTimeout = 2 * time.Minute

// Options configure every workflow.
type Options struct {
	// AWSConfig is the base AWS configuration (credentials, endpoint); its
	// Region is replaced by the locator's. Nil loads aws-sdk-go-v2's
	// default configuration (environment, shared config, credential chain).
	AWSConfig *aws.Config
	// Timeout bounds each store call; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives the stores' warnings; nil discards them.
	Logger *slog.Logger
	// Progress, if set, is told how far work over many keys or parameters
	// has gone. It is called from the workflow's goroutine.
	Progress func(Progress)
	// Force lets Import, Migrate and Replicate replace a destination that
	// already holds a state (keys absent from the source are removed).
	Force bool
}

// Progress is one step of a long workflow.
type Progress struct {
	Step  string // e.g. "writing keys"
	Done  int
	Total int
}

func (o *Options) progress(step string, done, total int) {
	if o.Progress != nil {
		o.Progress(Progress{Step: step, Done: done, Total: total})
	}
}

func (o *Options) storeOptions() []store.Option {
	opts := []store.Option{store.WithTimeout(o.timeout()), store.WithLogger(o.Logger)}
	if o.AWSConfig != nil {
		opts = append(opts, store.WithAWSConfig(*o.AWSConfig))
	}
	return opts
}

func (o *Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// awsConfig is the AWS configuration for calls in region.
func (o *Options) awsConfig(ctx context.Context, region string) (aws.Config, error) {
	if o.AWSConfig != nil {
		c := o.AWSConfig.Copy()
		c.Region = region
		return c, nil
	}
	c, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration for %s: %w", region, err)
	}
	return c, nil
}

// clients are the SSM and KMS clients for one Region, with the store's
// retry policy.
type clients struct {
	ssm *ssm.Client
	kms *kms.Client
}

func (o *Options) clients(ctx context.Context, region string) (clients, error) {
	cfg, err := o.awsConfig(ctx, region)
	if err != nil {
		return clients{}, err
	}
	return clients{
		ssm: ssmparam.NewClient(cfg),
		kms: kms.NewFromConfig(cfg, func(k *kms.Options) {
			k.Retryer = ssmparam.Retryer()
			k.APIOptions = append(k.APIOptions, storeerr.KeepLastAttemptError)
		}),
	}, nil
}

// Error is a workflow failure that is not an AWS one: what is wrong and
// how to fix it. (AWS failures come as *storeerr.Error, which also has a
// Cause and a Fix.)
type Error struct {
	Cause string
	Fix   string
	Err   error // what it came from, if anything
}

func (e *Error) Error() string {
	s := e.Cause + ". Fix: " + e.Fix + "."
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotEmpty: the destination of an import, migrate or replicate already
// holds a state and Force was not given.
var ErrNotEmpty = errors.New("destination already holds a state")

// ErrVerify: reading back what a workflow wrote did not give what it wrote.
var ErrVerify = errors.New("verification failed")

// ReadAll opens loc and returns its whole state. It never writes.
func ReadAll(ctx context.Context, loc string, o Options) (map[string][]byte, error) {
	s, err := store.Open(ctx, loc, o.storeOptions()...)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return snapshot(ctx, s)
}

func snapshot(ctx context.Context, s *store.Store) (map[string][]byte, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	state := make(map[string][]byte, len(keys))
	for _, k := range keys {
		v, err := s.ReadState(ctx, k)
		if err != nil {
			return nil, err
		}
		state[k] = v
	}
	return state, nil
}

// WriteAll makes loc's state equal to state: it refuses (ErrNotEmpty) when
// loc already holds keys and o.Force is not set; with Force, keys absent
// from state are removed. The keys are written concurrently so that the
// store's group commit saves them in few commits; an SSM state is written
// in exactly one commit (one put per part and one of the main parameter)
// through the SSM backend. It then verifies by reopening loc.
func WriteAll(ctx context.Context, loc string, state map[string][]byte, o Options) error {
	l, err := locator.Parse(loc)
	if err != nil {
		return err
	}
	if l.Kind == locator.KindSSM {
		if err := writeSSM(ctx, l, state, o); err != nil {
			return err
		}
		return Verify(ctx, loc, state, o)
	}
	s, err := store.Open(ctx, loc, o.storeOptions()...)
	if err != nil {
		return err
	}
	existing, err := s.Keys(ctx)
	if err != nil {
		s.Close()
		return err
	}
	if len(existing) > 0 && !o.Force {
		s.Close()
		return notEmpty(loc, len(existing))
	}
	type write struct {
		key   string
		value []byte
	}
	var writes []write
	for _, k := range slices.Sorted(maps.Keys(state)) {
		writes = append(writes, write{k, state[k]})
	}
	for _, k := range existing {
		if _, keep := state[k]; !keep {
			writes = append(writes, write{k, nil})
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		done int
	)
	o.progress("writing keys", 0, len(writes))
	for _, w := range writes {
		wg.Go(func() {
			err := s.WriteState(ctx, w.key, w.value)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			done++
			o.progress("writing keys", done, len(writes))
		})
	}
	wg.Wait()
	cerr := s.Close()
	if err := errors.Join(errors.Join(errs...), cerr); err != nil {
		return err
	}
	return Verify(ctx, loc, state, o)
}

// Verify reopens loc and checks that its state is exactly want.
func Verify(ctx context.Context, loc string, want map[string][]byte, o Options) error {
	got, err := ReadAll(ctx, loc, o)
	if err != nil {
		return fmt.Errorf("verify %s by reading it back: %w", loc, err)
	}
	if diff := diffStates(want, got); diff != "" {
		return &Error{
			Cause: fmt.Sprintf("reading %s back gave a different state than was written: %s", loc, diff),
			Fix:   "check that no other process writes that state, then run the command again",
			Err:   ErrVerify,
		}
	}
	return nil
}

// diffStates describes how got differs from want by key names only.
func diffStates(want, got map[string][]byte) string {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v, ok := got[k]
		switch {
		case !ok:
			return fmt.Sprintf("key %q is missing", k)
		case !bytes.Equal(v, want[k]):
			return fmt.Sprintf("key %q has a different value (%d bytes, want %d)", k, len(v), len(want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("key %q is unexpected", k)
		}
	}
	return ""
}

// Remove deletes key from loc's state. It fails with an error wrapping
// store.ErrNotExist when the key is absent.
func Remove(ctx context.Context, loc, key string, o Options) error {
	s, err := store.Open(ctx, loc, o.storeOptions()...)
	if err != nil {
		return err
	}
	if _, err := s.ReadState(ctx, key); err != nil {
		s.Close()
		return err
	}
	err = s.WriteState(ctx, key, nil)
	return errors.Join(err, s.Close())
}

// notEmpty is the refusal to replace a destination's state.
func notEmpty(loc string, keys int) error {
	return &Error{
		Cause: fmt.Sprintf("%s already holds a state (%d keys), which this would replace", loc, keys),
		Fix:   "pick an empty destination, or pass --force to replace that state",
		Err:   ErrNotEmpty,
	}
}

// writeSSM replaces the state of an SSM locator in one commit: the key
// check of store.Open (the locator's key exists, is enabled, symmetric and
// in the parameter's Region), a load (for the conflict check and to refuse
// a non-empty destination), then one Save of the whole state.
func writeSSM(ctx context.Context, l locator.Locator, state map[string][]byte, o Options) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	cfg, err := o.awsConfig(ctx, l.Region)
	if err != nil {
		return err
	}
	if l.KMSKey != "" {
		c, err := o.clients(ctx, l.Region)
		if err != nil {
			return err
		}
		if _, err := storeerr.CheckKey(ctx, c.kms, storeerr.Subject{Op: storeerr.OpOpen, Parameter: l.ParameterARN(), Region: l.Region, Key: l.KMSKey}); err != nil {
			return err
		}
	}
	b, err := ssmparam.NewFromConfig(ctx, cfg, ssmparam.Config{
		ParameterName: l.ParameterName, ParameterARN: l.ParameterARN(), KMSKey: l.KMSKey,
		Advanced: l.Advanced, Logger: o.Logger, Timeout: o.timeout(),
	})
	if err != nil {
		return err
	}
	existing, err := b.Load(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 && !o.Force {
		return notEmpty(l.String(), len(existing))
	}
	o.progress("writing parameters", 0, 1)
	if err := b.Save(ctx, state); err != nil {
		return err
	}
	o.progress("writing parameters", 1, 1)
	return nil
}
