package schema

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Order is the v3 payload of acme's order.* events.
type Order struct {
	Total struct {
		Amount   int    `json:"amount" validate:"gt=0"`
		Currency string `json:"currency" validate:"len=3"`
	} `json:"total"`
	Email string `json:"email" validate:"required,email"`
}

const orderV3Schema = `{
	"type": "object",
	"required": ["total", "email"],
	"properties": {
		"total": {"type": "object", "required": ["amount", "currency"],
			"properties": {"amount": {"type": "integer", "minimum": 0}, "currency": {"type": "string"}}},
		"email": {"type": "string", "format": "email"}
	}
}`

type upgradeCounts struct{ v1v2, v2v3 atomic.Int32 }

// orderRegistry has the v3 schema and upgraders v1→v2 (total becomes an
// object) and v2→v3 (mail becomes email) for acme order.*.
func orderRegistry(t testing.TB) (*Registry, *upgradeCounts) {
	r := mustNew(t, mapFS(map[string]string{"acme/order._/v3.json": orderV3Schema}),
		WithProviderVersionResolver("acme", FromField("version")))
	n := &upgradeCounts{}
	r.RegisterUpgrader("acme", "order.*", "v1", "v2", func(in json.RawMessage) (json.RawMessage, error) {
		n.v1v2.Add(1)
		var m map[string]any
		if err := json.Unmarshal(in, &m); err != nil {
			return nil, err
		}
		if m["total"] == "explode" {
			return nil, errors.New("cannot convert")
		}
		m["total"] = map[string]any{"amount": m["total"], "currency": "usd"}
		m["version"] = "v2"
		return json.Marshal(m)
	})
	r.RegisterUpgrader("acme", "order.*", "v2", "v3", func(in json.RawMessage) (json.RawMessage, error) {
		n.v2v3.Add(1)
		var m map[string]any
		if err := json.Unmarshal(in, &m); err != nil {
			return nil, err
		}
		m["email"] = m["mail"]
		delete(m, "mail")
		m["version"] = "v3"
		return json.Marshal(m)
	})
	return r, n
}

