package dedupe_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/dedupe/dedupetest"
	"github.com/hookwise/hookwise/internal/redistest"
)

var (
	_ dedupe.Store            = (*dedupe.Redis)(nil)
	_ dedupe.AdmittedReleaser = (*dedupe.Redis)(nil)
)

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
		// Event IDs that all carry the same hash tag still spread: the key
		// names hold only a digest of them.
		spread := dedupe.NewRedis(client, dedupe.WithRedisTimeout(testTimeout), dedupe.WithRedisPrefix("spread:"))
		for i := range 64 {
			_, err := spread.Claim(ctx, dedupe.Key("github", "{tag}"+strconv.Itoa(i)), dedupe.NewToken(), time.Minute)
			require.NoError(t, err)
		}
		var masters, empty atomic.Int32
		err := client.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			masters.Add(1)
			n, err := m.Keys(ctx, "spread:*").Result()
			if err != nil {
				return err
			}
			if len(n) == 0 {
				empty.Add(1)
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, int32(3), masters.Load(), "masters")
		assert.Zero(t, empty.Load(), "masters without a key")
	})
}

// redisKey is the Redis key a store with prefix uses for key, computed here
// independently of the store.
func redisKey(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:])[:32]
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
			rkey := redisKey(tc.prefix, key)
			tok := dedupe.NewToken()
			o, err := s.Claim(ctx, key, tok, 10*time.Second+1500*time.Microsecond)
			require.NoError(t, err)
			require.Equal(t, dedupe.Claimed, o)
			assert.Equal(t, "a:"+tok, client.Get(ctx, rkey).Val(), "value after Claim")
			ttl := client.PTTL(ctx, rkey).Val()
			assert.True(t, ttl > 5*time.Second && ttl <= 10*time.Second+2*time.Millisecond, "PTTL after Claim = %v, want about 10s", ttl)

			ok, err := s.Confirm(ctx, key, tok, 90*time.Second)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, "c:"+tok, client.Get(ctx, rkey).Val(), "value after Confirm")
			ttl = client.PTTL(ctx, rkey).Val()
			assert.True(t, ttl > 85*time.Second && ttl <= 90*time.Second, "PTTL after Confirm = %v, want about 90s", ttl)

			require.NoError(t, s.Complete(ctx, key, tok, 72*time.Hour))
			assert.Equal(t, "d", client.Get(ctx, rkey).Val(), "value after Complete")
			ttl = client.PTTL(ctx, rkey).Val()
			assert.True(t, ttl > 71*time.Hour && ttl <= 72*time.Hour, "PTTL after Complete = %v, want about 72h", ttl)

			require.NoError(t, s.Release(ctx, key, ""))
			assert.Zero(t, client.Exists(ctx, rkey).Val(), "key exists after Release")
		})
	}
}

// TestRedisKeyNames checks that a Redis key name is the prefix and a fixed
// length digest, whatever the event ID: no ID can choose the key's Cluster
// slot with braces or make a huge key.
func TestRedisKeyNames(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv.Addr)
	ctx := context.Background()
	s := dedupe.NewRedis(client, dedupe.WithRedisTimeout(testTimeout), dedupe.WithRedisPrefix("names:"))
	ids := []string{"{slot}", "}{", "a{b}c", strings.Repeat("x", 1<<20), "\x00\xff\r\n", ""}
	want := map[string]bool{}
	for _, id := range ids {
		key := dedupe.Key("github", id)
		_, err := s.Claim(ctx, key, dedupe.NewToken(), time.Minute)
		require.NoError(t, err)
		want[redisKey("names:", key)] = true
	}
	keys, err := client.Keys(ctx, "names:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, len(ids))
	for _, k := range keys {
		assert.True(t, want[k], "unexpected key %q", k)
		assert.Len(t, k, len("names:")+32)
		assert.NotContains(t, k[len("names:"):], "{")
		assert.NotContains(t, k[len("names:"):], "}")
	}
}

// TestRedisForeignValue checks that a value the store did not write (such as
// "processing" from a release before claim tokens) is read as another
// token's admitted claim: Pending, and left alone by conditional calls.
func TestRedisForeignValue(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv.Addr)
	ctx := context.Background()
	s := dedupe.NewRedis(client, dedupe.WithRedisTimeout(testTimeout))
	key := dedupe.Key("github", "foreign")
	rkey := redisKey(dedupe.DefaultRedisPrefix, key)
	require.NoError(t, client.Set(ctx, rkey, "processing", time.Hour).Err())
	tok := dedupe.NewToken()
	o, err := s.Claim(ctx, key, tok, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Pending, o)
	ok, err := s.Confirm(ctx, key, tok, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, s.Complete(ctx, key, tok, time.Hour))
	require.NoError(t, s.Release(ctx, key, tok))
	assert.Equal(t, "processing", client.Get(ctx, rkey).Val())
	require.NoError(t, s.Release(ctx, key, ""))
	o, err = s.Claim(ctx, key, tok, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Claimed, o)
}

