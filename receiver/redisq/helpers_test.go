package redisq

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// newClient returns a client for addr, closed when the test ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

func startRedis(t testing.TB) (*redistest.Server, *redis.Client) {
	t.Helper()
	s := redistest.Start(t)
	return s, newClient(t, s.Addr)
}

// fast are options that keep tests quick.
func fast(extra ...Option) []Option {
	return append([]Option{PollInterval(20 * time.Millisecond), CallTimeout(2 * time.Second), Workers(4)}, extra...)
}

// procFunc adapts a function to a driver.Processor.
type procFunc func(ctx context.Context, e *receiver.Event) driver.Result

func (f procFunc) Process(ctx context.Context, e *receiver.Event) driver.Result { return f(ctx, e) }

func (f procFunc) Abandon(context.Context, *receiver.Event, error) {}

func (f procFunc) Endpoint() string { return "test" }

// recorder is a Processor that records every attempt and answers with fn.
type recorder struct {
	mu        sync.Mutex
	attempts  map[string][]int // id → attempts seen
	at        map[string][]time.Time
	events    map[string]*receiver.Event
	changed   chan struct{}
	abandoned []abandoned
	fn        func(ctx context.Context, e *receiver.Event) driver.Result
}

func newRecorder(fn func(ctx context.Context, e *receiver.Event) driver.Result) *recorder {
	return &recorder{
		attempts: map[string][]int{}, at: map[string][]time.Time{}, events: map[string]*receiver.Event{},
		changed: make(chan struct{}, 1), fn: fn,
	}
}

func (r *recorder) Process(ctx context.Context, e *receiver.Event) driver.Result {
	r.mu.Lock()
	r.attempts[e.ID] = append(r.attempts[e.ID], e.Attempt)
	r.at[e.ID] = append(r.at[e.ID], time.Now())
	r.events[e.ID] = e
	r.mu.Unlock()
	var res driver.Result
	if r.fn != nil {
		res = r.fn(ctx, e)
	}
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return res
}

type abandoned struct {
	e   *receiver.Event
	err error
}

// Endpoint names the recorder as the queue's endpoint.
func (r *recorder) Endpoint() string { return "test" }

func (r *recorder) Abandon(_ context.Context, e *receiver.Event, err error) {
	r.mu.Lock()
	r.abandoned = append(r.abandoned, abandoned{e, err})
	r.mu.Unlock()
}

// snapshot returns a copy of the attempts seen.
func (r *recorder) snapshot() map[string][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]int, len(r.attempts))
	for k, v := range r.attempts {
		out[k] = append([]int(nil), v...)
	}
	return out
}

// waitFor waits until cond holds for the recorded attempts, or fails.
func (r *recorder) waitFor(t testing.TB, timeout time.Duration, what string, cond func(map[string][]int) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if cond(r.snapshot()) {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; attempts = %v", what, r.snapshot())
		}
	}
}

// allDone reports whether each of ids was seen with its last attempt equal to want.
func allSeen(ids []string, want int) func(map[string][]int) bool {
	return func(m map[string][]int) bool {
		for _, id := range ids {
			a := m[id]
			if len(a) == 0 || a[len(a)-1] != want {
				return false
			}
		}
		return true
	}
}

func testEvent(i int) *receiver.Event {
	return &receiver.Event{
		Provider:   "test",
		ID:         fmt.Sprintf("evt_%03d", i),
		Type:       "thing.happened",
		Version:    "2024-01-01",
		ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
		Header:     http.Header{"Content-Type": {"application/json"}, "X-Sig": {"a", "b"}},
		Body:       []byte(fmt.Sprintf(`{"n":%d,"bin":"\xff\x00"}`, i)),
		Attempt:    1,
	}
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = testEvent(i).ID
	}
	return out
}

func enqueueN(t testing.TB, q *Queue, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := q.Enqueue(context.Background(), testEvent(i)); err != nil {
			t.Fatalf("Enqueue(%d) = %v", i, err)
		}
	}
}

func shutdown(t testing.TB, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}

// waitGoroutines waits until no more than n goroutines run.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines remain, want <= %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pendingCount(t testing.TB, rdb redis.UniversalClient, stream, group string) int64 {
	t.Helper()
	p, err := rdb.XPending(context.Background(), stream, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}
