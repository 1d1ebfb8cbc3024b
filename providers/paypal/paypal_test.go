package paypal_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/paypal"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

func vector(t *testing.T) providertest.Vector {
	vs := providertest.LoadVectors(t, "../testdata/vectors.json", paypal.Name)
	for _, v := range vs {
		if v.ID == "paypal-cert-sha256withrsa" {
			return v
		}
	}
	t.Fatal("no paypal-cert-sha256withrsa vector")
	return providertest.Vector{}
}

// The shared vector and the two failures PROVIDERS.md describes for it
// (paypal-tampered, paypal-wrong-webhook-id), derived from it, plus the
// window, the certificate's validity and the algorithm.
func TestVectorVariants(t *testing.T) {
	v := vector(t)
	signedAt, err := time.Parse(time.RFC3339, v.Headers["PAYPAL-TRANSMISSION-TIME"])
	require.NoError(t, err)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return signedAt.Add(d) } }
	newP := func(webhookID string, now func() time.Time) *paypal.Provider {
		p, err := paypal.New(paypal.WithWebhookID(webhookID), paypal.WithCertificates(v.PublicKey), paypal.WithClock(now))
		require.NoError(t, err)
		return p
	}

	r, body := v.Request()
	require.NoError(t, newP(vectorWebhookID, at(0)).Verify(r, body), "the vector")
	env, err := newP(vectorWebhookID, at(0)).Parse(r, body)
	require.NoError(t, err)
	assert.Equal(t, provider.Envelope{ID: "WH-58D329510W468432D-8HN650336L201105X", Type: "PAYMENT.CAPTURE.COMPLETED", Version: "1.0"}, env)

	tampered := bytes.Replace(body, []byte(`10.0 USD`), []byte(`99.0 USD`), 1)
	assert.ErrorIs(t, newP(vectorWebhookID, at(0)).Verify(r, tampered), verify.ErrSignatureMismatch, "paypal-tampered")
	assert.ErrorIs(t, newP("1JE4291016473214D", at(0)).Verify(r, body), verify.ErrSignatureMismatch, "paypal-wrong-webhook-id")

	assert.NoError(t, newP(vectorWebhookID, at(paypal.DefaultTolerance-time.Second)).Verify(r, body))
	assert.ErrorIs(t, newP(vectorWebhookID, at(paypal.DefaultTolerance+time.Second)).Verify(r, body), verify.ErrTimestampOutsideWindow)
	assert.ErrorIs(t, newP(vectorWebhookID, at(-paypal.DefaultTolerance-time.Second)).Verify(r, body), verify.ErrTimestampOutsideWindow)

	// The test certificate is valid from 2024-12-31 to 2034-12-30: a
	// transmission dated after its expiry fails even within the window.
	late := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.ErrorIs(t, newP(vectorWebhookID, func() time.Time { return late }).Verify(r, body), verify.ErrVerification)

	for _, algo := range []string{"SHA1withRSA", "sha256withrsa", "SHA256withECDSA", "SHA256withRSA ", ""} {
		c := r.Clone(r.Context())
		c.Header.Set(paypal.HeaderAuthAlgo, algo)
		assert.ErrorIs(t, newP(vectorWebhookID, at(0)).Verify(c, body), verify.ErrVerification, algo)
	}
	c := r.Clone(r.Context())
	c.Header.Add(paypal.HeaderTransmissionID, "another")
	assert.ErrorIs(t, newP(vectorWebhookID, at(0)).Verify(c, body), verify.ErrVerification, "two transmission IDs")

	// Pinned certificates ignore PAYPAL-CERT-URL.
	c = r.Clone(r.Context())
	c.Header.Set(paypal.HeaderCertURL, "https://evil.example/cert.pem")
	assert.NoError(t, newP(vectorWebhookID, at(0)).Verify(c, body))
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	_, err := paypal.New(paypal.WithCertificates(vector(t).PublicKey))
	assert.ErrorIs(t, err, paypal.ErrNoWebhookID)
	_, err = paypal.New(paypal.WithWebhookID("  "))
	assert.ErrorIs(t, err, paypal.ErrNoWebhookID)
	_, err = paypal.New(paypal.WithWebhookID("a|b"))
	assert.ErrorIs(t, err, paypal.ErrNoWebhookID)
	for _, cert := range []string{"", " ", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		_, err = paypal.New(paypal.WithWebhookID("WH"), paypal.WithCertificates(cert))
		assert.ErrorIs(t, err, verify.ErrNoSecret, "%q", cert)
	}
	_, err = paypal.NewFromSource(nil, paypal.WithWebhookID("WH"))
	assert.ErrorIs(t, err, verify.ErrNoSecret)
}

