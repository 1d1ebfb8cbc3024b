package redisscript_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/internal/redisscript"
	"github.com/hookwise/hookwise/internal/redistest"
)

// recorder is a go-redis hook that records the name of every command sent,
// alone or in a pipeline.
type recorder struct {
	mu    sync.Mutex
	names []string
}

func (r *recorder) add(cmds ...redis.Cmder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cmds {
		if n := c.Name(); n != "hello" && n != "client" {
			r.names = append(r.names, n)
		}
	}
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.names
	r.names = nil
	return n
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.add(cmd); return next(ctx, cmd) }
}
func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.add(cmds...); return next(ctx, cmds) }
}

var echo = redisscript.New(`redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]`)

func newClient(t *testing.T) (*redis.Client, *recorder) {
	t.Helper()
	srv := redistest.Start(t, "--appendonly", "no")
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	rec := &recorder{}
	c.AddHook(rec)
	return c, rec
}

func TestHashIsRedisDigest(t *testing.T) {
	c, _ := newClient(t)
	sha, err := c.ScriptLoad(context.Background(), echo.Source()).Result()
	require.NoError(t, err)
	assert.Equal(t, sha, echo.Hash())
	assert.Len(t, echo.Hash(), 40)
}

func TestRun(t *testing.T) {
	c, rec := newClient(t)
	batch := redisbatch.New(c, 10*time.Second, 0, 0)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   redisscript.Do
	}{
		{"batched", batch.Do},
		{"process only", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, c.ScriptFlush(ctx).Err())
			rec.take()

			// Unknown to the server: EVALSHA answers NOSCRIPT, EVAL runs it.
			got, err := echo.Run(ctx, tc.do, c.Process, []string{"k"}, "v1").Text()
			require.NoError(t, err)
			assert.Equal(t, "v1", got)
			assert.Equal(t, []string{"evalsha", "eval"}, rec.take())
			assert.Equal(t, "v1", c.Get(ctx, "k").Val())
			rec.take()

			// Known now: EVALSHA alone.
			got, err = echo.Run(ctx, tc.do, c.Process, []string{"k"}, "v2").Text()
			require.NoError(t, err)
			assert.Equal(t, "v2", got)
			assert.Equal(t, []string{"evalsha"}, rec.take())
			assert.Equal(t, "v2", c.Get(ctx, "k").Val())
		})
	}
}

func TestRunNilReply(t *testing.T) {
	c, _ := newClient(t)
	s := redisscript.New(`return false`)
	err := s.Run(context.Background(), nil, c.Process, []string{"k"}).Err()
	assert.ErrorIs(t, err, redis.Nil)
}

func TestRunScriptErrorNotRetried(t *testing.T) {
	c, rec := newClient(t)
	ctx := context.Background()
	s := redisscript.New(`return redis.error_reply('BOOM no')`)
	require.NoError(t, c.ScriptLoad(ctx, s.Source()).Err())
	rec.take()
	err := s.Run(ctx, redisbatch.New(c, 10*time.Second, 0, 0).Do, c.Process, []string{"k"}).Err()
	require.Error(t, err)
	assert.True(t, redis.HasErrorPrefix(err, "BOOM"), "error %v", err)
	assert.Equal(t, []string{"evalsha"}, rec.take(), "an error other than NOSCRIPT is not retried")
}

func TestRunContextDone(t *testing.T) {
	c, rec := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var sent redis.Cmder
	do := func(ctx context.Context, cmds ...redis.Cmder) error {
		sent = cmds[0]
		return ctx.Err()
	}
	cmd := echo.Run(ctx, do, c.Process, []string{"k"}, "v")
	require.ErrorIs(t, cmd.Err(), context.Canceled)
	assert.NotSame(t, sent, cmd, "the command handed to do is not returned after do failed")
	assert.Empty(t, rec.take(), "no fallback EVAL once the caller's context is done")
}

func TestRunBackendError(t *testing.T) {
	c, _ := newClient(t)
	boom := errors.New("boom")
	do := func(context.Context, ...redis.Cmder) error { return boom }
	cmd := echo.Run(context.Background(), do, c.Process, []string{"k"}, "v")
	assert.ErrorIs(t, cmd.Err(), boom)
}

func TestRunPanicsWithoutProcess(t *testing.T) {
	assert.Panics(t, func() { echo.Run(context.Background(), nil, nil, nil) })
}

