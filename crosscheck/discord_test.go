package crosscheck

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	hwdiscord "github.com/hookwise/hookwise/providers/discord"
	"github.com/hookwise/hookwise/verify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// discordKey returns a deterministic Ed25519 key pair drawn from r.
func discordKey(r *rand.Rand) (seedHex string, pub ed25519.PublicKey, priv ed25519.PrivateKey) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(r.Uint32())
	}
	priv = ed25519.NewKeyFromSeed(seed)
	return hex.EncodeToString(seed), priv.Public().(ed25519.PublicKey), priv
}

func newDiscord(t testing.TB, pub ed25519.PublicKey, opts ...hwdiscord.Option) *hwdiscord.Provider {
	t.Helper()
	p, err := hwdiscord.New(hex.EncodeToString(pub), opts...)
	require.NoError(t, err)
	return p
}

// discordRequest builds a request carrying body with the given header
// values; an empty value leaves its header out.
func discordRequest(body []byte, ts, sig string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/discord", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set(hwdiscord.HeaderTimestamp, ts)
	}
	if sig != "" {
		req.Header.Set(hwdiscord.HeaderSignature, sig)
	}
	return req
}

// discordGoSign signs as discordgo's own TestVerifyInteraction does:
// ed25519.Sign over timestamp + body, hex.
func discordGoSign(priv ed25519.PrivateKey, ts string, body []byte) string {
	var msg bytes.Buffer
	msg.WriteString(ts)
	msg.Write(body)
	return hex.EncodeToString(ed25519.Sign(priv, msg.Bytes()))
}

// discordGoVerify runs discordgo.VerifyInteraction on a clone of req (it
// consumes and replaces the body) and checks the body is restored.
func discordGoVerify(t testing.TB, req *http.Request, pub ed25519.PublicKey) bool {
	t.Helper()
	c := cloneRequest(req)
	b, err := readBody(req)
	require.NoError(t, err)
	c.Body = io.NopCloser(bytes.NewReader(b))
	ok := discordgo.VerifyInteraction(c, pub)
	after, err := readBody(c)
	require.NoError(t, err)
	require.Equal(t, b, after, "discordgo must restore the body")
	return ok
}

// Requests signed as discordgo's tests sign are accepted by discordgo and by
// Hookwise; a tampered body is rejected by both.
func TestDiscordGoSignedHookwiseVerifies(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		_, pub, priv := discordKey(r)
		body := randomBody(r, i)
		ts := strconv.FormatInt(randomPast(r, now).Unix(), 10)
		req := discordRequest(body, ts, discordGoSign(priv, ts, body))
		require.True(t, discordGoVerify(t, req, pub), "case %d: discordgo rejects its own signature", i)

		p := newDiscord(t, pub)
		assert.NoError(t, p.Verify(req, body), "case %d", i)
		pw := newDiscord(t, pub, hwdiscord.WithTolerance(5*time.Minute), hwdiscord.WithClock(func() time.Time { return now }))
		assert.NoError(t, pw.Verify(req, body), "case %d (WithTolerance)", i)

		bad := tamper(r, body)
		badReq := discordRequest(bad, ts, req.Header.Get(hwdiscord.HeaderSignature))
		assert.False(t, discordGoVerify(t, badReq, pub), "case %d: discordgo accepts a tampered body", i)
		assert.ErrorIs(t, p.Verify(badReq, bad), verify.ErrVerification, "case %d", i)
	}
}

