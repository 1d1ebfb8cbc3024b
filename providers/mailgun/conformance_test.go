package mailgun_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/mailgun"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

var (
	delivered = []byte(`{"event-data":{"event":"delivered","id":"CPgfbmQMTCKtHW6uIWtuVe","timestamp":1735689600.0,` +
		`"log-level":"info","recipient":"alice@example.com","recipient-domain":"example.com",` +
		`"message":{"headers":{"message-id":"20250101000000.1.ABCDEF@mg.example.com","subject":"Hello"}},` +
		`"delivery-status":{"code":250,"message":"OK","attempt-no":1}}}`)
	failed = []byte(`{"event-data":{"event":"failed","id":"G9Bn5sl1TC6nu79C8C0bwg","timestamp":1735689700.5,` +
		`"severity":"permanent","reason":"bounce","recipient":"bob@example.com",` +
		`"delivery-status":{"code":550,"message":"No such user","attempt-no":1}}}`)
)

// signBody is mailgun.SignBody in the shape of Harness.SignBody.
func signBody(body []byte, secret string, now time.Time) []byte {
	signed, err := mailgun.SignBody(body, secret, now)
	if err != nil {
		panic(err)
	}
	return signed
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return mailgun.New(c.Secrets[0], mailgun.WithSecrets(c.Secrets[1:]...),
				mailgun.WithClock(c.Now), mailgun.WithTolerance(c.Tolerance))
		},
		// The signature lives in the body (SignBody); the request has no
		// signature header. The body is not covered, so the suite's
		// tampered-body checks do not apply: Unsigned runs its credential
		// checks instead, and TestBodyNotCovered and TestTokenReplay below
		// check what stands in for them.
		Sign:     func(*http.Request, []byte, string, time.Time) error { return nil },
		SignBody: signBody,
		Unsigned: true,
		Secrets:  []string{"key-f3c1a0e97b4d2c6e8a1b5d9f0c2e4a68", "key-0b9e7d5c3a1f2e4d6c8b0a9f7e5d3c1b", "key-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"},
		Samples: []providertest.Sample{
			{Name: "delivered", Header: jsonHeader, Body: delivered, ID: "CPgfbmQMTCKtHW6uIWtuVe", Type: "delivered"},
			{Name: "failed", Header: jsonHeader, Body: failed, ID: "G9Bn5sl1TC6nu79C8C0bwg", Type: "failed"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event-data", Header: jsonHeader, Body: []byte(`{"other":{}}`)},
			{Name: "no id", Header: jsonHeader, Body: []byte(`{"event-data":{"event":"delivered"}}`)},
			{Name: "no event", Header: jsonHeader, Body: []byte(`{"event-data":{"id":"x"}}`)},
			{Name: "id not a string", Header: jsonHeader, Body: []byte(`{"event-data":{"event":"delivered","id":7}}`)},
			{Name: "two event-data", Header: jsonHeader, Body: []byte(`{"event-data":{"event":"delivered","id":"a"},"Event-Data":{"event":"failed","id":"b"}}`)},
		},
		Tolerance: mailgun.DefaultTolerance,
		Vectors:   providertest.LoadVectors(t, "../testdata/vectors.json", mailgun.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

// mac is Mailgun's signature, computed independently of the package.
func mac(key, timestamp, token string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(timestamp + token))
	return hex.EncodeToString(m.Sum(nil))
}

const (
	key   = "f3c1a0e97b4d2c6e8a1b5d9f0c2e4a68"
	token = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
)

func body(timestamp, token, sig, eventData string) []byte {
	return []byte(`{"signature":{"token":"` + token + `","timestamp":` + timestamp + `,"signature":"` + sig + `"},"event-data":` + eventData + `}`)
}

func newProvider(t *testing.T, now time.Time, opts ...mailgun.Option) *mailgun.Provider {
	t.Helper()
	p, err := mailgun.New(key, append([]mailgun.Option{mailgun.WithClock(func() time.Time { return now })}, opts...)...)
	require.NoError(t, err)
	return p
}

func verifyBody(p *mailgun.Provider, b []byte) error {
	r, _ := http.NewRequest(http.MethodPost, providertest.DefaultURL, bytes.NewReader(b))
	return p.Verify(r, b)
}

// TestKnownAnswer checks the scheme against an HMAC computed here, with the
// timestamp as a string (as Mailgun sends it) and as an integer (as it
// documents it).
func TestKnownAnswer(t *testing.T) {
	now := time.Unix(1735689605, 0)
	sig := mac(key, "1735689600", token)
	const ev = `{"event":"delivered","id":"CPgfbmQMTCKtHW6uIWtuVe"}`
	assert.NoError(t, verifyBody(newProvider(t, now), body(`"1735689600"`, token, sig, ev)))
	assert.NoError(t, verifyBody(newProvider(t, now), body(`1735689600`, token, sig, ev)))
	assert.ErrorIs(t, verifyBody(newProvider(t, now), body(`"1735689601"`, token, sig, ev)), verify.ErrSignatureMismatch)
	assert.ErrorIs(t, verifyBody(newProvider(t, now), body(`"1735689600"`, token[1:], sig, ev)), verify.ErrSignatureMismatch)
	assert.ErrorIs(t, verifyBody(newProvider(t, now.Add(mailgun.DefaultTolerance)), body(`"1735689600"`, token, sig, ev)),
		verify.ErrTimestampOutsideWindow, "stale")
	assert.ErrorIs(t, verifyBody(newProvider(t, time.Unix(1735689600, 0).Add(-mailgun.DefaultTolerance-time.Second)),
		body(`"1735689600"`, token, sig, ev)), verify.ErrTimestampOutsideWindow, "from the future")
}

// TestBodyNotCovered documents the scheme's limit: a signature verifies
// whatever event data it travels with, the first time its token is seen.
func TestBodyNotCovered(t *testing.T) {
	now := time.Unix(1735689605, 0)
	sig := mac(key, "1735689600", token)
	forged := body(`"1735689600"`, token, sig, `{"event":"complained","id":"forged"}`)
	assert.NoError(t, verifyBody(newProvider(t, now), forged), "Mailgun's scheme does not cover the event data")
}

// TestTokenReplay checks that a token verified once is refused with another
// body while its timestamp is in the window, accepted again with the same
// body, and forgotten once the window has passed.
func TestTokenReplay(t *testing.T) {
	at := time.Unix(1735689600, 0)
	now := at.Add(5 * time.Second)
	clock := func() time.Time { return now }
	p, err := mailgun.New(key, mailgun.WithClock(func() time.Time { return clock() }), mailgun.WithTolerance(time.Minute))
	require.NoError(t, err)
	sig := mac(key, "1735689600", token)
	original := body(`"1735689600"`, token, sig, `{"event":"delivered","id":"CPgfbmQMTCKtHW6uIWtuVe"}`)
	forged := body(`"1735689600"`, token, sig, `{"event":"delivered","id":"forged"}`)

	require.NoError(t, verifyBody(p, original))
	assert.NoError(t, verifyBody(p, original), "a redelivery of the same body")
	err = verifyBody(p, forged)
	assert.ErrorIs(t, err, mailgun.ErrTokenReplayed)
	assert.ErrorIs(t, err, verify.ErrVerification)
	assert.NotContains(t, err.Error(), token)
	assert.Equal(t, 1, p.Len())

	// A forged signature never reaches the token memory.
	bad := body(`"1735689600"`, "another-token", sig, `{"event":"delivered","id":"x"}`)
	assert.ErrorIs(t, verifyBody(p, bad), verify.ErrSignatureMismatch)
	assert.Equal(t, 1, p.Len())

	// Past the window the token is forgotten, and the timestamp refused.
	now = at.Add(time.Minute + time.Second)
	assert.ErrorIs(t, verifyBody(p, forged), verify.ErrTimestampOutsideWindow)
	sig2 := mac(key, "1735689661", "fresh-token")
	require.NoError(t, verifyBody(p, body(`"1735689661"`, "fresh-token", sig2, `{"event":"opened","id":"o1"}`)))
	assert.Equal(t, 1, p.Len(), "the expired token was forgotten")
}

// TestMaxTokens checks the bound on the token memory: the oldest token is
// forgotten first.
func TestMaxTokens(t *testing.T) {
	now := time.Unix(1735689605, 0)
	p := newProvider(t, now, mailgun.WithMaxTokens(3))
	signed := func(tok, id string) []byte {
		return body(`"1735689600"`, tok, mac(key, "1735689600", tok), `{"event":"delivered","id":"`+id+`"}`)
	}
	for i, tok := range []string{"t0", "t1", "t2", "t3", "t4"} {
		require.NoError(t, verifyBody(p, signed(tok, "a")))
		assert.Equal(t, min(i+1, 3), p.Len())
	}
	assert.ErrorIs(t, verifyBody(p, signed("t4", "b")), mailgun.ErrTokenReplayed, "remembered")
	assert.ErrorIs(t, verifyBody(p, signed("t2", "b")), mailgun.ErrTokenReplayed, "remembered")
	assert.NoError(t, verifyBody(p, signed("t0", "b")), "forgotten, the oldest")
	assert.Equal(t, 3, p.Len())
}

// TestMalformedSignature checks bodies whose signature object cannot be
// read: each fails with an error matching verify.ErrVerification that
// quotes nothing from the body.
func TestMalformedSignature(t *testing.T) {
	p := newProvider(t, time.Unix(1735689605, 0))
	sig := mac(key, "1735689600", token)
	const ev = `{"event":"delivered","id":"x"}`
	for name, b := range map[string]string{
		"empty":              ``,
		"not JSON":           `signature=1`,
		"array":              `[]`,
		"no signature":       `{"event-data":` + ev + `}`,
		"signature a string": `{"signature":"` + sig + `","event-data":` + ev + `}`,
		"no timestamp":       `{"signature":{"token":"` + token + `","signature":"` + sig + `"}}`,
		"no token":           `{"signature":{"timestamp":"1735689600","signature":"` + sig + `"}}`,
		"no mac":             `{"signature":{"timestamp":"1735689600","token":"` + token + `"}}`,
		"mac not hex":        string(body(`"1735689600"`, token, strings.Repeat("z", 64), ev)),
		"timestamp negative": string(body(`-1735689600`, token, sig, ev)),
		"timestamp float":    string(body(`1735689600.5`, token, sig, ev)),
		"timestamp object":   string(body(`{}`, token, sig, ev)),
		"token too long":     string(body(`"1735689600"`, strings.Repeat("a", mailgun.MaxTokenBytes+1), sig, ev)),
		"two signatures": `{"signature":{"timestamp":"1735689600","token":"` + token + `","signature":"` + sig + `"},` +
			`"Signature":{"timestamp":"1","token":"x","signature":"00"}}`,
	} {
		err := verifyBody(p, []byte(b))
		if assert.Error(t, err, name) {
			assert.ErrorIs(t, err, verify.ErrVerification, name)
			assert.NotContains(t, err.Error(), token, name)
			assert.NotContains(t, err.Error(), sig, name)
		}
	}
	assert.Zero(t, p.Len())
}

func TestSignBody(t *testing.T) {
	now := time.Unix(1735689600, 0)
	for _, b := range []string{`{}`, ` {"a":1} `, `{"event-data":{"id":"x","event":"delivered"}}`} {
		signed, err := mailgun.SignBody([]byte(b), key, now)
		require.NoError(t, err, b)
		assert.NoError(t, verifyBody(newProvider(t, now), signed), b)
	}
	for _, b := range []string{``, `[]`, `{`, `"x"`, `{"signature":{}}`} {
		_, err := mailgun.SignBody([]byte(b), key, now)
		assert.Error(t, err, b)
	}
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, mailgun.SignRequest(r, delivered, key, now))
	require.NotNil(t, r.GetBody)
	rc, err := r.GetBody()
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	require.NoError(t, err)
	assert.NoError(t, verifyBody(newProvider(t, now), buf.Bytes()))
}

// FuzzConformanceBody fuzzes Verify through the body, where Mailgun's
// signature lives: it must not panic, and its errors match
// verify.ErrVerification and do not quote the body.
func FuzzConformanceBody(f *testing.F) {
	now := time.Unix(1735689605, 0)
	p, err := mailgun.New(key, mailgun.WithClock(func() time.Time { return now }))
	require.NoError(f, err)
	sig := mac(key, "1735689600", token)
	f.Add(body(`"1735689600"`, token, sig, `{"event":"delivered","id":"x"}`))
	f.Add(body(`1735689600`, token, sig, `{}`))
	f.Add(body(`"99999999999999999999"`, token, sig, `{}`))
	f.Add(body(`"1735689600"`, token, sig[:63], `{}`))
	for _, h := range providertest.HostileHeaders {
		f.Add(body(`"`+h+`"`, token, sig, `{}`))
		f.Add(body(`"1735689600"`, h, sig, `{}`))
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := verifyBody(p, b)
		if err == nil {
			return
		}
		if !assert.ErrorIs(t, err, verify.ErrVerification) {
			return
		}
		if len(b) >= 16 {
			assert.NotContains(t, err.Error(), string(b))
		}
		assert.NotContains(t, err.Error(), key)
	})
}
