package redisq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

func TestPartitionStream(t *testing.T) {
	tests := []struct {
		stream string
		i      int
		want   string
	}{
		{DefaultStream, 0, "hookwise:{events-0}:stream"},
		{DefaultStream, 12, "hookwise:{events-12}:stream"},
		{"orders", 3, "orders-3"},
		{"{a}", 1, "{a-1}"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := PartitionStream(tt.stream, tt.i); got != tt.want {
				t.Errorf("PartitionStream(%q, %d) = %q, want %q", tt.stream, tt.i, got, tt.want)
			}
		})
	}
}

func TestPartitionSpreads(t *testing.T) {
	const n = 4
	seen := make([]int, n)
	for i := range 1000 {
		e := testEvent(i)
		p := Partition(e.Provider, e.ID, n)
		if p != Partition(e.Provider, e.ID, n) {
			t.Fatal("Partition is not stable")
		}
		seen[p]++
	}
	for i, c := range seen {
		if c < 150 {
			t.Errorf("partition %d got %d of 1000 events, want about 250 (all: %v)", i, c, seen)
		}
	}
}

// A partitioned queue on a Cluster spreads its streams over the nodes and
// handles every event once, retries included.
func TestPartitionedCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	const parts = 4
	rec := newRecorder(func(_ context.Context, e *receiver.Event) driver.Result {
		if e.Attempt == 1 {
			return driver.Result{Retry: true, Delay: 20 * time.Millisecond}
		}
		return driver.Result{}
	})
	q := NewPartitioned(rdb, parts, fast(Workers(2))...)
	if err := q.Start(rec); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if err := q.Enqueue(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, 15*time.Second, "second attempts", allSeen(ids(40), 2))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if err := q.Shutdown(ctx); !errors.Is(err, receiver.ErrClosed) {
		t.Errorf("second Shutdown = %v, want ErrClosed", err)
	}
	for id, a := range rec.snapshot() {
		if len(a) != 2 {
			t.Errorf("event %s attempts = %v, want [1 2]", id, a)
		}
	}
	nodes := map[string]bool{}
	for i := range parts {
		stream := PartitionStream(DefaultStream, i)
		if err := rdb.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
			if m.Exists(ctx, stream).Val() == 1 {
				nodes[m.Options().Addr] = true
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(nodes) < 2 {
		t.Errorf("%d partitions on %d node(s), want them spread", parts, len(nodes))
	}
}
