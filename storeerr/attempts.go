package storeerr

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"
)

// KeepLastAttemptError is an aws-sdk-go-v2 API option (append it to a
// client's Options.APIOptions) that keeps the reason a call was retried.
// When retries end because the context ran out, the SDK returns only
// "request canceled, context deadline exceeded" and drops the error of the
// last attempt (ThrottlingException, a 5xx, a connection error). With this
// option the returned error also wraps that last attempt's error, so
// Classify can say "throttled, and the retries ran out" and errors.As still
// reaches the AWS error.
func KeepLastAttemptError(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("storeerr.KeepLastAttemptError",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			h := &lastAttempt{}
			out, md, err := next.HandleInitialize(context.WithValue(ctx, lastAttemptKey{}, h), in)
			if err != nil {
				if last := h.get(); last != nil && cutShort(err) {
					err = &retriesCutShort{err: err, last: last}
				}
			}
			return out, md, err
		}), middleware.Before); err != nil {
		return err
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("storeerr.RecordAttemptError",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			if err != nil {
				// Keep what AWS or the network said, not the cancellation
				// that ends the loop.
				if h, ok := ctx.Value(lastAttemptKey{}).(*lastAttempt); ok && !cutShort(err) {
					h.set(err)
				}
			}
			return out, md, err
		}), "Retry", middleware.After)
}

type lastAttemptKey struct{}

type lastAttempt struct {
	mu  sync.Mutex
	err error
}

func (h *lastAttempt) set(err error) { h.mu.Lock(); h.err = err; h.mu.Unlock() }
func (h *lastAttempt) get() error    { h.mu.Lock(); defer h.mu.Unlock(); return h.err }

// cutShort says that a call ended because its context did, not because of
// what AWS answered.
func cutShort(err error) bool {
	var rc *aws.RequestCanceledError
	return errors.As(err, &rc) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// retriesCutShort is a call whose retries the context ended; it wraps both
// the context's error and the last attempt's.
type retriesCutShort struct{ err, last error }

func (e *retriesCutShort) Error() string {
	return e.err.Error() + " (last attempt: " + e.last.Error() + ")"
}

func (e *retriesCutShort) Unwrap() []error { return []error{e.err, e.last} }
