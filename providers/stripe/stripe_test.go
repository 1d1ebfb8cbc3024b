package stripe

import (
	"errors"
	"fmt"
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
	for _, v := range providertest.LoadVectors(t, "../testdata/vectors.json", "stripe") {
		t.Run(v.ID, func(t *testing.T) {
			r, body := v.Request()
			p, err := New(v.Secret, WithClock(v.Clock()), WithTolerance(v.ToleranceDuration()))
			require.NoError(t, err)
			err = p.Verify(r, body)
			if !v.Valid() {
				assert.ErrorIs(t, err, verify.ErrVerification)
				return
			}
			require.NoError(t, err)
			env, err := p.Parse(r, body)
			require.NoError(t, err)
			assert.NotEmpty(t, env.ID)
			assert.NotEmpty(t, env.Type)
		})
	}
}

const secret = "whsec_test_secret"

var (
	now  = time.Unix(1735689600, 0)
	body = []byte(`{"id":"evt_1","object":"event","api_version":"2024-06-20","type":"invoice.paid"}`)
)

func sig(secret string, t time.Time) string {
	return strings.TrimPrefix(Sign(secret, t, body), "t="+strconv.FormatInt(t.Unix(), 10)+",")
}

func TestVerify(t *testing.T) {
	ts := "t=" + strconv.FormatInt(now.Unix(), 10)
	good := sig(secret, now) // "v1=<hex>"
	v0 := "v0=" + strings.TrimPrefix(good, "v1=")
	tests := []struct {
		name   string
		opts   []Option
		header string
		at     time.Time
		want   error
	}{
		{"valid", nil, Sign(secret, now, body), now, nil},
		{"order and spaces", nil, good + ", " + ts, now, nil},
		{"unknown keys ignored", nil, ts + ",v9=abc,x,foo=bar," + good, now, nil},
		{"several v1, one matches", nil, ts + ",v1=" + strings.Repeat("ab", 32) + "," + good, now, nil},
		{"non-hex v1 skipped", nil, ts + ",v1=not-hex," + good, now, nil},
		{"odd-length v1 skipped", nil, ts + ",v1=abc," + good, now, nil},
		{"v0 only", nil, ts + "," + v0, now, verify.ErrMalformedSignature},
		{"v0 and bad v1", nil, ts + "," + v0 + ",v1=" + strings.Repeat("00", 32), now, verify.ErrSignatureMismatch},
		{"missing header", nil, "", now, verify.ErrMissingSignature},
		{"missing t", nil, good, now, verify.ErrMissingTimestamp},
		{"empty t", nil, "t=," + good, now, verify.ErrMissingTimestamp},
		{"two t", nil, ts + "," + ts + "," + good, now, verify.ErrMalformedTimestamp},
		{"malformed t", nil, "t=abc,v1=" + strings.Repeat("00", 32), now, verify.ErrMalformedTimestamp}, // checked before the MAC
		{"no v1", nil, ts, now, verify.ErrMalformedSignature},
		{"wrong secret", nil, Sign("whsec_other", now, body), now, verify.ErrSignatureMismatch},
		{"t changed", nil, "t=" + strconv.FormatInt(now.Unix()+1, 10) + "," + good, now.Add(time.Second), verify.ErrSignatureMismatch},
		{"edge of window, past", nil, Sign(secret, now, body), now.Add(300 * time.Second), nil},
		{"stale", nil, Sign(secret, now, body), now.Add(301 * time.Second), verify.ErrTimestampOutsideWindow},
		{"future", nil, Sign(secret, now, body), now.Add(-301 * time.Second), verify.ErrTimestampOutsideWindow},
		{"edge of window, future", nil, Sign(secret, now, body), now.Add(-300 * time.Second), nil},
		{"custom tolerance", []Option{WithTolerance(10 * time.Second)}, Sign(secret, now, body), now.Add(11 * time.Second), verify.ErrTimestampOutsideWindow},
		{"rotation: old", []Option{WithSecrets("whsec_new")}, Sign(secret, now, body), now, nil},
		{"rotation: new", []Option{WithSecrets("whsec_new")}, Sign("whsec_new", now, body), now, nil},
		{"rolled header, one v1 per secret", nil, ts + "," + sig("whsec_other", now) + "," + good, now, nil},
		{"secret not decoded", nil, Sign("test_secret", now, body), now, verify.ErrSignatureMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			p, err := New(secret, append([]Option{WithClock(func() time.Time { return at })}, tt.opts...)...)
			require.NoError(t, err)
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			if tt.header != "" {
				r.Header.Set(HeaderSignature, tt.header)
			}
			err = p.Verify(r, body)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorIs(t, err, verify.ErrVerification)
			if assert.Error(t, err) {
				assert.True(t, strings.HasPrefix(err.Error(), "stripe: "), err.Error())
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, s := range []string{"", "   "} {
		_, err := New(s)
		assert.ErrorIs(t, err, verify.ErrNoSecret, "New(%q)", s)
	}
	_, err := New(secret, WithSecrets(" "))
	assert.ErrorIs(t, err, verify.ErrNoSecret, "blank extra secret")
	p, err := New(secret, WithClock(nil), WithTolerance(-1))
	require.NoError(t, err)
	assert.Equal(t, "stripe", p.Name())
	assert.Equal(t, DefaultTolerance, p.p.Tolerance())
	assert.NoError(t, p.Verify(NewRequest("https://example.com/", secret, time.Now(), body), body), "a nil clock is time.Now")
}

func TestNewRequest(t *testing.T) {
	r := NewRequest("https://example.com/stripe", secret, now, body)
	assert.Equal(t, Sign(secret, now, body), r.Header.Get(HeaderSignature))
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), r.Header.Get("Content-Type"))
	p, err := New(secret, WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	assert.NoError(t, p.Verify(r, body))
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    receiver.Envelope
		wantErr bool
	}{
		{"full", string(body), receiver.Envelope{ID: "evt_1", Type: "invoice.paid", Version: "2024-06-20"}, false},
		{"no version", `{"id":"evt_2","type":"charge.succeeded"}`, receiver.Envelope{ID: "evt_2", Type: "charge.succeeded"}, false},
		{"null version", `{"id":"evt_2","type":"a","api_version":null}`, receiver.Envelope{ID: "evt_2", Type: "a"}, false},
		{"thin event", `{"id":"evt_t","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","related_object":{"id":"mtr_1"}}`,
			receiver.Envelope{ID: "evt_t", Type: "v1.billing.meter.error_report_triggered"}, false},
		{"nested id ignored", `{"data":{"id":"x"},"type":"a","id":"evt_3"}`, receiver.Envelope{ID: "evt_3", Type: "a"}, false},
		{"missing id", `{"type":"a"}`, receiver.Envelope{}, true},
		{"empty id", `{"id":"","type":"a"}`, receiver.Envelope{}, true},
		{"missing type", `{"id":"evt"}`, receiver.Envelope{}, true},
		{"id not string", `{"id":1,"type":"a"}`, receiver.Envelope{}, true},
		{"version not string", `{"id":"e","type":"a","api_version":{}}`, receiver.Envelope{}, true},
		{"duplicate id", `{"id":"evt_a","type":"a","id":"evt_b"}`, receiver.Envelope{}, true},
		{"malformed", `{"id":"evt","type":"a"`, receiver.Envelope{}, true},
		{"not object", `["evt"]`, receiver.Envelope{}, true},
	}
	p, _ := New(secret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := p.Parse(nil, []byte(tt.body))
			if tt.wantErr {
				assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, env)
		})
	}
}

