package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// ErrUnavailable matches the error Enqueue returns when PostgreSQL did not
// commit the event within the call timeout (down, slow, refusing). It also
// matches receiver.ErrQueueFull, so the receiver answers 503 with
// Retry-After and the sender retries later. The statement may have
// committed all the same (its reply was lost): see the package
// documentation for why that is safe.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string        { return "postgres: database unavailable" }
func (unavailableError) Is(target error) bool { return target == driver.ErrQueueFull }

func unavailable(err error) error { return fmt.Errorf("%w: %w", ErrUnavailable, err) }

// errPending is Enqueue's error when another delivery of the event holds an
// admission claim whose outcome is not known yet (503; the sender retries).
var errPending = fmt.Errorf("postgres: %w", receiver.ErrPending)

// ErrNoEndpoint is returned by Enqueue on a Queue that has no endpoint name
// yet (neither the Endpoint option nor a Start).
var ErrNoEndpoint = errors.New("postgres: queue has no endpoint name (use the Endpoint option or Start it)")

// ErrEndpointMismatch matches the error of Start when the processor's
// endpoint is not the one the queue was created for (the Endpoint option):
// the events stored for one endpoint must reach that endpoint's handlers.
var ErrEndpointMismatch = errors.New("postgres: processor of another endpoint")

// shutdownGrace is how long Shutdown waits, once its deadline passed and
// the attempts' contexts are cancelled, for them to return and record their
// outcome.
const shutdownGrace = 100 * time.Millisecond

// finishBatch is the most outcomes one finishing statement records.
const finishBatch = 256

// Queue is a driver.Queue on PostgreSQL: events are rows of the events
// table, claimed by workers with FOR UPDATE SKIP LOCKED. Create it with
// NewQueue or Inbox.Queue. See the package documentation.
type Queue struct {
	pool *pgxpool.Pool
	cfg  config
	log  *slog.Logger
	sql  queueSQL

	endpoint      atomic.Pointer[string]
	notifying     atomic.Bool  // a NOTIFY goroutine runs
	notifyPending atomic.Bool  // events stored since the last NOTIFY began
	backlog       atomic.Int64 // queued and running events of the endpoint, refreshed by the maintenance loop
	closing       atomic.Bool  // set under mu

	mu       sync.Mutex
	started  bool
	proc     driver.Processor
	stop     context.CancelFunc // fetch, listen and maintenance loops
	abort    context.CancelFunc // attempts' contexts
	procCtx  context.Context
	finQuit  context.CancelFunc // the finisher and the heartbeat
	finCtx   context.Context
	loops    sync.WaitGroup
	work     sync.WaitGroup
	helpers  sync.WaitGroup // finisher, heartbeat
	wake     chan struct{}
	freed    chan struct{}
	finCh    chan *finishReq
	flightMu sync.Mutex
	inFlight map[int64]int64 // seq → lock id of the attempts running here
	running  int
}

var (
	_ driver.Queue       = (*Queue)(nil)
	_ driver.StatsReader = (*Queue)(nil)
)

type queueSQL struct {
	enqueue, enqueueClaim, notify, claim, finish, heartbeat, rescue, reclaim, backlog, stats, channel, complete string
	dedupe, events                                                                                              string
	lines                                                                                                       string // the ordering lines' table (OrderStore)
	done                                                                                                        string // whether an event is done
}

// sqlDedupeKey is the SQL of the dedupe key of the events row alias t, as
// driver.Event.DedupeKey makes it: "provider:ID", followed for a fan-out
// copy by a space and its target.
func sqlDedupeKey(t string) string {
	return `convert_to(` + t + `.provider || ':' || ` + t + `.event_id || CASE WHEN ` + t + `.target = '' THEN '' ELSE ' ' || ` + t + `.target END, 'UTF8')`
}

