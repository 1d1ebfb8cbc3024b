package twilio_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/twilio"
	"github.com/hookwise/hookwise/verify"
)

var (
	formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	jsonHeader = http.Header{"Content-Type": {"application/json"}}
)

// formID is the ID of a form body: the SHA-256 of its parameters in
// canonical order.
func formID(body string) string {
	vals, err := url.ParseQuery(body)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256([]byte(vals.Encode())) // sorted by name; the samples repeat no name
	return hex.EncodeToString(sum[:])
}

func hash(b string) string {
	sum := sha256.Sum256([]byte(b))
	return hex.EncodeToString(sum[:])
}

const (
	inboundSMS = "ToCountry=US&ToState=CA&SmsMessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&NumMedia=0&ToCity=&FromZip=&SmsSid=SM1f0e8ae6ade43cb3c0ce4525424e404f" +
		"&FromState=CA&SmsStatus=received&FromCity=&Body=Hello+%F0%9F%91%8B+world%21&FromCountry=US&To=%2B15017122661&ToZip=&NumSegments=1" +
		"&MessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&From=%2B15558675310&ApiVersion=2010-04-01"
	statusCallback = "MessageStatus=delivered&MessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX" +
		"&From=%2B15017122661&To=%2B15558675310&ApiVersion=2010-04-01&SmsStatus=delivered&SmsSid=SM1f0e8ae6ade43cb3c0ce4525424e404f"
	voice = "CallSid=CA1234567890ABCDE&AccountSid=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX&From=%2B14158675309&To=%2B18005551212" +
		"&CallStatus=ringing&Direction=inbound&ApiVersion=2010-04-01&Caller=%2B14158675309&Called=%2B18005551212"
	conversations = "EventType=onMessageAdded&ConversationSid=CH123&MessageSid=IM123&Author=alice&Body=hi&Source=SDK&Index=0"
	eventStreams  = `{"specversion":"1.0","type":"com.twilio.messaging.message.delivered","source":"/2010-04-01/Accounts/AC1/Messages/SM1.json",` +
		`"id":"EZ1f0e8ae6ade43cb3c0ce4525424e404f","dataschema":"https://events-schemas.twilio.com/Messaging.MessageStatus/1",` +
		`"datacontenttype":"application/json","time":"2025-01-01T00:00:00.000Z","data":{"messageSid":"SM1","messageStatus":"DELIVERED"}}`
)

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return twilio.New(c.Secrets[0], twilio.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    twilio.SignRequest,
		Secrets: []string{"12345", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "54321"},
		Samples: []providertest.Sample{
			{Name: "incoming SMS", Header: formHeader, Body: []byte(inboundSMS), ID: formID(inboundSMS), Type: "message.received"},
			{Name: "message status", Header: formHeader, Body: []byte(statusCallback), ID: formID(statusCallback), Type: "message.delivered"},
			{Name: "voice", Header: formHeader, Body: []byte(voice), ID: formID(voice), Type: "call.ringing"},
			{Name: "conversations", Header: formHeader, Body: []byte(conversations), ID: formID(conversations), Type: "onMessageAdded"},
			{Name: "JSON", Header: jsonHeader, Body: []byte(eventStreams), ID: hash(eventStreams), Type: "com.twilio.messaging.message.delivered"},
		},
		Malformed: []providertest.Sample{
			{Name: "two MessageStatus", Header: formHeader, Body: []byte("MessageSid=SM1&MessageStatus=sent&MessageStatus=delivered")},
			{Name: "two EventType", Header: formHeader, Body: []byte("EventType=a&EventType=b")},
			{Name: "JSON type not a string", Header: jsonHeader, Body: []byte(`{"type":1}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`type=a`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", twilio.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), twilio.HeaderSignature)
}

// The vectors' requests verify when they arrive at a server behind a proxy,
// with the public URL configured, and not without it.
func TestWithURL(t *testing.T) {
	for _, v := range providertest.LoadVectors(t, "../testdata/vectors.json", twilio.Name) {
		t.Run(v.ID, func(t *testing.T) {
			p, err := twilio.New(v.Secret, twilio.WithURL(v.URL))
			require.NoError(t, err)
			bare, err := twilio.New(v.Secret)
			require.NoError(t, err)
			vr, body := v.Request()
			r := httptest.NewRequest(http.MethodPost, "http://10.0.0.7:8080"+vr.URL.Path+"?"+vr.URL.RawQuery, strings.NewReader(v.Body))
			r.Header = vr.Header.Clone()
			err = p.Verify(r, body)
			if v.Valid() {
				assert.NoError(t, err)
				assert.ErrorIs(t, bare.Verify(r, body), verify.ErrSignatureMismatch, "the URL the proxy forwarded to")
				return
			}
			assert.ErrorIs(t, err, verify.ErrVerification)
		})
	}
}

// A server request without WithURL is verified against its Host header,
// its request target and TLS.
func TestServerRequestURL(t *testing.T) {
	p, err := twilio.New("12345")
	require.NoError(t, err)
	body := []byte(voice)
	for _, target := range []string{"https://example.com/voice?x=1", "http://example.com:8080/voice", "https://example.com:443/a%2Fb?q=%20"} {
		client, err := http.NewRequest(http.MethodPost, target, nil)
		require.NoError(t, err)
		client.Header = formHeader.Clone()
		require.NoError(t, twilio.SignRequest(client, body, "12345", time.Time{}))
		u, err := url.Parse(target)
		require.NoError(t, err)
		server := httptest.NewRequest(http.MethodPost, u.RequestURI(), strings.NewReader(string(body)))
		server.Host = u.Host
		server.Header = client.Header.Clone()
		if u.Scheme == "https" {
			server.TLS = &tls.ConnectionState{}
		}
		assert.NoError(t, p.Verify(server, body), target)
		server.Host = "evil.example"
		assert.ErrorIs(t, p.Verify(server, body), verify.ErrSignatureMismatch, target)
	}
}

func TestPorts(t *testing.T) {
	body := []byte(voice)
	sign := func(u string) http.Header {
		r, err := http.NewRequest(http.MethodPost, u, nil)
		require.NoError(t, err)
		r.Header = formHeader.Clone()
		require.NoError(t, twilio.SignRequest(r, body, "12345", time.Time{}))
		return r.Header
	}
	for _, tc := range []struct {
		signed, seen string
		ok           bool
	}{
		{"https://example.com/v", "https://example.com:443/v", true},
		{"https://example.com:443/v", "https://example.com/v", true},
		{"http://example.com:80/v", "http://example.com/v", true},
		{"https://example.com/v", "https://example.com:8443/v", true}, // as twilio-go: any port removed
		{"https://example.com:8443/v", "https://example.com/v", false},
		{"https://example.com:80/v", "https://example.com/v", false},
		{"https://[::1]/v", "https://[::1]:443/v", true},
		{"https://[::1]:443/v", "https://[::1]/v", true},
		{"https://example.com/v", "http://example.com/v", false},
		{"https://example.com/v", "https://example.com/w", false},
		{"https://example.com/v?a=1", "https://example.com/v?a=2", false},
	} {
		p, err := twilio.New("12345", twilio.WithURL(tc.seen))
		require.NoError(t, err)
		seen, err := url.Parse(tc.seen)
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodPost, "http://internal/"+"?"+seen.RawQuery, nil)
		r.Header = sign(tc.signed)
		err = p.Verify(r, body)
		if tc.ok {
			assert.NoError(t, err, "signed %s, seen %s", tc.signed, tc.seen)
		} else {
			assert.ErrorIs(t, err, verify.ErrVerification, "signed %s, seen %s", tc.signed, tc.seen)
		}
	}
}

// Every byte of a request Twilio sent is covered: a body that is not a form
// needs bodySHA256, which must be a single hex SHA-256 of the body.
func TestBodyCovered(t *testing.T) {
	p, err := twilio.New("12345")
	require.NoError(t, err)
	// A request signed over its URL alone (an empty form).
	r, err := http.NewRequest(http.MethodPost, "https://example.com/hook", nil)
	require.NoError(t, err)
	r.Header = formHeader.Clone()
	require.NoError(t, twilio.SignRequest(r, nil, "12345", time.Time{}))
	require.NoError(t, p.Verify(r, nil))
	json := r.Clone(r.Context())
	json.Header.Set("Content-Type", "application/json")
	assert.ErrorIs(t, p.Verify(json, []byte(`{"forged":true}`)), verify.ErrVerification, "a JSON body under a URL-only signature")
	assert.ErrorIs(t, p.Verify(r, []byte(`Digits=1`)), verify.ErrSignatureMismatch, "a form parameter added")

	body := []byte(eventStreams)
	r, err = http.NewRequest(http.MethodPost, "https://example.com/hook?a=1", nil)
	require.NoError(t, err)
	r.Header = jsonHeader.Clone()
	require.NoError(t, twilio.SignRequest(r, body, "12345", time.Time{}))
	require.NoError(t, p.Verify(r, body))
	for _, q := range []string{
		r.URL.RawQuery + "&bodySHA256=" + hash(eventStreams),
		"a=1&bodySHA256=" + hash(eventStreams)[:62],
		"a=1&bodySHA256=" + strings.ToUpper(hash(eventStreams)) + "zz",
		"a=1&bodySHA256=",
	} {
		c := r.Clone(r.Context())
		c.URL.RawQuery = q
		assert.ErrorIs(t, p.Verify(c, body), verify.ErrVerification, q)
	}
}

func TestPayload(t *testing.T) {
	p, err := twilio.New("12345")
	require.NoError(t, err)
	raw, err := p.Payload(formHeader, []byte("Body=Hello+world&Digits=1&Digits=2"))
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	assert.Equal(t, map[string]any{"Body": "Hello world", "Digits": []any{"1", "2"}}, got)
	raw, err = p.Payload(jsonHeader, []byte(eventStreams))
	require.NoError(t, err)
	assert.JSONEq(t, eventStreams, string(raw))
}

func TestNewRefusesBadURL(t *testing.T) {
	for _, u := range []string{"example.com/hook", "ftp://example.com/hook", "https:///hook", "https:opaque", "%"} {
		_, err := twilio.New("12345", twilio.WithURL(u))
		assert.ErrorIs(t, err, twilio.ErrInvalidURL, u)
	}
	_, err := twilio.New(" ")
	assert.ErrorIs(t, err, verify.ErrNoSecret)
}

// FuzzBodyAndQuery fuzzes the parsers of a request's form body and query:
// Verify, Parse and Payload must not panic; Verify's errors match
// verify.ErrVerification and Parse's provider.ErrMalformedEnvelope, and
// none quotes the token.
func FuzzBodyAndQuery(f *testing.F) {
	for _, s := range []string{inboundSMS, voice, eventStreams, "", "=", "&&", "%zz=1", "a=%", "a;b=c", "Digits=1&Digits=2"} {
		f.Add(s, "", false)
		f.Add(s, "bodySHA256="+hash(s), true)
	}
	f.Add("x", "bodySHA256=1&bodySHA256=2", true)
	p, err := twilio.New("12345")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body, query string, isJSON bool) {
		r, err := http.NewRequest(http.MethodPost, "https://example.com/hook", nil)
		require.NoError(t, err)
		r.URL.RawQuery = query
		r.Header = formHeader.Clone()
		if isJSON {
			r.Header = jsonHeader.Clone()
		}
		b := []byte(body)
		_ = twilio.SignRequest(r.Clone(r.Context()), b, "12345", time.Time{}) // may refuse the input; must not panic
		r.Header.Set(twilio.HeaderSignature, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
		if err := p.Verify(r, b); assert.Error(t, err) {
			assert.ErrorIs(t, err, verify.ErrVerification)
			assert.NotContains(t, err.Error(), "12345")
		}
		if _, err := p.Parse(r, b); err != nil {
			assert.ErrorIs(t, err, provider.ErrMalformedEnvelope)
		}
		_, _ = p.Payload(r.Header, b)
	})
}
