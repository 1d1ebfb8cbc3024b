package crosscheck

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"testing"
	"time"

	gogithub "github.com/google/go-github/v75/github"
	hwgithub "github.com/hookwise/hookwise/providers/github"
	hwslack "github.com/hookwise/hookwise/providers/slack"
	hwsw "github.com/hookwise/hookwise/providers/standardwebhooks"
	hwstripe "github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/verify"
	"github.com/stripe/stripe-go/v82/webhook"
)

// The fuzz targets below build a genuine signature for a fuzzed body and
// secret, then write the signature header (and, where signed, the timestamp
// header) from fuzzed templates in which "{sig}" stands for the genuine
// signature and "{ts}" for the genuine timestamp. The fuzzer thus explores
// the header syntax around a valid signature, where parser differences
// live. Hookwise and the SDK must agree on accept/reject, except for the
// documented syntax differences each target names (see README.md); a
// disagreement outside them fails.

const maxTemplate = 512

// leniency records which side a documented syntax difference lets accept
// what the other rejects.
type leniency uint8

const (
	hookwiseLenient leniency = 1 << iota // Hookwise may accept what the SDK rejects
	sdkLenient                           // the SDK may accept what Hookwise rejects
)

// agree fails when Hookwise and the SDK disagree in a direction no
// documented difference allows.
func agree(t *testing.T, hErr, sErr error, known leniency, ctx ...any) {
	t.Helper()
	switch {
	case (hErr == nil) == (sErr == nil):
	case hErr == nil && known&hookwiseLenient != 0:
	case sErr == nil && known&sdkLenient != 0:
	default:
		t.Errorf("Hookwise %s, SDK %s; input %q", verdict(hErr), verdict(sErr), ctx)
	}
}

// canonicalUnix reports whether s is a Unix time written as the SDKs write
// it: decimal, no sign, no leading zeros.
func canonicalUnix(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n >= 0 && strconv.FormatInt(n, 10) == s
}

func fuzzSecret(seed string) string {
	if strings.TrimSpace(seed) == "" {
		return "k" + seed
	}
	return seed
}

func fuzzTime(age uint16) time.Time { return time.Now().Add(-time.Duration(age%240) * time.Second) }

func FuzzStripeAgreement(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1"}`), "whsec_test_secret", "t={ts},v1={sig}", uint16(0))
	f.Add([]byte{0xff, 0x00}, "whsec_x", "t={ts},v1=00,v1={sig},v0={sig}", uint16(100))
	f.Add([]byte("🚀"), "whsec_y", "v1={sig},t={ts}", uint16(7))
	f.Add([]byte(""), "whsec_z", "t={ts}, v1={sig}", uint16(7))
	f.Add([]byte("a"), "whsec_z", "t=0{ts},v1={sig}", uint16(7))
	f.Add([]byte("a"), "whsec_z", "t={ts},t={ts},v1={sig},x", uint16(7))
	f.Fuzz(func(t *testing.T, body []byte, secretSeed, template string, age uint16) {
		if len(template) > maxTemplate {
			return
		}
		secret, ts := fuzzSecret(secretSeed), fuzzTime(age)
		tsStr := strconv.FormatInt(ts.Unix(), 10)
		sig := hex.EncodeToString(webhook.ComputeSignature(ts, body, secret))
		header := strings.NewReplacer("{ts}", tsStr, "{sig}", sig).Replace(template)

		p, err := hwstripe.New(secret)
		if err != nil {
			t.Fatalf("stripe.New: %v", err)
		}
		hErr := p.Verify(stripeRequest(header, body), body)
		sErr := webhook.ValidatePayload(body, header, secret)
		agree(t, hErr, sErr, stripeKnown(header), header, body, secret)
	})
}

// stripeKnown names the documented differences of Hookwise's Stripe-Signature
// parser from stripe-go's: Hookwise ignores malformed elements (stripe-go
// rejects the whole header when an element lacks exactly one "="), trims
// spaces around elements, requires exactly one t, and signs t as written
// (stripe-go re-formats the parsed number, so "t=0123" verifies there
// against a signature over "123").
func stripeKnown(header string) leniency {
	var l leniency
	var ts []string
	for _, elem := range strings.Split(header, ",") {
		if strings.Count(elem, "=") != 1 || strings.TrimSpace(elem) != elem {
			l |= hookwiseLenient // stripe-go rejects or misreads the element
		}
		if k, v, _ := strings.Cut(strings.TrimSpace(elem), "="); k == "t" {
			ts = append(ts, v)
		}
	}
	if len(ts) != 1 || !canonicalUnix(ts[0]) {
		// Several t, or "t=0123": stripe-go signs the re-formatted
		// number, Hookwise the digits as written; either may accept.
		l |= sdkLenient | hookwiseLenient
	}
	return l
}

