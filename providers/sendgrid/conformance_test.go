package sendgrid_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/sendgrid"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// privateKey returns a fresh P-256 private key as base64 PKCS #8 DER.
func privateKey(t testing.TB) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(der)
}

func hash(b string) string {
	sum := sha256.Sum256([]byte(b))
	return hex.EncodeToString(sum[:])
}

// newProvider builds a provider from the suite's configuration: its
// secrets are private keys, whose public keys the provider gets; vectors
// give public keys.
func newProvider(c providertest.Config) (provider.Provider, error) {
	keys := append([]string(nil), c.PublicKeys...)
	for _, s := range c.Secrets {
		pub, err := sendgrid.PublicKey(s)
		if err != nil {
			keys = append(keys, s) // let New refuse it
			continue
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		keys = []string{""}
	}
	return sendgrid.New(keys[0], sendgrid.WithPublicKeys(keys[1:]...),
		sendgrid.WithClock(c.Now), sendgrid.WithTolerance(c.Tolerance))
}

// A batch as SendGrid posts it (the event reference's examples).
const batch = `[{"email":"example@test.com","timestamp":1513299569,"smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",` +
	`"event":"processed","category":"cat facts","sg_event_id":"rbtnWrG1DVDGGGFHFyun0A==",` +
	`"sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000"},` +
	`{"email":"example@test.com","timestamp":1513299569,"smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",` +
	`"event":"delivered","category":"cat facts","sg_event_id":"rWVYmVk90MjZJ9iohOBa3w==",` +
	`"sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000","response":"250 OK"}]`

const open = `[{"email":"example@test.com","timestamp":1513299569,"event":"open","sg_machine_open":false,` +
	`"category":"cat facts","sg_event_id":"FOTFFO0ecsBE-zxFXfs6WA==",` +
	`"sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000",` +
	`"useragent":"Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)","ip":"255.255.255.255"}]`

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New:     newProvider,
		Sign:    sendgrid.SignRequest,
		Secrets: []string{privateKey(t), privateKey(t), privateKey(t)},
		Samples: []providertest.Sample{
			{Name: "processed and delivered", Header: jsonHeader, Body: []byte(batch), ID: hash(batch), Type: sendgrid.TypeEvents},
			{Name: "open", Header: jsonHeader, Body: []byte(open), ID: hash(open), Type: sendgrid.TypeEvents},
		},
		Malformed: []providertest.Sample{
			{Name: "an object", Header: jsonHeader, Body: []byte(`{"event":"processed","sg_event_id":"x"}`)},
			{Name: "an empty array", Header: jsonHeader, Body: []byte(" [ \n ] ")},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`[{"event":"open"`)},
			{Name: "a string", Header: jsonHeader, Body: []byte(`"events"`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", sendgrid.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

// With a window set, the timestamped checks of the suite apply too.
func TestConformanceWithTolerance(t *testing.T) {
	h := harness(t)
	h.Tolerance = 5 * time.Minute
	inner := h.New
	h.New = func(c providertest.Config) (provider.Provider, error) {
		if c.Tolerance == 0 {
			c.Tolerance = 5 * time.Minute
		}
		return inner(c)
	}
	h.Vectors = nil // the SDK's vector is years old
	providertest.Run(t, h)
}

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), sendgrid.HeaderSignature)
}

func FuzzConformanceTimestampHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), sendgrid.HeaderTimestamp)
}

// sdkKey, sdkSignature and sdkTimestamp are sendgrid-go's test vector
// (helpers/eventwebhook/eventwebhook_test.go).
const (
	sdkKey       = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
	sdkSignature = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
	sdkTimestamp = "1588788367"
	sdkBody      = `{"category":"example_payload","event":"test_event","message_id":"message_id"}`
)

func sdkRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/sendgrid", strings.NewReader(sdkBody))
	r.Header.Set(sendgrid.HeaderSignature, sdkSignature)
	r.Header.Set(sendgrid.HeaderTimestamp, sdkTimestamp)
	return r
}

// The key as PEM, as some dashboards and tools show it, verifies the SDK's
// vector too.
func TestPEMKey(t *testing.T) {
	der, err := base64.StdEncoding.DecodeString(sdkKey)
	require.NoError(t, err)
	p, err := sendgrid.New(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	require.NoError(t, err)
	assert.NoError(t, p.Verify(sdkRequest(), []byte(sdkBody)))
}

func TestTimestampUncheckedByDefault(t *testing.T) {
	p, err := sendgrid.New(sdkKey)
	require.NoError(t, err)
	assert.NoError(t, p.Verify(sdkRequest(), []byte(sdkBody)), "the SDK's 2020 vector, with no window")

	signedAt := time.Unix(1588788367, 0)
	p, err = sendgrid.New(sdkKey, sendgrid.WithTolerance(time.Minute),
		sendgrid.WithClock(func() time.Time { return signedAt.Add(59 * time.Second) }))
	require.NoError(t, err)
	assert.NoError(t, p.Verify(sdkRequest(), []byte(sdkBody)))
	p, err = sendgrid.New(sdkKey, sendgrid.WithTolerance(time.Minute),
		sendgrid.WithClock(func() time.Time { return signedAt.Add(61 * time.Second) }))
	require.NoError(t, err)
	assert.ErrorIs(t, p.Verify(sdkRequest(), []byte(sdkBody)), verify.ErrVerification)
}

// A DER signature with a byte appended verifies under sendgrid-go's
// asn1.Unmarshal, which ignores trailing data; it is refused here.
func TestTrailingDERRefused(t *testing.T) {
	p, err := sendgrid.New(sdkKey)
	require.NoError(t, err)
	der, err := base64.StdEncoding.DecodeString(sdkSignature)
	require.NoError(t, err)
	r := sdkRequest()
	r.Header.Set(sendgrid.HeaderSignature, base64.StdEncoding.EncodeToString(append(der, 0)))
	assert.ErrorIs(t, p.Verify(r, []byte(sdkBody)), verify.ErrVerification)
}

// Bounds: a signature longer than a DER P-256 signature (72 bytes, 96
// base64 characters) is refused before any verification.
func TestSignatureBounds(t *testing.T) {
	p, err := sendgrid.New(sdkKey)
	require.NoError(t, err)
	for _, n := range []int{73, 200, 3000} {
		r := sdkRequest()
		r.Header.Set(sendgrid.HeaderSignature, base64.StdEncoding.EncodeToString(make([]byte, n)))
		assert.ErrorIs(t, p.Verify(r, []byte(sdkBody)), verify.ErrVerification, "%d bytes", n)
	}
	r := sdkRequest()
	r.Header.Set(sendgrid.HeaderSignature, strings.Repeat("A", verify.MaxSignatureHeaderBytes+1))
	assert.ErrorIs(t, p.Verify(r, []byte(sdkBody)), verify.ErrSignatureHeaderTooLarge)
}

func TestKeysRefused(t *testing.T) {
	for name, key := range map[string]string{
		"empty":         "",
		"blank":         "  ",
		"not base64":    "not a key!",
		"Ed25519 hex":   strings.Repeat("ab", 32),
		"a private key": privateKey(t),
		"truncated":     sdkKey[:40],
	} {
		_, err := sendgrid.New(key)
		assert.ErrorIs(t, err, verify.ErrNoSecret, name)
	}
	_, err := sendgrid.PublicKey(sdkKey)
	assert.ErrorIs(t, err, verify.ErrNoSecret, "a public key is not a private key")
}
