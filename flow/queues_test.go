package flow_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// queueKinds are the real queues the flow tests run with: the options that
// give a receiver each.
var queueKinds = []struct {
	name string
	opts func(t *testing.T, workers int) []receiver.Option
}{
	{"memory", func(_ *testing.T, workers int) []receiver.Option {
		return []receiver.Option{receiver.Workers(workers)}
	}},
	{"redis", func(t *testing.T, workers int) []receiver.Option {
		s := redistest.Start(t)
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = rdb.Close() })
		require.NoError(t, rdb.Ping(context.Background()).Err())
		q := redisq.New(rdb, redisq.Consumer("flow-test"), redisq.Workers(workers),
			redisq.PollInterval(10*time.Millisecond), redisq.CallTimeout(2*time.Second))
		return []receiver.Option{receiver.WithQueue(q), receiver.WithDeadLetters(redisq.NewDeadLetters(rdb))}
	}},
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, what)
}

// TestBreakerOpenConsumesNoAttempts runs a breaker with each real queue:
// while it is open, the handler is not called and no event's attempt is
// used up, however long the events wait; once the downstream is back, every
// event is handled, the ones that arrived while it was open at attempt 1.
func TestBreakerOpenConsumesNoAttempts(t *testing.T) {
	for _, kind := range queueKinds {
		t.Run(kind.name, func(t *testing.T) {
			var down atomic.Bool
			down.Store(true)
			got := newSeen()
			var calls atomic.Int32
			// The first two attempts (evt_a's and evt_b's) wait for each
			// other, so both fail before either is retried: on a machine
			// slow enough to delay evt_b past evt_a's backoff, evt_a's retry
			// would otherwise be the second failure, its last attempt, and
			// be dead-lettered.
			bothIn := make(chan struct{})
			h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
				switch calls.Add(1) {
				case 1:
					<-bothIn
				case 2:
					close(bothIn)
				}
				if down.Load() {
					return errDown
				}
				got.add(e)
				return nil
			})
			b := flow.NewBreaker(h, flow.BreakerConfig{Name: "api", ConsecutiveFailures: 2, OpenFor: 2 * time.Second})
			// The breaker's clock moves only when the test says: however
			// slowly a loaded machine runs the deliveries below, no probe
			// can run (and fail, using up an attempt) before the
			// downstream is back.
			clk := newClock()
			flow.SetClock(b, clk.now)
			mux := receiver.NewMux()
			mux.Handle("invoice.*", b)
			opts := append(kind.opts(t, 4), receiver.MaxAttempts(2), receiver.Backoff(5*time.Millisecond, 10*time.Millisecond))
			rc, st := newReceiver(t, mux, opts...)

			// Two failures open the breaker.
			require.Equal(t, 200, deliver(rc, "evt_a", "invoice.paid").Code)
			require.Equal(t, 200, deliver(rc, "evt_b", "invoice.paid").Code)
			waitUntil(t, "the breaker opens", func() bool { return b.State() == flow.Open })

			// Deliveries while it is open are accepted and deferred, the
			// retries of the first two as well.
			ids := []string{"evt_1", "evt_2", "evt_3", "evt_4", "evt_5"}
			for _, id := range ids {
				require.Equal(t, 200, deliver(rc, id, "invoice.paid").Code, "delivery while the breaker is open")
			}
			waitUntil(t, "every event deferred", func() bool { return st.count(receiver.StageDeferred) >= 7 })
			assert.Equal(t, flow.Open, b.State(), "still open (OpenFor not passed)")
			assert.EqualValues(t, 2, calls.Load(), "handler calls while the breaker is open")
			assert.Equal(t, 2, st.count(receiver.StageRetried), "failed attempts: only the two that opened it")
			assert.Zero(t, st.count(receiver.StageDeadLettered), "dead letters while open")
			stats, err := rc.Stats(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 7, stats.Depth, "deferred events wait in the queue")
			for _, o := range st.of(receiver.StageDeferred) {
				assert.Equal(t, flow.ReasonCircuitOpen, o.Reason)
				assert.ErrorIs(t, o.Err, receiver.ErrDeferred)
			}

			// The downstream comes back and OpenFor passes: the probe closes
			// the breaker and everything is handled without spending more
			// attempts.
			down.Store(false)
			clk.advance(2 * time.Second)
			drain(t, rc)
			assert.Equal(t, flow.Closed, b.State())
			for _, id := range ids {
				assert.Equal(t, []int{1}, got.get(id), "%s: attempts when handled", id)
			}
			assert.Equal(t, []int{2}, got.get("evt_a"))
			assert.Equal(t, []int{2}, got.get("evt_b"))
			assert.Equal(t, 7, st.count(receiver.StageHandled))
			assert.Equal(t, 2, st.count(receiver.StageRetried), "a deferral was reported as a retry")
			assert.Zero(t, st.count(receiver.StageDeadLettered), "events dead-lettered")
			dls, err := rc.DeadLetters().List(context.Background(), 0)
			require.NoError(t, err)
			assert.Empty(t, dls)
		})
	}
}