func TestVersioned(t *testing.T) {
	tests := []struct {
		name       string
		typ        string
		body       string
		opts       []VersionedOption
		wantOrder  *Order
		wantSteps  [2]int32
		wantErrs   []error
		notErrs    []error
		pointer    string // of the first problem, for invalid payloads
		keyword    string
		handlerErr error
	}{
		{name: "v1 upgraded twice", typ: "order.created", body: `{"version":"v1","total":1250,"mail":"a@example.com"}`,
			wantOrder: order(1250, "usd", "a@example.com"), wantSteps: [2]int32{1, 1}},
		{name: "v2 upgraded once", typ: "order.created", body: `{"version":"v2","total":{"amount":5,"currency":"eur"},"mail":"b@example.com"}`,
			wantOrder: order(5, "eur", "b@example.com"), wantSteps: [2]int32{0, 1}},
		{name: "v3 as is", typ: "order.paid", body: `{"version":"v3","total":{"amount":7,"currency":"gbp"},"email":"c@example.com"}`,
			wantOrder: order(7, "gbp", "c@example.com")},
		{name: "no version means target", typ: "order.paid", body: `{"total":{"amount":7,"currency":"gbp"},"email":"c@example.com"}`,
			wantOrder: order(7, "gbp", "c@example.com")},
		{name: "newer than target: no path", typ: "order.created", body: `{"version":"v4"}`,
			wantErrs: []error{ErrNoUpgradePath, receiver.ErrPermanent}, notErrs: []error{receiver.ErrInvalidPayload}},
		{name: "missing step for the type", typ: "invoice.created", body: `{"version":"v1"}`,
			wantErrs: []error{ErrNoUpgradePath, receiver.ErrPermanent}},
		{name: "upgrader fails", typ: "order.created", body: `{"version":"v1","total":"explode"}`,
			wantErrs: []error{ErrUpgrade, receiver.ErrPermanent}, wantSteps: [2]int32{1, 0}},
		{name: "schema failure after upgrade", typ: "order.created", body: `{"version":"v1","total":3,"mail":"nope"}`,
			wantErrs: []error{receiver.ErrInvalidPayload, receiver.ErrPermanent}, wantSteps: [2]int32{1, 1}, pointer: "/email", keyword: "format"},
		{name: "struct tag failure", typ: "order.created", body: `{"version":"v3","total":{"amount":0,"currency":"usd"},"email":"a@example.com"}`,
			wantErrs: []error{receiver.ErrInvalidPayload, receiver.ErrPermanent}, pointer: "/total/amount", keyword: "gt"},
		{name: "decode failure", typ: "order.created", body: `{"version":"v3","total":{"amount":1.5,"currency":"usd"},"email":"a@example.com"}`,
			wantErrs: []error{receiver.ErrInvalidPayload, receiver.ErrPermanent}, pointer: "/total/amount", keyword: "type"},
		{name: "malformed JSON", typ: "order.created", body: `{"version":`,
			wantErrs: []error{ErrMalformedJSON, receiver.ErrInvalidPayload, receiver.ErrPermanent}, keyword: "json"},
		{name: "in range", typ: "order.created", body: `{"version":"v2","total":{"amount":5,"currency":"eur"},"mail":"b@example.com"}`,
			opts: []VersionedOption{InRange("v2", "v3")}, wantOrder: order(5, "eur", "b@example.com"), wantSteps: [2]int32{0, 1}},
		{name: "below range", typ: "order.created", body: `{"version":"v1","total":1,"mail":"a@example.com"}`,
			opts: []VersionedOption{InRange("v2", "")}, wantErrs: []error{ErrVersionOutOfRange, receiver.ErrNoHandler}, notErrs: []error{receiver.ErrPermanent}},
		{name: "above range", typ: "order.created", body: `{"version":"v3","total":{"amount":5,"currency":"eur"},"email":"b@example.com"}`,
			opts: []VersionedOption{InRange("", "v2")}, wantErrs: []error{ErrVersionOutOfRange, receiver.ErrNoHandler}},
		{name: "not comparable with range", typ: "order.created", body: `{"version":"2024-06-20"}`,
			opts: []VersionedOption{InRange("v1", "v3")}, wantErrs: []error{ErrVersionOutOfRange}},
		{name: "handler error passes through", typ: "order.created", body: `{"version":"v3","total":{"amount":5,"currency":"eur"},"email":"b@example.com"}`,
			handlerErr: errTransient, wantErrs: []error{errTransient}, notErrs: []error{receiver.ErrPermanent, receiver.ErrInvalidPayload}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, n := orderRegistry(t)
			var got *Order
			var gotEvent *receiver.Event
			h := Versioned(reg, "acme", "v3", func(_ context.Context, e *receiver.Event, o Order) error {
				got, gotEvent = &o, e
				return tt.handlerErr
			}, tt.opts...)
			in := &receiver.Event{Provider: "acme", Type: tt.typ, Body: []byte(tt.body)}
			err := h.HandleEvent(context.Background(), in)
			assert.Equal(t, tt.wantSteps, [2]int32{n.v1v2.Load(), n.v2v3.Load()}, "upgrade steps")
			assert.Equal(t, tt.body, string(in.Body), "the delivery must not change")
			if tt.wantOrder != nil && tt.handlerErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.wantOrder, got)
				assert.Equal(t, "v3", gotEvent.Version)
				var p Order
				require.NoError(t, json.Unmarshal(gotEvent.Payload, &p))
				assert.Equal(t, *tt.wantOrder, p)
				return
			}
			require.Error(t, err, "want an error")
			for _, target := range tt.wantErrs {
				assert.ErrorIs(t, err, target)
			}
			for _, target := range tt.notErrs {
				assert.NotErrorIs(t, err, target)
			}
			if tt.handlerErr == nil {
				assert.Nil(t, got, "handler ran")
			}
			if tt.keyword != "" {
				ve := asValidation(t, err)
				assert.Equal(t, "acme", ve.Provider)
				assert.Equal(t, tt.typ, ve.Type)
				assert.Equal(t, tt.pointer, ve.Problems[0].Pointer)
				assert.Equal(t, tt.keyword, ve.Problems[0].Keyword)
				assert.True(t, strings.HasPrefix(err.Error(), "schema: acme "+tt.typ), err)
			}
		})
	}
}

var errTransient = errors.New("database down")

func order(amount int, currency, email string) *Order {
	o := &Order{Email: email}
	o.Total.Amount, o.Total.Currency = amount, currency
	return o
}

func TestVersionedStrictTarget(t *testing.T) {
	reg := mustNew(t, mapFS(map[string]string{"acme/order._/v3.json": orderV3Schema}), Strict())
	h := Versioned(reg, "acme", "v2", func(context.Context, *receiver.Event, map[string]any) error { return nil })
	err := h.HandleEvent(context.Background(), &receiver.Event{Provider: "acme", Type: "order.created", Body: []byte(`{}`)})
	assert.ErrorIs(t, err, ErrUnknownType)
	assert.ErrorIs(t, err, receiver.ErrPermanent)
}

