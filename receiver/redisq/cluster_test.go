package redisq

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// On a Cluster every key of a queue hashes to one slot, so the scripts that
// use two of them run; enqueue, processing and retries work as on one node.
func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()

	keys := []string{DefaultStream, companion(DefaultStream, "delayed"), companion(DefaultStream, "dead"), companion(DefaultStream, "dead:order")}
	var slots []int64
	for _, k := range keys {
		s, err := rdb.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, s)
	}
	for i := range slots {
		if slots[i] != slots[0] {
			t.Errorf("key %s in slot %d, want %d (slot of %s)", keys[i], slots[i], slots[0], keys[0])
		}
	}

	rec := newRecorder(func(_ context.Context, e *receiver.Event) driver.Result {
		if e.Attempt == 1 {
			return driver.Result{Retry: true, Delay: 50 * time.Millisecond}
		}
		return driver.Result{}
	})
	q := New(rdb, fast(MaxLen(1000))...)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, q, 0, 10)
	rec.waitFor(t, 15*time.Second, "second attempts", allSeen(ids(10), 2))
	shutdown(t, q)
	if n := rdb.XLen(ctx, DefaultStream).Val(); n != 0 {
		t.Errorf("XLEN = %d, want 0", n)
	}

	t.Run("dead letters", func(t *testing.T) { testDeadLetters(t, rdb) })
}
