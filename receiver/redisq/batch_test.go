package redisq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

func TestSlots(t *testing.T) {
	tests := []struct {
		name      string
		total     int
		want      int
		take      int // released before the reader waits
		wantFirst int
	}{
		{"waits for one", 8, 0, 0, 8},
		{"waits for the read-ahead room", 16, 8, 0, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := &Queue{slots: newSlots(tc.total, tc.want)}
			ctx := context.Background()
			if n := q.acquire(ctx); n != tc.wantFirst {
				t.Fatalf("first acquire = %d, want %d", n, tc.wantFirst)
			}
			want := max(tc.want, 1)
			got := make(chan int, 1)
			go func() { got <- q.acquire(ctx) }()
			for i := 1; i < want; i++ {
				q.release(1)
			}
			select {
			case n := <-got:
				t.Fatalf("acquire returned %d with %d free, want it to wait for %d", n, want-1, want)
			case <-time.After(20 * time.Millisecond):
			}
			q.release(1)
			select {
			case n := <-got:
				if n != want {
					t.Fatalf("acquire = %d, want %d", n, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("acquire still waits with enough free slots")
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if n := q.acquire(cctx); n != 0 {
				t.Fatalf("acquire with a done ctx = %d, want 0", n)
			}
		})
	}
}

// TestPrefetchBoundsConcurrency checks that entries read ahead wait for a
// worker: no more handlers than workers run at once, every entry is handled
// once, and entries read ahead are pending on this consumer meanwhile.
func TestPrefetchBoundsConcurrency(t *testing.T) {
	for _, prefetch := range []int{0, 3, 50} {
		t.Run(fmt.Sprintf("prefetch %d", prefetch), func(t *testing.T) {
			_, rdb := startRedis(t)
			const workers, events = 2, 30
			var running, peak atomic.Int32
			gate := make(chan struct{})
			rec := newRecorder(func(context.Context, *receiver.Event) driver.Result {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-gate
				running.Add(-1)
				return driver.Result{}
			})
			q := New(rdb, fast(Workers(workers), Prefetch(prefetch))...)
			enqueueN(t, q, 0, events)
			if err := q.Start(rec); err != nil {
				t.Fatal(err)
			}
			wantPending := int64(min(events, workers+prefetch))
			deadline := time.Now().Add(10 * time.Second)
			for pendingCount(t, rdb, DefaultStream, DefaultGroup) < wantPending && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != wantPending {
				t.Fatalf("%d entries delivered while the workers are blocked, want %d", n, wantPending)
			}
			close(gate)
			rec.waitFor(t, 10*time.Second, "every event", allSeen(ids(events), 1))
			shutdown(t, q)
			if p := peak.Load(); p > workers {
				t.Fatalf("%d handlers ran at once with %d workers", p, workers)
			}
			if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
				t.Fatalf("pending = %d after every event was handled", n)
			}
		})
	}
}

// TestShutdownLeavesReadAheadPending checks that entries read ahead but
// not started when Shutdown's deadline passes stay pending, not lost.
func TestShutdownLeavesReadAheadPending(t *testing.T) {
	_, rdb := startRedis(t)
	release := make(chan struct{})
	defer close(release)
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) driver.Result {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return driver.Result{Retry: true}
	})
	q := New(rdb, fast(Workers(1), Prefetch(4))...)
	enqueueN(t, q, 0, 5)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 10*time.Second, "a delivery", func(m map[string][]int) bool { return len(m) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	if n := len(rec.snapshot()); n != 1 {
		t.Fatalf("%d events started with one worker", n)
	}
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 5 {
		t.Fatalf("pending = %d after Shutdown, want all 5", n)
	}
}

// TestConcurrentEnqueueShareRoundTrips checks that concurrent Enqueue calls
// are pipelined together and each lands once, with and without MaxLen.
func TestConcurrentEnqueueShareRoundTrips(t *testing.T) {
	for _, maxLen := range []int64{0, 1000} {
		t.Run(map[int64]string{0: "xadd", 1000: "maxlen script"}[maxLen], func(t *testing.T) {
			_, rdb := startRedis(t)
			var pipelines, cmds atomic.Int64
			rdb.AddHook(pipelineHook(func(n int) { pipelines.Add(1); cmds.Add(int64(n)) }))
			q := New(rdb, fast(MaxLen(maxLen))...)
			const callers, each = 16, 20
			var wg sync.WaitGroup
			for c := range callers {
				wg.Go(func() {
					for i := range each {
						if err := q.Enqueue(context.Background(), testEvent(c*each+i)); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if n := rdb.XLen(context.Background(), DefaultStream).Val(); n != callers*each {
				t.Fatalf("stream holds %d entries, want %d", n, callers*each)
			}
			if pipelines.Load() >= callers*each {
				t.Fatalf("%d Enqueue calls in %d pipelines: nothing shared a round trip", callers*each, pipelines.Load())
			}
			t.Logf("%d calls, %d commands, %d pipelines", callers*each, cmds.Load(), pipelines.Load())
		})
	}
}

// TestScriptsSurviveScriptFlush checks that the queue's scripts, run with
// EVALSHA in pipelines, fall back to sending their source after the server
// forgot them.
func TestScriptsSurviveScriptFlush(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	rec := newRecorder(nil)
	q := New(rdb, fast(MaxLen(100))...)
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, q, 0, 3) // enqueueScript after a flush
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 10*time.Second, "every event", allSeen(ids(3), 1))
	deadline := time.Now().Add(10 * time.Second)
	for rdb.XLen(ctx, DefaultStream).Val() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, q, 3, 2) // and ackScript after another
	rec.waitFor(t, 10*time.Second, "every event", allSeen(ids(5), 1))
	shutdown(t, q)
	if n := rdb.XLen(ctx, DefaultStream).Val(); n != 0 {
		t.Fatalf("stream holds %d entries after every ack", n)
	}
	if n := pendingCount(t, rdb, DefaultStream, DefaultGroup); n != 0 {
		t.Fatalf("pending = %d", n)
	}
}

// pipelineHook is a go-redis hook that reports the size of every pipeline
// other than a connection's set-up.
type pipelineHook func(n int)

func (h pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if name := cmds[0].Name(); name != "hello" && name != "client" {
			h(len(cmds))
		}
		return next(ctx, cmds)
	}
}
