package redisq

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/faultproxy"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
)

// proxied starts a redis-server and a fault proxy in front of it, and returns
// a client through the proxy (go-redis's default retries on, a short read
// timeout so a dropped reply is noticed quickly) and one straight to Redis
// for checks.
// lostReplies are the ways a command's reply is lost after Redis applied
// it, each armed for the next command m matches: go-redis re-sends the
// command on a new connection.
var lostReplies = map[string]func(p *faultproxy.Proxy, m faultproxy.Matcher) *faultproxy.Rule{
	"cut after apply": func(p *faultproxy.Proxy, m faultproxy.Matcher) *faultproxy.Rule { return p.CutAfterApply(m, 1) },
	"reply dropped":   func(p *faultproxy.Proxy, m faultproxy.Matcher) *faultproxy.Rule { return p.DropReply(m, 1) },
	"reply held past the read timeout": func(p *faultproxy.Proxy, m faultproxy.Matcher) *faultproxy.Rule {
		return p.HoldReply(m, time.Second, 1)
	},
}

func proxied(t *testing.T) (*faultproxy.Proxy, *redis.Client, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	p := faultproxy.New(t, srv.Addr)
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), ReadTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()).Err())
	return p, c, newClient(t, srv.Addr)
}

// The enqueue script is applied but its reply never arrives (cut, dropped,
// or held past the read timeout); go-redis re-sends it on a new connection.
// The stream must hold the event once: the re-sent script finds the
// idempotency key its first run wrote (the plain script) or the claim its
// first run took (the claiming one).
func TestEnqueueRetriedAfterLostReplyAddsOnce(t *testing.T) {
	for name, fault := range lostReplies {
		for _, claims := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/queue claims %v", name, claims), func(t *testing.T) {
				p, c, direct := proxied(t)
				q := New(c, fast(CallTimeout(5*time.Second))...)
				script := enqueueScript
				if claims {
					// The claiming script: its re-send must find the key
					// admitted by its own token (not answer Pending).
					require.True(t, q.ClaimFor(dedupe.NewRedis(c), time.Minute, time.Hour))
					script = enqueueClaimScript
				}
				rule := fault(p, faultproxy.Script(script.Hash()))
				e := &receiver.Event{Provider: "p", ID: "evt_1", Type: "t", Body: []byte(`{}`), Attempt: 1, ClaimToken: "tok-1"}
				require.NoError(t, q.Enqueue(context.Background(), e))
				assert.EqualValues(t, 1, rule.Fired(), "the fault fired")
				assert.GreaterOrEqual(t, p.Stats().Commands["EVALSHA"], 2, "go-redis re-sent the script")
				n, err := direct.XLen(context.Background(), q.stream).Result()
				require.NoError(t, err)
				assert.EqualValues(t, 1, n, "entries in the stream")
				if claims {
					assert.Equal(t, "a:tok-1", direct.Get(context.Background(), q.claimKey(e.DedupeKey())).Val(), "admitted once, by the delivery's token")
					assert.Zero(t, direct.Exists(context.Background(), q.enqueued+"tok-1").Val(), "no idempotency key: the claim is one")
				}
				require.NoError(t, q.Shutdown(context.Background()))
			})
		}
	}
}

// The same token enqueued twice (a retried call) adds one entry; another
// token adds another.
func TestEnqueueIdempotentPerToken(t *testing.T) {
	_, rdb := startRedis(t)
	q := New(rdb, fast()...)
	ctx := context.Background()
	e := &receiver.Event{Provider: "p", ID: "evt_1", Type: "t", Body: []byte(`{}`), Attempt: 1, ClaimToken: "tok-1"}
	require.NoError(t, q.Enqueue(ctx, e))
	require.NoError(t, q.Enqueue(ctx, e))
	assert.EqualValues(t, 1, rdb.XLen(ctx, q.stream).Val())
	e2 := *e
	e2.ClaimToken = "tok-2"
	require.NoError(t, q.Enqueue(ctx, &e2))
	assert.EqualValues(t, 2, rdb.XLen(ctx, q.stream).Val())
	// An event without a token gets a fresh one per call.
	e3 := *e
	e3.ClaimToken = ""
	require.NoError(t, q.Enqueue(ctx, &e3))
	require.NoError(t, q.Enqueue(ctx, &e3))
	assert.EqualValues(t, 4, rdb.XLen(ctx, q.stream).Val())
	// The idempotency keys expire.
	ttl := rdb.PTTL(ctx, q.enqueued+"tok-1").Val()
	assert.Greater(t, ttl, time.Duration(0))
	assert.LessOrEqual(t, ttl, q.idemTTL)
}

// MaxLen counts retries waiting in the delayed set: the backlog cannot grow
// past it through retries.
func TestMaxLenCountsScheduledRetries(t *testing.T) {
	_, rdb := startRedis(t)
	q := New(rdb, fast(MaxLen(3))...)
	ctx := context.Background()
	for i, tok := range []string{"a", "b"} {
		require.NoError(t, q.Enqueue(ctx, &receiver.Event{Provider: "p", ID: tok, Type: "t", Attempt: 1, ClaimToken: tok}), i)
	}
	require.NoError(t, rdb.ZAdd(ctx, q.delayed, redis.Z{Score: float64(time.Now().Add(time.Hour).UnixMilli()), Member: "x"}).Err())
	err := q.Enqueue(ctx, &receiver.Event{Provider: "p", ID: "c", Type: "t", Attempt: 1, ClaimToken: "c"})
	assert.ErrorIs(t, err, receiver.ErrQueueFull)
	assert.EqualValues(t, 2, rdb.XLen(ctx, q.stream).Val())
}