func newQueueSQL(cfg config) queueSQL {
	s := quote(cfg.schema)
	e, d, lines := s+".events", s+".dedupe", s+".order_lines"
	cols := `endpoint, provider, event_id, type, version, received_at, received_ns, header, body, payload, meta, attempt, claim_token, target`
	vals := `$1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::integer, $8::bytea, $9::bytea, $10::bytea, $11::bytea, $12::integer, $13::text, $14::text`
	returning := `u.seq, u.provider, u.event_id, u.type, u.version, u.received_at, u.received_ns,
  u.header, u.body, u.payload, u.meta, u.attempt, u.claim_token, u.target`
	claim := `WITH c AS (
  SELECT seq FROM ` + e + `
  WHERE endpoint = $1 AND state = 'queued' AND run_at <= now()
  ORDER BY run_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), u AS (
  UPDATE ` + e + ` AS e SET state = 'running', lock_id = $3, locked_by = $4,
    lease_until = now() + $5 * interval '1 microsecond'
  FROM c WHERE e.seq = c.seq
  RETURNING e.*)`
	if cfg.claimOnEnqueue {
		// The same statement confirms each event's dedupe claim for the full
		// lease, when its delivery's token still holds the key, and reports
		// which do: the receiver's check before the attempt (Confirm) is
		// then answered without a round trip.
		claim += `, k AS (
  UPDATE ` + d + ` AS d SET state = 2, expires_at = now() + $6 * interval '1 microsecond'
  FROM u WHERE u.event_id <> '' AND d.key = ` + sqlDedupeKey("u") + `
    AND d.token = u.claim_token AND d.state IN (1, 2) AND d.expires_at > now()
  RETURNING d.key, d.token)
SELECT ` + returning + `, k.key IS NOT NULL FROM u
  LEFT JOIN k ON k.key = ` + sqlDedupeKey("u") + ` AND k.token = u.claim_token`
	} else {
		claim += `
SELECT ` + returning + `, $6::bigint IS NULL FROM u`
	}
	return queueSQL{
		dedupe: d, events: e, lines: lines,
		done:    `SELECT state = 'done' FROM ` + e + ` WHERE seq = $1`,
		channel: cfg.schema + ".events",
		enqueue: `INSERT INTO ` + e + ` (` + cols + `) VALUES (` + vals + `) ON CONFLICT (claim_token) DO NOTHING`,
		// One statement claims the event's dedupe key for the delivery's
		// token, confirmed (the event is stored in the same commit), and
		// stores the event, or stores nothing when another delivery holds
		// the key. It reports whether the claim was taken and, when not, the
		// state of the key as it was before the statement.
		enqueueClaim: `WITH claim AS (
  INSERT INTO ` + d + ` AS d (key, token, state, expires_at)
  VALUES ($15, $13, 2, now() + $16 * interval '1 microsecond')
  ON CONFLICT (key) DO UPDATE SET
    token      = EXCLUDED.token,
    state      = CASE WHEN d.expires_at > now() THEN greatest(d.state, 2) ELSE 2 END,
    expires_at = CASE WHEN d.expires_at > now() THEN greatest(d.expires_at, EXCLUDED.expires_at) ELSE EXCLUDED.expires_at END
  WHERE d.expires_at <= now() OR d.token = EXCLUDED.token
  RETURNING 1
), ins AS (
  INSERT INTO ` + e + ` (` + cols + `) SELECT ` + vals + ` WHERE EXISTS (SELECT 1 FROM claim)
  ON CONFLICT (claim_token) DO NOTHING RETURNING seq)
SELECT EXISTS (SELECT 1 FROM claim),
  (SELECT state FROM ` + d + ` WHERE key = $15 AND expires_at > now()),
  (SELECT count(*) FROM ins)`,
		notify: `SELECT pg_notify($1, $2)`,
		claim:  claim,
		// Outcomes, many to a statement, each fenced by its attempt's lock
		// id; and the dedupe completions the receiver asked for during those
		// attempts (Complete, deferred to here), as dedupe.Store.Complete
		// does them, so that an event's row and its key become done in one
		// commit; and the ordering lines the attempts left (Leave, deferred
		// to here), so that an event leaves its line only once its outcome
		// is recorded.
		finish: `WITH f AS (
  UPDATE ` + e + ` AS e SET
    state       = t.state,
    attempt     = CASE WHEN t.state = 'queued' AND NOT t.keep THEN e.attempt + 1 ELSE e.attempt END,
    run_at      = CASE WHEN t.state = 'queued' THEN now() + t.delay * interval '1 microsecond' ELSE e.run_at END,
    finished_at = CASE WHEN t.state = 'queued' THEN NULL ELSE now() END,
    last_error  = t.err, lock_id = NULL, lease_until = NULL
  FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $9::boolean[]) AS t(seq, lock, state, err, delay, keep)
  WHERE e.seq = t.seq AND e.lock_id = t.lock AND e.state = 'running'
  RETURNING 1
), m AS (
  INSERT INTO ` + d + ` AS d (key, token, state, expires_at)
  SELECT t.key, t.token, 3, now() + t.ret * interval '1 microsecond'
  FROM unnest($6::bytea[], $7::text[], $8::bigint[]) AS t(key, token, ret)
  ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, state = 3, expires_at = EXCLUDED.expires_at
  WHERE d.expires_at <= now() OR (d.state <> 3 AND d.token = EXCLUDED.token)
)
, l AS (
  DELETE FROM ` + lines + ` AS o USING unnest($10::text[], $11::text[]) AS t(key, token)
  WHERE o.key = t.key AND o.token = t.token
)
SELECT count(*) FROM f`,
		// The attempt's completion inside a transactional handler's
		// transaction: the row done, fenced by the attempt's lock id, and the
		// dedupe key done as dedupe.Store.Complete would.
		complete: `WITH done AS (
  UPDATE ` + e + ` SET state = 'done', finished_at = now(), lock_id = NULL, lease_until = NULL, last_error = NULL
  WHERE seq = $1 AND lock_id = $2 AND state = 'running' RETURNING 1
), mark AS (
  INSERT INTO ` + d + ` AS d (key, token, state, expires_at)
  SELECT $3::bytea, $4::text, 3, now() + $5 * interval '1 microsecond' FROM done WHERE $3::bytea IS NOT NULL
  ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, state = 3, expires_at = EXCLUDED.expires_at
  WHERE d.expires_at <= now() OR (d.state <> 3 AND d.token = EXCLUDED.token)
)
SELECT count(*) FROM done`,
		heartbeat: `UPDATE ` + e + ` AS e SET lease_until = now() + $3 * interval '1 microsecond'
FROM unnest($1::bigint[], $2::bigint[]) AS t(seq, lock)
WHERE e.seq = t.seq AND e.lock_id = t.lock AND e.state = 'running'`,
		rescue: `UPDATE ` + e + ` SET state = 'queued', lock_id = NULL, lease_until = NULL, run_at = now()
WHERE seq IN (SELECT seq FROM ` + e + ` WHERE state = 'running' AND lease_until < now()
  ORDER BY lease_until LIMIT 100 FOR UPDATE SKIP LOCKED)`,
		reclaim: `UPDATE ` + e + ` SET state = 'queued', lock_id = NULL, lease_until = NULL, run_at = now()
WHERE state = 'running' AND endpoint = $1 AND locked_by = $2`,
		backlog: `SELECT (SELECT count(*) FROM ` + e + ` WHERE endpoint = $1 AND state = 'queued')
  + (SELECT count(*) FROM ` + e + ` WHERE endpoint = $1 AND state = 'running')`,
		stats: `SELECT (SELECT count(*) FROM ` + e + ` WHERE endpoint = $1 AND state = 'queued')
  + (SELECT count(*) FROM ` + e + ` WHERE endpoint = $1 AND state = 'running'),
  coalesce(extract(epoch FROM now() - (SELECT min(run_at) FROM ` + e + `
    WHERE endpoint = $1 AND state = 'queued' AND run_at <= now())) * 1e6, 0)::bigint`,
	}
}

