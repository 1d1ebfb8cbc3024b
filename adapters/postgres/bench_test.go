package postgres_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/pgtest"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// The benchmarks compare the backends on the same load: signed 40-byte
// deliveries of unique events through Receiver.ServeHTTP (no network), with
// a handler that does nothing (or, for "postgres-tx", inserts one row in the
// transaction that completes the event). PostgreSQL runs with fsync on and
// Redis with appendfsync always, so that every acknowledged event is on disk
// with either.
//
//	go test -run='^$' -bench=. -benchtime=3000x ./adapters/postgres/

var (
	benchPGOnce sync.Once
	benchPG     *pgtest.Server
	benchPGErr  error
)

// benchPool returns a pool on a server with fsync on, shared by the
// benchmarks.
func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	benchPGOnce.Do(func() { benchPG, benchPGErr = pgtest.New(pgtest.Fsync()) })
	if benchPGErr != nil {
		pgtest.Fail(b, benchPGErr)
	}
	cfg, err := pgxpool.ParseConfig(benchPG.URL(""))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 100
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// backend returns the receiver options of one replica of a backend; call
// it once per replica (replicas of one backend share its storage).
type backend func(b *testing.B, workers int) (func() []receiver.Option, receiver.Handler)

var counted atomic.Int64

func noop(context.Context, *driver.Event) error { counted.Add(1); return nil }

var backends = []struct {
	name string
	make backend
}{
	{"memory", func(b *testing.B, workers int) (func() []receiver.Option, receiver.Handler) {
		return func() []receiver.Option {
			return []receiver.Option{receiver.Workers(workers), receiver.QueueCapacity(1 << 20)}
		}, receiver.HandlerFunc(noop)
	}},
	{"redis", func(b *testing.B, workers int) (func() []receiver.Option, receiver.Handler) {
		s := redistest.Start(b)
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true, Protocol: 2, PoolSize: 100})
		b.Cleanup(func() { rdb.Close() })
		store := dedupe.NewRedis(rdb)
		n := 0
		return func() []receiver.Option {
			n++
			return []receiver.Option{
				receiver.WithStore(store),
				receiver.WithQueue(redisq.New(rdb, redisq.Workers(workers), redisq.Consumer("c"+strconv.Itoa(n)))),
				receiver.WithDeadLetters(redisq.NewDeadLetters(rdb)),
			}
		}, receiver.HandlerFunc(noop)
	}},
	{"postgres", func(b *testing.B, workers int) (func() []receiver.Option, receiver.Handler) {
		pool := benchPool(b)
		in := postgres.New(pool, postgres.Schema(newSchema(b, pool)), postgres.Workers(workers))
		return func() []receiver.Option { return in.Options("pgtest") }, receiver.HandlerFunc(noop)
	}},
	{"postgres-tx", func(b *testing.B, workers int) (func() []receiver.Option, receiver.Handler) {
		pool := benchPool(b)
		schema := newSchema(b, pool)
		createEffects(b, pool, schema)
		in := postgres.New(pool, postgres.Schema(schema), postgres.Workers(workers))
		insert := `INSERT INTO ` + pgx.Identifier{schema, "effects"}.Sanitize() + ` (event_id) VALUES ($1)`
		h := postgres.TxHandler(func(ctx context.Context, tx pgx.Tx, e *driver.Event) error {
			_, err := tx.Exec(ctx, insert, e.ID)
			counted.Add(1)
			return err
		})
		return func() []receiver.Option { return in.Options("pgtest") }, h
	}},
}

var benchRun atomic.Int64

// request returns a signed delivery of a new unique event.
func request(run int64, i int64) *http.Request {
	id := "bench_" + strconv.FormatInt(run, 10) + "_" + strconv.FormatInt(i, 10)
	body := []byte(`{"id":"` + id + `"}`)
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Event-Id", id)
	req.Header.Set("X-Event-Type", "payment.settled")
	req.Header.Set("X-Signature", hex.EncodeToString(sign(body)))
	return req
}

// pipeline runs b.N deliveries with 32 concurrent senders over replicas
// receivers, and reports acknowledged/s (the request path) and handled/s
// (from the first delivery until the last event was handled).
func pipeline(b *testing.B, mk backend, workers, replicas int) {
	opts, h := mk(b, workers)
	var rcvs []*receiver.Receiver
	for range replicas {
		r, err := receiver.New(testProvider{}, h, opts()...)
		if err != nil {
			b.Fatal(err)
		}
		rcvs = append(rcvs, r)
	}
	b.Cleanup(func() {
		for _, r := range rcvs {
			_ = r.Shutdown(bounded())
		}
	})
	run := benchRun.Add(1)
	base := counted.Load()
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				w := httptest.NewRecorder()
				rcvs[int(i)%replicas].ServeHTTP(w, request(run, i))
				if w.Code != http.StatusOK {
					b.Errorf("status %d", w.Code)
					return
				}
			}
		})
	}
	wg.Wait()
	acked := time.Since(start)
	deadline := time.Now().Add(2 * time.Minute)
	for counted.Load()-base < int64(b.N) {
		if time.Now().After(deadline) || b.Failed() {
			b.Fatalf("%d of %d events handled", counted.Load()-base, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	handled := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/acked.Seconds(), "acked/s")
	b.ReportMetric(float64(b.N)/handled.Seconds(), "handled/s")
}

func BenchmarkPipeline(b *testing.B) {
	for _, be := range backends {
		for _, workers := range []int{8, 32} {
			b.Run("backend="+be.name+"/workers="+strconv.Itoa(workers)+"/replicas=1", func(b *testing.B) {
				pipeline(b, be.make, workers, 1)
			})
		}
		if be.name != "memory" {
			b.Run("backend="+be.name+"/workers=8/replicas=2", func(b *testing.B) {
				pipeline(b, be.make, 8, 2)
			})
		}
	}
}