// Hookwise's SignRequest produces what discordgo accepts, byte-identical to
// ed25519.Sign (Ed25519 is deterministic); a tampered body is rejected by
// both.
func TestHookwiseSignsDiscordGoVerifies(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		seedHex, pub, priv := discordKey(r)
		body := randomBody(r, i)
		ts := randomPast(r, now)

		pubHex, err := hwdiscord.PublicKey(seedHex)
		require.NoError(t, err)
		require.Equal(t, hex.EncodeToString(pub), pubHex, "case %d: PublicKey", i)

		req := discordRequest(body, "", "")
		require.NoError(t, hwdiscord.SignRequest(req, body, seedHex, ts))
		sts := req.Header.Get(hwdiscord.HeaderTimestamp)
		require.Equal(t, strconv.FormatInt(ts.Unix(), 10), sts, "case %d: timestamp header", i)
		require.Equal(t, discordGoSign(priv, sts, body), req.Header.Get(hwdiscord.HeaderSignature), "case %d: signature differs from ed25519.Sign", i)
		assert.True(t, discordGoVerify(t, req, pub), "case %d: discordgo rejects Hookwise's signature", i)
		assert.NoError(t, newDiscord(t, pub).Verify(req, body), "case %d", i)

		// The 64-byte private key form signs the same.
		req64 := discordRequest(body, "", "")
		require.NoError(t, hwdiscord.SignRequest(req64, body, hex.EncodeToString(priv), ts))
		assert.Equal(t, req.Header.Get(hwdiscord.HeaderSignature), req64.Header.Get(hwdiscord.HeaderSignature), "case %d: 64-byte key", i)

		bad := tamper(r, body)
		badReq := discordRequest(bad, sts, req.Header.Get(hwdiscord.HeaderSignature))
		assert.False(t, discordGoVerify(t, badReq, pub), "case %d: discordgo accepts a tampered body", i)
		assert.ErrorIs(t, newDiscord(t, pub).Verify(badReq, bad), verify.ErrVerification, "case %d", i)
	}
}

// discordMutation turns a valid delivery into another request. It may
// re-sign with priv (for a changed timestamp text).
type discordMutation struct {
	name string
	f    func(r *rand.Rand, priv ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte)
}

var discordMutations = []discordMutation{
	{"none", func(_ *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, sig, body
	}},
	{"body tampered", func(r *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, sig, tamper(r, body)
	}},
	{"unsigned timestamp change", func(_ *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		n, _ := strconv.ParseInt(ts, 10, 64)
		return strconv.FormatInt(n+1, 10), sig, body
	}},
	{"signature char changed", func(r *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		b := []byte(sig)
		i := r.IntN(len(b))
		b[i] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", b[i])+1+r.IntN(15))%16]
		return ts, string(b), body
	}},
	{"signature truncated", func(r *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, sig[:len(sig)-2], body
	}},
	{"signature extended", func(_ *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, sig + "00", body
	}},
	{"signature odd length", func(_ *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, sig + "0", body
	}},
	{"no signature", func(_ *rand.Rand, _ ed25519.PrivateKey, ts, _ string, body []byte) (string, string, []byte) {
		return ts, "", body
	}},
	{"no timestamp", func(_ *rand.Rand, _ ed25519.PrivateKey, _, sig string, body []byte) (string, string, []byte) {
		return "", sig, body
	}},
	{"no timestamp, signed over body alone", func(_ *rand.Rand, priv ed25519.PrivateKey, _, _ string, body []byte) (string, string, []byte) {
		return "", discordGoSign(priv, "", body), body
	}},
	{"other key", func(r *rand.Rand, _ ed25519.PrivateKey, ts, _ string, body []byte) (string, string, []byte) {
		_, _, other := discordKey(r)
		return ts, discordGoSign(other, ts, body), body
	}},
	{"upper-case hex", func(_ *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, strings.ToUpper(sig), body
	}},
	{"spaces around signature", func(_ *rand.Rand, _ ed25519.PrivateKey, ts, sig string, body []byte) (string, string, []byte) {
		return ts, " " + sig + " ", body
	}},
	{"future timestamp re-signed", func(_ *rand.Rand, priv ed25519.PrivateKey, _, _ string, body []byte) (string, string, []byte) {
		ts := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		return ts, discordGoSign(priv, ts, body), body
	}},
	{"stale timestamp re-signed", func(_ *rand.Rand, priv ed25519.PrivateKey, _, _ string, body []byte) (string, string, []byte) {
		ts := strconv.FormatInt(time.Now().Add(-24*time.Hour).Unix(), 10)
		return ts, discordGoSign(priv, ts, body), body
	}},
	{"non-numeric timestamp re-signed", func(r *rand.Rand, priv ed25519.PrivateKey, _, _ string, body []byte) (string, string, []byte) {
		ts := "t" + randomToken(r, 8)
		return ts, discordGoSign(priv, ts, body), body
	}},
	{"leading-zero timestamp re-signed", func(_ *rand.Rand, priv ed25519.PrivateKey, ts, _ string, body []byte) (string, string, []byte) {
		ts = "0" + ts
		return ts, discordGoSign(priv, ts, body), body
	}},
}

