package lemonsqueezy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/lemonsqueezy"
	"github.com/hookwise/hookwise/providers/providertest"
)

func header(event string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "X-Event-Name": {event}}
}

func bodyHash(b string) string {
	sum := sha256.Sum256([]byte(b))
	return hex.EncodeToString(sum[:])
}

const (
	orderCreated = `{"meta":{"test_mode":true,"event_name":"order_created","custom_data":{"user_id":"123"},` +
		`"webhook_id":"9f2d7a1e-3b4c-4d5e-8f60-7a8b9c0d1e2f"},"data":{"type":"orders","id":"1",` +
		`"attributes":{"store_id":1,"identifier":"104e18a2-d755-4d4b-80c4-a6c1dcbe1c10","order_number":1,` +
		`"user_name":"Darlene Daugherty","user_email":"gernser@yahoo.com","currency":"USD","subtotal":999,` +
		`"total":999,"status":"paid","refunded":false,"created_at":"2021-08-17T09:45:53.000000Z",` +
		`"updated_at":"2021-08-17T09:45:53.000000Z"},"links":{"self":"https://api.lemonsqueezy.com/v1/orders/1"}}}`
	subscriptionUpdated = `{"meta":{"event_name":"subscription_updated","webhook_id":"9f2d7a1e-3b4c-4d5e-8f60-7a8b9c0d1e2f"},` +
		`"data":{"type":"subscriptions","id":"1","attributes":{"status":"active","renews_at":"2024-06-01T00:00:00.000000Z",` +
		`"updated_at":"2024-05-01T12:00:00.000000Z"}}}`
)

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return lemonsqueezy.New(c.Secrets[0], lemonsqueezy.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    lemonsqueezy.SignRequest,
		Secrets: []string{"lemonsqueezy_signing_secret", "rotated-signing-secret", "unknown-signing-secret"},
		Samples: []providertest.Sample{
			{Name: "order_created", Header: header("order_created"), Body: []byte(orderCreated),
				ID: bodyHash(orderCreated), Type: "order_created"},
			{Name: "subscription_updated", Header: header("subscription_updated"), Body: []byte(subscriptionUpdated),
				ID: bodyHash(subscriptionUpdated), Type: "subscription_updated"},
		},
		Malformed: []providertest.Sample{
			{Name: "no meta", Header: header("order_created"), Body: []byte(`{"data":{"type":"orders","id":"1"}}`)},
			{Name: "no event_name", Header: header("order_created"), Body: []byte(`{"meta":{"test_mode":true},"data":{}}`)},
			{Name: "event_name not a string", Header: header("order_created"), Body: []byte(`{"meta":{"event_name":7}}`)},
			{Name: "meta twice", Header: header("order_created"),
				Body: []byte(`{"meta":{"event_name":"order_created"},"meta":{"event_name":"order_refunded"}}`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", lemonsqueezy.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), lemonsqueezy.HeaderSignature)
}

// TestKnownAnswer verifies the delivery the lemonsqueezy-tampered vector
// was derived from (the vector's body without its inserted space) with the
// vector's signature.
func TestKnownAnswer(t *testing.T) {
	for _, v := range providertest.LoadVectors(t, "../testdata/vectors.json", lemonsqueezy.Name) {
		if v.ID != "lemonsqueezy-tampered" {
			continue
		}
		v.Body = strings.Replace(v.Body, " }", "}", 1)
		p, err := lemonsqueezy.New(v.Secret)
		require.NoError(t, err)
		r, body := v.Request()
		require.NoError(t, p.Verify(r, body))
		env, err := p.Parse(r, body)
		require.NoError(t, err)
		require.Equal(t, provider.Envelope{ID: bodyHash(v.Body), Type: "order_created"}, env)
		return
	}
	t.Fatal("no lemonsqueezy-tampered vector")
}

// The type comes from the signed body, never from the unsigned
// X-Event-Name header.
func TestTypeFromSignedBody(t *testing.T) {
	p, err := lemonsqueezy.New("s3cret")
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header = header("order_refunded")
	body := []byte(orderCreated)
	require.NoError(t, lemonsqueezy.SignRequest(r, body, "s3cret", time.Time{}))
	require.NoError(t, p.Verify(r, body))
	env, err := p.Parse(r, body)
	require.NoError(t, err)
	require.Equal(t, "order_created", env.Type)
}
