package flow_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/receiver"
)

var errDown = errors.New("downstream down")

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// transitions records a breaker's state changes.
type transitions struct {
	mu  sync.Mutex
	got []string
}

func (tr *transitions) record(name string, from, to flow.State) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.got = append(tr.got, name+":"+from.String()+">"+to.String())
}

func (tr *transitions) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got...)
}

// deferral returns err's deferral, failing the test when it is not one.
func deferral(t *testing.T, err error) *receiver.DeferredError {
	t.Helper()
	var de *receiver.DeferredError
	require.ErrorAs(t, err, &de)
	require.ErrorIs(t, err, receiver.ErrDeferred)
	return de
}

func TestBreakerConsecutiveFailures(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	calls := 0
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		calls++
		if fail.Load() {
			return errDown
		}
		return nil
	})
	tr := &transitions{}
	clk := newClock()
	b := flow.NewBreaker(h, flow.BreakerConfig{Name: "api", ConsecutiveFailures: 3, OpenFor: time.Minute, OnStateChange: tr.record})
	flow.SetClock(b, clk.now)
	ctx, e := context.Background(), &receiver.Event{ID: "evt", Attempt: 1}

	for i := range 2 {
		require.ErrorIs(t, b.HandleEvent(ctx, e), errDown, "call %d", i)
	}
	fail.Store(false)
	require.NoError(t, b.HandleEvent(ctx, e), "a success resets the count")
	fail.Store(true)
	for range 2 {
		require.ErrorIs(t, b.HandleEvent(ctx, e), errDown)
	}
	assert.Equal(t, flow.Closed, b.State(), "two failures in a row, threshold three")
	require.ErrorIs(t, b.HandleEvent(ctx, e), errDown)
	assert.Equal(t, flow.Open, b.State(), "three failures in a row")
	assert.Equal(t, 6, calls)

	// Open: the handler is not called; the event is deferred until OpenFor
	// has passed (with up to a quarter of jitter).
	clk.advance(20 * time.Second)
	de := deferral(t, b.HandleEvent(ctx, e))
	assert.Equal(t, flow.ReasonCircuitOpen, de.Reason)
	assert.GreaterOrEqual(t, de.After, 40*time.Second)
	assert.LessOrEqual(t, de.After, 50*time.Second)
	assert.Equal(t, 6, calls, "the handler was called while the breaker was open")

	// Half-open: a failed probe opens it again.
	clk.advance(40 * time.Second)
	require.ErrorIs(t, b.HandleEvent(ctx, e), errDown)
	assert.Equal(t, flow.Open, b.State())
	deferral(t, b.HandleEvent(ctx, e))
	assert.Equal(t, 7, calls)

	// A successful probe closes it.
	clk.advance(time.Minute)
	fail.Store(false)
	require.NoError(t, b.HandleEvent(ctx, e))
	assert.Equal(t, flow.Closed, b.State())
	require.NoError(t, b.HandleEvent(ctx, e))
	assert.Equal(t, []string{"api:closed>open", "api:open>half_open", "api:half_open>open", "api:open>half_open", "api:half_open>closed"}, tr.list())
}

func TestBreakerFailureRatio(t *testing.T) {
	var fail atomic.Bool
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		if fail.Load() {
			return errDown
		}
		return nil
	})
	clk := newClock()
	b := flow.NewBreaker(h, flow.BreakerConfig{FailureRatio: 0.5, MinCalls: 10, Window: 10 * time.Second})
	flow.SetClock(b, clk.now)
	ctx, e := context.Background(), &receiver.Event{}
	// Alternating: never two failures in a row, but half of the calls fail.
	for i := range 9 {
		fail.Store(i%2 == 0)
		_ = b.HandleEvent(ctx, e)
		clk.advance(100 * time.Millisecond)
	}
	assert.Equal(t, flow.Closed, b.State(), "5 failures in 9 calls: below MinCalls")
	fail.Store(false)
	require.NoError(t, b.HandleEvent(ctx, e))
	assert.Equal(t, flow.Closed, b.State(), "a success does not trip")
	fail.Store(true)
	require.ErrorIs(t, b.HandleEvent(ctx, e), errDown)
	assert.Equal(t, flow.Open, b.State(), "6 failures in 11 calls over the window")

	// Calls older than the window do not count.
	b2 := flow.NewBreaker(h, flow.BreakerConfig{FailureRatio: 0.5, MinCalls: 4, Window: 10 * time.Second})
	flow.SetClock(b2, clk.now)
	fail.Store(true)
	for range 3 {
		_ = b2.HandleEvent(ctx, e)
	}
	clk.advance(11 * time.Second)
	fail.Store(false)
	for range 3 {
		_ = b2.HandleEvent(ctx, e)
	}
	fail.Store(true)
	_ = b2.HandleEvent(ctx, e)
	assert.Equal(t, flow.Closed, b2.State(), "1 failure in the 4 calls of the window")
}

