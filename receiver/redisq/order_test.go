package redisq

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/internal/redisscript"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/receiver/drivertest"
)

// orderRedis starts a redis-server that need not write to disk (nothing
// here restarts it) and returns n clients on it, each with its own
// connections, as n replicas would have.
func orderRedis(t *testing.T, n int) []*redis.Client {
	t.Helper()
	s := redistest.Start(t, "--appendonly", "no")
	out := make([]*redis.Client, n)
	for i := range out {
		out[i] = newClient(t, s.Addr)
	}
	return out
}

// orderPrefixOf gives subtest t keys of its own.
func orderPrefixOf(t *testing.T) OrderOption {
	return OrderPrefix("conformance:order:" + t.Name() + ":")
}

// hexKey returns a key as the receiver makes them: 64 hex characters.
func hexKey(s string) string {
	return strings.Repeat("0", 64-len(s)) + s
}

func orderCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOrderStoreConformance(t *testing.T) {
	t.Parallel()
	rdb := orderRedis(t, 1)[0]
	drivertest.RunOrderStore(t, func(t *testing.T) driver.OrderStore {
		return NewOrderStore(rdb, orderPrefixOf(t), OrderTimeout(5*time.Second))
	})
}

// alternating is one OrderStore made of several, each call going to the
// next: replicas taking turns on the same lines.
type alternating struct {
	stores []driver.OrderStore
	n      atomic.Uint64
}

func (a *alternating) next() driver.OrderStore {
	return a.stores[a.n.Add(1)%uint64(len(a.stores))]
}

func (a *alternating) Join(ctx context.Context, key, token string, hold time.Duration) error {
	return a.next().Join(ctx, key, token, hold)
}

func (a *alternating) Turn(ctx context.Context, key, token string, hold time.Duration) (bool, error) {
	return a.next().Turn(ctx, key, token, hold)
}

func (a *alternating) Leave(ctx context.Context, key, token string) error {
	return a.next().Leave(ctx, key, token)
}

// Two stores on two clients (two replicas) pass the suite together, each
// call going to the other store than the last: they share every line.
func TestOrderStoreTwoReplicasConformance(t *testing.T) {
	t.Parallel()
	rdbs := orderRedis(t, 2)
	drivertest.RunOrderStore(t, func(t *testing.T) driver.OrderStore {
		return &alternating{stores: []driver.OrderStore{
			NewOrderStore(rdbs[0], orderPrefixOf(t), OrderTimeout(5*time.Second)),
			NewOrderStore(rdbs[1], orderPrefixOf(t), OrderTimeout(5*time.Second)),
		}}
	})
}

// What one replica joins, another sees in line; stores with another prefix
// do not.
func TestOrderStoreReplicasShareLines(t *testing.T) {
	t.Parallel()
	rdbs := orderRedis(t, 2)
	a, b := NewOrderStore(rdbs[0]), NewOrderStore(rdbs[1])
	other := NewOrderStore(rdbs[1], OrderPrefix("other:"))
	ctx := orderCtx(t)
	k := hexKey("a1")
	require.NoError(t, a.Join(ctx, k, "first", time.Minute))
	require.NoError(t, b.Join(ctx, k, "second", time.Minute))
	require.NoError(t, other.Join(ctx, k, "elsewhere", time.Minute))

	ok, err := b.Turn(ctx, k, "second", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "replica B's token waits for replica A's")
	ok, err = b.Turn(ctx, k, "first", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "replica B sees replica A's token first")
	ok, err = other.Turn(ctx, k, "elsewhere", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "another prefix has lines of its own")

	require.NoError(t, b.Leave(ctx, k, "first")) // left through the other replica
	ok, err = a.Turn(ctx, k, "second", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "after A's token left through B")
}

// Both keys of a line expire twice the longest hold after their last
// renewal, never sooner than an entry's hold; a line left empty has no
// keys, and one nobody comes back to vanishes.
func TestOrderStoreKeysExpire(t *testing.T) {
	t.Parallel()
	rdb := orderRedis(t, 1)[0]
	s := NewOrderStore(rdb)
	ctx := orderCtx(t)
	k := hexKey("b2")
	line, expiry := s.keys(k)
	assert.Equal(t, DefaultOrderPrefix+"{"+k+"}:line", line)
	assert.Equal(t, DefaultOrderPrefix+"{"+k+"}:expiry", expiry)

	ttls := func() []time.Duration {
		return []time.Duration{rdb.PTTL(ctx, line).Val(), rdb.PTTL(ctx, expiry).Val()}
	}
	require.NoError(t, s.Join(ctx, k, "a", 10*time.Minute))
	for _, ttl := range ttls() {
		assert.Greater(t, ttl, 19*time.Minute)
		assert.LessOrEqual(t, ttl, 20*time.Minute)
	}
	// A shorter hold later does not shorten the keys' life below the
	// longer entry's.
	require.NoError(t, s.Join(ctx, k, "b", time.Minute))
	_, err := s.Turn(ctx, k, "b", time.Minute)
	require.NoError(t, err)
	for _, ttl := range ttls() {
		assert.Greater(t, ttl, 19*time.Minute, "after a shorter hold")
	}
	// A longer one lengthens it.
	_, err = s.Turn(ctx, k, "a", time.Hour)
	require.NoError(t, err)
	for _, ttl := range ttls() {
		assert.Greater(t, ttl, 119*time.Minute, "after a longer hold")
	}
	require.NoError(t, s.Leave(ctx, k, "a"))
	require.NoError(t, s.Leave(ctx, k, "b"))
	assert.EqualValues(t, 0, rdb.Exists(ctx, line, expiry).Val(), "keys of a line left empty")

	// Abandoned: nobody renews, leaves or asks again.
	k2 := hexKey("b3")
	line2, expiry2 := s.keys(k2)
	require.NoError(t, s.Join(ctx, k2, "lost", 100*time.Millisecond))
	assert.EqualValues(t, 2, rdb.Exists(ctx, line2, expiry2).Val())
	assert.Eventually(t, func() bool { return rdb.Exists(ctx, line2, expiry2).Val() == 0 },
		5*time.Second, 20*time.Millisecond, "an abandoned line's keys expire")
}

