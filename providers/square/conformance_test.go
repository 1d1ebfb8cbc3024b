package square_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/square"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

var (
	paymentUpdated = []byte(`{"merchant_id":"6SSW7HV8K2ST5","type":"payment.updated","event_id":"6a8f5f28-54a1-4eb0-a98a-3111513fd4fc",` +
		`"created_at":"2020-02-06T21:27:34.308Z","data":{"type":"payment","id":"hYy9pRFVxpDsO1FB05SunFWUe9JZY",` +
		`"object":{"payment":{"id":"hYy9pRFVxpDsO1FB05SunFWUe9JZY","amount_money":{"amount":100,"currency":"USD"},` +
		`"status":"COMPLETED","version":1}}}}`)
	customerCreated = []byte(`{"merchant_id":"6SSW7HV8K2ST5","type":"customer.created","event_id":"e1f0b2a4-5e4b-4d3c-9f0e-6f4c2f8d9a1b",` +
		`"created_at":"2020-04-17T18:27:34.000Z","data":{"type":"customer","id":"A0AP25A6ZH5MZ7GTE9C9GL5S0M",` +
		`"object":{"customer":{"id":"A0AP25A6ZH5MZ7GTE9C9GL5S0M","given_name":"Zoë","email_address":"z@example.com"}}}}`)
)

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return square.New(c.Secrets[0], square.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    square.SignRequest,
		Secrets: []string{"Ibxx_5AKakO-3qeNVR61Dw", "MCmhFRxGX82xMwg5FsaoQA", "x8Fp2QwLk4Zt7RbN1vYs0A"},
		Samples: []providertest.Sample{
			{Name: "payment.updated", Header: jsonHeader, Body: paymentUpdated,
				ID: "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", Type: "payment.updated"},
			{Name: "customer.created", Header: jsonHeader, Body: customerCreated,
				ID: "e1f0b2a4-5e4b-4d3c-9f0e-6f4c2f8d9a1b", Type: "customer.created"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event_id", Header: jsonHeader, Body: []byte(`{"merchant_id":"M","type":"payment.updated","data":{}}`)},
			{Name: "no type", Header: jsonHeader, Body: []byte(`{"merchant_id":"M","event_id":"e1","data":{}}`)},
			{Name: "ambiguous type", Header: jsonHeader, Body: []byte(`{"event_id":"e1","type":"a","TYPE":"b"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`type=payment.updated`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", square.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), square.HeaderSignature)
}

// TestNotificationURL checks that the URL is signed and that WithURL, not
// the URL the request arrives at behind a proxy, is what is checked.
func TestNotificationURL(t *testing.T) {
	const key = "Ibxx_5AKakO-3qeNVR61Dw"
	const public = "https://example.com/webhooks/square"
	signed, err := http.NewRequest(http.MethodPost, public, bytes.NewReader(paymentUpdated))
	require.NoError(t, err)
	require.NoError(t, square.SignRequest(signed, paymentUpdated, key, time.Time{}))

	// The same request as the receiver sees it behind a proxy.
	behind, err := http.NewRequest(http.MethodPost, "http://10.0.0.7:8080/square", bytes.NewReader(paymentUpdated))
	require.NoError(t, err)
	behind.Header = signed.Header.Clone()

	direct, err := square.New(key)
	require.NoError(t, err)
	assert.NoError(t, direct.Verify(signed, paymentUpdated), "at the registered URL")
	assert.ErrorIs(t, direct.Verify(behind, paymentUpdated), verify.ErrSignatureMismatch, "the proxy's URL is not the registered one")

	configured, err := square.New(key, square.WithURL(public))
	require.NoError(t, err)
	assert.NoError(t, configured.Verify(behind, paymentUpdated), "WithURL behind a proxy")
	other, err := square.New(key, square.WithURL(public+"/"))
	require.NoError(t, err)
	assert.ErrorIs(t, other.Verify(behind, paymentUpdated), verify.ErrSignatureMismatch, "another URL")
}
