package github_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

// fromSource returns a Harness.New building the provider on a secret
// source holding the suite's secrets.
func fromSource(opts ...github.Option) func(c providertest.Config) (provider.Provider, error) {
	return func(c providertest.Config) (provider.Provider, error) {
		src, err := provider.NewSecrets(c.Secrets...)
		if err != nil {
			return nil, err
		}
		return github.NewFromSource(src, opts...)
	}
}

func TestConformanceFromSource(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		h := harness(t, sign256, nil)
		h.New = fromSource()
		providertest.Run(t, h)
	})
	t.Run("WithSHA1 signed with SHA-1", func(t *testing.T) {
		h := harness(t, sign1, nil)
		h.New = fromSource(github.WithSHA1())
		providertest.Run(t, h)
	})
}

func TestNewFromSource(t *testing.T) {
	_, err := github.NewFromSource(&provider.Secrets{})
	assert.ErrorIs(t, err, verify.ErrNoSecret, "an empty source")
	src, err := provider.NewSecrets("old")
	require.NoError(t, err)
	_, err = github.NewFromSource(src, github.WithSecrets("more"))
	assert.Error(t, err, "secrets given besides a source")

	p, err := github.NewFromSource(src)
	require.NoError(t, err)
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	signed := func(secret string) *http.Request {
		r := github.NewRequest(providertest.DefaultURL, secret, "ping", github.NewDeliveryID(), body)
		return r
	}
	require.NoError(t, p.Verify(signed("old"), body))
	require.NoError(t, src.Set("new", "old"))
	assert.NoError(t, p.Verify(signed("new"), body))
	assert.NoError(t, p.Verify(signed("old"), body))
	require.NoError(t, src.Set("new"))
	assert.ErrorIs(t, p.Verify(signed("old"), body), verify.ErrSignatureMismatch)
}

// SignRequest sets both signature headers, each verifying on its own.
func TestSignRequest(t *testing.T) {
	body := []byte(`{"zen":"Design for failure."}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, http.NoBody)
	require.NoError(t, err)
	require.NoError(t, github.SignRequest(r, body, "s3cret", time.Now()))
	assert.Equal(t, github.Sign("s3cret", body), r.Header.Get(github.HeaderSignature256))
	assert.Equal(t, github.SignSHA1("s3cret", body), r.Header.Get(github.HeaderSignature1))

	p, err := github.New("s3cret")
	require.NoError(t, err)
	require.NoError(t, p.Verify(r, body))
	r.Header.Del(github.HeaderSignature256)
	assert.ErrorIs(t, p.Verify(r, body), verify.ErrMissingSignature, "SHA-1 alone, without WithSHA1")
	p1, err := github.New("s3cret", github.WithSHA1())
	require.NoError(t, err)
	assert.NoError(t, p1.Verify(r, body))
}
