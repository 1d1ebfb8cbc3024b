package receiver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// lostReplyQueue is an in-memory queue whose next Enqueue fails the way a
// queue on a server does when the reply to its write is lost: it reports an
// error although, with stores set, the event was stored. With wait set, it
// reports the error only once a worker runs the stored copy. Being no
// *MemoryQueue, it makes the receiver treat enqueue outcomes as uncertain,
// as it does with Redis or PostgreSQL.
type lostReplyQueue struct {
	*receiver.MemoryQueue
	lose   atomic.Bool
	stores bool
	wait   <-chan struct{}
}

var errReplyLost = fmt.Errorf("reply lost after the write: %w", driver.ErrQueueFull)

func (q *lostReplyQueue) Enqueue(ctx context.Context, e *driver.Event) error {
	if !q.lose.CompareAndSwap(true, false) {
		return q.MemoryQueue.Enqueue(ctx, e)
	}
	if q.stores {
		if err := q.MemoryQueue.Enqueue(ctx, e); err != nil {
			return err
		}
	}
	if q.wait != nil {
		select {
		case <-q.wait:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("no worker ran the stored copy: %w", driver.ErrQueueFull)
		}
	}
	return errReplyLost
}

// plainStore hides the optional dedupe.AdmittedReleaser of the store it
// wraps, as a third-party store without it would.
type plainStore struct{ dedupe.Store }

// TestLostEnqueueReplyWhileTheStoredCopyRuns: an Enqueue that stored the
// event but lost its reply fails while a worker already runs the stored copy
// (its claim confirmed). The delivery is answered 503, and the sender's
// retry is acknowledged as a duplicate: the receiver releases only a claim
// still admitted, so the retry stores no second copy, and the event is
// handled once. The same holds for a hostile delivery: the longest ID
// accepted, of punctuation, and 500 headers of 1 KiB.
func TestLostEnqueueReplyWhileTheStoredCopyRuns(t *testing.T) {
	hostileID := strings.Repeat(`{}"\%:*~`, receiver.MaxIDBytes/8) // exactly MaxIDBytes
	for _, tc := range []struct {
		name, id string
		headers  int
	}{
		{"plain", "evt_1", 0},
		{"hostile", hostileID, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.LessOrEqual(t, len(tc.id), receiver.MaxIDBytes, "an ID the receiver accepts")
			running, finish := make(chan struct{}), make(chan struct{})
			var started atomic.Int32
			rec := newRecorder(func(context.Context, *receiver.Event) error {
				if started.Add(1) == 1 {
					close(running)
					<-finish
				}
				return nil
			})
			q := &lostReplyQueue{MemoryQueue: receiver.NewMemoryQueue(16, 4), stores: true, wait: running}
			q.lose.Store(true)
			rc := newReceiver(t, rec, receiver.WithQueue(q))

			body := []byte(`{}`)
			deliver := func() int {
				r := request(tc.id, "t", body)
				for i := range tc.headers {
					r.Header.Set(fmt.Sprintf("X-Pad-%03d", i), strings.Repeat("v", 1024))
				}
				return serve(rc, r).Code
			}
			require.Equal(t, http.StatusServiceUnavailable, deliver(), "the delivery whose enqueue reply was lost")
			assert.Equal(t, http.StatusOK, deliver(), "the sender's retry")
			close(finish)
			rec.wait(t, 1)
			assert.Equal(t, http.StatusOK, deliver(), "a duplicate after it")
			time.Sleep(100 * time.Millisecond) // a second handling would show
			assert.Equal(t, int64(1), rec.calls.Load(), "handled once")
			t.Logf("counts: sent 3, answered 503 1, acknowledged 2, handled %d, handled twice %d, lost 0",
				min(rec.calls.Load(), 1), max(rec.calls.Load()-1, 0))
		})
	}
}

// TestLostEnqueueReplyNothingStored: an Enqueue that failed without storing
// anything leaves the claim admitted; the receiver releases it, so the
// sender's retry is processed at once and handled once. With a store that
// cannot release an admitted claim alone, the claim holds the key until the
// admission lease lapses: the retry is answered 503 until then, and handled
// once after.
func TestLostEnqueueReplyNothingStored(t *testing.T) {
	const admission = 300 * time.Millisecond
	for _, tc := range []struct {
		name      string
		store     dedupe.Store
		heldUntil time.Duration // how long the retry is refused
	}{
		{"store releases admitted claims", dedupe.NewMemory(), 0},
		{"store without ReleaseAdmitted", plainStore{dedupe.NewMemory()}, admission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(nil)
			q := &lostReplyQueue{MemoryQueue: receiver.NewMemoryQueue(16, 4)}
			q.lose.Store(true)
			rc := newReceiver(t, rec, receiver.WithQueue(q), receiver.WithStore(tc.store), receiver.WithAdmissionLease(admission))

			body := []byte(`{}`)
			start := time.Now()
			first := serve(rc, request("evt_1", "t", body))
			require.Equal(t, http.StatusServiceUnavailable, first.Code, "the delivery whose enqueue failed")
			sent, refused := 1, 1
			for {
				w := serve(rc, request("evt_1", "t", body))
				sent++
				if w.Code == http.StatusOK {
					break
				}
				require.Equal(t, http.StatusServiceUnavailable, w.Code, "a retry while the claim holds the key")
				refused++
				require.Less(t, time.Since(start), 5*time.Second, "the retry was never accepted")
				time.Sleep(20 * time.Millisecond)
			}
			accepted := time.Since(start)
			if tc.heldUntil == 0 {
				assert.Equal(t, 2, sent, "the first retry is accepted")
			} else {
				assert.GreaterOrEqual(t, accepted, tc.heldUntil, "retries refused until the admission lease lapsed")
			}
			rec.wait(t, 1)
			time.Sleep(100 * time.Millisecond) // a second handling would show
			assert.Equal(t, int64(1), rec.calls.Load(), "handled once")
			t.Logf("counts: sent %d, answered 503 %d, acknowledged 1 after %v, handled %d, lost 0",
				sent, refused, accepted.Round(time.Millisecond), rec.calls.Load())
		})
	}
}