func TestRunAll(t *testing.T) {
	c, rec := newClient(t)
	batch := redisbatch.New(c, 10*time.Second, 0, 0)
	ctx := context.Background()
	fail := redisscript.New(`return redis.error_reply('ERR nope')`)
	calls := []redisscript.Call{
		{Script: echo, Keys: []string{"a"}, Args: []any{"1"}},
		{Script: fail, Keys: []string{"b"}},
		{Script: echo, Keys: []string{"c"}, Args: []any{"3"}},
	}
	check := func(cmds []*redis.Cmd) []string {
		t.Helper()
		sent := rec.take()
		require.Len(t, cmds, 3)
		assert.Equal(t, "1", cmds[0].Val())
		assert.ErrorContains(t, cmds[1].Err(), "nope")
		assert.Equal(t, "3", cmds[2].Val())
		assert.Equal(t, "1", c.Get(ctx, "a").Val())
		assert.Equal(t, "3", c.Get(ctx, "c").Val())
		rec.take()
		return sent
	}
	// A server that never ran the scripts: one pipeline, then the source
	// of each once, in order.
	assert.Equal(t, []string{"evalsha", "evalsha", "evalsha", "eval", "eval", "eval"},
		check(redisscript.RunAll(ctx, batch.Do, c.Process, calls)))
	assert.Equal(t, []string{"evalsha", "evalsha", "evalsha"},
		check(redisscript.RunAll(ctx, batch.Do, c.Process, calls)), "scripts known")
	assert.Empty(t, redisscript.RunAll(ctx, batch.Do, c.Process, nil))

	// do gives up: every command holds the error.
	cctx, cancel := context.WithCancel(ctx)
	giveUp := func(ctx context.Context, cmds ...redis.Cmder) error { cancel(); return ctx.Err() }
	for _, cmd := range redisscript.RunAll(cctx, giveUp, c.Process, calls) {
		assert.ErrorIs(t, cmd.Err(), context.Canceled)
	}
	assert.Empty(t, rec.take(), "nothing sent once do gave up")
	assert.Panics(t, func() { redisscript.RunAll(ctx, nil, c.Process, calls) })
}

func TestMerge(t *testing.T) {
	setAll := redisscript.NewPerKey(`for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[i]) end return #KEYS`, 1)
	one := func(k string) redisscript.Call {
		return redisscript.Call{Script: setAll, Keys: []string{k}, Args: []any{"v" + k}}
	}
	other := redisscript.Call{Script: echo, Keys: []string{"e"}, Args: []any{"x"}}
	calls := []redisscript.Call{one("a"), one("b"), one("c"), other, one("d"), one("e"), one("f"), one("g")}
	merged := redisscript.Merge(calls, 3)
	require.Len(t, merged, 4, "a b c | echo | d e f | g")
	assert.Equal(t, []string{"a", "b", "c"}, merged[0].Keys)
	assert.Equal(t, []any{"va", "vb", "vc"}, merged[0].Args)
	assert.Equal(t, other, merged[1], "a call of another script is kept")
	assert.Equal(t, []string{"d", "e", "f"}, merged[2].Keys, "at most maxKeys keys")
	assert.Equal(t, []string{"g"}, merged[3].Keys)
	assert.Equal(t, []string{"a"}, calls[0].Keys, "the calls given are not changed")
	assert.Len(t, redisscript.Merge([]redisscript.Call{other, other}, 10), 2, "calls of a script not per key")

	// A call whose slices have room to spare is not written through.
	roomy := redisscript.Call{Script: setAll, Keys: append(make([]string, 0, 8), "r"), Args: append(make([]any, 0, 8), "vr")}
	merged2 := redisscript.Merge([]redisscript.Call{roomy, one("s")}, 10)
	require.Len(t, merged2, 1)
	assert.Equal(t, []string{"r", "s"}, merged2[0].Keys)
	assert.Equal(t, "", roomy.Keys[:2][1], "nothing written past the first call's keys")
	assert.Nil(t, roomy.Args[:2][1], "nothing written past the first call's arguments")

	// Merging a run costs allocations in the log of its length, not one
	// copy of everything so far per call.
	run := make([]redisscript.Call, 512)
	for i := range run {
		run[i] = one(strconv.Itoa(i))
	}
	var long []redisscript.Call
	allocs := testing.AllocsPerRun(10, func() { long = redisscript.Merge(run, 512) })
	require.Len(t, long, 1)
	assert.Len(t, long[0].Keys, 512)
	assert.Less(t, allocs, 40.0, "allocations merging 512 calls")
	assert.Panics(t, func() { redisscript.NewPerKey("return 1", 0) })

	// The merged calls do what the calls would have.
	c, _ := newClient(t)
	ctx := context.Background()
	batch := redisbatch.New(c, 10*time.Second, 0, 0)
	for _, cmd := range redisscript.RunAll(ctx, batch.Do, c.Process, merged) {
		require.NoError(t, cmd.Err())
	}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		assert.Equal(t, "v"+k, c.Get(ctx, k).Val(), k)
	}
}
