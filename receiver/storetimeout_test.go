package receiver_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
)

// stallingStore is a dedupe store whose Claim, while stall is set, waits on
// its context alone, as a store with no timeout of its own would on a server
// that never answers. It gives up after unbounded, so that a missing bound
// fails the test instead of hanging it.
type stallingStore struct {
	dedupe.Store
	stall atomic.Bool
	errs  chan error // what each stalled Claim's context reported
}

const unbounded = 10 * time.Second

var errUnbounded = errors.New("claim not bounded by the receiver")

func (s *stallingStore) Claim(ctx context.Context, key, token string, lease time.Duration) (dedupe.Outcome, error) {
	if !s.stall.Load() {
		return s.Store.Claim(ctx, key, token, lease)
	}
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case <-time.After(unbounded):
		err = errUnbounded
	}
	s.errs <- err
	return dedupe.Pending, err
}

// TestStoreTimeoutBoundsAStoreThatWaitsOnDone: StoreTimeout alone bounds a
// dedupe call when the store has no timeout of its own. The stalled delivery
// is answered 503 (not acknowledged), the sender's retry is acknowledged and
// handled once.
func TestStoreTimeoutBoundsAStoreThatWaitsOnDone(t *testing.T) {
	store := &stallingStore{Store: dedupe.NewMemory(), errs: make(chan error, 1)}
	store.stall.Store(true)
	rec := newRecorder(nil)
	rc := newReceiver(t, rec, receiver.WithStore(store), receiver.StoreTimeout(50*time.Millisecond))

	body := []byte(`{}`)
	first := serve(rc, request("evt_1", "t", body))
	require.Len(t, store.errs, 1, "the claim stalled")
	assert.ErrorIs(t, <-store.errs, context.DeadlineExceeded, "the store's context reached its deadline")
	assert.Equal(t, http.StatusServiceUnavailable, first.Code, "a delivery whose claim timed out is not acknowledged")

	store.stall.Store(false)
	retry := serve(rc, request("evt_1", "t", body))
	assert.Equal(t, http.StatusOK, retry.Code, "the sender's retry")
	rec.wait(t, 1)
	again := serve(rc, request("evt_1", "t", body))
	assert.Equal(t, http.StatusOK, again.Code, "a duplicate after it")
	time.Sleep(100 * time.Millisecond) // a second handling would show
	assert.Equal(t, int64(1), rec.calls.Load(), "handled once")
	t.Logf("counts: sent 3, answered 503 1, acknowledged 2, handled %d, handled twice 0, lost 0", rec.calls.Load())
}
