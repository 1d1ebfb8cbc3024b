package redisq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/internal/redisscript"
	"github.com/hookwise/hookwise/internal/textcut"
	"github.com/hookwise/hookwise/receiver/driver"
)

// createGroup creates the consumer group, and the stream with it, reading
// from the start of the stream so that entries enqueued before the first
// Start are delivered. An existing group is left as it is.
func (q *Queue) createGroup(ctx context.Context, endpoint string) error {
	cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
	defer cancel()
	// The stream records the endpoint it serves on first Start; another
	// endpoint's receiver is refused.
	if err := q.rdb.SetNX(cctx, q.owner, endpoint, 0).Err(); err != nil {
		return unavailable(err)
	}
	owner, err := q.rdb.Get(cctx, q.owner).Result()
	if err != nil {
		return unavailable(err)
	}
	if owner != endpoint {
		return fmt.Errorf("%w: stream %q serves endpoint %q, not %q; give each receiver its own stream (redisq.Stream)",
			ErrOtherEndpoint, q.stream, textcut.Cut(owner, 64), textcut.Cut(endpoint, 64))
	}
	err = q.rdb.XGroupCreateMkStream(cctx, q.stream, q.cfg.group, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return unavailable(err)
	}
	return nil
}

// slots counts the entries the reader may still fetch: free workers plus the
// free room to read ahead. Only the reader takes them, all at once, so a
// read costs O(1) whatever the number of workers; workers give theirs back
// one at a time.
type slots struct {
	mu   sync.Mutex
	free int
	// want is how many free slots the reader waits for: 1, or the read-ahead
	// room, so that while the workers run what was read ahead, the reader
	// waits until one read can fetch as many entries as that again.
	want int
	wake chan struct{} // holds a value once free reached want
}

func newSlots(total, want int) slots {
	return slots{free: total, want: max(want, 1), wake: make(chan struct{}, 1)}
}

// acquire takes every free slot, waiting until at least slots.want are
// free. It returns how many it took, 0 once ctx is done.
func (q *Queue) acquire(ctx context.Context) int {
	s := &q.slots
	for {
		s.mu.Lock()
		n := s.free
		if n >= s.want {
			s.free = 0
		}
		s.mu.Unlock()
		if n >= s.want {
			return n
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return 0
		}
	}
}

