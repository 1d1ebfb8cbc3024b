package vercel_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/vercel"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return vercel.New(c.Secrets[0], vercel.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    vercel.SignRequest,
		Secrets: []string{"vercel-secret-one", "vercel-secret-two", "vercel-secret-three"},
		Samples: []providertest.Sample{
			{
				Name: "deployment.succeeded", Header: jsonHeader, ID: "evt_NvbxTEkm2wTbH7VRs0pYnBmR", Type: "deployment.succeeded",
				Body: []byte(`{"id":"evt_NvbxTEkm2wTbH7VRs0pYnBmR","type":"deployment.succeeded","createdAt":1735689600000,` +
					`"region":"iad1","payload":{"team":{"id":"team_1"},"user":{"id":"user_1"},"deployment":` +
					`{"id":"dpl_2euZBFqxYdDMDG1jTrHFnNZ2eUVa","meta":{},"url":"my-app-abc123.vercel.app","name":"my-app"},` +
					`"links":{"deployment":"https://vercel.com/acme/my-app/2euZBFqx"},"target":"production","project":{"id":"prj_1"}}}`),
			},
			{
				Name: "project.created", Header: jsonHeader, ID: "evt_2", Type: "project.created",
				Body: []byte(`{"type":"project.created","id":"evt_2","createdAt":1735689601000,"payload":{"project":{"id":"prj_2","name":"ünïcode"}}}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no id", Header: jsonHeader, Body: []byte(`{"type":"deployment.created"}`)},
			{Name: "no type", Header: jsonHeader, Body: []byte(`{"id":"evt_1"}`)},
			{Name: "id in another case", Header: jsonHeader, Body: []byte(`{"ID":"evt_1","type":"deployment.created"}`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", vercel.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), vercel.HeaderSignature)
}

// The vercel-tampered vector carries the MAC of its body without the
// inserted space: signed here, it is that MAC.
func TestKnownAnswer(t *testing.T) {
	body := []byte(`{"id":"evt_NvbxTEkm2wTbH7VRs0pYnBmR","type":"deployment.succeeded","createdAt":1735689600000,"payload":{"deployment":{"id":"dpl_2euZBFqxYdDMDG1jTrHFnNZ2eUVa"}}}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, vercel.SignRequest(r, body, "vercel_webhook_secret_123", time.Time{}))
	assert.Equal(t, "f53f74648297ab9676d5f24deb5cf2f2a64d988d", r.Header.Get("x-vercel-signature"))
}
