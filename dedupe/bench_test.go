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
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/redistest"
)

// benchStore measures, in parallel, the calls a receiver makes: for a new
// delivery, Claim, Confirm once the event is stored, and Complete once it is
// handled; for a redelivery, a Claim of a done key (a Duplicate).
func benchStore(b *testing.B, s dedupe.Store) {
	ctx := context.Background()
	var seq atomic.Int64
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := dedupe.Key("bench", run+":"+strconv.FormatInt(seq.Add(1), 10))
				tok := dedupe.NewToken()
				o, err := s.Claim(ctx, k, tok, 10*time.Second)
				if err != nil || o != dedupe.Claimed {
					b.Fatalf("Claim = %v, %v", o, err)
				}
				if ok, err := s.Confirm(ctx, k, tok, time.Minute); err != nil || !ok {
					b.Fatalf("Confirm = %v, %v", ok, err)
				}
				if err := s.Complete(ctx, k, tok, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("duplicate", func(b *testing.B) {
		k := dedupe.Key("bench", run+":dup")
		require.NoError(b, s.Complete(ctx, k, "", time.Hour))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			tok := dedupe.NewToken()
			for pb.Next() {
				o, err := s.Claim(ctx, k, tok, time.Minute)
				if err != nil || o != dedupe.Duplicate {
					b.Fatalf("Claim = %v, %v", o, err)
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
// UUID). A claim costs as much as a done entry: it keeps a hash of its token,
// not the token.
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
			if err := m.Complete(ctx, k, "", time.Hour); err != nil {
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