// NewQueue returns a Queue on pool, which the caller owns and closes after
// Shutdown. Nothing is sent to PostgreSQL until Enqueue or Start. It panics
// for a nil pool or an invalid Schema.
func NewQueue(pool *pgxpool.Pool, opts ...Option) *Queue {
	cfg := newPoolConfig(pool, opts)
	q := &Queue{
		pool: pool, cfg: cfg, sql: newQueueSQL(cfg),
		wake: make(chan struct{}, 1), freed: make(chan struct{}, 1),
		finCh: make(chan *finishReq), inFlight: make(map[int64]int64),
	}
	if cfg.endpoint != "" {
		ep := cfg.endpoint
		q.endpoint.Store(&ep)
	}
	q.log = cfg.logger.With("schema", cfg.schema)
	return q
}

// Endpoint returns the endpoint name whose events the queue stores and
// runs, or "" before Start when the Endpoint option was not given.
func (q *Queue) Endpoint() string {
	if p := q.endpoint.Load(); p != nil {
		return *p
	}
	return ""
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Enqueue stores e, and returns nil only once PostgreSQL committed it. The
// row is keyed by the event's claim token (a new random one when e has
// none), so that running the same Enqueue again stores nothing more.
//
// With the Inbox's wiring, the same statement also claims the event's
// dedupe key for the token: when another delivery already stored the event
// (or it is done), nothing is stored and Enqueue returns
// driver.ErrDuplicate, so that the receiver acknowledges and observes a
// duplicate; when another delivery holds an admission claim
// of the dedupe Store whose outcome is unknown, it returns an error matching
// receiver.ErrPending (503).
//
// It returns an error matching ErrUnavailable (and driver.ErrQueueFull)
// when PostgreSQL does not commit within the call timeout, one matching
// driver.ErrQueueFull when the endpoint's backlog is at MaxBacklog, the
// caller's context error when ctx ends first, and driver.ErrClosed after
// Shutdown began.
func (q *Queue) Enqueue(ctx context.Context, e *driver.Event) error {
	if q.closing.Load() {
		return driver.ErrClosed
	}
	ep := q.Endpoint()
	if ep == "" {
		return ErrNoEndpoint
	}
	if q.cfg.maxBacklog > 0 && q.backlog.Load() >= int64(q.cfg.maxBacklog) {
		return fmt.Errorf("postgres: backlog at its bound of %d events: %w", q.cfg.maxBacklog, driver.ErrQueueFull)
	}
	if err := checkText(e.Provider, e.ID, e.Type, e.Version, e.Target); err != nil {
		return err
	}
	token := e.ClaimToken
	if token == "" {
		token = rand.Text()
	}
	received, receivedNs := splitTime(e.ReceivedAt)
	body := e.Body
	if body == nil {
		body = []byte{}
	}
	args := []any{ep, e.Provider, e.ID, e.Type, e.Version, received, receivedNs,
		encodeHeader(e.Header), body, nilIfNil(e.Payload), encodeMeta(e.Meta), max(e.Attempt, 1), token, e.Target}
	cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
	defer cancel()
	var err error
	if q.cfg.claimOnEnqueue && e.ID != "" {
		var claimed bool
		var other *int16
		var n int64
		// The event's own dedupe key: a fan-out copy's is its own
		// ("provider:ID target"), so that each copy is claimed apart.
		args = append(args, []byte(e.DedupeKey()), micros(q.cfg.claimLease))
		err = q.pool.QueryRow(cctx, q.sql.enqueueClaim, args...).Scan(&claimed, &other, &n)
		if err == nil && !claimed {
			if other != nil && *other >= 2 {
				return driver.ErrDuplicate // stored by another delivery, or done: nothing stored
			}
			return errPending
		}
	} else {
		_, err = q.pool.Exec(cctx, q.sql.enqueue, args...)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return unavailable(err)
	}
	signal(q.wake)
	q.notifyOthers()
	return nil
}

// notifyOthers sends a NOTIFY naming the endpoint, after the commit and
// outside the request path's statement: PostgreSQL serializes the commits
// of transactions that notify, so a NOTIFY in every Enqueue would cap
// intake at one commit (one WAL flush) at a time. Enqueue calls made while a
// NOTIFY is in flight share the next one: at most one is in flight, and one
// follows it when events were stored meanwhile. The instance's own workers
// are woken at once, without it.
func (q *Queue) notifyOthers() {
	if q.cfg.pollOnly {
		return
	}
	q.notifyPending.Store(true)
	if !q.notifying.CompareAndSwap(false, true) {
		return
	}
	go func() {
		for {
			for q.notifyPending.Swap(false) {
				ctx, cancel := context.WithTimeout(context.Background(), q.cfg.callTimeout)
				_, _ = q.pool.Exec(ctx, q.sql.notify, q.sql.channel, q.Endpoint())
				cancel()
			}
			q.notifying.Store(false)
			// An Enqueue that set the flag after the loop's last check but
			// found a NOTIFY in flight is served here.
			if !q.notifyPending.Load() || !q.notifying.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func nilIfNil(b []byte) any {
	if b == nil {
		return nil
	}
	return []byte(b)
}

// Start begins handing events to p: the endpoint's queued events that are
// due, retries once due, and events whose attempt's lease lapsed (their
// instance died). The queue takes its endpoint name from p unless the
// Endpoint option gave one; a processor of another endpoint is refused with
// an error matching ErrEndpointMismatch. A second Start returns
// driver.ErrStarted.
func (q *Queue) Start(p driver.Processor) error {
	if p == nil {
		panic("postgres: nil processor")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closing.Load():
		return driver.ErrClosed
	case q.started:
		return driver.ErrStarted
	}
	switch ep := q.Endpoint(); {
	case ep == "":
		ep = p.Endpoint()
		if ep == "" {
			return ErrNoEndpoint
		}
		q.endpoint.Store(&ep)
	case p.Endpoint() != ep:
		return fmt.Errorf("%w: queue of endpoint %q started for endpoint %q", ErrEndpointMismatch, ep, p.Endpoint())
	}
	// Attempts left running under this instance's name were cut short by
	// an earlier run of it (names are unique among running instances):
	// queued again at once rather than when their lease lapses.
	rctx, cancel := context.WithTimeout(context.Background(), q.cfg.callTimeout)
	if tag, err := q.pool.Exec(rctx, q.sql.reclaim, q.Endpoint(), q.cfg.instance); err == nil && tag.RowsAffected() > 0 {
		q.log.LogAttrs(rctx, slog.LevelInfo, "events left running by an earlier run of this instance queued again", slog.Int64("events", tag.RowsAffected()))
	}
	cancel()
	q.started = true
	q.proc = p
	loopCtx, stop := context.WithCancel(context.Background())
	q.procCtx, q.abort = context.WithCancel(context.Background())
	q.finCtx, q.finQuit = context.WithCancel(context.Background())
	q.stop = stop
	q.loops.Go(func() { q.fetchLoop(loopCtx) })
	q.loops.Go(func() { q.maintenanceLoop(loopCtx) })
	if !q.cfg.pollOnly {
		q.loops.Go(func() { q.listenLoop(loopCtx) })
	}
	q.helpers.Go(func() { q.finisher(q.finCtx) })
	q.helpers.Go(func() { q.heartbeatLoop(q.finCtx) })
	return nil
}

// Shutdown stops intake (Enqueue returns driver.ErrClosed from now on) and
// claiming, and waits for the attempts in flight until ctx is done. If ctx
// ends first it cancels their contexts, waits a moment for them to return,
// and returns a *driver.ShutdownError wrapping ctx.Err(). Events not
// finished stay in the table and are run again, by another instance once
// their lease lapses, or by any instance after a restart: nothing is lost.
// A second call returns driver.ErrClosed. The pool is not closed.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	if q.closing.Load() {
		q.mu.Unlock()
		return driver.ErrClosed
	}
	q.closing.Store(true)
	started := q.started
	q.mu.Unlock()
	if !started {
		return nil
	}
	q.stop()
	q.loops.Wait()
	done := make(chan struct{})
	go func() { q.work.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		q.abort()
		select {
		case <-done:
		case <-time.After(shutdownGrace):
		}
		q.flightMu.Lock()
		running := q.running
		q.flightMu.Unlock()
		err = &driver.ShutdownError{Unfinished: running, Running: running, Err: ctx.Err()}
	}
	q.finQuit()
	q.helpers.Wait()
	q.abort()
	return err
}

// Stats reports the endpoint's events queued, waiting for a retry or
// running (Depth), and how long the oldest due event has waited to start.
func (q *Queue) Stats(ctx context.Context) (driver.Stats, error) {
	ep := q.Endpoint()
	if ep == "" {
		return driver.Stats{}, ErrNoEndpoint
	}
	cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
	defer cancel()
	var depth, oldest int64
	if err := q.pool.QueryRow(cctx, q.sql.stats, ep).Scan(&depth, &oldest); err != nil {
		return driver.Stats{}, fmt.Errorf("postgres: stats: %w", err)
	}
	return driver.Stats{Depth: int(depth), OldestAge: time.Duration(oldest) * time.Microsecond}, nil
}

// job is one claimed attempt.
type job struct {
	seq, lock int64
	event     *driver.Event
	err       error // the row could not be decoded
	held      bool  // the claim statement confirmed the event's dedupe claim for its token
}

func randomLock() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1)
}

