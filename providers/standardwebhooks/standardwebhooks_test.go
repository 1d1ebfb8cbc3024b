package standardwebhooks

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

func TestVectors(t *testing.T) {
	for _, v := range providertest.LoadVectors(t, "../testdata/vectors.json", "standard-webhooks", "svix") {
		t.Run(v.ID, func(t *testing.T) {
			r, body := v.Request()
			opts := []Option{WithClock(v.Clock()), WithTolerance(v.ToleranceDuration())}
			var p *Provider
			var err error
			if v.Secret != "" {
				p, err = New(v.Secret, opts...)
			} else {
				p, err = NewAsymmetric(v.PublicKey, opts...)
			}
			require.NoError(t, err)
			err = p.Verify(r, body)
			if !v.Valid() {
				assert.ErrorIs(t, err, verify.ErrVerification)
				return
			}
			require.NoError(t, err)
			env, err := p.Parse(r, body)
			require.NoError(t, err)
			assert.Equal(t, "msg_p5jXN8AQM9LWM0D4loKWxJek", env.ID)
		})
	}
}

const (
	secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	msgID  = "msg_p5jXN8AQM9LWM0D4loKWxJek"
)

var (
	now  = time.Unix(1614265330, 0)
	body = []byte(`{"type":"user.created","data":{"id":"u1"}}`)
	priv = ed25519.NewKeyFromSeed(func() []byte { s := sha256.Sum256([]byte("test key")); return s[:] }())
	pub  = PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
)

func mustSign(t *testing.T, secret string) string {
	t.Helper()
	s, err := Sign(secret, msgID, now, body)
	require.NoError(t, err)
	return s
}

func TestSignKnownAnswer(t *testing.T) {
	got, err := Sign(secret, msgID, now, []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)
}

func TestVerify(t *testing.T) {
	good := mustSign(t, secret)
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret of 24 byte"))
	ed := SignEd25519(priv, msgID, now, body)
	tests := []struct {
		name       string
		asym       bool // NewAsymmetric(pub) instead of New(secret)
		opts       []Option
		headers    map[string]string
		at         time.Time
		want       error
		wantParsed string
	}{
		{"valid", false, nil, hdr(msgID, now, good), now, nil, ""},
		{"svix headers", false, nil, svix(msgID, now, good), now, nil, ""},
		{"svix preferred", false, nil, merge(svix(msgID, now, good), hdr("other", now, "v1,AAAA")), now, nil, ""},
		{"incomplete svix set falls back", false, nil, merge(map[string]string{"svix-id": "x"}, hdr(msgID, now, good)), now, nil, ""},
		{"list with unknown and malformed", false, nil, hdr(msgID, now, "v2,abc v1,!!! v1 "+good+" v1a,xyz"), now, nil, ""},
		{"missing signature", false, nil, map[string]string{"webhook-id": msgID, "webhook-timestamp": "1614265330"}, now, verify.ErrMissingSignature, ""},
		{"missing timestamp", false, nil, map[string]string{"webhook-id": msgID, "webhook-signature": good}, now, verify.ErrMissingTimestamp, ""},
		{"missing id", false, nil, map[string]string{"webhook-timestamp": "1614265330", "webhook-signature": good}, now, verify.ErrMalformedSignature, ""},
		{"malformed timestamp", false, nil, hdrTS(msgID, "16142653a0", good), now, verify.ErrMalformedTimestamp, ""}, // checked before the MAC
		{"only unknown versions", false, nil, hdr(msgID, now, "v2,"+strings.TrimPrefix(good, "v1,")), now, verify.ErrMalformedSignature, ""},
		{"not base64", false, nil, hdr(msgID, now, "v1,@@@"), now, verify.ErrMalformedSignature, ""},
		{"mismatch", false, nil, hdr(msgID, now, mustSign(t, other)), now, verify.ErrSignatureMismatch, ""},
		{"id changed", false, nil, hdr("msg_other", now, good), now, verify.ErrSignatureMismatch, ""},
		{"stale", false, nil, hdr(msgID, now, good), now.Add(5*time.Minute + time.Second), verify.ErrTimestampOutsideWindow, ""},
		{"future", false, nil, hdr(msgID, now, good), now.Add(-5*time.Minute - time.Second), verify.ErrTimestampOutsideWindow, ""},
		{"rotation old", false, []Option{WithSecrets(other)}, hdr(msgID, now, good), now, nil, ""},
		{"rotation new", false, []Option{WithSecrets(other)}, hdr(msgID, now, mustSign(t, other)), now, nil, ""},
		{"v1a valid", true, nil, hdr(msgID, now, ed), now, nil, ""},
		{"v1a and v1 with key only", true, nil, hdr(msgID, now, good+" "+ed), now, nil, ""},
		{"v1 only with key only", true, nil, hdr(msgID, now, good), now, verify.ErrMalformedSignature, ""},
		{"v1a with secret only", false, nil, hdr(msgID, now, ed), now, verify.ErrMalformedSignature, ""},
		{"v1a tampered id", true, nil, hdr("msg_x", now, ed), now, verify.ErrSignatureMismatch, ""},
		{"both kinds configured", false, []Option{WithPublicKeys(pub)}, hdr(msgID, now, ed), now, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			opts := append([]Option{WithClock(func() time.Time { return at })}, tt.opts...)
			var p *Provider
			var err error
			if tt.asym {
				p, err = NewAsymmetric(pub, opts...)
			} else {
				p, err = New(secret, opts...)
			}
			require.NoError(t, err)
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			err = p.Verify(r, body)
			if tt.want == nil {
				require.NoError(t, err)
				env, err := p.Parse(r, body)
				require.NoError(t, err)
				assert.Equal(t, receiver.Envelope{ID: msgID, Type: "user.created"}, env)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorIs(t, err, verify.ErrVerification)
			if assert.Error(t, err) {
				assert.True(t, strings.HasPrefix(err.Error(), "standardwebhooks: "), err.Error())
			}
		})
	}
}

