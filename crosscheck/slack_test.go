package crosscheck

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	hwslack "github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/verify"
	slackgo "github.com/slack-go/slack"
)

const (
	slackSignatureHeader = "X-Slack-Signature"
	slackTimestampHeader = "X-Slack-Request-Timestamp"
)

func newSlack(t testing.TB, secret string, now func() time.Time) *hwslack.Provider {
	t.Helper()
	p, err := hwslack.New(secret, hwslack.WithClock(now))
	if err != nil {
		t.Fatalf("slack.New: %v", err)
	}
	return p
}

// slackGoVerify runs slack-go's documented verification path:
// NewSecretsVerifier on the headers, Write the raw body, Ensure.
func slackGoVerify(header http.Header, body []byte, secret string) error {
	sv, err := slackgo.NewSecretsVerifier(header, secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	return sv.Ensure()
}

func slackRequest(body []byte, ts, sig, contentType string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/slack", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(slackTimestampHeader, ts)
	req.Header.Set(slackSignatureHeader, sig)
	return req
}

var slackContentTypes = []string{"application/json", "application/x-www-form-urlencoded"}

// Hookwise signs (Sign, NewRequest), slack-go verifies.
func TestHookwiseSignsSlackGoVerifies(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		secret, body, ts := randomHexSecret(r), randomBody(r, i), randomPast(r, now)
		ct := slackContentTypes[i%2]

		req := hwslack.NewRequest("http://hookwise.test/slack", secret, ts, body, ct)
		got, err := readBody(req)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("case %d: NewRequest body %q (err %v), want %q", i, got, err, body)
		}
		if req.Header.Get("Content-Type") != ct {
			t.Errorf("case %d: NewRequest Content-Type %q, want %q", i, req.Header.Get("Content-Type"), ct)
		}
		if err := slackGoVerify(req.Header, body, secret); err != nil {
			t.Fatalf("case %d: slack-go rejects Hookwise's request: %v", i, err)
		}
		sig := hwslack.Sign(secret, ts, body)
		if sig != req.Header.Get(slackSignatureHeader) {
			t.Fatalf("case %d: Sign %q differs from NewRequest's header %q", i, sig, req.Header.Get(slackSignatureHeader))
		}
		if err := slackGoVerify(slackRequest(body, strconv.FormatInt(ts.Unix(), 10), sig, ct).Header, body, secret); err != nil {
			t.Fatalf("case %d: slack-go rejects Hookwise's Sign %q: %v", i, sig, err)
		}

		bad := tamper(r, body)
		if err := slackGoVerify(req.Header, bad, secret); !errors.Is(err, slackgo.ErrInvalidSignature) {
			t.Fatalf("case %d: slack-go on a tampered body: %v, want ErrInvalidSignature", i, err)
		}
		if err := newSlack(t, secret, func() time.Time { return now }).Verify(req, bad); !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("case %d: Hookwise on a tampered body: %v, want ErrVerification", i, err)
		}
	}
}

// Requests that slack-go accepts are accepted by Hookwise. slack-go has no
// signer, so the signature is computed with the standard library from
// Slack's documented base string and admitted only once slack-go's
// verifier accepts it.
func TestSlackGoAcceptedHookwiseVerifies(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		now := time.Now()
		secret, body, ts := randomHexSecret(r), randomBody(r, i), randomPast(r, now)
		sts := strconv.FormatInt(ts.Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("v0:" + sts + ":"))
		m.Write(body)
		req := slackRequest(body, sts, "v0="+hex.EncodeToString(m.Sum(nil)), slackContentTypes[i%2])
		if err := slackGoVerify(req.Header, body, secret); err != nil {
			t.Fatalf("case %d: slack-go rejects the reference signature: %v", i, err)
		}
		p := newSlack(t, secret, func() time.Time { return now })
		if err := p.Verify(req, body); err != nil {
			t.Fatalf("case %d: Hookwise rejects a request slack-go accepts: %v", i, err)
		}
		bad := tamper(r, body)
		if err := slackGoVerify(req.Header, bad, secret); err == nil {
			t.Fatalf("case %d: slack-go accepts a tampered body", i)
		}
		if err := p.Verify(req, bad); !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("case %d: Hookwise on a tampered body: %v, want ErrVerification", i, err)
		}
	}
}