// claim takes up to n due events of the endpoint.
func (q *Queue) claim(ctx context.Context, n int) ([]job, error) {
	cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
	defer cancel()
	lock := randomLock()
	rows, err := q.pool.Query(cctx, q.sql.claim, q.Endpoint(), n, lock, q.cfg.instance, micros(q.cfg.visibility), micros(q.cfg.claimLease))
	if err != nil {
		return nil, err
	}
	var jobs []job
	for rows.Next() {
		var (
			seq                    int64
			r                      storedEvent
			header, meta, payload  []byte
			receivedAt             *time.Time
			receivedNs, attempt    int32
			provider, id, typ, ver string
			token, target          string
			body                   []byte
			held                   bool
		)
		if err := rows.Scan(&seq, &provider, &id, &typ, &ver, &receivedAt, &receivedNs, &header, &body, &payload, &meta, &attempt, &token, &target, &held); err != nil {
			rows.Close()
			return jobs, err
		}
		r = storedEvent{provider: provider, id: id, typ: typ, version: ver, receivedAt: receivedAt, receivedNs: receivedNs,
			header: header, body: body, payload: payload, meta: meta, attempt: attempt, token: token, target: target}
		e, derr := r.event()
		jobs = append(jobs, job{seq: seq, lock: lock, event: e, err: derr, held: held && q.cfg.claimOnEnqueue})
	}
	return jobs, rows.Err()
}

