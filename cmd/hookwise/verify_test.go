package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signed returns a delivery of provider signed with secret at now, as
// "hookwise sign" builds it, with extra send options.
func signed(t *testing.T, provider, secret string, now time.Time, o sendOptions) (*http.Request, []byte) {
	t.Helper()
	e, _, _ := testEnv()
	e.now = func() time.Time { return now }
	o.secret = secret
	req, body, _, err := buildDelivery(provider, o, e)
	require.NoError(t, err)
	return req, body
}

// rawCapture renders a request as a proxy would save it, with the request
// line's target, Host, the headers and body (Content-Length matching).
func rawCapture(target, host string, h http.Header, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", target, host)
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

// runVerify runs "hookwise verify" and returns its exit code and output.
func runVerify(t *testing.T, now time.Time, args ...string) (int, string) {
	t.Helper()
	e, out, errb := testEnv()
	e.now = func() time.Time { return now }
	code := run(context.Background(), append([]string{"verify"}, args...), e)
	return code, out.String() + errb.String()
}

// Each cause verify names, shown on a capture made to fail that way. The
// output names the cause's code, and never the secret.
func TestVerifyDiagnosesEachCause(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const stripeSecret = "whsec_c3RyaXBlLXRlc3Qtc2lnbmluZy1zZWNyZXQ"
	const ghSecret = "gh-test-webhook-secret-7d1f"
	stripeReq, stripeBody := signed(t, "stripe", stripeSecret, now, sendOptions{})
	ghReq, ghBody := signed(t, "github", ghSecret, now, sendOptions{})

	indented := func(b []byte) []byte {
		var out bytes.Buffer
		require.NoError(t, json.Indent(&out, b, "", "  "))
		return out.Bytes()
	}
	reencode := func(h http.Header, name string, f func(string) string) http.Header {
		h = h.Clone()
		h.Set(name, f(h.Get(name)))
		return h
	}

	// Charset: a body with non-ASCII text, converted to Latin-1 on the way.
	utfReq, utfBody := signed(t, "stripe", stripeSecret, now, sendOptions{sets: multi{"data.object.customer_name=Zoë Faßbender"}})
	latin1, ok := utf8ToLatin1(utfBody)
	require.True(t, ok)

	// Twilio behind a proxy: signed for the public URL, arrived at the
	// internal one.
	twReq, twBody := signed(t, "twilio", "twilio-auth-token-0123456789abcdef", now, sendOptions{url: "https://hooks.example.com/twilio/sms"})
	twHeader := twReq.Header.Clone()
	twHeader.Set("X-Forwarded-Proto", "https")
	twHeader.Set("X-Forwarded-Host", "hooks.example.com")

	// Standard Webhooks with the raw key where whsec_ + base64 is
	// expected.
	stdKey := "standard-raw-key-material-0042"
	stdSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte(stdKey))
	stdReq, stdBody := signed(t, "standard", stdSecret, now, sendOptions{})

	// Shopify's signature is base64; GitHub's hex.
	shReq, shBody := signed(t, "shopify", "shopify-client-secret-9f8e7d", now, sendOptions{})

	oldReq, oldBody := signed(t, "stripe", stripeSecret, now.Add(-10*time.Minute), sendOptions{})

	cases := []struct {
		name, provider, secret string
		capture                []byte
		code                   string
		want                   []string // more text the diagnosis must hold
		never                  []string // secrets the output must not hold
	}{
		{name: "wrong secret", provider: "stripe", secret: "whsec_b3RoZXItZW5kcG9pbnQtc2VjcmV0LXZhbHVl",
			capture: rawCapture("/webhooks/stripe", "example.com", stripeReq.Header, stripeBody), code: "wrong-secret"},
		{name: "API key instead of the signing secret", provider: "stripe", secret: "sk_test_51Hx9yLkdIwHu7ixAbCdEf",
			capture: rawCapture("/webhooks/stripe", "example.com", stripeReq.Header, stripeBody), code: "api-key", want: []string{"Stripe secret API key"}},
		{name: "whsec_ prefix missing", provider: "stripe", secret: strings.TrimPrefix(stripeSecret, "whsec_"),
			capture: rawCapture("/webhooks/stripe", "example.com", stripeReq.Header, stripeBody), code: "whsec-missing"},
		{name: "whsec_ prefix extra", provider: "github", secret: "whsec_" + ghSecret,
			capture: rawCapture("/webhooks/github", "example.com", ghReq.Header, ghBody), code: "whsec-extra"},
		{name: "base64 where the raw key is used", provider: "github", secret: base64.StdEncoding.EncodeToString([]byte(ghSecret)),
			capture: rawCapture("/webhooks/github", "example.com", ghReq.Header, ghBody), code: "secret-base64"},
		{name: "raw key where whsec_ base64 is expected", provider: "standard", secret: stdKey,
			capture: rawCapture("/webhooks/standard", "example.com", stdReq.Header, stdBody), code: "secret-raw"},
		{name: "hex where base64 is expected", provider: "shopify", secret: "shopify-client-secret-9f8e7d",
			capture: rawCapture("/webhooks/shopify", "example.com", reencode(shReq.Header, "X-Shopify-Hmac-Sha256", func(v string) string {
				b, _ := base64.StdEncoding.DecodeString(v)
				return hex.EncodeToString(b)
			}), shBody), code: "encoding-hex"},
		{name: "base64 where hex is expected", provider: "github", secret: ghSecret,
			capture: rawCapture("/webhooks/github", "example.com", reencode(ghReq.Header, "X-Hub-Signature-256", func(v string) string {
				b, _ := hex.DecodeString(strings.TrimPrefix(v, "sha256="))
				return "sha256=" + base64.StdEncoding.EncodeToString(b)
			}), ghBody), code: "encoding-base64"},
		{name: "clock skew", provider: "stripe", secret: stripeSecret,
			capture: rawCapture("/webhooks/stripe", "example.com", oldReq.Header, oldBody), code: "clock-skew",
			want: []string{"Measured offset: 10m0s", "2026-05-01T11:50:00Z", "-now 2026-05-01T11:50:00Z"}},
		{name: "re-serialized JSON", provider: "stripe", secret: stripeSecret,
			capture: rawCapture("/webhooks/stripe", "example.com", stripeReq.Header, indented(stripeBody)), code: "body-reserialized"},
		{name: "trailing newline", provider: "stripe", secret: stripeSecret,
			capture: rawCapture("/webhooks/stripe", "example.com", stripeReq.Header, append(bytes.Clone(stripeBody), '\n')), code: "body-trailing-newline"},
		{name: "charset conversion", provider: "stripe", secret: stripeSecret,
			capture: rawCapture("/webhooks/stripe", "example.com", utfReq.Header, latin1), code: "body-charset"},
		{name: "a different URL (Twilio behind a proxy)", provider: "twilio", secret: "twilio-auth-token-0123456789abcdef",
			capture: rawCapture("/twilio/sms", "10.0.0.5:8080", twHeader, twBody), code: "url-mismatch",
			want: []string{"https://hooks.example.com/twilio/sms", "http://10.0.0.5:8080/twilio/sms"}},
		{name: "missing header", provider: "stripe", secret: stripeSecret,
			capture: rawCapture("/webhooks/stripe", "example.com", reencode(stripeReq.Header, "Stripe-Signature", func(string) string { return "" }), stripeBody),
			code:    "missing-header", want: []string{"Stripe-Signature"}},
		{name: "headers from another provider", provider: "stripe", secret: ghSecret,
			capture: rawCapture("/webhooks/stripe", "example.com", ghReq.Header, ghBody), code: "other-provider",
			want: []string{"X-Hub-Signature-256", "github", "it verifies as github with this secret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "capture.http", c.capture)
			code, out := runVerify(t, now, c.provider, "-secret", c.secret, "-request", path)
			t.Log(out)
			assert.Equal(t, exitNegative, code)
			assert.Contains(t, out, "likely cause ["+c.code+"]")
			for _, w := range c.want {
				assert.Contains(t, out, w)
			}
			for _, s := range []string{c.secret, stripeSecret, ghSecret, stdKey, strings.TrimPrefix(stripeSecret, "whsec_")} {
				assert.NotContains(t, out, s, "the output quotes a secret")
			}
		})
	}
}

