package crosscheck

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	hwsw "github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/verify"
	stdwh "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

func newStandardWebhooks(t testing.TB, secret string, now func() time.Time) *hwsw.Provider {
	t.Helper()
	p, err := hwsw.New(secret, hwsw.WithClock(now))
	if err != nil {
		t.Fatalf("standardwebhooks.New: %v", err)
	}
	return p
}

// swRequest builds a delivery with the unbranded webhook-* headers, or the
// svix-* ones when prefix is "svix-".
func swRequest(prefix, id string, ts time.Time, sig string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/std", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(prefix+"id", id)
	req.Header.Set(prefix+"timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(prefix+"signature", sig)
	return req
}

func randomMsgID(r *rand.Rand) string { return "msg_" + randomToken(r, 1+r.IntN(27)) }

func svixWebhook(t testing.TB, secret string) *svix.Webhook {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatalf("svix.NewWebhook: %v", err)
	}
	return wh
}

func stdWebhook(t testing.TB, secret string) *stdwh.Webhook {
	t.Helper()
	wh, err := stdwh.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook: %v", err)
	}
	return wh
}

// svix-webhooks and the Standard Webhooks library sign, Hookwise verifies,
// with unbranded and svix-branded headers.
func TestSDKsSignHookwiseVerifiesStandardWebhooks(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		secret, body, ts, id := randomWhsec(r), randomBody(r, i), randomPast(r, now), randomMsgID(r)
		p := newStandardWebhooks(t, secret, func() time.Time { return now })

		svixSig, err := svixWebhook(t, secret).Sign(id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		stdSig, err := stdWebhook(t, secret).Sign(id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		if svixSig != stdSig {
			t.Fatalf("case %d: the two SDKs disagree: svix %q, standard-webhooks %q", i, svixSig, stdSig)
		}
		bad := tamper(r, body)
		for _, prefix := range []string{"webhook-", "svix-"} {
			for name, sig := range map[string]string{"svix": svixSig, "standard-webhooks": stdSig} {
				req := swRequest(prefix, id, ts, sig, body)
				if err := p.Verify(req, body); err != nil {
					t.Fatalf("case %d: Hookwise rejects %s's signature with %s* headers: %v", i, name, prefix, err)
				}
				if err := p.Verify(req, bad); !errors.Is(err, verify.ErrVerification) {
					t.Fatalf("case %d: Hookwise on a tampered body (%s* headers): %v, want ErrVerification", i, prefix, err)
				}
				env, err := p.Parse(req, body)
				if err != nil {
					// Parse may need a JSON "type"; the ID must come from the header whenever it succeeds.
					continue
				}
				if env.ID != id {
					t.Fatalf("case %d: Parse ID %q, want the %sid header %q", i, env.ID, prefix, id)
				}
			}
		}
		// Several signatures, the valid one last (key rotation).
		multi := "v1," + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + " v2,abc " + svixSig
		if err := svixWebhook(t, secret).Verify(body, swRequest("webhook-", id, ts, multi, body).Header); err != nil {
			t.Fatalf("case %d: svix rejects the multi-signature header: %v", i, err)
		}
		if err := p.Verify(swRequest("webhook-", id, ts, multi, body), body); err != nil {
			t.Fatalf("case %d: Hookwise rejects the multi-signature header svix accepts: %v", i, err)
		}
	}
}

// Hookwise signs (Sign, NewRequest), both SDKs verify.
func TestHookwiseSignsSDKsVerifyStandardWebhooks(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		secret, body, ts, id := randomWhsec(r), randomBody(r, i), randomPast(r, now), randomMsgID(r)
		sig, err := hwsw.Sign(secret, id, ts, body)
		if err != nil {
			t.Fatalf("case %d: Sign: %v", i, err)
		}
		if want, _ := svixWebhook(t, secret).Sign(id, ts, body); sig != want {
			t.Fatalf("case %d: Hookwise signature %q, svix writes %q", i, sig, want)
		}
		req := hwsw.NewRequest("http://hookwise.test/std", secret, id, ts, body)
		got, err := readBody(req)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("case %d: NewRequest body %q (err %v), want %q", i, got, err, body)
		}
		bad := tamper(r, body)
		svixBranded := swRequest("svix-", id, ts, sig, body)
		checks := []struct {
			name   string
			verify func([]byte, http.Header) error
			header http.Header
		}{
			{"svix, NewRequest", svixWebhook(t, secret).Verify, req.Header},
			{"standard-webhooks, NewRequest", stdWebhook(t, secret).Verify, req.Header},
			{"svix, svix-* headers", svixWebhook(t, secret).Verify, svixBranded.Header},
		}
		for _, c := range checks {
			if err := c.verify(body, c.header); err != nil {
				t.Fatalf("case %d: %s rejects Hookwise's delivery: %v", i, c.name, err)
			}
			if err := c.verify(bad, c.header); err == nil {
				t.Fatalf("case %d: %s accepts a tampered body", i, c.name)
			}
		}
	}
}

