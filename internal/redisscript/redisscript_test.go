package redisscript_test

import (
	"context"
	"errors"
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
