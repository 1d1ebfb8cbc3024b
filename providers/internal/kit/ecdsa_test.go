package kit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/verify"
)

var ecdsaScheme = &Scheme{
	Name:      "acme-ec",
	Algorithm: ECDSAP256SHA256,
	Signature: Signature{Header: "Acme-Ec-Signature", Encoding: verify.Base64},
	Timestamp: &Timestamp{Header: "Acme-Ec-Timestamp"},
	Message:   []Piece{Time, Body},
	Envelope:  Envelope{ID: Field{BodyHash: true}},
}

// ecKeys returns a base64 PKCS #8 private key and its base64 SPKI public
// key.
func ecKeys(t *testing.T) (private, public string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(der), base64.StdEncoding.EncodeToString(pub)
}

func TestECDSARoundTripAndRotation(t *testing.T) {
	priv1, pub1 := ecKeys(t)
	priv2, pub2 := ecKeys(t)
	priv3, _ := ecKeys(t)
	now := time.Unix(1735689600, 0)
	p, err := ecdsaScheme.New(Options{Secrets: []string{pub1, pub2}, Now: func() time.Time { return now }})
	require.NoError(t, err)
	body := []byte(`[{"event":"open"}]`)
	for _, priv := range []string{priv1, priv2} {
		r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
		require.NoError(t, ecdsaScheme.Sign(r, body, priv, now))
		assert.NoError(t, p.Verify(r, body))
		assert.ErrorIs(t, p.Verify(r, append(body, ' ')), verify.ErrSignatureMismatch)
	}
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
	require.NoError(t, ecdsaScheme.Sign(r, body, priv3, now))
	assert.ErrorIs(t, p.Verify(r, body), verify.ErrSignatureMismatch)

	pub, err := ecdsaScheme.ECDSAPublicKey(priv1)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	assert.Equal(t, pub1, base64.StdEncoding.EncodeToString(der))
}

// Verification costs one ECDSA verification per key, and none for a
// header refused by its bounds or a stale timestamp.
func TestECDSACost(t *testing.T) {
	priv, pub1 := ecKeys(t)
	_, pub2 := ecKeys(t)
	_, pub3 := ecKeys(t)
	now := time.Unix(1735689600, 0)
	p, err := ecdsaScheme.New(Options{Secrets: []string{pub1, pub2, pub3}, Now: func() time.Time { return now }})
	require.NoError(t, err)
	body := []byte(`[]`)
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
	require.NoError(t, ecdsaScheme.Sign(r, body, priv, now))

	count := func(r *http.Request) int64 {
		before := ecdsaVerifications.Load()
		_ = p.Verify(r, body)
		return ecdsaVerifications.Load() - before
	}
	assert.EqualValues(t, 3, count(r), "one verification per key")

	long := r.Clone(r.Context())
	long.Header.Set("Acme-Ec-Signature", base64.StdEncoding.EncodeToString(make([]byte, maxECDSASignature+1)))
	assert.Zero(t, count(long), "an oversized signature")
	list := r.Clone(r.Context())
	list.Header.Set("Acme-Ec-Signature", strings.Repeat(r.Header.Get("Acme-Ec-Signature")+",", 10))
	assert.Zero(t, count(list), "a list of signatures")
	stale := r.Clone(r.Context())
	stale.Header.Set("Acme-Ec-Timestamp", "1735689000")
	assert.Zero(t, count(stale), "a stale timestamp")
}

func TestECDSADeclarationAndKeys(t *testing.T) {
	s := *ecdsaScheme
	s.Signature.Sep = ","
	_, err := s.New(Options{Secrets: []string{"x"}})
	assert.ErrorIs(t, err, ErrScheme)

	_, pub := ecKeys(t)
	k384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der384, err := x509.MarshalPKIXPublicKey(&k384.PublicKey)
	require.NoError(t, err)
	for name, key := range map[string]string{
		"P-384":       base64.StdEncoding.EncodeToString(der384),
		"hex":         hex.EncodeToString([]byte(pub)),
		"truncated":   pub[:len(pub)/2],
		"not a key":   base64.StdEncoding.EncodeToString([]byte("hello")),
		"unpadded ok": strings.TrimRight(pub, "="),
	} {
		_, err := ecdsaScheme.New(Options{Secrets: []string{key}})
		if name == "unpadded ok" {
			assert.NoError(t, err, name)
			continue
		}
		assert.ErrorIs(t, err, verify.ErrNoSecret, name)
		assert.NotContains(t, err.Error(), key, name)
	}
	_, err = ecdsaScheme.ECDSAPublicKey(pub)
	assert.ErrorIs(t, err, verify.ErrNoSecret, "a public key as a private key")
	assert.Equal(t, "ECDSA-P256-SHA256", ECDSAP256SHA256.String())
}