// Certificates rotate at run time through a source.
func TestNewFromSource(t *testing.T) {
	k := pki.get(t)
	src, err := provider.NewSecrets(k.leafPEM["paypal-key-one"])
	require.NoError(t, err)
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := paypal.NewFromSource(src, paypal.WithWebhookID(testWebhookID), paypal.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	body := []byte(captureCompleted)
	signed := func(label string) *http.Request {
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		require.NoError(t, err)
		require.NoError(t, sign(t)(r, body, label, now))
		return r
	}
	assert.NoError(t, p.Verify(signed("paypal-key-one"), body))
	assert.ErrorIs(t, p.Verify(signed("paypal-key-two"), body), verify.ErrSignatureMismatch)
	require.NoError(t, src.Set(k.leafPEM["paypal-key-two"], k.leafPEM["paypal-key-one"]))
	assert.NoError(t, p.Verify(signed("paypal-key-two"), body))
	assert.NoError(t, p.Verify(signed("paypal-key-one"), body))
}

// A fetched certificate is used only when its name, validity period and
// chain hold.
func TestFetchedCertificateValidation(t *testing.T) {
	k := pki.get(t)
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := encodePEMKey(key)
	const u = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-5edc0ebc"
	body := []byte(captureCompleted)
	for _, tc := range []struct {
		name string
		cert string
		ok   bool
	}{
		{"live name", k.issue(t, key, leafSpec{cn: "messageverificationcerts.paypal.com"}), true},
		{"sandbox name", k.issue(t, key, leafSpec{cn: "messageverificationcerts.sandbox.paypal.com"}), true},
		{"name in a DNS SAN", k.issue(t, key, leafSpec{cn: "PayPal", dns: []string{"messageverificationcerts.paypal.com"}}), true},
		{"with the root appended", k.issue(t, key, leafSpec{cn: "messageverificationcerts.paypal.com"}) + k.rootPEM, true},
		{"another name", k.issue(t, key, leafSpec{cn: "www.paypal.com"}), false},
		{"a look-alike name", k.issue(t, key, leafSpec{cn: "messageverificationcerts.paypal.com.evil.com"}), false},
		{"self-signed in PayPal's name", k.issue(t, key, leafSpec{cn: "messageverificationcerts.paypal.com", selfSign: true}), false},
		{"expired", k.issue(t, key, leafSpec{cn: "messageverificationcerts.paypal.com", from: now.Add(-48 * time.Hour), to: now.Add(-time.Hour)}), false},
		{"not yet valid", k.issue(t, key, leafSpec{cn: "messageverificationcerts.paypal.com", from: now.Add(time.Hour), to: now.Add(48 * time.Hour)}), false},
		{"not PEM", "garbage", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &mapFetcher{docs: map[string]string{u: tc.cert}}
			p, err := paypal.New(paypal.WithWebhookID(testWebhookID), paypal.WithFetcher(f),
				paypal.WithRoots(k.pool), paypal.WithClock(func() time.Time { return now }))
			require.NoError(t, err)
			r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
			require.NoError(t, err)
			require.NoError(t, paypal.NewSigner(testWebhookID, u)(r, body, keyPEM, now))
			err = p.Verify(r, body)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, verify.ErrVerification)
			}
			assert.EqualValues(t, 1, f.calls.Load())
		})
	}
}

// A delivery whose certificate URL is not PayPal's is refused without a
// fetch, as is a malformed delivery: every header is checked first.
func TestNoFetchBeforeHeaderChecks(t *testing.T) {
	k := pki.get(t)
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &mapFetcher{docs: map[string]string{}}
	p, err := paypal.New(paypal.WithWebhookID(testWebhookID), paypal.WithFetcher(f),
		paypal.WithRoots(k.pool), paypal.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	body := []byte(captureCompleted)
	base := func(u string, at time.Time) *http.Request {
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		require.NoError(t, err)
		require.NoError(t, paypal.NewSigner(testWebhookID, u)(r, body, k.keyPEM["paypal-key-one"], at))
		return r
	}
	for _, u := range []string{"https://evil.example/v1/notifications/certs/CERT-1", "http://api.paypal.com/v1/notifications/certs/CERT-1",
		"https://127.0.0.1/v1/notifications/certs/CERT-1", "https://api.paypal.com/v1/oauth2/token"} {
		assert.ErrorIs(t, p.Verify(base(u, now), body), verify.ErrVerification, u)
	}
	stale := base(certURL("paypal-key-one"), now.Add(-time.Hour))
	assert.ErrorIs(t, p.Verify(stale, body), verify.ErrTimestampOutsideWindow)
	badSig := base(certURL("paypal-key-one"), now)
	badSig.Header.Set(paypal.HeaderTransmissionSig, "not base64!")
	assert.ErrorIs(t, p.Verify(badSig, body), verify.ErrMalformedSignature)
	long := base(certURL("paypal-key-one"), now)
	long.Header.Set(paypal.HeaderCertURL, certURL(strings.Repeat("a", 600)))
	assert.ErrorIs(t, p.Verify(long, body), verify.ErrSignatureHeaderTooLarge)
	assert.Zero(t, f.calls.Load(), "fetched for a delivery refused on its headers")
}

// Deliveries naming one certificate fetch it once.
func TestFetchedCertificateCached(t *testing.T) {
	k := pki.get(t)
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &mapFetcher{docs: map[string]string{certURL("paypal-key-one"): k.leafPEM["paypal-key-one"]}}
	p, err := paypal.New(paypal.WithWebhookID(testWebhookID), paypal.WithFetcher(f),
		paypal.WithRoots(k.pool), paypal.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	body := []byte(captureCompleted)
	for i := 0; i < 20; i++ {
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		require.NoError(t, err)
		require.NoError(t, sign(t)(r, body, "paypal-key-one", now))
		require.NoError(t, p.Verify(r, body))
	}
	assert.EqualValues(t, 1, f.calls.Load())
}
