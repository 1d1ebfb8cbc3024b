package redisq

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

func TestEnqueueProcessAck(t *testing.T) {
	_, rdb := startRedis(t)
	q := New(rdb, fast()...)
	// Enqueued before Start: the group reads from the stream's start.
	enqueueN(t, q, 0, 20)
	rec := newRecorder(nil)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 10*time.Second, "all events", allSeen(ids(20), 1))
	shutdown(t, q)

	for id, a := range rec.snapshot() {
		if len(a) != 1 {
			t.Errorf("event %s attempts = %v, want [1]", id, a)
		}
	}
	got, want := rec.events["evt_007"], testEvent(7)
	if got.Provider != want.Provider || got.ID != want.ID || got.Type != want.Type || got.Version != want.Version ||
		!got.ReceivedAt.Equal(want.ReceivedAt) || !bytes.Equal(got.Body, want.Body) ||
		!slices.Equal(got.Header["X-Sig"], want.Header["X-Sig"]) || got.Attempt != 1 {
		t.Errorf("processed event = %+v, want %+v", got, want)
	}
	if n := rdb.XLen(context.Background(), DefaultStream).Val(); n != 0 {
		t.Errorf("XLEN after processing = %d, want 0 (acknowledged entries deleted)", n)
	}
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
		t.Errorf("pending after processing = %d, want 0", n)
	}
}

func TestRetryWithDelay(t *testing.T) {
	_, rdb := startRedis(t)
	const delay = 50 * time.Millisecond
	rec := newRecorder(func(_ context.Context, e *receiver.Event) driver.Result {
		if e.Attempt < 3 {
			return driver.Result{Retry: true, Delay: delay, Err: errors.New("boom")}
		}
		return driver.Result{}
	})
	q := New(rdb, fast()...)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, q, 0, 3)
	rec.waitFor(t, 10*time.Second, "third attempts", allSeen(ids(3), 3))
	shutdown(t, q)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for id, a := range rec.attempts {
		if !slices.Equal(a, []int{1, 2, 3}) {
			t.Errorf("event %s attempts = %v, want [1 2 3]", id, a)
		}
		at := rec.at[id]
		for i := 1; i < len(at); i++ {
			// The due time is rounded down to the server's millisecond.
			if gap := at[i].Sub(at[i-1]); gap < delay-2*time.Millisecond {
				t.Errorf("event %s attempt %d came %v after the previous, want >= %v", id, i+1, gap, delay)
			}
		}
	}
	if n := rdb.ZCard(context.Background(), companion(DefaultStream, "delayed")).Val(); n != 0 {
		t.Errorf("delayed set holds %d, want 0", n)
	}
	if n := rdb.XLen(context.Background(), DefaultStream).Val(); n != 0 {
		t.Errorf("XLEN = %d, want 0", n)
	}
}

// A retry scheduled by one process is run by the next one, after a restart
// of both the queue and Redis.
func TestRetrySurvivesRestart(t *testing.T) {
	srv, rdb := startRedis(t)
	first := newRecorder(func(context.Context, *receiver.Event) driver.Result {
		return driver.Result{Retry: true, Delay: 300 * time.Millisecond}
	})
	q1 := New(rdb, fast(Consumer("one"))...)
	if err := q1.Start(first); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, q1, 0, 1)
	first.waitFor(t, 5*time.Second, "first attempt", allSeen(ids(1), 1))
	shutdown(t, q1)
	delayed := companion(DefaultStream, "delayed")
	if n := rdb.ZCard(context.Background(), delayed).Val(); n != 1 {
		t.Fatalf("delayed set holds %d after the first attempt, want 1", n)
	}

	srv.Stop()
	srv.Restart(t)

	second := newRecorder(nil)
	q2 := New(rdb, fast(Consumer("two"))...)
	if err := q2.Start(second); err != nil {
		t.Fatal(err)
	}
	second.waitFor(t, 10*time.Second, "second attempt", allSeen(ids(1), 2))
	shutdown(t, q2)
	if got := second.snapshot()["evt_000"]; !slices.Equal(got, []int{2}) {
		t.Errorf("attempts after restart = %v, want [2]", got)
	}
	if got := first.snapshot()["evt_000"]; !slices.Equal(got, []int{1}) {
		t.Errorf("attempts before restart = %v, want [1]", got)
	}
}

