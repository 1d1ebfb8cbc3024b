package drivertest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver/driver"
)

// RunClaimingQueue runs the conformance suite of driver.ClaimingQueue:
// ClaimFor agrees for the store given; then Enqueue of an event with an ID
// admits its dedupe key in the store for the event's claim token and the
// admission lease, exactly as the store's Claim would (another token's Claim
// is then Pending), and stores the event; a second delivery of the same
// event (another token) is refused with an error matching
// driver.ErrPending while the key is admitted, and with driver.ErrDuplicate
// once it is confirmed or done, storing nothing either way; a fan-out copy
// (Event.Target) is claimed under its own key; an event without an ID is
// stored without a claim; and, started, the queue runs exactly the events
// it stored. newQueue returns a new, empty queue for each subtest, and
// newStore the store the receiver would be given with it (ClaimFor is
// called with it).
func RunClaimingQueue(t *testing.T, newQueue func(t *testing.T) driver.ClaimingQueue, newStore func(t *testing.T) dedupe.Store, opts ...Option) {
	t.Helper()
	c := newConfig(opts)
	run := runID()
	t.Run("ClaimsAsTheStoreWould", func(t *testing.T) {
		q, store := newQueue(t), newStore(t)
		const admission, lease = time.Minute, time.Hour
		require.True(t, q.ClaimFor(store, admission, lease), "ClaimFor agrees for its store")
		ctx, cancel := context.WithTimeout(context.Background(), c.wait)
		defer cancel()
		id := "evt_claim_" + run
		ev := func(token, target string) *driver.Event {
			return &driver.Event{Provider: "drivertest", ID: id, Type: "t", Target: target, ClaimToken: token,
				Attempt: 1, ReceivedAt: time.Now(), Body: []byte(`{}`)}
		}
		first := ev(newToken(), "")
		require.NoError(t, q.Enqueue(ctx, first), "the first delivery is stored")
		o, err := store.Claim(ctx, first.DedupeKey(), newToken(), admission)
		require.NoError(t, err)
		assert.Equal(t, dedupe.Pending, o, "the key is admitted for the first delivery's token")

		assert.ErrorIs(t, q.Enqueue(ctx, ev(newToken(), "")), driver.ErrPending, "a second delivery while the key is admitted")
		held, err := store.Confirm(ctx, first.DedupeKey(), first.ClaimToken, lease)
		require.NoError(t, err)
		require.True(t, held, "the first delivery's token holds the key")
		assert.ErrorIs(t, q.Enqueue(ctx, ev(newToken(), "")), driver.ErrDuplicate, "a second delivery once the key is confirmed")

		copyA := ev(newToken(), "a")
		require.NoError(t, q.Enqueue(ctx, copyA), "a fan-out copy is claimed under its own key")
		assert.ErrorIs(t, q.Enqueue(ctx, ev(newToken(), "a")), driver.ErrPending, "a second copy for the same target")

		noID := &driver.Event{Provider: "drivertest", Type: "t", ClaimToken: newToken(), Attempt: 1, ReceivedAt: time.Now()}
		require.NoError(t, q.Enqueue(ctx, noID), "an event without an ID is stored")

		p := newProcessor(nil)
		require.NoError(t, q.Start(p))
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), c.wait)
			defer cancel()
			_ = q.Shutdown(sctx)
		})
		for _, tok := range []string{first.ClaimToken, copyA.ClaimToken, noID.ClaimToken} {
			require.Eventually(t, func() bool { return len(p.of(tok)) > 0 }, c.wait, 5*time.Millisecond, "a stored event runs")
		}
		time.Sleep(settle)
		p.mu.Lock()
		n := len(p.calls)
		p.mu.Unlock()
		assert.Equal(t, 3, n, "only the stored events run, once each")

		require.NoError(t, store.Complete(ctx, first.DedupeKey(), first.ClaimToken, time.Hour))
		assert.ErrorIs(t, q.Enqueue(ctx, ev(newToken(), "")), driver.ErrDuplicate, "a redelivery once the event is done")
	})
}
