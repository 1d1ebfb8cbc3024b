package otel_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	hwotel "github.com/hookwise/hookwise/adapters/otel"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// failing returns a handler that fails its first n calls, then succeeds,
// and counts its calls.
func failing(n int32, calls *atomic.Int32) receiver.HandlerFunc {
	return func(ctx context.Context, e *receiver.Event) error {
		if calls.Add(1) <= n {
			return errors.New("downstream unavailable")
		}
		return nil
	}
}

// assertLinked checks that each consumer span is the root of a trace of its
// own, linked to the delivery span, with the attempts 1..n in order.
func assertLinked(t *testing.T, server sdktrace.ReadOnlySpan, consumers []sdktrace.ReadOnlySpan) {
	t.Helper()
	for i, c := range consumers {
		require.Len(t, c.Links(), 1, "attempt %d", i+1)
		link := c.Links()[0].SpanContext
		assert.Equal(t, server.SpanContext().TraceID(), link.TraceID(), "attempt %d", i+1)
		assert.Equal(t, server.SpanContext().SpanID(), link.SpanID(), "attempt %d", i+1)
		assert.False(t, c.Parent().IsValid(), "attempt %d: linked, not parented", i+1)
		assert.NotEqual(t, server.SpanContext().TraceID(), c.SpanContext().TraceID(), "attempt %d", i+1)
		a := attrs(c)
		assert.Equal(t, int64(i+1), a[hwotel.AttrAttempt].AsInt64())
		assert.Equal(t, "hookwise", a["messaging.system"].AsString())
		assert.Equal(t, "process", a["messaging.operation.type"].AsString())
		assert.Equal(t, "evt_1", a["messaging.message.id"].AsString())
		assert.Equal(t, "stripe", a["messaging.destination.name"].AsString())
		assert.Equal(t, "process stripe", c.Name())
	}
}

func TestAttemptSpansLinkToDeliverySpan(t *testing.T) {
	tel, sr := tracing(t)
	var calls atomic.Int32
	mux := receiver.NewMux()
	mux.Use(tel.Middleware)
	mux.Handle("invoice.paid", failing(2, &calls))
	rc, err := receiver.New(provider(t), mux, append(tel.Options(), receiver.Backoff(time.Millisecond, time.Millisecond))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	h := tel.Instrument(rc)

	require.Equal(t, http.StatusOK, deliver(h, event("evt_1", "invoice.paid")))
	drain(t, rc)
	require.Equal(t, int32(3), calls.Load())

	spans := sr.Ended()
	servers := byKind(spans, trace.SpanKindServer)
	consumers := byKind(spans, trace.SpanKindConsumer)
	require.Len(t, servers, 1)
	require.Len(t, consumers, 3, "one consumer span per attempt")
	assert.Len(t, spans, 4)
	server := servers[0]
	assert.Equal(t, "receive stripe", server.Name())
	sa := attrs(server)
	assert.Equal(t, int64(200), sa["http.response.status_code"].AsInt64())
	assert.Equal(t, "accepted", sa[hwotel.AttrOutcome].AsString())
	assert.Equal(t, "evt_1", sa["messaging.message.id"].AsString())
	assert.Equal(t, "invoice.paid", sa[hwotel.AttrEventType].AsString())
	assert.Equal(t, "receive", sa["messaging.operation.type"].AsString())
	assert.Contains(t, sa, hwotel.AttrSkew, "stripe signs a timestamp")

	assertLinked(t, server, consumers)
	for i, c := range consumers[:2] {
		assert.Equal(t, codes.Error, c.Status().Code, "attempt %d", i+1)
		assert.Equal(t, "retried", attrs(c)[hwotel.AttrOutcome].AsString())
		assert.Equal(t, []string{"exception", hwotel.EventRetried}, eventNames(c))
	}
	assert.NotEqual(t, codes.Error, consumers[2].Status().Code)
	assert.Equal(t, "handled", attrs(consumers[2])[hwotel.AttrOutcome].AsString())
	assert.Empty(t, eventNames(consumers[2]))
	assert.Zero(t, tel.Pending())
}

func TestDeadLetterRecordedOnLastAttempt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		attempts int
	}{
		{"retries spent", errors.New("still down"), 3},
		{"permanent", receiver.Permanent(errors.New("bad invoice")), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel, sr := tracing(t)
			mux := receiver.NewMux()
			mux.Use(tel.Middleware)
			mux.HandleFunc("invoice.*", func(context.Context, *receiver.Event) error { return tc.err })
			rc, err := receiver.New(provider(t), mux, append(tel.Options(),
				receiver.Backoff(time.Millisecond, time.Millisecond), receiver.MaxAttempts(3))...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })

			require.Equal(t, http.StatusOK, deliver(tel.Instrument(rc), event("evt_1", "invoice.paid")))
			drain(t, rc)

			spans := sr.Ended()
			servers := byKind(spans, trace.SpanKindServer)
			require.Len(t, servers, 1)
			consumers := byKind(spans, trace.SpanKindConsumer)
			require.Len(t, consumers, tc.attempts)
			assertLinked(t, servers[0], consumers)
			last := consumers[len(consumers)-1]
			assert.Equal(t, codes.Error, last.Status().Code)
			assert.Equal(t, "dead_lettered", attrs(last)[hwotel.AttrOutcome].AsString())
			assert.Equal(t, []string{"exception", hwotel.EventDeadLettered}, eventNames(last))
			assert.Zero(t, tel.Pending())
		})
	}
}