// Both directions of the window, as in the SDKs.
func TestStandardWebhooksTimestampWindow(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	tests := []struct {
		name   string
		offset time.Duration
		accept bool
	}{
		{"now", 0, true},
		{"4 minutes old", -4 * time.Minute, true},
		{"4 minutes ahead", 4 * time.Minute, true},
		{"6 minutes old", -6 * time.Minute, false},
		{"6 minutes ahead", 6 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			req := hwsw.NewRequest("http://hookwise.test/std", secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", now.Add(tt.offset), body)
			hErr := newStandardWebhooks(t, secret, func() time.Time { return now }).Verify(req, body)
			xErr := svixWebhook(t, secret).Verify(body, req.Header)
			sErr := stdWebhook(t, secret).Verify(body, req.Header)
			if (hErr == nil) != tt.accept || (xErr == nil) != tt.accept || (sErr == nil) != tt.accept {
				t.Errorf("Hookwise %s, svix %s, standard-webhooks %s; want accept=%v", verdict(hErr), verdict(xErr), verdict(sErr), tt.accept)
			}
			if !tt.accept && !errors.Is(hErr, verify.ErrTimestampOutsideWindow) {
				t.Errorf("Hookwise error %v, want ErrTimestampOutsideWindow", hErr)
			}
		})
	}
}

// Hookwise agrees with svix-webhooks and with the Standard Webhooks library
// over random mutations.
func TestStandardWebhooksDifferential(t *testing.T) {
	sdks := []struct {
		name  string
		check func(t testing.TB, d delivery) error
		muts  []mutation
	}{
		{"svix", func(t testing.TB, d delivery) error { return svixWebhook(t, d.secret).Verify(d.body, d.req.Header) },
			append(append([]mutation{}, swMutations...), svixMutations...)},
		{"standard-webhooks", func(t testing.TB, d delivery) error { return stdWebhook(t, d.secret).Verify(d.body, d.req.Header) },
			swMutations},
	}
	for _, sdk := range sdks {
		t.Run(sdk.name, func(t *testing.T) {
			gen := func(r *rand.Rand, i int) delivery {
				secret, body, id := randomWhsec(r), randomBody(r, i), randomMsgID(r)
				req := hwsw.NewRequest("http://hookwise.test/std", secret, id, randomPast(r, time.Now()), body)
				return delivery{req: req, body: body, secret: secret}
			}
			hookwise := func(d delivery) error { return newStandardWebhooks(t, d.secret, time.Now).Verify(d.req, d.body) }
			check := func(d delivery) error { return sdk.check(t, d) }
			differential(t, 20*len(sdk.muts), gen, hookwise, check, sdk.muts, swKnownDelivery)
		})
	}
}

