package receiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookwise/hookwise/receiver/driver"
)

// ShutdownGrace is how long a MemoryQueue's Shutdown waits, once its
// deadline has passed and handler contexts are cancelled, for handlers that
// honour cancellation to return, so that their outcome is recorded before
// Shutdown reports what was left unfinished.
const ShutdownGrace = 100 * time.Millisecond

// MemoryQueue is the default, in-process Queue: a bounded backlog drained by
// a fixed pool of workers. Enqueue never blocks: when the backlog (events
// queued, waiting for a retry and being handled, all counted) is at its
// capacity or its byte bound, Enqueue returns ErrQueueFull, which the
// receiver turns into 503 so the sender retries later. Retries of accepted
// events wait on timers, not on workers, and are always taken back: an
// accepted event is never dropped.
//
// Events in a MemoryQueue live in this process only: a crash loses the ones
// not yet handled (use the Redis queue to survive crashes). A graceful
// Shutdown drains them; when its deadline passes first, it starts nothing
// more, hands the events it did not run to the driver.Processor's Abandon (the
// receiver dead-letters them), and reports every acknowledged event not
// handled in a *ShutdownError.
type MemoryQueue struct {
	ch       chan *qitem
	workers  int
	capacity int
	maxBytes int64

	mu         sync.Mutex
	p          driver.Processor
	closed     bool                   // Enqueue refuses new events
	live       map[*qitem]struct{}    // accepted and not yet finished: queued, waiting for a retry, in transit or running
	timers     map[*qitem]*time.Timer // waiting for a retry
	bytes      int64                  // sum of the live events' sizes
	unfinished []string               // keys of events abandoned by Shutdown
	changed    chan struct{}          // signalled when an event finishes
	stop       chan struct{}          // closed when workers must exit
	cancel     context.CancelFunc
	ctx        context.Context
	started    bool
	shutdown   bool // Shutdown was called
	expired    bool // Shutdown's deadline passed: nothing more is started or retried
}

// qitem is one attempt of an event in a MemoryQueue, with the size counted
// for it.
type qitem struct {
	e     *Event
	size  int64
	ready time.Time // when it became ready to run: enqueued, or its retry due
	// running is set while a handler has it (guarded by the queue's mu).
	running bool
}

// MemoryQueueOption configures a MemoryQueue.
type MemoryQueueOption func(*MemoryQueue)

// MemoryQueueMaxBytes bounds the approximate size of the events a
// MemoryQueue holds (see QueueMaxBytes); n ≤ 0 selects DefaultQueueMaxBytes.
func MemoryQueueMaxBytes(n int64) MemoryQueueOption {
	return func(q *MemoryQueue) {
		if n > 0 {
			q.maxBytes = n
		}
	}
}

// NewMemoryQueue returns a queue holding up to capacity events (queued,
// waiting for a retry and being handled, together) and, by default,
// DefaultQueueMaxBytes bytes of them, handled by workers goroutines once
// started.
func NewMemoryQueue(capacity, workers int, opts ...MemoryQueueOption) *MemoryQueue {
	ctx, cancel := context.WithCancel(context.Background())
	capacity = max(capacity, 1)
	q := &MemoryQueue{
		ch: make(chan *qitem, capacity), workers: max(workers, 1), capacity: capacity,
		maxBytes: DefaultQueueMaxBytes,
		live:     make(map[*qitem]struct{}),
		timers:   make(map[*qitem]*time.Timer), changed: make(chan struct{}, 1),
		stop: make(chan struct{}), ctx: ctx, cancel: cancel,
	}
	for _, o := range opts {
		o(q)
	}
	return q
}

// Len returns the number of events accepted and not yet finished: queued,
// waiting for a retry or being handled.
func (q *MemoryQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.live)
}

// Stats returns the backlog (driver.StatsReader): Len, and the age of the
// oldest event waiting for a worker.
func (q *MemoryQueue) Stats(context.Context) (driver.Stats, error) {
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	st := driver.Stats{Depth: len(q.live)}
	for it := range q.live {
		if it.running {
			continue
		}
		if _, ok := q.timers[it]; ok {
			continue
		}
		st.OldestAge = max(st.OldestAge, now.Sub(it.ready))
	}
	return st, nil
}

// Bytes returns the approximate size of the events Len counts.
func (q *MemoryQueue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Enqueue adds e to the backlog, or returns ErrQueueFull (the backlog is at
// its capacity or byte bound) or ErrClosed.
func (q *MemoryQueue) Enqueue(_ context.Context, e *Event) error {
	it := &qitem{e: e, size: eventSize(e), ready: time.Now()}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return ErrClosed
	case len(q.live) >= q.capacity:
		return ErrQueueFull
	case len(q.live) > 0 && q.bytes+it.size > q.maxBytes:
		return ErrQueueFull
	}
	q.live[it] = struct{}{}
	q.bytes += it.size
	q.ch <- it // never blocks: the channel holds at most len(live) ≤ capacity items
	return nil
}

// Start launches the workers, which pass each event to p.
func (q *MemoryQueue) Start(p driver.Processor) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return driver.ErrStarted
	}
	if q.closed {
		return ErrClosed
	}
	q.started, q.p = true, p
	for range q.workers {
		go q.work()
	}
	return nil
}

