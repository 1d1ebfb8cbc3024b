package crosscheck

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	hwtwilio "github.com/hookwise/hookwise/providers/twilio"
	"github.com/hookwise/hookwise/verify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	twilioclient "github.com/twilio/twilio-go/client"
)

const formContentType = "application/x-www-form-urlencoded"

func newTwilio(t testing.TB, token string, opts ...hwtwilio.Option) *hwtwilio.Provider {
	t.Helper()
	p, err := hwtwilio.New(token, opts...)
	require.NoError(t, err)
	return p
}

// twilioGoValidate runs twilio-go's POST validator.
func twilioGoValidate(token, fullURL string, body []byte, sig string) bool {
	v := twilioclient.NewRequestValidator(token)
	return v.ValidateBody(fullURL, body, sig)
}

// twilioRefSign computes Twilio's signature as twilio-go's validator does
// (its tests only carry known answers): base64 HMAC-SHA1 of the URL and the
// parameters sorted by name, name + value, one value per name.
func twilioRefSign(token, fullURL string, params map[string]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(fullURL))
	for _, k := range names {
		m.Write([]byte(k + params[k]))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

var twilioNames = []string{"AccountSid", "MessageSid", "SmsStatus", "MessageStatus", "From", "To", "Body", "CallSid", "CallStatus", "Digits", "EventType", "NumMedia", "a", "Z", "é", "x y", "k&=+"}

// randomTwilioForm returns single-valued form parameters: Twilio's names and
// odd ones, values with spaces, reserved characters and multi-byte text.
func randomTwilioForm(r *rand.Rand) url.Values {
	vals := url.Values{}
	runes := []rune("aZ09 +&=%?#;/:.,-_~🚀ßüé中\u200b'\"")
	for n := r.IntN(8); n > 0; n-- {
		var sb strings.Builder
		for k := r.IntN(40); k > 0; k-- {
			sb.WriteRune(runes[r.IntN(len(runes))])
		}
		vals.Set(twilioNames[r.IntN(len(twilioNames))], sb.String())
	}
	return vals
}

func firstValues(vals url.Values) map[string]string {
	m := make(map[string]string, len(vals))
	for k, v := range vals {
		m[k] = v[0]
	}
	return m
}

// randomTwilioURL returns an https URL Twilio might call: a random path,
// sometimes a port, sometimes a query.
func randomTwilioURL(r *rand.Rand) string {
	u := "https://hookwise.test"
	switch r.IntN(3) {
	case 0:
		u += ":8443"
	case 1:
		u += ":443"
	}
	u += "/twilio/" + randomToken(r, 1+r.IntN(12))
	if r.IntN(2) == 0 {
		u += "?foo=" + randomToken(r, 4) + "&bar=" + randomToken(r, 3)
	}
	return u
}

func randomTwilioToken(r *rand.Rand) string { return randomHexSecret(r) }

// withBodySHA256 appends bodySHA256=<hex SHA-256 of body> to u's query.
func withBodySHA256(u string, body []byte) string {
	sum := sha256.Sum256(body)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "bodySHA256=" + hex.EncodeToString(sum[:])
}

// twilioRequest builds the request Twilio sends to fullURL. With origin set
// it is a server request in origin form (as a server behind a proxy sees
// it), and the provider is given the public URL with WithURL.
func twilioRequest(t testing.TB, fullURL string, body []byte, ct, sig string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, fullURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if sig != "" {
		req.Header.Set(hwtwilio.HeaderSignature, sig)
	}
	return req
}

// twilioOriginRequest is twilioRequest in origin form (RequestURI "/path?q",
// as a server behind a proxy sees it) plus the WithURL option that gives the
// provider the public URL.
func twilioOriginRequest(t testing.TB, fullURL string, body []byte, ct, sig string) (*http.Request, hwtwilio.Option) {
	t.Helper()
	u, err := url.Parse(fullURL)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, u.RequestURI(), bytes.NewReader(body))
	req.Host = "internal:8080"
	req.Header.Set("Content-Type", ct)
	if sig != "" {
		req.Header.Set(hwtwilio.HeaderSignature, sig)
	}
	return req, hwtwilio.WithURL(u.Scheme + "://" + u.Host + u.EscapedPath())
}