// release gives back n slots.
func (q *Queue) release(n int) {
	if n <= 0 {
		return
	}
	s := &q.slots
	s.mu.Lock()
	s.free += n
	enough := s.free >= s.want
	s.mu.Unlock()
	if enough {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// backoff waits d, or less if ctx ends, and returns the next wait.
func backoff(ctx context.Context, d time.Duration) time.Duration {
	return backoffUpTo(ctx, d, 2*time.Second)
}

// backoffUpTo waits d, or less if ctx ends, and returns the next wait: twice
// d, at most ceiling.
func backoffUpTo(ctx context.Context, d, ceiling time.Duration) time.Duration {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return min(2*d, ceiling)
}

// readLoop fetches entries for free workers: first those pending on this
// consumer from an earlier run (history, from ID 0), then new ones, and
// every claim interval those abandoned by crashed consumers.
func (q *Queue) readLoop(ctx context.Context) {
	cursor := "0" // "" once the history is read
	claimCursor, lastClaim := "0-0", time.Now()
	wait := q.cfg.poll
	for {
		n := q.acquire(ctx)
		if n == 0 {
			return
		}
		if cursor == "" && (claimCursor != "0-0" || time.Since(lastClaim) >= q.cfg.claimInterval) {
			if claimCursor == "0-0" {
				lastClaim = time.Now()
			}
			got, err := q.claim(ctx, n, &claimCursor)
			if err != nil && ctx.Err() == nil {
				q.log.Warn("redisq: claim failed", "error", err)
			}
			if got > 0 {
				q.release(n - got)
				continue
			}
		}
		id := ">"
		if cursor != "" {
			id = cursor
		}
		rctx, cancel := context.WithTimeout(ctx, q.cfg.poll+q.cfg.callTimeout)
		res, err := q.rdb.XReadGroup(rctx, &redis.XReadGroupArgs{
			Group:    q.cfg.group,
			Consumer: q.cfg.consumer,
			Streams:  []string{q.stream, id},
			Count:    int64(n),
			Block:    q.cfg.poll,
		}).Result()
		cancel()
		var msgs []redis.XMessage
		if len(res) > 0 {
			msgs = res[0].Messages
		}
		switch {
		case err == nil || errors.Is(err, redis.Nil):
			wait = q.cfg.poll
		case ctx.Err() != nil:
			// Shutting down; entries delivered by a cut-short read stay
			// pending on this consumer and are read again by its next run.
		default:
			q.release(n)
			q.log.Warn("redisq: read failed", "error", err)
			// The reply may have been lost after Redis delivered entries to
			// this consumer: read its pending entries again before new ones.
			cursor = "0"
			if strings.Contains(err.Error(), "NOGROUP") {
				// The stream was deleted (or Redis lost it): create it again.
				if gerr := q.createGroup(ctx, q.proc.Endpoint()); gerr != nil {
					q.log.Warn("redisq: create group failed", "error", gerr)
				}
			}
			wait = backoff(ctx, wait)
			continue
		}
		if cursor != "" && err == nil {
			if len(msgs) == 0 {
				cursor = ""
			} else {
				cursor = msgs[len(msgs)-1].ID
			}
		}
		q.release(n - len(msgs))
		for _, en := range q.confirmAhead(ctx, msgs) {
			q.dispatch(en)
		}
		if ctx.Err() != nil {
			return
		}
		if len(msgs) > 0 && len(msgs) < n && cursor == "" {
			// The stream was drained: let new entries gather for a moment,
			// so that under load one read fetches many of them instead of
			// each read fetching the one or two enqueued meanwhile.
			linger(ctx, min(readLinger, q.cfg.poll))
		}
	}
}

// readLinger is how long the reader waits after a read that drained the
// stream before it reads again.
const readLinger = time.Millisecond

// linger waits d, or less if ctx ends.
func linger(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// claim takes over, with the n worker tokens the caller holds, one page of
// the entries pending on any consumer for longer than the visibility
// timeout, from *cursor on. It returns how many it dispatched, and sets
// *cursor to "0-0" once the whole pending list was scanned.
func (q *Queue) claim(ctx context.Context, n int, cursor *string) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
	msgs, next, err := q.rdb.XAutoClaim(cctx, &redis.XAutoClaimArgs{
		Stream:   q.stream,
		Group:    q.cfg.group,
		Consumer: q.cfg.consumer,
		MinIdle:  q.cfg.visibility,
		Start:    *cursor,
		Count:    int64(n),
	}).Result()
	cancel()
	if err != nil {
		*cursor = "0-0"
		return 0, err
	}
	if next == "" {
		next = "0-0"
	}
	*cursor = next
	for _, m := range msgs {
		q.log.Info("redisq: reclaimed entry", "entry", m.ID)
	}
	for _, en := range q.confirmAhead(ctx, msgs) {
		q.dispatch(en)
	}
	return len(msgs), nil
}

// moveLoop moves due retries back to the stream every poll interval.
func (q *Queue) moveLoop(ctx context.Context) {
	t := time.NewTicker(q.cfg.poll)
	defer t.Stop()
	wait := q.cfg.poll
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
			res, err := moveScript.Run(cctx, nil, q.rdb.Process, []string{q.stream, q.delayed}, moveBatch).Int64Slice()
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					q.log.Warn("redisq: moving due retries failed", "error", err)
					wait = backoff(ctx, wait) // do not flood the log while Redis is down
				}
				break
			}
			wait = q.cfg.poll
			if len(res) == 2 && res[1] > 0 {
				q.log.Error("redisq: dropped unreadable delayed entries", "count", res[1])
			}
			if len(res) != 2 || res[0]+res[1] < moveBatch {
				break
			}
		}
	}
}

// heartbeatLoop resets the idle time of the entries being processed every
// third of the visibility timeout, so that no other consumer reclaims an
// entry whose handler is merely slow.
func (q *Queue) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(max(q.cfg.visibility/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q.flightMu.Lock()
		ids := make([]string, 0, len(q.inFlight))
		for id := range q.inFlight {
			ids = append(ids, id)
		}
		q.flightMu.Unlock()
		if len(ids) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
		err := q.rdb.XClaimJustID(cctx, &redis.XClaimArgs{
			Stream:   q.stream,
			Group:    q.cfg.group,
			Consumer: q.cfg.consumer,
			MinIdle:  0,
			Messages: ids,
		}).Err()
		cancel()
		if err != nil && ctx.Err() == nil {
			q.log.Warn("redisq: heartbeat failed", "error", err, "entries", len(ids))
		}
	}
}

// dispatch hands m to a worker, once one is free; the caller holds a slot
// for it. An entry this queue is already processing (reclaimed after a
// missed heartbeat) is not started twice.
func (q *Queue) dispatch(en readEntry) {
	q.flightMu.Lock()
	if _, busy := q.inFlight[en.m.ID]; busy {
		q.flightMu.Unlock()
		q.release(1)
		return
	}
	q.inFlight[en.m.ID] = struct{}{}
	q.ready = append(q.ready, en)
	spawn := q.workers < q.cfg.workers
	if spawn {
		q.workers++
	}
	q.flightMu.Unlock()
	if spawn {
		q.work.Go(q.worker)
	}
}

// readEntry is a stream entry read for a worker.
type readEntry struct {
	m    redis.XMessage
	e    *driver.Event // decoded by the reader (nil: the worker decodes it)
	err  error         // decode's error
	held bool          // the reader confirmed e's dedupe claim for its token
}