// resend is a go-redis hook that sends every command or pipeline twice, as
// go-redis does when a connection drops after the server applied a command
// and before its reply arrived; the caller sees the second reply.
type resend struct{ on atomic.Bool }

func (r *resend) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *resend) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if r.on.Load() {
			_ = next(ctx, cmd)
		}
		return next(ctx, cmd)
	}
}
func (r *resend) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if r.on.Load() {
			_ = next(ctx, cmds)
		}
		return next(ctx, cmds)
	}
}

// TestRedisResentCommands checks that a command resent after its reply was
// lost answers as the first run would have: a resent Claim is Claimed (with
// SET NX it found the key it had just written and reported the only delivery
// of the event a duplicate), and resent Confirm, Complete and Release act
// once.
func TestRedisResentCommands(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name string
		wrap func(*redis.Client) dedupe.RedisClient
	}{
		{"pipelined", func(c *redis.Client) dedupe.RedisClient { return c }},
		{"one command per call", func(c *redis.Client) dedupe.RedisClient { return onlyCommands{c} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := newRedisClient(t, srv.Addr)
			hook := &resend{}
			client.AddHook(hook)
			s := dedupe.NewRedis(tc.wrap(client), dedupe.WithRedisTimeout(testTimeout), dedupe.WithRedisPrefix(tc.name+":"))
			ctx := context.Background()
			// Load the scripts, so that every call below is one EVALSHA.
			warm := dedupe.NewToken()
			_, err := s.Claim(ctx, "warm", warm, time.Minute)
			require.NoError(t, err)
			_, err = s.Confirm(ctx, "warm", warm, time.Minute)
			require.NoError(t, err)
			require.NoError(t, s.Complete(ctx, "warm", warm, time.Minute))
			require.NoError(t, s.Release(ctx, "warm", warm))
			hook.on.Store(true)

			key, a, b := dedupe.Key("github", "resent"), dedupe.NewToken(), dedupe.NewToken()
			o, err := s.Claim(ctx, key, a, time.Minute)
			require.NoError(t, err)
			require.Equal(t, dedupe.Claimed, o, "a resent Claim of a new key")
			o, err = s.Claim(ctx, key, b, time.Minute)
			require.NoError(t, err)
			require.Equal(t, dedupe.Pending, o)
			ok, err := s.Confirm(ctx, key, a, time.Hour)
			require.NoError(t, err)
			require.True(t, ok, "a resent Confirm")
			require.NoError(t, s.Release(ctx, key, a))
			o, err = s.Claim(ctx, key, b, time.Minute)
			require.NoError(t, err)
			require.Equal(t, dedupe.Claimed, o)
			require.NoError(t, s.Complete(ctx, key, b, time.Hour))
			o, err = s.Claim(ctx, key, a, time.Minute)
			require.NoError(t, err)
			require.Equal(t, dedupe.Duplicate, o)
		})
	}
}

