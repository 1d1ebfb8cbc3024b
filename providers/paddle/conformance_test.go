package paddle_test

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/paddle"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

var (
	subscriptionCreated = []byte(`{"event_id":"evt_01hv8x2acma2gz9f17x8z8ma8n","event_type":"subscription.created",` +
		`"occurred_at":"2024-04-12T10:18:49.621022Z","notification_id":"ntf_01hv8x2af1bnz4cnn3ws6xh3mt",` +
		`"data":{"id":"sub_01hv8x29kz0t586xy6zn1a62ny","status":"active","customer_id":"ctm_01hv6y1jedq4p1n0yqn5ba3ky4",` +
		`"items":[{"price":{"id":"pri_01gsz8x8sawmvhz1pv30nge1ke"},"quantity":10,"status":"active"}],` +
		`"currency_code":"USD","billing_cycle":{"interval":"month","frequency":1},"custom_data":null}}`)
	transactionCompleted = []byte(`{"data":{"id":"txn_01hv8wptq8987qeep44cyrewp9","status":"completed",` +
		`"details":{"totals":{"total":"2400","currency_code":"USD"}},"origin":"web"},` +
		`"event_id":"evt_01hv8wt5gzd6jh5rz5bye4ywhv","event_type":"transaction.completed",` +
		`"occurred_at":"2024-04-12T10:12:38.114574Z","notification_id":"ntf_01hv8wt5kfwhqc6xq9xyb1e9w1"}`)
)

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return paddle.New(c.Secrets[0], paddle.WithSecrets(c.Secrets[1:]...),
				paddle.WithClock(c.Now), paddle.WithTolerance(c.Tolerance))
		},
		Sign: paddle.SignRequest,
		Secrets: []string{
			"pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_conformanceOne",
			"pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_conformanceTwo",
			"pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_conformanceThree",
		},
		Samples: []providertest.Sample{
			{Name: "subscription.created", Header: jsonHeader, Body: subscriptionCreated,
				ID: "evt_01hv8x2acma2gz9f17x8z8ma8n", Type: "subscription.created"},
			{Name: "transaction.completed", Header: jsonHeader, Body: transactionCompleted,
				ID: "evt_01hv8wt5gzd6jh5rz5bye4ywhv", Type: "transaction.completed"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event_id", Header: jsonHeader, Body: []byte(`{"event_type":"subscription.created","data":{}}`)},
			{Name: "no event_type", Header: jsonHeader, Body: []byte(`{"event_id":"evt_1","data":{}}`)},
			{Name: "ambiguous event_id", Header: jsonHeader, Body: []byte(`{"event_id":"evt_1","Event_Id":"evt_2","event_type":"a"}`)},
			{Name: "event_id not a string", Header: jsonHeader, Body: []byte(`{"event_id":1,"event_type":"a"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`event_id=evt_1`)},
		},
		Tolerance: paddle.DefaultTolerance,
		List: &providertest.SignatureList{
			Header: paddle.HeaderSignature,
			Sep:    ";",
			Entry:  providertest.ForgedEntry("h1=", hex.EncodeToString),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", paddle.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), paddle.HeaderSignature)
}

// TestWindow checks the five-second default window and a configured one at
// their edges, in both directions.
func TestWindow(t *testing.T) {
	signedAt := time.Date(2024, 4, 12, 10, 18, 50, 0, time.UTC)
	const secret = "pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_window"
	for _, tc := range []struct {
		tolerance time.Duration // 0: the default
		offset    time.Duration // now - signedAt
		ok        bool
	}{
		{0, 0, true},
		{0, 5 * time.Second, true},
		{0, -5 * time.Second, true},
		{0, 6 * time.Second, false},
		{0, -6 * time.Second, false},
		{0, time.Hour, false},
		{time.Minute, time.Minute, true},
		{time.Minute, -time.Minute, true},
		{time.Minute, time.Minute + time.Second, false},
		{time.Minute, -time.Minute - time.Second, false},
	} {
		now := signedAt.Add(tc.offset)
		p, err := paddle.New(secret, paddle.WithClock(func() time.Time { return now }), paddle.WithTolerance(tc.tolerance))
		require.NoError(t, err)
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, bytes.NewReader(subscriptionCreated))
		require.NoError(t, err)
		require.NoError(t, paddle.SignRequest(r, subscriptionCreated, secret, signedAt))
		err = p.Verify(r, subscriptionCreated)
		if tc.ok {
			assert.NoError(t, err, "tolerance %v, offset %v", tc.tolerance, tc.offset)
		} else {
			assert.ErrorIs(t, err, verify.ErrVerification, "tolerance %v, offset %v", tc.tolerance, tc.offset)
		}
	}
}

// TestRotationHeader checks a header with one h1 per active secret, as
// Paddle sends during a rotation, against either secret.
func TestRotationHeader(t *testing.T) {
	signedAt := time.Unix(1710929255, 0)
	clock := paddle.WithClock(func() time.Time { return signedAt })
	sig := func(secret string) string {
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		require.NoError(t, err)
		require.NoError(t, paddle.SignRequest(r, subscriptionCreated, secret, signedAt))
		return r.Header.Get(paddle.HeaderSignature)
	}
	oldSig, newSig := sig("pdl_ntfset_old"), sig("pdl_ntfset_new")
	assert.Equal(t, "ts=1710929255;h1=", oldSig[:len("ts=1710929255;h1=")])
	header := oldSig + ";" + newSig[len("ts=1710929255;"):]
	for _, secret := range []string{"pdl_ntfset_old", "pdl_ntfset_new"} {
		p, err := paddle.New(secret, clock)
		require.NoError(t, err)
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		require.NoError(t, err)
		r.Header.Set(paddle.HeaderSignature, header)
		assert.NoError(t, p.Verify(r, subscriptionCreated), secret)
	}
	p, err := paddle.New("pdl_ntfset_other", clock)
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header.Set(paddle.HeaderSignature, header)
	assert.ErrorIs(t, p.Verify(r, subscriptionCreated), verify.ErrSignatureMismatch)
	r.Header.Set(paddle.HeaderSignature, header+";ts=1710929256")
	assert.ErrorIs(t, p.Verify(r, subscriptionCreated), verify.ErrVerification, "two ts")
}
