package redisq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/faultproxy"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver/driver"
)

// A Join is applied but its reply never arrives (cut, dropped, or held past
// the read timeout); go-redis re-sends it on a new connection. The line
// must hold the token once, in the place it first took.
func TestOrderJoinRetriedAfterLostReplyJoinsOnce(t *testing.T) {
	for name, fault := range lostReplies {
		t.Run(name, func(t *testing.T) {
			p, c, direct := proxied(t)
			ctx := orderCtx(t)
			// The script is known to the server, so the first EVALSHA
			// runs it (rather than answering NOSCRIPT).
			require.NoError(t, direct.ScriptLoad(ctx, orderJoinScript.Source()).Err())
			s := NewOrderStore(c, OrderTimeout(5*time.Second))
			k := hexKey("f00d")
			line, expiry := s.keys(k)

			require.NoError(t, s.Join(ctx, k, "before", time.Minute))
			rule := fault(p, faultproxy.Script(orderJoinScript.Hash()))
			require.NoError(t, s.Join(ctx, k, "tok-1", time.Minute))
			assert.EqualValues(t, 1, rule.Fired(), "the fault fired")
			assert.GreaterOrEqual(t, p.Stats().Commands["EVALSHA"], 3, "go-redis re-sent the script")
			require.NoError(t, s.Join(ctx, k, "after", time.Minute))

			assert.Equal(t, []string{"before", "tok-1", "after"}, direct.ZRange(ctx, line, 0, -1).Val(), "the line")
			assert.EqualValues(t, 3, direct.ZCard(ctx, expiry).Val(), "expiries")
			require.NoError(t, s.Leave(ctx, k, "before"))
			ok, err := s.Turn(ctx, k, "tok-1", time.Minute)
			require.NoError(t, err)
			assert.True(t, ok, "the re-sent token kept its place")
			require.NoError(t, s.Leave(ctx, k, "tok-1"))
			ok, err = s.Turn(ctx, k, "after", time.Minute)
			require.NoError(t, err)
			assert.True(t, ok, "one Leave removed the token joined twice")
		})
	}
}

// Redis stops answering (a partition): every call returns, within about its
// timeout, an error matching ErrUnavailable and driver.ErrQueueFull that
// holds no token or key. A caller's context that ends first gives its own
// error. Once Redis answers again, the store works.
func TestOrderStoreUnavailable(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "no")
	p := faultproxy.New(t, srv.Addr)
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	const timeout = 200 * time.Millisecond
	s := NewOrderStore(c, OrderTimeout(timeout))
	ctx := context.Background()
	k, tok := hexKey("5ec7e7"), "secret-claim-token"
	require.NoError(t, s.Join(ctx, k, "first", time.Minute))

	p.Pause()
	calls := map[string]func() error{
		"Join":  func() error { return s.Join(ctx, k, tok, time.Minute) },
		"Turn":  func() error { _, err := s.Turn(ctx, k, tok, time.Minute); return err },
		"Leave": func() error { return s.Leave(ctx, k, tok) },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		elapsed := time.Since(start)
		require.Error(t, err, name)
		assert.ErrorIs(t, err, ErrUnavailable, name)
		assert.ErrorIs(t, err, driver.ErrQueueFull, name)
		assert.NotContains(t, err.Error(), tok, name)
		assert.NotContains(t, err.Error(), k, name)
		assert.Less(t, elapsed, timeout+time.Second, "%s returned %v after its timeout", name, elapsed-timeout)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := s.Join(short, k, tok, time.Minute)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "the caller's deadline: %v", err)
	assert.NotErrorIs(t, err, ErrUnavailable)

	p.Resume()
	require.Eventually(t, func() bool {
		ok, err := s.Turn(ctx, k, "first", time.Minute)
		return err == nil && ok
	}, 5*time.Second, 50*time.Millisecond, "the store works once Redis answers")
}