// The known answer in twilio-go's request_validator_test.go (a Validate
// vector: GET-style parameters) passes Hookwise as a form POST to that URL,
// with and without a port.
func TestTwilioGoKnownAnswer(t *testing.T) {
	params := url.Values{}
	for k, v := range map[string]string{
		"Digits": "1234", "CallSid": "CA1234567890ABCDE", "To": "+18005551212",
		"Caller": "+14158675309", "From": "+14158675309", "ReasonConferenceEnded": "test", "Reason": "Participant",
	} {
		params.Set(k, v)
	}
	body := []byte(params.Encode())
	const sig = "vOEb5UThFn24KEfnOFLQY2AE5FY="
	for _, u := range []string{"https://mycompany.com/myapp.php?foo=1&bar=2", "https://mycompany.com:1234/myapp.php?foo=1&bar=2"} {
		require.True(t, twilioGoValidate("12345", u, body, sig), u)
		req := twilioRequest(t, u, body, formContentType, sig)
		assert.NoError(t, newTwilio(t, "12345").Verify(req, body), u)
		assert.ErrorIs(t, newTwilio(t, "12346").Verify(req, body), verify.ErrVerification, u)
	}
}

// Requests signed as twilio-go's validator computes (forms with one value
// per name; JSON bodies through bodySHA256; with and without the port) are
// accepted by twilio-go and by Hookwise; a tampered body is rejected by both.
func TestTwilioGoAcceptedHookwiseVerifies(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		token, base := randomTwilioToken(r), randomTwilioURL(r)
		form := i%2 == 0
		var body []byte
		var full, sig, ct string
		if form {
			vals := randomTwilioForm(r)
			body, full, ct = []byte(vals.Encode()), base, formContentType
			sig = twilioRefSign(token, full, firstValues(vals))
		} else {
			body, ct = randomBody(r, i), "application/json"
			full = withBodySHA256(base, body)
			sig = twilioRefSign(token, full, nil)
		}
		// Twilio may sign with or without the port; the request may show
		// either.
		signedURL := full
		switch r.IntN(3) {
		case 0:
			signedURL = strings.Replace(full, ":443/", "/", 1)
		case 1:
			if !strings.Contains(full, ".test:") {
				signedURL = strings.Replace(full, ".test/", ".test:443/", 1)
			}
		}
		if signedURL != full {
			if form {
				sig = twilioRefSign(token, signedURL, firstValues(mustParseQuery(t, body)))
			} else {
				sig = twilioRefSign(token, signedURL, nil)
			}
		}
		require.True(t, twilioGoValidate(token, full, body, sig), "case %d: twilio-go rejects the reference signature for %s", i, full)

		var req *http.Request
		var opts []hwtwilio.Option
		if i%4 < 2 {
			req = twilioRequest(t, full, body, ct, sig)
		} else {
			var o hwtwilio.Option
			req, o = twilioOriginRequest(t, full, body, ct, sig)
			opts = append(opts, o)
		}
		p := newTwilio(t, token, opts...)
		assert.NoError(t, p.Verify(req, body), "case %d: Hookwise rejects what twilio-go accepts (%s)", i, full)

		bad := tamper(r, body)
		if form {
			bad = append(bytes.Clone(body), 'x') // changes the last value, or adds a parameter
		}
		assert.False(t, twilioGoValidate(token, full, bad, sig), "case %d: twilio-go accepts a tampered body", i)
		assert.ErrorIs(t, p.Verify(req, bad), verify.ErrVerification, "case %d", i)
	}
}

func mustParseQuery(t testing.TB, body []byte) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(body))
	require.NoError(t, err)
	return v
}

// Hookwise's SignRequest produces what twilio-go's ValidateBody accepts,
// for forms (one value per name) and for JSON bodies (bodySHA256 added to
// the query); a tampered body is rejected by both.
func TestHookwiseSignsTwilioGoVerifies(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		token, base := randomTwilioToken(r), randomTwilioURL(r)
		form := i%2 == 0
		body, ct := randomBody(r, i), "application/json"
		if form {
			body, ct = []byte(randomTwilioForm(r).Encode()), formContentType
		}
		req := twilioRequest(t, base, body, ct, "")
		require.NoError(t, hwtwilio.SignRequest(req, body, token, time.Now()))
		full := req.URL.String()
		sig := req.Header.Get(hwtwilio.HeaderSignature)
		if form {
			assert.Equal(t, base, full, "case %d: SignRequest changed a form request's URL", i)
			assert.Equal(t, twilioRefSign(token, full, firstValues(mustParseQuery(t, body))), sig, "case %d: signature", i)
		} else {
			assert.Equal(t, withBodySHA256(base, body), full, "case %d: bodySHA256 query", i)
			assert.Equal(t, twilioRefSign(token, full, nil), sig, "case %d: signature", i)
		}
		assert.True(t, twilioGoValidate(token, full, body, sig), "case %d: twilio-go rejects Hookwise's signature for %s", i, full)
		p := newTwilio(t, token)
		assert.NoError(t, p.Verify(req, body), "case %d", i)

		bad := tamper(r, body)
		if form {
			bad = append(bytes.Clone(body), 'x')
		}
		assert.False(t, twilioGoValidate(token, full, bad, sig), "case %d: twilio-go accepts a tampered body", i)
		assert.ErrorIs(t, p.Verify(req, bad), verify.ErrVerification, "case %d", i)
	}
}

