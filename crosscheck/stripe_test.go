package crosscheck

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	hwstripe "github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/verify"
	"github.com/stripe/stripe-go/v82/webhook"
)

const stripeHeader = "Stripe-Signature"

func newStripe(t testing.TB, secret string, now func() time.Time) *hwstripe.Provider {
	t.Helper()
	p, err := hwstripe.New(secret, hwstripe.WithClock(now))
	if err != nil {
		t.Fatalf("stripe.New: %v", err)
	}
	return p
}

func stripeRequest(header string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set(stripeHeader, header)
	return req
}

// stripe-go signs, Hookwise verifies.
func TestStripeSDKSignsHookwiseVerifies(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		secret, body, ts := randomStripeSecret(r), randomBody(r, i), randomPast(r, now)
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: ts})
		p := newStripe(t, secret, func() time.Time { return now })

		if err := p.Verify(stripeRequest(signed.Header, body), body); err != nil {
			t.Fatalf("case %d: Hookwise rejects stripe-go's signature %q: %v", i, signed.Header, err)
		}
		bad := tamper(r, body)
		if err := p.Verify(stripeRequest(signed.Header, bad), bad); !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("case %d: Hookwise on a tampered body: %v, want ErrVerification", i, err)
		}
		if err := webhook.ValidatePayload(bad, signed.Header, secret); err == nil {
			t.Fatalf("case %d: stripe-go accepts a tampered body", i)
		}

		// A rolled secret: Stripe sends one v1 per active secret, the
		// current one not necessarily first, and a v0 test-mode entry.
		old := webhook.ComputeSignature(ts, body, secret+"-old")
		rolled := fmt.Sprintf("t=%d,v1=%s,%s,v0=%s", ts.Unix(), hex.EncodeToString(old),
			signed.Header[len("t=")+len(strconv.FormatInt(ts.Unix(), 10))+1:], hex.EncodeToString(old))
		if err := webhook.ValidatePayload(body, rolled, secret); err != nil {
			t.Fatalf("case %d: stripe-go rejects the rolled header %q: %v", i, rolled, err)
		}
		if err := p.Verify(stripeRequest(rolled, body), body); err != nil {
			t.Fatalf("case %d: Hookwise rejects the rolled header stripe-go accepts: %v", i, err)
		}
	}
}

// Hookwise signs, stripe-go verifies; both write the same header.
func TestHookwiseSignsStripeSDKVerifies(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		secret, body, ts := randomStripeSecret(r), randomBody(r, i), randomPast(r, now)

		header := hwstripe.Sign(secret, ts, body)
		if err := webhook.ValidatePayload(body, header, secret); err != nil {
			t.Fatalf("case %d: stripe-go rejects Hookwise's header %q: %v", i, header, err)
		}
		if err := webhook.ValidatePayloadWithTolerance(body, header, secret, webhook.DefaultTolerance); err != nil {
			t.Fatalf("case %d: stripe-go (explicit tolerance) rejects Hookwise's header: %v", i, err)
		}
		want := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: ts}).Header
		if header != want {
			t.Fatalf("case %d: Hookwise header %q, stripe-go writes %q", i, header, want)
		}

		req := hwstripe.NewRequest("http://hookwise.test/stripe", secret, ts, body)
		got, err := readBody(req)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("case %d: NewRequest body %q (err %v), want %q", i, got, err, body)
		}
		if err := webhook.ValidatePayload(got, req.Header.Get(stripeHeader), secret); err != nil {
			t.Fatalf("case %d: stripe-go rejects Hookwise's NewRequest: %v", i, err)
		}
		bad := tamper(r, body)
		if err := webhook.ValidatePayload(bad, header, secret); !errors.Is(err, webhook.ErrNoValidSignature) {
			t.Fatalf("case %d: stripe-go on a tampered body: %v, want ErrNoValidSignature", i, err)
		}
		p := newStripe(t, secret, func() time.Time { return now })
		if err := p.Verify(stripeRequest(header, bad), bad); !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("case %d: Hookwise on a tampered body: %v, want ErrVerification", i, err)
		}
	}
}

