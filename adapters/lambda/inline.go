package hooklambda

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// Defaults of an InlineQueue.
const (
	// DefaultBudget is how long an event may take, from its enqueue to the
	// answer, retries included: below GitHub's 10 s and API Gateway's 29 s.
	// Lower it for senders that wait less (Slack 3 s, Shopify 5 s).
	DefaultBudget = 8 * time.Second
	// DefaultGrace is how long a handler whose context was canceled at the
	// deadline is waited for before the answer, so that one that honours
	// its context reports its outcome.
	DefaultGrace = 250 * time.Millisecond
	// DefaultMaxInFlight bounds the events handled at once by one queue.
	DefaultMaxInFlight = 16
)

// ErrUnfinished is the error Enqueue returns when the event was not
// finished (handled or dead-lettered) before the answer deadline: the
// handler failed and its retry would fall after the deadline, or it was
// still running. It matches receiver.ErrQueueFull and driver.ErrNotKept
// (the queue keeps nothing of the event), so the receiver releases the
// delivery's dedupe claim, confirmed as it is by the attempt that ran, and
// answers 503 with Retry-After: the sender delivers the event again.
var ErrUnfinished = fmt.Errorf("hooklambda: event not finished before the answer deadline: %w (%w)",
	receiver.ErrQueueFull, driver.ErrNotKept)

type answerByKey struct{}

// AnswerBy returns a context telling an InlineQueue that the answer to the
// request must be sent by t: an event enqueued under it is given up at t at
// the latest. The Adapter sets it from the invocation's deadline.
func AnswerBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, answerByKey{}, t)
}

// InlineQueue is a receiver.Queue that handles each event inside Enqueue,
// on the request path, before the receiver answers: for environments that
// may freeze or stop a process once its response is sent (AWS Lambda, and
// any platform that throttles CPU between requests), where a background
// worker cannot be trusted to run.
//
// Enqueue runs the receiver's attempt, and its retries after their backoff,
// until the event is finished (handled, dead-lettered, or found already
// handled), then returns nil: the 2xx then means the handler has run. When
// the event is not finished by the deadline (now + Budget, or earlier when
// the context carries AnswerBy), the running attempt's context is canceled,
// the handler is given Grace to return, and Enqueue returns ErrUnfinished:
// the receiver releases the delivery's dedupe claim and answers 503, so the
// sender delivers the event again, and the next delivery starts over at
// attempt 1 (the sender's own retry schedule then bounds the attempts). A
// handler that ignores its context and is still running after Grace keeps
// running detached; should it then succeed, the event is marked done, and a
// redelivery that arrives later is a duplicate; one that arrives before may
// run the handler a second time: handlers must honour their context.
//
// It is safe for concurrent use: at most MaxInFlight events are handled at
// once, and Enqueue returns receiver.ErrQueueFull (503) beyond. Stats
// reports the events being handled, so Receiver.Drain works.
type InlineQueue struct {
	budget, grace time.Duration
	sem           chan struct{}

	mu       sync.Mutex
	proc     driver.Processor
	closed   bool
	inflight int // in Enqueue
	detached int // attempts still running after their Enqueue returned
	idle     *sync.Cond
}

// InlineOption configures an InlineQueue.
type InlineOption func(*InlineQueue)

// Budget sets how long an event may take from its enqueue to the answer
// (default DefaultBudget). Keep it below the sender's timeout and the
// integration's (API Gateway: 29 s by default).
func Budget(d time.Duration) InlineOption {
	return func(q *InlineQueue) {
		if d > 0 {
			q.budget = d
		}
	}
}

// Grace sets how long a handler whose context was canceled at the deadline
// is waited for (default DefaultGrace). It is taken from the budget: the
// attempt's context ends Grace before the deadline.
func Grace(d time.Duration) InlineOption {
	return func(q *InlineQueue) {
		if d >= 0 {
			q.grace = d
		}
	}
}

// MaxInFlight bounds the events handled at once (default
// DefaultMaxInFlight).
func MaxInFlight(n int) InlineOption {
	return func(q *InlineQueue) {
		if n > 0 {
			q.sem = make(chan struct{}, n)
		}
	}
}