// FuzzSignatureHeader feeds arbitrary Stripe-Signature headers: nothing
// panics, errors match ErrVerification, and a header verifies only if it
// carries a correct v1 for the signed t.
func FuzzSignatureHeader(f *testing.F) {
	f.Add(Sign(secret, now, body))
	f.Add("t=1735689600,v1=zz,v0=00")
	f.Add("t=,v1=")
	f.Add(",,,=,t=1,t=2")
	f.Add("t=99999999999999999999,v1=00")
	f.Add(boundedHeader(verify.MaxSignatureEntries, 0))
	f.Add(boundedHeader(verify.MaxSignatureEntries+1, 0))
	f.Add(boundedHeader(2, verify.MaxSignatureHeaderBytes))
	f.Add(boundedHeader(2, verify.MaxSignatureHeaderBytes+1))
	p, _ := New(secret, WithClock(func() time.Time { return now }))
	f.Fuzz(func(t *testing.T, header string) {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header[HeaderSignature] = []string{header}
		err := p.Verify(r, body)
		entries := 0
		for _, e := range strings.Split(header, ",") {
			if strings.TrimSpace(e) != "" {
				entries++
			}
		}
		overBound := len(header) > verify.MaxSignatureHeaderBytes || entries > verify.MaxSignatureEntries
		if overBound != errors.Is(err, verify.ErrSignatureHeaderTooLarge) {
			t.Fatalf("header of %d bytes and %d entries: err = %v", len(header), entries, err)
		}
		if err != nil {
			if !errors.Is(err, verify.ErrVerification) {
				t.Fatalf("error %v does not match ErrVerification", err)
			}
			return
		}
		ts, terr := fieldT(header)
		if terr != nil {
			t.Fatalf("verified without a timestamp: %q", header)
		}
		n, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil || !strings.Contains(strings.ToLower(header), strings.TrimPrefix(sig(secret, time.Unix(n, 0)), "v1=")) {
			t.Fatalf("header %q verified without a correct v1", header)
		}
	})
}

