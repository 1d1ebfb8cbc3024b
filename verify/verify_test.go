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
			if err != nil {
				t.Fatal(err)
			}
			want := refMAC(tt.h, "new", "a", ".", "body")
			if got := m.Sign([]byte("a"), []byte("."), []byte("body")); !bytes.Equal(got, want) {
				t.Errorf("Sign = %x, want %x", got, want)
			}
			if m.Size() != len(want) {
				t.Errorf("Size = %d, want %d", m.Size(), len(want))
			}
			// Parts are hashed as their concatenation.
			if !m.Match(want, []byte("a.body")) {
				t.Error("Match of the concatenation failed")
			}
			if !m.Match(refMAC(tt.h, "old", "a.body"), []byte("a.body")) {
				t.Error("rotated (second) secret not accepted")
			}
			if m.Match(refMAC(tt.h, "other", "a.body"), []byte("a.body")) {
				t.Error("wrong secret accepted")
			}
			if m.Match(want[:len(want)-1], []byte("a.body")) {
				t.Error("truncated MAC accepted")
			}
			if m.Match(want, []byte("a.bodY")) {
				t.Error("tampered content accepted")
			}
		})
	}
}

func TestNewHMACRejectsMissingSecrets(t *testing.T) {
	for name, secrets := range map[string][][]byte{
		"none": nil, "empty": {{}}, "blank": {[]byte(" \t\n")}, "one empty of two": {[]byte("ok"), {}},
	} {
		if _, err := verify.NewHMAC(sha256.New, secrets...); !errors.Is(err, verify.ErrNoSecret) {
			t.Errorf("%s: err = %v, want ErrNoSecret", name, err)
		}
	}
	if _, err := verify.NewHMAC(nil, []byte("x")); !errors.Is(err, verify.ErrNoSecret) {
		t.Errorf("nil hash: err = %v", err)
	}
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
			if !errors.Is(err, verify.ErrMalformedSignature) {
				t.Errorf("%s.Decode(%q) err = %v, want ErrMalformedSignature", tt.enc, tt.in, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s.Decode(%q) = %x, %v; want %x", tt.enc, tt.in, got, err, tt.want)
		}
		if enc := tt.enc.Encode(tt.want); tt.enc != verify.Hex && strings.TrimRight(enc, "=") != strings.TrimRight(tt.in, "=") {
			t.Errorf("%s.Encode = %q, want %q", tt.enc, enc, tt.in)
		}
	}
	buf := make([]byte, 0, 64)
	sig := strings.Repeat("ab", 32)
	if allocs := testing.AllocsPerRun(100, func() { _, _ = verify.Hex.Decode(buf, sig) }); allocs != 0 {
		t.Errorf("Hex.Decode into a large enough buffer allocates %v times", allocs)
	}
}