// discordKnown pins the mutations on which Hookwise (default options) and
// discordgo disagree, as {Hookwise accepts, discordgo accepts}; see the
// README's known-differences table.
var discordKnown = map[string][2]bool{
	// Hookwise trims the header value; discordgo hex-decodes it as is.
	"spaces around signature": {true, false},
}

// Hookwise and discordgo agree on accept/reject for valid deliveries under
// every mutation, except the pinned known differences.
func TestDiscordDifferential(t *testing.T) {
	r := newRand(t)
	seen := map[string]int{}
	for i := 0; i < iterations; i++ {
		now := time.Now()
		_, pub, priv := discordKey(r)
		body := randomBody(r, i)
		ts := strconv.FormatInt(randomPast(r, now).Unix(), 10)
		sig := discordGoSign(priv, ts, body)
		p := newDiscord(t, pub)
		for _, m := range discordMutations {
			mts, msig, mbody := m.f(r, priv, ts, sig, bytes.Clone(body))
			req := discordRequest(mbody, mts, msig)
			hw := p.Verify(req, mbody)
			sdk := discordGoVerify(t, req, pub)
			seen[m.name]++
			if want, ok := discordKnown[m.name]; ok {
				assert.Equal(t, want, [2]bool{hw == nil, sdk}, "case %d %q: Hookwise %s, discordgo %v", i, m.name, verdict(hw), sdk)
				continue
			}
			if !assert.Equal(t, sdk, hw == nil, "case %d %q: Hookwise %s, discordgo %v", i, m.name, verdict(hw), sdk) {
				continue
			}
			if m.name == "none" {
				assert.True(t, sdk, "case %d: unmutated delivery rejected", i)
			}
			if hw != nil {
				assert.True(t, errors.Is(hw, verify.ErrVerification), "case %d %q: %v does not match ErrVerification", i, m.name, hw)
			}
		}
	}
	for _, m := range discordMutations {
		assert.Equal(t, iterations, seen[m.name], "mutation %q", m.name)
	}
}

// With WithTolerance (opt-in hardening; Discord states no window), Hookwise
// rejects re-signed timestamps outside the window or not a number, which
// discordgo accepts; inside the window both accept.
func TestDiscordToleranceDifferences(t *testing.T) {
	r := newRand(t)
	now := time.Now()
	_, pub, priv := discordKey(r)
	body := []byte(`{"type":2,"id":"123"}`)
	p := newDiscord(t, pub, hwdiscord.WithTolerance(5*time.Minute), hwdiscord.WithClock(func() time.Time { return now }))
	for _, tt := range []struct {
		name     string
		ts       string
		hookwise bool
	}{
		{"now", strconv.FormatInt(now.Unix(), 10), true},
		{"4 min ago", strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10), true},
		{"4 min ahead", strconv.FormatInt(now.Add(4*time.Minute).Unix(), 10), true},
		{"6 min ago", strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), false},
		{"6 min ahead", strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10), false},
		{"a day ago", strconv.FormatInt(now.Add(-24*time.Hour).Unix(), 10), false},
		{"not a number", "yesterday", false},
	} {
		req := discordRequest(body, tt.ts, discordGoSign(priv, tt.ts, body))
		assert.True(t, discordGoVerify(t, req, pub), "%s: discordgo", tt.name)
		err := p.Verify(req, body)
		if tt.hookwise {
			assert.NoError(t, err, tt.name)
		} else {
			assert.ErrorIs(t, err, verify.ErrVerification, tt.name)
		}
		assert.NoError(t, newDiscord(t, pub).Verify(req, body), "%s: default options leave the timestamp unchecked", tt.name)
	}
}
