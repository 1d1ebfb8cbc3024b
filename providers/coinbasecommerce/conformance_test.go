package coinbasecommerce_test

import (
	"net/http"
	"testing"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/coinbasecommerce"
	"github.com/hookwise/hookwise/providers/providertest"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return coinbasecommerce.New(c.Secrets[0], coinbasecommerce.WithSecrets(c.Secrets[1:]...))
		},
		Sign: coinbasecommerce.SignRequest,
		Secrets: []string{
			"30291a20-0bd1-4267-9b0f-e6e7b123c0bf",
			"5e7d0c1a-8b2f-4c3d-9e4f-a0b1c2d3e4f5",
			"f0e1d2c3-b4a5-4968-8776-655443322110",
		},
		Samples: []providertest.Sample{
			{
				Name: "charge:confirmed", Header: jsonHeader,
				ID: "0f7a5b1c-2d3e-4f50-8a6b-7c8d9e0f1a2b", Type: "charge:confirmed",
				Body: []byte(`{"id":"a1b2c3d4-0000-4000-8000-000000000001","scheduled_for":"2024-05-01T12:00:05Z",` +
					`"attempt_number":1,"event":{"id":"0f7a5b1c-2d3e-4f50-8a6b-7c8d9e0f1a2b","resource":"event",` +
					`"type":"charge:confirmed","api_version":"2018-03-22","created_at":"2024-05-01T12:00:00Z",` +
					`"data":{"id":"f765421f-5e3c-4b8a-9c1d-2e3f4a5b6c7d","code":"66BEOV2A","resource":"charge",` +
					`"name":"The Sovereign Individual","pricing_type":"fixed_price",` +
					`"pricing":{"local":{"amount":"100.00","currency":"USD"}},"metadata":{"customer_id":"42"}}}}`),
			},
			{
				Name: "charge:created (SDK)", Header: jsonHeader,
				ID: "24934862-d980-46cb-9402-43c81b0cdba6", Type: "charge:created",
				Body: []byte(`{"id":1,"scheduled_for":"2017-01-31T20:50:02Z","attempt_number":1,"event":{"id":"24934862-d980-46cb-9402-43c81b0cdba6",` +
					`"type":"charge:created","api_version":"2018-03-22","created_at":"2017-01-31T20:49:02Z",` +
					`"data":{"code":"66BEOV2A","name":"The Sovereign Individual","payments":[]}}}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no event", Header: jsonHeader, Body: []byte(`{"id":1,"attempt_number":1}`)},
			{Name: "no event.id", Header: jsonHeader, Body: []byte(`{"id":1,"event":{"type":"charge:created"}}`)},
			{Name: "no event.type", Header: jsonHeader, Body: []byte(`{"id":1,"event":{"id":"e1"}}`)},
			{Name: "event.id twice", Header: jsonHeader, Body: []byte(`{"event":{"id":"e1","id":"e2","type":"charge:created"}}`)},
			{Name: "event.id a number", Header: jsonHeader, Body: []byte(`{"event":{"id":1,"type":"charge:created"}}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`event[id]=e1`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", coinbasecommerce.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), coinbasecommerce.HeaderSignature)
}
