package schema

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// counts returns the decodes and schema runs done by f. The counters are
// process-wide: the package's tests do not run in parallel.
func counts(f func()) (dec, runs int64) {
	d0, r0 := decodes.Load(), schemaRuns.Load()
	f()
	return decodes.Load() - d0, schemaRuns.Load() - r0
}

func TestValidateContextCarriesDocument(t *testing.T) {
	reg := Bundled(Strict())
	c := bundledCases[len(bundledCases)-1] // stripe payment_intent.succeeded
	e := c.event(t)
	ctx, err := reg.ValidateContext(context.Background(), e)
	require.NoError(t, err)
	doc, ok := Document(ctx, e)
	require.True(t, ok)
	want, err := decodeJSON(e.Body)
	require.NoError(t, err)
	assert.Equal(t, want, doc)
	assert.IsType(t, json.Number(""), doc.(map[string]any)["created"], "numbers as the validator decodes them")

	// Only for these very bytes, unmodified.
	_, ok = Document(context.Background(), e)
	assert.False(t, ok, "a context without a validation")
	copied := *e
	copied.Body = append([]byte(nil), e.Body...)
	_, ok = Document(ctx, &copied)
	assert.False(t, ok, "the same content in other bytes")
	withPayload := *e
	withPayload.Payload = e.Body[:len(e.Body)-1]
	_, ok = Document(ctx, &withPayload)
	assert.False(t, ok, "a payload of another length")

	// Nothing is carried for an invalid payload or an uncovered event.
	bad := *e
	bad.Body = []byte(`{"id": 1}`)
	ctx2, err := reg.ValidateContext(context.Background(), &bad)
	require.ErrorIs(t, err, receiver.ErrInvalidPayload)
	_, ok = Document(ctx2, &bad)
	assert.False(t, ok)
	lax := Bundled() // not Strict: an unknown provider is valid, with no schema
	other := &receiver.Event{Provider: "acme", Type: "x", Body: []byte(`{}`)}
	ctx3, err := lax.ValidateContext(context.Background(), other)
	require.NoError(t, err)
	_, ok = Document(ctx3, other)
	assert.False(t, ok)
}

// TestVersionedReusesValidation: after ValidateContext, a Versioned handler
// of the same Registry decodes nothing more into any and runs no schema
// again; with a plain context it does both, as before.
func TestVersionedReusesValidation(t *testing.T) {
	reg, _ := orderRegistry(t)
	body := []byte(`{"version":"v3","total":{"amount":5,"currency":"eur"},"email":"a@example.com"}`)
	var got Order
	h := Versioned(reg, "acme", "v3", func(_ context.Context, _ *receiver.Event, o Order) error { got = o; return nil })

	e := &receiver.Event{Provider: "acme", Type: "order.created", Body: body}
	var ctx context.Context
	dec, runs := counts(func() {
		var err error
		ctx, err = reg.ValidateContext(context.Background(), e)
		require.NoError(t, err)
	})
	require.Equal(t, [2]int64{1, 1}, [2]int64{dec, runs}, "ValidateContext: one decode, one schema run")
	dec, runs = counts(func() { require.NoError(t, h.HandleEvent(ctx, e)) })
	assert.Equal(t, [2]int64{0, 0}, [2]int64{dec, runs}, "Versioned after ValidateContext")
	assert.Equal(t, 5, got.Total.Amount)

	dec, runs = counts(func() { require.NoError(t, h.HandleEvent(context.Background(), e)) })
	assert.Equal(t, [2]int64{1, 1}, [2]int64{dec, runs}, "Versioned alone")
}

// TestVersionedCarriedNeverWeakens: what ValidateContext carries is used
// only for the same bytes, the same Registry and the same schema; anything
// else is decoded and validated as before, so an invalid payload is still
// rejected.
func TestVersionedCarriedNeverWeakens(t *testing.T) {
	strict, _ := orderRegistry(t)
	h := Versioned(strict, "acme", "v3", func(context.Context, *receiver.Event, Order) error { return nil })
	// Valid for a lax registry's schema, not for strict's: no email.
	body := []byte(`{"version":"v3","total":{"amount":5,"currency":"eur"}}`)
	e := &receiver.Event{Provider: "acme", Type: "order.created", Body: body}

	lax := mustNew(t, mapFS(map[string]string{"acme/order._/v3.json": `{"type": "object"}`}),
		WithProviderVersionResolver("acme", FromField("version")))
	ctx, err := lax.ValidateContext(context.Background(), e)
	require.NoError(t, err)
	_, ok := Document(ctx, e)
	require.True(t, ok)
	assert.ErrorIs(t, h.HandleEvent(ctx, e), receiver.ErrInvalidPayload, "validated by another registry")

	// The same registry, then the bytes modified in place.
	good := []byte(`{"version":"v3","total":{"amount":5,"currency":"eur"},"email":"a@example.com"}`)
	e2 := &receiver.Event{Provider: "acme", Type: "order.created", Body: good}
	ctx, err = strict.ValidateContext(context.Background(), e2)
	require.NoError(t, err)
	copy(good[len(good)-len(`"a@example.com"}`):], `"not-an-email"}`+"  ")
	require.True(t, json.Valid(good))
	assert.ErrorIs(t, h.HandleEvent(ctx, e2), receiver.ErrInvalidPayload, "modified since it was validated")

	// The same registry and bytes, but the handler's target uses another
	// schema than the one that validated them.
	two := mustNew(t, mapFS(map[string]string{
		"acme/order._/v2.json": `{"type": "object"}`,
		"acme/order._/v3.json": orderV3Schema,
	}))
	h3 := Versioned(two, "acme", "v3", func(context.Context, *receiver.Event, Order) error { return nil })
	e3 := &receiver.Event{Provider: "acme", Type: "order.created", Version: "v2", Body: body}
	ctx, err = two.ValidateContext(context.Background(), e3)
	require.NoError(t, err, "valid for v2's schema")
	two.RegisterUpgrader("acme", "order.*", "v2", "v3", func(in json.RawMessage) (json.RawMessage, error) { return in, nil })
	dec, runs := counts(func() {
		assert.ErrorIs(t, h3.HandleEvent(ctx, e3), receiver.ErrInvalidPayload, "upgraded to v3: validated against v3's schema")
	})
	assert.Equal(t, [2]int64{1, 1}, [2]int64{dec, runs}, "the upgraded payload is decoded and validated")

	// No upgrade, but another schema: an event without a version is
	// validated against the newest schema (v3); a handler for v2 takes it as
	// v2, whose schema runs again on the carried document.
	h2 := Versioned(two, "acme", "v2", func(context.Context, *receiver.Event, map[string]any) error { return nil })
	e4 := &receiver.Event{Provider: "acme", Type: "order.created", Body: []byte(string(good))}
	ctx, err = two.ValidateContext(context.Background(), e4)
	require.Error(t, err, "modified above: not valid for v3")
	e4.Body = []byte(`{"total":{"amount":5,"currency":"eur"},"email":"a@example.com"}`)
	ctx, err = two.ValidateContext(context.Background(), e4)
	require.NoError(t, err)
	dec, runs = counts(func() { require.NoError(t, h2.HandleEvent(ctx, e4)) })
	assert.Equal(t, [2]int64{0, 1}, [2]int64{dec, runs}, "the carried document, validated against v2's schema")
}
