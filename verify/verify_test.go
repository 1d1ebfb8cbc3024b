package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/verify"
)

func refMAC(h func() hash.Hash, key string, parts ...string) []byte {
	m := hmac.New(h, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func TestHMAC(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    func() hash.Hash
	}{{"sha1", sha1.New}, {"sha256", sha256.New}, {"sha512", sha512.New}} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := verify.NewHMAC(tt.h, []byte("new"), []byte("old"))
			require.NoError(t, err)
			want := refMAC(tt.h, "new", "a", ".", "body")
			assert.Equal(t, want, m.Sign([]byte("a"), []byte("."), []byte("body")), "Sign")
			assert.Equal(t, len(want), m.Size(), "Size")
			// Parts are hashed as their concatenation.
			assert.True(t, m.Match(want, []byte("a.body")), "Match of the concatenation failed")
			assert.True(t, m.Match(refMAC(tt.h, "old", "a.body"), []byte("a.body")), "rotated (second) secret not accepted")
			assert.False(t, m.Match(refMAC(tt.h, "other", "a.body"), []byte("a.body")), "wrong secret accepted")
			assert.False(t, m.Match(want[:len(want)-1], []byte("a.body")), "truncated MAC accepted")
			assert.False(t, m.Match(want, []byte("a.bodY")), "tampered content accepted")
		})
	}
}

func TestNewHMACRejectsMissingSecrets(t *testing.T) {
	for name, secrets := range map[string][][]byte{
		"none": nil, "empty": {{}}, "blank": {[]byte(" \t\n")}, "one empty of two": {[]byte("ok"), {}},
	} {
		_, err := verify.NewHMAC(sha256.New, secrets...)
		assert.ErrorIs(t, err, verify.ErrNoSecret, name)
	}
	_, err := verify.NewHMAC(nil, []byte("x"))
	assert.ErrorIs(t, err, verify.ErrNoSecret, "nil hash")
}

func TestEncodingDecode(t *testing.T) {
	mac := []byte{0xde, 0xad, 0xbe, 0xef, 0xff}
	tests := []struct {
		enc     verify.Encoding
		in      string
		want    []byte
		wantErr bool
	}{
		{verify.Hex, "deadbeefff", mac, false},
		{verify.Hex, "DEADBEEFFF", mac, false},
		{verify.Hex, "deadbeeff", nil, true},
		{verify.Hex, "deadbeefzz", nil, true},
		{verify.Base64, "3q2+7/8=", mac, false},
		{verify.Base64, "3q2+7/8", nil, true},
		{verify.Base64, "3q2-7_8=", nil, true},
		{verify.Base64URL, "3q2-7_8", mac, false},
		{verify.Base64URL, "3q2-7_8=", mac, false},
		{verify.Encoding(0), "00", nil, true},
	}
	for _, tt := range tests {
		got, err := tt.enc.Decode(nil, tt.in)
		if tt.wantErr {
			assert.ErrorIs(t, err, verify.ErrMalformedSignature, "%s.Decode(%q)", tt.enc, tt.in)
			continue
		}
		if assert.NoError(t, err, "%s.Decode(%q)", tt.enc, tt.in) {
			assert.Equal(t, tt.want, got, "%s.Decode(%q)", tt.enc, tt.in)
		}
		if tt.enc != verify.Hex {
			assert.Equal(t, strings.TrimRight(tt.in, "="), strings.TrimRight(tt.enc.Encode(tt.want), "="), "%s.Encode", tt.enc)
		}
	}
	buf := make([]byte, 0, 64)
	sig := strings.Repeat("ab", 32)
	allocs := testing.AllocsPerRun(100, func() { _, _ = verify.Hex.Decode(buf, sig) })
	assert.Zero(t, allocs, "Hex.Decode into a large enough buffer allocates")
}

