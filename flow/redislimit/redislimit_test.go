package redislimit_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/flow/redislimit"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

func startRedis(t *testing.T) (*redistest.Server, *redis.Client) {
	t.Helper()
	s := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(context.Background()).Err())
	return s, rdb
}

func TestConcurrencyAcrossReplicas(t *testing.T) {
	_, rdb := startRedis(t)
	const limit, events = 3, 40
	var inFlight, most atomic.Int32
	var handled atomic.Int32
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		handled.Add(1)
		return nil
	})
	// Two replicas: two receivers, two Limits, one Redis.
	const secret = "whsec_redislimit"
	p, err := stripe.New(secret)
	require.NoError(t, err)
	var replicas []*receiver.Receiver
	var deferred atomic.Int32
	obs := receiver.ObserverFunc(func(_ context.Context, o receiver.Observation) {
		if o.Stage == receiver.StageDeferred {
			deferred.Add(1)
			assert.Equal(t, flow.ReasonConcurrency, o.Reason)
		}
	})
	store := redislimit.New(rdb)
	for range 2 {
		l := flow.NewLimit(h, flow.LimitConfig{Name: "crm", MaxInFlight: limit, RetryIn: 5 * time.Millisecond, Store: store})
		rc, err := receiver.New(p, l, receiver.Workers(8), receiver.MaxAttempts(1), receiver.WithObserver(obs))
		require.NoError(t, err)
		t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
		replicas = append(replicas, rc)
	}
	var wg sync.WaitGroup
	for i := range events {
		wg.Go(func() {
			body := `{"id":"evt_` + strconv.Itoa(i) + `","type":"invoice.paid","data":{}}`
			w := httptest.NewRecorder()
			replicas[i%2].ServeHTTP(w, stripe.NewRequest("http://localhost/", secret, time.Now(), []byte(body)))
			assert.Equal(t, 200, w.Code)
		})
	}
	wg.Wait()
	for _, rc := range replicas {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, rc.Drain(ctx))
		cancel()
	}
	assert.EqualValues(t, events, handled.Load(), "every event handled (MaxAttempts 1: a counted deferral would dead-letter it)")
	assert.LessOrEqual(t, most.Load(), int32(limit), "calls in flight across both replicas")
	assert.Positive(t, deferred.Load(), "some events were deferred")
	n, err := store.InFlight(context.Background(), "crm")
	require.NoError(t, err)
	assert.Zero(t, n, "slots released")
}

func TestRate(t *testing.T) {
	_, rdb := startRedis(t)
	store := redislimit.New(rdb)
	cfg := flow.LimitConfig{Name: "api", PerSecond: 5, Burst: 2}
	ctx := context.Background()
	for i := range 2 {
		release, _, _, err := store.Acquire(ctx, cfg)
		require.NoError(t, err)
		require.NotNil(t, release, "call %d of a burst of 2", i)
		release()
	}
	release, wait, reason, err := store.Acquire(ctx, cfg)
	require.NoError(t, err)
	assert.Nil(t, release, "a third call at once")
	assert.Equal(t, flow.ReasonRate, reason)
	assert.Positive(t, wait)
	assert.LessOrEqual(t, wait, 200*time.Millisecond, "5 per second: the next in at most 200ms")
	// Another limit name has its own counts.
	release, _, _, err = store.Acquire(ctx, flow.LimitConfig{Name: "other", PerSecond: 5, Burst: 1})
	require.NoError(t, err)
	assert.NotNil(t, release)
}

func TestLeaseLapses(t *testing.T) {
	_, rdb := startRedis(t)
	store := redislimit.New(rdb, redislimit.Lease(100*time.Millisecond))
	cfg := flow.LimitConfig{Name: "api", MaxInFlight: 1, RetryIn: time.Second}
	ctx := context.Background()
	release, _, _, err := store.Acquire(ctx, cfg)
	require.NoError(t, err)
	require.NotNil(t, release)
	// Not released (its replica died): the slot is taken until the lease lapses.
	r2, wait, reason, err := store.Acquire(ctx, cfg)
	require.NoError(t, err)
	assert.Nil(t, r2)
	assert.Equal(t, flow.ReasonConcurrency, reason)
	assert.Equal(t, time.Second, wait, "RetryIn")
	require.Eventually(t, func() bool {
		r, _, _, err := store.Acquire(ctx, cfg)
		return err == nil && r != nil
	}, 5*time.Second, 20*time.Millisecond, "the slot is free once the lease lapsed")
}

func TestNoName(t *testing.T) {
	_, rdb := startRedis(t)
	_, _, _, err := redislimit.New(rdb).Acquire(context.Background(), flow.LimitConfig{MaxInFlight: 1})
	assert.ErrorIs(t, err, redislimit.ErrNoName)
}

func TestRedisDownDefers(t *testing.T) {
	s, rdb := startRedis(t)
	s.Stop()
	calls := 0
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { calls++; return nil })
	l := flow.NewLimit(h, flow.LimitConfig{Name: "api", MaxInFlight: 1, RetryIn: 50 * time.Millisecond,
		Store: redislimit.New(rdb, redislimit.CallTimeout(100*time.Millisecond))})
	err := l.HandleEvent(context.Background(), &receiver.Event{})
	var de *receiver.DeferredError
	require.ErrorAs(t, err, &de, "an unreachable store defers the event")
	assert.Equal(t, flow.ReasonUnavailable, de.Reason)
	assert.Zero(t, calls, "the handler ran without the limit's say")
}
