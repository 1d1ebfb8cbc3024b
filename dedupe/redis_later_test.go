package dedupe_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/internal/redisscript"
	"github.com/hookwise/hookwise/internal/redistest"
)

// TestRedisCompleteDeferred checks that Complete within a queue attempt of
// the same client and claim token is left to the queue (redisbatch.Later),
// and that any other Complete runs at once.
func TestRedisCompleteDeferred(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv.Addr)
	store := dedupe.NewRedis(client, dedupe.WithRedisTimeout(testTimeout))
	ctx := context.Background()
	for _, k := range []string{"k1", "k2", "k3"} {
		o, err := store.Claim(ctx, k, "tok", time.Minute)
		require.NoError(t, err)
		require.Equal(t, dedupe.Claimed, o)
	}
	outcome := func(key string) dedupe.Outcome {
		t.Helper()
		o, err := store.Claim(ctx, key, "someone-else", time.Minute)
		require.NoError(t, err)
		return o
	}

	later := redisbatch.NewLater(redisbatch.Shared(client, time.Second), "tok")
	lctx := redisbatch.WithLater(ctx, later)
	require.NoError(t, store.Complete(lctx, "k1", "tok", time.Hour))
	assert.Equal(t, dedupe.Pending, outcome("k1"), "a deferred Complete applied before the queue sent it")

	// Another Batcher's Later (another client, or a queue not sharing it).
	other := redisbatch.NewLater(redisbatch.New(client, time.Second, 0, 0), "tok")
	require.NoError(t, store.Complete(redisbatch.WithLater(ctx, other), "k2", "tok", time.Hour))
	assert.Equal(t, dedupe.Duplicate, outcome("k2"), "Complete with another Batcher's Later")
	assert.Empty(t, other.Seal())

	calls := later.Seal()
	require.Len(t, calls, 1)
	require.NoError(t, store.Complete(lctx, "k3", "tok", time.Hour), "Complete after the Later was sealed")
	assert.Equal(t, dedupe.Duplicate, outcome("k3"), "Complete after the Later was sealed runs at once")

	for _, cmd := range redisscript.RunAll(ctx, redisbatch.Shared(client, time.Second).Do, client.Process, calls) {
		require.NoError(t, cmd.Err())
	}
	assert.Equal(t, dedupe.Duplicate, outcome("k1"), "the deferred Complete, sent")

	cctx, cancel := context.WithCancel(lctx)
	cancel()
	assert.ErrorIs(t, store.Complete(cctx, "k1", "tok", time.Hour), context.Canceled)
}