var swMutations = append([]mutation{identity,
	headerCharMutation("webhook-signature"),
	headerCharMutation("webhook-id"),
	headerCharMutation("webhook-timestamp"),
	dropHeader("webhook-signature"),
	dropHeader("webhook-id"),
	dropHeader("webhook-timestamp"),
	otherSecret(randomWhsec),
	{"resigned-stale", func(r *rand.Rand, d *delivery) bool {
		return swResign(d, time.Now().Add(-time.Duration(6+r.IntN(600))*time.Minute))
	}},
	{"resigned-far-future", func(r *rand.Rand, d *delivery) bool {
		return swResign(d, time.Now().Add(time.Duration(6+r.IntN(600))*time.Minute))
	}},
	{"resigned-in-future-window", func(r *rand.Rand, d *delivery) bool {
		return swResign(d, time.Now().Add(time.Duration(r.IntN(240))*time.Second))
	}},
	{"extra-signatures", func(r *rand.Rand, d *delivery) bool {
		junk := []string{"v1,AAAA", "v1a," + randomToken(r, 86), "v2," + randomToken(r, 44), "v1", "v1,"}
		d.req.Header.Set("webhook-signature", junk[r.IntN(len(junk))]+" "+d.req.Header.Get("webhook-signature"))
		return true
	}},
	{"wrong-version", func(_ *rand.Rand, d *delivery) bool {
		d.req.Header.Set("webhook-signature", "v2"+strings.TrimPrefix(d.req.Header.Get("webhook-signature"), "v1"))
		return true
	}},
	{"id-changed", func(r *rand.Rand, d *delivery) bool {
		d.req.Header.Set("webhook-id", randomMsgID(r))
		return true
	}},
}, bodyMutations...)

// svixMutations move headers to the svix-* names, which svix-webhooks and
// Hookwise read first when all three are present (the Standard Webhooks
// library reads only webhook-*).
var svixMutations = []mutation{
	{"svix-branded", func(_ *rand.Rand, d *delivery) bool {
		for _, n := range []string{"id", "timestamp", "signature"} {
			d.req.Header.Set("svix-"+n, d.req.Header.Get("webhook-"+n))
			d.req.Header.Del("webhook-" + n)
		}
		return true
	}},
	{"svix-branded-stale-copy", func(r *rand.Rand, d *delivery) bool {
		// A complete svix-* set that is stale, beside a valid webhook-* set.
		for _, n := range []string{"id", "timestamp", "signature"} {
			d.req.Header.Set("svix-"+n, d.req.Header.Get("webhook-"+n))
		}
		ts := time.Now().Add(-time.Duration(10+r.IntN(100)) * time.Minute)
		sig, err := hwsw.Sign(d.secret, d.req.Header.Get("svix-id"), ts, d.body)
		if err != nil {
			return false
		}
		d.req.Header.Set("svix-timestamp", strconv.FormatInt(ts.Unix(), 10))
		d.req.Header.Set("svix-signature", sig)
		return true
	}},
	{"svix-partial", func(r *rand.Rand, d *delivery) bool {
		// An incomplete svix-* set is ignored by both.
		n := []string{"id", "timestamp", "signature"}[r.IntN(3)]
		d.req.Header.Set("svix-"+n, "x")
		return true
	}},
}

// swResign signs the delivery again at ts.
func swResign(d *delivery, ts time.Time) bool {
	sig, err := hwsw.Sign(d.secret, d.req.Header.Get("webhook-id"), ts, d.body)
	if err != nil {
		return false
	}
	d.req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	d.req.Header.Set("webhook-signature", sig)
	return true
}

// swKnownDelivery applies swKnown to the webhook-* headers of a delivery.
func swKnownDelivery(d delivery) leniency {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(d.secret, "whsec_"))
	if err != nil {
		return 0
	}
	id, ts := d.req.Header.Get("webhook-id"), d.req.Header.Get("webhook-timestamp")
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(d.body)
	return swKnown(d.req.Header.Get("webhook-signature"), ts, m.Sum(nil))
}
