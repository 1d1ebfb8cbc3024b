package sentry_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/sentry"
)

func header(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return sentry.New(c.Secrets[0], sentry.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    sentry.SignRequest,
		Secrets: []string{"sentry-client-secret-one", "sentry-client-secret-two", "sentry-client-secret-three"},
		Samples: []providertest.Sample{
			{
				Name: "issue.created", ID: "1f4b7c2e-6c9d-4a5e-8f1a-2b3c4d5e6f70", Type: "issue",
				Header: header(sentry.HeaderRequestID, "1f4b7c2e-6c9d-4a5e-8f1a-2b3c4d5e6f70", sentry.HeaderResource, "issue",
					"Sentry-Hook-Timestamp", "1735689600"),
				Body: []byte(`{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},` +
					`"data":{"issue":{"id":"1170820242","shortId":"PROJ-1","title":"TypeError: Cannot read property 'x'",` +
					`"culprit":"app/main.js","level":"error","status":"unresolved","project":{"id":"1","slug":"web"}}},` +
					`"actor":{"type":"application","id":"sentry","name":"Sentry"}}`),
			},
			{
				Name: "event_alert.triggered", ID: "7a4f0e0b-3c7e-4bb8-b5b4-3f2d9d3f1c22", Type: "event_alert",
				Header: header(sentry.HeaderRequestID, "7a4f0e0b-3c7e-4bb8-b5b4-3f2d9d3f1c22", sentry.HeaderResource, "event_alert"),
				Body: []byte(`{"action":"triggered","data":{"event":{"event_id":"cf06d5ae0ab94b1d9d0b6c5f1d0bd0e6"},` +
					`"triggered_rule":"Send a notification for new issues"},"installation":{"uuid":"a8e5d37a"},` +
					`"actor":{"type":"application","id":"sentry","name":"Sentry"}}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no Request-ID", Header: header(sentry.HeaderResource, "issue"), Body: []byte(`{"action":"created"}`)},
			{Name: "no resource", Header: header(sentry.HeaderRequestID, "r1"), Body: []byte(`{"action":"created"}`)},
			{Name: "two resources", Header: header(sentry.HeaderRequestID, "r1", sentry.HeaderResource, "issue", sentry.HeaderResource, "error"), Body: []byte(`{}`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", sentry.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), sentry.HeaderSignature)
}

// The sentry-tampered vector carries the MAC of its body without the
// inserted space: signed here, it is that MAC.
func TestKnownAnswer(t *testing.T) {
	body := []byte(`{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},"data":{"issue":{"id":"1170820242","shortId":"PROJ-1"}},"actor":{"type":"application","id":"sentry","name":"Sentry"}}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, sentry.SignRequest(r, body, "sentry_client_secret_abc", time.Time{}))
	assert.Equal(t, "63fc10a1a98966559f3a0f09a57bdbe09670683e6e71f5d9302d358651f2567e", r.Header.Get(sentry.HeaderSignature))
}
