// Package tsstate makes an ssmstate store a Tailscale state store: an
// ipn.StateStore for tsnet.Server.Store or tailscaled, opened from the same
// locator string `tailscaled --state=` takes, e.g.
//
//	st, err := tsstate.New(ctx, "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod")
//	if err != nil { … }
//	defer st.Close()
//	srv := &tsnet.Server{Hostname: "node1", Store: st}
//
// An SSM locator keeps the node's keys as SecureString parameters encrypted
// under the locator's KMS key, and the store it returns implements
// ipn.EncryptedStateStore, so Tailscale reports its state as encrypted at
// rest. File and mem: locators give a plain (unencrypted) store.
package tsstate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"tailscale.com/ipn"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/store"
	// The SSM backend registers itself with the store for arn: locators.
	_ "github.com/ssmstate/ssmstate/store/ssmparam"
)

// DefaultTimeout bounds each ReadState and WriteState when no WithTimeout is
// given. ipn.StateStore has no context, so without a bound a write during an
// SSM or KMS outage could hang the Tailscale backend; with it the call
// returns an error instead. It is longer than twice the store's own per-Save
// bound (store.DefaultTimeout), so that a write can wait out a commit in
// flight and then its own, retries included, before giving up.
const DefaultTimeout = 2 * time.Minute

// StateStore is what New returns: a Tailscale state store that holds
// resources (an AWS client, a file) until Close. It is safe for concurrent
// use, as ipn.StateStore requires.
type StateStore interface {
	ipn.StateStore
	io.Closer
	// Encrypted reports whether values are encrypted at rest (SecureString
	// under a KMS key), which is when the store also implements
	// ipn.EncryptedStateStore.
	Encrypted() bool
}

// Option configures New.
type Option func(*options)

type options struct {
	timeout   time.Duration
	storeOpts []store.Option
}

// WithTimeout bounds each ReadState and WriteState call (default
// DefaultTimeout). A write that times out may still be committed by the
// store afterwards; Tailscale writes the same keys again later.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithStoreOptions passes options to store.Open: a logger, the AWS
// configuration, an endpoint, the store's own per-commit timeout.
func WithStoreOptions(opts ...store.Option) Option {
	return func(o *options) { o.storeOpts = append(o.storeOpts, opts...) }
}

// New opens the state at loc (an SSM parameter ARN with an optional
// ?kmsKey=, a file path, or mem:) and returns it as a Tailscale state store.
// ctx bounds opening only, which for SSM reads the current state. Close the
// store when the Tailscale node using it has been closed.
func New(ctx context.Context, loc string, opts ...Option) (StateStore, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	st, err := store.Open(ctx, loc, o.storeOpts...)
	if err != nil {
		return nil, fmt.Errorf("open Tailscale state store: %w", err)
	}
	l := st.Locator()
	s := &Store{st: st, timeout: o.timeout, where: l.String()}
	if l.Kind == locator.KindSSM {
		// The SSM backend writes every value as a SecureString.
		return &EncryptedStore{Store: s}, nil
	}
	return s, nil
}

// Store adapts a store.Store to ipn.StateStore. New returns a *Store for
// locators whose values are not encrypted at rest (files, mem:).
type Store struct {
	st      *store.Store
	timeout time.Duration
	where   string // the locator, for String
}

var _ StateStore = (*Store)(nil)

// ReadState returns the value of key id, or ipn.ErrStateNotExist itself
// (Tailscale compares with ==) when there is none.
func (s *Store) ReadState(id ipn.StateKey) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	v, err := s.st.ReadState(ctx, string(id))
	if errors.Is(err, store.ErrNotExist) {
		return nil, ipn.ErrStateNotExist
	}
	if err != nil {
		return nil, err // names the key, the locator and the cause
	}
	return v, nil
}

// WriteState sets key id to bs, or deletes it when bs is nil, and returns
// once the change is durable (committed to SSM), or with the error.
func (s *Store) WriteState(id ipn.StateKey, bs []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.st.WriteState(ctx, string(id), bs) // errors name the key, the locator and the cause
}

// Close releases the store. The Tailscale node using it must be closed
// first.
func (s *Store) Close() error { return s.st.Close() }

// Encrypted reports false: a *Store's values are not encrypted at rest.
func (s *Store) Encrypted() bool { return false }

// String names the store by its locator, for Tailscale's logs.
func (s *Store) String() string { return "tsstate(" + s.where + ")" }

// EncryptedStore is a Store whose values are SecureStrings under a KMS key.
// It implements ipn.EncryptedStateStore, the marker by which Tailscale
// reports state encrypted at rest; New returns one for SSM locators.
type EncryptedStore struct {
	// The marker's only method is unexported in package ipn, so the way to
	// implement it outside ipn is to embed the interface (as Tailscale's own
	// TPM store does). It is never called; the field stays nil.
	ipn.EncryptedStateStore
	*Store
}

var (
	_ StateStore              = (*EncryptedStore)(nil)
	_ ipn.EncryptedStateStore = (*EncryptedStore)(nil)
)

// Encrypted reports true.
func (s *EncryptedStore) Encrypted() bool { return true }
