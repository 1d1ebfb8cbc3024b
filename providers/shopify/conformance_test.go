package shopify_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/shopify"
	"github.com/hookwise/hookwise/verify"
)

func header(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

const orderBody = `{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508",` +
	`"email":"jon@example.com","created_at":"2025-01-01T00:00:00-05:00","currency":"USD",` +
	`"total_price":"403.00","line_items":[{"id":866550311766439020,"title":"IPod Nano - 8GB","quantity":1,"price":"199.00"}]}`

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return shopify.New(c.Secrets[0], shopify.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    shopify.SignRequest,
		Secrets: []string{"shpss_conformance_one", "shpss_conformance_two", "shpss_conformance_three"},
		Samples: []providertest.Sample{
			{
				Name: "orders/create", ID: "98880550-7158-44d4-b7cd-2c97c8a091b5", Type: "orders/create",
				Header: header(shopify.HeaderEventID, "98880550-7158-44d4-b7cd-2c97c8a091b5",
					shopify.HeaderWebhookID, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
					shopify.HeaderTopic, "orders/create", shopify.HeaderAPIVersion, "2025-01",
					"X-Shopify-Shop-Domain", "example.myshopify.com", "X-Shopify-Triggered-At", "2025-01-01T00:00:00.000000000Z"),
				Body: []byte(orderBody),
			},
			{
				// An older delivery without X-Shopify-Event-Id: keyed on the webhook ID.
				Name: "app/uninstalled without event id", ID: "1d5a3bb2-5c1c-4c1d-9b0e-62a7e5f0a4b1", Type: "app/uninstalled",
				Header: header(shopify.HeaderWebhookID, "1d5a3bb2-5c1c-4c1d-9b0e-62a7e5f0a4b1",
					shopify.HeaderTopic, "app/uninstalled", "X-Shopify-Shop-Domain", "example.myshopify.com"),
				Body: []byte(`{"id":548380009,"name":"Super Toys","domain":"example.myshopify.com"}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no topic", Header: header(shopify.HeaderEventID, "e1"), Body: []byte(`{}`)},
			{Name: "no id", Header: header(shopify.HeaderTopic, "orders/create"), Body: []byte(`{}`)},
			{Name: "two event ids", Header: header(shopify.HeaderEventID, "e1", shopify.HeaderEventID, "e2", shopify.HeaderTopic, "orders/create"), Body: []byte(`{}`)},
			{Name: "two topics", Header: header(shopify.HeaderEventID, "e1", shopify.HeaderTopic, "orders/create", shopify.HeaderTopic, "orders/paid"), Body: []byte(`{}`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", shopify.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), shopify.HeaderSignature)
}

// Events deliveries carry the unprefixed headers; they run the same suite
// through SignEventsRequest.
func TestConformanceEvents(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return shopify.New(c.Secrets[0], shopify.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    shopify.SignEventsRequest,
		Secrets: []string{"shpss_events_one", "shpss_events_two", "shpss_events_three"},
		Samples: []providertest.Sample{{
			Name: "Product update", ID: "7b3c5e62-2d1f-4f87-9b0e-2f5d1a6c9e11", Type: "Product",
			Header: header(shopify.HeaderEventsEventID, "7b3c5e62-2d1f-4f87-9b0e-2f5d1a6c9e11",
				shopify.HeaderEventsTopic, "Product", "Shopify-Action", "update", shopify.HeaderEventsAPIVersion, "unstable",
				"Shopify-Shop-Domain", "example.myshopify.com"),
			Body: []byte(`{"topic":"Product","action":"update","handle":"product-sync","resource_id":"gid://shopify/Product/9554194432293"}`),
		}},
	})
}

// The documented example: HMAC-SHA256 keyed with "hush" over the body,
// base64 (the vector's valid counterpart, signed here).
func TestSignatureBase64(t *testing.T) {
	body := []byte(`{"id":820982911946154508,"email":"jon@example.com","topic":"orders/create"}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, shopify.SignRequest(r, body, "hush", time.Time{}))
	assert.Equal(t, "caywFtONLHCQ/kdAoRCOAC9s972OdEFX6QvGUQVBTbQ=", r.Header.Get(shopify.HeaderSignature),
		"the MAC the shopify-tampered vector carries for the untampered body")
}

func TestVerifyPrefersPrefixedHeader(t *testing.T) {
	p, err := shopify.New("shpss_a")
	require.NoError(t, err)
	body := []byte(`{"id":1}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, shopify.SignEventsRequest(r, body, "shpss_a", time.Time{}))
	require.NoError(t, p.Verify(r, body), "the unprefixed header alone")

	// A bad X-Shopify-Hmac-Sha256 is not rescued by a good unprefixed one.
	r.Header.Set(shopify.HeaderSignature, "AAAA")
	assert.ErrorIs(t, p.Verify(r, body), verify.ErrVerification)

	r.Header.Del(shopify.HeaderSignature)
	r.Header.Del(shopify.HeaderEventsSignature)
	assert.ErrorIs(t, p.Verify(r, body), verify.ErrMissingSignature)
}

func TestWebhookIDDedupe(t *testing.T) {
	p, err := shopify.New("shpss_a", shopify.WithWebhookIDDedupe())
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header = header(shopify.HeaderEventID, "event-1", shopify.HeaderWebhookID, "delivery-1", shopify.HeaderTopic, "orders/create")
	env, err := p.Parse(r, nil)
	require.NoError(t, err)
	assert.Equal(t, "delivery-1", env.ID)
	assert.Equal(t, "orders/create", env.Type)

	r.Header.Del(shopify.HeaderWebhookID)
	_, err = p.Parse(r, nil)
	assert.ErrorIs(t, err, provider.ErrMalformedEnvelope, "no webhook ID, no fallback to the event ID")
	assert.NotContains(t, err.Error(), "event-1")
}

func TestNoSecret(t *testing.T) {
	_, err := shopify.New(" ")
	assert.ErrorIs(t, err, verify.ErrNoSecret)
	_, err = shopify.NewFromSource(&provider.Secrets{})
	assert.ErrorIs(t, err, verify.ErrNoSecret)
}

func TestSecretSourceRotation(t *testing.T) {
	src, err := provider.NewSecrets("shpss_old")
	require.NoError(t, err)
	p, err := shopify.NewFromSource(src)
	require.NoError(t, err)
	body := []byte(`{"id":1}`)
	signed := func(secret string, events bool) *http.Request {
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		require.NoError(t, err)
		sign := shopify.SignRequest
		if events {
			sign = shopify.SignEventsRequest
		}
		require.NoError(t, sign(r, body, secret, time.Time{}))
		return r
	}
	for _, events := range []bool{false, true} {
		require.NoError(t, src.Set("shpss_old"))
		assert.NoError(t, p.Verify(signed("shpss_old", events), body))
		assert.ErrorIs(t, p.Verify(signed("shpss_new", events), body), verify.ErrVerification)
		require.NoError(t, src.Set("shpss_new", "shpss_old"))
		assert.NoError(t, p.Verify(signed("shpss_new", events), body))
		assert.NoError(t, p.Verify(signed("shpss_old", events), body))
	}
}
