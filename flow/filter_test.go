package flow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/receiver"
)

func TestTypesFilterDropsWithoutQueueOrClaim(t *testing.T) {
	got := newSeen()
	store := dedupe.NewMemory()
	rc, st := newReceiver(t, receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		got.add(e)
		return nil
	}), receiver.WithStore(store), receiver.WithFilter(flow.Types("invoice.*")))

	w := deliver(rc, "evt_dropped", "customer.created")
	assert.Equal(t, 200, w.Code, "an event nothing wants is acknowledged")
	w = deliver(rc, "evt_kept", "invoice.paid")
	assert.Equal(t, 200, w.Code)
	drain(t, rc)

	assert.Empty(t, got.get("evt_dropped"), "a filtered event reached the handler")
	assert.Equal(t, []int{1}, got.get("evt_kept"))
	filtered := st.of(receiver.StageFiltered)
	require.Len(t, filtered, 1, "StageFiltered observations")
	assert.Equal(t, "evt_dropped", filtered[0].Event.ID)
	assert.Equal(t, 200, filtered[0].Status)
	assert.NotNil(t, filtered[0].Request)
	assert.Equal(t, "filtered", receiver.StageFiltered.String())
	assert.Equal(t, 1, st.count(receiver.StageEnqueued), "only the kept event is queued")

	// No dedupe claim was made for the dropped event: its key is free.
	outcome, err := store.Claim(context.Background(), dedupe.Key("stripe", "evt_dropped"), "probe", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Claimed, outcome, "the dropped event's key was claimed")
	outcome, err = store.Claim(context.Background(), dedupe.Key("stripe", "evt_kept"), "probe", time.Minute)
	require.NoError(t, err)
	assert.NotEqual(t, dedupe.Claimed, outcome, "the kept event's key is held")
}

func TestFilterNeverSeesForgedDelivery(t *testing.T) {
	calls := 0
	rc, st := newReceiver(t, receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil }),
		receiver.WithFilter(func(context.Context, *receiver.Event) bool { calls++; return false }))
	w := deliverWith(rc, "whsec_wrong", "evt_forged", "invoice.paid", "")
	assert.Equal(t, 401, w.Code)
	assert.Zero(t, calls, "a filter ran on an unverified delivery")
	assert.Zero(t, st.count(receiver.StageFiltered))
}

func TestFilterPanicKeepsEvent(t *testing.T) {
	log, buf := newLog()
	got := newSeen()
	rc, st := newReceiver(t, receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { got.add(e); return nil }),
		receiver.WithLogger(log),
		receiver.WithFilter(func(context.Context, *receiver.Event) bool { panic("filter bug") }))
	w := deliver(rc, "evt_panic", "invoice.paid")
	assert.Equal(t, 200, w.Code)
	drain(t, rc)
	assert.Equal(t, []int{1}, got.get("evt_panic"), "an event whose filter panicked is kept")
	assert.Zero(t, st.count(receiver.StageFiltered))
	assert.Contains(t, buf.String(), "filter panicked; event kept")
}

func TestEveryFilterMustKeep(t *testing.T) {
	got := newSeen()
	rc, st := newReceiver(t, receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { got.add(e); return nil }),
		receiver.WithFilter(flow.Types("invoice")),
		receiver.WithFilter(flow.Field("data.object.livemode", "true")))
	deliverWith(rc, secret, "evt_live", "invoice.paid", `{"object":{"livemode":true}}`)
	deliverWith(rc, secret, "evt_test", "invoice.paid", `{"object":{"livemode":false}}`)
	deliverWith(rc, secret, "evt_other", "customer.created", `{"object":{"livemode":true}}`)
	drain(t, rc)
	assert.Equal(t, []int{1}, got.get("evt_live"))
	assert.Equal(t, 1, got.total(), "events handled")
	assert.Equal(t, 2, st.count(receiver.StageFiltered))
}

