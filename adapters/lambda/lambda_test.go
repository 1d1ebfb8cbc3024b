package hooklambda_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hooklambda "github.com/hookwise/hookwise/adapters/lambda"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const stripeSecret = "whsec_lambda_test_secret"

const restHost = "abc123defg.execute-api.us-east-1.amazonaws.com"

func stripeBody(id string, pad int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"invoice.paid","data":{"object":{"id":"in_1","pad":%q}}}`, id, strings.Repeat("p", pad))
}

func stripeDelivery(secret, id string, pad int) *http.Request {
	return stripe.NewRequest("https://"+restHost+stage+"/webhooks", secret, time.Now(), stripeBody(id, pad))
}

// endpoint is a Stripe receiver built with NewReceiver, whose handler
// records each event it handles.
type endpoint struct {
	rc      *receiver.Receiver
	a       *hooklambda.Adapter
	mu      sync.Mutex
	handled []string
	fail    atomic.Int64 // attempts left to fail
	calls   atomic.Int64
}

func newEndpoint(t *testing.T, q *hooklambda.InlineQueue, opts ...receiver.Option) *endpoint {
	t.Helper()
	ep := &endpoint{}
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		ep.calls.Add(1)
		if ep.fail.Add(-1) >= 0 {
			return errors.New("not now")
		}
		ep.mu.Lock()
		ep.handled = append(ep.handled, e.ID)
		ep.mu.Unlock()
		return nil
	}))
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	opts = append([]receiver.Option{receiver.WithMaxBodyBytes(2 << 10), receiver.RetryAfter(7 * time.Second), receiver.Backoff(time.Millisecond, time.Millisecond)}, opts...)
	ep.rc, err = hooklambda.NewReceiverWithQueue(p, mux, q, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ep.rc.Shutdown(context.Background()) })
	ep.a, err = hooklambda.New(ep.rc)
	require.NoError(t, err)
	return ep
}

func (ep *endpoint) handledIDs() []string {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return append([]string(nil), ep.handled...)
}

// TestDeliveriesAnsweredAsTheStatusTableSays sends signed (plain and
// base64), duplicate, forged, oversized, undecodable and wrong-method
// deliveries in each event shape. A 200 comes after the handler ran: its
// effect is visible when the invocation returns, without Drain.
func TestDeliveriesAnsweredAsTheStatusTableSays(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			ep := newEndpoint(t, nil)
			ctx := context.Background()

			res := s.call(t, ep.a, ctx, stripeDelivery(stripeSecret, "evt_signed", 10), plain)
			assert.Equal(t, http.StatusOK, res.status, "signed")
			assert.Equal(t, []string{"evt_signed"}, ep.handledIDs(), "handled before the answer")

			res = s.call(t, ep.a, ctx, stripeDelivery(stripeSecret, "evt_signed", 10), plain)
			assert.Equal(t, http.StatusOK, res.status, "duplicate")
			assert.Equal(t, []string{"evt_signed"}, ep.handledIDs(), "a duplicate is not handled again")

			res = s.call(t, ep.a, ctx, stripeDelivery(stripeSecret, "evt_base64", 10), b64)
			assert.Equal(t, http.StatusOK, res.status, "signed, base64 body")
			assert.Equal(t, []string{"evt_signed", "evt_base64"}, ep.handledIDs())

			res = s.call(t, ep.a, ctx, stripeDelivery("whsec_forged", "evt_forged", 10), plain)
			assert.Equal(t, http.StatusUnauthorized, res.status, "forged")
			assert.Equal(t, "Unauthorized", strings.TrimSpace(res.body))

			res = s.call(t, ep.a, ctx, stripeDelivery(stripeSecret, "evt_big", 3<<10), b64)
			assert.Equal(t, http.StatusRequestEntityTooLarge, res.status, "oversized")

			res = s.call(t, ep.a, ctx, stripeDelivery(stripeSecret, "evt_bad64", 10), broken)
			assert.Equal(t, http.StatusBadRequest, res.status, "body not base64")

			get, err := http.NewRequest(http.MethodGet, "https://"+restHost+stage+"/webhooks", nil)
			require.NoError(t, err)
			res = s.call(t, ep.a, ctx, get, plain)
			assert.Equal(t, http.StatusMethodNotAllowed, res.status, "GET")
			assert.Equal(t, "POST", res.header.Get("Allow"))

			assert.Equal(t, []string{"evt_signed", "evt_base64"}, ep.handledIDs())
		})
	}
}

func TestAFailedAttemptIsRetriedBeforeTheAnswer(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			ep := newEndpoint(t, nil)
			ep.fail.Store(2)
			res := s.call(t, ep.a, context.Background(), stripeDelivery(stripeSecret, "evt_flaky", 1), plain)
			assert.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, int64(3), ep.calls.Load())
			assert.Equal(t, []string{"evt_flaky"}, ep.handledIDs())
		})
	}
}

// TestAnEventNotFinishedIs503AndItsRedeliveryIsHandled: promise 2. A
// handler still failing at the deadline is answered 503 with Retry-After,
// and the claim released: the sender's redelivery is handled, not taken
// for a duplicate.
func TestAnEventNotFinishedIs503AndItsRedeliveryIsHandled(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			ep := newEndpoint(t, hooklambda.NewInlineQueue(hooklambda.Budget(300*time.Millisecond), hooklambda.Grace(20*time.Millisecond)),
				receiver.Backoff(40*time.Millisecond, 40*time.Millisecond), receiver.MaxAttempts(1000))
			ep.fail.Store(1 << 20)
			res := s.call(t, ep.a, context.Background(), stripeDelivery(stripeSecret, "evt_down", 1), plain)
			assert.Equal(t, http.StatusServiceUnavailable, res.status)
			assert.Equal(t, "7", res.header.Get("Retry-After"))
			assert.Greater(t, ep.calls.Load(), int64(1), "retried within the budget")
			assert.Empty(t, ep.handledIDs())

			ep.fail.Store(0)
			res = s.call(t, ep.a, context.Background(), stripeDelivery(stripeSecret, "evt_down", 1), plain)
			assert.Equal(t, http.StatusOK, res.status, "the redelivery")
			assert.Equal(t, []string{"evt_down"}, ep.handledIDs())
		})
	}
}

func TestAHandlerRunningPastTheDeadlineIsCanceledAnd503(t *testing.T) {
	var slow atomic.Bool
	slow.Store(true)
	mux := receiver.NewMux()
	var handled atomic.Int64
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		if slow.Load() {
			<-ctx.Done()
			return ctx.Err()
		}
		handled.Add(1)
		return nil
	}))
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	rc, err := hooklambda.NewReceiverWithQueue(p, mux, hooklambda.NewInlineQueue(hooklambda.Budget(10*time.Second)), receiver.Backoff(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	defer rc.Shutdown(context.Background())
	a, err := hooklambda.New(rc, hooklambda.Reserve(100*time.Millisecond))
	require.NoError(t, err)

	// The invocation's deadline, not the budget, bounds the handling.
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := callHTTPAPI(t, a, ctx, stripeDelivery(stripeSecret, "evt_slow", 1), plain)
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Less(t, time.Since(start), 2*time.Second, "answered before the invocation's deadline, not after the 10 s budget")

	slow.Store(false)
	res = callHTTPAPI(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_slow", 1), plain)
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, int64(1), handled.Load())
}

func TestAHandlerIgnoringItsContextIsDetachedAndCounted(t *testing.T) {
	release := make(chan struct{})
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		<-release // ignores ctx
		return nil
	}))
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	q := hooklambda.NewInlineQueue(hooklambda.Budget(200*time.Millisecond), hooklambda.Grace(20*time.Millisecond))
	rc, err := hooklambda.NewReceiverWithQueue(p, mux, q)
	require.NoError(t, err)
	a, err := hooklambda.New(rc)
	require.NoError(t, err)

	res := callREST(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_stuck", 1), plain)
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	st, err := rc.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, st.Depth, "the detached attempt is counted")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, q.Shutdown(ctx), context.DeadlineExceeded)
	close(release)
	require.NoError(t, rc.Drain(context.Background()))
	require.NoError(t, q.Shutdown(context.Background()))
}

func TestAPermanentFailureIsDeadLetteredAndAcknowledged(t *testing.T) {
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		return receiver.Permanent(errors.New("unknown customer"))
	}))
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	rc, err := hooklambda.NewReceiver(p, mux)
	require.NoError(t, err)
	defer rc.Shutdown(context.Background())
	a, err := hooklambda.New(rc)
	require.NoError(t, err)
	res := callFunctionURL(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_dead", 1), plain)
	assert.Equal(t, http.StatusOK, res.status)
	dl, err := rc.DeadLetters().List(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, dl, 1)
	assert.Equal(t, "evt_dead", dl[0].Event.ID)
}

func TestMaxInFlightIsABound(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		entered <- struct{}{}
		<-release
		return nil
	}))
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	rc, err := hooklambda.NewReceiverWithQueue(p, mux, hooklambda.NewInlineQueue(hooklambda.MaxInFlight(1)))
	require.NoError(t, err)
	defer rc.Shutdown(context.Background())
	a, err := hooklambda.New(rc)
	require.NoError(t, err)
	done := make(chan response)
	go func() {
		done <- callHTTPAPI(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_a", 1), plain)
	}()
	<-entered
	res := callHTTPAPI(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_b", 1), plain)
	assert.Equal(t, http.StatusServiceUnavailable, res.status, "beyond MaxInFlight")
	close(release)
	assert.Equal(t, http.StatusOK, (<-done).status)
	go func() { <-entered }()
	res = callHTTPAPI(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_b", 1), plain)
	assert.Equal(t, http.StatusOK, res.status, "the redelivery, once a slot is free")
}

func TestInlineQueueLifecycle(t *testing.T) {
	q := hooklambda.NewInlineQueue()
	require.ErrorIs(t, q.Enqueue(context.Background(), &receiver.Event{ID: "x"}), receiver.ErrClosed, "before Start")
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	rc, err := hooklambda.NewReceiverWithQueue(p, receiver.NewMux(), q)
	require.NoError(t, err)
	_, err = receiver.New(p, receiver.NewMux(), receiver.WithQueue(q))
	require.Error(t, err, "one queue, one receiver")
	require.NoError(t, rc.Shutdown(context.Background()))
	a, err := hooklambda.New(rc)
	require.NoError(t, err)
	res := callREST(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_late", 1), plain)
	assert.Equal(t, http.StatusServiceUnavailable, res.status, "after Shutdown")
}

type stubQueue struct{ receiver.Queue }

func TestNewDurableReceiverRefusesQueuesThatDieWithTheEnvironment(t *testing.T) {
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	for _, q := range []receiver.Queue{nil, receiver.NewMemoryQueue(1, 1), hooklambda.NewInlineQueue()} {
		_, err := hooklambda.NewDurableReceiver(p, receiver.NewMux(), q)
		require.ErrorIs(t, err, hooklambda.ErrNotDurable)
	}
}

func TestPublicURLMustBeAbsoluteHTTP(t *testing.T) {
	for _, u := range []string{"", "/path", "ftp://h/x", "https://", "mailto:x@y", "://bad"} {
		_, err := hooklambda.New(http.NotFoundHandler(), hooklambda.PublicURL(u))
		require.ErrorIs(t, err, hooklambda.ErrInvalidPublicURL, u)
	}
}

// TestAHandlerFinishingWithinGraceIsAcknowledged: at the deadline the
// attempt's context is canceled; a handler that then completes its work
// within Grace is answered 200.
func TestAHandlerFinishingWithinGraceIsAcknowledged(t *testing.T) {
	var handled atomic.Int64
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		<-ctx.Done()
		handled.Add(1) // finishes (say, commits) on cancellation
		return nil
	}))
	p, err := stripe.New(stripeSecret)
	require.NoError(t, err)
	rc, err := hooklambda.NewReceiverWithQueue(p, mux, hooklambda.NewInlineQueue(hooklambda.Budget(200*time.Millisecond), hooklambda.Grace(100*time.Millisecond)))
	require.NoError(t, err)
	defer rc.Shutdown(context.Background())
	a, err := hooklambda.New(rc)
	require.NoError(t, err)
	res := callALB(t, a, context.Background(), stripeDelivery(stripeSecret, "evt_grace", 1), plain, false)
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, int64(1), handled.Load())
}
