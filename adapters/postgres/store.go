package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/dedupe"
)

// Store is a dedupe.Store on PostgreSQL: one row of the dedupe table per
// key, each call one statement. Create it with NewStore or Inbox.Store. It
// passes the dedupetest conformance suite.
//
// A row whose expires_at has passed counts as absent; the cleanup run by a
// started Queue (or Inbox.Cleanup) deletes such rows in bounded batches.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	closed  atomic.Bool

	claimSQL, confirmSQL, completeSQL, releaseSQL, releaseAnySQL, releaseAdmittedSQL string
}

var (
	_ dedupe.Store            = (*Store)(nil)
	_ dedupe.AdmittedReleaser = (*Store)(nil)
)

// NewStore returns a Store on pool, which the caller owns. Of the options,
// Schema and CallTimeout apply.
func NewStore(pool *pgxpool.Pool, opts ...Option) *Store {
	cfg := newPoolConfig(pool, opts)
	t := quote(cfg.schema) + ".dedupe"
	return &Store{
		pool: pool, timeout: cfg.callTimeout,
		// Claim always writes the row (a conflict updates it to itself unless
		// it lapsed), so that RETURNING reports the row as it is after the
		// statement, locked, even when a concurrent transaction changed it.
		claimSQL: `INSERT INTO ` + t + ` AS d (key, token, state, expires_at)
VALUES ($1, $2, 1, now() + $3 * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET
  token      = CASE WHEN d.expires_at <= now() THEN EXCLUDED.token ELSE d.token END,
  state      = CASE WHEN d.expires_at <= now() THEN 1 ELSE d.state END,
  expires_at = CASE WHEN d.expires_at <= now() THEN EXCLUDED.expires_at ELSE d.expires_at END
RETURNING d.token, d.state`,
		confirmSQL: `UPDATE ` + t + ` SET state = 2, expires_at = now() + $3 * interval '1 microsecond'
WHERE key = $1 AND token = $2 AND state IN (1, 2) AND expires_at > now()`,
		completeSQL: `INSERT INTO ` + t + ` AS d (key, token, state, expires_at)
VALUES ($1, $2, 3, now() + $3 * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, state = 3, expires_at = EXCLUDED.expires_at
WHERE d.expires_at <= now() OR EXCLUDED.token = '' OR (d.state <> 3 AND d.token = EXCLUDED.token)`,
		releaseSQL:    `DELETE FROM ` + t + ` WHERE key = $1 AND token = $2 AND state IN (1, 2)`,
		releaseAnySQL: `DELETE FROM ` + t + ` WHERE key = $1`,
		// State 1 is admitted. An Inbox's request-path statement writes its
		// claim confirmed (2) with the event, so this never releases the
		// claim of a stored event: after a failed Enqueue it finds nothing.
		releaseAdmittedSQL: `DELETE FROM ` + t + ` WHERE key = $1 AND token = $2 AND state = 1`,
	}
}

func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, dedupe.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	return cctx, cancel, nil
}

// exec runs one statement within the store's timeout and returns the rows
// it affected; an error is the caller's context error or a
// *dedupe.StoreError for op.
func (s *Store) exec(ctx context.Context, op, sql string, args ...any) (int64, error) {
	cctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	tag, err := s.pool.Exec(cctx, sql, args...)
	if err != nil {
		return 0, storeError(ctx, op, err)
	}
	return tag.RowsAffected(), nil
}

func storeError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return ctx.Err()
	}
	return &dedupe.StoreError{Op: "postgres " + op, Err: err}
}