// storedEvent is an event's columns.
type storedEvent struct {
	provider, id, typ, version string
	receivedAt                 *time.Time
	receivedNs, attempt        int32
	header, body, payload      []byte
	meta                       []byte
	token                      string
	target                     string // Event.Target
}

func (r storedEvent) event() (*driver.Event, error) {
	e := &driver.Event{
		Provider: r.provider, ID: r.id, Type: r.typ, Version: r.version,
		ReceivedAt: joinTime(r.receivedAt, r.receivedNs), Body: r.body, Attempt: int(r.attempt), ClaimToken: r.token,
		Target: r.target,
	}
	if e.Body == nil {
		e.Body = []byte{}
	}
	if r.payload != nil {
		e.Payload = r.payload
	}
	var err1, err2 error
	e.Header, err1 = decodeHeader(r.header)
	e.Meta, err2 = decodeMeta(r.meta)
	return e, errors.Join(err1, err2)
}

// free returns how many more attempts may start.
func (q *Queue) free() int {
	q.flightMu.Lock()
	defer q.flightMu.Unlock()
	return q.cfg.workers - q.running
}

func (q *Queue) fetchLoop(ctx context.Context) {
	tick := time.NewTicker(q.cfg.pollInterval)
	defer tick.Stop()
	failures := 0
	// After a worker frees up, claiming waits until a quarter of the batch
	// is free (or a notification or the poll comes), so that a busy queue
	// claims several events per statement rather than one per freed worker.
	threshold := max(1, q.cfg.batch/4)
	eager := true
	for ctx.Err() == nil {
		n := min(q.free(), q.cfg.batch)
		if n > 0 && (eager || n >= threshold) {
			jobs, err := q.claim(ctx, n)
			for _, j := range jobs {
				q.dispatch(j)
			}
			if err != nil && ctx.Err() == nil {
				failures++
				if failures == 1 || failures%100 == 0 {
					q.log.LogAttrs(ctx, slog.LevelWarn, "claiming events failed; retrying", slog.Int("failures", failures), slog.Any("error", err))
				}
				sleep(ctx, backoff(failures))
				continue
			}
			failures = 0
			if len(jobs) == n {
				eager = true
				continue // there may be more
			}
		}
		var freed chan struct{}
		if n < q.cfg.batch {
			freed = q.freed
		}
		eager = false
		select {
		case <-ctx.Done():
		case <-q.wake:
			eager = true
		case <-freed:
		case <-tick.C:
			eager = true
		}
	}
}