func TestParseUnix(t *testing.T) {
	for in, want := range map[string]error{
		"1614265330": nil, "0": nil, "": verify.ErrMissingTimestamp, "-1": verify.ErrMalformedTimestamp,
		"+1": verify.ErrMalformedTimestamp, " 1": verify.ErrMalformedTimestamp, "1.5": verify.ErrMalformedTimestamp,
		"1234567890123": verify.ErrMalformedTimestamp, "0x10": verify.ErrMalformedTimestamp,
	} {
		ts, err := verify.ParseUnix(in)
		if !errors.Is(err, want) {
			t.Errorf("ParseUnix(%q) err = %v, want %v", in, err, want)
		}
		if want == nil && strconv.FormatInt(ts.Unix(), 10) != in {
			t.Errorf("ParseUnix(%q) = %d", in, ts.Unix())
		}
		if err != nil && !errors.Is(err, verify.ErrVerification) {
			t.Errorf("ParseUnix(%q) error does not match ErrVerification", in)
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
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil {
			var te *verify.TimestampError
			if !errors.As(err, &te) || !errors.Is(err, verify.ErrTimestampOutsideWindow) || !errors.Is(err, verify.ErrVerification) {
				t.Errorf("%s: err %v is not a matching *TimestampError", tt.name, err)
			}
		}
	}
	if err := verify.CheckTimestamp(now.Add(-4*time.Minute), now, 0); err != nil {
		t.Errorf("zero tolerance should mean the default: %v", err)
	}
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
		err := verify.MatchList(m, verify.Base64, tt.header, " ", "v1,", []byte("body"))
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func newScheme(t *testing.T, now time.Time) *verify.SchemeVerifier {
	t.Helper()
	v, err := verify.NewScheme(verify.Scheme{
		Hash: sha256.New, Secrets: [][]byte{[]byte("secret")}, Header: "X-Sig", Prefix: "v0=",
		TimestampHeader: "X-Ts", Content: verify.TimestampBody("v0:", ":"), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
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
	if err := v.Verify(req(sig, ts), body); err != nil {
		t.Fatalf("valid request: %v", err)
	}
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
		if !errors.Is(err, tt.want) || !errors.Is(err, verify.ErrVerification) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error mentions the secret: %v", tt.name, err)
		}
	}
	if _, err := verify.NewScheme(verify.Scheme{Hash: sha256.New, Header: "X"}); !errors.Is(err, verify.ErrNoSecret) {
		t.Errorf("scheme without secret: %v", err)
	}
	if _, err := verify.NewScheme(verify.Scheme{Secrets: [][]byte{[]byte("s")}}); err == nil {
		t.Error("scheme without hash or header accepted")
	}
}

func TestEd25519(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	pub2, priv2, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
	v, err := verify.NewEd25519(pub, pub2)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("msg_1.1614265330.{}")
	if !v.Match(ed25519.Sign(priv, msg), []byte("msg_1."), []byte("1614265330."), []byte("{}")) {
		t.Error("valid signature rejected")
	}
	if !v.Match(ed25519.Sign(priv2, msg), msg) {
		t.Error("second key's signature rejected")
	}
	if v.Match(ed25519.Sign(priv, msg), []byte("msg_1.1614265330.{ }")) {
		t.Error("tampered message accepted")
	}
	if v.Match(ed25519.Sign(priv, msg)[:63], msg) {
		t.Error("short signature accepted")
	}
	if _, err := verify.NewEd25519(); !errors.Is(err, verify.ErrNoSecret) {
		t.Errorf("no keys: %v", err)
	}
	if _, err := verify.NewEd25519(pub[:31]); !errors.Is(err, verify.ErrNoSecret) {
		t.Errorf("short key: %v", err)
	}
}

func TestHMACMatchDoesNotAllocatePerBody(t *testing.T) {
	m, _ := verify.NewHMAC(sha256.New, []byte("k"))
	body := bytes.Repeat([]byte("x"), 64<<10)
	mac := m.Sign(body)
	m.Match(mac, body) // warm the pool
	allocs := testing.AllocsPerRun(50, func() { m.Match(mac, body) })
	if raceEnabled {
		t.Logf("-race build: %v allocations per Match (pooled states are dropped at random); asserted without -race", allocs)
	} else if allocs > 0 {
		t.Errorf("Match allocates %v times per call", allocs)
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
		if overBound != errors.Is(err, verify.ErrSignatureHeaderTooLarge) {
			t.Fatalf("header of %d bytes, %d entries: err = %v", len(header), len(strings.Fields(header)), err)
		}
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
			if !found {
				t.Fatalf("MatchList accepted %q for body %q", header, body)
			}
		} else if !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("error %v does not match ErrVerification", err)
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
			if !errors.Is(err, verify.ErrVerification) {
				t.Fatalf("error %v does not match ErrVerification", err)
			}
			return
		}
		if got := strconv.FormatInt(ts.Unix(), 10); strings.TrimLeft(s, "0") != strings.TrimLeft(got, "0") {
			t.Fatalf("ParseUnix(%q) = %s", s, got)
		}
	})
}