// A line holds at most OrderMaxLine entries; re-joining a token in it is
// not refused; lines are bounded one by one; leaving, or an entry's hold
// passing, makes room.
func TestOrderStoreLineBound(t *testing.T) {
	t.Parallel()
	rdb := orderRedis(t, 1)[0]
	s := NewOrderStore(rdb, OrderMaxLine(3))
	ctx := orderCtx(t)
	k := hexKey("c3")
	require.NoError(t, s.Join(ctx, k, "short", 300*time.Millisecond))
	require.NoError(t, s.Join(ctx, k, "a", time.Minute))
	require.NoError(t, s.Join(ctx, k, "b", time.Minute))
	err := s.Join(ctx, k, "c", time.Minute)
	require.ErrorIs(t, err, driver.ErrQueueFull, "beyond the bound")
	assert.NotErrorIs(t, err, ErrUnavailable, "a full line is not an unavailable Redis")
	assert.NotContains(t, err.Error(), k)
	assert.NoError(t, s.Join(ctx, k, "a", time.Minute), "a token already in line at the bound")
	assert.NoError(t, s.Join(ctx, hexKey("c4"), "c", time.Minute), "another line")
	line, _ := s.keys(k)
	assert.EqualValues(t, 3, rdb.ZCard(ctx, line).Val())

	time.Sleep(400 * time.Millisecond) // "short" lapses
	require.NoError(t, s.Join(ctx, k, "c", time.Minute), "after an entry's hold passed")
	require.ErrorIs(t, s.Join(ctx, k, "d", time.Minute), driver.ErrQueueFull)
	require.NoError(t, s.Leave(ctx, k, "b"))
	require.NoError(t, s.Join(ctx, k, "d", time.Minute), "after a token left")
	assert.Equal(t, []string{"a", "c", "d"}, rdb.ZRange(ctx, line, 0, -1).Val())

	// No bound.
	u := NewOrderStore(rdb, OrderPrefix("unbounded:"), OrderMaxLine(0))
	for i := range 10 {
		require.NoError(t, u.Join(ctx, k, strconv.Itoa(i), time.Minute))
	}
}

// An entry whose hold passed in the middle of the line does not hold back
// those behind it once the ones before it leave.
func TestOrderStoreLapsedInMiddle(t *testing.T) {
	t.Parallel()
	rdb := orderRedis(t, 1)[0]
	s := NewOrderStore(rdb)
	ctx := orderCtx(t)
	k := hexKey("d4")
	require.NoError(t, s.Join(ctx, k, "a", time.Minute))
	require.NoError(t, s.Join(ctx, k, "lost", 200*time.Millisecond))
	require.NoError(t, s.Join(ctx, k, "c", time.Minute))
	time.Sleep(300 * time.Millisecond)
	ok, err := s.Turn(ctx, k, "c", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "a is still first")
	require.NoError(t, s.Leave(ctx, k, "a"))
	ok, err = s.Turn(ctx, k, "c", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "the lapsed entry between does not hold c back")
	line, expiry := s.keys(k)
	assert.Equal(t, []string{"c"}, rdb.ZRange(ctx, line, 0, -1).Val())
	assert.Equal(t, []string{"c"}, rdb.ZRange(ctx, expiry, 0, -1).Val())
}

