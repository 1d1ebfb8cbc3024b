package redisbatch

import (
	"context"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/redisscript"
)

func TestShared(t *testing.T) {
	a := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	b := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })

	ba := Shared(a, time.Second)
	assert.Same(t, ba, Shared(a, 3*time.Second), "second Shared of one client")
	assert.Equal(t, 3*time.Second, time.Duration(ba.timeout.Load()), "timeout raised to the longest asked")
	assert.Same(t, ba, Shared(redis.UniversalClient(a), time.Millisecond), "the client behind an interface")
	assert.Equal(t, 3*time.Second, time.Duration(ba.timeout.Load()), "timeout never lowered")
	assert.Equal(t, SharedMaxInFlight, ba.maxInFlight)
	assert.NotSame(t, ba, Shared(b, time.Second), "another client")
	assert.Panics(t, func() { Shared(nil, time.Second) })
	assert.Panics(t, func() { Shared(a, 0) })
}

// TestSharedDropped checks that a shared Batcher nobody holds is collected
// and its registry entry removed, so that clients are not kept forever.
func TestSharedDropped(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	_ = Shared(c, time.Second)
	addr := reflect.ValueOf(c).Pointer()
	shared.mu.Lock()
	_, ok := shared.m[addr]
	shared.mu.Unlock()
	require.True(t, ok, "client not registered")
	require.Eventually(t, func() bool {
		runtime.GC()
		shared.mu.Lock()
		defer shared.mu.Unlock()
		_, ok := shared.m[addr]
		return !ok
	}, patience, 10*time.Millisecond, "entry of a dropped Batcher still registered")
}

func TestLater(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	b := New(c, time.Second, 0, 0)
	other := New(c, time.Second, 0, 0)
	call := redisscript.Call{Script: redisscript.New("return 1"), Keys: []string{"k"}}
	l := NewLater(b, "tok")
	ctx := WithLater(context.Background(), l)

	assert.False(t, Defer(context.Background(), b, "tok", call), "a context without a Later")
	assert.False(t, Defer(ctx, other, "tok", call), "another Batcher")
	assert.False(t, Defer(ctx, b, "other", call), "another token")
	assert.False(t, Defer(ctx, nil, "tok", call), "no Batcher")
	assert.True(t, Defer(ctx, b, "tok", call))
	assert.True(t, Defer(context.WithoutCancel(ctx), b, "tok", call), "a derived context")
	assert.Len(t, l.Seal(), 2)
	assert.False(t, Defer(ctx, b, "tok", call), "sealed")
	assert.Len(t, l.Seal(), 2, "Seal again")

	empty := NewLater(b, "")
	assert.False(t, Defer(WithLater(context.Background(), empty), b, "", call), "an empty token")
	assert.Empty(t, empty.Seal())
}

func TestTakeConfirmed(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	b := New(c, time.Second, 0, 0)
	other := New(c, time.Second, 0, 0)
	l := NewLater(b, "tok")
	ctx := WithLater(context.Background(), l)

	assert.False(t, TakeConfirmed(ctx, b, "tok"), "not confirmed")
	l.SetConfirmed()
	assert.False(t, TakeConfirmed(context.Background(), b, "tok"), "a context without a Later")
	assert.False(t, TakeConfirmed(ctx, other, "tok"), "another Batcher")
	assert.False(t, TakeConfirmed(ctx, b, "other"), "another token")
	assert.True(t, TakeConfirmed(context.WithoutCancel(ctx), b, "tok"), "a derived context")
	assert.False(t, TakeConfirmed(ctx, b, "tok"), "answered once")

	l.SetConfirmed()
	l.Seal()
	assert.False(t, TakeConfirmed(ctx, b, "tok"), "sealed: the attempt is over")
}