// NewInlineQueue returns an InlineQueue; pass it to receiver.WithQueue, or
// build the receiver with NewReceiver.
func NewInlineQueue(opts ...InlineOption) *InlineQueue {
	q := &InlineQueue{budget: DefaultBudget, grace: DefaultGrace, sem: make(chan struct{}, DefaultMaxInFlight)}
	for _, o := range opts {
		o(q)
	}
	q.grace = min(q.grace, q.budget/2)
	q.idle = sync.NewCond(&q.mu)
	return q
}

// Start records the receiver the events go to. A second call returns
// driver.ErrStarted.
func (q *InlineQueue) Start(p driver.Processor) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.proc != nil {
		return driver.ErrStarted
	}
	q.proc = p
	return nil
}

// Enqueue handles e before returning; see InlineQueue. It returns
// receiver.ErrClosed before Start and after Shutdown, receiver.ErrQueueFull
// when MaxInFlight events are being handled, and ErrUnfinished when e was not
// finished by the deadline.
func (q *InlineQueue) Enqueue(ctx context.Context, e *driver.Event) error {
	select {
	case q.sem <- struct{}{}:
	default:
		return fmt.Errorf("hooklambda: %d events in flight: %w", cap(q.sem), receiver.ErrQueueFull)
	}
	defer func() { <-q.sem }()
	q.mu.Lock()
	proc, closed := q.proc, q.closed
	if proc == nil || closed {
		q.mu.Unlock()
		return receiver.ErrClosed
	}
	q.inflight++
	q.mu.Unlock()
	defer q.done(&q.inflight)

	deadline := time.Now().Add(q.budget)
	if t, ok := ctx.Value(answerByKey{}).(time.Time); ok && t.Before(deadline) {
		deadline = t
	}
	base := context.WithoutCancel(ctx)
	for {
		if q.isClosed() {
			return errors.Join(ErrUnfinished, receiver.ErrClosed)
		}
		actx, cancel := context.WithDeadline(base, deadline.Add(-q.grace))
		if actx.Err() != nil {
			cancel()
			return ErrUnfinished
		}
		results := make(chan driver.Result, 1)
		go func() { results <- proc.Process(actx, e) }()
		var res driver.Result
		select {
		case res = <-results:
		case <-actx.Done():
			t := time.NewTimer(q.grace)
			select {
			case res = <-results:
				t.Stop()
			case <-t.C:
				q.detach(results)
				cancel()
				return ErrUnfinished
			}
		}
		cancel()
		if !res.Retry {
			return nil // handled, dead-lettered, or already handled
		}
		if time.Now().Add(res.Delay).After(deadline.Add(-q.grace)) {
			return ErrUnfinished
		}
		time.Sleep(res.Delay)
		if !res.KeepAttempt { // a deferred attempt is not used up
			e.Attempt++
		}
	}
}

// detach counts an attempt still running after its Enqueue gave up, until
// it returns.
func (q *InlineQueue) detach(results <-chan driver.Result) {
	q.mu.Lock()
	q.detached++
	q.mu.Unlock()
	go func() {
		<-results
		q.done(&q.detached)
	}()
}

func (q *InlineQueue) done(n *int) {
	q.mu.Lock()
	*n--
	q.idle.Broadcast()
	q.mu.Unlock()
}

func (q *InlineQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Stats reports the events being handled (Depth), in Enqueue or detached;
// OldestAge is always 0, since no event waits to start.
func (q *InlineQueue) Stats(context.Context) (driver.Stats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return driver.Stats{Depth: q.inflight + q.detached}, nil
}

// Shutdown refuses new events (receiver.ErrClosed: 503), stops retrying
// those being handled (their Enqueue returns ErrUnfinished: none was
// acknowledged), and waits for running attempts until ctx is done. It
// returns an error wrapping ctx's when attempts are still running then
// (none of their events was acknowledged: nothing is lost).
func (q *InlineQueue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.idle.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.inflight+q.detached > 0 && ctx.Err() == nil {
		q.idle.Wait()
	}
	if n := q.inflight + q.detached; n > 0 {
		return fmt.Errorf("hooklambda: %d attempts still running, none acknowledged: %w", n, ctx.Err())
	}
	return nil
}
