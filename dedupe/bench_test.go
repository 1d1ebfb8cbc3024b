package dedupe_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/redistest"
)

// benchStore measures, in parallel, the two Claims a receiver makes: of a new
// delivery (Claim then Complete, as when the handler succeeds) and of a
// redelivery (Claim of a done key, which fails).
func benchStore(b *testing.B, s dedupe.Store) {
	ctx := context.Background()
	var seq atomic.Int64
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := dedupe.Key("bench", run+":"+strconv.FormatInt(seq.Add(1), 10))
				ok, err := s.Claim(ctx, k, time.Minute)
				if err != nil || !ok {
					b.Fatalf("Claim = %v, %v", ok, err)
				}
				if err := s.Complete(ctx, k, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("duplicate", func(b *testing.B) {
		k := dedupe.Key("bench", run+":dup")
		if err := s.Complete(ctx, k, time.Hour); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ok, err := s.Claim(ctx, k, time.Minute)
				if err != nil || ok {
					b.Fatalf("Claim = %v, %v", ok, err)
				}
			}
		})
	})
}

func BenchmarkMemoryClaim(b *testing.B) {
	m := dedupe.NewMemory()
	defer m.Close()
	benchStore(b, m)
}

func BenchmarkRedisClaim(b *testing.B) {
	srv := redistest.Start(b, "--appendonly", "no")
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	defer client.Close()
	benchStore(b, dedupe.NewRedis(client))
}

// BenchmarkMemoryBytesPerEntry reports the heap a Memory store holds per
// entry, with 100,000 done entries of 43-byte keys (a provider name and a
// UUID).
func BenchmarkMemoryBytesPerEntry(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	var total float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := dedupe.NewMemory()
		for i := range n {
			k := dedupe.Key("stripe", fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))
			if err := m.Complete(ctx, k, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		total += float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(m)
	}
	b.ReportMetric(total/float64(b.N)/n, "bytes/entry")
}