// twilioCase is one delivery as both sides see it: the URL Twilio called,
// the body, Content-Type and signature header.
type twilioCase struct {
	url, ct, sig string
	body         []byte
}

// twilioMutation turns a valid delivery into another; token re-signs where
// the mutation is a re-signed variant.
type twilioMutation struct {
	name string
	form bool // applies to form deliveries (else to bodySHA256 ones)
	f    func(r *rand.Rand, token string, c twilioCase) twilioCase
}

func resign(token string, c twilioCase, params map[string]string) twilioCase {
	c.sig = twilioRefSign(token, c.url, params)
	return c
}

var twilioMutations = []twilioMutation{
	{"none", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase { return c }},
	{"none", false, func(_ *rand.Rand, _ string, c twilioCase) twilioCase { return c }},
	{"value changed", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.body = append(c.body, 'x')
		return c
	}},
	{"body tampered", false, func(r *rand.Rand, _ string, c twilioCase) twilioCase {
		c.body = tamper(r, c.body)
		return c
	}},
	{"parameters reordered", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		parts := strings.Split(string(c.body), "&")
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		c.body = []byte(strings.Join(parts, "&"))
		return c
	}},
	{"signature char changed", true, func(r *rand.Rand, _ string, c twilioCase) twilioCase {
		b := []byte(c.sig)
		i := r.IntN(len(b) - 1)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		c.sig = string(b)
		return c
	}},
	{"no signature", false, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.sig = ""
		return c
	}},
	{"other token", true, func(r *rand.Rand, _ string, c twilioCase) twilioCase {
		return resign(randomTwilioToken(r), c, firstValues(mustParseQueryNoT(c.body)))
	}},
	{"path changed", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.url = strings.Replace(c.url, "/twilio/", "/twilio/x", 1)
		return c
	}},
	{"http instead of https", false, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.url = "http" + strings.TrimPrefix(c.url, "https")
		return c
	}},
	{"query parameter added", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		if strings.Contains(c.url, "?") {
			c.url += "&extra=1"
		} else {
			c.url += "?extra=1"
		}
		return c
	}},
	{"default port added", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.url = strings.Replace(c.url, ".test/", ".test:443/", 1)
		return c
	}},
	{"signature without padding", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.sig = strings.TrimRight(c.sig, "=")
		return c
	}},
	{"signature URL-safe base64", false, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.sig = strings.NewReplacer("+", "-", "/", "_").Replace(c.sig)
		return c
	}},
	{"spaces around signature", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.sig = " " + c.sig + " "
		return c
	}},
	{"repeated parameter, signed first value only", true, func(_ *rand.Rand, token string, c twilioCase) twilioCase {
		c.body = append(c.body, "&Body=zz&Body=aa"...)
		return resign(token, c, firstValues(mustParseQueryNoT(c.body)))
	}},
	{"repeated parameter, signed all values", true, func(_ *rand.Rand, token string, c twilioCase) twilioCase {
		c.body = append(c.body, "&Body=zz&Body=aa"...)
		return resignAll(token, c)
	}},
	{"malformed pair", true, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.body = append(c.body, "&%zz=1"...)
		return c
	}},
	{"JSON as form Content-Type", false, func(_ *rand.Rand, _ string, c twilioCase) twilioCase {
		c.ct = formContentType
		return c
	}},
	{"JSON without bodySHA256, signed as a form", false, func(_ *rand.Rand, token string, c twilioCase) twilioCase {
		c.url = c.url[:strings.LastIndex(c.url, "bodySHA256=")-1]
		c.body = []byte(`{"type":"x"}`)
		return resign(token, c, map[string]string{`{"type":"x"}`: ""})
	}},
	{"bodySHA256 upper-case, re-signed", false, func(_ *rand.Rand, token string, c twilioCase) twilioCase {
		i := strings.LastIndex(c.url, "bodySHA256=") + len("bodySHA256=")
		c.url = c.url[:i] + strings.ToUpper(c.url[i:])
		return resign(token, c, nil)
	}},
	{"second bogus bodySHA256, re-signed", false, func(_ *rand.Rand, token string, c twilioCase) twilioCase {
		c.url += "&bodySHA256=00"
		return resign(token, c, nil)
	}},
}

