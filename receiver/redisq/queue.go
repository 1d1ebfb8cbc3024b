package redisq

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/internal/redisclaim"
	"github.com/hookwise/hookwise/receiver/driver"
)

// ErrUnavailable matches the error Enqueue returns when Redis did not accept
// the event within the call timeout (down, slow, or refusing writes). It also
// matches driver.ErrQueueFull, so the receiver answers 503 with
// Retry-After and the sender retries later.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string        { return "redisq: redis unavailable" }
func (unavailableError) Is(target error) bool { return target == driver.ErrQueueFull }

// unavailable wraps a Redis error so that it matches ErrUnavailable.
func unavailable(err error) error { return fmt.Errorf("%w: %w", ErrUnavailable, err) }

// ErrOtherEndpoint is returned by Start when the stream already serves
// another endpoint: each receiver (each endpoint) needs a stream of its own,
// or one endpoint's events would reach another's handlers. Replicas of one
// endpoint share its stream.
var ErrOtherEndpoint = errors.New("redisq: stream serves another endpoint")

// moveBatch is the most retries one call of the mover moves.
const moveBatch = 100

// Queue is a driver.Queue on a Redis stream. Create it with New.
type Queue struct {
	rdb      redis.UniversalClient
	batch    *redisbatch.Batcher // Enqueue's and the workers' commands
	cfg      config
	log      *slog.Logger
	stream   string
	delayed  string
	enqueued string        // prefix of the idempotency keys of Enqueue
	owner    string        // the endpoint the stream serves
	idemTTL  time.Duration // their lifetime

	mu       sync.Mutex
	started  bool
	closing  atomic.Bool // set under mu; read without it by Enqueue
	proc     driver.Processor
	stop     context.CancelFunc // stops reading, claiming and moving
	abort    context.CancelFunc // cancels Process contexts
	procCtx  context.Context
	loops    sync.WaitGroup // reader, claimer, mover
	work     sync.WaitGroup // Process calls
	beat     sync.WaitGroup // heartbeat
	stopBeat context.CancelFunc
	slots    slots // free workers plus free room to read ahead

	finMu sync.Mutex // guards fin.queue and fin.closed
	fin   finisher
	// mergeLater: the client is one node's, whose script calls may hold
	// keys of any slot, so the deferred dedupe calls of a batch merge.
	mergeLater bool
	// claimKey, set by ClaimFor, names the dedupe store's Redis key of a
	// dedupe key: Enqueue claims it (for admission, in milliseconds), and
	// the reader confirms it (for lease) before a worker takes the entry.
	claimKey         func(string) string
	admission, lease int64

	flightMu sync.Mutex
	inFlight map[string]struct{} // entries being processed or ready
	ready    []readEntry         // entries read, waiting for a worker
	workers  int                 // worker goroutines running
}

var _ driver.ClaimingQueue = (*Queue)(nil)

// New returns a Queue on client, which the caller owns and closes after
// Shutdown. Nothing is sent to Redis until Enqueue or Start.
func New(client redis.UniversalClient, opts ...Option) *Queue {
	if client == nil {
		panic("redisq: nil client")
	}
	cfg := newConfig(opts)
	_, single := client.(*redis.Client)
	return &Queue{
		mergeLater: single,
		rdb:        client,
		cfg:        cfg,
		log:        cfg.logger.With("stream", cfg.stream, "consumer", cfg.consumer),
		stream:     cfg.stream,
		delayed:    companion(cfg.stream, "delayed"),
		enqueued:   companion(cfg.stream, "enq:"),
		owner:      companion(cfg.stream, "endpoint"),
		idemTTL:    max(10*cfg.callTimeout, 10*time.Second),
		batch:      redisbatch.Shared(client, cfg.callTimeout),
		slots:      newSlots(cfg.workers+cfg.prefetch, cfg.prefetch),
		inFlight:   make(map[string]struct{}),
		fin:        newFinisher(),
	}
}