// The timestamp window: both reject old signatures, both accept recent
// ones. Hookwise also rejects signatures from the far future, which
// stripe-go accepts (it checks only the past): Hookwise is the stricter one.
func TestStripeTimestampWindow(t *testing.T) {
	const secret = "whsec_test_secret"
	body := []byte(`{"id":"evt_window","type":"ping"}`)
	tests := []struct {
		name        string
		offset      time.Duration // signature time minus now
		hookwise    bool          // accepted by Hookwise
		stripeGoAcc bool          // accepted by stripe-go
	}{
		{"now", 0, true, true},
		{"4 minutes old", -4 * time.Minute, true, true},
		{"1 minute ahead", time.Minute, true, true},
		{"6 minutes old", -6 * time.Minute, false, false},
		{"1 hour old", -time.Hour, false, false},
		{"6 minutes ahead", 6 * time.Minute, false, true},
		{"1 day ahead", 24 * time.Hour, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			header := hwstripe.Sign(secret, now.Add(tt.offset), body)
			hErr := newStripe(t, secret, func() time.Time { return now }).Verify(stripeRequest(header, body), body)
			sErr := webhook.ValidatePayload(body, header, secret)
			if (hErr == nil) != tt.hookwise {
				t.Errorf("Hookwise: %s, want accept=%v", verdict(hErr), tt.hookwise)
			}
			if !tt.hookwise && !errors.Is(hErr, verify.ErrTimestampOutsideWindow) {
				t.Errorf("Hookwise error %v, want ErrTimestampOutsideWindow", hErr)
			}
			if (sErr == nil) != tt.stripeGoAcc {
				t.Errorf("stripe-go: %s, want accept=%v", verdict(sErr), tt.stripeGoAcc)
			}
		})
	}
}

// Hookwise and stripe-go agree on accept/reject over random mutations of
// valid deliveries, with timestamps inside both windows (stripe-go does
// not check the future, so no case moves the timestamp ahead).
func TestStripeDifferential(t *testing.T) {
	gen := func(r *rand.Rand, i int) delivery {
		secret, body := randomStripeSecret(r), randomBody(r, i)
		ts := randomPast(r, time.Now())
		return delivery{req: stripeRequest(hwstripe.Sign(secret, ts, body), body), body: body, secret: secret}
	}
	hookwise := func(d delivery) error { return newStripe(t, d.secret, time.Now).Verify(d.req, d.body) }
	sdk := func(d delivery) error {
		return webhook.ValidatePayload(d.body, d.req.Header.Get(stripeHeader), d.secret)
	}

	muts := append([]mutation{identity,
		headerCharMutation(stripeHeader),
		dropHeader(stripeHeader),
		otherSecret(randomStripeSecret),
		{"stale-timestamp", func(r *rand.Rand, d *delivery) bool {
			ts := time.Now().Add(-time.Duration(10+r.IntN(1000)) * time.Minute)
			d.req.Header.Set(stripeHeader, hwstripe.Sign(d.secret, ts, d.body))
			return true
		}},
		{"timestamp-not-resigned", func(r *rand.Rand, d *delivery) bool {
			h, ok := stripeTimestamp(d.req.Header.Get(stripeHeader))
			if !ok {
				return false
			}
			d.req.Header.Set(stripeHeader, fmt.Sprintf("t=%d%s", h.ts-1-int64(r.IntN(30)), h.rest))
			return true
		}},
		{"extra-bad-v1-first", func(r *rand.Rand, d *delivery) bool {
			d.req.Header.Set(stripeHeader, stripeInsert(d.req.Header.Get(stripeHeader), "v1="+hex.EncodeToString(webhook.ComputeSignature(time.Now(), d.body, d.secret+"x"))))
			return true
		}},
		{"non-hex-v1-first", func(r *rand.Rand, d *delivery) bool {
			d.req.Header.Set(stripeHeader, stripeInsert(d.req.Header.Get(stripeHeader), "v1=zz"+randomToken(r, 6)))
			return true
		}},
		{"v0-only", func(_ *rand.Rand, d *delivery) bool {
			h, ok := stripeTimestamp(d.req.Header.Get(stripeHeader))
			if !ok {
				return false
			}
			d.req.Header.Set(stripeHeader, fmt.Sprintf("t=%d,v0%s", h.ts, h.rest[len(",v1"):]))
			return true
		}},
		{"upper-case-hex", func(_ *rand.Rand, d *delivery) bool {
			h, ok := stripeTimestamp(d.req.Header.Get(stripeHeader))
			if !ok {
				return false
			}
			d.req.Header.Set(stripeHeader, fmt.Sprintf("t=%d,v1=%s", h.ts, bytes.ToUpper([]byte(h.rest[len(",v1="):]))))
			return true
		}},
	}, bodyMutations...)
	differential(t, 30*len(muts), gen, hookwise, sdk, muts, func(d delivery) leniency { return stripeKnown(d.req.Header.Get(stripeHeader)) })
}

type stripeParts struct {
	ts   int64
	rest string // ",v1=…" as written after the timestamp
}

// stripeTimestamp splits a header written as "t=<ts>,v1=<hex>".
func stripeTimestamp(h string) (stripeParts, bool) {
	var p stripeParts
	i := bytes.IndexByte([]byte(h), ',')
	if len(h) < 3 || h[:2] != "t=" || i < 0 {
		return p, false
	}
	ts, err := strconv.ParseInt(h[2:i], 10, 64)
	if err != nil {
		return p, false
	}
	p.ts, p.rest = ts, h[i:]
	return p, true
}

// stripeInsert puts entry right after the header's t= element.
func stripeInsert(h, entry string) string {
	i := bytes.IndexByte([]byte(h), ',')
	if i < 0 {
		return h + "," + entry
	}
	return h[:i] + "," + entry + h[i:]
}
