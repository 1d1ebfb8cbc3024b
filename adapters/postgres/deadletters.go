package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/receiver/driver"
)

// DeadLetters is a driver.DeadLetterStore on PostgreSQL: one row of the
// dead_letters table per (provider, DeadLetter.Key()), holding the event,
// its attempts and the last error. Create it with NewDeadLetters or
// Inbox.DeadLetters.
type DeadLetters struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	max     int

	lockSQL, putSQL, listSQL, deleteSQL string
	events, heldSQL                     string // the events table, and whether an attempt holds its event
}

var _ driver.DeadLetterStore = (*DeadLetters)(nil)

// NewDeadLetters returns a dead-letter store on pool, which the caller
// owns. Of the options, Schema, CallTimeout and MaxDeadLetters apply.
func NewDeadLetters(pool *pgxpool.Pool, opts ...Option) *DeadLetters {
	cfg := newPoolConfig(pool, opts)
	t, events := quote(cfg.schema)+".dead_letters", quote(cfg.schema)+".events"
	cols := `provider, key, event_id, type, version, received_at, received_ns, header, body, payload, meta, attempt, claim_token, reason, failed_at, failed_ns, target`
	return &DeadLetters{
		pool: pool, timeout: cfg.callTimeout, max: cfg.maxDeadLetters, events: events,
		heldSQL: `SELECT 1 FROM ` + events + ` WHERE seq = $1 AND lock_id = $2 AND state = 'running' FOR SHARE`,
		// A new dead letter is refused when the store holds its bound (a
		// replacement of one stored is not). Put runs it in a transaction
		// after an advisory lock, so that concurrent puts cannot overshoot
		// the bound: the statement's snapshot is taken after the lock.
		lockSQL: `SELECT pg_advisory_xact_lock(hashtext(` + quoteLiteral(t) + `))`,
		putSQL: `WITH room AS (SELECT $17 <= 0
   OR EXISTS (SELECT 1 FROM ` + t + ` WHERE provider = $1 AND key = $2)
   OR (SELECT count(*) FROM (SELECT 1 FROM ` + t + ` LIMIT $17) AS c) < $17 AS ok)
INSERT INTO ` + t + ` AS d (` + cols + `)
SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::integer, $8::bytea, $9::bytea, $10::bytea,
  $11::bytea, $12::integer, $13::text, $14::bytea, $15::timestamptz, $16::integer, $18::text FROM room WHERE room.ok
ON CONFLICT (provider, key) DO UPDATE SET
  event_id = EXCLUDED.event_id, type = EXCLUDED.type, version = EXCLUDED.version, received_at = EXCLUDED.received_at,
  received_ns = EXCLUDED.received_ns, header = EXCLUDED.header, body = EXCLUDED.body, payload = EXCLUDED.payload,
  meta = EXCLUDED.meta, attempt = EXCLUDED.attempt, claim_token = EXCLUDED.claim_token, reason = EXCLUDED.reason,
  failed_at = EXCLUDED.failed_at, failed_ns = EXCLUDED.failed_ns, target = EXCLUDED.target, stored_seq = DEFAULT`,
		listSQL: `SELECT provider, event_id, type, version, received_at, received_ns, header, body, payload, meta, attempt,
  claim_token, reason, failed_at, failed_ns, target FROM ` + t + ` ORDER BY failed_at, failed_ns, stored_seq LIMIT $1`,
		deleteSQL: `DELETE FROM ` + t + ` WHERE provider = $1 AND key = $2`,
	}
}

// quoteLiteral quotes s as an SQL string literal (s is a quoted schema
// and table name, without quotes of its own beyond identifier quoting).
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// Put stores d under its event's provider and d.Key(), replacing (and
// moving to the end of the order) an earlier dead letter of the same key.
// When the store holds MaxDeadLetters and d is new, it returns an error
// matching driver.ErrDeadLettersFull.
//
// Called within an attempt that a Queue of the same schema runs, for the
// attempt's own event, it stores d only while the attempt still holds the
// event, in the same transaction: when the event is done (a commit whose
// reply was lost) or another instance took it over, it stores nothing and
// returns an error matching ErrLeaseLost, and the event is not
// dead-lettered.
func (s *DeadLetters) Put(ctx context.Context, d driver.DeadLetter) error {
	if d.Event == nil {
		return errors.New("postgres: dead letter without event")
	}
	e := d.Event
	if err := checkText(e.Provider, e.ID, e.Type, e.Version, e.ClaimToken, e.Target); err != nil {
		return err
	}
	received, receivedNs := splitTime(e.ReceivedAt)
	failed, failedNs := splitTime(d.FailedAt)
	if failed == nil {
		failed = time.Unix(0, 0).UTC()
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	args := []any{e.Provider, d.Key(), e.ID, e.Type, e.Version, received, receivedNs,
		encodeHeader(e.Header), nilIfNil(e.Body), nilIfNil(e.Payload), encodeMeta(e.Meta), e.Attempt, e.ClaimToken,
		[]byte(d.Reason), failed, failedNs, s.max, e.Target}
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	if a != nil && (a.q.sql.events != s.events || a.event.ClaimToken != e.ClaimToken) {
		a = nil // not this store's queue, or another event
	}
	var tag pgconn.CommandTag
	var err error
	if s.max <= 0 && a == nil {
		tag, err = s.pool.Exec(ctx, s.putSQL, args...)
	} else {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if a != nil {
				var one int
				if err := tx.QueryRow(ctx, s.heldSQL, a.seq, a.lock).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
					return ErrLeaseLost
				} else if err != nil {
					return err
				}
			}
			if s.max > 0 {
				if _, err := tx.Exec(ctx, s.lockSQL); err != nil {
					return err
				}
			}
			tag, err = tx.Exec(ctx, s.putSQL, args...)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("postgres: put dead letter: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %d dead letters stored: %w", s.max, driver.ErrDeadLettersFull)
	}
	return nil
}

// List returns up to limit dead letters, oldest first (by FailedAt); all of
// them when limit <= 0.
func (s *DeadLetters) List(ctx context.Context, limit int) ([]driver.DeadLetter, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, s.listSQL, lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: list dead letters: %w", err)
	}
	defer rows.Close()
	var out []driver.DeadLetter
	for rows.Next() {
		var r storedEvent
		var reason []byte
		var failed *time.Time
		var failedNs int32
		if err := rows.Scan(&r.provider, &r.id, &r.typ, &r.version, &r.receivedAt, &r.receivedNs, &r.header, &r.body,
			&r.payload, &r.meta, &r.attempt, &r.token, &reason, &failed, &failedNs, &r.target); err != nil {
			return nil, fmt.Errorf("postgres: list dead letters: %w", err)
		}
		e, err := r.event()
		if err != nil {
			return nil, err
		}
		if r.body == nil {
			e.Body = nil
		}
		out = append(out, driver.DeadLetter{Event: e, Reason: string(reason), FailedAt: joinTime(failed, failedNs)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list dead letters: %w", err)
	}
	return out, nil
}

// Delete removes the dead letter stored under (provider, key), key being
// the dead letter's Key(); deleting a missing one is not an error.
func (s *DeadLetters) Delete(ctx context.Context, provider, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.pool.Exec(ctx, s.deleteSQL, provider, key); err != nil {
		return fmt.Errorf("postgres: delete dead letter: %w", err)
	}
	return nil
}
