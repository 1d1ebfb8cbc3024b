package schema

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadValid returns the payloads of testdata/valid/<provider>/<type>.json.
func loadValid(t testing.TB) map[[2]string][]byte {
	t.Helper()
	out := map[[2]string][]byte{}
	files, err := filepath.Glob("testdata/valid/*/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no testdata")
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		provider := filepath.Base(filepath.Dir(f))
		typ := strings.TrimSuffix(filepath.Base(f), ".json")
		out[[2]string{provider, typ}] = b
	}
	return out
}

func TestBundledAcceptsRealPayloads(t *testing.T) {
	reg := Bundled(Strict())
	want := map[string]string{ // provider/type → pattern whose schema must validate it
		"stripe/invoice.paid":                            "invoice.*",
		"stripe/invoice.upcoming":                        "invoice.*",
		"stripe/payment_intent.succeeded":                "payment_intent.*",
		"stripe/checkout.session.completed":              "checkout.session.completed",
		"stripe/customer.updated":                        "*",
		"stripe/v1.billing.meter.error_report_triggered": "*",
		"github/push":                                    "push",
		"github/pull_request.opened":                     "pull_request",
		"github/issues.opened":                           "issues",
		"github/ping":                                    "ping",
		"slack/event_callback":                           "event_callback",
		"slack/url_verification":                         "url_verification",
		"standard/user.created":                          "user.created",
		"standard/invoice.paid":                          "*",
	}
	for key, body := range loadValid(t) {
		t.Run(key[0]+"/"+key[1], func(t *testing.T) {
			e := &receiver.Event{Provider: key[0], Type: key[1], Body: body}
			if key[0] == "stripe" {
				e.Version = "2024-06-20"
			}
			if key[0] == "standard" {
				e.Version = "v1"
			}
			require.NoError(t, reg.Validate(context.Background(), e))
			p, ok := want[key[0]+"/"+key[1]]
			assert.True(t, ok, "add the file to the table")
			got, _, ok := reg.SchemaFor(key[0], key[1], e.Version)
			require.True(t, ok, "no schema")
			assert.Equal(t, p, got)
		})
	}
}

// mutate decodes body, applies f and re-encodes it.
func mutate(t *testing.T, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	f(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func TestBundledRejectsBrokenPayloads(t *testing.T) {
	reg := Bundled()
	valid := loadValid(t)
	tests := []struct {
		provider, typ, version string
		change                 func(m map[string]any)
		pointer, keyword       string
	}{
		{"stripe", "invoice.paid", "2024-06-20", func(m map[string]any) { delete(obj(m, "data", "object"), "currency") }, "/data/object", "required"},
		{"stripe", "invoice.paid", "2024-06-20", func(m map[string]any) { m["created"] = "yesterday" }, "/created", "type"},
		{"stripe", "payment_intent.succeeded", "", func(m map[string]any) { obj(m, "data", "object")["amount"] = -5 }, "/data/object/amount", "minimum"},
		{"stripe", "checkout.session.completed", "", func(m map[string]any) { obj(m, "data", "object")["object"] = "invoice" }, "/data/object/object", "const"},
		{"stripe", "customer.updated", "", func(m map[string]any) { delete(m, "data") }, "", "required"},
		{"stripe", "customer.updated", "", func(m map[string]any) { m["request"] = 7 }, "/request", "type"},
		{"github", "push", "", func(m map[string]any) { m["before"] = "not-a-sha" }, "/before", "pattern"},
		{"github", "push", "", func(m map[string]any) { delete(obj(m, "repository", "owner"), "login") }, "/repository/owner", "required"},
		{"github", "issues.opened", "", func(m map[string]any) { obj(m, "issue")["state"] = "merged" }, "/issue/state", "enum"},
		{"github", "pull_request.opened", "", func(m map[string]any) { obj(m, "pull_request")["number"] = "2" }, "/pull_request/number", "type"},
		{"github", "ping", "", func(m map[string]any) { delete(m, "hook_id") }, "", "required"},
		{"slack", "event_callback", "", func(m map[string]any) { delete(m, "event_id") }, "", "required"},
		{"slack", "event_callback", "", func(m map[string]any) { delete(obj(m, "event"), "type") }, "/event", "required"},
		{"slack", "url_verification", "", func(m map[string]any) { m["challenge"] = "" }, "/challenge", "minLength"},
		{"standard", "user.created", "v1", func(m map[string]any) { obj(m, "data")["email"] = "x" }, "/data/email", "format"},
		{"standard", "user.created", "v1", func(m map[string]any) { m["timestamp"] = "last tuesday" }, "/timestamp", "format"},
		{"standard", "invoice.paid", "", func(m map[string]any) { m["data"] = []any{} }, "/data", "type"},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.typ+tt.pointer+"/"+tt.keyword, func(t *testing.T) {
			body, ok := valid[[2]string{tt.provider, tt.typ}]
			require.True(t, ok, "no testdata")
			e := &receiver.Event{Provider: tt.provider, Type: tt.typ, Version: tt.version, Body: mutate(t, body, tt.change)}
			err := reg.Validate(context.Background(), e)
			require.Error(t, err, "want an error")
			assert.ErrorIs(t, err, receiver.ErrInvalidPayload)
			ve := asValidation(t, err)
			assert.Equal(t, tt.provider, ve.Provider)
			assert.Equal(t, tt.typ, ve.Type)
			assert.Equal(t, tt.version, ve.Version)
			assert.True(t, hasProblem(ve, tt.pointer, tt.keyword), "problems: %v", ve.Problems)
			assert.True(t, strings.HasPrefix(err.Error(), "schema: "+tt.provider+" "+tt.typ))
		})
	}
}

func TestQuickstartErrorText(t *testing.T) {
	reg := Bundled()
	e := &receiver.Event{Provider: "standard", Type: "user.created", Version: "v1",
		Body: []byte(`{"type":"user.created","timestamp":"2024-01-01T00:00:00Z","data":{"id":"u1","email":"x"}}`)}
	err := reg.Validate(context.Background(), e)
	require.Error(t, err, "want an error")
	assert.Equal(t, `schema: standard user.created v1: /data/email: format: not a valid email`, err.Error())
	ve := asValidation(t, err)
	assert.Equal(t, []Problem{{Pointer: "/data/email", Keyword: "format", Message: "not a valid email"}}, ve.Problems)

	// With the opt-in, the validator's own words, value included.
	verbose, err := New(BundledFS, WithValuesInErrors())
	require.NoError(t, err)
	err = verbose.Validate(context.Background(), e)
	assert.Equal(t, `schema: standard user.created v1: /data/email: format: 'x' is not valid 'email'`, err.Error())
}