// Enqueue adds e to the stream and returns nil only once Redis accepted it.
// The entry is added by a script keyed by the event's claim token (a new
// random one when e has none), so that a command go-redis re-sends after a
// broken connection cannot add the event twice. Concurrent calls share round
// trips: a call sent while another is in flight goes out with the others
// queued meanwhile, in one pipeline. It returns an error matching
// ErrUnavailable (and driver.ErrQueueFull) when Redis does not answer
// within the call timeout, one matching driver.ErrQueueFull when the
// backlog (entries plus scheduled retries) is at MaxLen, the caller's context
// error when ctx ends first, and driver.ErrClosed after Shutdown began. An
// error does not prove the entry was not written (a reply can be lost after
// the write); the receiver then answers 503 and releases its claim if it is
// still admitted, and the event may be handled although the sender was told
// to retry (its retry is then a duplicate).
//
// Once ClaimFor agreed, the same script also claims the dedupe key of an
// event with an ID, and adds the entry only if the claim was taken: it
// returns driver.ErrDuplicate when another delivery's claim of the key is
// confirmed or the key is done, and an error matching driver.ErrPending when
// another delivery admitted it. The claim, taken in the step that adds the
// entry, is then the call's idempotency key: a re-sent call finds the key
// held by its own token and adds nothing.
func (q *Queue) Enqueue(ctx context.Context, e *driver.Event) error {
	if q.closing.Load() {
		return driver.ErrClosed
	}
	token := e.ClaimToken
	if token == "" {
		token = rand.Text()
	}
	encodeAs := encode
	if q.cfg.format == 1 {
		encodeAs = encodeV1
	}
	fields, err := encodeAs(e)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
	defer cancel()
	script := enqueueScript
	keys := []string{q.stream, q.delayed, q.enqueued + token}
	args := append(make([]any, 0, 3+len(fields)), q.cfg.maxLen, q.idemTTL.Milliseconds())
	if q.claimKey != nil && e.ID != "" && e.ClaimToken != "" {
		script = enqueueClaimScript
		keys[2] = q.claimKey(e.DedupeKey())
		args[1] = token
		args = append(args, q.admission)
	}
	res, err := script.Run(cctx, q.batch.Do, q.rdb.Process, keys, append(args, fields...)...).Result()
	switch n, isInt := res.(int64); {
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("redisq: backlog at max length: %w", driver.ErrQueueFull)
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return unavailable(err)
	case isInt && n == claimHeld:
		return nil
	case isInt && n == claimDuplicate:
		return driver.ErrDuplicate
	case isInt:
		return errPending
	}
	return nil
}

// errPending is Enqueue's error when another delivery admitted the event's
// dedupe key.
var errPending = fmt.Errorf("redisq: %w", driver.ErrPending)

// ClaimFor implements driver.ClaimingQueue: it agrees when store is a
// dedupe.Redis on the queue's own client and that client is one server's
// (*redis.Client), so that one script may touch the stream and a dedupe key
// of any hash slot. On Redis Cluster, the receiver claims keys itself, in a
// round trip of its own. It must be called before Start.
//
// Once it agreed, the reader also confirms the claims of the entries it
// reads for the lease, in one script per read, before the workers take them;
// the store then answers an attempt's Confirm of its own claim without a
// call (see dedupe.Redis).
func (q *Queue) ClaimFor(store any, admission, lease time.Duration) bool {
	st, ok := redisclaim.Of(store)
	if !ok || !q.mergeLater || st.Client != any(q.rdb) || admission <= 0 || lease <= 0 {
		return false
	}
	q.claimKey = st.Key
	q.admission, q.lease = ceilMs(admission), ceilMs(lease)
	return true
}

// ceilMs returns d in whole milliseconds, rounded up.
func ceilMs(d time.Duration) int64 { return (d + time.Millisecond - 1).Milliseconds() }