func TestParseUnix(t *testing.T) {
	for in, want := range map[string]error{
		"1614265330": nil, "0": nil, "": verify.ErrMissingTimestamp, "-1": verify.ErrMalformedTimestamp,
		"+1": verify.ErrMalformedTimestamp, " 1": verify.ErrMalformedTimestamp, "1.5": verify.ErrMalformedTimestamp,
		"1234567890123": verify.ErrMalformedTimestamp, "0x10": verify.ErrMalformedTimestamp,
	} {
		ts, err := verify.ParseUnix(in)
		assert.ErrorIs(t, err, want, "ParseUnix(%q)", in)
		if want == nil {
			assert.Equal(t, in, strconv.FormatInt(ts.Unix(), 10), "ParseUnix(%q)", in)
		}
		if err != nil {
			assert.ErrorIs(t, err, verify.ErrVerification, "ParseUnix(%q)", in)
		}
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tol := 5 * time.Minute
	for _, tt := range []struct {
		name string
		ts   time.Time
		ok   bool
	}{
		{"now", now, true},
		{"past edge", now.Add(-tol), true},
		{"future edge", now.Add(tol), true},
		{"past beyond", now.Add(-tol - time.Second), false},
		{"future beyond", now.Add(tol + time.Second), false},
		{"far past", time.Unix(0, 0), false},
		{"far future", now.Add(24 * 365 * time.Hour), false},
	} {
		err := verify.CheckTimestamp(tt.ts, now, tol)
		assert.Equal(t, tt.ok, err == nil, "%s: err = %v", tt.name, err)
		if err != nil {
			var te *verify.TimestampError
			assert.ErrorAs(t, err, &te, tt.name)
			assert.ErrorIs(t, err, verify.ErrTimestampOutsideWindow, tt.name)
			assert.ErrorIs(t, err, verify.ErrVerification, tt.name)
		}
	}
	assert.NoError(t, verify.CheckTimestamp(now.Add(-4*time.Minute), now, 0), "zero tolerance should mean the default")
}

func TestMatchList(t *testing.T) {
	m, _ := verify.NewHMAC(sha256.New, []byte("k"))
	good := "v1," + verify.Base64.Encode(m.Sign([]byte("body")))
	other := "v1," + verify.Base64.Encode(refMAC(sha256.New, "x", "body"))
	for _, tt := range []struct {
		name, header string
		want         error
	}{
		{"single", good, nil},
		{"second of list", other + " " + good, nil},
		{"malformed entry does not hide a valid one", "v1,!!! " + good, nil},
		{"unknown version ignored", "v2,abc " + good, nil},
		{"mismatch", other, verify.ErrSignatureMismatch},
		{"only unknown versions", "v2,abc v1a,def", verify.ErrMalformedSignature},
		{"only malformed", "v1,!!!", verify.ErrMalformedSignature},
		{"empty entries", "   ", verify.ErrMalformedSignature},
	} {
		// errors.Is(err, nil) holds only for a nil err, so this also covers the valid cases.
		err := verify.MatchList(m, verify.Base64, tt.header, " ", "v1,", []byte("body"))
		assert.ErrorIs(t, err, tt.want, tt.name)
	}
}

func newScheme(t *testing.T, now time.Time) *verify.SchemeVerifier {
	t.Helper()
	v, err := verify.NewScheme(verify.Scheme{
		Hash: sha256.New, Secrets: [][]byte{[]byte("secret")}, Header: "X-Sig", Prefix: "v0=",
		TimestampHeader: "X-Ts", Content: verify.TimestampBody("v0:", ":"), Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	return v
}

func TestScheme(t *testing.T) {
	now := time.Unix(1_531_420_618, 0)
	v := newScheme(t, now)
	body := []byte("token=x&command=%2Fweather")
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := "v0=" + hex.EncodeToString(refMAC(sha256.New, "secret", "v0:", ts, ":", string(body)))
	req := func(sig, ts string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		if sig != "" {
			r.Header.Set("X-Sig", sig)
		}
		if ts != "" {
			r.Header.Set("X-Ts", ts)
		}
		return r
	}
	require.NoError(t, v.Verify(req(sig, ts), body), "valid request")
	for _, tt := range []struct {
		name    string
		r       *http.Request
		body    []byte
		want    error
		atStale bool
	}{
		{"missing signature", req("", ts), body, verify.ErrMissingSignature, false},
		{"missing timestamp", req(sig, ""), body, verify.ErrMissingTimestamp, false},
		{"tampered body", req(sig, ts), append([]byte("x"), body...), verify.ErrSignatureMismatch, false},
		{"timestamp changed", req(sig, strconv.FormatInt(now.Unix()+1, 10)), body, verify.ErrSignatureMismatch, false},
		{"wrong prefix", req("v1="+sig[3:], ts), body, verify.ErrMalformedSignature, false},
		{"stale", req(sig, ts), body, verify.ErrTimestampOutsideWindow, true},
	} {
		vv := v
		if tt.atStale {
			vv = newScheme(t, now.Add(6*time.Minute))
		}
		err := vv.Verify(tt.r, tt.body)
		assert.ErrorIs(t, err, tt.want, tt.name)
		assert.ErrorIs(t, err, verify.ErrVerification, tt.name)
		if err != nil {
			assert.NotContains(t, err.Error(), "secret", "%s: error mentions the secret", tt.name)
		}
	}
	_, err := verify.NewScheme(verify.Scheme{Hash: sha256.New, Header: "X"})
	assert.ErrorIs(t, err, verify.ErrNoSecret, "scheme without secret")
	_, err = verify.NewScheme(verify.Scheme{Secrets: [][]byte{[]byte("s")}})
	assert.Error(t, err, "scheme without hash or header accepted")
}

func TestEd25519(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	pub2, priv2, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
	v, err := verify.NewEd25519(pub, pub2)
	require.NoError(t, err)
	msg := []byte("msg_1.1614265330.{}")
	assert.True(t, v.Match(ed25519.Sign(priv, msg), []byte("msg_1."), []byte("1614265330."), []byte("{}")), "valid signature rejected")
	assert.True(t, v.Match(ed25519.Sign(priv2, msg), msg), "second key's signature rejected")
	assert.False(t, v.Match(ed25519.Sign(priv, msg), []byte("msg_1.1614265330.{ }")), "tampered message accepted")
	assert.False(t, v.Match(ed25519.Sign(priv, msg)[:63], msg), "short signature accepted")
	_, err = verify.NewEd25519()
	assert.ErrorIs(t, err, verify.ErrNoSecret, "no keys")
	_, err = verify.NewEd25519(pub[:31])
	assert.ErrorIs(t, err, verify.ErrNoSecret, "short key")
}

func TestHMACMatchDoesNotAllocatePerBody(t *testing.T) {
	m, _ := verify.NewHMAC(sha256.New, []byte("k"))
	body := bytes.Repeat([]byte("x"), 64<<10)
	mac := m.Sign(body)
	m.Match(mac, body) // warm the pool
	allocs := testing.AllocsPerRun(50, func() { m.Match(mac, body) })
	if raceEnabled {
		t.Logf("-race build: %v allocations per Match (pooled states are dropped at random); asserted without -race", allocs)
	} else {
		assert.Zero(t, allocs, "Match allocates per call")
	}
}

func FuzzMatchList(f *testing.F) {
	m, _ := verify.NewHMAC(sha256.New, []byte("k"))
	good := "v1," + verify.Base64.Encode(m.Sign([]byte("body")))
	for _, s := range []string{good, "v1,!!! " + good, "v2,abc", "", " ", "v1,", "v1,====", good + " " + good,
		strings.Repeat(good+" ", verify.MaxSignatureEntries), strings.Repeat(good+" ", verify.MaxSignatureEntries+1),
		good + strings.Repeat(" ", verify.MaxSignatureHeaderBytes-len(good)), good + strings.Repeat(" ", verify.MaxSignatureHeaderBytes)} {
		f.Add(s, []byte("body"))
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := verify.MatchList(m, verify.Base64, header, " ", "v1,", body)
		overBound := len(header) > verify.MaxSignatureHeaderBytes || len(strings.Fields(header)) > verify.MaxSignatureEntries
		require.Equal(t, overBound, errors.Is(err, verify.ErrSignatureHeaderTooLarge),
			"header of %d bytes, %d entries: err = %v", len(header), len(strings.Fields(header)), err)
		if err == nil {
			// Only the genuine signature of the body may verify.
			want := verify.Base64.Encode(m.Sign(body))
			found := false
			for _, e := range strings.Fields(header) {
				if sig, ok := strings.CutPrefix(e, "v1,"); ok {
					got, derr := verify.Base64.Decode(nil, sig)
					if derr == nil && verify.Base64.Encode(got) == want {
						found = true
					}
				}
			}
			require.True(t, found, "MatchList accepted %q for body %q", header, body)
		} else {
			require.ErrorIs(t, err, verify.ErrVerification)
		}
	})
}

func FuzzParseUnix(f *testing.F) {
	for _, s := range []string{"1614265330", "", "-1", "99999999999999999999", "0", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := verify.ParseUnix(s)
		if err != nil {
			require.ErrorIs(t, err, verify.ErrVerification)
			return
		}
		require.Equal(t, strings.TrimLeft(s, "0"), strings.TrimLeft(strconv.FormatInt(ts.Unix(), 10), "0"), "ParseUnix(%q)", s)
	})
}