func TestBreakerCountsOnlyDownstreamFailures(t *testing.T) {
	var err atomic.Pointer[error]
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return *err.Load() })
	b := flow.NewBreaker(h, flow.BreakerConfig{ConsecutiveFailures: 2})
	ctx, e := context.Background(), &receiver.Event{}
	for _, faultOfEvent := range []error{
		receiver.Permanent(errors.New("bad event")),
		receiver.ErrInvalidPayload,
		receiver.ErrNoHandler,
		receiver.Defer(time.Second, "rate"),
	} {
		err.Store(&faultOfEvent)
		for range 3 {
			_ = b.HandleEvent(ctx, e)
		}
		assert.Equal(t, flow.Closed, b.State(), "tripped by %v", faultOfEvent)
	}
	down, deferred := errDown, receiver.Defer(time.Second, "rate")
	err.Store(&down)
	_ = b.HandleEvent(ctx, e)
	err.Store(&deferred)
	_ = b.HandleEvent(ctx, e) // not counted: neither a failure nor a success
	err.Store(&down)
	_ = b.HandleEvent(ctx, e)
	assert.Equal(t, flow.Open, b.State(), "two failures with a deferral between them")
}

func TestBreakerHalfOpenProbes(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	var fail atomic.Bool
	fail.Store(true)
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		if fail.Load() {
			return errDown
		}
		started <- struct{}{}
		<-release
		return nil
	})
	clk := newClock()
	b := flow.NewBreaker(h, flow.BreakerConfig{ConsecutiveFailures: 1, OpenFor: time.Second, Probes: 2})
	flow.SetClock(b, clk.now)
	ctx, e := context.Background(), &receiver.Event{}
	require.ErrorIs(t, b.HandleEvent(ctx, e), errDown)
	require.Equal(t, flow.Open, b.State())
	clk.advance(time.Second)
	fail.Store(false)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { assert.NoError(t, b.HandleEvent(ctx, e)) })
	}
	<-started
	<-started
	assert.Equal(t, flow.HalfOpen, b.State())
	de := deferral(t, b.HandleEvent(ctx, e)) // a third call while two probes run
	assert.Equal(t, flow.ReasonCircuitOpen, de.Reason)
	assert.LessOrEqual(t, de.After, time.Second)
	close(release)
	wg.Wait()
	assert.Equal(t, flow.Closed, b.State(), "two successful probes")
}

func TestNewBreakerRefusesBadConfig(t *testing.T) {
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil })
	assert.Panics(t, func() { flow.NewBreaker(nil, flow.BreakerConfig{}) })
	assert.Panics(t, func() { flow.NewBreaker(h, flow.BreakerConfig{FailureRatio: 1.5}) })
	assert.Panics(t, func() { flow.NewBreaker(h, flow.BreakerConfig{ConsecutiveFailures: -1}) })
	assert.Panics(t, func() { flow.NewBreaker(h, flow.BreakerConfig{OpenFor: -time.Second}) })
	assert.Equal(t, "half_open", flow.HalfOpen.String())
	assert.Equal(t, "unknown", flow.State(9).String())
}

func TestBreakersPerRoute(t *testing.T) {
	mux := receiver.NewMux()
	var invoiceCalls, customerCalls atomic.Int32
	mux.HandleFunc("invoice.*", func(context.Context, *receiver.Event) error { invoiceCalls.Add(1); return errDown })
	mux.HandleFunc("customer.*", func(context.Context, *receiver.Event) error { customerCalls.Add(1); return nil })
	tr := &transitions{}
	bs := flow.NewBreakers(mux, flow.BreakerConfig{Name: "stripe", ConsecutiveFailures: 2, OpenFor: time.Hour, OnStateChange: tr.record})
	mux.Use(bs.Middleware)
	ctx := context.Background()
	inv, cust := &receiver.Event{Type: "invoice.paid"}, &receiver.Event{Type: "customer.created"}
	for range 2 {
		require.ErrorIs(t, mux.HandleEvent(ctx, inv), errDown)
	}
	assert.Equal(t, flow.Open, bs.State("invoice.*"))
	deferral(t, mux.HandleEvent(ctx, inv))
	assert.EqualValues(t, 2, invoiceCalls.Load(), "calls of the open route")
	for range 3 {
		require.NoError(t, mux.HandleEvent(ctx, cust), "another route is not paused")
	}
	assert.Equal(t, flow.Closed, bs.State("customer.*"))
	assert.Equal(t, flow.Closed, bs.State("never.*"))
	assert.ErrorIs(t, mux.HandleEvent(ctx, &receiver.Event{Type: "other"}), receiver.ErrNoHandler)
	assert.Equal(t, []string{"stripe:invoice.*:closed>open"}, tr.list())
	assert.Panics(t, func() { flow.NewBreakers(nil, flow.BreakerConfig{}) })
	assert.Panics(t, func() { flow.NewBreakers(mux, flow.BreakerConfig{Probes: -1}) })
}

func TestBreakerHandlerPanicIsAFailure(t *testing.T) {
	var panics atomic.Bool
	panics.Store(true)
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		if panics.Load() {
			panic("handler bug")
		}
		return nil
	})
	clk := newClock()
	b := flow.NewBreaker(h, flow.BreakerConfig{ConsecutiveFailures: 1, OpenFor: time.Second})
	flow.SetClock(b, clk.now)
	ctx, e := context.Background(), &receiver.Event{}
	assert.Panics(t, func() { _ = b.HandleEvent(ctx, e) }, "the panic goes on to the receiver, which recovers it")
	assert.Equal(t, flow.Open, b.State())
	clk.advance(time.Second)
	assert.Panics(t, func() { _ = b.HandleEvent(ctx, e) }, "a probe that panics")
	assert.Equal(t, flow.Open, b.State(), "a panicking probe opens the breaker again")
	clk.advance(time.Second)
	panics.Store(false)
	require.NoError(t, b.HandleEvent(ctx, e), "the probe slot was given back")
	assert.Equal(t, flow.Closed, b.State())
}
