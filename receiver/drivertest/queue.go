package drivertest

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver/driver"
)

// RunQueue runs the queue suite against queues made by newQueue, one for
// each subtest (with Durable, possibly several on the same storage). The
// queues must be new and empty, not started, with room for Load events at
// once and a body of MaxBody bytes; newQueue may register cleanups. The
// suite shuts down every queue it gets when the subtest ends.
func RunQueue(t *testing.T, newQueue func(t *testing.T) driver.Queue, opts ...Option) {
	t.Helper()
	c := newConfig(opts)
	run := runID()
	var wg sync.WaitGroup
	for _, tc := range queueCases {
		if tc.durable && !c.durable {
			continue
		}
		wg.Go(func() {
			t.Run(tc.name, func(t *testing.T) {
				tc.f(&qenv{t: t, c: c, run: run, newQueue: newQueue})
			})
		})
	}
	wg.Wait()
}

// qenv is one subtest of the queue suite.
type qenv struct {
	t        *testing.T
	c        config
	run      string
	newQueue func(t *testing.T) driver.Queue
	n        int // events made so far
}

// queue returns a new queue from the constructor, shut down when the
// subtest ends.
func (e *qenv) queue() driver.Queue {
	e.t.Helper()
	q := e.newQueue(e.t)
	require.NotNil(e.t, q, "the constructor returned a nil queue")
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(bg, e.c.wait)
		defer cancel()
		_ = q.Shutdown(ctx)
	})
	return q
}

// gate returns a gate opened when the subtest ends (before its queues are
// shut down).
func (e *qenv) gate() *gate {
	g := newGate()
	e.t.Cleanup(g.open)
	return g
}

// start starts q with p.
func (e *qenv) start(q driver.Queue, p *processor) {
	e.t.Helper()
	require.NoError(e.t, q.Start(p), "Start")
}

// event returns a new event, unique to the run, as the receiver enqueues it.
func (e *qenv) event(name string) *driver.Event {
	e.n++
	return &driver.Event{
		Provider:   "drivertest",
		ID:         "evt_" + e.run + "_" + name + "_" + serial(),
		Type:       "drivertest.event",
		Version:    "2026-01-01",
		ReceivedAt: time.Now(),
		Header:     http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {e.run}},
		Body:       []byte(`{"name":"` + name + `","n":` + strconv.Itoa(e.n) + `}`),
		Attempt:    1,
		ClaimToken: newToken(),
		Meta:       map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
}

// enqueue enqueues a copy of ev, so that the driver cannot change the
// suite's.
func (e *qenv) enqueue(q driver.Queue, ev *driver.Event) {
	e.t.Helper()
	require.NoError(e.t, q.Enqueue(bg, clone(ev)), "Enqueue(%s)", ev.ID)
}

