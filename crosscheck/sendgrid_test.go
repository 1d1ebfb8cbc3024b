package crosscheck

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	hwsendgrid "github.com/hookwise/hookwise/providers/sendgrid"
	"github.com/hookwise/hookwise/verify"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sendgridKey is a P-256 key pair in the forms both sides take.
type sendgridKey struct {
	priv    *ecdsa.PrivateKey
	privB64 string // base64 PKCS #8, for SignRequest
	pubB64  string // base64 DER SubjectPublicKeyInfo, as SendGrid shows it
}

func newSendgridKey(t testing.TB) sendgridKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	require.NoError(t, err)
	return sendgridKey{priv, base64.StdEncoding.EncodeToString(p8), base64.StdEncoding.EncodeToString(spki)}
}

func newSendgrid(t testing.TB, pubB64 string, opts ...hwsendgrid.Option) *hwsendgrid.Provider {
	t.Helper()
	p, err := hwsendgrid.New(pubB64, opts...)
	require.NoError(t, err)
	return p
}

// sendgridGoVerify runs sendgrid-go's documented path:
// ConvertPublicKeyBase64ToECDSA, then VerifySignature.
func sendgridGoVerify(t testing.TB, pubB64 string, body []byte, sig, ts string) bool {
	t.Helper()
	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(pubB64)
	require.NoError(t, err)
	ok, err := eventwebhook.VerifySignature(pub, body, sig, ts)
	return ok && err == nil
}

// sendgridSign signs timestamp + body as SendGrid does (SHA-256, ECDSA,
// ASN.1 DER, standard base64); sendgrid-go has no signer, so such a
// signature is admitted only once its VerifySignature accepts it.
func sendgridSign(t testing.TB, priv *ecdsa.PrivateKey, ts string, body []byte) string {
	t.Helper()
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write(body)
	der, err := ecdsa.SignASN1(rand.Reader, priv, h.Sum(nil))
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(der)
}

func sendgridRequest(body []byte, ts, sig string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/sendgrid", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set(eventwebhook.TimestampHTTPHeader, ts)
	}
	if sig != "" {
		req.Header.Set(eventwebhook.VerificationHTTPHeader, sig)
	}
	return req
}