// Entries delivered to a consumer that never acknowledges them (it crashed)
// are reclaimed after the visibility timeout and processed once.
func TestReclaimFromCrashedConsumer(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	q := New(rdb, fast(VisibilityTimeout(500*time.Millisecond), ClaimInterval(100*time.Millisecond))...)
	enqueueN(t, q, 0, 3)
	if err := rdb.XGroupCreateMkStream(ctx, DefaultStream, DefaultGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	crashedAt := time.Now()
	res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: DefaultGroup, Consumer: "crashed", Streams: []string{DefaultStream, ">"}, Count: 10, Block: -1,
	}).Result()
	if err != nil || len(res[0].Messages) != 3 {
		t.Fatalf("raw XREADGROUP = %v, %v; want 3 entries", res, err)
	}

	rec := newRecorder(nil)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 10*time.Second, "reclaimed events", allSeen(ids(3), 1))
	elapsed := time.Since(crashedAt)
	shutdown(t, q)
	if elapsed < 500*time.Millisecond {
		t.Errorf("entries reclaimed after %v, before the visibility timeout", elapsed)
	}
	for id, a := range rec.snapshot() {
		if len(a) != 1 {
			t.Errorf("event %s attempts = %v, want one", id, a)
		}
	}
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

// A restarted instance reusing its consumer name takes back its own pending
// entries at once, without waiting for the visibility timeout.
func TestRestartedConsumerTakesBackItsEntries(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	q := New(rdb, fast(Consumer("pod-0"), VisibilityTimeout(time.Hour))...)
	enqueueN(t, q, 0, 3)
	if err := rdb.XGroupCreateMkStream(ctx, DefaultStream, DefaultGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: DefaultGroup, Consumer: "pod-0", Streams: []string{DefaultStream, ">"}, Count: 2, Block: -1,
	}).Err(); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(nil)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "all events", allSeen(ids(3), 1))
	shutdown(t, q)
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

// A handler slower than the visibility timeout keeps its entry: the
// heartbeat stops the other instance from reclaiming it.
func TestHeartbeatKeepsSlowEntry(t *testing.T) {
	_, rdb := startRedis(t)
	var calls atomic.Int32
	slow := procFunc(func(context.Context, *receiver.Event) driver.Result {
		calls.Add(1)
		time.Sleep(1500 * time.Millisecond)
		return driver.Result{}
	})
	opts := fast(VisibilityTimeout(600*time.Millisecond), ClaimInterval(100*time.Millisecond))
	a := New(rdb, append(opts, Consumer("a"))...)
	if err := a.Start(slow); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, a, 0, 1)
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b := New(rdb, append(opts, Consumer("b"))...)
	if err := b.Start(slow); err != nil {
		t.Fatal(err)
	}
	shutdown(t, a) // waits for the slow handler
	shutdown(t, b)
	if n := calls.Load(); n != 1 {
		t.Errorf("slow event processed %d times, want 1", n)
	}
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