func FuzzGitHubAgreement(f *testing.F) {
	f.Add([]byte("Hello, World!"), "It's a Secret to Everybody", "sha256={sig}")
	f.Add([]byte{0xc3, 0x28}, "s", "sha256={SIG}")
	f.Add([]byte(""), "s", "sha1={sig1}")
	f.Add([]byte("x"), "s", "sha512={sig512}")
	f.Add([]byte("x"), "s", " sha256={sig} ")
	f.Add([]byte("x"), "s", "sha256={sig}=")
	f.Fuzz(func(t *testing.T, body []byte, secretSeed, template string) {
		if len(template) > maxTemplate {
			return
		}
		secret := fuzzSecret(secretSeed)
		header := strings.NewReplacer(
			"{sig}", strings.TrimPrefix(hwgithub.Sign(secret, body), "sha256="),
			"{SIG}", strings.ToUpper(strings.TrimPrefix(hwgithub.Sign(secret, body), "sha256=")),
			"{sig1}", hexMAC(sha1.New, secret, body),
			"{sig512}", hexMAC(sha512.New, secret, body),
		).Replace(template)
		p, err := hwgithub.New(secret)
		if err != nil {
			t.Fatalf("github.New: %v", err)
		}
		req := githubRequest(body, "", "")
		req.Header.Set(gogithub.SHA256SignatureHeader, header)
		hErr := p.Verify(req, body)
		if header == "" {
			return // no header at all: nothing to compare (go-github would fall back to X-Hub-Signature)
		}
		sErr := gogithub.ValidateSignature(header, body, []byte(secret))
		agree(t, hErr, sErr, githubKnown(header), header, body, secret)
	})
}

// githubKnown names the documented differences from go-github: Hookwise
// trims spaces around the value, and accepts only "sha256=" in
// X-Hub-Signature-256 where go-github also takes "sha1=" and "sha512=".
func githubKnown(header string) leniency {
	var l leniency
	if strings.TrimSpace(header) != header {
		l |= hookwiseLenient
	}
	if strings.HasPrefix(header, "sha1=") || strings.HasPrefix(header, "sha512=") {
		l |= sdkLenient
	}
	return l
}

func hexMAC(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func FuzzSlackAgreement(f *testing.F) {
	f.Add([]byte("token=x&command=%2Fweather"), "8f742231b10e8888abcd99yyyzzz85a5", "v0={sig}", "{ts}", uint16(0))
	f.Add([]byte{0xff}, "e6b19c573432dcc6b075501d51b51bb8", "v0={SIG}", "{ts}", uint16(200))
	f.Add([]byte("{}"), "s", "v0={sig}", "+{ts}", uint16(3))
	f.Add([]byte("{}"), "s", " v0={sig}", "0{ts}", uint16(3))
	f.Add([]byte("{}"), "s", "v1={sig}", "{ts}", uint16(3))
	f.Fuzz(func(t *testing.T, body []byte, secretSeed, sigTemplate, tsTemplate string, age uint16) {
		if len(sigTemplate) > maxTemplate || len(tsTemplate) > 64 {
			return
		}
		secret, ts := fuzzSecret(secretSeed), fuzzTime(age)
		tsHeader := strings.ReplaceAll(tsTemplate, "{ts}", strconv.FormatInt(ts.Unix(), 10))
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("v0:" + tsHeader + ":"))
		m.Write(body)
		sig := hex.EncodeToString(m.Sum(nil))
		sigHeader := strings.NewReplacer("{sig}", sig, "{SIG}", strings.ToUpper(sig)).Replace(sigTemplate)

		p, err := hwslack.New(secret)
		if err != nil {
			t.Fatalf("slack.New: %v", err)
		}
		req := slackRequest(body, tsHeader, sigHeader, "application/json")
		hErr := p.Verify(req, body)
		sErr := slackGoVerify(req.Header, body, secret)
		agree(t, hErr, sErr, slackKnown(sigHeader, tsHeader), sigHeader, tsHeader, body, secret)
	})
}