func backoff(failures int) time.Duration {
	d := 50 * time.Millisecond << min(failures-1, 5)
	return min(d, time.Second)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (q *Queue) dispatch(j job) {
	q.flightMu.Lock()
	q.running++
	q.inFlight[j.seq] = j.lock
	q.flightMu.Unlock()
	q.work.Go(func() { q.run(j) })
}

// attemptKey carries the running attempt in the context given to the
// processor, for TxHandler and CompleteTx.
type attemptKey struct{}

type attempt struct {
	q         *Queue
	seq, lock int64
	event     *driver.Event
	held      atomic.Bool            // the claim confirmed the dedupe claim: the receiver's Confirm is answered true once
	complete  atomic.Int64           // the retention (µs) of a dedupe completion deferred to the finishing statement; 0: none
	leave     atomic.Pointer[string] // the ordering line the event leaves in the finishing statement (OrderStore.Leave deferred)
}

// attemptOf returns the attempt ctx belongs to, if it is one of this
// package's queues' and its event's dedupe key (Event.DedupeKey: a fan-out
// copy's own) is key, held by token.
func attemptOf(ctx context.Context, key, token string) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	if a == nil || token == "" || a.event.ClaimToken != token || a.event.ID == "" || a.event.DedupeKey() != key {
		return nil
	}
	return a
}