func TestTwoInstancesShareStream(t *testing.T) {
	_, rdb := startRedis(t)
	var mu sync.Mutex
	count := map[string]int{}
	by := map[string]int{}
	proc := func(name string) driver.Processor {
		return procFunc(func(_ context.Context, e *receiver.Event) driver.Result {
			mu.Lock()
			count[e.ID]++
			by[name]++
			mu.Unlock()
			time.Sleep(time.Millisecond)
			return driver.Result{}
		})
	}
	a := New(rdb, fast(Consumer("a"))...)
	b := New(rdb, fast(Consumer("b"))...)
	if err := a.Start(proc("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(proc("b")); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		q := a
		if i%2 == 1 {
			q = b
		}
		enqueueN(t, q, i, 1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := len(count) == n
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	shutdown(t, a)
	shutdown(t, b)
	mu.Lock()
	defer mu.Unlock()
	if len(count) != n {
		t.Fatalf("processed %d distinct events, want %d", len(count), n)
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("event %s processed %d times, want 1", id, c)
		}
	}
	t.Logf("split: %v", by)
}

// With Redis down Enqueue fails fast with an error the receiver maps to 503;
// once Redis is back the same client works and every event acknowledged
// before the crash is processed.
func TestRedisDownAndBack(t *testing.T) {
	srv, rdb := startRedis(t)
	gate := make(chan struct{})
	rec := newRecorder(func(context.Context, *receiver.Event) driver.Result {
		<-gate
		return driver.Result{}
	})
	const timeout = 300 * time.Millisecond
	q := New(rdb, fast(CallTimeout(timeout), VisibilityTimeout(5*time.Second), ClaimInterval(200*time.Millisecond))...)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, q, 0, 10)
	// Let some entries be delivered (and held by blocked workers).
	rec.waitFor(t, 5*time.Second, "a delivery", func(m map[string][]int) bool { return len(m) > 0 })

	srv.Stop()
	start := time.Now()
	err := q.Enqueue(context.Background(), testEvent(10))
	elapsed := time.Since(start)
	if !errors.Is(err, receiver.ErrQueueFull) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Enqueue with Redis down = %v, want ErrUnavailable matching receiver.ErrQueueFull", err)
	}
	if elapsed > timeout+time.Second {
		t.Errorf("Enqueue with Redis down took %v, want about %v at most", elapsed, timeout)
	}

	// The blocked handlers finish while Redis is down: their
	// acknowledgements must wait for it, not give up.
	close(gate)
	time.Sleep(300 * time.Millisecond)
	srv.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = q.Enqueue(context.Background(), testEvent(10))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Enqueue after restart = %v", err)
	}
	rec.waitFor(t, 15*time.Second, "every event", allSeen(ids(11), 1))
	shutdown(t, q)
	for id, a := range rec.snapshot() {
		if len(a) != 1 {
			t.Errorf("event %s handled %d times, want once", id, len(a))
		}
	}
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

// MaxLen refuses new events instead of trimming: no unacknowledged entry is
// ever dropped, delivered or not.
func TestMaxLenNeverDropsUnacknowledged(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	q := New(rdb, fast(MaxLen(5), Workers(2))...)
	enqueueN(t, q, 0, 5)
	assertFull := func(when string) {
		t.Helper()
		err := q.Enqueue(ctx, testEvent(99))
		if !errors.Is(err, receiver.ErrQueueFull) || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: Enqueue over MaxLen = %v, want receiver.ErrQueueFull (not ErrUnavailable)", when, err)
		}
	}
	assertFull("before Start")
	before := rdb.XRange(ctx, DefaultStream, "-", "+").Val()

	gate := make(chan struct{})
	rec := newRecorder(func(context.Context, *receiver.Event) driver.Result {
		<-gate
		return driver.Result{}
	})
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "two deliveries", func(m map[string][]int) bool { return len(m) == 2 })
	assertFull("while delivered")
	after := rdb.XRange(ctx, DefaultStream, "-", "+").Val()
	if len(before) != 5 || len(after) != 5 {
		t.Fatalf("stream holds %d then %d entries, want 5", len(before), len(after))
	}
	for i := range before {
		if before[i].ID != after[i].ID {
			t.Errorf("entry %d = %s, want %s", i, after[i].ID, before[i].ID)
		}
	}
	close(gate)
	rec.waitFor(t, 5*time.Second, "all events", allSeen(ids(5), 1))
	deadline := time.Now().Add(5 * time.Second)
	for rdb.XLen(ctx, DefaultStream).Val() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := q.Enqueue(ctx, testEvent(5)); err != nil {
		t.Errorf("Enqueue after the backlog drained = %v", err)
	}
	rec.waitFor(t, 5*time.Second, "the last event", allSeen(ids(6), 1))
	shutdown(t, q)
}

