package dedupe

import (
	"context"
	"errors"
	"time"
)

// FailOpen wraps s so that a Claim that fails reports that it took the key
// (Claimed, nil): the delivery is processed rather than refused while the
// store is down. The risk is the one the store exists to prevent: during an
// outage, a redelivery or a concurrent copy of an event may be processed
// twice, so handlers must be idempotent. Without FailOpen, a store failure
// makes the receiver answer 503 and the sender retry later.
//
// Claim fails open on every error except ErrInvalidDuration and
// ErrInvalidToken (bugs, not outages) and the caller's own context being
// done, which are returned as is. onError, when not nil, is called with each
// error that was turned into a claim, from the goroutine calling Claim; it
// must be safe for concurrent use and should be quick (log it, count it).
//
// Confirm, Complete, Release and ReleaseAdmitted (AdmittedReleaser, when s
// implements it; a no-op otherwise, which keeps the claim) pass their
// results and errors through unchanged, without calling onError: the caller
// sees each failure and decides (a Confirm that fails after a Claim that
// failed open is expected while the store is down).
func FailOpen(s Store, onError func(error)) Store {
	if s == nil {
		panic("dedupe: FailOpen expects a non-nil store")
	}
	return &failOpen{s: s, onError: onError}
}

type failOpen struct {
	s       Store
	onError func(error)
}

func (f *failOpen) Claim(ctx context.Context, key, token string, lease time.Duration) (Outcome, error) {
	o, err := f.s.Claim(ctx, key, token, lease)
	if err == nil {
		return o, nil
	}
	if ctx.Err() != nil || errors.Is(err, ErrInvalidDuration) || errors.Is(err, ErrInvalidToken) {
		return 0, err
	}
	if f.onError != nil {
		f.onError(err)
	}
	return Claimed, nil
}

func (f *failOpen) Confirm(ctx context.Context, key, token string, lease time.Duration) (bool, error) {
	return f.s.Confirm(ctx, key, token, lease)
}

func (f *failOpen) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	return f.s.Complete(ctx, key, token, retention)
}

func (f *failOpen) Release(ctx context.Context, key, token string) error {
	return f.s.Release(ctx, key, token)
}

func (f *failOpen) ReleaseAdmitted(ctx context.Context, key, token string) error {
	if r, ok := f.s.(AdmittedReleaser); ok {
		return r.ReleaseAdmitted(ctx, key, token)
	}
	return nil
}
