package receiver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// callCounter counts handler calls per event ID.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
	total atomic.Int64
}

func (c *callCounter) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[id]++
	c.total.Add(1)
}

func (c *callCounter) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// TestQueueRetryBacklogBounded: events waiting for a retry count against the
// queue's capacity. Before, each failed event left the buffer for a timer
// and made room for another: a capacity of 4 took all 20 deliveries.
func TestQueueRetryBacklogBounded(t *testing.T) {
	const capacity = 4
	var cc callCounter
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		cc.add(e.ID)
		return errors.New("down")
	})
	rc := newReceiver(t, h, receiver.Workers(1), receiver.QueueCapacity(capacity), receiver.Backoff(time.Hour, time.Hour))
	var acked []string
	for i := range 20 {
		id := fmt.Sprint("backlog-", i)
		w := serve(rc, request(id, "t", []byte("{}")))
		switch w.Code {
		case http.StatusOK:
			acked = append(acked, id)
			require.Eventually(t, func() bool { return cc.get(id) > 0 }, 10*time.Second, time.Millisecond)
		case http.StatusServiceUnavailable:
			assert.NotEmpty(t, w.Header().Get("Retry-After"))
		default:
			t.Fatalf("status %d", w.Code)
		}
	}
	assert.Len(t, acked, capacity, "deliveries taken while every accepted event waits for a retry")

	err := rc.Shutdown(ctxTimeout(t, 100*time.Millisecond))
	var se *receiver.ShutdownError
	require.ErrorAs(t, err, &se)
	sort.Strings(se.IDs)
	sort.Strings(acked)
	assert.Equal(t, acked, se.IDs, "every acknowledged event waiting for a retry is reported")
	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	require.Len(t, dls, capacity)
	for _, d := range dls {
		assert.Equal(t, cc.get(d.Event.ID), d.Event.Attempt, "%s: attempts recorded = attempts made", d.Event.ID)
		assert.Contains(t, d.Reason, "shutdown before retry")
	}
}

// TestQueueRetriesAlwaysReadmitted: a full queue refuses new deliveries but
// always takes back its own retries.
func TestQueueRetriesAlwaysReadmitted(t *testing.T) {
	var cc callCounter
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		cc.add(e.ID)
		if e.Attempt < 3 {
			return errors.New("transient")
		}
		return nil
	})
	obs := &stageCounter{}
	rc := newReceiver(t, h, receiver.Workers(1), receiver.QueueCapacity(2), receiver.Backoff(20*time.Millisecond, 20*time.Millisecond),
		receiver.WithObserver(obs))
	for _, id := range []string{"r1", "r2"} {
		require.Equal(t, http.StatusOK, serve(rc, request(id, "t", []byte("{}"))).Code)
	}
	refused := 0
	for obs.handled.Load() < 2 {
		if serve(rc, request("r3", "t", []byte("{}"))).Code == http.StatusServiceUnavailable {
			refused++
		}
		time.Sleep(time.Millisecond)
		require.Less(t, refused, 20000, "retries never finished")
	}
	assert.Positive(t, refused, "a third delivery refused while two were retrying")
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)))
	assert.Equal(t, 3, cc.get("r1"))
	assert.Equal(t, 3, cc.get("r2"))
}

// TestQueueByteBound: the queue refuses deliveries once the events it holds
// reach its byte bound, whatever its count capacity, and takes them again
// when they are handled.
func TestQueueByteBound(t *testing.T) {
	const (
		maxBytes = 64 << 10
		bodySize = 10 << 10
	)
	release := make(chan struct{})
	rec := newRecorder(func(ctx context.Context, _ *receiver.Event) error {
		<-release
		return nil
	})
	rc := newReceiver(t, rec, receiver.Workers(1), receiver.QueueCapacity(1000), receiver.QueueMaxBytes(maxBytes))
	body := bytes.Repeat([]byte("q"), bodySize)
	acked := 0
	for i := range 50 {
		if serve(rc, request(fmt.Sprint("big-", i), "t", body)).Code == http.StatusOK {
			acked++
		}
	}
	t.Logf("%d-byte bodies, %d-byte bound: %d acknowledged of 50", bodySize, maxBytes, acked)
	assert.LessOrEqual(t, acked, maxBytes/bodySize)
	assert.GreaterOrEqual(t, acked, maxBytes/bodySize-1)
	close(release)
	rec.wait(t, acked)
	require.Eventually(t, func() bool {
		return serve(rc, request("after", "t", body)).Code == http.StatusOK
	}, 10*time.Second, 5*time.Millisecond, "taken again once the backlog drained")
	rec.wait(t, 1)
}

// TestMemoryQueueBounds checks the queue's count and byte accounting
// directly: Len and Bytes cover every event, an event larger than the whole
// byte bound enters only an empty queue, and Shutdown before Start reports
// what it held.
func TestMemoryQueueBounds(t *testing.T) {
	ctx := context.Background()
	ev := func(id string, n int) *receiver.Event {
		return &receiver.Event{Provider: "test", ID: id, Body: bytes.Repeat([]byte("x"), n)}
	}
	q := receiver.NewMemoryQueue(3, 1, receiver.MemoryQueueMaxBytes(4000))
	require.NoError(t, q.Enqueue(ctx, ev("huge", 10000)), "an oversized event enters an empty queue")
	assert.ErrorIs(t, q.Enqueue(ctx, ev("small", 10)), receiver.ErrQueueFull, "nothing beside it")
	assert.Equal(t, 1, q.Len())
	assert.Greater(t, q.Bytes(), int64(10000))

	q = receiver.NewMemoryQueue(3, 1, receiver.MemoryQueueMaxBytes(4000))
	require.NoError(t, q.Enqueue(ctx, ev("a", 1000)))
	require.NoError(t, q.Enqueue(ctx, ev("b", 1000)))
	assert.ErrorIs(t, q.Enqueue(ctx, ev("c", 2000)), receiver.ErrQueueFull, "over the byte bound")
	require.NoError(t, q.Enqueue(ctx, ev("d", 100)))
	assert.ErrorIs(t, q.Enqueue(ctx, ev("e", 1)), receiver.ErrQueueFull, "over the count")
	assert.Equal(t, 3, q.Len())
	assert.LessOrEqual(t, q.Bytes(), int64(4000))

	err := q.Shutdown(ctx)
	var se *receiver.ShutdownError
	require.ErrorAs(t, err, &se)
	sort.Strings(se.IDs)
	assert.Equal(t, []string{"a", "b", "d"}, se.IDs)
	assert.Equal(t, 3, se.Unfinished)
	assert.ErrorIs(t, q.Enqueue(ctx, ev("late", 1)), receiver.ErrClosed)
}
