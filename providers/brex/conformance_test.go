package brex_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/brex"
	"github.com/hookwise/hookwise/providers/providertest"
)

func header(id string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {id}}
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return brex.New(c.Secrets[0], brex.WithSecrets(c.Secrets[1:]...),
				brex.WithClock(c.Now), brex.WithTolerance(c.Tolerance))
		},
		Sign: brex.SignRequest,
		Secrets: []string{
			"whsec_ti31v8aHPuE4lCE9KMW9WA2iuz1YmY21bwzNVi69MWM=",
			"YW5vdGhlci1zZWNyZXQtb2YtMjQtYnl0ZXMh", // Brex's secrets come without the prefix
			"whsec_dKNmfNibe8Nkb87i4JhxlVfAyGZSWZ7BCbuJ0hRmuHY=",
		},
		Samples: []providertest.Sample{
			{
				Name: "TRANSFER_PROCESSED", Header: header("9c1f8e3a-6a36-4f86-a4b7-2f7d1c0b9e21"),
				ID: "9c1f8e3a-6a36-4f86-a4b7-2f7d1c0b9e21", Type: "TRANSFER_PROCESSED",
				Body: []byte(`{"event_type":"TRANSFER_PROCESSED","transfer_id":"dptx_123","company_id":"cuacc_123"}`),
			},
			{
				Name: "EXPENSE_PAYMENT_UPDATED", Header: header("5d7c7a0e-2b1f-4f0e-9a51-0c8a9f6c1d22"),
				ID: "5d7c7a0e-2b1f-4f0e-9a51-0c8a9f6c1d22", Type: "EXPENSE_PAYMENT_UPDATED",
				Body: []byte(`{"event_type":"EXPENSE_PAYMENT_UPDATED","expense_id":"expense_123","payment_status":"SETTLED",` +
					`"company_id":"cuacc_123","amount":{"amount":1250,"currency":"USD"}}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no event_type", Header: header("msg_1"), Body: []byte(`{"transfer_id":"dptx_123"}`)},
			{Name: "ambiguous type", Header: header("msg_1"), Body: []byte(`{"event_type":"TRANSFER_PROCESSED","Event_Type":"TRANSFER_FAILED"}`)},
			{Name: "not JSON", Header: header("msg_1"), Body: []byte(`event_type=TRANSFER_PROCESSED`)},
		},
		SignedHeaders: []string{brex.HeaderID},
		Tolerance:     brex.DefaultTolerance,
		List: &providertest.SignatureList{
			Header: brex.HeaderSignature,
			Sep:    " ",
			Entry:  providertest.ForgedEntry("v1,", base64.StdEncoding.EncodeToString),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", brex.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), brex.HeaderSignature)
}

func FuzzConformanceTimestampHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), brex.HeaderTimestamp)
}