// Start creates the consumer group if needed and begins handing entries to
// p: first the entries left pending on this consumer's name by an earlier
// run, then new ones, retries once due, and entries reclaimed from crashed
// consumers. It fails if Redis cannot create the group.
func (q *Queue) Start(p driver.Processor) error {
	if p == nil {
		panic("redisq: nil processor")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closing.Load():
		return driver.ErrClosed
	case q.started:
		return driver.ErrStarted
	}
	if err := q.createGroup(context.Background(), p.Endpoint()); err != nil {
		return err
	}
	q.started = true
	q.proc = p
	loopCtx, stop := context.WithCancel(context.Background())
	procCtx, abort := context.WithCancel(context.Background())
	q.stop, q.abort, q.procCtx = stop, abort, procCtx
	q.loops.Go(func() { q.readLoop(loopCtx) })
	go q.finishLoop()
	q.loops.Go(func() { q.moveLoop(loopCtx) })
	beatCtx, stopBeat := context.WithCancel(context.Background())
	q.beat.Go(func() { q.heartbeatLoop(beatCtx) })
	// The heartbeat outlives the loops: it stops once the work is done.
	q.stopBeat = stopBeat
	return nil
}

// Shutdown stops reading new entries (Enqueue returns driver.ErrClosed from
// now on) and waits for the Process calls in flight until ctx is done. If ctx
// ends first it cancels their contexts and returns ctx.Err(); the entries they
// held stay pending in Redis and are processed again, by another instance
// after the visibility timeout or by this consumer name after a restart.
// Nothing is lost either way: the stream and the delayed set keep every entry
// not acknowledged. Handlers that ignore the cancellation keep running after
// Shutdown returned. A second call returns driver.ErrClosed. The client is
// not closed.
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
	q.loops.Wait() // bounded by the poll interval plus the call timeout
	done := make(chan struct{})
	go func() { q.work.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		q.abort()
		err = ctx.Err()
	}
	q.stopFinisher()
	q.stopBeat()
	q.beat.Wait()
	q.abort()
	return err
}

// Stats returns the backlog (driver.StatsReader) of the stream, shared by
// every replica: Depth counts the entries not yet done (waiting, running,
// and scheduled for a retry); OldestAge is the age of the oldest entry not
// yet delivered to a consumer, or read ahead by this instance and not
// started yet (Prefetch), read from its stream ID (the Redis server's clock).
// Entries other instances read ahead are not seen.
func (q *Queue) Stats(ctx context.Context) (driver.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
	defer cancel()
	var xlen, zcard *redis.IntCmd
	var groups *redis.XInfoGroupsCmd
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		xlen = p.XLen(ctx, q.stream)
		zcard = p.ZCard(ctx, q.delayed)
		groups = p.XInfoGroups(ctx, q.stream)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) && !strings.Contains(err.Error(), "no such key") {
		return driver.Stats{}, unavailable(err)
	}
	st := driver.Stats{Depth: int(xlen.Val() + zcard.Val())}
	last := "0-0"
	for _, g := range groups.Val() {
		if g.Name == q.cfg.group {
			last = g.LastDeliveredID
		}
	}
	next, err := q.rdb.XRangeN(ctx, q.stream, "("+last, "+", 1).Result()
	if err != nil {
		return driver.Stats{}, unavailable(err)
	}
	oldest := int64(-1) // ms of the oldest entry waiting to start
	if len(next) == 1 {
		oldest = idMillis(next[0].ID)
	}
	q.flightMu.Lock()
	for _, en := range q.ready {
		if ms := idMillis(en.m.ID); ms >= 0 && (oldest < 0 || ms < oldest) {
			oldest = ms
		}
	}
	q.flightMu.Unlock()
	if oldest >= 0 {
		st.OldestAge = max(time.Since(time.UnixMilli(oldest)), 0)
	}
	return st, nil
}

// idMillis returns the milliseconds part of a stream entry ID, or -1.
func idMillis(id string) int64 {
	ms, _, _ := strings.Cut(id, "-")
	t, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || t < 0 {
		return -1
	}
	return t
}
