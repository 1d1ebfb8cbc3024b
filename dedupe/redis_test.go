package dedupe_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/dedupe/dedupetest"
	"github.com/hookwise/hookwise/internal/redistest"
)

var _ dedupe.Store = (*dedupe.Redis)(nil)

// testTimeout is the store timeout of tests that expect calls to succeed: the
// test servers fsync every write, and the machine may be loaded.
const testTimeout = 10 * time.Second

func newRedisClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv.Addr)
	dedupetest.Run(t, func(t *testing.T) dedupe.Store { return dedupe.NewRedis(client, dedupe.WithRedisTimeout(testTimeout)) })
}

func TestRedisClusterConformance(t *testing.T) {
	cluster := redistest.StartCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	store := dedupe.NewRedis(client, dedupe.WithRedisTimeout(testTimeout))
	dedupetest.Run(t, func(t *testing.T) dedupe.Store { return store })

	t.Run("KeysSpreadOverMasters", func(t *testing.T) {
		ctx := context.Background()
		for i := range 64 {
			if _, err := store.Claim(ctx, dedupe.Key("spread", strconv.Itoa(i)), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		var masters, empty atomic.Int32
		err := client.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			masters.Add(1)
			n, err := m.Keys(ctx, dedupe.DefaultRedisPrefix+"spread:*").Result()
			if err != nil {
				return err
			}
			if len(n) == 0 {
				empty.Add(1)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if masters.Load() != 3 || empty.Load() != 0 {
			t.Fatalf("%d masters, %d without a key; want 3 masters all holding keys", masters.Load(), empty.Load())
		}
	})
}

func TestRedisKeysAndValues(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv.Addr)
	ctx := context.Background()
	tests := []struct {
		name   string
		opts   []dedupe.RedisOption
		prefix string
	}{
		{"default prefix", nil, dedupe.DefaultRedisPrefix},
		{"custom prefix", []dedupe.RedisOption{dedupe.WithRedisPrefix("app1:")}, "app1:"},
		{"empty prefix", []dedupe.RedisOption{dedupe.WithRedisPrefix("")}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dedupe.NewRedis(client, append([]dedupe.RedisOption{dedupe.WithRedisTimeout(testTimeout)}, tc.opts...)...)
			key := dedupe.Key("github", tc.name)
			rkey := tc.prefix + key
			if ok, err := s.Claim(ctx, key, 90*time.Second+1500*time.Microsecond); !ok || err != nil {
				t.Fatalf("Claim = %v, %v", ok, err)
			}
			if v := client.Get(ctx, rkey).Val(); v != "processing" {
				t.Fatalf("value after Claim = %q, want processing", v)
			}
			if ttl := client.PTTL(ctx, rkey).Val(); ttl <= 85*time.Second || ttl > 90*time.Second+2*time.Millisecond {
				t.Fatalf("PTTL after Claim = %v, want about 90s", ttl)
			}
			if err := s.Complete(ctx, key, 72*time.Hour); err != nil {
				t.Fatal(err)
			}
			if v := client.Get(ctx, rkey).Val(); v != "done" {
				t.Fatalf("value after Complete = %q, want done", v)
			}
			if ttl := client.PTTL(ctx, rkey).Val(); ttl <= 71*time.Hour || ttl > 72*time.Hour {
				t.Fatalf("PTTL after Complete = %v, want about 72h", ttl)
			}
			if err := s.Release(ctx, key); err != nil {
				t.Fatal(err)
			}
			if n := client.Exists(ctx, rkey).Val(); n != 0 {
				t.Fatalf("key exists after Release")
			}
		})
	}
}

// TestRedisDown checks that a store whose Redis is down returns
// ErrUnavailable, never a claim, and works again once Redis is back, with the
// same client.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{
		Addr: srv.Addr, ContextTimeoutEnabled: true,
		DialTimeout: 200 * time.Millisecond, MaxRetries: 1,
	})
	t.Cleanup(func() { _ = client.Close() })
	// s fails fast while Redis is down; patient is for the calls that must
	// succeed on a loaded machine.
	s := dedupe.NewRedis(client, dedupe.WithRedisTimeout(300*time.Millisecond))
	patient := dedupe.NewRedis(client, dedupe.WithRedisTimeout(testTimeout))
	ctx := context.Background()
	held := dedupe.Key("github", "held")
	if ok, err := patient.Claim(ctx, held, time.Hour); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}

	srv.Stop()
	secret := dedupe.Key("github", "key-must-not-leak")
	start := time.Now()
	ok, err := s.Claim(ctx, secret, time.Hour)
	if ok || !errors.Is(err, dedupe.ErrUnavailable) {
		t.Fatalf("Claim with Redis down = %v, %v; want false, ErrUnavailable", ok, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Claim with Redis down took %v", d)
	}
	var se *dedupe.StoreError
	if !errors.As(err, &se) || se.Op != "redis claim" || se.Err == nil {
		t.Fatalf("error %#v is not a *StoreError for redis claim", err)
	}
	if strings.Contains(err.Error(), "key-must-not-leak") || !strings.HasPrefix(err.Error(), "dedupe: redis claim: ") {
		t.Fatalf("error text %q", err)
	}
	if err := s.Complete(ctx, held, time.Hour); !errors.Is(err, dedupe.ErrUnavailable) {
		t.Fatalf("Complete with Redis down = %v, want ErrUnavailable", err)
	}
	if err := s.Release(ctx, held); !errors.Is(err, dedupe.ErrUnavailable) {
		t.Fatalf("Release with Redis down = %v, want ErrUnavailable", err)
	}

	// Fail open: the Claim reports a key taken, and the error is reported.
	var reported atomic.Int32
	fo := dedupe.FailOpen(s, func(err error) {
		if errors.Is(err, dedupe.ErrUnavailable) {
			reported.Add(1)
		}
	})
	if ok, err := fo.Claim(ctx, secret, time.Hour); !ok || err != nil {
		t.Fatalf("FailOpen Claim with Redis down = %v, %v; want true, nil", ok, err)
	}
	if reported.Load() != 1 {
		t.Fatalf("onError called %d times with ErrUnavailable, want 1", reported.Load())
	}

	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err = patient.Claim(ctx, secret, time.Hour)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ok || err != nil {
		t.Fatalf("Claim after restart = %v, %v; want true, nil", ok, err)
	}
	// The claim taken before the crash survived it (append-only file).
	if ok, err := patient.Claim(ctx, held, time.Hour); ok || err != nil {
		t.Fatalf("Claim of a key held before the restart = %v, %v; want false, nil", ok, err)
	}
}

