package slack_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/verify"
)

func TestConformanceFromSource(t *testing.T) {
	h := harness(t)
	h.New = func(c providertest.Config) (provider.Provider, error) {
		src, err := provider.NewSecrets(c.Secrets...)
		if err != nil {
			return nil, err
		}
		return slack.NewFromSource(src, slack.WithClock(c.Now), slack.WithTolerance(c.Tolerance))
	}
	providertest.Run(t, h)
}

func TestNewFromSource(t *testing.T) {
	_, err := slack.NewFromSource(&provider.Secrets{})
	assert.ErrorIs(t, err, verify.ErrNoSecret, "an empty source")
	src, err := provider.NewSecrets("old-signing-secret")
	require.NoError(t, err)
	p, err := slack.NewFromSource(src)
	require.NoError(t, err)
	body := []byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}`)
	signed := func(secret string) *http.Request {
		return slack.NewRequest(providertest.DefaultURL, secret, time.Now(), body, "application/json")
	}
	require.NoError(t, p.Verify(signed("old-signing-secret"), body))
	require.NoError(t, src.Set("new-signing-secret"))
	assert.NoError(t, p.Verify(signed("new-signing-secret"), body))
	assert.ErrorIs(t, p.Verify(signed("old-signing-secret"), body), verify.ErrSignatureMismatch)
}

// SignRequest, Sign and NewRequest agree.
func TestSignRequest(t *testing.T) {
	at := time.Unix(1531420618, 0)
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&command=%2Fdeploy")
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, http.NoBody)
	require.NoError(t, err)
	require.NoError(t, slack.SignRequest(r, body, "8f742231b10e8888abcd99yyyzzz85a5", at))
	assert.Equal(t, "1531420618", r.Header.Get(slack.HeaderTimestamp))
	assert.Equal(t, slack.Sign("8f742231b10e8888abcd99yyyzzz85a5", at, body), r.Header.Get(slack.HeaderSignature))
	n := slack.NewRequest(providertest.DefaultURL, "8f742231b10e8888abcd99yyyzzz85a5", at, body, "application/x-www-form-urlencoded")
	assert.Equal(t, r.Header.Get(slack.HeaderSignature), n.Header.Get(slack.HeaderSignature))
}
