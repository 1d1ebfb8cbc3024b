package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// ErrNotQueued matches the error of TxHandler and CompleteTx for an event
// that is not being run by a Queue of this package (a handler mounted on a
// receiver with another queue, or called directly). TxHandler makes it
// permanent, so that the event is dead-lettered with a clear reason rather
// than handled without the guarantee.
var ErrNotQueued = errors.New("postgres: event not run by a postgres Queue")

// ErrLeaseLost matches the error of CompleteTx (and of a TxHandler) when the
// attempt no longer holds its event: its lease lapsed and another instance
// took the event, or the event is already done. The transaction must be
// rolled back: its writes would repeat those of the attempt that holds, or
// held, the event.
var ErrLeaseLost = errors.New("postgres: attempt no longer holds its event")

// TxFunc handles an event inside tx, the transaction that also marks the
// event done. It must do its database work through tx, and must not commit
// or roll it back.
type TxFunc func(ctx context.Context, tx pgx.Tx, e *driver.Event) error

// TxHandler returns a receiver.Handler that runs fn in a transaction begun
// on the Queue's pool and, when fn returns nil, marks the event done in the
// same transaction (CompleteTx) before committing: fn's writes and the
// completion commit together, or neither does.
//
// For the writes fn makes through tx, at-least-once delivery becomes
// exactly-once: an attempt cut short by a crash, a timeout or a lost lease
// rolls back, and an attempt that committed is never run again (its event is
// done in the same commit; a later attempt of the same event, run by an
// instance that took over a lapsed lease, finds it done and rolls back).
// When the commit's outcome is unknown (the connection broke during
// COMMIT), the handler asks whether the event is done: if so the commit
// happened and it returns nil; otherwise (or if it cannot tell) it returns
// the error and the receiver schedules a retry, which is recorded only if
// the event is still running, that is, only if the commit did not happen.
// On the last attempt such an error dead-letters the event, and the dead
// letter too is written only while the attempt still holds the event
// (DeadLetters.Put), so an event whose commit happened is never
// dead-lettered, nor replayed into a second run.
//
// It does not cover anything fn does outside tx: HTTP calls, messages sent,
// e-mails, writes to another database or through another connection. Those
// run once per attempt, and an attempt whose transaction rolls back (an
// error after them, a crash before the commit, a lost lease) has done them
// all the same: make them idempotent (an idempotency key derived from the
// event ID), or record the intent in tx and perform it from an outbox after
// the commit.
//
// fn's error rolls the transaction back and is returned (retried, or
// dead-lettered once permanent or the attempts are spent). The event must
// be run by a Queue of this package; otherwise the handler returns a
// permanent error matching ErrNotQueued.
func TxHandler(fn TxFunc) receiver.Handler {
	return receiver.HandlerFunc(func(ctx context.Context, e *driver.Event) error {
		a, _ := ctx.Value(attemptKey{}).(*attempt)
		if a == nil {
			return receiver.Permanent(ErrNotQueued)
		}
		committing := false
		err := pgx.BeginFunc(ctx, a.q.pool, func(tx pgx.Tx) error {
			if err := fn(ctx, tx, e); err != nil {
				return err
			}
			if err := completeTx(ctx, tx, a); err != nil {
				return err
			}
			committing = true
			return nil
		})
		if err != nil && committing && a.done(ctx) {
			// COMMIT failed with its outcome unknown (the connection broke
			// during it) but it was applied: the event is done, handled.
			return nil
		}
		return err
	})
}

// done reports whether a's event is done, asking on a connection of its
// own within the call timeout; false when that cannot be told.
func (a *attempt) done(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.q.cfg.callTimeout)
	defer cancel()
	var done bool
	err := a.q.pool.QueryRow(cctx, a.q.sql.done, a.seq).Scan(&done)
	return err == nil && done
}

// CompleteTx marks the event being handled done inside tx, for handlers that
// manage their own transaction: call it last, before tx.Commit. The event's
// row becomes done and its dedupe key is marked done for the Retention, both
// only when this attempt still holds the event; otherwise it returns an
// error matching ErrLeaseLost, and the caller must roll tx back. The commit
// then makes the handler's writes and the completion durable together (see
// TxHandler for what this covers, and what it does not).
//
// ctx must be the context the handler was given (it identifies the
// attempt) or one derived from it; otherwise CompleteTx returns an error
// matching ErrNotQueued. tx must be a transaction on the database of the
// Queue.
func CompleteTx(ctx context.Context, tx pgx.Tx, e *driver.Event) error {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	if a == nil || (e != nil && e != a.event && e.ClaimToken != a.event.ClaimToken) {
		return ErrNotQueued
	}
	return completeTx(ctx, tx, a)
}

func completeTx(ctx context.Context, tx pgx.Tx, a *attempt) error {
	var key any
	if a.event.ID != "" {
		key = []byte(a.event.DedupeKey()) // a fan-out copy's own key
	}
	var n int64
	err := tx.QueryRow(ctx, a.q.sql.complete, a.seq, a.lock, key, a.event.ClaimToken, micros(a.q.cfg.retention)).Scan(&n)
	if err != nil {
		return fmt.Errorf("postgres: complete event: %w", err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}