func TestShutdownDrainsAndStops(t *testing.T) {
	_, rdb := startRedis(t)
	base := runtime.NumGoroutine()
	var finished atomic.Int32
	started := make(chan struct{}, 10)
	q := New(rdb, fast()...)
	if err := q.Start(procFunc(func(context.Context, *receiver.Event) driver.Result {
		started <- struct{}{}
		time.Sleep(200 * time.Millisecond)
		finished.Add(1)
		return driver.Result{}
	})); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, q, 0, 1)
	<-started
	shutdown(t, q)
	if n := finished.Load(); n != 1 {
		t.Errorf("finished = %d after Shutdown, want 1 (in-flight drained)", n)
	}
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
	waitGoroutines(t, base)

	ctx := context.Background()
	if err := q.Shutdown(ctx); !errors.Is(err, receiver.ErrClosed) {
		t.Errorf("second Shutdown = %v, want ErrClosed", err)
	}
	if err := q.Enqueue(ctx, testEvent(1)); !errors.Is(err, receiver.ErrClosed) {
		t.Errorf("Enqueue after Shutdown = %v, want ErrClosed", err)
	}
	if err := q.Start(newRecorder(nil)); !errors.Is(err, receiver.ErrClosed) {
		t.Errorf("Start after Shutdown = %v, want ErrClosed", err)
	}
}

// When the drain deadline passes, the unfinished entry stays pending with its
// attempt number and is run again by the restarted consumer.
func TestShutdownDeadlineLeavesEntryPending(t *testing.T) {
	_, rdb := startRedis(t)
	started := make(chan struct{}, 1)
	q := New(rdb, fast(Consumer("pod-0"))...)
	if err := q.Start(procFunc(func(ctx context.Context, _ *receiver.Event) driver.Result {
		started <- struct{}{}
		<-ctx.Done()
		return driver.Result{Retry: true, Delay: time.Millisecond, Err: ctx.Err()}
	})); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, q, 0, 1)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := q.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its deadline = %v, want DeadlineExceeded", err)
	}
	time.Sleep(50 * time.Millisecond) // let the aborted Process return
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 1 {
		t.Errorf("pending after an aborted drain = %d, want 1", n)
	}
	if n := rdb.ZCard(context.Background(), companion(DefaultStream, "delayed")).Val(); n != 0 {
		t.Errorf("delayed set holds %d, want 0 (an aborted attempt is not a retry)", n)
	}

	rec := newRecorder(nil)
	q2 := New(rdb, fast(Consumer("pod-0"))...)
	if err := q2.Start(rec); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "the pending event", allSeen(ids(1), 1))
	shutdown(t, q2)
}

func TestStartTwice(t *testing.T) {
	_, rdb := startRedis(t)
	q := New(rdb, fast()...)
	if err := q.Start(newRecorder(nil)); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(newRecorder(nil)); err == nil {
		t.Error("second Start = nil, want an error")
	}
	shutdown(t, q)
}

func TestShutdownWithoutStart(t *testing.T) {
	_, rdb := startRedis(t)
	q := New(rdb)
	if err := q.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown without Start = %v, want nil", err)
	}
}

func TestUnreadableEntryIsDropped(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: DefaultStream, Values: []any{"junk", "1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	q := New(rdb, fast()...)
	enqueueN(t, q, 0, 1)
	rec := newRecorder(nil)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "the good event", allSeen(ids(1), 1))
	deadline := time.Now().Add(5 * time.Second)
	for rdb.XLen(ctx, DefaultStream).Val() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	shutdown(t, q)
	if got := slices.Collect(maps.Keys(rec.snapshot())); len(got) != 1 {
		t.Errorf("processed %v, want only evt_000", got)
	}
	rec.mu.Lock()
	if len(rec.abandoned) != 1 || !errors.Is(rec.abandoned[0].err, ErrMalformedEntry) {
		t.Errorf("abandoned = %+v, want the junk entry with ErrMalformedEntry", rec.abandoned)
	}
	rec.mu.Unlock()
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

func TestErrUnavailable(t *testing.T) {
	err := unavailable(errors.New("dial tcp: refused"))
	for _, target := range []error{ErrUnavailable, receiver.ErrQueueFull} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false, want true", err, target)
		}
	}
	if errors.Is(err, receiver.ErrClosed) {
		t.Errorf("errors.Is(%v, ErrClosed) = true", err)
	}
}
