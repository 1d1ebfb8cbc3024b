package generic_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/generic"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

func header(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func hash(b string) string {
	sum := sha256.Sum256([]byte(b))
	return hex.EncodeToString(sum[:])
}

const (
	orderBody  = `{"id":"evt_01J9Z3","type":"order.paid","created":1735689600,"data":{"order":{"id":"ord_42","total":"19.90","currency":"EUR"}}}`
	refundBody = `{"id":"evt_01J9Z4","type":"refund.created","created":1735689660,"data":{"refund":{"id":"re_7","amount":"5.00"}}}`
	buildBody  = `{"build":{"number":1234,"status":"passed","branch":"main","commit":"a1b2c3d"},"event":"build.finished"}`
)

// hmacHarness runs the suite for an HMAC configuration; signer signs as the
// configuration does (any secret).
func hmacHarness(t testing.TB, c generic.HMACConfig, tolerance time.Duration, samples []providertest.Sample, malformed []providertest.Sample) providertest.Harness {
	signer := c
	signer.Secrets = []string{"signer"}
	sp, err := generic.NewHMAC("acme", signer)
	require.NoError(t, err)
	return providertest.Harness{
		New: func(pc providertest.Config) (provider.Provider, error) {
			cc := c
			cc.Secrets, cc.Now, cc.Tolerance = pc.Secrets, pc.Now, pc.Tolerance
			return generic.NewHMAC("acme", cc)
		},
		Sign:      sp.SignRequest,
		Secrets:   []string{"acme-secret-one", "acme-secret-two", "acme-secret-three"},
		Samples:   samples,
		Malformed: malformed,
		Tolerance: tolerance,
	}
}

var bodyEnvelope = generic.Envelope{ID: generic.Field{JSON: []string{"id"}}, Type: generic.Field{JSON: []string{"type"}}}

func bodySamples() []providertest.Sample {
	return []providertest.Sample{
		{Name: "order.paid", Header: header(), Body: []byte(orderBody), ID: "evt_01J9Z3", Type: "order.paid"},
		{Name: "refund.created", Header: header(), Body: []byte(refundBody), ID: "evt_01J9Z4", Type: "refund.created"},
	}
}

func bodyMalformed() []providertest.Sample {
	return []providertest.Sample{
		{Name: "no id", Header: header(), Body: []byte(`{"type":"order.paid"}`)},
		{Name: "ambiguous id", Header: header(), Body: []byte(`{"id":"a","ID":"b","type":"x"}`)},
		{Name: "not JSON", Header: header(), Body: []byte(`id=evt_1`)},
	}
}

// "X-Signature: sha256=<hex>" over the body, ID and type in the body.
func TestConformanceHMACSHA256Hex(t *testing.T) {
	providertest.Run(t, hmacHarness(t, generic.HMACConfig{
		Header: "X-Signature", Prefix: "sha256=", Envelope: bodyEnvelope,
	}, 0, bodySamples(), bodyMalformed()))
}

// Base64 HMAC-SHA1, ID and type in headers.
func TestConformanceHMACSHA1Base64Headers(t *testing.T) {
	env := generic.Envelope{ID: generic.Field{Header: "X-Delivery-Id"}, Type: generic.Field{Header: "X-Event"}}
	samples := []providertest.Sample{{
		Name: "build.finished", Header: header("X-Delivery-Id", "5f0c7b3e-9a51-4c1e-8d0e-2b7a0d6f1a11", "X-Event", "build.finished"),
		Body: []byte(buildBody), ID: "5f0c7b3e-9a51-4c1e-8d0e-2b7a0d6f1a11", Type: "build.finished",
	}}
	malformed := []providertest.Sample{
		{Name: "no delivery header", Header: header("X-Event", "build.finished"), Body: []byte(buildBody)},
		{Name: "two delivery headers", Header: header("X-Delivery-Id", "a", "X-Delivery-Id", "b"), Body: []byte(buildBody)},
	}
	providertest.Run(t, hmacHarness(t, generic.HMACConfig{
		Header: "X-Hook-Signature", Hash: generic.SHA1, Encoding: verify.Base64, Envelope: env,
	}, 0, samples, malformed))
}

// HMAC-SHA512 over timestamp + "." + body with a timestamp header and the
// default window; the ID is the body's hash.
func TestConformanceHMACSHA512Timestamped(t *testing.T) {
	env := generic.Envelope{Type: generic.Field{JSON: []string{"event"}}}
	samples := []providertest.Sample{{
		Name: "build.finished", Header: header(), Body: []byte(buildBody), ID: hash(buildBody), Type: "build.finished",
	}}
	providertest.Run(t, hmacHarness(t, generic.HMACConfig{
		Header: "X-Hook-Signature", Hash: generic.SHA512, Prefix: "v1=",
		TimestampHeader: "X-Hook-Timestamp", Separator: ".", Envelope: env,
	}, verify.DefaultTolerance, samples, []providertest.Sample{
		{Name: "event not a string", Header: header(), Body: []byte(`{"event":{"name":"x"}}`)},
	}))
}

func FuzzConformanceHMACSignatureHeader(f *testing.F) {
	h := hmacHarness(f, generic.HMACConfig{Header: "X-Hook-Signature", Prefix: "v1=", TimestampHeader: "X-Hook-Timestamp", Separator: ":", Envelope: bodyEnvelope},
		verify.DefaultTolerance, bodySamples(), nil)
	providertest.FuzzVerifyHeader(f, h, "X-Hook-Signature")
}

func FuzzConformanceHMACTimestampHeader(f *testing.F) {
	h := hmacHarness(f, generic.HMACConfig{Header: "X-Hook-Signature", Prefix: "v1=", TimestampHeader: "X-Hook-Timestamp", Separator: ":", Envelope: bodyEnvelope},
		verify.DefaultTolerance, bodySamples(), nil)
	providertest.FuzzVerifyHeader(f, h, "X-Hook-Timestamp")
}

func tokenHarness(t testing.TB, prefix string) providertest.Harness {
	c := generic.AuthConfig{Header: "Authorization", Prefix: prefix, Envelope: bodyEnvelope}
	signer := c
	signer.Secrets = []string{"signer"}
	sp, err := generic.NewTokenConfig("ci", signer)
	require.NoError(t, err)
	return providertest.Harness{
		New: func(pc providertest.Config) (provider.Provider, error) {
			cc := c
			cc.Secrets = pc.Secrets
			return generic.NewTokenConfig("ci", cc)
		},
		Sign:      sp.SignRequest,
		Unsigned:  true,
		Secrets:   []string{"tok_9f2c1e7a5b", "tok_0d4e8b6c3a", "tok_77aa1c2d9e"},
		Samples:   bodySamples(),
		Malformed: bodyMalformed(),
	}
}

func TestConformanceTokenBearer(t *testing.T) { providertest.Run(t, tokenHarness(t, "Bearer ")) }

func FuzzConformanceTokenHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, tokenHarness(f, "Bearer "), "Authorization")
}

