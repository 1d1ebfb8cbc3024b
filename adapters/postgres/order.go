package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/receiver/driver"
)

// OrderStore is a driver.OrderStore on PostgreSQL, for per-key ordering
// across the replicas that share a database (receiver.WithOrdering): one
// row of the order_lines table per entry (ordering key, claim token), first
// in line the lowest seq. Each call is one statement; holds are measured
// with the database's clock, so the replicas' clocks need not agree.
// Create it with NewOrderStore or Inbox.OrderStore.
//
// Entries whose hold has passed count as absent. Turn deletes those of the
// key it is asked about; the cleanup run by a started Queue (or
// Inbox.Cleanup) deletes those of keys nobody asks about again. The lines
// hold the entries of the events accepted and not finished, plus entries
// of events whose Enqueue failed after they joined, until their hold
// passes: they are bounded by the queue's backlog (MaxBacklog) and the
// request rate times the hold, and Join has no bound of its own.
type OrderStore struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	table   string // its lines' table, which a Queue's finishing statement can leave

	joinSQL, turnSQL, leaveSQL string
}

var _ driver.OrderStore = (*OrderStore)(nil)

// orderLockKey is the class of the transaction-level advisory lock a Join
// holds on its key (an arbitrary constant, "ordr"; the key's hash is the
// other half).
const orderLockKey = 0x6f726472

// NewOrderStore returns an OrderStore on pool, which the caller owns. Of
// the options, Schema and CallTimeout apply. It panics for a nil pool or an
// invalid Schema. The tables must exist (Migrate, version 2 or later).
func NewOrderStore(pool *pgxpool.Pool, opts ...Option) *OrderStore {
	cfg := newPoolConfig(pool, opts)
	t := quote(cfg.schema) + ".order_lines"
	return &OrderStore{
		pool: pool, timeout: cfg.callTimeout, table: t,
		// A Join holds an advisory lock on its key until it commits, so
		// that the Joins of one key commit in the order of their seq: an
		// identity value is taken when the row is inserted, and without the
		// lock a Join that took a lower seq could commit after one that took
		// a higher one, and go before an event that already runs. The lock
		// is taken by the materialized CTE, before the row (and its seq) is
		// made. Joining again renews the entry in place, seq unchanged.
		joinSQL: `WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock(` + fmt.Sprint(orderLockKey) + `, hashtext($1::text)))
INSERT INTO ` + t + ` AS o (key, token, expires_at)
SELECT $1::text, $2::text, clock_timestamp() + $3::bigint * interval '1 microsecond' FROM l
ON CONFLICT (key, token) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
		// Turn, at one instant (now(), the statement's), deletes the key's
		// lapsed entries (skipping those another call is changing: they
		// count as absent all the same), renews the caller's entry unless it
		// lapsed (the two sets are disjoint, so no row is changed twice),
		// and answers whether no live entry of the key comes before the
		// caller's: true when the caller's is first, or absent.
		turnSQL: `WITH gone AS (
  DELETE FROM ` + t + ` WHERE (key, token) IN (
    SELECT key, token FROM ` + t + ` WHERE key = $1 AND expires_at <= now() FOR UPDATE SKIP LOCKED)
), mine AS (
  UPDATE ` + t + ` SET expires_at = now() + $3::bigint * interval '1 microsecond'
  WHERE key = $1 AND token = $2 AND expires_at > now()
  RETURNING seq
)
SELECT NOT EXISTS (
  SELECT 1 FROM ` + t + ` AS o, mine WHERE o.key = $1 AND o.seq < mine.seq AND o.expires_at > now())`,
		leaveSQL: `DELETE FROM ` + t + ` WHERE key = $1 AND token = $2`,
	}
}

// orderError is the error of a failed call: the context's error when ctx
// ended, otherwise one matching ErrUnavailable (and driver.ErrQueueFull,
// so that a Join on the request path is answered 503 with Retry-After).
func orderError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("postgres: ordering %s: %w", op, unavailable(err))
}

// Join appends token to key's line, to be dropped unless renewed within
// hold, or renews it in place when it is in the line already. Joins of one
// key are serialized until they commit (see the package documentation).
func (s *OrderStore) Join(ctx context.Context, key, token string, hold time.Duration) error {
	if err := checkText(key, token); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.pool.Exec(cctx, s.joinSQL, key, token, micros(max(hold, 0))); err != nil {
		return orderError(ctx, "join", err)
	}
	return nil
}

// Turn reports whether token's event may run now: it is first among the
// live entries of key's line, or not in it. It drops the line's entries
// whose hold passed and renews token's for hold.
func (s *OrderStore) Turn(ctx context.Context, key, token string, hold time.Duration) (bool, error) {
	if err := checkText(key, token); err != nil {
		return false, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var ok bool
	if err := s.pool.QueryRow(cctx, s.turnSQL, key, token, micros(max(hold, 0))).Scan(&ok); err != nil {
		return false, orderError(ctx, "turn", err)
	}
	return ok, nil
}

// Leave removes token from key's line; a token not in it is not an error.
//
// Called within an attempt that a Queue of the same schema runs, for the
// attempt's own claim token (the token the receiver orders an event by),
// Leave is not sent at once: the statement that records the attempt's
// outcome deletes the entry, in the same commit. A process that dies after
// the handler returned but before that statement leaves the event running
// with its token still first in its line, so the event run again (after its
// lease lapses) runs before the key's later events, not after them.
func (s *OrderStore) Leave(ctx context.Context, key, token string) error {
	if err := checkText(key, token); err != nil {
		return err
	}
	if a, _ := ctx.Value(attemptKey{}).(*attempt); a != nil && token != "" && a.event.ClaimToken == token && a.q.sql.lines == s.table {
		a.leave.Store(&key)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.pool.Exec(cctx, s.leaveSQL, key, token); err != nil {
		return orderError(ctx, "leave", err)
	}
	return nil
}