// Both check the timestamp in both directions with five minutes' tolerance.
func TestSlackTimestampWindow(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&command=%2Fweather&text=94070")
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
		{"1 day old", -24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			req := hwslack.NewRequest("http://hookwise.test/slack", secret, now.Add(tt.offset), body, slackContentTypes[1])
			hErr := newSlack(t, secret, func() time.Time { return now }).Verify(req, body)
			sErr := slackGoVerify(req.Header, body, secret)
			if (hErr == nil) != tt.accept || (sErr == nil) != tt.accept {
				t.Errorf("Hookwise %s, slack-go %s, want accept=%v", verdict(hErr), verdict(sErr), tt.accept)
			}
			if !tt.accept && !errors.Is(hErr, verify.ErrTimestampOutsideWindow) {
				t.Errorf("Hookwise error %v, want ErrTimestampOutsideWindow", hErr)
			}
			if !tt.accept && !errors.Is(sErr, slackgo.ErrExpiredTimestamp) {
				t.Errorf("slack-go error %v, want ErrExpiredTimestamp", sErr)
			}
		})
	}
}

// Hookwise and slack-go agree on accept/reject over random mutations.
func TestSlackDifferential(t *testing.T) {
	gen := func(r *rand.Rand, i int) delivery {
		secret, body := randomHexSecret(r), randomBody(r, i)
		req := hwslack.NewRequest("http://hookwise.test/slack", secret, randomPast(r, time.Now()), body, slackContentTypes[i%2])
		return delivery{req: req, body: body, secret: secret}
	}
	hookwise := func(d delivery) error { return newSlack(t, d.secret, time.Now).Verify(d.req, d.body) }
	sdk := func(d delivery) error { return slackGoVerify(d.req.Header, d.body, d.secret) }
	resign := func(name string, shift func(r *rand.Rand) time.Duration) mutation {
		return mutation{name, func(r *rand.Rand, d *delivery) bool {
			ts := time.Now().Add(shift(r))
			d.req.Header.Set(slackTimestampHeader, strconv.FormatInt(ts.Unix(), 10))
			d.req.Header.Set(slackSignatureHeader, hwslack.Sign(d.secret, ts, d.body))
			return true
		}}
	}
	muts := append([]mutation{identity,
		headerCharMutation(slackSignatureHeader),
		headerCharMutation(slackTimestampHeader),
		dropHeader(slackSignatureHeader),
		dropHeader(slackTimestampHeader),
		otherSecret(randomHexSecret),
		resign("resigned-in-future-window", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(240)) * time.Second }),
		resign("resigned-stale", func(r *rand.Rand) time.Duration { return -time.Duration(6+r.IntN(600)) * time.Minute }),
		resign("resigned-far-future", func(r *rand.Rand) time.Duration { return time.Duration(6+r.IntN(600)) * time.Minute }),
		{"timestamp-not-resigned", func(r *rand.Rand, d *delivery) bool {
			ts, err := strconv.ParseInt(d.req.Header.Get(slackTimestampHeader), 10, 64)
			if err != nil {
				return false
			}
			d.req.Header.Set(slackTimestampHeader, strconv.FormatInt(ts-1-int64(r.IntN(30)), 10))
			return true
		}},
		{"upper-case-hex", func(_ *rand.Rand, d *delivery) bool {
			sig := d.req.Header.Get(slackSignatureHeader)
			d.req.Header.Set(slackSignatureHeader, "v0="+strings.ToUpper(strings.TrimPrefix(sig, "v0=")))
			return true
		}},
		{"wrong-version", func(_ *rand.Rand, d *delivery) bool {
			sig := d.req.Header.Get(slackSignatureHeader)
			d.req.Header.Set(slackSignatureHeader, "v1="+strings.TrimPrefix(sig, "v0="))
			return true
		}},
	}, bodyMutations...)
	differential(t, 30*len(muts), gen, hookwise, sdk, muts, func(d delivery) leniency {
		return slackKnown(d.req.Header.Get(slackSignatureHeader), d.req.Header.Get(slackTimestampHeader))
	})
}
