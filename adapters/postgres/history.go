package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/receiver/driver"
)

// State is the state of an event in the events table.
type State string

// The states of an event.
const (
	StateQueued  State = "queued"  // waiting to run (first attempt, or a retry due at RunAt)
	StateRunning State = "running" // an attempt holds its lease
	StateDone    State = "done"    // handled (or acknowledged without a handler, or a duplicate copy)
	StateDead    State = "dead"    // dead-lettered; LastError says why
)

// Record is one row of the events table: an accepted event and what became
// of it.
type Record struct {
	Seq        int64         // the row's identity: Replay and Get take it
	Endpoint   string        // the endpoint whose workers run it
	State      State         // queued, running, done or dead
	Event      *driver.Event // with Attempt the attempts made or being made
	RunAt      time.Time     // when a queued event is due
	LockedBy   string        // the instance that ran it last
	LastError  string        // the last attempt's error, if any
	EnqueuedAt time.Time     // when it was stored
	FinishedAt time.Time     // when it became done or dead (zero otherwise)
}

// Filter selects events for Find. Zero fields select everything.
type Filter struct {
	Endpoint string
	Provider string
	Type     string
	ID       string    // the provider's event ID
	Target   string    // a fan-out copy's target (Event.Target); empty: every event
	State    State     // one state, or all
	Since    time.Time // received at or after
	Until    time.Time // received before
	// Before continues a listing: only rows whose Seq is below it (pass the
	// last Seq of the previous page).
	Before int64
	// Limit caps the rows returned (default and maximum 1000).
	Limit int
}

// maxFind is Find's largest and default limit.
const maxFind = 1000

// ErrNotFound matches the error of Get and Replay for a Seq with no row.
var ErrNotFound = errors.New("postgres: event not found")

const recordCols = `seq, endpoint, state, provider, event_id, type, version, received_at, received_ns, header, body,
  payload, meta, attempt, claim_token, run_at, coalesce(locked_by, ''), coalesce(last_error, ''), enqueued_at, finished_at, target`

func scanRecord(row pgx.Row) (Record, error) {
	var (
		rec      Record
		r        storedEvent
		state    string
		finished *time.Time
	)
	if err := row.Scan(&rec.Seq, &rec.Endpoint, &state, &r.provider, &r.id, &r.typ, &r.version, &r.receivedAt, &r.receivedNs,
		&r.header, &r.body, &r.payload, &r.meta, &r.attempt, &r.token, &rec.RunAt, &rec.LockedBy, &rec.LastError,
		&rec.EnqueuedAt, &finished, &r.target); err != nil {
		return Record{}, err
	}
	rec.State = State(state)
	e, err := r.event()
	if err != nil {
		return Record{}, err
	}
	rec.Event = e
	if finished != nil {
		rec.FinishedAt = *finished
	}
	return rec, nil
}