// confirmAhead returns msgs as entries. When the queue claims keys
// (ClaimFor), it decodes them and confirms, in one script call shared with
// the other pipelines, the dedupe claims of those with an ID and a claim
// token, so that their attempts need no Confirm call. A failed call confirms
// nothing: each attempt then confirms its own claim, as it would anyway.
func (q *Queue) confirmAhead(ctx context.Context, msgs []redis.XMessage) []readEntry {
	ens := make([]readEntry, len(msgs))
	var keys []string
	var args []any
	var at []int // ens index of each key
	for i, m := range msgs {
		ens[i].m = m
		if q.claimKey == nil || len(m.Values) == 0 {
			continue
		}
		e, err := decode(m.Values)
		ens[i].e, ens[i].err = e, err
		if err == nil && e.ID != "" && e.ClaimToken != "" {
			keys = append(keys, q.claimKey(e.DedupeKey()))
			args = append(args, e.ClaimToken, q.lease)
			at = append(at, i)
		}
	}
	if len(keys) == 0 {
		return ens
	}
	cctx, cancel := context.WithTimeout(ctx, q.cfg.callTimeout)
	defer cancel()
	res, err := confirmAheadScript.Run(cctx, q.batch.Do, q.rdb.Process, keys, args...).Int64Slice()
	if err != nil || len(res) != len(keys) {
		if ctx.Err() == nil {
			q.log.Debug("redisq: claims not confirmed ahead; each attempt confirms its own", "error", err)
		}
		return ens
	}
	for j, i := range at {
		ens[i].held = res[j] == 1
	}
	return ens
}

// worker handles ready entries one after the other until none is left, so
// that a busy worker keeps its goroutine, and the stack it grew, from one
// entry to the next. Once Shutdown cancels the processing context it stops:
// the entries still ready were read ahead and never started, and they stay
// pending.
func (q *Queue) worker() {
	for {
		q.flightMu.Lock()
		if len(q.ready) == 0 || q.procCtx.Err() != nil {
			q.workers--
			q.flightMu.Unlock()
			return
		}
		en := q.ready[0]
		q.ready[0] = readEntry{}
		q.ready = q.ready[1:]
		q.flightMu.Unlock()

		if q.handle(en) {
			continue // the finisher releases the entry
		}
		q.flightMu.Lock()
		delete(q.inFlight, en.m.ID)
		q.flightMu.Unlock()
		q.release(1)
	}
}

// handle runs one attempt of the entry m, then has it acknowledged, or its
// retry scheduled, as the processor asks. It reports whether it handed the
// entry over to the finisher, which then releases it.
func (q *Queue) handle(en readEntry) bool {
	m := en.m
	if len(m.Values) == 0 { // deleted while pending: nothing to handle
		return q.finish(q.newDone(m.ID, nil, nil))
	}
	e, err := en.e, en.err
	if e == nil && err == nil {
		e, err = decode(m.Values)
	}
	if err != nil {
		// It can never be handled: give it to the processor to dead-letter
		// with what can be read of it, then acknowledge it.
		q.log.Error("redisq: abandoning unreadable entry", "entry", m.ID, "error", err)
		q.proc.Abandon(q.procCtx, partialEvent(m.Values), err)
		return q.finish(q.newDone(m.ID, nil, nil))
	}
	// The dedupe store on the same client defers its Complete of this
	// attempt's claim to the entry's acknowledgement (see redisbatch.Later).
	later := redisbatch.NewLater(q.batch, e.ClaimToken)
	if en.held {
		later.SetConfirmed()
	}
	res := q.proc.Process(redisbatch.WithLater(q.procCtx, later), e)
	if !res.Retry {
		return q.finish(q.newDone(m.ID, later, nil))
	}
	if q.procCtx.Err() != nil {
		// Shutdown cut the attempt short: leave the entry pending so that it
		// is run again with the same attempt number. Calls the attempt
		// deferred are sent on their own.
		if calls := later.Seal(); len(calls) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), q.cfg.callTimeout)
			redisscript.RunAll(ctx, q.batch.Do, q.rdb.Process, calls)
			cancel()
		}
		return false
	}
	delay := max(res.Delay, 0)
	ms := ceilMs(delay)
	next := e.Attempt + 1
	if res.KeepAttempt { // deferred, not failed: the attempt is not used up
		next = e.Attempt
	}
	retry := &redisscript.Call{
		Script: retryScript,
		Keys:   []string{q.stream, q.delayed},
		Args:   append([]any{q.cfg.group, m.ID, ms}, retryFields(m.Values, next)...),
	}
	return q.finish(q.newDone(m.ID, later, retry))
}

// finish hands d over to the finisher and reports true, or, once Shutdown
// stopped it, sends d itself and reports false. Either way d's calls are
// retried through a Redis outage (see transient), after Shutdown began for
// up to the visibility timeout, and never past a Shutdown deadline; an
// entry whose acknowledgement is lost stays pending and is handled again.
func (q *Queue) finish(d done) bool {
	d.async = true
	q.work.Add(1) // done by the finisher; the caller, a worker, holds one
	if q.handOver(d) {
		return true
	}
	q.work.Done()
	d.async = false
	q.finishNow(d)
	return false
}