// Claim implements dedupe.Store.
func (s *Store) Claim(ctx context.Context, key, token string, lease time.Duration) (dedupe.Outcome, error) {
	switch {
	case token == "":
		return 0, dedupe.ErrInvalidToken
	case lease <= 0:
		return 0, dedupe.ErrInvalidDuration
	}
	cctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	var holder string
	var state int16
	if err := s.pool.QueryRow(cctx, s.claimSQL, []byte(key), token, micros(lease)).Scan(&holder, &state); err != nil {
		return 0, storeError(ctx, "claim", err)
	}
	switch {
	case state == 3:
		return dedupe.Duplicate, nil
	case holder == token:
		return dedupe.Claimed, nil
	case state == 1:
		return dedupe.Pending, nil
	}
	return dedupe.Duplicate, nil
}

// Confirm implements dedupe.Store.
func (s *Store) Confirm(ctx context.Context, key, token string, lease time.Duration) (bool, error) {
	switch {
	case token == "":
		return false, dedupe.ErrInvalidToken
	case lease <= 0:
		return false, dedupe.ErrInvalidDuration
	}
	n, err := s.exec(ctx, "confirm", s.confirmSQL, []byte(key), token, micros(lease))
	return n == 1, err
}

// Complete implements dedupe.Store.
func (s *Store) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	if retention <= 0 {
		return dedupe.ErrInvalidDuration
	}
	_, err := s.exec(ctx, "complete", s.completeSQL, []byte(key), token, micros(retention))
	return err
}

// Release implements dedupe.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	var err error
	if token == "" {
		_, err = s.exec(ctx, "release", s.releaseAnySQL, []byte(key))
	} else {
		_, err = s.exec(ctx, "release", s.releaseSQL, []byte(key), token)
	}
	return err
}

// ReleaseAdmitted implements dedupe.AdmittedReleaser.
func (s *Store) ReleaseAdmitted(ctx context.Context, key, token string) error {
	if token == "" {
		return dedupe.ErrInvalidToken
	}
	_, err := s.exec(ctx, "release", s.releaseAdmittedSQL, []byte(key), token)
	return err
}

// Close makes every later call return dedupe.ErrClosed. It does not close
// the pool, which the caller owns.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// enqueueClaims is the Store as the Inbox wires it into a receiver. On the
// request path, Claim answers Claimed without a round trip, because the
// Queue's Enqueue claims the key and stores the event in one statement (and
// answers a duplicate without storing it). During an attempt run by the
// Queue (the context says so), Confirm is answered from the claiming
// statement, which confirmed the claim already, and Complete is deferred to
// the statement that records the attempt's outcome, so that the event's row
// and its key become done in one commit. Every other call goes to the Store.
type enqueueClaims struct{ *Store }

// Claim checks its arguments and answers Claimed on the request path, where
// Enqueue takes the claim; during an attempt it asks the Store.
func (s enqueueClaims) Claim(ctx context.Context, key, token string, lease time.Duration) (dedupe.Outcome, error) {
	switch {
	case token == "":
		return 0, dedupe.ErrInvalidToken
	case lease <= 0:
		return 0, dedupe.ErrInvalidDuration
	case s.closed.Load():
		return 0, dedupe.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if a, _ := ctx.Value(attemptKey{}).(*attempt); a != nil {
		return s.Store.Claim(ctx, key, token, lease)
	}
	return dedupe.Claimed, nil
}

// Confirm answers true, once, for the attempt whose claiming statement
// confirmed its claim; otherwise it asks the Store.
func (s enqueueClaims) Confirm(ctx context.Context, key, token string, lease time.Duration) (bool, error) {
	if a := attemptOf(ctx, key, token); a != nil && lease > 0 && !s.closed.Load() && a.held.CompareAndSwap(true, false) {
		return true, nil
	}
	return s.Store.Confirm(ctx, key, token, lease)
}

// Complete, for the attempt's own key and token, is recorded with the
// attempt's outcome; otherwise it asks the Store.
func (s enqueueClaims) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	if a := attemptOf(ctx, key, token); a != nil && retention > 0 && !s.closed.Load() {
		a.complete.Store(micros(retention))
		return nil
	}
	return s.Store.Complete(ctx, key, token, retention)
}