// NewToken: the whole header value is the token; the ID is the body hash.
func TestConformanceTokenShort(t *testing.T) {
	sp, err := generic.NewToken("builds", "X-Build-Token", "signer")
	require.NoError(t, err)
	providertest.Run(t, providertest.Harness{
		New: func(pc providertest.Config) (provider.Provider, error) {
			return generic.NewToken("builds", "X-Build-Token", pc.Secrets...)
		},
		Sign:     sp.SignRequest,
		Unsigned: true,
		Secrets:  []string{"build-token-one", "build-token-two", "build-token-three"},
		Samples:  []providertest.Sample{{Name: "build", Header: header(), Body: []byte(buildBody), ID: hash(buildBody)}},
	})
}

func basicHarness(t testing.TB) providertest.Harness {
	sp, err := generic.NewBasic("mailer", "u:p")
	require.NoError(t, err)
	return providertest.Harness{
		New: func(pc providertest.Config) (provider.Provider, error) {
			return generic.NewBasicConfig("mailer", generic.AuthConfig{Secrets: pc.Secrets, Envelope: bodyEnvelope})
		},
		Sign:      sp.SignRequest,
		Unsigned:  true,
		Secrets:   []string{"hooks:pa55-one", "hooks:pa55-two", "hooks:pa55-three"},
		Samples:   bodySamples(),
		Malformed: bodyMalformed(),
	}
}