func TestVerifyVerifies(t *testing.T) {
	now := time.Now()
	req, body := signed(t, "stripe", "whsec_dev_stripe_secret", now, sendOptions{id: "evt_verify_1"})
	path := writeFile(t, "ok.http", rawCapture("/webhooks/stripe", "example.com", req.Header, body))
	code, out := runVerify(t, now, "stripe", "-secret", "whsec_dev_stripe_secret", "-request", path)
	assert.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "verified: a stripe delivery, event evt_verify_1, type invoice.paid")

	// -headers and -body, the headers as copied from HTTP/2 developer
	// tools; -json.
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, ":method: POST\n:path: /webhooks/stripe\n:authority: example.com\n")
	for _, k := range sortedKeys(req.Header) {
		fmt.Fprintf(&hdr, "%s: %s\n", strings.ToLower(k), req.Header.Get(k))
	}
	hp := writeFile(t, "headers.txt", hdr.Bytes())
	bp := writeFile(t, "body.json", body)
	code, out = runVerify(t, now, "stripe", "-secret", "whsec_dev_stripe_secret", "-headers", hp, "-body", bp, "-json")
	assert.Equal(t, exitOK, code, out)
	var v verdict
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.True(t, v.Verified)
	assert.Equal(t, "evt_verify_1", v.ID)

	// An old capture verifies as of its time.
	oldReq, oldBody := signed(t, "stripe", "whsec_dev_stripe_secret", now.Add(-48*time.Hour), sendOptions{})
	op := writeFile(t, "old.http", rawCapture("/webhooks/stripe", "example.com", oldReq.Header, oldBody))
	code, _ = runVerify(t, now, "stripe", "-secret", "whsec_dev_stripe_secret", "-request", op)
	assert.Equal(t, exitNegative, code)
	code, out = runVerify(t, now, "stripe", "-secret", "whsec_dev_stripe_secret", "-request", op, "-now", now.Add(-48*time.Hour).UTC().Format(time.RFC3339))
	assert.Equal(t, exitOK, code, out)
}