func TestVersionedWrongProvider(t *testing.T) {
	reg, _ := orderRegistry(t)
	h := Versioned(reg, "acme", "v3", func(context.Context, *receiver.Event, Order) error { return nil })
	err := h.HandleEvent(context.Background(), &receiver.Event{Provider: "other", Type: "order.created", Body: []byte(`{}`)})
	assert.ErrorIs(t, err, receiver.ErrPermanent)
}

func TestVersionedPointerPayload(t *testing.T) {
	reg, _ := orderRegistry(t)
	var got *Order
	h := Versioned(reg, "acme", "v3", func(_ context.Context, _ *receiver.Event, o *Order) error { got = o; return nil })
	require.NoError(t, h.HandleEvent(context.Background(), &receiver.Event{Provider: "acme", Type: "order.created",
		Payload: json.RawMessage(`{"version":"v1","total":9,"mail":"z@example.com"}`)}))
	assert.Equal(t, order(9, "usd", "z@example.com"), got)
	err := h.HandleEvent(context.Background(), &receiver.Event{Provider: "acme", Type: "order.created",
		Payload: json.RawMessage(`{"version":"v3","total":{"amount":9,"currency":"usdollar"},"email":"z@example.com"}`)})
	ve := asValidation(t, err)
	assert.Equal(t, []Problem{{Pointer: "/total/currency", Keyword: "len", Message: `failed the "len" rule`}}, ve.Problems)
}

func TestUpgradePathChoice(t *testing.T) {
	reg := mustNew(t, nil)
	var used []string
	step := func(name string) Upgrader {
		return func(b json.RawMessage) (json.RawMessage, error) { used = append(used, name); return b, nil }
	}
	reg.RegisterUpgrader("p", "*", "v1", "v2", step("any 1-2"))
	reg.RegisterUpgrader("p", "order.*", "v1", "v2", step("order 1-2"))
	reg.RegisterUpgrader("p", "order.created", "v1", "v2", step("created 1-2"))
	reg.RegisterUpgrader("p", "*", "v2", "v3", step("any 2-3"))
	reg.RegisterUpgrader("p", "ship", "v1", "v3", step("ship 1-3"))
	reg.RegisterUpgrader("p", "*", "v3", "v2", step("any 3-2"))
	tests := []struct {
		typ, from, to string
		want          []string
	}{
		{"order.created", "v1", "v3", []string{"created 1-2", "any 2-3"}},
		{"order.paid", "v1", "v3", []string{"order 1-2", "any 2-3"}},
		{"user.created", "v1", "v2", []string{"any 1-2"}},
		{"ship.sent", "v1", "v3", []string{"ship 1-3"}}, // shortest chain
		{"user.created", "v3", "v2", []string{"any 3-2"}},
		{"user.created", "v2", "v2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.from+"-"+tt.to, func(t *testing.T) {
			used = nil
			steps, ok := reg.upgradePath("p", tt.typ, tt.from, tt.to)
			require.True(t, ok, "no path")
			for _, s := range steps {
				_, _ = s.fn(nil)
			}
			assert.Equal(t, tt.want, used)
		})
	}
	_, ok := reg.upgradePath("p", "user.created", "v2", "v1")
	assert.False(t, ok, "found a path that does not exist")
	_, ok = reg.upgradePath("q", "user.created", "v1", "v2")
	assert.False(t, ok, "found a path for another provider")
}

func TestRegisterUpgraderPanics(t *testing.T) {
	nop := func(b json.RawMessage) (json.RawMessage, error) { return b, nil }
	tests := []struct {
		name string
		call func(r *Registry)
	}{
		{"empty provider", func(r *Registry) { r.RegisterUpgrader("", "*", "v1", "v2", nop) }},
		{"same versions", func(r *Registry) { r.RegisterUpgrader("p", "*", "v1", "v1", nop) }},
		{"bad pattern", func(r *Registry) { r.RegisterUpgrader("p", "a*b", "v1", "v2", nop) }},
		{"nil func", func(r *Registry) { r.RegisterUpgrader("p", "*", "v1", "v2", nil) }},
		{"duplicate", func(r *Registry) {
			r.RegisterUpgrader("p", "*", "v1", "v2", nop)
			r.RegisterUpgrader("p", "*", "v1", "v2", nop)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				p := recover()
				require.True(t, p != nil, "no panic")
				assert.Contains(t, p.(string), "schema: ")
			}()
			tt.call(mustNew(t, nil))
		})
	}
}

func TestNamespacePointer(t *testing.T) {
	for in, want := range map[string]string{
		"Order.total.amount":     "/total/amount",
		"Order.items[0].id":      "/items/0/id",
		"Order.tags[a/b]":        "/tags/a~1b",
		"Order":                  "",
		"Order.weird~name.child": "/weird~0name/child",
	} {
		assert.Equal(t, want, namespacePointer(in), in)
	}
}
