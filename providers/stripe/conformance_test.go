package stripe_test

import (
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/stripe"
)

func harness(t testing.TB) providertest.Harness {
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return stripe.New(c.Secrets[0], stripe.WithSecrets(c.Secrets[1:]...),
				stripe.WithClock(c.Now), stripe.WithTolerance(c.Tolerance))
		},
		Sign: func(r *http.Request, body []byte, secret string, now time.Time) error {
			r.Header.Set(stripe.HeaderSignature, stripe.Sign(secret, now, body))
			return nil
		},
		Secrets: []string{"whsec_conformance_one", "whsec_conformance_two", "whsec_conformance_three"},
		Samples: []providertest.Sample{
			{
				Name: "invoice.paid", Header: jsonHeader, ID: "evt_1NG8Du2eZvKYlo2CUI79vXWy", Type: "invoice.paid",
				Body: []byte(`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2024-06-20",` +
					`"created":1686089970,"data":{"object":{"id":"in_1","object":"invoice","amount_paid":2000}},` +
					`"livemode":false,"pending_webhooks":1,"type":"invoice.paid"}`),
			},
			{
				Name: "customer.deleted", Header: jsonHeader, ID: "evt_2", Type: "customer.deleted",
				Body: []byte(`{"type":"customer.deleted","data":{"object":{"id":"cus_9","name":"Zoë"}},"id":"evt_2"}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no id", Header: jsonHeader, Body: []byte(`{"type":"invoice.paid"}`)},
			{Name: "no type", Header: jsonHeader, Body: []byte(`{"id":"evt_1"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`id=evt_1&type=invoice.paid`)},
		},
		Tolerance: stripe.DefaultTolerance,
		List: &providertest.SignatureList{
			Header: stripe.HeaderSignature,
			Sep:    ",",
			Entry:  providertest.ForgedEntry("v1=", hex.EncodeToString),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", "stripe"),
	}
}

func TestConformance(t *testing.T) {
	providertest.Run(t, harness(t))
}

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), stripe.HeaderSignature)
}