// enqueueAll enqueues copies of evs from many goroutines at once.
func (e *qenv) enqueueAll(q driver.Queue, evs []*driver.Event) {
	e.t.Helper()
	const goroutines = 50
	errs := make([]error, len(evs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range goroutines {
		wg.Go(func() {
			for i := range next {
				errs[i] = q.Enqueue(bg, clone(evs[i]))
			}
		})
	}
	for i := range evs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		require.NoError(e.t, err, "Enqueue %d of %d", i, len(evs))
	}
}

// await waits until n calls for ev have returned.
func (e *qenv) await(p *processor, ev *driver.Event, n int) {
	e.t.Helper()
	waitFor(e.t, e.c, p.changed, strconv.Itoa(n)+" finished attempt(s) of "+ev.ID,
		func() bool { return p.ended(ev.ClaimToken) >= n })
}

// awaitRunning waits until ev is in Process.
func (e *qenv) awaitRunning(p *processor, ev *driver.Event) {
	e.t.Helper()
	waitFor(e.t, e.c, p.changed, ev.ID+" in Process", func() bool { return len(p.of(ev.ClaimToken)) > 0 })
}

// once checks that ev was processed exactly once, intact, with a live
// context, after watching for a second call for a while.
func (e *qenv) once(p *processor, ev *driver.Event, what string) {
	e.t.Helper()
	e.onceEach(p, []*driver.Event{ev}, what)
}

// onceEach checks that each of evs was processed exactly once, intact, with
// a live context, after watching for second calls for a while.
func (e *qenv) onceEach(p *processor, evs []*driver.Event, what string) {
	e.t.Helper()
	for _, ev := range evs {
		e.await(p, ev, 1)
	}
	time.Sleep(settle)
	for i, ev := range evs {
		what := what
		if len(evs) > 1 {
			what += " " + strconv.Itoa(i)
		}
		calls := p.of(ev.ClaimToken)
		require.Len(e.t, calls, 1, "%s: Process calls", what)
		sameEvent(e.t, e.c, ev, calls[0].e, false, what)
		assert.NoError(e.t, calls[0].ctxErr, "%s: Process called with a done context", what)
	}
}

// shutdown shuts q down within the suite's wait.
func (e *qenv) shutdown(q driver.Queue) error {
	ctx, cancel := context.WithTimeout(bg, e.c.wait)
	defer cancel()
	return q.Shutdown(ctx)
}

var errBoom = errors.New("drivertest: handler failed")

// roundTrip returns a queue case that enqueues the event mod makes of a
// plain one and checks that it reaches Process once, intact.
func roundTrip(mod func(e *qenv, ev *driver.Event)) func(e *qenv) {
	return func(e *qenv) {
		q := e.queue()
		p := newProcessor(nil)
		e.start(q, p)
		ev := e.event("roundtrip")
		mod(e, ev)
		e.enqueue(q, ev)
		e.once(p, ev, "the event")
		assert.Zero(e.t, p.abandons(), "events abandoned")
	}
}

var queueCases = []struct {
	name    string
	durable bool // runs only with Durable
	f       func(e *qenv)
}{
	{name: "RoundTrip/Plain", f: roundTrip(func(*qenv, *driver.Event) {})},
	{name: "RoundTrip/AllFields", f: roundTrip(func(e *qenv, ev *driver.Event) {
		ev.ReceivedAt = time.Now().In(time.FixedZone("UTC+5:30", 5*3600+1800))
		ev.Header = manyHeader()
		ev.Meta = fullMeta()
		ev.Version = "v1.2.3-beta+build.7"
		ev.Type = "customer.subscription.trial_will_end"
	})},
	{name: "RoundTrip/NoID", f: roundTrip(func(e *qenv, ev *driver.Event) { ev.ID = "" })},
	{name: "RoundTrip/BinaryBody", f: roundTrip(func(e *qenv, ev *driver.Event) { ev.Body = binaryBody() })},
	{name: "RoundTrip/EmptyBody", f: roundTrip(func(e *qenv, ev *driver.Event) {
		ev.Body, ev.Header, ev.Meta, ev.Version = nil, nil, nil, ""
	})},
	{name: "RoundTrip/LargeBody", f: roundTrip(func(e *qenv, ev *driver.Event) { ev.Body = bigBody(e.c.maxBody) })},
	{name: "RoundTrip/ManyHeaderValues", f: roundTrip(func(e *qenv, ev *driver.Event) { ev.Header = manyHeader() })},
	{name: "RoundTrip/NotUTF8", f: roundTrip(func(e *qenv, ev *driver.Event) {
		// net/http accepts bytes 0x80-0xff (obs-text) in header values:
		// they need not be UTF-8, and must come back as they were. So must
		// Meta's values, which a Propagator may copy from a request.
		ev.Header, ev.Meta = notUTF8()
	})},
	{name: "RoundTrip/MetaAtBounds", f: roundTrip(func(e *qenv, ev *driver.Event) { ev.Meta = fullMeta() })},
	{name: "RoundTrip/LongFields", f: roundTrip(func(e *qenv, ev *driver.Event) {
		// The receiver's bounds (MaxIDBytes, MaxTypeBytes, MaxVersionBytes),
		// in printable ASCII with characters that are special elsewhere
		// (":", braces, quotes, "%", "~" past the first byte).
		ev.ID = (ev.ID + ":" + string(bigASCII(256)))[:256]
		ev.Type = (ev.Type + ":" + string(bigASCII(256)))[:256]
		ev.Version = "v" + string(bigASCII(63))
	})},
	{name: "RoundTrip/Target", f: roundTrip(func(e *qenv, ev *driver.Event) {
		ev.Target = "billing-api.v2_" + strings.Repeat("x", driver.MaxTargetBytes-15)
	})},
	{name: "RoundTrip/TargetNoID", f: roundTrip(func(e *qenv, ev *driver.Event) { ev.ID, ev.Target = "", "crm" })},
	{name: "RoundTrip/LaterAttempt", f: roundTrip(func(e *qenv, ev *driver.Event) { ev.Attempt = 4 })},
	{name: "RoundTrip/SameIDTwice", f: func(e *qenv) {
		// Two deliveries of one event ID (the receiver's dedupe decides
		// which to handle, not the queue): both are queued and processed,
		// each with its own claim token.
		q := e.queue()
		p := newProcessor(nil)
		e.start(q, p)
		a := e.event("same")
		b := e.event("same")
		b.ID = a.ID
		e.enqueue(q, a)
		e.enqueue(q, b)
		e.onceEach(p, []*driver.Event{a, b}, "delivery")
	}},
	{name: "EnqueueBeforeStart", f: func(e *qenv) {
		q := e.queue()
		evs := []*driver.Event{e.event("early"), e.event("early"), e.event("early")}
		evs[1].ID = ""
		for _, ev := range evs {
			e.enqueue(q, ev)
		}
		p := newProcessor(nil)
		e.start(q, p)
		e.onceEach(p, evs, "event enqueued before Start")
	}},
	{name: "Retry", f: func(e *qenv) {
		const delay = 150 * time.Millisecond
		q := e.queue()
		p := newProcessor(func(_ context.Context, ev *driver.Event) driver.Result {
			switch ev.Attempt {
			case 1:
				return driver.Result{Retry: true, Delay: delay, Err: errBoom}
			case 2:
				return driver.Result{Retry: true, Err: errBoom} // no delay
			}
			return driver.Result{}
		})
		e.start(q, p)
		ev := e.event("retry")
		ev.Header = manyHeader()
		ev.Meta = fullMeta()
		ev.Target = "ledger" // a fan-out copy keeps its target through retries
		e.enqueue(q, ev)
		e.await(p, ev, 3)
		time.Sleep(settle)
		calls := p.of(ev.ClaimToken)
		require.Len(e.t, calls, 3, "attempts of an event retried twice, then done")
		for i, c := range calls {
			want := clone(ev)
			want.Attempt = i + 1
			sameEvent(e.t, e.c, want, c.e, false, "attempt "+strconv.Itoa(i+1))
			assert.NoError(e.t, c.ctxErr, "attempt %d called with a done context", i+1)
		}
		gap := calls[1].start.Sub(calls[0].end)
		assert.GreaterOrEqual(e.t, gap, delay-e.c.schedule,
			"attempt 2 started %v after attempt 1 returned Retry with Delay %v", gap, delay)
		assert.GreaterOrEqual(e.t, calls[2].start.Sub(calls[1].end), time.Duration(0), "attempt 3 started before attempt 2 returned")
		assert.Zero(e.t, p.abandons(), "events abandoned")
	}},
	{name: "RetryKeepAttempt", f: func(e *qenv) {
		// A deferred attempt (Retry with KeepAttempt) runs again after its
		// Delay with the same Attempt: it does not use up an attempt. A
		// later plain Retry counts from there.
		const delay = 100 * time.Millisecond
		q := e.queue()
		var mu sync.Mutex
		calls := 0
		p := newProcessor(func(_ context.Context, ev *driver.Event) driver.Result {
			mu.Lock()
			defer mu.Unlock()
			calls++
			switch calls {
			case 1, 2, 3:
				return driver.Result{Retry: true, KeepAttempt: true, Delay: delay, Err: errBoom}
			case 4:
				return driver.Result{Retry: true, Err: errBoom}
			}
			return driver.Result{}
		})
		e.start(q, p)
		ev := e.event("deferred")
		ev.Meta = fullMeta()
		ev.Target = "ledger"
		e.enqueue(q, ev)
		e.await(p, ev, 5)
		time.Sleep(settle)
		got := p.of(ev.ClaimToken)
		require.Len(e.t, got, 5, "calls of an event deferred three times, retried once, then done")
		for i, c := range got {
			want := clone(ev)
			want.Attempt = 1
			if i == 4 {
				want.Attempt = 2
			}
			sameEvent(e.t, e.c, want, c.e, false, "call "+strconv.Itoa(i+1))
		}
		for i := 1; i < 4; i++ {
			gap := got[i].start.Sub(got[i-1].end)
			assert.GreaterOrEqual(e.t, gap, delay-e.c.schedule,
				"call %d started %v after call %d returned a deferral with Delay %v", i+1, gap, i, delay)
		}
		assert.Zero(e.t, p.abandons(), "events abandoned")
	}},
	{name: "RetryKeepsOtherEventsGoing", f: func(e *qenv) {
		// An event waiting for its retry does not hold back the others.
		q := e.queue()
		p := newProcessor(func(_ context.Context, ev *driver.Event) driver.Result {
			if ev.Type == "slow" {
				return driver.Result{Retry: true, Delay: time.Hour, Err: errBoom}
			}
			return driver.Result{}
		})
		e.start(q, p)
		slow := e.event("slow")
		slow.Type = "slow"
		e.enqueue(q, slow)
		e.await(p, slow, 1)
		fast := e.event("fast")
		e.enqueue(q, fast)
		e.once(p, fast, "an event enqueued after another's Retry (Delay 1h)")
		assert.Len(e.t, p.of(slow.ClaimToken), 1, "attempts of an event retried with Delay 1h")
		// Not waiting an hour for it: the in-memory queue abandons the
		// retry, a durable one keeps it.
		ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
		defer cancel()
		_ = q.Shutdown(ctx)
	}},
	{name: "ResultsThatFinish", f: func(e *qenv) {
		// A result without Retry finishes the event, whatever its Err and
		// Delay: the event is never processed again.
		results := []driver.Result{
			{},
			{Err: errBoom},
			{Err: errBoom, Delay: time.Millisecond},
			{Delay: time.Millisecond},
		}
		var mu sync.Mutex
		byToken := map[string]driver.Result{}
		q := e.queue()
		p := newProcessor(func(_ context.Context, ev *driver.Event) driver.Result {
			mu.Lock()
			defer mu.Unlock()
			return byToken[ev.ClaimToken]
		})
		e.start(q, p)
		var evs []*driver.Event
		for _, r := range results {
			ev := e.event("finish")
			mu.Lock()
			byToken[ev.ClaimToken] = r
			mu.Unlock()
			evs = append(evs, ev)
			e.enqueue(q, ev)
		}
		e.onceEach(p, evs, "event finished with result")
		assert.Zero(e.t, p.abandons(), "events abandoned")
	}},
	{name: "ConcurrentEnqueue", f: func(e *qenv) {
		// Load events from many goroutines at once, a tenth of them retried
		// once: each is processed exactly as often as it asked.
		q := e.queue()
		p := newProcessor(func(_ context.Context, ev *driver.Event) driver.Result {
			if ev.Type == "again" && ev.Attempt == 1 {
				return driver.Result{Retry: true, Delay: 5 * time.Millisecond, Err: errBoom}
			}
			return driver.Result{}
		})
		e.start(q, p)
		evs := make([]*driver.Event, e.c.load)
		want := make(map[string]int, len(evs))
		for i := range evs {
			ev := e.event("load")
			switch {
			case i%10 == 0:
				ev.Type = "again"
				want[ev.ClaimToken] = 2
			default:
				want[ev.ClaimToken] = 1
			}
			if i%7 == 0 {
				ev.ID = ""
			}
			evs[i] = ev
		}
		e.enqueueAll(q, evs)
		total := 0
		for _, n := range want {
			total += n
		}
		waitFor(e.t, e.c, p.changed, strconv.Itoa(total)+" Process calls", func() bool { return p.total() >= total })
		time.Sleep(settle)
		got := p.count()
		lost, dup := 0, 0
		for tok, n := range want {
			switch {
			case got[tok] < n:
				lost++
			case got[tok] > n:
				dup++
			}
		}
		assert.Zero(e.t, lost, "events processed less often than they asked")
		assert.Zero(e.t, dup, "events processed more often than they asked")
		assert.Len(e.t, got, len(want), "distinct events processed")
		assert.Equal(e.t, total, p.total(), "Process calls")
		assert.Zero(e.t, p.abandons(), "events abandoned")
	}},
	{name: "SecondStart", f: func(e *qenv) {
		q := e.queue()
		first, second := newProcessor(nil), newProcessor(nil)
		e.start(q, first)
		err := q.Start(second)
		require.ErrorIs(e.t, err, driver.ErrStarted, "second Start")
		ev := e.event("start")
		e.enqueue(q, ev)
		e.once(first, ev, "the event, after a refused second Start")
		assert.Zero(e.t, second.total(), "Process calls of the processor given to the refused Start")
	}},
	{name: "EnqueueAfterShutdown", f: func(e *qenv) {
		q := e.queue()
		p := newProcessor(nil)
		e.start(q, p)
		ev := e.event("before")
		e.enqueue(q, ev)
		e.await(p, ev, 1)
		require.NoError(e.t, e.shutdown(q), "Shutdown with nothing running")
		require.ErrorIs(e.t, q.Enqueue(bg, e.event("after")), driver.ErrClosed, "Enqueue after Shutdown")
		// Started once already, shut down since: either error says why.
		err := q.Start(newProcessor(nil))
		assert.True(e.t, errors.Is(err, driver.ErrStarted) || errors.Is(err, driver.ErrClosed),
			"Start after Start and Shutdown returned %v, want ErrStarted or ErrClosed", err)
		require.ErrorIs(e.t, e.shutdown(q), driver.ErrClosed, "second Shutdown")
		time.Sleep(settle)
		assert.Equal(e.t, 1, p.total(), "Process calls")
	}},
	{name: "ShutdownNeverStarted", f: func(e *qenv) {
		q := e.queue()
		require.NoError(e.t, e.shutdown(q), "Shutdown of a queue never started")
		require.ErrorIs(e.t, q.Enqueue(bg, e.event("after")), driver.ErrClosed, "Enqueue after Shutdown")
		p := newProcessor(nil)
		require.ErrorIs(e.t, q.Start(p), driver.ErrClosed, "Start after Shutdown")
		require.ErrorIs(e.t, e.shutdown(q), driver.ErrClosed, "second Shutdown")
		assert.Zero(e.t, p.total(), "Process calls")
	}},
	{name: "ShutdownWaitsForInFlight", f: func(e *qenv) {
		q := e.queue()
		g := e.gate()
		p := newProcessor(func(ctx context.Context, _ *driver.Event) driver.Result {
			if err := g.wait(ctx); err != nil {
				return driver.Result{Retry: true, Err: err}
			}
			return driver.Result{}
		})
		e.start(q, p)
		ev := e.event("inflight")
		e.enqueue(q, ev)
		e.awaitRunning(p, ev)
		done := make(chan error, 1)
		go func() { done <- e.shutdown(q) }()
		select {
		case err := <-done:
			require.Failf(e.t, "Shutdown did not wait", "Shutdown returned %v while Process was running", err)
		case <-time.After(settle):
		}
		// Intake stopped as Shutdown began.
		assert.ErrorIs(e.t, q.Enqueue(bg, e.event("during")), driver.ErrClosed, "Enqueue while Shutdown waits")
		g.open()
		select {
		case err := <-done:
			require.NoError(e.t, err, "Shutdown once the Process call returned")
		case <-time.After(e.c.wait):
			require.FailNow(e.t, "Shutdown did not return", "waited %v after the Process call returned", e.c.wait)
		}
		calls := p.of(ev.ClaimToken)
		require.Len(e.t, calls, 1, "Process calls")
		assert.False(e.t, calls[0].end.IsZero(), "Shutdown returned before Process did")
		assert.Equal(e.t, 1, p.total(), "Process calls")
	}},
	{name: "ShutdownDeadline", f: func(e *qenv) {
		// A handler that runs past Shutdown's deadline sees its context
		// cancelled, and Shutdown reports the deadline.
		q := e.queue()
		g := e.gate()
		p := newProcessor(func(ctx context.Context, _ *driver.Event) driver.Result {
			if err := g.wait(ctx); err != nil {
				return driver.Result{Retry: true, Err: err}
			}
			return driver.Result{}
		})
		e.start(q, p)
		ev := e.event("deadline")
		e.enqueue(q, ev)
		e.awaitRunning(p, ev)
		ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- q.Shutdown(ctx) }()
		select {
		case err := <-done:
			require.ErrorIs(e.t, err, context.DeadlineExceeded, "Shutdown past its deadline")
		case <-time.After(e.c.wait):
			require.FailNow(e.t, "Shutdown did not return", "waited %v past its deadline", e.c.wait)
		}
		// The handler honoured its cancelled context and returned.
		e.await(p, ev, 1)
		require.ErrorIs(e.t, q.Enqueue(bg, e.event("after")), driver.ErrClosed, "Enqueue after Shutdown")
	}},
	{name: "Stats", f: func(e *qenv) {
		q := e.queue()
		sr, ok := q.(driver.StatsReader)
		if !ok {
			e.t.Log("the queue does not implement driver.StatsReader")
			return
		}
		stats := func() driver.Stats {
			e.t.Helper()
			st, err := sr.Stats(bg)
			require.NoError(e.t, err, "Stats")
			return st
		}
		st := stats()
		assert.Zero(e.t, st.Depth, "Depth of an empty queue")
		assert.Zero(e.t, st.OldestAge, "OldestAge of an empty queue")

		g := e.gate()
		p := newProcessor(func(ctx context.Context, ev *driver.Event) driver.Result {
			if ev.Type == "later" && ev.Attempt == 1 {
				return driver.Result{Retry: true, Delay: 500 * time.Millisecond, Err: errBoom}
			}
			if err := g.wait(ctx); err != nil {
				return driver.Result{Retry: true, Err: err}
			}
			return driver.Result{}
		})
		evs := []*driver.Event{e.event("stats"), e.event("stats"), e.event("stats")}
		for _, ev := range evs {
			e.enqueue(q, ev)
		}
		const aged = 50 * time.Millisecond
		time.Sleep(aged)
		st = stats()
		assert.Equal(e.t, len(evs), st.Depth, "Depth: events queued before Start")
		assert.GreaterOrEqual(e.t, st.OldestAge, aged-e.c.schedule, "OldestAge of events queued %v ago", aged)
		assert.Less(e.t, st.OldestAge, time.Hour, "OldestAge of events queued %v ago", aged)

		e.start(q, p)
		e.awaitRunning(p, evs[0])
		st = stats()
		assert.Equal(e.t, len(evs), st.Depth, "Depth: queued and running events")
		g.open()
		for _, ev := range evs {
			e.await(p, ev, 1)
		}
		waitFor(e.t, e.c, nil, "Depth 0 once every event finished", func() bool { return stats().Depth == 0 })
		assert.Zero(e.t, stats().OldestAge, "OldestAge with no event waiting")

		later := e.event("later")
		later.Type = "later"
		e.enqueue(q, later)
		e.await(p, later, 1)
		// Read before the retry started (it is due in 500ms), Depth counts
		// the event waiting for it.
		if st := stats(); len(p.of(later.ClaimToken)) == 1 {
			assert.Equal(e.t, 1, st.Depth, "Depth: an event waiting for its retry")
		}
		e.await(p, later, 2)
		waitFor(e.t, e.c, nil, "Depth 0 once the retried event finished", func() bool { return stats().Depth == 0 })
	}},
	{name: "Bound", f: func(e *qenv) {
		n := e.c.queueMax
		if n <= 0 {
			e.t.Log("the queue declares no bound (QueueBound)")
			return
		}
		q := e.queue()
		evs := make([]*driver.Event, n)
		for i := range evs {
			evs[i] = e.event("bound")
		}
		e.enqueueAll(q, evs)
		require.ErrorIs(e.t, q.Enqueue(bg, e.event("over")), driver.ErrQueueFull, "Enqueue beyond the bound of %d", n)
		// Every event asks for a retry, and its second attempt waits for the
		// gate: until it opens, no event can finish, and the queue, full,
		// takes back every retry and refuses new events.
		g := e.gate()
		p := newProcessor(func(ctx context.Context, ev *driver.Event) driver.Result {
			if ev.Attempt == 1 {
				return driver.Result{Retry: true, Err: errBoom}
			}
			if err := g.wait(ctx); err != nil {
				return driver.Result{Retry: true, Err: err}
			}
			return driver.Result{}
		})
		e.start(q, p)
		waitFor(e.t, e.c, p.changed, "a second attempt", func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, c := range p.calls {
				if c.e.Attempt == 2 {
					return true
				}
			}
			return false
		})
		require.ErrorIs(e.t, q.Enqueue(bg, e.event("over")), driver.ErrQueueFull, "Enqueue beyond the bound while retries wait")
		g.open()
		for _, ev := range evs {
			e.await(p, ev, 2)
		}
		for i, ev := range evs {
			if !assert.Len(e.t, p.of(ev.ClaimToken), 2, "attempts of event %d, retried once in a full queue", i) {
				break
			}
		}
		// Finished events make room again.
		var room error
		waitFor(e.t, e.c, nil, "room for an event once the others finished", func() bool {
			room = q.Enqueue(bg, e.event("room"))
			return room == nil
		})
		assert.Zero(e.t, p.abandons(), "events abandoned")
	}},
	{name: "IdempotentEnqueue", f: func(e *qenv) {
		if !e.c.idem {
			e.t.Log("the queue does not declare IdempotentEnqueue")
			return
		}
		q := e.queue()
		p := newProcessor(nil)
		ev := e.event("twice")
		e.enqueue(q, ev)
		e.enqueue(q, ev)
		e.start(q, p)
		e.once(p, ev, "an event enqueued twice with one claim token")
	}},
	{name: "Durable/QueuedSurviveShutdown", durable: true, f: func(e *qenv) {
		first := e.queue()
		evs := []*driver.Event{e.event("durable"), e.event("durable"), e.event("durable")}
		evs[1].ID = ""
		evs[2].Body = binaryBody()
		for _, ev := range evs {
			e.enqueue(first, ev)
		}
		require.NoError(e.t, e.shutdown(first), "Shutdown of a queue never started")
		next := e.queue()
		p := newProcessor(nil)
		e.start(next, p)
		e.onceEach(p, evs, "event enqueued to a queue since shut down")
	}},
	{name: "Durable/FinishedStayFinished", durable: true, f: func(e *qenv) {
		first := e.queue()
		p1 := newProcessor(func(_ context.Context, ev *driver.Event) driver.Result {
			if ev.Type == "failed" {
				return driver.Result{Err: errBoom}
			}
			return driver.Result{}
		})
		e.start(first, p1)
		done, failed := e.event("done"), e.event("failed")
		failed.Type = "failed"
		e.enqueue(first, done)
		e.enqueue(first, failed)
		e.await(p1, done, 1)
		e.await(p1, failed, 1)
		require.NoError(e.t, e.shutdown(first), "Shutdown")
		next := e.queue()
		p2 := newProcessor(nil)
		e.start(next, p2)
		fresh := e.event("fresh")
		e.enqueue(next, fresh)
		e.once(p2, fresh, "an event enqueued to the new queue")
		assert.Empty(e.t, p2.of(done.ClaimToken), "an event finished before the Shutdown ran again")
		assert.Empty(e.t, p2.of(failed.ClaimToken), "an event finished (with an error, no retry) before the Shutdown ran again")
	}},
	{name: "Durable/RetrySurvivesShutdown", durable: true, f: func(e *qenv) {
		const delay = 300 * time.Millisecond
		first := e.queue()
		p1 := newProcessor(func(_ context.Context, ev *driver.Event) driver.Result {
			return driver.Result{Retry: true, Delay: delay, Err: errBoom}
		})
		e.start(first, p1)
		ev := e.event("retry")
		ev.Meta = fullMeta()
		e.enqueue(first, ev)
		e.await(p1, ev, 1)
		require.NoError(e.t, e.shutdown(first), "Shutdown")
		returned := p1.of(ev.ClaimToken)[0].end
		next := e.queue()
		p2 := newProcessor(nil)
		e.start(next, p2)
		e.await(p2, ev, 1)
		time.Sleep(settle)
		calls := p2.of(ev.ClaimToken)
		require.Len(e.t, calls, 1, "attempts on the new queue")
		want := clone(ev)
		want.Attempt = 2
		sameEvent(e.t, e.c, want, calls[0].e, false, "the retry run by the new queue")
		assert.GreaterOrEqual(e.t, calls[0].start.Sub(returned), delay-e.c.schedule, "the retry started before its delay")
		assert.Len(e.t, p1.of(ev.ClaimToken), 1, "attempts on the queue shut down")
	}},
	{name: "Durable/OtherEndpointRefused", durable: true, f: func(e *qenv) {
		// A queue shared by processes serves one endpoint: a Start for
		// another is refused, and its events never reach the other's
		// processor.
		first := e.queue()
		p1 := newProcessor(nil)
		e.start(first, p1)
		served := e.event("served")
		e.enqueue(first, served)
		e.await(p1, served, 1)
		require.NoError(e.t, e.shutdown(first), "Shutdown")

		other := e.queue()
		waiting := e.event("waiting")
		e.enqueue(other, waiting)
		intruder := newProcessor(nil)
		intruder.endpoint = "drivertest-other"
		require.Error(e.t, other.Start(intruder), "Start for another endpoint than the one the queue serves")
		time.Sleep(settle)
		assert.Zero(e.t, intruder.total(), "Process calls for another endpoint")
		_ = e.shutdown(other)

		again := e.queue()
		p2 := newProcessor(nil)
		e.start(again, p2)
		e.once(p2, waiting, "the event, by a queue started for its endpoint")
	}},
	{name: "Durable/InFlightSurvivesShutdownDeadline", durable: true, f: func(e *qenv) {
		// A Process call cut short by Shutdown's deadline did not finish
		// its event: a new queue runs it again.
		first := e.queue()
		g := e.gate()
		p1 := newProcessor(func(ctx context.Context, _ *driver.Event) driver.Result {
			if err := g.wait(ctx); err != nil {
				return driver.Result{Retry: true, Err: err}
			}
			return driver.Result{}
		})
		e.start(first, p1)
		ev := e.event("cut")
		e.enqueue(first, ev)
		e.awaitRunning(p1, ev)
		ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
		defer cancel()
		require.ErrorIs(e.t, first.Shutdown(ctx), context.DeadlineExceeded, "Shutdown past its deadline")
		e.await(p1, ev, 1)
		next := e.queue()
		p2 := newProcessor(nil)
		e.start(next, p2)
		e.await(p2, ev, 1)
		calls := p2.of(ev.ClaimToken)
		require.NotEmpty(e.t, calls)
		want := clone(ev)
		want.Attempt = calls[0].e.Attempt // 1 or 2: whether a cut attempt counts is the driver's choice
		assert.Contains(e.t, []int{1, 2}, want.Attempt, "Attempt of the event run again")
		sameEvent(e.t, e.c, want, calls[0].e, false, "the event run again by the new queue")
	}},
}

// bigASCII returns n printable ASCII bytes.
func bigASCII(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0x21 + i%94)
	}
	return b
}