func TestConformanceBasic(t *testing.T) { providertest.Run(t, basicHarness(t)) }

func FuzzConformanceBasicHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, basicHarness(f), "Authorization")
}

func TestConfigErrors(t *testing.T) {
	ok := generic.HMACConfig{Secrets: []string{"s"}, Header: "X-Sig"}
	for name, c := range map[string]generic.HMACConfig{
		"no header":                {Secrets: []string{"s"}},
		"unknown hash":             {Secrets: []string{"s"}, Header: "X-Sig", Hash: 9},
		"unknown encoding":         {Secrets: []string{"s"}, Header: "X-Sig", Encoding: 9},
		"separator, no timestamp":  {Secrets: []string{"s"}, Header: "X-Sig", Separator: "."},
		"an ID with two sources":   {Secrets: []string{"s"}, Header: "X-Sig", Envelope: generic.Envelope{ID: generic.Field{Header: "X-Id", JSON: []string{"id"}}}},
		"an empty key in the path": {Secrets: []string{"s"}, Header: "X-Sig", Envelope: generic.Envelope{Type: generic.Field{JSON: []string{"data", ""}}}},
	} {
		_, err := generic.NewHMAC("acme", c)
		assert.ErrorIs(t, err, generic.ErrConfig, name)
	}
	for _, name := range []string{"", "two words", strings.Repeat("n", 65), "caf\u00e9"} {
		_, err := generic.NewHMAC(name, ok)
		assert.ErrorIs(t, err, generic.ErrConfig, "name %q", name)
	}
	_, err := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Sig"})
	assert.ErrorIs(t, err, verify.ErrNoSecret)
	_, err = generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Sig", Secrets: []string{" "}})
	assert.ErrorIs(t, err, verify.ErrNoSecret)
	_, err = generic.NewToken("ci", "", "t")
	assert.ErrorIs(t, err, generic.ErrConfig)
	_, err = generic.NewToken("ci", "X-Token")
	assert.ErrorIs(t, err, verify.ErrNoSecret)
	_, err = generic.NewBasic("mailer", "no-colon")
	assert.ErrorIs(t, err, verify.ErrNoSecret)
	_, err = generic.NewBasic("mailer", ":password")
	assert.ErrorIs(t, err, verify.ErrNoSecret)
	_, err = generic.NewBasicConfig("mailer", generic.AuthConfig{Secrets: []string{"u:p"}, Header: "X-Auth"})
	assert.ErrorIs(t, err, generic.ErrConfig)

	p, err := generic.NewHMAC("acme", ok)
	require.NoError(t, err)
	assert.Equal(t, "acme", p.Name())
}

func TestParseHashAndEncoding(t *testing.T) {
	for s, want := range map[string]generic.Hash{"": generic.SHA256, "sha1": generic.SHA1, "sha256": generic.SHA256, "SHA-512": generic.SHA512} {
		h, err := generic.ParseHash(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, h, s)
	}
	_, err := generic.ParseHash("md5")
	assert.ErrorIs(t, err, generic.ErrConfig)
	for s, want := range map[string]verify.Encoding{"": verify.Hex, "hex": verify.Hex, "base64": verify.Base64, "base64url": verify.Base64URL} {
		e, err := generic.ParseEncoding(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, e, s)
	}
	_, err = generic.ParseEncoding("base32")
	assert.ErrorIs(t, err, generic.ErrConfig)
	assert.Equal(t, "sha512", generic.SHA512.String())
}

// A known answer computed independently (Python's hmac module):
// HMAC-SHA256("It's a Secret to Everybody", "Hello, World!"), GitHub's
// documented example, with the "sha256=" prefix.
func TestHMACKnownAnswer(t *testing.T) {
	p, err := generic.NewHMAC("acme", generic.HMACConfig{Secrets: []string{"It's a Secret to Everybody"}, Header: "X-Signature", Prefix: "sha256="})
	require.NoError(t, err)
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
	r.Header.Set("X-Signature", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	assert.NoError(t, p.Verify(r, []byte("Hello, World!")))
	assert.ErrorIs(t, p.Verify(r, []byte("Hello, World?")), verify.ErrVerification)
}
