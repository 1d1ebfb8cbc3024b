package razorpay_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/razorpay"
)

func header(eventID string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if eventID != "" {
		h.Set(razorpay.HeaderEventID, eventID)
	}
	return h
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return razorpay.New(c.Secrets[0], razorpay.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    razorpay.SignRequest,
		Secrets: []string{"razorpay_webhook_secret", "Wh00k-s3cret-rotated", "unknown-razorpay-secret"},
		Samples: []providertest.Sample{
			{
				Name: "payment.captured", Header: header("EGUnD7sQnWJqdZ"), ID: "EGUnD7sQnWJqdZ", Type: "payment.captured",
				Body: []byte(`{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.captured",` +
					`"contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_DESlfW9H8K9uqM","entity":"payment",` +
					`"amount":100,"currency":"INR","status":"captured","order_id":"order_DESlLckIVRkHWj","method":"upi",` +
					`"captured":true,"email":"gaurav.kumar@example.com","contact":"+919876543210","created_at":1567674599}}},` +
					`"created_at":1567674606}`),
			},
			{
				Name: "order.paid", Header: header("EGUnD7sQnWJqe1"), ID: "EGUnD7sQnWJqe1", Type: "order.paid",
				Body: []byte(`{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"order.paid","contains":["payment","order"],` +
					`"payload":{"order":{"entity":{"id":"order_DaaS6LOUAASb7Y","amount":2200,"status":"paid"}}},"created_at":1735689600}`),
			},
			{
				Name: "no event id header", Header: header(""), Type: "refund.processed",
				Body: []byte(`{"entity":"event","event":"refund.processed","contains":["refund"],"payload":{},"created_at":1735689601}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no event", Header: header("E1"), Body: []byte(`{"entity":"event","payload":{}}`)},
			{Name: "event twice", Header: header("E1"), Body: []byte(`{"event":"payment.captured","Event":"payment.failed"}`)},
			{Name: "two event ids", Header: http.Header{"X-Razorpay-Event-Id": {"E1", "E2"}}, Body: []byte(`{"event":"payment.captured"}`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", razorpay.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), razorpay.HeaderSignature)
}

// TestKnownAnswer verifies the delivery the razorpay-tampered vector was
// derived from (the vector's body without its inserted space) with the
// vector's signature.
func TestKnownAnswer(t *testing.T) {
	vs := providertest.LoadVectors(t, "../testdata/vectors.json", razorpay.Name)
	for _, v := range vs {
		if v.ID != "razorpay-tampered" {
			continue
		}
		v.Body = strings.Replace(v.Body, " }", "}", 1)
		p, err := razorpay.New(v.Secret)
		require.NoError(t, err)
		r, body := v.Request()
		require.NoError(t, p.Verify(r, body))
		env, err := p.Parse(r, body)
		require.NoError(t, err)
		require.Equal(t, provider.Envelope{ID: "EGUnD7sQnWJqdZ", Type: "payment.captured"}, env)
		return
	}
	t.Fatal("no razorpay-tampered vector")
}
