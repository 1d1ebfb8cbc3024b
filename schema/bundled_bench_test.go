package schema

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// bundledCase is one bundled schema with a representative valid payload
// of it from testdata/valid.
type bundledCase struct {
	provider, pattern string // the schema: its provider and type pattern
	typ, version      string // the event validated against it
	file              string // testdata/valid/<file>
}

// bundledCases lists every bundled schema (every file under schemas/ that
// is not only a $ref target) with the payloads of testdata/valid it covers.
// Stripe's "*" has two: a snapshot event and a thin one. Slack's "*" is an
// Events API callback whose type is the inner event's, as the slack provider
// sets it.
var bundledCases = []bundledCase{
	{"github", "issues", "issues.opened", "", "github/issues.opened.json"},
	{"github", "ping", "ping", "", "github/ping.json"},
	{"github", "pull_request", "pull_request.opened", "", "github/pull_request.opened.json"},
	{"github", "push", "push", "", "github/push.json"},
	{"slack", "*", "app_mention", "", "slack/event_callback.json"},
	{"slack", "event_callback", "event_callback", "", "slack/event_callback.json"},
	{"slack", "url_verification", "url_verification", "", "slack/url_verification.json"},
	{"standard", "*", "invoice.paid", "v1", "standard/invoice.paid.json"},
	{"standard", "user.created", "user.created", "v1", "standard/user.created.json"},
	{"stripe", "*", "customer.updated", "2024-06-20", "stripe/customer.updated.json"},
	{"stripe", "*", "v1.billing.meter.error_report_triggered", "2024-06-20", "stripe/v1.billing.meter.error_report_triggered.json"},
	{"stripe", "checkout.session.completed", "checkout.session.completed", "2024-06-20", "stripe/checkout.session.completed.json"},
	{"stripe", "invoice.*", "invoice.paid", "2024-06-20", "stripe/invoice.paid.json"},
	{"stripe", "payment_intent.*", "payment_intent.succeeded", "2024-06-20", "stripe/payment_intent.succeeded.json"},
}

func (c bundledCase) event(t testing.TB) *receiver.Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata/valid", c.file))
	require.NoError(t, err)
	return &receiver.Event{Provider: c.provider, Type: c.typ, Version: c.version, Body: body}
}

// TestBundledCasesCoverEverySchema keeps bundledCases complete: each case
// is validated by the schema it names, and every bundled schema file that
// is not a shared $ref target has a case.
func TestBundledCasesCoverEverySchema(t *testing.T) {
	reg := Bundled(Strict())
	covered := map[string]bool{}
	for _, c := range bundledCases {
		e := c.event(t)
		require.NoError(t, reg.Validate(context.Background(), e), c.file)
		pat, v, ok := reg.SchemaFor(c.provider, c.typ, c.version)
		require.True(t, ok, c.file)
		require.Equal(t, c.pattern, pat, c.file)
		if v == AnyVersion {
			v = "_"
		}
		covered[filepath.Join(c.provider, strings.ReplaceAll(pat, "*", "_"), v+".json")] = true // "*" is written "_"
	}
	shared := map[string]bool{
		"github/common.json": true, "slack/envelope.json": true, "standard/envelope.json": true,
		"stripe/event.json": true, "stripe/objects.json": true,
	}
	files, err := filepath.Glob("schemas/*/*/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		rel, err := filepath.Rel("schemas", f)
		require.NoError(t, err)
		if !shared[rel] {
			require.True(t, covered[rel], "no benchmark case for the bundled schema %s", rel)
		}
	}
}

// BenchmarkBundled measures, for every bundled schema and a representative
// valid payload, what validating one event costs (stage=validate:
// Registry.Validate, as the receiver's Validator runs it) and its two parts
// (stage=decode: the payload decoded into any for the validator;
// stage=schema: the compiled schema run on the decoded document), and, for
// the decode-once question, what a second decode of the same payload into a
// map costs (stage=unmarshal-map: json.Unmarshal, as receiver.Typed or
// Versioned decode for a map payload).
func BenchmarkBundled(b *testing.B) {
	reg := Bundled(Strict())
	ctx := context.Background()
	for _, c := range bundledCases {
		e := c.event(b)
		name := "schema=" + c.provider + "/" + c.pattern + "/payload=" + filepath.Base(c.file)
		b.Run(name+"/stage=validate", func(b *testing.B) {
			b.SetBytes(int64(len(e.Body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := reg.Validate(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/stage=decode", func(b *testing.B) {
			b.SetBytes(int64(len(e.Body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeJSON(e.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/stage=schema", func(b *testing.B) {
			doc, err := decodeJSON(e.Body)
			require.NoError(b, err)
			_, _, s, ok := reg.find(c.provider, c.typ, c.version)
			require.True(b, ok)
			b.SetBytes(int64(len(e.Body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Validate(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/stage=unmarshal-map", func(b *testing.B) {
			b.SetBytes(int64(len(e.Body)))
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(e.Body, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeOnce measures an event validated by the Registry (as the
// receiver's Validator) and then handled, on the ~1.5 KiB Stripe
// payment_intent.succeeded of testdata:
//
//   - handler=versioned/ctx=plain: Validate, then a Versioned handler with
//     a context that carries nothing (today's receiver): the payload is
//     decoded into any twice, validated twice, and decoded into the struct.
//   - handler=versioned/ctx=carried: ValidateContext, then the Versioned
//     handler with its context (the receiver hook): decoded into any once,
//     validated once, decoded into the struct.
//   - handler=typed: Validate, then json.Unmarshal into the struct, as
//     receiver.Typed does: the two decodes a single pass cannot merge.
//   - handler=map/ctx=carried: ValidateContext, then Document instead of a
//     second decode, for a handler of map payloads.
func BenchmarkDecodeOnce(b *testing.B) {
	reg := Bundled(Strict())
	c := bundledCases[len(bundledCases)-1]
	require.Equal(b, "stripe/payment_intent.succeeded.json", c.file)
	e := c.event(b)
	h := Versioned(reg, "stripe", "2024-06-20", func(_ context.Context, _ *receiver.Event, p benchStripeEvent) error {
		if p.Data.Object.ID == "" {
			return errNoID
		}
		return nil
	})
	ctx := context.Background()
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			require.NoError(b, f())
			b.SetBytes(int64(len(e.Body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("handler=versioned/ctx=plain", func() error {
		if err := reg.Validate(ctx, e); err != nil {
			return err
		}
		return h.HandleEvent(ctx, e)
	})
	run("handler=versioned/ctx=carried", func() error {
		hctx, err := reg.ValidateContext(ctx, e)
		if err != nil {
			return err
		}
		return h.HandleEvent(hctx, e)
	})
	run("handler=typed", func() error {
		if err := reg.Validate(ctx, e); err != nil {
			return err
		}
		var p benchStripeEvent
		return json.Unmarshal(e.Body, &p)
	})
	run("handler=map/ctx=plain", func() error {
		if err := reg.Validate(ctx, e); err != nil {
			return err
		}
		var m map[string]any
		return json.Unmarshal(e.Body, &m)
	})
	run("handler=map/ctx=carried", func() error {
		hctx, err := reg.ValidateContext(ctx, e)
		if err != nil {
			return err
		}
		if _, ok := Document(hctx, e); !ok {
			return errNoID
		}
		return nil
	})
}

var errNoID = errors.New("bench: no document or no id")
