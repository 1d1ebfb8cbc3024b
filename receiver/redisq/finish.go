package redisq

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/internal/redisscript"
)

// maxAckIDs bounds the entry IDs of one call of the acknowledging script
// (Lua's unpack has a limit of its own, near 8000).
const maxAckIDs = 512

// done is an attempt whose entry waits to be acknowledged, or to have its
// retry scheduled, by the finisher.
type done struct {
	id string
	// later holds the calls deferred during the attempt (the dedupe store's
	// Complete), sent before the entry's own call, in the same pipeline.
	later []redisscript.Call
	// retry schedules the next attempt (retryScript); nil acknowledges the
	// entry with the others in one ackScript call.
	retry *redisscript.Call
	// giveUp is when the finisher stops retrying a failed call.
	giveUp time.Time
	// async: handed over by a worker, which left the entry's slot, its
	// place in inFlight and a count in q.work to the finisher.
	async bool
}

// finisher sends what the workers finish in shared pipelines: while one is
// in flight, the attempts finished meanwhile gather, and the next pipeline
// holds all of them (their deferred calls first, then one XACK and XDEL for
// every plain acknowledgement, then the retries). A lone attempt goes out at
// once, in a pipeline of its own: nothing waits for a batch to fill.
type finisher struct {
	wake    chan struct{} // holds a value when queue is not empty
	stop    chan struct{} // closed by Shutdown once the work is done
	stopped chan struct{} // closed when the finisher returned
	queue   []done        // under Queue.finMu
	closed  bool          // under Queue.finMu: no more hand-overs
}

func newFinisher() finisher {
	return finisher{wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
}

// handOver gives d to the finisher and reports whether it took it; after
// Shutdown it does not, and the caller finishes d itself.
func (q *Queue) handOver(d done) bool {
	q.finMu.Lock()
	if q.fin.closed {
		q.finMu.Unlock()
		return false
	}
	q.fin.queue = append(q.fin.queue, d)
	q.finMu.Unlock()
	select {
	case q.fin.wake <- struct{}{}:
	default:
	}
	return true
}

// finishLoop runs the finisher until Shutdown stops it and nothing is left.
func (q *Queue) finishLoop() {
	defer close(q.fin.stopped)
	wait := 50 * time.Millisecond
	var retry []done // failed, to send again after a backoff
	for {
		if len(retry) == 0 {
			select {
			case <-q.fin.wake:
			case <-q.fin.stop:
			}
		}
		q.finMu.Lock()
		batch := append(retry, q.fin.queue...)
		clear(q.fin.queue)
		q.fin.queue = q.fin.queue[:0]
		stopping := q.fin.closed
		q.finMu.Unlock()
		if len(batch) == 0 {
			if stopping {
				return
			}
			continue
		}
		retry = q.flush(batch)
		if len(retry) == 0 {
			wait = 50 * time.Millisecond
			continue
		}
		wait = backoffUpTo(q.procCtx, wait, time.Second)
	}
}

// stopFinisher closes the finisher to hand-overs and waits until it sent
// what it holds (once more at most, if Shutdown's deadline passed).
func (q *Queue) stopFinisher() {
	q.finMu.Lock()
	q.fin.closed = true
	q.finMu.Unlock()
	close(q.fin.stop)
	<-q.fin.stopped
}

// finishNow sends d at once, in a pipeline of its own, until it succeeds or
// flush gives up on it.
func (q *Queue) finishNow(d done) {
	wait := 50 * time.Millisecond
	for b := q.flush([]done{d}); len(b) > 0; b = q.flush(b) {
		wait = backoffUpTo(q.procCtx, wait, time.Second)
	}
}

// flush sends the batch in one pipeline and returns the attempts whose call
// failed and that are worth trying again: not past their give-up time, and
// the queue not shutting down. The others are done: their entries leave
// inFlight and give back their slots.
func (q *Queue) flush(batch []done) (again []done) {
	calls := make([]redisscript.Call, 0, 2*len(batch))
	for _, d := range batch {
		calls = append(calls, d.later...)
	}
	if q.mergeLater {
		// The dedupe completions of many entries in one script call.
		calls = redisscript.Merge(calls, maxAckIDs)
	}
	deferred := len(calls)
	var acks []int // indexes in batch of plain acknowledgements
	for i, d := range batch {
		if d.retry == nil {
			acks = append(acks, i)
		}
	}
	callOf := make([]int, len(batch)) // index in calls of each one's own call
	for start := 0; start < len(acks); start += maxAckIDs {
		part := acks[start:min(start+maxAckIDs, len(acks))]
		args := make([]any, 0, 1+len(part))
		args = append(args, q.cfg.group)
		for _, i := range part {
			args = append(args, batch[i].id)
			callOf[i] = len(calls)
		}
		calls = append(calls, redisscript.Call{Script: ackScript, Keys: []string{q.stream}, Args: args})
	}
	for i, d := range batch {
		if d.retry != nil {
			callOf[i] = len(calls)
			calls = append(calls, *d.retry)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.cfg.callTimeout)
	cmds := redisscript.RunAll(ctx, q.batch.Do, q.rdb.Process, calls)
	cancel()

	now := time.Now()
	var failed int
	var failure error
	for i, d := range batch {
		cmd := cmds[callOf[i]]
		err := cmd.Err()
		if err == nil {
			if d.retry != nil {
				if n, _ := cmd.Int(); n == 0 {
					q.log.Info("redisq: entry finished elsewhere, retry not scheduled", "entry", d.id)
				}
			}
			q.finished(d)
			continue
		}
		if q.procCtx.Err() != nil || now.After(d.giveUp) && (q.closing.Load() || !transient(err)) {
			q.log.Warn("redisq: acknowledging entry failed; it will be handled again", "entry", d.id, "error", err)
			q.finished(d)
			continue
		}
		again = append(again, d)
	}
	// Deferred calls that failed are logged, as the receiver logs a
	// Complete that fails: the claim's lease still guards the key. Those of
	// entries tried again are sent again with them.
	for _, c := range cmds[:deferred] {
		if err := c.Err(); err != nil {
			failed, failure = failed+1, err
		}
	}
	if failed > 0 {
		q.log.Warn("redisq: deferred dedupe calls failed", "calls", failed, "retried", len(again), "error", failure)
	}
	return again
}

// transient reports whether err may pass on its own: the connection failed
// or timed out (Redis down, restarting, unreachable), or Redis answered that
// it cannot serve now. Until Shutdown begins, the finisher retries such
// failures beyond the visibility timeout: the attempt was handled, and
// giving up would leave its dedupe completion unsent, so that the entry,
// reclaimed, would run again. Other errors (Redis refusing the call) are
// given up on after the visibility timeout.
func transient(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return true
	}
	for _, p := range [...]string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "NOSCRIPT"} {
		if strings.HasPrefix(re.Error(), p) {
			return true
		}
	}
	return false
}

// finished releases what an attempt handed over to the finisher held.
func (q *Queue) finished(d done) {
	if !d.async {
		return
	}
	q.flightMu.Lock()
	delete(q.inFlight, d.id)
	q.flightMu.Unlock()
	q.release(1)
	q.work.Done()
}

// newDone returns the finishing of entry id's attempt.
func (q *Queue) newDone(id string, later *redisbatch.Later, retry *redisscript.Call) done {
	d := done{id: id, retry: retry, giveUp: time.Now().Add(q.cfg.visibility)}
	if later != nil {
		d.later = later.Seal()
	}
	return d
}