func (q *Queue) run(j job) {
	defer func() {
		q.flightMu.Lock()
		q.running--
		delete(q.inFlight, j.seq)
		q.flightMu.Unlock()
		signal(q.freed)
	}()
	a := &attempt{q: q, seq: j.seq, lock: j.lock, event: j.event}
	a.held.Store(j.held)
	ctx := context.WithValue(q.procCtx, attemptKey{}, a)
	if j.err != nil {
		q.log.LogAttrs(ctx, slog.LevelError, "stored event cannot be read; dead-lettering it", slog.Int64("seq", j.seq), slog.Any("error", j.err))
		q.proc.Abandon(ctx, j.event, j.err)
		q.finish(a, "dead", j.err, 0, false)
		return
	}
	res := q.proc.Process(ctx, j.event)
	switch {
	case res.Retry: // KeepAttempt: deferred, the attempt is not used up
		q.finish(a, "queued", res.Err, max(res.Delay, 0), res.KeepAttempt)
	case res.Err != nil:
		q.finish(a, "dead", res.Err, 0, false)
	default:
		q.finish(a, "done", nil, 0, false)
	}
}

// finishReq is one attempt's outcome for the finisher.
type finishReq struct {
	seq, lock int64
	state     string
	err       *string
	delay     int64  // microseconds, for "queued"
	keep      bool   // "queued" with the attempt count unchanged (a deferral)
	key       []byte // the dedupe key to mark done, when retention > 0
	token     string
	retention int64   // microseconds
	line      *string // the ordering line to leave, for token
	done      chan struct{}
}

// finish records an attempt's outcome, fenced by its lock id (an attempt
// whose lease lapsed and whose event another instance took records
// nothing), through the finisher, which records many outcomes in one
// statement. It returns once the outcome is recorded, or the queue gave up
// (a Shutdown past its deadline): the event then stays running until its
// lease lapses, and is run again.
// keep leaves the attempt count of a "queued" event unchanged (a deferral).
func (q *Queue) finish(a *attempt, state string, err error, delay time.Duration, keep bool) {
	r := &finishReq{seq: a.seq, lock: a.lock, state: state, delay: micros(delay), keep: keep, done: make(chan struct{})}
	if ret := a.complete.Load(); ret > 0 {
		r.key, r.retention = []byte(a.event.DedupeKey()), ret
	}
	r.token, r.line = a.event.ClaimToken, a.leave.Load()
	if err != nil {
		s := errorText(err)
		r.err = &s
	}
	select {
	case q.finCh <- r:
	case <-q.finCtx.Done():
		return
	}
	select {
	case <-r.done:
	case <-q.finCtx.Done():
	}
}

func (q *Queue) finisher(ctx context.Context) {
	var batch []*finishReq
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case r := <-q.finCh:
			batch = append(batch, r)
		}
	gather:
		for len(batch) < finishBatch {
			select {
			case r := <-q.finCh:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		seqs, locks := make([]int64, len(batch)), make([]int64, len(batch))
		states, errs, delays := make([]string, len(batch)), make([]*string, len(batch)), make([]int64, len(batch))
		keeps := make([]bool, len(batch))
		keys, tokens, rets := [][]byte{}, []string{}, []int64{}
		lines, lineTokens := []string{}, []string{}
		seen := map[string]bool{}
		for i, r := range batch {
			seqs[i], locks[i], states[i], errs[i], delays[i], keeps[i] = r.seq, r.lock, r.state, r.err, r.delay, r.keep
			if r.line != nil {
				lines, lineTokens = append(lines, *r.line), append(lineTokens, r.token)
			}
			// One completion per key a statement (ON CONFLICT … DO UPDATE
			// may not touch a row twice); a second one of the same key in a
			// batch would be another copy's, which the first settles.
			if r.retention > 0 && !seen[string(r.key)] {
				seen[string(r.key)] = true
				keys, tokens, rets = append(keys, r.key), append(tokens, r.token), append(rets, r.retention)
			}
		}
		sortCompletions(keys, tokens, rets)
		for failures := 1; ; failures++ {
			cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
			_, err := q.pool.Exec(cctx, q.sql.finish, seqs, locks, states, errs, delays, keys, tokens, rets, keeps, lines, lineTokens)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			if failures == 1 || failures%100 == 0 {
				q.log.LogAttrs(ctx, slog.LevelWarn, "recording outcomes failed; retrying", slog.Int("events", len(batch)), slog.Any("error", err))
			}
			sleep(ctx, backoff(failures))
		}
		for _, r := range batch {
			close(r.done)
		}
	}
}