func (q *MemoryQueue) work() {
	for {
		select { // stopping takes precedence over queued events
		case <-q.stop:
			return
		default:
		}
		select {
		case <-q.stop:
			return
		case it := <-q.ch:
			q.handle(it)
		}
	}
}

func (q *MemoryQueue) handle(it *qitem) {
	q.mu.Lock()
	if q.expired { // taken from the channel as Shutdown's deadline passed
		q.mu.Unlock()
		q.abandon(it, it.e.Attempt-1, errors.New("receiver: shutdown before handling"))
		return
	}
	it.running = true
	q.mu.Unlock()

	res := q.p.Process(q.ctx, it.e)

	q.mu.Lock()
	it.running = false
	if !res.Retry {
		q.finishLocked(it)
		q.mu.Unlock()
		return
	}
	if q.expired {
		q.mu.Unlock()
		q.abandon(it, it.e.Attempt, fmt.Errorf("receiver: shutdown before retry: %w", res.Err))
		return
	}
	next := *it.e
	if !res.KeepAttempt {
		next.Attempt++
	}
	nit := &qitem{e: &next, size: it.size}
	delete(q.live, it)
	q.live[nit] = struct{}{}
	q.timers[nit] = time.AfterFunc(res.Delay, func() { q.requeue(nit) })
	q.mu.Unlock()
}

// requeue puts a retried event back in the channel, where there is always
// room for it.
func (q *MemoryQueue) requeue(it *qitem) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.timers[it]; !ok { // taken by Shutdown
		return
	}
	delete(q.timers, it)
	it.ready = time.Now()
	q.ch <- it // never blocks: the channel holds at most len(live) ≤ capacity items
}

// abandon hands it's event, with the number of attempts actually made, to
// the processor's Abandon, and records it unfinished.
func (q *MemoryQueue) abandon(it *qitem, attempts int, err error) {
	e := *it.e
	e.Attempt = max(attempts, 0)
	if q.p != nil {
		q.p.Abandon(context.Background(), &e, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.unfinished = append(q.unfinished, eventKey(&e))
	q.finishLocked(it)
}

func (q *MemoryQueue) finishLocked(it *qitem) {
	if _, ok := q.live[it]; !ok {
		return
	}
	delete(q.live, it)
	q.bytes -= it.size
	select {
	case q.changed <- struct{}{}:
	default:
	}
}

// eventKey names an event in reports: its ID, or, without one, the key of
// its dead letter ("~" and its claim token).
func eventKey(e *Event) string { return DeadLetter{Event: e}.Key() }

// Shutdown stops intake and waits until every accepted event is handled or
// dead-lettered, running retries as they fall due, until ctx is done. Then
// it starts nothing more: handler contexts are cancelled, events not
// started and retries not yet run are passed to Abandon with the number of
// attempts made, handlers are given ShutdownGrace to return, and a
// *ShutdownError lists every acknowledged event not finished. Shutdown
// returns within about ShutdownGrace of ctx's end (plus the Abandon calls),
// even when handlers ignore cancellation. A second call returns ErrClosed.
func (q *MemoryQueue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	if q.shutdown {
		q.mu.Unlock()
		return ErrClosed
	}
	q.shutdown, q.closed = true, true
	started := q.started
	q.mu.Unlock()

	var err error
	if started && q.waitIdle(ctx.Done()) {
		err = ctx.Err()
	}

	q.mu.Lock()
	q.expired = true
	q.cancel() // handlers still running see their context end
	close(q.stop)
	var retries, queued []*qitem
	for it, t := range q.timers {
		t.Stop()
		delete(q.timers, it)
		retries = append(retries, it)
	}
	for drained := false; !drained; {
		select {
		case it := <-q.ch:
			queued = append(queued, it)
		default:
			drained = true
		}
	}
	q.mu.Unlock()

	cause := err
	if cause == nil {
		cause = context.Canceled
	}
	for _, it := range retries {
		q.abandon(it, it.e.Attempt-1, fmt.Errorf("receiver: shutdown before retry: %w", cause))
	}
	for _, it := range queued {
		q.abandon(it, it.e.Attempt-1, fmt.Errorf("receiver: shutdown before handling: %w", cause))
	}
	if started {
		grace, stop := context.WithTimeout(context.Background(), ShutdownGrace)
		q.waitIdle(grace.Done())
		stop()
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	ids := append([]string(nil), q.unfinished...)
	running := 0
	for it := range q.live { // running, or about to be abandoned by a worker
		ids = append(ids, eventKey(it.e))
		if it.running {
			running++
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err == nil {
		err = context.Canceled
	}
	return &ShutdownError{Unfinished: len(ids), IDs: ids, Running: running, Err: err}
}

// waitIdle waits until no event is live, or done is closed; it reports
// whether done was closed first.
func (q *MemoryQueue) waitIdle(done <-chan struct{}) bool {
	for {
		q.mu.Lock()
		n := len(q.live)
		q.mu.Unlock()
		if n == 0 {
			return false
		}
		select {
		case <-q.changed:
		case <-done:
			return true
		}
	}
}
