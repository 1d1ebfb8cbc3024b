package otel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookwise/hookwise/receiver"
)

// Without the observer, a failed attempt's span is held for the verdict
// that never comes, and ended by the sweep once pendingTTL has passed.
func TestHeldSpansAreSwept(t *testing.T) {
	base := time.Now()
	at := base
	clock = func() time.Time { return at }
	t.Cleanup(func() { clock = time.Now })

	sr := tracetest.NewSpanRecorder()
	tel, err := New(WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))))
	require.NoError(t, err)
	h := tel.Middleware(receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return errors.New("down") }))

	e1 := &receiver.Event{Provider: "stripe", ID: "evt_1", Attempt: 1}
	require.Error(t, h.HandleEvent(context.Background(), e1))
	assert.Equal(t, 1, tel.Pending())
	assert.Empty(t, sr.Ended(), "held for the verdict")

	// The same event again (its next attempt): the earlier span ends.
	e1.Attempt = 2
	require.Error(t, h.HandleEvent(context.Background(), e1))
	assert.Equal(t, 1, tel.Pending())
	assert.Len(t, sr.Ended(), 1)

	// Another event after pendingTTL: the stale span is swept.
	at = base.Add(pendingTTL + time.Second)
	require.Error(t, h.HandleEvent(context.Background(), &receiver.Event{Provider: "stripe", ID: "evt_2", Attempt: 1}))
	assert.Equal(t, 1, tel.Pending())
	assert.Len(t, sr.Ended(), 2)

	// The verdict ends the held span.
	tel.Observe(context.Background(), receiver.Observation{Stage: receiver.StageRetried, Provider: "stripe", Event: &receiver.Event{}})
	assert.Equal(t, 1, tel.Pending(), "another event's verdict does not end it")
}

// A span that is not recorded (sampled out, or no SDK) is never held.
func TestUnrecordedSpansAreNotHeld(t *testing.T) {
	tel, err := New(WithTracerProvider(noop.NewTracerProvider()))
	require.NoError(t, err)
	h := tel.Middleware(receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return errors.New("down") }))
	require.Error(t, h.HandleEvent(context.Background(), &receiver.Event{ID: "evt_1", Attempt: 1}))
	assert.Zero(t, tel.Pending())
}

// Bounds of the carrier: no entry beyond driver.Event's Meta bounds.
func TestMetaCarrierBounds(t *testing.T) {
	c := metaCarrier{}
	c.Set("", "empty key")
	c.Set(string(make([]byte, 65)), "long key")
	c.Set("long-value", string(make([]byte, 513)))
	assert.Empty(t, c)
	c.Set(string(make([]byte, 64)), string(make([]byte, 512)))
	assert.Len(t, c, 1, "at the bounds")
	for i := range 20 {
		c.Set(string(rune('a'+i)), "v")
	}
	assert.Len(t, c, 8)
	c.Set("a", "replaced")
	assert.Equal(t, "replaced", c.Get("a"), "a present key may be replaced when full")
	assert.Len(t, c, 8)
	assert.Len(t, c.Keys(), 8)
}
