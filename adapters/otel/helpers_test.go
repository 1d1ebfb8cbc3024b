package otel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	hwotel "github.com/hookwise/hookwise/adapters/otel"
	"github.com/hookwise/hookwise/providers/stripe"
)

const secret = "whsec_otel_test"

// tracing returns a Telemetry recording spans in a SpanRecorder, with
// extra options.
func tracing(t *testing.T, opts ...hwotel.Option) (*hwotel.Telemetry, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mp := sdkmetric.NewMeterProvider() // no reader: metrics go nowhere
	tel, err := hwotel.New(append([]hwotel.Option{hwotel.WithTracerProvider(tp), hwotel.WithMeterProvider(mp)}, opts...)...)
	require.NoError(t, err)
	return tel, sr
}

func provider(t *testing.T) *stripe.Provider {
	t.Helper()
	p, err := stripe.New(secret)
	require.NoError(t, err)
	return p
}

// event is a Stripe event body.
func event(id, typ string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"type":%q,"data":{"object":{"id":"in_1"}}}`, id, typ)
}

// deliver sends a signed delivery of body to h and returns the status.
func deliver(h http.Handler, body []byte) int {
	return send(h, stripe.NewRequest("http://hooks.test/stripe", secret, time.Now(), body))
}

func send(h http.Handler, req *http.Request) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

// byKind returns the ended spans of kind k.
func byKind(spans []sdktrace.ReadOnlySpan, k trace.SpanKind) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == k {
			out = append(out, s)
		}
	}
	return out
}

// attrs returns a span's attributes as a map.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// eventNames returns the names of a span's events.
func eventNames(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

func drain(t *testing.T, d interface{ Drain(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, d.Drain(ctx))
}
