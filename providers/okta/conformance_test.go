package okta_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/okta"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func event(id string, types ...string) []byte {
	var evs []string
	for i, t := range types {
		evs = append(evs, `{"uuid":"`+id+`-`+string(rune('a'+i))+`","published":"2025-01-01T00:00:00.000Z","eventType":"`+t+
			`","version":"0","displayMessage":"Event","severity":"INFO","actor":{"id":"00u1","type":"User"}}`)
	}
	return []byte(`{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1",` +
		`"source":"https://example.okta.com/api/v1/eventHooks/whr1","eventId":"` + id + `","data":{"events":[` +
		strings.Join(evs, ",") + `]},"eventTime":"2025-01-01T00:00:01.000Z","contentType":"application/json"}`)
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			if len(c.Secrets) == 0 { // a verification vector: no secret is involved
				c.Secrets = []string{"unused-for-the-challenge"}
			}
			return okta.New(c.Secrets[0], okta.WithSecrets(c.Secrets[1:]...))
		},
		Sign:     okta.SignRequest,
		Unsigned: true,
		Secrets:  []string{"Bearer 6f1c2d9e4b7a", "Bearer 0a9b8c7d6e5f", "Bearer 1234567890ab"},
		Samples: []providertest.Sample{
			{Name: "user.session.start", Header: jsonHeader, Body: event("b5a188b9-5ece-4636-b041-482ffda96311", "user.session.start"),
				ID: "b5a188b9-5ece-4636-b041-482ffda96311", Type: "user.session.start"},
			{Name: "batch of one type", Header: jsonHeader, Body: event("c1", "user.lifecycle.create", "user.lifecycle.create"),
				ID: "c1", Type: "user.lifecycle.create"},
			{Name: "batch of two types", Header: jsonHeader, Body: event("c2", "user.lifecycle.create", "user.session.start"),
				ID: "c2", Type: "com.okta.event_hook"},
		},
		Handshakes: []providertest.Handshake{
			{
				Name: "verification", Method: http.MethodGet,
				Header: http.Header{okta.HeaderChallenge: {"rQxJpZQ0bG6mZ8f3A1b2C3d4E5f6G7h8"}},
				Want:   providertest.Response{Status: http.StatusOK, ContentType: "application/json", Body: `{"verification":"rQxJpZQ0bG6mZ8f3A1b2C3d4E5f6G7h8"}`},
			},
			{
				Name: "verification escaped", Method: http.MethodGet,
				Header: http.Header{okta.HeaderChallenge: {`a"</script>\b`}},
				Want:   providertest.Response{Status: http.StatusOK, ContentType: "application/json", Body: `{"verification":"a\"\u003c/script\u003e\\b"}`},
			},
			{
				Name: "challenge too long", Method: http.MethodGet,
				Header: http.Header{okta.HeaderChallenge: {strings.Repeat("a", okta.MaxChallengeBytes+1)}},
				Want:   providertest.Response{Status: http.StatusMethodNotAllowed, ContentType: "text/plain; charset=utf-8", Body: http.StatusText(http.StatusMethodNotAllowed) + "\n"},
			},
			{
				Name: "GET without challenge", Method: http.MethodGet,
				Want: providertest.Response{Status: http.StatusMethodNotAllowed, ContentType: "text/plain; charset=utf-8", Body: http.StatusText(http.StatusMethodNotAllowed) + "\n"},
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no eventId", Header: jsonHeader, Body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":[]}}`)},
			{Name: "events not an array", Header: jsonHeader, Body: []byte(`{"eventId":"e1","data":{"events":{"eventType":"x"}}}`)},
			{Name: "eventType not a string", Header: jsonHeader, Body: []byte(`{"eventId":"e1","data":{"events":[{"eventType":1}]}}`)},
			{Name: "ambiguous eventId", Header: jsonHeader, Body: []byte(`{"eventId":"e1","EventId":"e2"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`eventId=e1`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", okta.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceAuthorization(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), okta.HeaderAuthorization)
}

// WithHeader moves the credential to another header; Authorization is then
// not read.
func TestWithHeader(t *testing.T) {
	p, err := okta.New("s3cret-value", okta.WithHeader("X-Hook-Secret"))
	require.NoError(t, err)
	body := event("e1", "user.session.start")
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header.Set("X-Hook-Secret", "s3cret-value")
	assert.NoError(t, p.Verify(r, body))
	r.Header.Del("X-Hook-Secret")
	r.Header.Set("Authorization", "s3cret-value")
	err = p.Verify(r, body)
	assert.ErrorIs(t, err, verify.ErrVerification)
	assert.NotContains(t, err.Error(), "s3cret")
}

// The challenge is answered to GET only, whatever the credentials.
func TestHandshakeOnlyGET(t *testing.T) {
	p, err := okta.New("s3cret-value")
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header.Set(okta.HeaderChallenge, "abc")
	assert.Nil(t, p.Handshake(r, nil))
	r.Method = http.MethodGet
	r.Header.Add(okta.HeaderChallenge, "def")
	assert.Nil(t, p.Handshake(r, nil), "two challenges")
	r.Header.Set(okta.HeaderChallenge, strings.Repeat("a", okta.MaxChallengeBytes))
	assert.NotNil(t, p.Handshake(r, nil), "a challenge at the bound")
}