func hdr(id string, t time.Time, sig string) map[string]string {
	return hdrTS(id, strconv.FormatInt(t.Unix(), 10), sig)
}

func hdrTS(id, ts, sig string) map[string]string {
	return map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig}
}

func svix(id string, t time.Time, sig string) map[string]string {
	return map[string]string{"svix-id": id, "svix-timestamp": strconv.FormatInt(t.Unix(), 10), "svix-signature": sig}
}

func merge(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		fn   func() (*Provider, error)
	}{
		{"empty", func() (*Provider, error) { return New("") }},
		{"blank", func() (*Provider, error) { return New("  ") }},
		{"prefix only", func() (*Provider, error) { return New("whsec_") }},
		{"not base64", func() (*Provider, error) { return New("whsec_!!!") }},
		{"bad extra secret", func() (*Provider, error) { return New(secret, WithSecrets("whsec_%%")) }},
		{"bad public key", func() (*Provider, error) { return New(secret, WithPublicKeys("whpk_AAAA")) }},
		{"empty public key", func() (*Provider, error) { return NewAsymmetric("") }},
		{"short public key", func() (*Provider, error) {
			return NewAsymmetric("whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 31)))
		}},
		{"asymmetric bad secret", func() (*Provider, error) { return NewAsymmetric(pub, WithSecrets("")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.fn()
			assert.ErrorIs(t, err, verify.ErrNoSecret)
		})
	}
	_, err := Sign("", msgID, now, body)
	assert.ErrorIs(t, err, verify.ErrNoSecret, "Sign with empty secret")
	assert.Panics(t,
		func() { NewRequest("http://x", "bad!", msgID, now, body) }, "NewRequest with bad secret")
	// The whsec_ prefix is optional (Brex), and unpadded base64 is accepted.
	for _, s := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + base64.RawStdEncoding.EncodeToString([]byte("12345"))} {
		p, err := New(s)
		if assert.NoError(t, err, "New(%q)", s) {
			assert.Equal(t, "standard", p.Name())
		}
	}
}

