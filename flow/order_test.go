package flow_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/receiver"
)

func TestFieldKey(t *testing.T) {
	k := flow.FieldKey("data.object.customer")
	ev := func(body string) *receiver.Event { return &receiver.Event{Type: "invoice.paid", Body: []byte(body)} }
	assert.Equal(t, "cus_1", k(ev(`{"data":{"object":{"customer":"cus_1"}}}`)))
	assert.Equal(t, "42", k(ev(`{"data":{"object":{"customer":42}}}`)), "a number's JSON text")
	assert.Empty(t, k(ev(`{"data":{"object":{}}}`)), "missing: unordered")
	assert.Empty(t, k(ev(`{"data":{"object":{"customer":{"id":"x"}}}}`)), "an object: unordered")
	assert.Empty(t, k(ev(`not json`)))
	long := strings.Repeat("x", flow.MaxKeyBytes)
	assert.Equal(t, long, k(ev(`{"data":{"object":{"customer":"`+long+`"}}}`)), "a value at the bound")
	assert.Empty(t, k(ev(`{"data":{"object":{"customer":"`+long+`x"}}}`)), "a value beyond the bound: unordered, not cut")
	// Payload wins over Body when set (a provider's extracted document).
	e := ev(`{}`)
	e.Payload = []byte(`{"data":{"object":{"customer":"cus_2"}}}`)
	assert.Equal(t, "cus_2", k(e))

	for _, bad := range []string{"", "a..b", ".a", strings.Repeat("a.", flow.MaxFieldDepth) + "a"} {
		assert.Panics(t, func() { flow.FieldKey(bad) }, "%q", bad)
	}
}

func TestRouteKeys(t *testing.T) {
	k := flow.RouteKeys(map[string]flow.Key{
		"invoice.*":    flow.FieldKey("customer"),
		"invoice.paid": flow.FieldKey("id"),
		"issues":       flow.FieldKey("repo"),
	})
	ev := func(typ, body string) *receiver.Event { return &receiver.Event{Type: typ, Body: []byte(body)} }
	body := `{"customer":"cus_1","id":"in_1","repo":"r/1"}`
	assert.Equal(t, "invoice.*\x00cus_1", k(ev("invoice.created", body)))
	assert.Equal(t, "invoice.paid\x00in_1", k(ev("invoice.paid", body)), "the exact pattern wins")
	assert.Equal(t, "issues\x00r/1", k(ev("issues.opened", body)), "a family")
	assert.Empty(t, k(ev("charge.succeeded", body)), "no route: unordered")
	assert.Empty(t, k(ev("invoice.created", `{}`)), "a route's key missing: unordered")
	assert.NotEqual(t, k(ev("invoice.created", `{"customer":"x"}`)), k(ev("issues", `{"repo":"x"}`)), "routes never share a line")

	assert.Panics(t, func() { flow.RouteKeys(map[string]flow.Key{"a.*.b": flow.FieldKey("x")}) })
	assert.Panics(t, func() { flow.RouteKeys(map[string]flow.Key{"a": nil}) })
}