// Exit code 4: the signature verifies, the envelope does not read (a
// receiver answers 400).
func TestVerifyEnvelopeRefused(t *testing.T) {
	now := time.Now()
	e, _, _ := testEnv()
	e.readFile = func(string) ([]byte, error) { return []byte(`{"object":"event","data":{}}`), nil }
	req, body, _, err := buildDelivery("stripe", sendOptions{data: "x.json"}, e)
	require.NoError(t, err)
	path := writeFile(t, "noid.http", rawCapture("/webhooks/stripe", "example.com", req.Header, body))
	code, out := runVerify(t, now, "stripe", "-secret", "whsec_dev_stripe_secret", "-request", path)
	assert.Equal(t, exitEnvelope, code, out)
	assert.Contains(t, out, "would refuse it (400)")
}

func TestVerifyUsageAndInputErrors(t *testing.T) {
	now := time.Now()
	code, _ := runVerify(t, now, "stripe", "-secret", "x")
	assert.Equal(t, exitUsage, code)
	code, _ = runVerify(t, now, "nope", "-secret", "x", "-request", "f")
	assert.Equal(t, exitUsage, code)
	code, _ = runVerify(t, now, "stripe", "-request", "f")
	assert.Equal(t, exitUsage, code)
	code, _ = runVerify(t, now, "stripe", "-secret", "x", "-request", filepath.Join(t.TempDir(), "missing"))
	assert.Equal(t, exitIO, code)
	code, out := runVerify(t, now, "stripe", "-secret", "x", "-request", writeFile(t, "junk", []byte("not a request at all\x00\x01")))
	assert.Equal(t, exitIO, code)
	assert.NotContains(t, out, "not a request at all")
}

