package dropbox_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/dropbox"
	"github.com/hookwise/hookwise/providers/providertest"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func sum(body string) string {
	s := sha256.Sum256([]byte(body))
	return hex.EncodeToString(s[:])
}

const (
	notification = `{"list_folder":{"accounts":["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",` +
		`"dbid:AAAcKCZkfDgd83pA_RY9QWUW4Dw8ydO5Kak"]},"delta":{"users":[12345678,23456789]}}`
	single = `{"list_folder":{"accounts":["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},"delta":{"users":[12345678]}}`
)

func harness(t testing.TB) providertest.Harness {
	challenge := func(name, query string, want providertest.Response) providertest.Handshake {
		return providertest.Handshake{Name: name, Method: http.MethodGet, URL: "https://example.com/webhooks/dropbox?" + query, Want: want}
	}
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			if len(c.Secrets) == 0 {
				// The dropbox-challenge vector has no secret: the GET
				// challenge is unsigned, but a provider needs its app secret.
				c.Secrets = []string{"app-secret-the-challenge-does-not-use"}
			}
			return dropbox.New(c.Secrets[0], dropbox.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    dropbox.SignRequest,
		Secrets: []string{"dropbox-app-secret-one", "dropbox-app-secret-two", "dropbox-app-secret-three"},
		Samples: []providertest.Sample{
			{Name: "two accounts", Header: jsonHeader, Body: []byte(notification), ID: sum(notification), Type: dropbox.TypeNotification},
			{Name: "one account", Header: jsonHeader, Body: []byte(single), ID: sum(single), Type: dropbox.TypeNotification},
		},
		Malformed: []providertest.Sample{
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`list_folder=1`)},
			{Name: "truncated", Header: jsonHeader, Body: []byte(`{"list_folder":{"accounts":[`)},
		},
		Handshakes: []providertest.Handshake{
			challenge("challenge", "challenge=2fd2a5e8c6f34d7a9b0c1d2e3f405162",
				providertest.Response{Status: 200, ContentType: "text/plain", Body: "2fd2a5e8c6f34d7a9b0c1d2e3f405162"}),
			challenge("markup is echoed as plain text", "challenge="+url.QueryEscape("<script>alert(1)</script>"),
				providertest.Response{Status: 200, ContentType: "text/plain", Body: "<script>alert(1)</script>"}),
			challenge("empty", "challenge=", providertest.Response{Status: 400}),
			challenge("twice", "challenge=a&challenge=b", providertest.Response{Status: 400}),
			challenge("too long", "challenge="+strings.Repeat("a", dropbox.MaxChallengeBytes+1), providertest.Response{Status: 400}),
			challenge("control character", "challenge=a%0Ab", providertest.Response{Status: 400}),
			challenge("no challenge", "other=1",
				providertest.Response{Status: 405, ContentType: "text/plain; charset=utf-8", Body: "Method Not Allowed\n"}),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", dropbox.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), dropbox.HeaderSignature)
}

// The answer to the challenge carries X-Content-Type-Options: nosniff, as
// Dropbox documents (the suite compares status, type and body only).
func TestChallengeNoSniff(t *testing.T) {
	p, err := dropbox.New("app-secret")
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/webhooks/dropbox?challenge=abc", nil)
	rep := p.Handshake(r, nil)
	require.NotNil(t, rep)
	w := httptest.NewRecorder()
	rep.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "text/plain", w.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "abc", w.Body.String())

	// A POST with a challenge parameter is a notification, not a handshake.
	assert.Nil(t, p.Handshake(httptest.NewRequest(http.MethodPost, "/webhooks/dropbox?challenge=abc", nil), []byte(`{}`)))
}

// The dropbox-wrong-secret vector carries the MAC of its body under the
// right secret: signed here, it is that MAC.
func TestKnownAnswer(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, dropbox.SignRequest(r, []byte(notification), "dropbox_app_secret_123", time.Time{}))
	assert.Equal(t, "34c5b414d46a0dd7612221930c5698364007965fb16b94faa20002a33aec13e3", r.Header.Get(dropbox.HeaderSignature))
}

// FuzzChallenge fuzzes the query of a GET: Handshake must not panic, and
// answers 200 only with the single challenge parameter's value, as
// printable ASCII of at most MaxChallengeBytes.
func FuzzChallenge(f *testing.F) {
	for _, s := range []string{"challenge=abc", "challenge=", "challenge=a&challenge=b", "challenge=%zz", "challenge=a;b",
		"challenge=" + strings.Repeat("a", dropbox.MaxChallengeBytes+1), "challenge=%00", "challenge=%C3%A9", "other=1", ""} {
		f.Add(s)
	}
	p, err := dropbox.New("app-secret")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, query string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "https", Host: "example.com", Path: "/hooks", RawQuery: query}}
		rep := p.Handshake(r, nil)
		if rep == nil || rep.Status != 0 {
			return
		}
		vs := r.URL.Query()["challenge"]
		require.Len(t, vs, 1)
		assert.Equal(t, vs[0], string(rep.Body))
		assert.LessOrEqual(t, len(rep.Body), dropbox.MaxChallengeBytes)
		assert.Equal(t, "text/plain", rep.ContentType)
	})
}
