package receiver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// attemptContext is the context of one handler attempt or store call: its
// parent with a deadline (the handler timeout, StoreTimeout).
// context.WithTimeout would start a timer for every one; most handlers, and
// the store calls a queue answers itself, never wait on Done and pay for it
// all the same. This one reports its deadline at once and makes the timer
// only when Done is first called, or Err once the deadline has passed or
// the parent is done: from then on it is context.WithDeadline's context, so
// cancellation reaches the handler and every context derived from it exactly
// as it would have. Value is the parent's until then (context.Cause
// included: the deadline is made before answering once it has passed).
type attemptContext struct {
	parent   context.Context
	deadline time.Time

	once  sync.Once
	inner atomic.Pointer[innerContext] // made by the first Done, a late Err, or stop
}

type innerContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

var _ context.Context = (*attemptContext)(nil)

// newAttemptContext returns parent with a deadline d from now, and the
// function that releases it (as context.WithTimeout's cancel).
func newAttemptContext(parent context.Context, d time.Duration) (*attemptContext, func()) {
	c := startAttempt(parent, d)
	return c, c.stop
}

// startAttempt is newAttemptContext for a caller that calls stop itself,
// without the allocation of a function value.
func startAttempt(parent context.Context, d time.Duration) *attemptContext {
	c := &attemptContext{parent: parent, deadline: time.Now().Add(d)}
	if pd, ok := parent.Deadline(); ok && pd.Before(c.deadline) {
		c.deadline = pd
	}
	return c
}

func (c *attemptContext) init() *innerContext {
	c.once.Do(func() {
		ctx, cancel := context.WithDeadline(c.parent, c.deadline)
		c.inner.Store(&innerContext{ctx, cancel})
	})
	return c.inner.Load()
}

// stop releases the timer, if one was made; after it, a first Done or Err
// reports context.Canceled, as a canceled context.WithTimeout would.
func (c *attemptContext) stop() {
	c.once.Do(func() { c.inner.Store(stopped) })
	c.inner.Load().cancel()
}

// stopped is the inner context of an attempt context stopped before Done or
// Err was asked for: canceled, without a timer or an allocation. Its values
// are not the attempt's (Value asks the parent instead).
var stopped = func() *innerContext {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return &innerContext{ctx, func() {}}
}()

// Deadline returns the attempt's deadline.
func (c *attemptContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed at the deadline, when the parent is done, or
// when the attempt ends.
func (c *attemptContext) Done() <-chan struct{} { return c.init().ctx.Done() }

// Err returns nil while Done is open, then why it closed. Before the timer
// is made, a deadline still ahead and a parent not done answer nil without
// making it: a store that only checks Err (one that answers without a call)
// costs no timer.
func (c *attemptContext) Err() error {
	if in := c.inner.Load(); in != nil {
		return in.ctx.Err()
	}
	if time.Now().Before(c.deadline) && c.parent.Err() == nil {
		return nil
	}
	return c.init().ctx.Err()
}

// Value returns the value for key: the parent's, as long as the deadline
// neither passed nor was made (or the attempt ended before it was).
func (c *attemptContext) Value(key any) any {
	if in := c.inner.Load(); in != nil && in != stopped {
		return in.ctx.Value(key)
	}
	if !time.Now().Before(c.deadline) {
		return c.init().ctx.Value(key)
	}
	return c.parent.Value(key)
}
