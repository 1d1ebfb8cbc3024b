package redisq

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
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
			runParallel(b, rdb, func(i int64) bool {
				e := testEvent(int(i))
				e.Body, e.ClaimToken = body, "tok-"+strconv.FormatInt(i, 10)
				if err := q.Enqueue(context.Background(), e); err != nil {
					b.Error(err)
					return false
				}
				return true
			}, nil)
		})
	}
}

// BenchmarkReceive serves deliveries of a 1 KiB body from 8 goroutines per
// CPU through a Receiver on one Redis server (the Redis dedupe store, the
// queue claiming with it, dead letters), and stops the clock only when every
// event was handled: ns/op and allocs/op count the request path and the
// handling path (the reader, the workers, the finisher) together. It reports
// redis-server's CPU per event as BenchmarkEnqueue does.
func BenchmarkReceive(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	rdb := newClient(b, redistest.Start(b, "--appendfsync", "everysec").Addr)
	var handled atomic.Int64
	all := make(chan struct{})
	rc, err := receiver.New(headerProvider{}, receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		if handled.Add(1) == int64(b.N) {
			close(all)
		}
		return nil
	}), receiver.WithStore(dedupe.NewRedis(rdb)), receiver.WithQueue(New(rdb)), receiver.WithDeadLetters(NewDeadLetters(rdb)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	runParallel(b, rdb, func(i int64) bool {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Id", "evt_"+strconv.FormatInt(i, 10))
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Errorf("status %d: %s", w.Code, w.Body)
			return false
		}
		return true
	}, func() {
		select {
		case <-all:
		case <-time.After(time.Minute):
			b.Fatalf("%d of %d events handled after a minute", handled.Load(), b.N)
		}
	})
}

// runParallel calls op for events 1 to b.N from 8 goroutines per CPU, then
// wait (when not nil) before it stops the clock, and reports allocations and
// redis-server's CPU per event (redis-µs/op). op returns false to stop its
// goroutine after a failure it reported.
func runParallel(b *testing.B, rdb *redis.Client, op func(i int64) bool, wait func()) {
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	cpu0 := redisCPU(b, rdb)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !op(n.Add(1)) {
				return
			}
		}
	})
	if wait != nil {
		wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(redisCPU(b, rdb)-cpu0)/float64(time.Microsecond)/float64(b.N), "redis-µs/op")
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
