package receiver_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// refusingDeadLetters refuses the first n Puts, as a full or unreachable
// store would, then stores.
type refusingDeadLetters struct {
	*receiver.MemoryDeadLetters
	refuse atomic.Int64
	puts   atomic.Int64
}

func (s *refusingDeadLetters) Put(ctx context.Context, d receiver.DeadLetter) error {
	s.puts.Add(1)
	if s.refuse.Add(-1) >= 0 {
		return receiver.ErrDeadLettersFull
	}
	return s.MemoryDeadLetters.Put(ctx, d)
}

// An event the dead-letter store refuses stays queued and is dead-lettered
// once the store takes it: it is never dropped between the two.
func TestDeadLetterStoreRefusalKeepsEvent(t *testing.T) {
	dl := &refusingDeadLetters{MemoryDeadLetters: receiver.NewMemoryDeadLetters(0)}
	dl.refuse.Store(3)
	rec := newRecorder(func(context.Context, *receiver.Event) error { return receiver.Permanent(errors.New("poison")) })
	rc := newReceiver(t, rec, receiver.WithDeadLetters(dl), receiver.Backoff(time.Millisecond, 5*time.Millisecond))
	require.Equal(t, 200, serve(rc, request("dl1", "t", []byte(`{}`))).Code)
	require.Eventually(t, func() bool {
		list, _ := dl.List(context.Background(), 0)
		return len(list) == 1
	}, 10*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 4, dl.puts.Load(), "three refusals, then stored")
	list, err := dl.List(context.Background(), 0)
	require.NoError(t, err)
	assert.Equal(t, "dl1", list[0].Event.ID)
}

// By default a redelivery of a dead-lettered event is processed again (an
// operator pressing "resend"); ReprocessDeadLettered(false) keeps it a
// duplicate for the retention.
func TestRedeliveryOfDeadLetteredEvent(t *testing.T) {
	for _, reprocess := range []bool{true, false} {
		t.Run(map[bool]string{true: "default: processed again", false: "duplicate"}[reprocess], func(t *testing.T) {
			var fail atomic.Bool
			fail.Store(true)
			rec := newRecorder(func(context.Context, *receiver.Event) error {
				if fail.Load() {
					return receiver.Permanent(errors.New("downstream rejected it"))
				}
				return nil
			})
			// The dead-lettered stage is observed once the dead letter is
			// stored and the event's dedupe key settled.
			dead := make(chan struct{}, 1)
			opts := []receiver.Option{receiver.WithObserver(receiver.ObserverFunc(func(_ context.Context, o receiver.Observation) {
				if o.Stage == receiver.StageDeadLettered {
					dead <- struct{}{}
				}
			}))}
			if !reprocess {
				opts = append(opts, receiver.ReprocessDeadLettered(false))
			}
			rc := newReceiver(t, rec, opts...)
			require.Equal(t, 200, serve(rc, request("rd1", "t", []byte(`{}`))).Code)
			select {
			case <-dead:
			case <-time.After(5 * time.Second):
				t.Fatal("not dead-lettered")
			}
			fail.Store(false)
			require.Equal(t, 200, serve(rc, request("rd1", "t", []byte(`{}`))).Code)
			require.NoError(t, rc.Shutdown(ctxTimeout(t, 5*time.Second)))
			want := int64(1)
			if reprocess {
				want = 2
			}
			assert.Equal(t, want, rec.calls.Load(), "handler calls")
		})
	}
}