func TestWithFilterNil(t *testing.T) {
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil })
	_, err := receiver.New(stripeProvider(t), h, receiver.WithFilter(nil))
	assert.ErrorContains(t, err, "WithFilter")
}

func TestField(t *testing.T) {
	ev := func(body string) *receiver.Event { return &receiver.Event{Body: []byte(body)} }
	cases := []struct {
		name   string
		path   string
		values []string
		body   string
		keep   bool
	}{
		{"string", "data.object.status", []string{"paid"}, `{"data":{"object":{"status":"paid"}}}`, true},
		{"other string", "data.object.status", []string{"paid"}, `{"data":{"object":{"status":"open"}}}`, false},
		{"one of several", "a", []string{"x", "y"}, `{"a":"y"}`, true},
		{"true", "live", []string{"true"}, `{"live":true}`, true},
		{"true is not the string", "live", []string{"true"}, `{"live":"true "}`, false},
		{"number", "n", []string{"42"}, `{"n": 42 }`, true},
		{"null", "n", []string{"null"}, `{"n":null}`, true},
		{"missing", "a.b", []string{"x"}, `{"a":{}}`, false},
		{"object", "a", []string{"{}"}, `{"a":{}}`, false},
		{"array", "a", []string{"[]"}, `{"a":[]}`, false},
		{"through an array", "a.b", []string{"x"}, `{"a":[{"b":"x"}]}`, false},
		{"not JSON", "a", []string{"x"}, `a=x`, false},
		{"not an object", "a", []string{"x"}, `"a"`, false},
		{"escaped string", "a", []string{"é\""}, `{"a":"\u00e9\""}`, true},
		{"empty body", "a", []string{""}, ``, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.keep, flow.Field(c.path, c.values...)(context.Background(), ev(c.body)))
		})
	}
	// Payload, when set, is what the filter reads.
	e := &receiver.Event{Body: []byte("a=x"), Payload: []byte(`{"a":"x"}`)}
	assert.True(t, flow.Field("a", "x")(context.Background(), e))
}

func TestFilterConstructorsRefuseBadInput(t *testing.T) {
	assert.Panics(t, func() { flow.Types() })
	assert.Panics(t, func() { flow.Types("in*voice") })
	assert.Panics(t, func() { flow.Field("", "x") })
	assert.Panics(t, func() { flow.Field("a..b", "x") })
	assert.Panics(t, func() { flow.Field("a") })
	assert.Panics(t, func() { flow.Field(strings.Repeat("a.", flow.MaxFieldDepth)+"a", "x") })
	assert.NotPanics(t, func() { flow.Field(strings.TrimSuffix(strings.Repeat("a.", flow.MaxFieldDepth), "."), "x") })
	assert.Panics(t, func() { flow.Handled(nil) })
}

func TestHandled(t *testing.T) {
	mux := receiver.NewMux()
	mux.HandleFunc("invoice.*", func(context.Context, *receiver.Event) error { return nil })
	keep := flow.Handled(mux)
	assert.True(t, keep(context.Background(), &receiver.Event{Type: "invoice.paid"}))
	assert.False(t, keep(context.Background(), &receiver.Event{Type: "customer.created"}))
}

func FuzzField(f *testing.F) {
	for _, s := range []string{`{"a":{"b":"x"}}`, `{"a":{"b":1}}`, `{"a":[1]}`, `{"a":"\ud800"}`, `{`, ``, `{"a":{"b":"x","b":"y"}}`, "{\"a\":\x00}"} {
		f.Add(s)
	}
	keepX := flow.Field("a.b", "x")
	keepEmpty := flow.Field("a.b", "")
	f.Fuzz(func(t *testing.T, body string) {
		e := &receiver.Event{Body: []byte(body)}
		x := keepX(context.Background(), e)
		// The same input gives the same answer, and one field holds one value.
		assert.Equal(t, x, keepX(context.Background(), e))
		assert.False(t, x && keepEmpty(context.Background(), e), "a field matched two values")
	})
}