// Find returns the events matching f, newest first (by Seq): the event log
// to answer "we never got it". Every filter field is served by an index of
// the events table (provider and ID; provider, type and time; time).
func (in *Inbox) Find(ctx context.Context, f Filter) ([]Record, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Endpoint != "" {
		add("endpoint = ?", f.Endpoint)
	}
	if f.Provider != "" {
		add("provider = ?", f.Provider)
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.ID != "" {
		add("event_id = ?", f.ID)
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if f.State != "" {
		add("state = ?", string(f.State))
	}
	if !f.Since.IsZero() {
		add("received_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		add("received_at < ?", f.Until)
	}
	if f.Before > 0 {
		add("seq < ?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 || limit > maxFind {
		limit = maxFind
	}
	sql := `SELECT ` + recordCols + ` FROM ` + in.events
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	sql += ` ORDER BY seq DESC LIMIT ` + strconv.Itoa(limit)
	ctx, cancel := context.WithTimeout(ctx, in.cfg.callTimeout)
	defer cancel()
	rows, err := in.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: find events: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: find events: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: find events: %w", err)
	}
	return out, nil
}

// Get returns the event stored under seq, or an error matching
// ErrNotFound.
func (in *Inbox) Get(ctx context.Context, seq int64) (Record, error) {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.callTimeout)
	defer cancel()
	rec, err := scanRecord(in.pool.QueryRow(ctx, `SELECT `+recordCols+` FROM `+in.events+` WHERE seq = $1`, seq))
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("postgres: get event: %w", err)
	}
	return rec, nil
}

// Replay queues a copy of the event stored under seq (done or dead, or
// any state) for its endpoint: a new row with Attempt 1 and a fresh claim
// token, whose dedupe key is taken for that token, in one transaction. A
// fan-out copy's replay keeps its Target, and takes the copy's own dedupe
// key (Event.DedupeKey), so the other handlers do not run again. A
// replay is deliberate: the event's done mark does not stop it, and its
// handler runs again (a transactional handler's writes included). It
// returns the new row's Seq.
func (in *Inbox) Replay(ctx context.Context, seq int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.callTimeout)
	defer cancel()
	token := rand.Text()
	var newSeq int64
	err := pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
		var e driver.Event
		var endpoint string
		if err := tx.QueryRow(ctx, `SELECT provider, event_id, target, endpoint FROM `+in.events+` WHERE seq = $1`, seq).
			Scan(&e.Provider, &e.ID, &e.Target, &endpoint); err != nil {
			return err
		}
		if e.ID != "" {
			key := []byte(e.DedupeKey()) // a fan-out copy's own key
			if _, err := tx.Exec(ctx, `INSERT INTO `+in.dedupe+` AS d (key, token, state, expires_at)
VALUES ($1, $2, 2, now() + $3 * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, state = 2, expires_at = EXCLUDED.expires_at`,
				key, token, micros(in.cfg.claimLease)); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO `+in.events+` (endpoint, provider, event_id, type, version, received_at,
  received_ns, header, body, payload, meta, attempt, claim_token, target)
SELECT endpoint, provider, event_id, type, version, received_at, received_ns, header, body, payload, meta, 1, $2, target
FROM `+in.events+` WHERE seq = $1 RETURNING seq`, seq, token).Scan(&newSeq); err != nil {
			return err
		}
		if !in.cfg.pollOnly {
			_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, in.cfg.schema+".events", endpoint)
			return err
		}
		return nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: replay: %w", err)
	}
	return newSeq, nil
}

// Cleanup deletes events done or dead for longer than the History
// retention, dedupe marks whose lease or retention has passed, and
// ordering-line entries (OrderStore) whose hold has passed, in
// batches of CleanupBatch rows (each batch its own short statement, so that
// it never holds many locks for long), until none is left. It returns how
// many rows it deleted. A started Queue runs it every CleanupInterval.
func (in *Inbox) Cleanup(ctx context.Context) (int64, error) {
	return cleanup(ctx, in.pool, in.cfg)
}

func cleanup(ctx context.Context, pool *pgxpool.Pool, cfg config) (int64, error) {
	s := quote(cfg.schema)
	stmts := []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM ` + s + `.events WHERE seq IN (SELECT seq FROM ` + s + `.events
  WHERE state IN ('done', 'dead') AND finished_at < now() - $1 * interval '1 microsecond'
  LIMIT $2 FOR UPDATE SKIP LOCKED)`, []any{micros(cfg.history), cfg.cleanupBatch}},
		{`DELETE FROM ` + s + `.dedupe WHERE key IN (SELECT key FROM ` + s + `.dedupe
  WHERE expires_at < now() LIMIT $1 FOR UPDATE SKIP LOCKED)`, []any{cfg.cleanupBatch}},
		// Lapsed entries of ordering lines: Turn drops those of the keys it
		// is asked about; these are the keys nobody asks about again.
		{`DELETE FROM ` + s + `.order_lines WHERE (key, token) IN (SELECT key, token FROM ` + s + `.order_lines
  WHERE expires_at < now() LIMIT $1 FOR UPDATE SKIP LOCKED)`, []any{cfg.cleanupBatch}},
	}
	var total int64
	for _, st := range stmts {
		for {
			cctx, cancel := context.WithTimeout(ctx, max(cfg.callTimeout, 10*time.Second))
			tag, err := pool.Exec(cctx, st.sql, st.args...)
			cancel()
			if err != nil {
				return total, fmt.Errorf("postgres: cleanup: %w", err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(cfg.cleanupBatch) {
				break
			}
			sleep(ctx, 10*time.Millisecond) // let other work through between batches
			if ctx.Err() != nil {
				return total, ctx.Err()
			}
		}
	}
	return total, nil
}
