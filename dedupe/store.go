// Package dedupe remembers which deliveries a receiver has already taken, so
// that a redelivery or a concurrent copy of one event reaches a handler once.
//
// A key goes through two phases. Claim takes it for processing with a lease:
// while the lease holds, every other Claim of the key fails. Complete turns
// the claim into a done marker kept for a long retention, and Release forgets
// it so that the sender's retry is processed. A claim whose lease lapses
// (its holder crashed) can be taken again.
//
// Memory is the in-process default; Redis shares the keys between replicas,
// on a single server or a Redis Cluster. FailOpen keeps deliveries flowing
// while a store is down, at the risk of duplicates. Package dedupetest is the
// conformance suite every Store passes.
package dedupe

import (
	"context"
	"errors"
	"time"
)

// Store records delivery keys. Implementations are safe for concurrent use.
// A key is opaque: callers build it with Key.
type Store interface {
	// Claim takes key for processing for lease, unless it is already claimed
	// (with a lease that has not lapsed) or done. It reports whether this call
	// took it. An error means the store could not answer: the caller must not
	// treat the delivery as new or as a duplicate.
	Claim(ctx context.Context, key string, lease time.Duration) (bool, error)
	// Complete marks key done for retention: every Claim within it fails.
	Complete(ctx context.Context, key string, retention time.Duration) error
	// Release forgets key, whether claimed or done, so a redelivery is processed.
	Release(ctx context.Context, key string) error
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("dedupe: store closed")

// Key returns the store key of event id from provider: the provider's name,
// a colon, and the id, so that two providers' ids never collide.
func Key(provider, id string) string { return provider + ":" + id }
