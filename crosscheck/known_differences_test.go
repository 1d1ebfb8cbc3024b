package crosscheck

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	hwsw "github.com/hookwise/hookwise/providers/standardwebhooks"
	hwstripe "github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/verify"
	"github.com/stripe/stripe-go/v82/webhook"
)

// TestKnownDifferences pins each documented syntax difference between
// Hookwise and an SDK (README.md lists them; the fuzz targets allow exactly
// these). None lets a delivery without a genuine MAC through on either
// side. A case failing here means a parser changed: update README.md and
// the fuzz targets' leniency rules with it.
func TestKnownDifferences(t *testing.T) {
	now := time.Now()
	ts := now.Add(-time.Minute)
	tsStr := strconv.FormatInt(ts.Unix(), 10)
	body := []byte(`{"id":"evt_1","type":"ping"}`)

	const stripeSecret = "whsec_test_secret"
	stripeSig := hwstripe.Sign(stripeSecret, ts, body) // "t=…,v1=…"
	stripeV1 := stripeSig[strings.Index(stripeSig, ",")+1:]

	const swSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swSig, err := hwsw.Sign(swSecret, "msg_1", ts, body)
	if err != nil {
		t.Fatal(err)
	}

	const slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"

	tests := []struct {
		name     string
		hookwise func() error
		sdk      func() error
		hAccepts bool // Hookwise accepts; the SDK does the opposite
	}{
		{
			name: "stripe: malformed extra element is ignored by Hookwise, fatal to stripe-go",
			hookwise: func() error {
				return newStripe(t, stripeSecret, func() time.Time { return now }).Verify(stripeRequest(stripeSig+",junk", body), body)
			},
			sdk:      func() error { return webhook.ValidatePayload(body, stripeSig+",junk", stripeSecret) },
			hAccepts: true,
		},
		{
			name: "stripe: two t elements are refused by Hookwise, stripe-go takes the last",
			hookwise: func() error {
				h := "t=1," + stripeSig
				return newStripe(t, stripeSecret, func() time.Time { return now }).Verify(stripeRequest(h, body), body)
			},
			sdk:      func() error { return webhook.ValidatePayload(body, "t=1,"+stripeSig, stripeSecret) },
			hAccepts: false,
		},
		{
			name: "stripe: t with a leading zero is signed as written by Hookwise, re-formatted by stripe-go",
			hookwise: func() error {
				h := "t=0" + tsStr + "," + stripeV1
				return newStripe(t, stripeSecret, func() time.Time { return now }).Verify(stripeRequest(h, body), body)
			},
			sdk:      func() error { return webhook.ValidatePayload(body, "t=0"+tsStr+","+stripeV1, stripeSecret) },
			hAccepts: false,
		},
		{
			name: "slack: a signed timestamp must be plain digits in Hookwise",
			hookwise: func() error {
				req := slackRequest(body, "+"+tsStr, slackSign(slackSecret, "+"+tsStr, body), "application/json")
				return newSlack(t, slackSecret, func() time.Time { return now }).Verify(req, body)
			},
			sdk: func() error {
				req := slackRequest(body, "+"+tsStr, slackSign(slackSecret, "+"+tsStr, body), "application/json")
				return slackGoVerify(req.Header, body, slackSecret)
			},
			hAccepts: false,
		},
		{
			name: "standard webhooks: Hookwise compares decoded MACs, so a non-canonical base64 spelling verifies",
			hookwise: func() error {
				req := swRequest("webhook-", "msg_1", ts, nonCanonicalBase64(t, swSig), body)
				return newStandardWebhooks(t, swSecret, func() time.Time { return now }).Verify(req, body)
			},
			sdk: func() error {
				req := swRequest("webhook-", "msg_1", ts, nonCanonicalBase64(t, swSig), body)
				return svixWebhook(t, swSecret).Verify(body, req.Header)
			},
			hAccepts: true,
		},
		{
			name: "standard webhooks: an entry with a second comma is unreadable to Hookwise, truncated by the SDKs",
			hookwise: func() error {
				req := swRequest("webhook-", "msg_1", ts, swSig+",x", body)
				return newStandardWebhooks(t, swSecret, func() time.Time { return now }).Verify(req, body)
			},
			sdk: func() error {
				req := swRequest("webhook-", "msg_1", ts, swSig+",x", body)
				return stdWebhook(t, swSecret).Verify(body, req.Header)
			},
			hAccepts: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hErr, sErr := tt.hookwise(), tt.sdk()
			if (hErr == nil) != tt.hAccepts {
				t.Errorf("Hookwise: %s, want accept=%v", verdict(hErr), tt.hAccepts)
			}
			if (sErr == nil) == tt.hAccepts {
				t.Errorf("SDK: %s, want accept=%v", verdict(sErr), !tt.hAccepts)
			}
			if hErr != nil && !errors.Is(hErr, verify.ErrVerification) {
				t.Errorf("Hookwise error %v does not match verify.ErrVerification", hErr)
			}
		})
	}
}

// slackSign signs body as Slack does over a timestamp string as written.
func slackSign(secret, ts string, body []byte) string {
	return "v0=" + hexMAC(sha256.New, secret, append([]byte("v0:"+ts+":"), body...))
}

// nonCanonicalBase64 re-spells a "v1,<base64>" signature of a 32-byte MAC
// with non-zero padding bits: the same bytes to a lenient decoder, another
// string to a comparing one.
func nonCanonicalBase64(t testing.TB, sig string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	enc := strings.TrimPrefix(sig, "v1,")
	if len(enc) != 44 || enc[43] != '=' {
		t.Fatalf("unexpected signature shape %q", sig)
	}
	i := strings.IndexByte(alphabet, enc[42]) | 1 // set a padding bit
	alt := enc[:42] + string(alphabet[i]) + "="
	a, errA := base64.StdEncoding.DecodeString(enc)
	b, errB := base64.StdEncoding.DecodeString(alt)
	if alt == enc || errA != nil || errB != nil || string(a) != string(b) {
		t.Fatalf("could not re-spell %q", enc)
	}
	return "v1," + alt
}