// Bounds: a capture of maxCapture bytes is read, one byte more is refused
// before it is parsed; more than maxHeaderLines header lines, or a line
// over maxHeaderLine, are refused.
func TestCaptureBounds(t *testing.T) {
	head := []byte("POST /h HTTP/1.1\r\nHost: x\r\n\r\n")
	body := bytes.Repeat([]byte("a"), maxCapture-len(head))
	c, err := parseRequest(append(bytes.Clone(head), body...))
	require.NoError(t, err)
	assert.Len(t, c.body, len(body))
	_, err = parseRequest(append(append(bytes.Clone(head), body...), 'a'))
	assert.ErrorIs(t, err, errTooLarge)

	big := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(big, make([]byte, maxInputFile+1), 0o600))
	_, err = readFileBounded(big)
	assert.ErrorIs(t, err, errTooLarge)
	code, _ := runVerify(t, time.Now(), "stripe", "-secret", "x", "-request", big)
	assert.Equal(t, exitIO, code)

	lines := "POST /h HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", maxHeaderLines-2) + "\r\n"
	_, err = parseRequest([]byte(lines))
	require.NoError(t, err)
	lines = "POST /h HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", maxHeaderLines-1) + "\r\n"
	_, err = parseRequest([]byte(lines))
	assert.ErrorIs(t, err, errCapture)
	_, err = parseRequest([]byte("POST /h HTTP/1.1\r\nX-A: " + strings.Repeat("b", maxHeaderLine) + "\r\n\r\n"))
	assert.ErrorIs(t, err, errCapture)
	_, err = parseHeaders([]byte(strings.Repeat("X-A: b\n", maxHeaderLines+1)), nil)
	assert.ErrorIs(t, err, errCapture)
}

func TestParseRequestForms(t *testing.T) {
	// LF line endings, no Content-Length: the rest of the file.
	c, err := parseRequest([]byte("\nPOST /a?b=1 HTTP/1.1\nHost: h\nX-Sig: s\n\n{\"a\":1}"))
	require.NoError(t, err)
	assert.Equal(t, "/a?b=1", c.target)
	assert.Equal(t, "h", c.host)
	assert.Equal(t, `{"a":1}`, string(c.body))
	assert.NotEmpty(t, c.notes)
	// Chunked.
	c, err = parseRequest([]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"))
	require.NoError(t, err)
	assert.Equal(t, "abcde", string(c.body))
	// Truncated.
	_, err = parseRequest([]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"))
	assert.ErrorIs(t, err, errCapture)
	// Bytes after the declared body are noted, not taken.
	c, err = parseRequest([]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\n"))
	require.NoError(t, err)
	assert.Equal(t, "abc", string(c.body))
	assert.NotEmpty(t, c.notes)
	// A headers file whose Content-Length disagrees with the body file.
	c, err = parseHeaders([]byte("POST /x HTTP/1.1\nHost: h\nContent-Length: 3\n"), []byte("abc\n"))
	require.NoError(t, err)
	assert.Equal(t, "/x", c.target)
	assert.Contains(t, strings.Join(c.notes, " "), "Content-Length header says 3")
}

// FuzzParseRequest: the raw request parser never panics, errors match
// errCapture and quote nothing of the input, and a parsed capture turns
// into a request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
		"POST /a?b=1 HTTP/1.1\nHost: h\n\n{}",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST http://x/y HTTP/1.1\r\n\r\n", "GET / HTTP/1.0\r\n\r\n", "", "\r\n\r\n", "POST", "POST / HTTP/9.9\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nX: \xff\xfe\r\n\r\n", "POST /%zz HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseRequest(data)
		if err != nil {
			if !strings.Contains(err.Error(), "capture") {
				t.Fatalf("error does not match errCapture: %v", err)
			}
			if len(data) >= 24 && strings.Contains(err.Error(), string(data)) {
				t.Fatalf("error quotes the input")
			}
			return
		}
		if _, err := c.request(); err != nil && !strings.Contains(err.Error(), "capture") {
			t.Fatalf("request: %v", err)
		}
	})
}

// FuzzParseHeaders: the headers-file parser never panics and its errors
// match errCapture.
func FuzzParseHeaders(f *testing.F) {
	for _, s := range []string{"POST /x HTTP/1.1\nHost: h\nX-Sig: s\n", ":method: POST\n:path: /p\n:authority: h\nx-a: b\n", "nocolon\n", ":bad\n", "A: b\r\n\r\nignored", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseHeaders(data, []byte("body"))
		if err != nil {
			if !strings.Contains(err.Error(), "capture") {
				t.Fatalf("error does not match errCapture: %v", err)
			}
			return
		}
		_, _ = c.request()
	})
}

