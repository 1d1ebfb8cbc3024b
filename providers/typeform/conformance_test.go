package typeform_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/typeform"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return typeform.New(c.Secrets[0], typeform.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    typeform.SignRequest,
		Secrets: []string{"typeform-secret-one", "typeform-secret-two", "typeform-secret-three"},
		Samples: []providertest.Sample{{
			Name: "form_response", Header: jsonHeader, ID: "01HQ4V9B2ZP7R9W3YQ1X6K8M2N", Type: "form_response",
			Body: []byte(`{"event_id":"01HQ4V9B2ZP7R9W3YQ1X6K8M2N","event_type":"form_response","form_response":` +
				`{"form_id":"lT4Z3j","token":"a3a12ec67a1365927098a606107fac15","landed_at":"2025-01-01T00:00:00Z",` +
				`"submitted_at":"2025-01-01T00:01:00Z","definition":{"id":"lT4Z3j","title":"Webhooks example","fields":` +
				`[{"id":"DlXFaesGBpoF","type":"short_text","title":"Your name?"}]},"answers":[{"type":"text",` +
				`"text":"Zoë","field":{"id":"DlXFaesGBpoF","type":"short_text"}}]}}`),
		}},
		Malformed: []providertest.Sample{
			{Name: "no event_id", Header: jsonHeader, Body: []byte(`{"event_type":"form_response"}`)},
			{Name: "no event_type", Header: jsonHeader, Body: []byte(`{"event_id":"01HQ"}`)},
			{Name: "ambiguous event_id", Header: jsonHeader, Body: []byte(`{"event_id":"a","Event_Id":"b","event_type":"form_response"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`event_id=a`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", typeform.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), typeform.HeaderSignature)
}

// A hex digest, what most providers send, is not Typeform's encoding.
func TestHexDigestRejected(t *testing.T) {
	p, err := typeform.New("typeform_secret_abc")
	require.NoError(t, err)
	body := []byte(`{"event_id":"e","event_type":"form_response"}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, typeform.SignRequest(r, body, "typeform_secret_abc", time.Time{}))
	require.NoError(t, p.Verify(r, body))
	r.Header.Set(typeform.HeaderSignature, "sha256=f2980029f894ad4bc52f544baf3f9f4c4de4d7aadc2ceb7047af38956798fb04")
	assert.ErrorIs(t, p.Verify(r, body), verify.ErrVerification)
}