// One call drops a bounded number of lapsed entries; a line with more of
// them in front of a live token reaches it within a few calls, each
// dropping at most 2×orderPruneMax.
func TestOrderStorePruneBounded(t *testing.T) {
	t.Parallel()
	rdb := orderRedis(t, 1)[0]
	s := NewOrderStore(rdb, OrderMaxLine(0))
	ctx := orderCtx(t)
	k := hexKey("e5")
	line, _ := s.keys(k)
	const lapsed = 5*orderPruneMax + 7
	const hold = time.Second
	for i := range lapsed {
		require.NoError(t, s.Join(ctx, k, "lost"+strconv.Itoa(i), hold))
	}
	require.NoError(t, s.Join(ctx, k, "live", time.Minute))
	require.EqualValues(t, lapsed+1, rdb.ZCard(ctx, line).Val(), "no entry lapsed while the line filled")
	time.Sleep(hold + 100*time.Millisecond)
	calls := 0
	for {
		before := rdb.ZCard(ctx, line).Val()
		ok, err := s.Turn(ctx, k, "live", time.Minute)
		require.NoError(t, err)
		calls++
		dropped := before - rdb.ZCard(ctx, line).Val()
		assert.LessOrEqual(t, dropped, int64(2*orderPruneMax), "entries dropped by call %d", calls)
		if ok {
			break
		}
		require.Less(t, calls, lapsed, "the live token never got its turn")
	}
	assert.Equal(t, (lapsed+2*orderPruneMax-1)/(2*orderPruneMax), calls, "calls until the live token's turn")
	assert.EqualValues(t, 1, rdb.ZCard(ctx, line).Val())
}

// Keys that are empty, too long or hold braces are hashed into a safe hash
// tag and still keep lines apart.
func TestOrderStoreOddKeys(t *testing.T) {
	t.Parallel()
	rdb := orderRedis(t, 1)[0]
	s := NewOrderStore(rdb)
	ctx := orderCtx(t)
	odd := []string{"", "}{", "a{b}c", strings.Repeat("k", maxRawOrderKey+1), "plain"}
	for _, k := range odd {
		line, expiry := s.keys(k)
		tag, ok := hashTag(line)
		require.True(t, ok, "key %q: %s has a hash tag", k, line)
		etag, _ := hashTag(expiry)
		assert.Equal(t, tag, etag, "key %q: both keys share the tag", k)
		assert.LessOrEqual(t, len(line), len(DefaultOrderPrefix)+maxRawOrderKey+8)
		require.NoError(t, s.Join(ctx, k, "first", time.Minute))
	}
	for _, k := range odd {
		ok, err := s.Turn(ctx, k, "first", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok, "key %q", k)
	}
	l1, _ := s.keys("")
	l2, _ := s.keys(strings.Repeat("k", maxRawOrderKey+1))
	assert.NotEqual(t, l1, l2)
}

// On a Cluster each line's two keys share a slot, so the scripts run, and
// lines of different keys live on different nodes.
func TestOrderStoreCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	drivertest.RunOrderStore(t, func(t *testing.T) driver.OrderStore {
		return NewOrderStore(rdb, orderPrefixOf(t), OrderTimeout(5*time.Second))
	})
}

func TestOrderOptionsPanic(t *testing.T) {
	assert.Panics(t, func() { OrderPrefix("a{b}:") })
	assert.Panics(t, func() { OrderPrefix("a{") })
	assert.Panics(t, func() { OrderTimeout(0) })
	assert.Panics(t, func() { OrderMaxLine(-1) })
	assert.Panics(t, func() { NewOrderStore(nil) })
	assert.NotPanics(t, func() { OrderPrefix("") })
}

// An OrderStore shared by the replicas of a receiver.
func ExampleNewOrderStore() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()

	order := NewOrderStore(rdb, OrderTimeout(500*time.Millisecond))
	// receiver.WithOrdering(receiver.Ordering{Key: …, Store: order}),
	// with the same prefix on every replica.
	_ = order
}

// Leave within an attempt of a Queue on the same client, for the attempt's
// own token, goes with the entry's acknowledgement: the token stays first
// in its line until then. Another token's Leave, or one outside an
// attempt, is sent at once.
func TestOrderStoreLeaveDeferredToTheAck(t *testing.T) {
	rdb := orderRedis(t, 1)[0]
	ctx := context.Background()
	s := NewOrderStore(rdb)
	for _, tok := range []string{"t1", "t2", "t3"} {
		require.NoError(t, s.Join(ctx, "k", tok, time.Minute))
	}
	later := redisbatch.NewLater(redisbatch.Shared(rdb, time.Second), "t1")
	actx := redisbatch.WithLater(ctx, later)
	require.NoError(t, s.Leave(actx, "k", "t1"))
	first, err := s.Turn(ctx, "k", "t1", time.Minute)
	require.NoError(t, err)
	assert.True(t, first, "t1 still first in its line until its acknowledgement")
	ok, err := s.Turn(ctx, "k", "t2", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "t2 waits")

	require.NoError(t, s.Leave(actx, "k", "t3"), "another token's Leave")
	calls := later.Seal()
	require.Len(t, calls, 1, "only the attempt's own Leave deferred")
	b := redisbatch.Shared(rdb, time.Second)
	for _, c := range redisscript.RunAll(ctx, b.Do, rdb.Process, calls) {
		require.NoError(t, c.Err())
	}
	ok, err = s.Turn(ctx, "k", "t2", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "t2's turn once the deferred Leave was sent (t3 left at once)")
	n, err := rdb.ZCard(ctx, DefaultOrderPrefix+"{k}:line").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "t2 alone left in the line")

	require.NoError(t, s.Leave(actx, "k", "t2"), "sealed: sent at once")
	n, err = rdb.ZCard(ctx, DefaultOrderPrefix+"{k}:line").Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}