func mustParseQueryNoT(body []byte) url.Values {
	v, _ := url.ParseQuery(string(body))
	return v
}

// resignAll signs c as Hookwise and twilio-python do for a form with a
// repeated name: every value, sorted.
func resignAll(token string, c twilioCase) twilioCase {
	vals := mustParseQueryNoT(c.body)
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(c.url))
	for _, k := range names {
		vs := append([]string(nil), vals[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			m.Write([]byte(k + v))
		}
	}
	c.sig = base64.StdEncoding.EncodeToString(m.Sum(nil))
	return c
}

// twilioKnown pins the mutations on which Hookwise and twilio-go disagree,
// as {Hookwise accepts, twilio-go accepts}; see README.md.
var twilioKnown = map[string][2]bool{
	// Hookwise trims the header value; twilio-go compares strings.
	"spaces around signature": {true, false},
	// twilio-go signs and checks the first value of each name only;
	// Hookwise (as twilio-python and Twilio's documentation) every value.
	"repeated parameter, signed first value only": {false, true},
	"repeated parameter, signed all values":       {true, false},
	// Hookwise compares the decoded hash; twilio-go the hex string.
	"bodySHA256 upper-case, re-signed": {true, false},
	// Hookwise refuses two bodySHA256 parameters; twilio-go reads the first.
	"second bogus bodySHA256, re-signed": {false, true},
	// Hookwise requires a form (or bodySHA256) so every byte is signed;
	// twilio-go parses any body as a query string.
	"JSON without bodySHA256, signed as a form": {false, true},
}

// Hookwise and twilio-go agree on accept/reject for valid deliveries under
// every mutation, except the pinned known differences.
func TestTwilioDifferential(t *testing.T) {
	r := newRand(t)
	seen := map[string]int{}
	for i := 0; i < iterations; i++ {
		token, base := randomTwilioToken(r), randomTwilioURL(r)
		vals := randomTwilioForm(r)
		formCase := twilioCase{url: base, ct: formContentType, body: []byte(vals.Encode())}
		formCase.sig = twilioRefSign(token, base, firstValues(vals))
		jb := randomBody(r, i)
		jsonCase := twilioCase{url: withBodySHA256(base, jb), ct: "application/json", body: jb}
		jsonCase.sig = twilioRefSign(token, jsonCase.url, nil)
		p := newTwilio(t, token)
		for _, m := range twilioMutations {
			c := jsonCase
			if m.form {
				c = formCase
			}
			c.body = bytes.Clone(c.body)
			c = m.f(r, token, c)
			name := m.name
			if name == "none" && m.form {
				name = "none (form)"
			}
			hw := p.Verify(twilioRequest(t, c.url, c.body, c.ct, c.sig), c.body)
			sdk := twilioGoValidate(token, c.url, c.body, c.sig)
			seen[name]++
			if want, ok := twilioKnown[name]; ok {
				assert.Equal(t, want, [2]bool{hw == nil, sdk}, "case %d %q: Hookwise %s, twilio-go %v", i, name, verdict(hw), sdk)
				continue
			}
			if !assert.Equal(t, sdk, hw == nil, "case %d %q: Hookwise %s, twilio-go %v (%s)", i, name, verdict(hw), sdk, c.url) {
				continue
			}
			if strings.HasPrefix(name, "none") {
				assert.True(t, sdk, "case %d: unmutated delivery rejected", i)
			}
			if hw != nil {
				assert.ErrorIs(t, hw, verify.ErrVerification, "case %d %q", i, name)
			}
		}
	}
	assert.Len(t, seen, len(twilioMutations))
	for name, n := range seen {
		assert.Equal(t, iterations, n, "mutation %q", name)
	}
}