func TestNewRequest(t *testing.T) {
	r := NewRequest("https://example.com/hook", secret, msgID, now, body)
	assert.Equal(t, msgID, r.Header.Get("webhook-id"))
	assert.Equal(t, "1614265330", r.Header.Get("webhook-timestamp"))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	p, err := New(secret, WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	assert.NoError(t, p.Verify(r, body))
	assert.Panics(t, func() { NewRequest("://bad", secret, msgID, now, body) }, "bad url accepted")
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		id      string
		body    string
		want    string
		wantErr bool
	}{
		{"type", nil, "m1", `{"type":"email.sent","data":{}}`, "email.sent", false},
		{"no type", nil, "m1", `{"test": 2432232314}`, "", false},
		{"null type", nil, "m1", `{"type":null}`, "", false},
		{"type key", []Option{WithTypeKey("event_type")}, "m1", `{"type":"x","event_type":"TRANSFER_PROCESSED"}`, "TRANSFER_PROCESSED", false},
		{"missing id", nil, "", `{"type":"a"}`, "", true},
		{"type not string", nil, "m1", `{"type":1}`, "", true},
		{"malformed", nil, "m1", `{"type":"a"`, "", true},
		{"duplicate type", nil, "m1", `{"type":"a","type":"b"}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(secret, tt.opts...)
			require.NoError(t, err)
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			if tt.id != "" {
				r.Header.Set("webhook-id", tt.id)
			}
			env, err := p.Parse(r, []byte(tt.body))
			if tt.wantErr {
				assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, receiver.Envelope{ID: tt.id, Type: tt.want}, env)
		})
	}
	_, err := New(secret, WithTypeKey(""))
	assert.Error(t, err, "empty type key accepted")
}

// FuzzSignatureList feeds arbitrary webhook-signature lists: nothing panics,
// errors match ErrVerification, and a list verifies only when it holds the
// correct v1 or v1a entry.
func FuzzSignatureList(f *testing.F) {
	good, _ := Sign(secret, msgID, now, body)
	ed := SignEd25519(priv, msgID, now, body)
	f.Add(good)
	f.Add("v2,abc " + good)
	f.Add(ed + " v1,")
	f.Add("v1,  v1a, ,,, v1,====")
	f.Add(boundedList(verify.MaxSignatureEntries, 0, good))
	f.Add(boundedList(verify.MaxSignatureEntries+1, 0, ed))
	f.Add(boundedList(2, verify.MaxSignatureHeaderBytes, good))
	f.Add(boundedList(2, verify.MaxSignatureHeaderBytes+1, ed))
	f.Add(strings.Repeat(ed+" ", verify.MaxSignatureEntries))
	f.Add(boundedList(verify.MaxEd25519Signatures, 0, ed) + " v1a," + base64.StdEncoding.EncodeToString(make([]byte, 64)))
	p, _ := New(secret, WithPublicKeys(pub), WithClock(func() time.Time { return now }))
	f.Fuzz(func(t *testing.T, list string) {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("webhook-id", msgID)
		r.Header.Set("webhook-timestamp", "1614265330")
		r.Header["Webhook-Signature"] = []string{list}
		err := p.Verify(r, body)
		entries := len(strings.Fields(list))
		distinctV1a := map[string]bool{}
		for _, e := range strings.Fields(list) {
			if b64, ok := strings.CutPrefix(e, "v1a,"); ok {
				if d, derr := verify.Base64.Decode(nil, b64); derr == nil && len(d) == ed25519.SignatureSize {
					distinctV1a[string(d)] = true
				}
			}
		}
		overBound := len(list) > verify.MaxSignatureHeaderBytes || entries > verify.MaxSignatureEntries ||
			len(distinctV1a) > verify.MaxEd25519Signatures
		if list != "" && overBound != errors.Is(err, verify.ErrSignatureHeaderTooLarge) {
			t.Fatalf("list of %d bytes, %d entries, %d distinct v1a: err = %v", len(list), entries, len(distinctV1a), err)
		}
		if err != nil {
			if !errors.Is(err, verify.ErrVerification) {
				t.Fatalf("error %v does not match ErrVerification", err)
			}
			return
		}
		for _, e := range strings.Fields(list) {
			if e == good || e == ed {
				return
			}
		}
		t.Fatalf("list %q verified without the correct entry", list)
	})
}

// FuzzVerify mutates the body and headers of a valid delivery: only the
// original verifies, and nothing panics.
func FuzzVerify(f *testing.F) {
	good, _ := Sign(secret, msgID, now, body)
	f.Add(body, msgID, "1614265330", good)
	f.Add(body, msgID+"x", "1614265330", good)
	f.Add([]byte("{}"), "", "", "")
	p, _ := New(secret, WithClock(func() time.Time { return now }))
	f.Fuzz(func(t *testing.T, b []byte, id, ts, sig string) {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header["Webhook-Id"] = []string{id}
		r.Header["Webhook-Timestamp"] = []string{ts}
		r.Header["Webhook-Signature"] = []string{sig}
		err := p.Verify(r, b)
		if err == nil && (string(b) != string(body) || id != msgID || ts != "1614265330") {
			t.Fatalf("mutated delivery verified: %q %q %q %q", b, id, ts, sig)
		}
		_, _ = p.Parse(r, b)
	})
}

// boundedList returns a signature list with the valid entry last among n
// (n-1 forged v1 and v1a, at most verify.MaxEd25519Signatures-1 v1a), padded
// with spaces to size bytes when larger.
func boundedList(n, size int, valid string) string {
	var entries []string
	for i := 1; i < n; i++ {
		if i >= verify.MaxEd25519Signatures {
			entries = append(entries, "v1,"+base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune('a'+i)), 32))))
		} else {
			entries = append(entries, "v1a,"+base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune('a'+i)), 64))))
		}
	}
	l := strings.Join(append(entries, valid), " ")
	if pad := size - len(l); pad > 0 {
		l = strings.Repeat(" ", pad) + l
	}
	return l
}

// TestVerifyBounds: a list carrying a valid v1 or v1a entry verifies with up
// to verify.MaxSignatureEntries entries and verify.MaxSignatureHeaderBytes
// bytes; one entry or one byte more is rejected, valid entry or not.
func TestVerifyBounds(t *testing.T) {
	p, err := New(secret, WithPublicKeys(pub), WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	check := func(list string) error {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		for k, v := range hdr(msgID, now, list) {
			r.Header.Set(k, v)
		}
		return p.Verify(r, body)
	}
	for name, valid := range map[string]string{"v1": mustSign(t, secret), "v1a": SignEd25519(priv, msgID, now, body)} {
		for n := 1; n <= verify.MaxSignatureEntries; n++ {
			assert.NoError(t, check(boundedList(n, 0, valid)), "%s: %d entries", name, n)
		}
		err := check(boundedList(verify.MaxSignatureEntries+1, 0, valid))
		assert.ErrorIs(t, err, verify.ErrSignatureHeaderTooLarge, name)
		assert.ErrorIs(t, err, verify.ErrVerification, name)

		l := boundedList(3, verify.MaxSignatureHeaderBytes, valid)
		require.Len(t, l, verify.MaxSignatureHeaderBytes)
		assert.NoError(t, check(l), name)
		l = boundedList(3, verify.MaxSignatureHeaderBytes+1, valid)
		require.Len(t, l, verify.MaxSignatureHeaderBytes+1)
		assert.ErrorIs(t, check(l), verify.ErrSignatureHeaderTooLarge, name)
		// More distinct v1a signatures than verify.MaxEd25519Signatures.
		var v1a []string
		for i := range verify.MaxEd25519Signatures + 1 {
			v1a = append(v1a, "v1a,"+base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune('A'+i)), 64))))
		}
		assert.ErrorIs(t, check(strings.Join(append(v1a, valid), " ")), verify.ErrSignatureHeaderTooLarge, name)
		assert.NoError(t, check(strings.Join(append(v1a[:verify.MaxEd25519Signatures-1], valid, valid), " ")), name)
		// Tabs and runs of white space separate entries too.
		assert.NoError(t, check(strings.ReplaceAll(boundedList(verify.MaxSignatureEntries, 0, valid), " ", "\t  ")), name)
	}
}