// A panicking handler's attempt is a failed attempt, recorded and retried.
func TestPanicAttemptSpan(t *testing.T) {
	tel, sr := tracing(t)
	var calls atomic.Int32
	mux := receiver.NewMux()
	mux.Use(tel.Middleware)
	mux.HandleFunc("*", func(context.Context, *receiver.Event) error {
		if calls.Add(1) == 1 {
			panic("nil map")
		}
		return nil
	})
	rc, err := receiver.New(provider(t), mux, append(tel.Options(), receiver.Backoff(time.Millisecond, time.Millisecond))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	require.Equal(t, http.StatusOK, deliver(tel.Instrument(rc), event("evt_1", "a.b")))
	drain(t, rc)

	consumers := byKind(sr.Ended(), trace.SpanKindConsumer)
	require.Len(t, consumers, 2)
	assert.Equal(t, codes.Error, consumers[0].Status().Code)
	assert.Equal(t, "panic: nil map", consumers[0].Status().Description)
	assert.Equal(t, []string{"exception", hwotel.EventRetried}, eventNames(consumers[0]))
	assert.Equal(t, "handled", attrs(consumers[1])[hwotel.AttrOutcome].AsString())
	assert.Zero(t, tel.Pending())
}

// A handler's error text is bounded on the span.
func TestErrorTextBounded(t *testing.T) {
	tel, sr := tracing(t)
	mux := receiver.NewMux()
	mux.Use(tel.Middleware)
	mux.HandleFunc("*", func(context.Context, *receiver.Event) error {
		return receiver.Permanent(errors.New(strings.Repeat("x", 10_000)))
	})
	rc, err := receiver.New(provider(t), mux, tel.Options()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	require.Equal(t, http.StatusOK, deliver(tel.Instrument(rc), event("evt_1", "a.b")))
	drain(t, rc)
	consumers := byKind(sr.Ended(), trace.SpanKindConsumer)
	require.Len(t, consumers, 1)
	assert.LessOrEqual(t, len(consumers[0].Status().Description), 256+len("…"))
	assert.Greater(t, len(consumers[0].Status().Description), 200)
	for _, ev := range consumers[0].Events() {
		for _, kv := range ev.Attributes {
			assert.LessOrEqual(t, len(kv.Value.Emit()), 256+len("…"), "%s", kv.Key)
		}
	}
}

// An invalid payload (Typed) is dead-lettered at once; the span says both.
func TestInvalidPayloadSpan(t *testing.T) {
	tel, sr := tracing(t)
	mux := receiver.NewMux()
	mux.Use(tel.Middleware)
	type invoice struct {
		Data struct {
			Object struct {
				Amount int `json:"amount" validate:"required"`
			} `json:"object"`
		} `json:"data"`
	}
	receiver.On(mux, "invoice.paid", func(context.Context, *receiver.Event, invoice) error { return nil })
	rc, err := receiver.New(provider(t), mux, tel.Options()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })

	require.Equal(t, http.StatusOK, deliver(tel.Instrument(rc), event("evt_1", "invoice.paid")))
	drain(t, rc)
	consumers := byKind(sr.Ended(), trace.SpanKindConsumer)
	require.Len(t, consumers, 1)
	assert.Equal(t, []string{"exception", hwotel.EventInvalid, hwotel.EventDeadLettered}, eventNames(consumers[0]))
	assert.Equal(t, "dead_lettered", attrs(consumers[0])[hwotel.AttrOutcome].AsString())
}

// Refused deliveries get a delivery span with the status and the reason
// class, and nothing read from the unverified request.
func TestRefusalSpans(t *testing.T) {
	tel, sr := tracing(t)
	mux := receiver.NewMux()
	mux.HandleFunc("*", func(context.Context, *receiver.Event) error { return nil })
	rc, err := receiver.New(provider(t), mux, append(tel.Options(), receiver.WithMaxBodyBytes(1024))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	h := tel.Instrument(rc)

	forged := stripe.NewRequest("http://hooks.test/stripe", "whsec_wrong", time.Now(), event("evt_forged", "invoice.paid"))
	stale := stripe.NewRequest("http://hooks.test/stripe", secret, time.Now().Add(-time.Hour), event("evt_stale", "invoice.paid"))
	big := stripe.NewRequest("http://hooks.test/stripe", secret, time.Now(), event("evt_big", strings.Repeat("x", 2048)))
	odd := stripe.NewRequest("http://hooks.test/stripe", secret, time.Now(), event("evt_odd", "invoice.paid"))
	odd.Method = "FROB"
	require.Equal(t, http.StatusUnauthorized, send(h, forged))
	require.Equal(t, http.StatusUnauthorized, send(h, stale))
	require.Equal(t, http.StatusRequestEntityTooLarge, send(h, big))
	require.Equal(t, http.StatusMethodNotAllowed, send(h, odd))
	require.Equal(t, http.StatusOK, deliver(h, event("evt_1", "invoice.paid")))
	require.Equal(t, http.StatusOK, deliver(h, event("evt_1", "invoice.paid")))
	drain(t, rc)

	servers := byKind(sr.Ended(), trace.SpanKindServer)
	require.Len(t, servers, 6)
	want := []struct {
		status          int64
		outcome, reason string
		method          string
	}{
		{401, "rejected", "signature", "POST"},
		{401, "rejected", "timestamp", "POST"},
		{413, "rejected", "too_large", "POST"},
		{405, "rejected", "method", "_OTHER"},
		{200, "accepted", "", "POST"},
		{200, "duplicate", "", "POST"},
	}
	for i, w := range want {
		a := attrs(servers[i])
		assert.Equal(t, w.status, a["http.response.status_code"].AsInt64(), "span %d", i)
		assert.Equal(t, w.outcome, a[hwotel.AttrOutcome].AsString(), "span %d", i)
		assert.Equal(t, w.reason, a[hwotel.AttrReason].AsString(), "span %d", i)
		assert.Equal(t, w.method, a["http.request.method"].AsString(), "span %d", i)
		assert.Equal(t, trace.SpanKindServer, servers[i].SpanKind())
		assert.Equal(t, codes.Unset, servers[i].Status().Code, "4xx is the sender's error, not the server's")
		if w.status != 200 {
			assert.NotContains(t, a, attribute.Key("messaging.message.id"), "span %d: nothing from an unverified request", i)
			assert.NotContains(t, a, hwotel.AttrEventType, "span %d", i)
		}
	}
	assert.Equal(t, "evt_1", attrs(servers[5])["messaging.message.id"].AsString())
}

// A 503 (the receiver is closed) is an error of the server.
func TestUnavailableSpanIsError(t *testing.T) {
	tel, sr := tracing(t)
	rc, err := receiver.New(provider(t), receiver.NewMux(), tel.Options()...)
	require.NoError(t, err)
	require.NoError(t, rc.Shutdown(context.Background()))
	require.Equal(t, http.StatusServiceUnavailable, deliver(tel.Instrument(rc), event("evt_1", "invoice.paid")))
	servers := byKind(sr.Ended(), trace.SpanKindServer)
	require.Len(t, servers, 1)
	assert.Equal(t, codes.Error, servers[0].Status().Code)
	a := attrs(servers[0])
	assert.Equal(t, "unavailable", a[hwotel.AttrOutcome].AsString())
	// The receiver closed its dedupe store: ErrStore ("unavailable") or ErrClosed ("closed").
	assert.Contains(t, []string{"unavailable", "closed"}, a[hwotel.AttrReason].AsString())
}

// A span already in the request's context (the server's instrumentation)
// is the delivery span's parent; trace headers sent by the sender are not.
func TestDeliverySpanParent(t *testing.T) {
	tel, sr := tracing(t)
	rc, err := receiver.New(provider(t), receiver.NewMux(), tel.Options()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	h := tel.Instrument(rc)

	req := stripe.NewRequest("http://hooks.test/stripe", secret, time.Now(), event("evt_1", "x.y"))
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	require.Equal(t, http.StatusOK, send(h, req))
	servers := byKind(sr.Ended(), trace.SpanKindServer)
	require.Len(t, servers, 1)
	assert.False(t, servers[0].Parent().IsValid(), "the sender's traceparent is not trusted")
	assert.NotEqual(t, "0af7651916cd43dd8448eb211c80319c", servers[0].SpanContext().TraceID().String())

	outer, span := sdktrace.NewTracerProvider().Tracer("server").Start(context.Background(), "POST /hooks")
	req = stripe.NewRequest("http://hooks.test/stripe", secret, time.Now(), event("evt_2", "x.y"))
	require.Equal(t, http.StatusOK, send(h, req.WithContext(outer)))
	span.End()
	servers = byKind(sr.Ended(), trace.SpanKindServer)
	require.Len(t, servers, 2)
	assert.Equal(t, span.SpanContext().SpanID(), servers[1].Parent().SpanID())
}

// Middleware around a handler that is not a Mux passes Handles through,
// and a handler without a Mux gets its attempt spans too.
func TestMiddlewareWrapsAnyHandler(t *testing.T) {
	tel, sr := tracing(t)
	mux := receiver.NewMux()
	mux.HandleFunc("ping", func(context.Context, *receiver.Event) error { return nil })
	wrapped := tel.Middleware(mux)
	th, ok := wrapped.(receiver.TypeHandler)
	require.True(t, ok)
	assert.True(t, th.Handles("ping"))
	assert.False(t, th.Handles("issues"))
	plain, ok := tel.Middleware(receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil })).(receiver.TypeHandler)
	require.True(t, ok)
	assert.False(t, plain.Handles("ping"))

	rc, err := receiver.New(provider(t), wrapped, tel.Options()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	require.Equal(t, http.StatusOK, deliver(tel.Instrument(rc), event("evt_1", "nobody.listens")))
	drain(t, rc)
	consumers := byKind(sr.Ended(), trace.SpanKindConsumer)
	require.Len(t, consumers, 1)
	assert.Equal(t, "unhandled", attrs(consumers[0])[hwotel.AttrOutcome].AsString())
	assert.NotEqual(t, codes.Error, consumers[0].Status().Code)
}

// The handler's own spans are children of its attempt's span.
func TestHandlerSpansAreChildrenOfAttempt(t *testing.T) {
	tel, sr := tracing(t)
	mux := receiver.NewMux()
	mux.Use(tel.Middleware)
	var inner trace.SpanContext
	mux.HandleFunc("*", func(ctx context.Context, e *receiver.Event) error {
		_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("app").Start(ctx, "charge")
		inner = span.SpanContext()
		span.End()
		return nil
	})
	rc, err := receiver.New(provider(t), mux, tel.Options()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	require.Equal(t, http.StatusOK, deliver(tel.Instrument(rc), event("evt_1", "a.b")))
	drain(t, rc)
	consumers := byKind(sr.Ended(), trace.SpanKindConsumer)
	require.Len(t, consumers, 1)
	assert.Equal(t, consumers[0].SpanContext().TraceID(), inner.TraceID())
	for _, s := range sr.Ended() {
		if s.Name() == "charge" {
			assert.Equal(t, consumers[0].SpanContext().SpanID(), s.Parent().SpanID())
		}
	}
}

// TestDeferredAttemptSpanEndsWithoutError: an attempt a breaker or limit
// puts off ends its span at once, marked deferred, not as an error.
func TestDeferredAttemptSpanEndsWithoutError(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	tel, err := hwotel.New(hwotel.WithTracerProvider(tp))
	require.NoError(t, err)
	h := tel.Middleware(receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		return receiver.Defer(time.Second, "circuit_open")
	}))
	err = h.HandleEvent(context.Background(), &receiver.Event{Provider: "stripe", ID: "evt_1", Type: "invoice.paid", Attempt: 1})
	require.ErrorIs(t, err, receiver.ErrDeferred)
	spans := sr.Ended()
	require.Len(t, spans, 1, "the deferred attempt's span is not held")
	assert.NotEqual(t, codes.Error, spans[0].Status().Code)
	var names []string
	for _, ev := range spans[0].Events() {
		names = append(names, ev.Name)
	}
	assert.Contains(t, names, hwotel.EventDeferred)
	assert.Zero(t, tel.Pending())
}

// TestFanoutCopiesSpanPerTarget: each fan-out copy's attempts have spans of
// their own, named by the target, linked to the one delivery span.
func TestFanoutCopiesSpanPerTarget(t *testing.T) {
	tel, sr := tracing(t)
	var billing, crm atomic.Int32
	mux := receiver.NewMux()
	mux.Use(tel.Middleware)
	mux.Fanout("invoice.paid", map[string]receiver.Handler{"billing": failing(1, &billing), "crm": failing(0, &crm)})
	rc, err := receiver.New(provider(t), mux, append(tel.Options(), receiver.Backoff(time.Millisecond, time.Millisecond))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	require.Equal(t, http.StatusOK, deliver(tel.Instrument(rc), event("evt_1", "invoice.paid")))
	drain(t, rc)
	require.Equal(t, int32(2), billing.Load())
	require.Equal(t, int32(1), crm.Load())
	servers := byKind(sr.Ended(), trace.SpanKindServer)
	require.Len(t, servers, 1)
	byTarget := map[string]int{}
	for _, c := range byKind(sr.Ended(), trace.SpanKindConsumer) {
		byTarget[attrs(c)[hwotel.AttrTarget].AsString()]++
		require.Len(t, c.Links(), 1)
		assert.Equal(t, servers[0].SpanContext().SpanID(), c.Links()[0].SpanContext.SpanID())
	}
	assert.Equal(t, map[string]int{"billing": 2, "crm": 1}, byTarget)
}
