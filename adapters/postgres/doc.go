// Package postgres keeps a Hookwise receiver's dedupe marks, queue, dead
// letters and event history in PostgreSQL: a transactional inbox, for teams
// that keep their state in PostgreSQL and would rather not run Redis, and for
// handlers whose database writes must commit together with the mark "this
// event is done".
//
//	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err := postgres.Migrate(ctx, pool); err != nil { … }   // or your own migration tool
//	in := postgres.New(pool)
//	mux := receiver.NewMux()
//	mux.Handle("invoice.paid", postgres.TxHandler(func(ctx context.Context, tx pgx.Tx, e *driver.Event) error {
//		_, err := tx.Exec(ctx, `UPDATE invoices SET paid = true WHERE id = $1`, …)
//		return err // the update and the event's completion commit together
//	}))
//	rcv, _ := receiver.New(stripe.New(secret), mux, in.Options("stripe")...)
//
// # Tables
//
// Migrate creates them in a schema of their own (default "hookwise"; see
// Schema): dedupe (one row per "provider:event ID" key: the claim token
// holding it, its state and when it expires), events (the queue and the
// history: one row per accepted delivery, with every field of the event,
// its state queued, running, done or dead, its attempt count, when it is
// due, the lease of a running attempt and the last error), dead_letters
// (receiver.DeadLetterStore, by provider and DeadLetter.Key()) and, since
// version 2, order_lines (OrderStore). Migrations are versioned SQL files
// embedded in the package (Migrations); teams with their own migration tool
// copy them (see the README of this module).
//
// Migration 0002 (SchemaVersion 2) adds the column target to events and
// dead_letters (Event.Target, empty for rows of version 1) and the table
// order_lines. A database at version 1 is upgraded by Migrate in place;
// until then, CheckSchema reports ErrSchemaVersion for it.
//
// # Fan-out and ordering
//
// A fan-out copy of an event (Event.Target set) is a row of its own, with
// its own claim token, its own dedupe key (Event.DedupeKey, "provider:ID
// target"), claimed by the same one-statement Enqueue, and its own dead
// letter; Inbox.Replay and Find keep and filter by the target.
//
// OrderStore (Inbox.OrderStore) keeps per-key ordering lines shared by the
// replicas: one row per waiting event, in the order of a seq column, holds
// measured with the database's clock. Join serializes the Joins of one key
// with a transaction-level advisory lock so that they commit in the order
// of their seq; Turn drops the key's lapsed entries, renews the caller's
// and answers whether it is first (or absent); the cleanup deletes the
// lapsed entries of keys nobody asks about again.
//
// # Request path: one statement
//
// Options wires the receiver so that accepting a delivery costs one
// statement, one commit. The receiver's dedupe Claim is answered at once,
// without a round trip, and the Queue's Enqueue runs a single
// INSERT … ON CONFLICT statement that claims the event's dedupe key for the
// delivery's random claim token and stores the event, so that both commit or
// neither does:
//   - key free (absent, released, or its lease or retention lapsed): the key
//     is taken, confirmed, and the event row inserted; the receiver answers
//     2xx only after the commit.
//   - key held by another delivery whose event is stored, or done: nothing is
//     stored and Enqueue returns driver.ErrDuplicate, so that the duplicate
//     is acknowledged (and observed as a duplicate).
//   - key admitted, not yet confirmed, by another delivery through the full
//     Store (another wiring sharing the table): Enqueue answers an error
//     matching receiver.ErrPending, and the receiver 503.
//
// There is no state between "claimed" and "stored" for a crash or a timeout
// to leave behind. PostgreSQL unreachable or slow: Enqueue fails within
// CallTimeout with an error matching ErrUnavailable and
// receiver.ErrQueueFull, and the receiver answers 503 with Retry-After;
// never a 2xx for an event that was not committed. A statement that timed
// out may have committed all the same (the reply was lost): the claim it
// wrote is then confirmed with the event, the receiver leaves it (it
// releases only a claim still admitted), and the sender's retry is a
// duplicate. Should two copies ever be stored, the worker that takes either
// checks the key first (receiver's take: Confirm for its own token,
// otherwise Claim), so only one of them runs. The
// event row is keyed by the claim token (a unique column), so running the
// same Enqueue twice stores one row.
//
// # Workers
//
// A started Queue claims due events of its endpoint with
// SELECT … FOR UPDATE SKIP LOCKED (as many as it has idle workers), marking
// them running with a random lock id and a lease (Visibility). Heartbeats
// renew the leases of the attempts running every third of the lease, and
// every PollInterval each instance puts the events whose lease lapsed (their
// instance died) back in the queue, attempt count unchanged. Every outcome
// is recorded fenced by the attempt's lock id, so an attempt that lost its
// event to another instance records nothing; outcomes of concurrent attempts
// are recorded many to a statement. A retry becomes a queued row due after
// the receiver's backoff, with Attempt+1 (unchanged for a deferral,
// driver.Result.KeepAttempt) and the error; a dead letter a dead
// row with its last error (and a row of dead_letters).
//
// After its commit, Enqueue sends NOTIFY on the channel "<schema>.events"
// (outside the request's statement, coalesced), and each Queue LISTENs on one connection
// of the pool, so that idle workers wake at once; a poll every PollInterval
// is the backstop for lost notifications and the clock of retries. Behind a
// pooler in transaction mode (PgBouncer), where LISTEN does not work, use
// PollOnly, and pgx's simple protocol or QueryExecModeExec.
//
// # Transactional handlers
//
// TxHandler runs a handler in a transaction that also marks its event done
// (CompleteTx, for handlers that manage their own transaction): the
// handler's writes and the completion commit together. For writes to the
// same database, at-least-once becomes exactly-once: an attempt that
// committed is never run again, and one that did not commit left nothing.
// What it does not cover: anything the handler does outside the
// transaction (HTTP calls, messages, e-mails, other databases) runs once per
// attempt, so those must still be idempotent or go through an outbox. See
// TxHandler.
//
// # History
//
// Done and dead events stay in the events table for the History retention
// (default seven days): Inbox.Find queries them by endpoint, provider, type,
// ID, state and time, Inbox.Replay queues one again, and a started Queue
// deletes those past the retention, and expired dedupe marks, every
// CleanupInterval in batches of CleanupBatch rows, with the lapsed entries
// of ordering lines (Inbox.Cleanup runs it on demand).
package postgres
