package postgres

import (
	"context"

	"github.com/hookwise/hookwise/dedupe"
)

// Hooks for the external tests.

// MigrateTo applies the migrations up to version only.
func MigrateTo(ctx context.Context, db Conn, version int, opts ...Option) error {
	return migrateTo(ctx, db, version, opts...)
}

// ClaimingQueue returns a Queue wired as Inbox.Options wires it: its
// Enqueue claims the event's dedupe key in the same statement.
func ClaimingQueue(in *Inbox, endpoint string, opts ...Option) *Queue {
	return in.claimingQueue(endpoint, opts...)
}

// Claims returns the dedupe store as Inbox.Options wires it.
func Claims(in *Inbox) dedupe.Store { return enqueueClaims{in.store} }

// OrderLockKey is the class of the advisory lock a Join takes.
const OrderLockKey = orderLockKey