// Bounds of a diagnosis: on a capture near the size limit that no variant
// verifies, the verifications stop at maxCheckedBytes, and the body is not
// re-serialized (only the cheap variants).
func TestDiagnosisBounds(t *testing.T) {
	now := time.Now()
	body := append([]byte(`{"id":"evt_big","object":"event","type":"invoice.paid","pad":"`), bytes.Repeat([]byte("x"), 10<<20)...)
	body = append(body, `"}`...)
	req, _ := signed(t, "stripe", "whsec_the_senders_secret", now, sendOptions{})
	c := &capture{method: "POST", target: "/webhooks/stripe", host: "example.com", header: req.Header, body: body}
	v := diagnose(diagnosis{name: "stripe", secret: "whsec_another_secret", params: map[string]string{}, now: now, cap: c})
	assert.False(t, v.Verified)
	assert.LessOrEqual(t, v.CheckedBytes, maxCheckedBytes+len(body)+1024)
	assert.Greater(t, v.Checks, 0)
	assert.Less(t, v.Checks, 200, "a 10 MiB body is verified at most ~100 times")
	n := len(bodyVariants(append(bytes.Clone(body), '\n')))
	assert.Equal(t, 2, n, "large bodies get the trailing-newline variant only")

	// Many headers: the re-encodings tried are bounded.
	h := http.Header{}
	for i := range 2000 {
		h.Set(fmt.Sprintf("X-H%d", i), strings.Repeat("ab", 32))
	}
	assert.LessOrEqual(t, len(headerVariants(h)), maxHeaderVariants+3)
}

// FuzzDiagnose: verify's diagnosis of a hostile capture never panics and
// never prints the secret.
func FuzzDiagnose(f *testing.F) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const secret = "whsec_fuzz-secret-value-0123"
	req, body := signed(&testing.T{}, "stripe", secret, now, sendOptions{id: "evt_fuzz"})
	f.Add(rawCapture("/webhooks/stripe", "example.com", req.Header, body))
	f.Add([]byte("POST / HTTP/1.1\r\nStripe-Signature: t=1777636800,v1=" + strings.Repeat("ab", 32) + "\r\n\r\n{}"))
	f.Add([]byte("POST / HTTP/1.1\r\nStripe-Signature: " + strings.Repeat("v1=00,", 40) + "\r\nX-Forwarded-Host: a\r\n\r\n\xff\xfe"))
	f.Add([]byte("POST /x HTTP/1.1\r\nX-Hub-Signature-256: sha256=" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\r\n\r\n[1,2]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseRequest(data)
		if err != nil {
			return
		}
		v := diagnose(diagnosis{name: "stripe", secret: secret, params: map[string]string{}, now: now, cap: c})
		b, _ := json.Marshal(v)
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte("fuzz-secret-value")) {
			t.Fatalf("the diagnosis quotes the secret")
		}
	})
}

// A generic scheme's signature header is the one its parameters name: a
// capture signed with a custom header is not "missing" the default one,
// and one without it is.
func TestVerifyGenericHeaderParams(t *testing.T) {
	now := time.Now()
	params := multi{"header=X-Acme-Signature", "prefix=v1=", "id-json=id", "type-json=type"}
	req, body := signed(t, "hmac", "acme-secret-0042", now, sendOptions{params: params})
	require.NotEmpty(t, req.Header.Get("X-Acme-Signature"))
	path := writeFile(t, "acme.http", rawCapture("/hooks", "example.com", req.Header, body))
	code, out := runVerify(t, now, "hmac", "-secret", "acme-secret-0042", "-request", path,
		"-param", "header=X-Acme-Signature", "-param", "prefix=v1=", "-param", "id-json=id", "-param", "type-json=type")
	assert.Equal(t, exitOK, code, out)
	h := req.Header.Clone()
	h.Del("X-Acme-Signature")
	path = writeFile(t, "acme2.http", rawCapture("/hooks", "example.com", h, body))
	code, out = runVerify(t, now, "hmac", "-secret", "acme-secret-0042", "-request", path,
		"-param", "header=X-Acme-Signature", "-param", "prefix=v1=", "-param", "id-json=id", "-param", "type-json=type")
	assert.Equal(t, exitNegative, code)
	assert.Contains(t, out, "[missing-header]")
	assert.Contains(t, out, "X-Acme-Signature")
}