// TestBreakerOpenFillsMemoryQueue: with the in-memory queue, deferred
// events keep their place in its bounds, so while the breaker stays open
// the queue fills and new deliveries get 503 with Retry-After: the senders
// hold them.
func TestBreakerOpenFillsMemoryQueue(t *testing.T) {
	var calls atomic.Int32
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { calls.Add(1); return errDown })
	b := flow.NewBreaker(h, flow.BreakerConfig{ConsecutiveFailures: 1, OpenFor: time.Hour})
	rc, st := newReceiver(t, b, receiver.QueueCapacity(3), receiver.Workers(2), receiver.MaxAttempts(5),
		receiver.Backoff(time.Millisecond, time.Millisecond))
	require.Equal(t, 200, deliver(rc, "evt_0", "invoice.paid").Code)
	waitUntil(t, "the breaker opens", func() bool { return b.State() == flow.Open })
	require.Equal(t, 200, deliver(rc, "evt_1", "invoice.paid").Code)
	require.Equal(t, 200, deliver(rc, "evt_2", "invoice.paid").Code)
	waitUntil(t, "three events deferred", func() bool { return st.count(receiver.StageDeferred) >= 3 })
	w := deliver(rc, "evt_3", "invoice.paid")
	assert.Equal(t, 503, w.Code, "a full in-memory queue while the breaker is open")
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.EqualValues(t, 1, calls.Load(), "handler calls")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := rc.Shutdown(ctx)
	var se *receiver.ShutdownError
	require.ErrorAs(t, err, &se, "events still deferred at shutdown are reported")
	assert.Equal(t, 3, se.Unfinished)
	dls, err := rc.DeadLetters().List(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, dls, 3, "the in-memory queue dead-letters what shutdown leaves")
	for _, d := range dls {
		want := 0 // attempts made: evt_0 failed once, the others never ran
		if d.Event.ID == "evt_0" {
			want = 1
		}
		assert.Equal(t, want, d.Event.Attempt, "%s: attempts recorded", d.Event.ID)
	}
}

// TestLimitMaxInFlight runs a concurrency limit with each real queue and
// measures the calls in flight: never more than the limit, however many
// workers the queue has, and every event handled once at attempt 1.
func TestLimitMaxInFlight(t *testing.T) {
	const limit, events = 3, 30
	for _, kind := range queueKinds {
		t.Run(kind.name, func(t *testing.T) {
			var inFlight, most atomic.Int32
			got := newSeen()
			h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				got.add(e)
				return nil
			})
			l := flow.NewLimit(h, flow.LimitConfig{Name: "crm", MaxInFlight: limit, RetryIn: 5 * time.Millisecond})
			rc, st := newReceiver(t, l, append(kind.opts(t, 16), receiver.MaxAttempts(1))...)
			var wg sync.WaitGroup
			for i := range events {
				wg.Go(func() {
					assert.Equal(t, 200, deliver(rc, "evt_"+strconv.Itoa(i), "invoice.paid").Code)
				})
			}
			wg.Wait()
			drain(t, rc)
			assert.LessOrEqual(t, most.Load(), int32(limit), "calls in flight at once")
			assert.Positive(t, most.Load())
			assert.Equal(t, events, got.total(), "events handled")
			for i := range events {
				assert.Equal(t, []int{1}, got.get("evt_"+strconv.Itoa(i)), "attempts (MaxAttempts 1: a deferral counted would dead-letter)")
			}
			assert.Zero(t, st.count(receiver.StageDeadLettered))
			assert.Zero(t, st.count(receiver.StageRetried))
			for _, o := range st.of(receiver.StageDeferred) {
				assert.Equal(t, flow.ReasonConcurrency, o.Reason)
			}
			assert.Zero(t, l.InFlight())
		})
	}
}
