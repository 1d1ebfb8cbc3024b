package otel_test

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	hwotel "github.com/hookwise/hookwise/adapters/otel"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

func TestInjectExtractRoundTrip(t *testing.T) {
	tel, _ := tracing(t)
	ctx, span := sdktrace.NewTracerProvider().Tracer("t").Start(context.Background(), "delivery")
	defer span.End()
	meta := map[string]string{}
	tel.Inject(ctx, meta)
	require.Contains(t, meta, "traceparent")
	assert.Len(t, meta, 1)

	got := tel.Extract(context.Background(), meta)
	sc, ok := hwotel.DeliverySpan(got)
	require.True(t, ok)
	assert.Equal(t, span.SpanContext().TraceID(), sc.TraceID())
	assert.Equal(t, span.SpanContext().SpanID(), sc.SpanID())
	assert.True(t, trace.SpanContextFromContext(got).IsRemote(), "the delivery is the remote parent of spans started without Middleware")

	bg := context.Background()
	assert.Equal(t, bg, tel.Extract(bg, nil), "nothing carried: the context is returned as is")
	_, ok = hwotel.DeliverySpan(tel.Extract(bg, map[string]string{"traceparent": "00-zz-yy-01"}))
	assert.False(t, ok, "a malformed traceparent is no link")
	tel.Inject(ctx, nil) // a nil map is left alone
}

// A propagator writing more than Event.Meta holds: the receiver's event
// carries the trace context and nothing beyond the bounds.
func TestPropagatedMetaStaysInBounds(t *testing.T) {
	big := strings.Repeat("v", driver.MaxMetaValueBytes) // a baggage member this long makes the header longer than the bound
	tel, _ := tracing(t, hwotel.WithTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}, manyKeys{})))
	metas := make(chan map[string]string, 1)
	rc, err := receiver.New(provider(t), receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		metas <- maps.Clone(e.Meta)
		return nil
	}), tel.Options()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })

	member, err := baggage.NewMemberRaw("k", big)
	require.NoError(t, err)
	bag, err := baggage.New(member)
	require.NoError(t, err)
	h := tel.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.ServeHTTP(w, r.WithContext(baggage.ContextWithBaggage(r.Context(), bag)))
	}))
	require.Equal(t, http.StatusOK, deliver(h, event("evt_1", "a.b")))
	meta := <-metas
	assert.Contains(t, meta, "traceparent")
	assert.NotContains(t, meta, "baggage", "over MaxMetaValueBytes")
	assert.LessOrEqual(t, len(meta), driver.MaxMetaEntries)
	for k, v := range meta {
		assert.LessOrEqual(t, len(k), driver.MaxMetaKeyBytes)
		assert.LessOrEqual(t, len(v), driver.MaxMetaValueBytes)
	}
}

// manyKeys writes 20 entries, one with a key beyond the bound.
type manyKeys struct{}

func (manyKeys) Inject(_ context.Context, c propagation.TextMapCarrier) {
	c.Set(strings.Repeat("k", driver.MaxMetaKeyBytes+1), "x")
	for i := range 20 {
		c.Set("x-extra-"+string(rune('a'+i)), "1")
	}
}

func (manyKeys) Extract(ctx context.Context, _ propagation.TextMapCarrier) context.Context {
	return ctx
}

func (manyKeys) Fields() []string { return nil }

// Meta read back from a queue (Redis) is not trusted to be well formed:
// Extract never panics, never changes it, and links only to a valid span
// context.
func FuzzExtract(f *testing.F) {
	f.Add("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "congo=t61rcWkgMzE")
	f.Add("00-00000000000000000000000000000000-b7ad6b7169203331-01", "")
	f.Add("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "a=b,c=d")
	f.Add("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "")
	f.Add("", strings.Repeat("k=v,", 200))
	f.Add("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", "=")
	tel, err := hwotel.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, parent, state string) {
		meta := map[string]string{"traceparent": parent, "tracestate": state}
		before := maps.Clone(meta)
		ctx := tel.Extract(context.Background(), meta)
		assert.Equal(t, before, meta)
		if sc, ok := hwotel.DeliverySpan(ctx); ok {
			assert.True(t, sc.IsValid())
			assert.True(t, sc.IsRemote())
		}
	})
}
