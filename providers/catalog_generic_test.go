package providers_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/providers/generic"
	"github.com/hookwise/hookwise/verify"
)

func genericRequest(body string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/hooks", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// The hmac entry reads its scheme and envelope from Params: a delivery
// signed as package generic signs it with the same settings verifies, and
// the envelope comes from where Params say.
func TestCatalogGenericHMAC(t *testing.T) {
	now := time.Unix(1735689600, 0)
	params := map[string]string{
		"name": "acme", "header": "X-Acme-Signature", "hash": "sha512", "encoding": "base64", "prefix": "v1=",
		"timestamp-header": "X-Acme-Timestamp", "separator": ".", "id-header": "X-Acme-Delivery", "type-json": "event.type",
	}
	p, err := providers.New("hmac", providers.Config{Secrets: []string{"acme-secret"}, Params: params, Now: func() time.Time { return now }})
	require.NoError(t, err)
	assert.Equal(t, "acme", p.Name())

	signer, err := generic.NewHMAC("acme", generic.HMACConfig{
		Secrets: []string{"x"}, Header: "X-Acme-Signature", Hash: generic.SHA512, Encoding: verify.Base64, Prefix: "v1=",
		TimestampHeader: "X-Acme-Timestamp", Separator: ".",
	})
	require.NoError(t, err)
	body := `{"event":{"type":"invoice.sent","id":"in_1"}}`
	r := genericRequest(body)
	r.Header.Set("X-Acme-Delivery", "dlv_123")
	require.NoError(t, signer.SignRequest(r, []byte(body), "acme-secret", now))
	require.NoError(t, p.Verify(r, []byte(body)))
	env, err := p.Parse(r, []byte(body))
	require.NoError(t, err)
	assert.Equal(t, "dlv_123", env.ID)
	assert.Equal(t, "invoice.sent", env.Type)

	require.NoError(t, signer.SignRequest(r, []byte(body), "acme-secret", now.Add(-10*time.Minute)))
	assert.ErrorIs(t, p.Verify(r, []byte(body)), verify.ErrVerification, "outside the default window")
}

func TestCatalogGenericTokenAndBasic(t *testing.T) {
	tok, err := providers.New("token", providers.Config{Secrets: []string{"s3cr3t-token"}, Params: map[string]string{"prefix": "Bearer "}})
	require.NoError(t, err)
	assert.Equal(t, "token", tok.Name())
	body := `{"id":"1"}`
	r := genericRequest(body)
	r.Header.Set("Authorization", "Bearer s3cr3t-token")
	require.NoError(t, tok.Verify(r, []byte(body)))
	r.Header.Set("Authorization", "Bearer s3cr3t-tokeN")
	assert.ErrorIs(t, tok.Verify(r, []byte(body)), verify.ErrVerification)

	basic, err := providers.New("basic", providers.Config{Secrets: []string{"hooks:pa55"}, Params: map[string]string{"id-json": "id"}})
	require.NoError(t, err)
	r = genericRequest(body)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("hooks:pa55")))
	require.NoError(t, basic.Verify(r, []byte(body)))
	env, err := basic.Parse(r, []byte(body))
	require.NoError(t, err)
	assert.Equal(t, "1", env.ID)
}

func TestCatalogGenericRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		entry  string
		params map[string]string
	}{
		"hmac without header":      {"hmac", nil},
		"hmac, unknown key":        {"hmac", map[string]string{"header": "X-Sig", "hedaer": "X"}},
		"hmac, unknown hash":       {"hmac", map[string]string{"header": "X-Sig", "hash": "md5"}},
		"hmac, unknown encoding":   {"hmac", map[string]string{"header": "X-Sig", "encoding": "base32"}},
		"hmac, ID from two places": {"hmac", map[string]string{"header": "X-Sig", "id-header": "X-Id", "id-json": "id"}},
		"token, unknown key":       {"token", map[string]string{"hash": "sha256"}},
		"basic, a header":          {"basic", map[string]string{"header": "X-Auth"}},
		"a bad name":               {"token", map[string]string{"name": "two words"}},
	} {
		_, err := providers.New(c.entry, providers.Config{Secrets: []string{"user:s"}, Params: c.params})
		assert.ErrorIs(t, err, generic.ErrConfig, name)
		if err != nil {
			assert.NotContains(t, err.Error(), "user:s", name)
		}
	}
}