// slackKnown names the documented differences from slack-go: Hookwise trims
// spaces around the signature, and takes only plain decimal timestamps of
// at most 12 digits (slack-go's ParseInt also takes a sign and any number
// of leading zeros, and signs the header as written).
func slackKnown(sig, ts string) leniency {
	var l leniency
	if strings.TrimSpace(sig) != sig {
		l |= hookwiseLenient
	}
	if _, err := verify.ParseUnix(ts); err != nil {
		l |= sdkLenient
	}
	return l
}

func FuzzStandardWebhooksAgreement(f *testing.F) {
	f.Add([]byte(`{"test": 2432232314}`), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "v1,{sig}", "{ts}", uint16(0))
	f.Add([]byte{0xff, 0xfe}, "c2VjcmV0", "msg_1", "v1,AAAA v2,x v1,{sig}", "{ts}", uint16(9))
	f.Add([]byte(""), "c2VjcmV0", "msg_1", "v1,{sig},x", "{ts}", uint16(9))
	f.Add([]byte("x"), "c2VjcmV0", "msg_1", "v1,{sig}\tv1,AAAA", "+{ts}", uint16(9))
	f.Add([]byte("x"), "c2VjcmV0", "msg 1", "  v1,{sig}  ", "0{ts}", uint16(9))
	f.Fuzz(func(t *testing.T, body []byte, keySeed, id, sigTemplate, tsTemplate string, age uint16) {
		if len(sigTemplate) > maxTemplate || len(tsTemplate) > 64 || len(id) > 256 || id == "" {
			return
		}
		key := sha256.Sum256([]byte(keySeed))
		secret := "whsec_" + base64.StdEncoding.EncodeToString(key[:24])
		ts := fuzzTime(age)
		tsHeader := strings.ReplaceAll(tsTemplate, "{ts}", strconv.FormatInt(ts.Unix(), 10))
		m := hmac.New(sha256.New, key[:24])
		m.Write([]byte(id + "." + tsHeader + "."))
		m.Write(body)
		mac := m.Sum(nil)
		sigHeader := strings.ReplaceAll(sigTemplate, "{sig}", base64.StdEncoding.EncodeToString(mac))

		p, err := hwsw.New(secret)
		if err != nil {
			t.Fatalf("standardwebhooks.New: %v", err)
		}
		req := swRequest("webhook-", id, ts, sigHeader, body)
		req.Header.Set("webhook-timestamp", tsHeader)
		hErr := p.Verify(req, body)
		known := swKnown(sigHeader, tsHeader, mac)
		agree(t, hErr, svixWebhook(t, secret).Verify(body, req.Header), known, "svix", sigHeader, tsHeader, id, body)
		agree(t, hErr, stdWebhook(t, secret).Verify(body, req.Header), known, "standard-webhooks", sigHeader, tsHeader, id, body)
	})
}

// swKnown names the documented differences from svix-webhooks and the
// Standard Webhooks library: Hookwise splits the list on any white space
// (the SDKs on single spaces), takes everything after an entry's first
// comma as the signature (the SDKs only what lies before a second comma),
// compares decoded MACs (so a non-canonical base64 spelling of the genuine
// MAC verifies; the SDKs compare strings), and signs the timestamp as
// written and takes only plain decimal (the SDKs also take a sign and
// leading zeros, and sign the re-formatted number).
func swKnown(sig, ts string, mac []byte) leniency {
	var l leniency
	if !canonicalUnix(ts) {
		// The SDKs sign the re-formatted number and also take a sign;
		// Hookwise signs the digits as written: either may accept.
		l |= sdkLenient | hookwiseLenient
	}
	var spaced []string
	for _, e := range strings.Split(sig, " ") {
		if e != "" {
			spaced = append(spaced, e)
		}
	}
	fields := strings.Fields(sig)
	if strings.Join(spaced, "\x00") != strings.Join(fields, "\x00") {
		l |= hookwiseLenient // white space other than single spaces
	}
	canonical := base64.StdEncoding.EncodeToString(mac)
	for _, e := range spaced {
		if strings.Count(e, ",") > 1 {
			l |= sdkLenient // "v1,<sig>,x": the SDKs read only "<sig>"
		}
	}
	for _, e := range fields {
		if v, s, ok := strings.Cut(e, ","); ok && v == "v1" && s != canonical {
			if d, err := base64.StdEncoding.DecodeString(s); err == nil && hmac.Equal(d, mac) {
				l |= hookwiseLenient // a non-canonical spelling of the genuine MAC
			}
		}
	}
	return l
}