// sendgrid-go's own test vector (eventwebhook_test.go) passes Hookwise;
// a changed byte fails both.
func TestSendgridGoVectorHookwiseVerifies(t *testing.T) {
	const (
		pub = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
		sig = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
		ts  = "1600112502"
	)
	body := []byte(`[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n")
	require.True(t, sendgridGoVerify(t, pub, body, sig, ts))
	p := newSendgrid(t, pub)
	assert.NoError(t, p.Verify(sendgridRequest(body, ts, sig), body))
	bad := bytes.Replace(body, []byte("dropped"), []byte("Dropped"), 1)
	assert.False(t, sendgridGoVerify(t, pub, bad, sig, ts))
	assert.ErrorIs(t, p.Verify(sendgridRequest(bad, ts, sig), bad), verify.ErrVerification)
}

// Signatures sendgrid-go accepts are accepted by Hookwise, and Hookwise's
// SignRequest output is accepted by sendgrid-go; a tampered body is
// rejected by both.
func TestSendgridBothDirections(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		k := newSendgridKey(t)
		body := randomBody(r, i)
		p := newSendgrid(t, k.pubB64)

		// SDK-style signature → Hookwise.
		ts := strconv.FormatInt(randomPast(r, now).Unix(), 10)
		sig := sendgridSign(t, k.priv, ts, body)
		require.True(t, sendgridGoVerify(t, k.pubB64, body, sig, ts), "case %d: sendgrid-go rejects the reference signature", i)
		assert.NoError(t, p.Verify(sendgridRequest(body, ts, sig), body), "case %d", i)

		// Hookwise SignRequest → SDK.
		pubB64, err := hwsendgrid.PublicKey(k.privB64)
		require.NoError(t, err)
		require.Equal(t, k.pubB64, pubB64, "case %d: PublicKey", i)
		req := sendgridRequest(body, "", "")
		require.NoError(t, hwsendgrid.SignRequest(req, body, k.privB64, randomPast(r, now)))
		hts := req.Header.Get(eventwebhook.TimestampHTTPHeader)
		hsig := req.Header.Get(eventwebhook.VerificationHTTPHeader)
		assert.True(t, sendgridGoVerify(t, k.pubB64, body, hsig, hts), "case %d: sendgrid-go rejects Hookwise's signature", i)
		assert.NoError(t, p.Verify(req, body), "case %d", i)

		bad := tamper(r, body)
		for _, c := range [][2]string{{ts, sig}, {hts, hsig}} {
			assert.False(t, sendgridGoVerify(t, k.pubB64, bad, c[1], c[0]), "case %d: sendgrid-go accepts a tampered body", i)
			assert.ErrorIs(t, p.Verify(sendgridRequest(bad, c[0], c[1]), bad), verify.ErrVerification, "case %d", i)
		}
	}
}

// derRS re-encodes a base64 DER signature's (r, s) with f applied.
func derRS(t testing.TB, sig string, f func(rs *eventwebhook.RS) []byte) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(sig)
	require.NoError(t, err)
	var rs eventwebhook.RS
	_, err = asn1.Unmarshal(der, &rs)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(f(&rs))
}

type sendgridMutation struct {
	name string
	f    func(t testing.TB, r *mrand.Rand, k sendgridKey, ts, sig string, body []byte) (string, string, []byte)
}

var sendgridMutations = []sendgridMutation{
	{"none", func(_ testing.TB, _ *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, sig, body
	}},
	{"body tampered", func(_ testing.TB, r *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, sig, tamper(r, body)
	}},
	{"unsigned timestamp change", func(_ testing.TB, _ *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts + "0", sig, body
	}},
	{"no signature", func(_ testing.TB, _ *mrand.Rand, _ sendgridKey, ts, _ string, body []byte) (string, string, []byte) {
		return ts, "", body
	}},
	{"no timestamp", func(_ testing.TB, _ *mrand.Rand, _ sendgridKey, _, sig string, body []byte) (string, string, []byte) {
		return "", sig, body
	}},
	{"no timestamp, signed over body alone", func(t testing.TB, _ *mrand.Rand, k sendgridKey, _, _ string, body []byte) (string, string, []byte) {
		return "", sendgridSign(t, k.priv, "", body), body
	}},
	{"other key", func(t testing.TB, _ *mrand.Rand, _ sendgridKey, ts, _ string, body []byte) (string, string, []byte) {
		return ts, sendgridSign(t, newSendgridKey(t).priv, ts, body), body
	}},
	{"non-numeric timestamp re-signed", func(t testing.TB, r *mrand.Rand, k sendgridKey, _, _ string, body []byte) (string, string, []byte) {
		ts := "t" + randomToken(r, 6)
		return ts, sendgridSign(t, k.priv, ts, body), body
	}},
	{"stale timestamp re-signed", func(t testing.TB, _ *mrand.Rand, k sendgridKey, _, _ string, body []byte) (string, string, []byte) {
		ts := strconv.FormatInt(time.Now().Add(-48*time.Hour).Unix(), 10)
		return ts, sendgridSign(t, k.priv, ts, body), body
	}},
	{"high-S signature", func(t testing.TB, _ *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, derRS(t, sig, func(rs *eventwebhook.RS) []byte {
			s := new(big.Int).Sub(elliptic.P256().Params().N, rs.S)
			b, _ := asn1.Marshal(eventwebhook.RS{R: rs.R, S: s})
			return b
		}), body
	}},
	{"trailing byte after DER", func(t testing.TB, _ *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, derRS(t, sig, func(rs *eventwebhook.RS) []byte {
			b, _ := asn1.Marshal(*rs)
			return append(b, 0)
		}), body
	}},
	{"raw r||s instead of DER", func(t testing.TB, _ *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, derRS(t, sig, func(rs *eventwebhook.RS) []byte {
			b := make([]byte, 64)
			rs.R.FillBytes(b[:32])
			rs.S.FillBytes(b[32:])
			return b
		}), body
	}},
	{"signature without padding", func(_ testing.TB, _ *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		for len(sig) > 0 && sig[len(sig)-1] == '=' {
			sig = sig[:len(sig)-1]
		}
		return ts, sig, body
	}},
	{"spaces around signature", func(_ testing.TB, _ *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, " " + sig + " ", body
	}},
	{"swapped r and s", func(t testing.TB, _ *mrand.Rand, _ sendgridKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, derRS(t, sig, func(rs *eventwebhook.RS) []byte {
			b, _ := asn1.Marshal(eventwebhook.RS{R: rs.S, S: rs.R})
			return b
		}), body
	}},
}

// sendgridKnown pins the mutations on which Hookwise (default options) and
// sendgrid-go disagree, as {Hookwise accepts, sendgrid-go accepts}.
var sendgridKnown = map[string][2]bool{
	// Hookwise trims the header value; sendgrid-go base64-decodes it as is.
	"spaces around signature": {true, false},
	// Hookwise requires exactly one DER signature (and at most 72 bytes);
	// sendgrid-go's asn1.Unmarshal ignores trailing bytes.
	"trailing byte after DER": {false, true},
	// Hookwise requires the timestamp header; sendgrid-go takes the
	// timestamp as a string, so a caller passing an absent header's ""
	// verifies a signature over the body alone.
	"no timestamp, signed over body alone": {false, true},
}

// Hookwise and sendgrid-go agree on accept/reject for valid deliveries
// under every mutation, except the pinned known differences.
func TestSendgridDifferential(t *testing.T) {
	r := newRand(t)
	seen := map[string]int{}
	const n = iterations / 4 // ECDSA keys and signatures are costlier than MACs
	for i := 0; i < n; i++ {
		k := newSendgridKey(t)
		body := randomBody(r, i)
		ts := strconv.FormatInt(randomPast(r, time.Now()).Unix(), 10)
		sig := sendgridSign(t, k.priv, ts, body)
		p := newSendgrid(t, k.pubB64)
		for _, m := range sendgridMutations {
			mts, msig, mbody := m.f(t, r, k, ts, sig, bytes.Clone(body))
			hw := p.Verify(sendgridRequest(mbody, mts, msig), mbody)
			sdk := sendgridGoVerify(t, k.pubB64, mbody, msig, mts)
			seen[m.name]++
			if want, ok := sendgridKnown[m.name]; ok {
				assert.Equal(t, want, [2]bool{hw == nil, sdk}, "case %d %q: Hookwise %s, sendgrid-go %v", i, m.name, verdict(hw), sdk)
				continue
			}
			if !assert.Equal(t, sdk, hw == nil, "case %d %q: Hookwise %s, sendgrid-go %v", i, m.name, verdict(hw), sdk) {
				continue
			}
			if m.name == "none" {
				assert.True(t, sdk, "case %d: unmutated delivery rejected", i)
			}
			if hw != nil {
				assert.ErrorIs(t, hw, verify.ErrVerification, "case %d %q", i, m.name)
			}
		}
	}
	for _, m := range sendgridMutations {
		assert.Equal(t, n, seen[m.name], "mutation %q", m.name)
	}
}
