package standardwebhooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/verify"
)

// The suite passes with the secrets from a source and SignRequest as the
// signer, under both header spellings.
func TestConformanceFromSource(t *testing.T) {
	for name, svix := range map[string]bool{"webhook": false, "svix": true} {
		t.Run(name, func(t *testing.T) {
			h := harness(t, svix)
			byKey := h.New
			h.New = func(c providertest.Config) (provider.Provider, error) {
				if len(c.Secrets) == 0 { // a v1a vector: public keys only
					return byKey(c)
				}
				src, err := provider.NewSecrets(c.Secrets...)
				if err != nil {
					return nil, err
				}
				return standardwebhooks.NewFromSource(src, standardwebhooks.WithClock(c.Now), standardwebhooks.WithTolerance(c.Tolerance))
			}
			h.Sign = standardwebhooks.SignRequest
			providertest.Run(t, h)
		})
	}
}

func TestNewFromSource(t *testing.T) {
	const one, two = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_YW5vdGhlci1zZWNyZXQtb2YtMjQtYnl0ZXMh"
	_, err := standardwebhooks.NewFromSource(nil)
	assert.ErrorIs(t, err, verify.ErrNoSecret, "a nil source")
	_, err = standardwebhooks.NewFromSource(&provider.Secrets{})
	assert.ErrorIs(t, err, verify.ErrNoSecret, "an empty source")
	bad, err := provider.NewSecrets("whsec_***")
	require.NoError(t, err)
	_, err = standardwebhooks.NewFromSource(bad)
	assert.ErrorIs(t, err, verify.ErrNoSecret, "a secret that is not base64")
	src, err := provider.NewSecrets(one)
	require.NoError(t, err)
	_, err = standardwebhooks.NewFromSource(src, standardwebhooks.WithSecrets(two))
	assert.Error(t, err, "secrets given besides a source")

	p, err := standardwebhooks.NewFromSource(src)
	require.NoError(t, err)
	body := []byte(`{"type":"user.created"}`)
	signed := func(secret string) *http.Request {
		return standardwebhooks.NewRequest(providertest.DefaultURL, secret, "msg_1", time.Now(), body)
	}
	require.NoError(t, p.Verify(signed(one), body))
	require.NoError(t, src.Set(two, one))
	assert.NoError(t, p.Verify(signed(two), body))
	assert.NoError(t, p.Verify(signed(one), body))
	require.NoError(t, src.Set(two))
	assert.ErrorIs(t, p.Verify(signed(one), body), verify.ErrSignatureMismatch)

	// A list that goes bad fails closed, and recovers when fixed.
	require.NoError(t, src.Set("whsec_***"))
	err = p.Verify(signed(two), body)
	assert.ErrorIs(t, err, verify.ErrVerification)
	assert.NotContains(t, err.Error(), "***")
	require.NoError(t, src.Set(two))
	assert.NoError(t, p.Verify(signed(two), body))
}

func TestSignRequest(t *testing.T) {
	at := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, http.NoBody)
	require.NoError(t, err)
	assert.Error(t, standardwebhooks.SignRequest(r, body, secret, at), "no webhook-id")
	r.Header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	require.NoError(t, standardwebhooks.SignRequest(r, body, secret, at))
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", r.Header.Get("webhook-signature"), "the specification's vector")
	assert.Equal(t, "1614265330", r.Header.Get("webhook-timestamp"))

	s, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, http.NoBody)
	require.NoError(t, err)
	s.Header.Set("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	require.NoError(t, standardwebhooks.SignRequest(s, body, secret, at))
	assert.Equal(t, r.Header.Get("webhook-signature"), s.Header.Get("svix-signature"))
	assert.Empty(t, s.Header.Get("webhook-signature"))
	assert.ErrorIs(t, standardwebhooks.SignRequest(r, body, "whsec_***", at), verify.ErrNoSecret)
}
