package otel_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	hwotel "github.com/hookwise/hookwise/adapters/otel"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// A receiver traced end to end: a SERVER span for the delivery, and a
// CONSUMER span per handler attempt, linked to it.
func Example() {
	spans := tracetest.NewSpanRecorder() // in production: a batch span processor and an exporter
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())

	mux := receiver.NewMux()
	tel, err := hwotel.New(hwotel.WithTracerProvider(tp), hwotel.WithMux(mux))
	if err != nil {
		panic(err)
	}
	mux.Use(tel.Middleware)
	failures := 1
	mux.HandleFunc("invoice.paid", func(ctx context.Context, e *receiver.Event) error {
		if failures > 0 {
			failures--
			return errors.New("billing service unavailable")
		}
		return nil
	})
	p, err := stripe.New("whsec_example")
	if err != nil {
		panic(err)
	}
	opts := append(tel.Options(), receiver.Backoff(time.Millisecond, time.Millisecond), receiver.Workers(1))
	rc, err := receiver.New(p, mux, opts...)
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())
	h := tel.Instrument(rc) // http.Handle("POST /webhooks/stripe", h)

	body := []byte(`{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1"}}}`)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, stripe.NewRequest("http://localhost/webhooks/stripe", "whsec_example", time.Now(), body))
	if err := rc.Drain(context.Background()); err != nil {
		panic(err)
	}

	// The attempts may end before the delivery's span: list that one first.
	var delivery trace.SpanContext
	for _, s := range spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			delivery = s.SpanContext()
			fmt.Println(s.SpanKind(), s.Name(), s.Status().Code)
		}
	}
	for _, s := range spans.Ended() {
		if s.SpanKind() == trace.SpanKindConsumer {
			l := s.Links()
			linked := len(l) == 1 && l[0].SpanContext.TraceID() == delivery.TraceID() && l[0].SpanContext.SpanID() == delivery.SpanID()
			fmt.Println(s.SpanKind(), s.Name(), s.Status().Code, "linked to delivery:", linked)
		}
	}
	// Output:
	// server receive stripe Unset
	// consumer process stripe Error linked to delivery: true
	// consumer process stripe Unset linked to delivery: true
}