// TestRedisTimeout checks that the store's timeout bounds a call to a server
// that never answers, and that the caller's own deadline is returned as is.
func TestRedisTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	var conns []net.Conn
	done := make(chan struct{})
	go func() { // accept and never answer
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range conns {
					_ = c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	client := redis.NewClient(&redis.Options{
		Addr: l.Addr().String(), ContextTimeoutEnabled: true, ReadTimeout: time.Minute,
		MaxRetries: -1, Protocol: 2, DisableIdentity: true,
	})
	t.Cleanup(func() { _ = client.Close() })
	s := dedupe.NewRedis(client, dedupe.WithRedisTimeout(100*time.Millisecond))

	t.Run("store timeout", func(t *testing.T) {
		start := time.Now()
		ok, err := s.Claim(context.Background(), "k", time.Hour)
		if ok || !errors.Is(err, dedupe.ErrUnavailable) {
			t.Fatalf("Claim = %v, %v; want false, ErrUnavailable", ok, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Claim took %v with a 100ms timeout", d)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := s.Complete(ctx, "k", time.Hour)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, dedupe.ErrUnavailable) {
			t.Fatalf("Complete = %v; want the caller's context.DeadlineExceeded as is", err)
		}
	})
}

func TestRedisPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"nil client", func() { dedupe.NewRedis(nil) }},
		{"nil *redis.Client", func() { dedupe.NewRedis((*redis.Client)(nil)) }},
		{"zero timeout", func() { dedupe.WithRedisTimeout(0) }},
		{"nil FailOpen store", func() { dedupe.FailOpen(nil, nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
	}
}

// TestRedisNoGoroutines checks that the store adds no goroutine of its own:
// once the caller closes its client, none is left.
func TestRedisNoGoroutines(t *testing.T) {
	srv := redistest.Start(t)
	before := runtime.NumGoroutine()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	s := dedupe.NewRedis(client)
	ctx := context.Background()
	for i := range 20 {
		if _, err := s.Claim(ctx, strconv.Itoa(i), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, before)
}

// pipelineCounter is a go-redis hook that counts the pipelines a client
// sends and their commands.
type pipelineCounter struct{ pipelines, cmds atomic.Int64 }

func (c *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (c *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (c *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() != "hello" && cmds[0].Name() != "client" {
			c.pipelines.Add(1)
			c.cmds.Add(int64(len(cmds)))
		}
		return next(ctx, cmds)
	}
}

// onlyCommands hides a client's Pipeline method, so that the store sends
// one command per call.
type onlyCommands struct{ dedupe.RedisClient }

// TestRedisBatched checks that concurrent calls share pipelines, and that a
// client without Pipeline is served one command at a time, with the same
// answers.
func TestRedisBatched(t *testing.T) {
	srv := redistest.Start(t)
	tests := []struct {
		name    string
		wrap    func(*redis.Client) dedupe.RedisClient
		batched bool
	}{
		{"pipelined", func(c *redis.Client) dedupe.RedisClient { return c }, true},
		{"one command per call", func(c *redis.Client) dedupe.RedisClient { return onlyCommands{c} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := newRedisClient(t, srv.Addr)
			var counter pipelineCounter
			client.AddHook(&counter)
			s := dedupe.NewRedis(tc.wrap(client), dedupe.WithRedisTimeout(testTimeout), dedupe.WithRedisPrefix(tc.name+":"))
			ctx := context.Background()
			const workers, keys = 32, 20
			var won atomic.Int64
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for k := range keys {
						// Every worker claims every shared key; one wins each.
						ok, err := s.Claim(ctx, dedupe.Key("shared", strconv.Itoa(k)), time.Minute)
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							won.Add(1)
						}
						own := dedupe.Key("own", strconv.Itoa(w)+"-"+strconv.Itoa(k))
						if ok, err := s.Claim(ctx, own, time.Minute); !ok || err != nil {
							t.Errorf("Claim of a new key = %v, %v", ok, err)
							return
						}
						if err := s.Complete(ctx, own, time.Hour); err != nil {
							t.Error(err)
							return
						}
						if err := s.Release(ctx, own); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if won.Load() != keys {
				t.Fatalf("%d claims of %d shared keys won, want one each", won.Load(), keys)
			}
			calls := int64(workers * keys * 4)
			if tc.batched {
				if counter.cmds.Load() != calls || counter.pipelines.Load() >= calls {
					t.Fatalf("%d calls sent as %d commands in %d pipelines; want every command, in fewer pipelines",
						calls, counter.cmds.Load(), counter.pipelines.Load())
				}
				t.Logf("%d calls in %d pipelines", calls, counter.pipelines.Load())
			} else if counter.pipelines.Load() != 0 {
				t.Fatalf("%d pipelines sent without a Pipeline method", counter.pipelines.Load())
			}
		})
	}
}

// TestRedisTimeoutQueued checks that callers queued behind a batch that
// never ends are bounded by the store's timeout too.
func TestRedisTimeoutQueued(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 64)
	var acceptor sync.WaitGroup
	acceptor.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		acceptor.Wait()
		close(accepted)
		for c := range accepted {
			_ = c.Close()
		}
	})
	client := redis.NewClient(&redis.Options{
		Addr: l.Addr().String(), ContextTimeoutEnabled: true, ReadTimeout: time.Minute,
		MaxRetries: -1, Protocol: 2, DisableIdentity: true,
	})
	t.Cleanup(func() { _ = client.Close() })
	s := dedupe.NewRedis(client, dedupe.WithRedisTimeout(100*time.Millisecond))
	start := time.Now()
	var wg sync.WaitGroup
	var unavailable atomic.Int32
	for i := range 16 {
		wg.Go(func() {
			ok, err := s.Claim(context.Background(), strconv.Itoa(i), time.Hour)
			if !ok && errors.Is(err, dedupe.ErrUnavailable) {
				unavailable.Add(1)
			}
		})
	}
	wg.Wait()
	if unavailable.Load() != 16 {
		t.Fatalf("%d of 16 Claims failed with ErrUnavailable", unavailable.Load())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Claims took %v with a 100ms timeout", d)
	}
}
