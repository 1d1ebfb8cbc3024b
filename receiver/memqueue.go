package receiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryQueue is the default, in-process Queue: a bounded buffer drained by
// a fixed pool of workers. Enqueue never blocks: a full buffer returns
// ErrQueueFull, which the receiver turns into 503 so the sender retries
// later. Retries wait on timers, not on workers.
//
// Events in a MemoryQueue live in this process only: a crash loses the ones
// not yet handled (use the Redis queue to survive crashes). A graceful
// Shutdown drains them, and hands any it could not finish to the
// Processor's Abandon (the receiver dead-letters them).
type MemoryQueue struct {
	ch      chan *Event
	workers int

	mu       sync.Mutex
	p        Processor
	closed   bool // Enqueue refuses new events
	timers   map[*Event]*time.Timer
	inflight int           // events accepted and not yet finished
	idle     chan struct{} // closed when inflight drops to 0 after close
	stop     chan struct{} // closed when workers must exit
	cancel   context.CancelFunc
	ctx      context.Context
	wg       sync.WaitGroup // workers
	requeues sync.WaitGroup // fired retry timers still putting their event back
	started  bool
	shutdown bool // Shutdown was called
	expired  bool // Shutdown's deadline passed: no more retries are scheduled
}

// NewMemoryQueue returns a queue holding up to capacity events, handled by
// workers goroutines once started.
func NewMemoryQueue(capacity, workers int) *MemoryQueue {
	ctx, cancel := context.WithCancel(context.Background())
	return &MemoryQueue{
		ch: make(chan *Event, max(capacity, 1)), workers: max(workers, 1),
		timers: make(map[*Event]*time.Timer), idle: make(chan struct{}),
		stop: make(chan struct{}), ctx: ctx, cancel: cancel,
	}
}

// Len returns the number of events accepted and not yet finished, queued,
// waiting for a retry or being handled.
func (q *MemoryQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.inflight
}

// Enqueue adds e to the buffer, or returns ErrQueueFull or ErrClosed.
func (q *MemoryQueue) Enqueue(_ context.Context, e *Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.ch <- e:
		q.inflight++
		return nil
	default:
		return ErrQueueFull
	}
}

// Start launches the workers, which pass each event to p.
func (q *MemoryQueue) Start(p Processor) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("receiver: queue already started")
	}
	if q.closed {
		return ErrClosed
	}
	q.started, q.p = true, p
	for range q.workers {
		q.wg.Go(q.work)
	}
	return nil
}

func (q *MemoryQueue) work() {
	for {
		select {
		case <-q.stop:
			return
		case e := <-q.ch:
			q.handle(e)
		}
	}
}

func (q *MemoryQueue) handle(e *Event) {
	res := q.p.Process(q.ctx, e)
	q.mu.Lock()
	defer q.mu.Unlock()
	if !res.Retry {
		q.done()
		return
	}
	next := *e
	next.Attempt++
	ev := &next
	if q.expired {
		q.abandonLocked(ev, fmt.Errorf("receiver: shutdown before retry: %w", res.Err))
		return
	}
	q.timers[ev] = time.AfterFunc(res.Delay, func() { q.requeue(ev) })
}

// requeue puts a retried event back in the buffer, waiting for room: an
// accepted event is never dropped.
func (q *MemoryQueue) requeue(e *Event) {
	q.mu.Lock()
	if _, ok := q.timers[e]; !ok { // stopped by Shutdown
		q.mu.Unlock()
		return
	}
	delete(q.timers, e)
	q.requeues.Add(1)
	q.mu.Unlock()
	defer q.requeues.Done()
	select {
	case q.ch <- e:
	case <-q.stop:
		q.mu.Lock()
		q.abandonLocked(e, errors.New("receiver: shutdown before retry"))
		q.mu.Unlock()
	}
}

// abandonLocked hands e to the processor's Abandon and counts it finished.
func (q *MemoryQueue) abandonLocked(e *Event, err error) {
	q.p.Abandon(context.Background(), e, err)
	q.done()
}

func (q *MemoryQueue) done() {
	q.inflight--
	if q.inflight == 0 && q.closed {
		select {
		case <-q.idle:
		default:
			close(q.idle)
		}
	}
}

// ShutdownError reports events a queue could not finish before its
// deadline; they were dead-lettered. errors.Is(err, context.DeadlineExceeded)
// (or Canceled) holds.
type ShutdownError struct {
	Unfinished int
	Err        error
}

func (e *ShutdownError) Error() string {
	return fmt.Sprintf("receiver: shutdown left %d events unfinished: %v", e.Unfinished, e.Err)
}

func (e *ShutdownError) Unwrap() error { return e.Err }

// Shutdown stops intake, waits until every accepted event is handled,
// dead-lettered or (after ctx is done) abandoned, and stops the workers.
// Pending retries are run when they fall due before ctx is done. When ctx
// ends first, handler contexts are cancelled, unfinished events are passed to
// Abandon, and a *ShutdownError is returned. A second call returns ErrClosed.
func (q *MemoryQueue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	if q.shutdown {
		q.mu.Unlock()
		return ErrClosed
	}
	q.shutdown, q.closed = true, true
	if q.inflight == 0 {
		close(q.idle)
	}
	started := q.started
	q.mu.Unlock()

	var err error
	if started {
		select {
		case <-q.idle:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	q.mu.Lock()
	q.expired = true
	q.mu.Unlock()
	q.cancel() // handlers still running see their context end
	close(q.stop)
	q.wg.Wait()

	q.mu.Lock()
	n := 0
	for e, t := range q.timers {
		t.Stop()
		delete(q.timers, e)
		n++
		q.abandonLocked(e, fmt.Errorf("receiver: shutdown before retry: %w", ctx.Err()))
	}
	q.mu.Unlock()
	q.requeues.Wait() // each either queued its event (drained below) or abandoned it

	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		select {
		case e := <-q.ch:
			n++
			if q.p != nil {
				q.abandonLocked(e, fmt.Errorf("receiver: shutdown before handling: %w", ctx.Err()))
			}
			continue
		default:
		}
		break
	}
	if err == nil && n > 0 {
		err = context.Canceled
	}
	if err != nil {
		return &ShutdownError{Unfinished: n, Err: err}
	}
	return nil
}
