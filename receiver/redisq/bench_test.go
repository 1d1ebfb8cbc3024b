package redisq

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/redistest"
)

// BenchmarkEnqueue enqueues events of a 1 KiB body from 8 goroutines per
// CPU and reports, beside the client's time, the CPU redis-server used per
// event (redis-µs/op, from INFO cpu): what the enqueue script costs Redis.
//
//	xadd    the plain script, no bound
//	maxlen  the plain script with a bound (XLEN and ZCARD per event)
//	claims  the claiming script (ClaimFor agreed) with a bound: the
//	        receiver's default wiring on one Redis server
//
// redis-server fsyncs its append-only file once a second here, as in the
// load tool's runs (docs/benchmarks.md), not on every write as in the tests:
// an fsync per write would be most of what Redis spends.
func BenchmarkEnqueue(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	for _, bc := range []struct {
		name   string
		opts   []Option
		claims bool
	}{
		{"xadd", nil, false},
		{"maxlen", []Option{MaxLen(1 << 40)}, false},
		{"claims", []Option{MaxLen(1 << 40)}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rdb := newClient(b, redistest.Start(b, "--appendfsync", "everysec").Addr)
			q := New(rdb, bc.opts...)
			if bc.claims && !q.ClaimFor(dedupe.NewRedis(rdb), time.Minute, time.Hour) {
				b.Fatal("ClaimFor refused a dedupe.Redis on the queue's client")
			}
			var n atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			cpu0 := redisCPU(b, rdb)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					e := testEvent(i)
					e.Body, e.ClaimToken = body, "tok-"+strconv.Itoa(i)
					if err := q.Enqueue(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(redisCPU(b, rdb)-cpu0)/float64(time.Microsecond)/float64(b.N), "redis-µs/op")
		})
	}
}

// redisCPU returns the CPU time redis-server used so far (user and system,
// from INFO cpu).
func redisCPU(tb testing.TB, rdb *redis.Client) time.Duration {
	tb.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var sec float64
	for _, line := range strings.Split(info, "\r\n") {
		name, v, ok := strings.Cut(line, ":")
		if ok && (name == "used_cpu_user" || name == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("INFO cpu: %s: %v", line, err)
			}
			sec += f
		}
	}
	return time.Duration(sec * float64(time.Second))
}