// fieldT returns the value of the header's single t element.
func fieldT(header string) (string, error) {
	var ts []string
	for _, e := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(e), "t="); ok {
			ts = append(ts, v)
		}
	}
	if len(ts) != 1 || ts[0] == "" {
		return "", errors.New("no single t")
	}
	return ts[0], nil
}

// FuzzVerify mutates the body and the header of a valid delivery: only the
// original pair verifies.
func FuzzVerify(f *testing.F) {
	good := Sign(secret, now, body)
	f.Add(body, good)
	f.Add(append(body[:len(body):len(body)], ' '), good)
	f.Add([]byte(""), good)
	p, _ := New(secret, WithClock(func() time.Time { return now }))
	f.Fuzz(func(t *testing.T, b []byte, header string) {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header[HeaderSignature] = []string{header}
		err := p.Verify(r, b)
		if err == nil && string(b) != string(body) {
			t.Fatalf("mutated body %q verified", b)
		}
		_, _ = p.Parse(r, b)
	})
}

// boundedHeader returns a Stripe-Signature header with the valid v1 last
// among n entries (t and n-2 forged v1), padded with white space inside the
// t element to size bytes when size is larger.
func boundedHeader(n, size int) string {
	ts := "t=" + strconv.FormatInt(now.Unix(), 10)
	entries := []string{ts}
	for i := 2; i < n; i++ {
		entries = append(entries, "v1="+strings.Repeat(fmt.Sprintf("%02x", i), 32))
	}
	h := strings.Join(append(entries, sig(secret, now)), ",")
	if pad := size - len(h); pad > 0 {
		h = strings.Replace(h, ts, ts+strings.Repeat(" ", pad), 1)
	}
	return h
}

// TestVerifyBounds: a header carrying the valid signature verifies with up
// to verify.MaxSignatureEntries entries and verify.MaxSignatureHeaderBytes
// bytes; one entry or one byte more is rejected, valid signature or not.
func TestVerifyBounds(t *testing.T) {
	p, err := New(secret, WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	check := func(header string) error {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set(HeaderSignature, header)
		return p.Verify(r, body)
	}
	for n := 2; n <= verify.MaxSignatureEntries; n++ {
		assert.NoError(t, check(boundedHeader(n, 0)), "%d entries", n)
	}
	err = check(boundedHeader(verify.MaxSignatureEntries+1, 0))
	assert.ErrorIs(t, err, verify.ErrSignatureHeaderTooLarge)
	assert.ErrorIs(t, err, verify.ErrVerification)

	h := boundedHeader(2, verify.MaxSignatureHeaderBytes)
	require.Len(t, h, verify.MaxSignatureHeaderBytes)
	assert.NoError(t, check(h))
	h = boundedHeader(2, verify.MaxSignatureHeaderBytes+1)
	require.Len(t, h, verify.MaxSignatureHeaderBytes+1)
	assert.ErrorIs(t, check(h), verify.ErrSignatureHeaderTooLarge)
	// Empty elements are not entries.
	assert.NoError(t, check(boundedHeader(verify.MaxSignatureEntries, 0)+strings.Repeat(", ", 20)))
}
