package hooklambda_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hooklambda "github.com/hookwise/hookwise/adapters/lambda"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// A handler that defers (receiver.Defer) is run again inside the same
// Enqueue with the same Attempt: a deferral does not use up an attempt.
func TestInlineQueueDeferralKeepsAttempt(t *testing.T) {
	var mu sync.Mutex
	var attempts []int
	mux := receiver.NewMux()
	mux.HandleFunc("*", func(_ context.Context, e *receiver.Event) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, e.Attempt)
		if len(attempts) <= 3 {
			return receiver.Defer(time.Millisecond, "test")
		}
		return nil
	})
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	rc, err := hooklambda.NewReceiverWithQueue(p, mux, hooklambda.NewInlineQueue(hooklambda.Budget(5*time.Second)),
		receiver.MaxAttempts(1), receiver.Backoff(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	a, err := hooklambda.New(rc)
	require.NoError(t, err)
	res := callREST(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_deferred", 1), plain)
	assert.Equal(t, http.StatusOK, res.status)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int{1, 1, 1, 1}, attempts, "three deferrals, then handled, all at attempt 1 (MaxAttempts 1)")
	dls, err := rc.DeadLetters().List(context.Background(), 0)
	require.NoError(t, err)
	assert.Empty(t, dls)
}

// A fan-out route on the inline queue: every handler's copy is finished
// before the answer; a copy that fails for good is dead-lettered alone.
func TestInlineQueueFanout(t *testing.T) {
	var mu sync.Mutex
	ran := map[string][]int{}
	h := func(name string, fail bool) receiver.Handler {
		return receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
			mu.Lock()
			defer mu.Unlock()
			ran[e.Target] = append(ran[e.Target], e.Attempt)
			if fail {
				return receiver.Permanent(assert.AnError)
			}
			return nil
		})
	}
	mux := receiver.NewMux()
	mux.Fanout("*", map[string]receiver.Handler{"billing": h("billing", false), "crm": h("crm", true)})
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	rc, err := hooklambda.NewReceiverWithQueue(p, mux, hooklambda.NewInlineQueue(hooklambda.Budget(5*time.Second)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	a, err := hooklambda.New(rc)
	require.NoError(t, err)
	res := callREST(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_fan", 1), plain)
	assert.Equal(t, http.StatusOK, res.status)
	mu.Lock()
	assert.Equal(t, map[string][]int{"billing": {1}, "crm": {1}}, ran, "both copies ran before the answer")
	mu.Unlock()
	dls, err := rc.DeadLetters().List(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, "~crm~evt_fan", dls[0].Key())
}