// sortCompletions orders the dedupe completions of a batch by key, so that
// two instances completing copies of the same events lock their dedupe rows
// in the same order (and cannot deadlock each other).
func sortCompletions(keys [][]byte, tokens []string, rets []int64) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return bytes.Compare(keys[idx[a]], keys[idx[b]]) < 0 })
	k, t, r := slices.Clone(keys), slices.Clone(tokens), slices.Clone(rets)
	for i, j := range idx {
		keys[i], tokens[i], rets[i] = k[j], t[j], r[j]
	}
}

// heartbeatLoop renews the leases of the attempts running here every third
// of the visibility timeout.
func (q *Queue) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(q.cfg.visibility / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q.flightMu.Lock()
		seqs, locks := make([]int64, 0, len(q.inFlight)), make([]int64, 0, len(q.inFlight))
		for s, l := range q.inFlight {
			seqs, locks = append(seqs, s), append(locks, l)
		}
		q.flightMu.Unlock()
		if len(seqs) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
		_, err := q.pool.Exec(cctx, q.sql.heartbeat, seqs, locks, micros(q.cfg.visibility))
		cancel()
		if err != nil && ctx.Err() == nil {
			q.log.LogAttrs(ctx, slog.LevelWarn, "renewing leases failed", slog.Int("events", len(seqs)), slog.Any("error", err))
		}
	}
}

// maintenanceLoop, every poll interval, puts events whose lease lapsed back
// in the queue and refreshes the backlog count; every cleanup interval it
// deletes history past its retention and expired dedupe marks.
func (q *Queue) maintenanceLoop(ctx context.Context) {
	t := time.NewTicker(q.cfg.pollInterval)
	defer t.Stop()
	var lastCleanup time.Time
	for {
		cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
		tag, err := q.pool.Exec(cctx, q.sql.rescue)
		if err == nil && tag.RowsAffected() > 0 {
			q.log.LogAttrs(ctx, slog.LevelInfo, "events whose lease lapsed queued again", slog.Int64("events", tag.RowsAffected()))
			signal(q.wake)
		}
		var n int64
		if err := q.pool.QueryRow(cctx, q.sql.backlog, q.Endpoint()).Scan(&n); err == nil {
			q.backlog.Store(n)
		}
		cancel()
		if q.cfg.cleanupEvery > 0 && time.Since(lastCleanup) >= q.cfg.cleanupEvery {
			lastCleanup = time.Now()
			if _, err := cleanup(ctx, q.pool, q.cfg); err != nil && ctx.Err() == nil {
				q.log.LogAttrs(ctx, slog.LevelWarn, "history cleanup failed", slog.Any("error", err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// listenLoop holds a connection listening on the schema's channel and wakes
// the fetcher for each notification naming the endpoint, reconnecting after
// a failure (and fetching once then, for notifications missed meanwhile).
func (q *Queue) listenLoop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		err := q.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		failures++
		if failures == 1 || failures%100 == 0 {
			q.log.LogAttrs(ctx, slog.LevelWarn, "listening for notifications failed; polling meanwhile", slog.Any("error", err))
		}
		sleep(ctx, backoff(failures))
	}
}

func (q *Queue) listen(ctx context.Context) error {
	conn, err := q.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	c := conn.Hijack() // never returned to the pool: it is left listening
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{q.sql.channel}.Sanitize()); err != nil {
		return err
	}
	signal(q.wake)
	ep := q.Endpoint()
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == ep {
			signal(q.wake)
		}
	}
}
