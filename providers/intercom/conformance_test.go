package intercom_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/intercom"
	"github.com/hookwise/hookwise/providers/providertest"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return intercom.New(c.Secrets[0], intercom.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    intercom.SignRequest,
		Secrets: []string{"intercom-client-secret-one", "intercom-client-secret-two", "intercom-client-secret-three"},
		Samples: []providertest.Sample{
			{
				Name: "conversation.user.created", Header: jsonHeader, ID: "notif_ccd8a4d2-c8cd-4b21-9d6e-8a4b8c1f2e3d", Type: "conversation.user.created",
				Body: []byte(`{"type":"notification_event","app_id":"ecahpwf5","data":{"type":"notification_event_data",` +
					`"item":{"type":"conversation","id":"147","created_at":1735689600,"source":{"type":"conversation",` +
					`"body":"<p>Hi, café?</p>","author":{"type":"user","id":"5310d8e7598c9a0b24000002"}}}},` +
					`"links":{},"id":"notif_ccd8a4d2-c8cd-4b21-9d6e-8a4b8c1f2e3d","topic":"conversation.user.created",` +
					`"delivery_status":"pending","delivery_attempts":1,"delivered_at":0,"first_sent_at":1735689600,"created_at":1735689600}`),
			},
			{
				Name: "ping", Header: jsonHeader, ID: "notif_0b1a6f3e", Type: "ping",
				Body: []byte(`{"type":"notification_event","app_id":"ecahpwf5","data":{"type":"notification_event_data",` +
					`"item":{"type":"ping","message":"something something interzen"}},"id":"notif_0b1a6f3e","topic":"ping",` +
					`"delivery_attempts":1,"created_at":1735689600}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no id", Header: jsonHeader, Body: []byte(`{"type":"notification_event","topic":"ping"}`)},
			{Name: "no topic", Header: jsonHeader, Body: []byte(`{"type":"notification_event","id":"notif_1"}`)},
			{Name: "two topics", Header: jsonHeader, Body: []byte(`{"id":"notif_1","topic":"ping","topic":"user.created"}`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", intercom.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), intercom.HeaderSignature)
}

// The intercom-tampered vector carries the MAC of its body without the
// inserted space: signed here, it is that MAC.
func TestKnownAnswer(t *testing.T) {
	body := []byte(`{"type":"notification_event","app_id":"ecahpwf5","data":{"type":"notification_event_data","item":{"type":"ping","message":"something something interzen"}},"id":"notif_0b1a6f3e","topic":"ping","delivery_attempts":1,"created_at":1735689600}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, intercom.SignRequest(r, body, "intercom_client_secret_abc", time.Time{}))
	assert.Equal(t, "sha1=68d4835f08bf1c5f4202204cd6d8f01e6e9b1744", r.Header.Get(intercom.HeaderSignature))
	p, err := intercom.New("intercom_client_secret_abc")
	require.NoError(t, err)
	require.NoError(t, p.Verify(r, body))
	env, err := p.Parse(r, body)
	require.NoError(t, err)
	assert.Equal(t, provider.Envelope{ID: "notif_0b1a6f3e", Type: "ping"}, env)
}
