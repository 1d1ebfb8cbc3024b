package providers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/providers/paypal"
)

func TestCatalogPayPal(t *testing.T) {
	_, err := providers.New("paypal", providers.Config{})
	assert.ErrorIs(t, err, paypal.ErrNoWebhookID)
	p, err := providers.New("paypal", providers.Config{Params: map[string]string{"webhook-id": "1JE4291016473214C"}})
	require.NoError(t, err, "fetching PAYPAL-CERT-URL")
	assert.Equal(t, "paypal", p.Name())
	_, err = providers.New("paypal", providers.Config{PublicKeys: []string{"not a certificate"}, Params: map[string]string{"webhook-id": "1JE4291016473214C"}})
	assert.Error(t, err)

	_, err = providers.New("paypal-ipn", providers.Config{})
	assert.Error(t, err, "the endpoint is required")
	for _, e := range []string{"live", "sandbox", "https://ipn.example.com/cgi-bin/webscr"} {
		p, err := providers.New("paypal-ipn", providers.Config{Params: map[string]string{"endpoint": e}})
		require.NoError(t, err, e)
		assert.Equal(t, "paypal-ipn", p.Name())
	}
	_, err = providers.New("paypal-ipn", providers.Config{Params: map[string]string{"endpoint": "http://ipn.example.com/"}})
	assert.Error(t, err)
}