// TestRedisNoScript checks that the store works on with a server that
// forgot its scripts (SCRIPT FLUSH, as after a restart).
func TestRedisNoScript(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv.Addr)
	ctx := context.Background()
	s := dedupe.NewRedis(client, dedupe.WithRedisTimeout(testTimeout))
	key, a, b := dedupe.Key("github", "noscript"), dedupe.NewToken(), dedupe.NewToken()
	flush := func() { require.NoError(t, client.ScriptFlush(ctx).Err()) }
	flush()
	o, err := s.Claim(ctx, key, a, time.Minute)
	require.NoError(t, err)
	require.Equal(t, dedupe.Claimed, o)
	flush()
	o, err = s.Claim(ctx, key, a, time.Minute)
	require.NoError(t, err)
	require.Equal(t, dedupe.Claimed, o)
	flush()
	ok, err := s.Confirm(ctx, key, a, time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	flush()
	require.NoError(t, s.Complete(ctx, key, a, time.Hour))
	flush()
	o, err = s.Claim(ctx, key, b, time.Minute)
	require.NoError(t, err)
	require.Equal(t, dedupe.Duplicate, o)
	flush()
	require.NoError(t, s.Release(ctx, key, ""))
	o, err = s.Claim(ctx, key, b, time.Minute)
	require.NoError(t, err)
	require.Equal(t, dedupe.Claimed, o)
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
	held, holder := dedupe.Key("github", "held"), dedupe.NewToken()
	o, err := patient.Claim(ctx, held, holder, time.Hour)
	require.NoError(t, err)
	require.Equal(t, dedupe.Claimed, o)

	srv.Stop()
	secret := dedupe.Key("github", "key-must-not-leak")
	tok := dedupe.NewToken()
	start := time.Now()
	o, err = s.Claim(ctx, secret, tok, time.Hour)
	require.ErrorIs(t, err, dedupe.ErrUnavailable, "Claim with Redis down")
	require.Zero(t, o, "Claim with Redis down")
	assert.LessOrEqual(t, time.Since(start), 3*time.Second, "Claim with Redis down")
	var se *dedupe.StoreError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "redis claim", se.Op)
	assert.Error(t, se.Err, "StoreError.Err")
	assert.NotContains(t, err.Error(), "key-must-not-leak")
	assert.True(t, strings.HasPrefix(err.Error(), "dedupe: redis claim: "), "error text %q", err)
	ok, err := s.Confirm(ctx, held, holder, time.Hour)
	require.ErrorIs(t, err, dedupe.ErrUnavailable, "Confirm with Redis down")
	require.False(t, ok)
	require.ErrorIs(t, s.Complete(ctx, held, holder, time.Hour), dedupe.ErrUnavailable, "Complete with Redis down")
	require.ErrorIs(t, s.Release(ctx, held, holder), dedupe.ErrUnavailable, "Release with Redis down")

	// Fail open: the Claim reports a key taken, and the error is reported.
	var reported atomic.Int32
	fo := dedupe.FailOpen(s, func(err error) {
		if errors.Is(err, dedupe.ErrUnavailable) {
			reported.Add(1)
		}
	})
	o, err = fo.Claim(ctx, secret, tok, time.Hour)
	require.NoError(t, err, "FailOpen Claim with Redis down")
	require.Equal(t, dedupe.Claimed, o, "FailOpen Claim with Redis down")
	require.Equal(t, int32(1), reported.Load(), "onError calls with ErrUnavailable")

	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err = patient.Claim(ctx, secret, tok, time.Hour)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err, "Claim after restart")
	require.Equal(t, dedupe.Claimed, o, "Claim after restart")
	// The claim taken before the crash survived it (append-only file), and
	// the restarted server, which forgot the scripts, runs them again.
	o, err = patient.Claim(ctx, held, dedupe.NewToken(), time.Hour)
	require.NoError(t, err)
	require.Equal(t, dedupe.Pending, o, "Claim of a key held before the restart")
	ok, err = patient.Confirm(ctx, held, holder, time.Hour)
	require.NoError(t, err)
	require.True(t, ok, "Confirm of a claim taken before the restart")
}

// TestRedisTimeout checks that the store's timeout bounds a call to a server
// that never answers, and that the caller's own deadline is returned as is.
func TestRedisTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
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
		o, err := s.Claim(context.Background(), "k", dedupe.NewToken(), time.Hour)
		require.ErrorIs(t, err, dedupe.ErrUnavailable)
		require.Zero(t, o)
		assert.LessOrEqual(t, time.Since(start), 5*time.Second, "Claim with a 100ms timeout")
	})
	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := s.Complete(ctx, "k", dedupe.NewToken(), time.Hour)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "want the caller's deadline")
		assert.NotErrorIs(t, err, dedupe.ErrUnavailable, "want the caller's deadline as is")
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
			assert.Panics(t, tc.f)
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
		_, err := s.Claim(ctx, strconv.Itoa(i), dedupe.NewToken(), time.Minute)
		require.NoError(t, err)
	}
	require.NoError(t, client.Close())
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
						o, err := s.Claim(ctx, dedupe.Key("shared", strconv.Itoa(k)), dedupe.NewToken(), time.Minute)
						if !assert.NoError(t, err) {
							return
						}
						if o == dedupe.Claimed {
							won.Add(1)
						}
						own, tok := dedupe.Key("own", strconv.Itoa(w)+"-"+strconv.Itoa(k)), dedupe.NewToken()
						o, err = s.Claim(ctx, own, tok, time.Minute)
						if !assert.NoError(t, err, "Claim of a new key") || !assert.Equal(t, dedupe.Claimed, o, "Claim of a new key") {
							return
						}
						if !assert.NoError(t, s.Complete(ctx, own, tok, time.Hour)) || !assert.NoError(t, s.Release(ctx, own, "")) {
							return
						}
					}
				})
			}
			wg.Wait()
			require.Equal(t, int64(keys), won.Load(), "claims of shared keys won, want one each")
			calls := int64(workers * keys * 4)
			if tc.batched {
				require.Equal(t, calls, counter.cmds.Load(), "commands sent")
				require.Less(t, counter.pipelines.Load(), calls, "pipelines")
				t.Logf("%d calls in %d pipelines", calls, counter.pipelines.Load())
			} else {
				assert.Zero(t, counter.pipelines.Load(), "pipelines sent without a Pipeline method")
			}
		})
	}
}

// TestRedisTimeoutQueued checks that callers queued behind a batch that
// never ends are bounded by the store's timeout too.
func TestRedisTimeoutQueued(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
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
			o, err := s.Claim(context.Background(), strconv.Itoa(i), dedupe.NewToken(), time.Hour)
			if o == 0 && errors.Is(err, dedupe.ErrUnavailable) {
				unavailable.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(16), unavailable.Load(), "Claims failed with ErrUnavailable")
	assert.LessOrEqual(t, time.Since(start), 5*time.Second, "Claims with a 100ms timeout")
}
