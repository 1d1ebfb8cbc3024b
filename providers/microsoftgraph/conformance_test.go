package microsoftgraph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/microsoftgraph"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json; charset=utf-8"}}

const (
	// The samples carry a placeholder clientState; signBody sets the
	// secret.
	created = `{"value":[{"id":"lsgTZMr9KwAAA","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2025-01-02T00:00:00.0000000Z",` +
		`"clientState":"placeholder","changeType":"created","resource":"Users/6a7b0a8c/messages/AAMkAGUwNjQ4ZjIxAAA=",` +
		`"tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95","resourceData":{"@odata.type":"#Microsoft.Graph.Message","id":"AAMkAGUwNjQ4ZjIxAAA="}}]}`
	batch = `{"value":[{"subscriptionId":"7f105c7d","clientState":"placeholder","changeType":"updated","resource":"Users/6a7b0a8c/events/AAA1"},` +
		`{"subscriptionId":"7f105c7d","clientState":"placeholder","changeType":"updated","resource":"Users/6a7b0a8c/events/AAA2"}]}`
	mixed = `{"value":[{"subscriptionId":"7f105c7d","clientState":"placeholder","changeType":"updated","resource":"a"},` +
		`{"subscriptionId":"7f105c7d","clientState":"placeholder","changeType":"deleted","resource":"b"}]}`
	lifecycle = `{"value":[{"subscriptionId":"7f105c7d","subscriptionExpirationDateTime":"2025-01-02T00:00:00Z","tenantId":"84bd8158",` +
		`"clientState":"placeholder","lifecycleEvent":"reauthorizationRequired"}]}`
)

var secrets = []string{"graph-client-state-one", "graph-client-state-two", "graph-client-state-three"}

func signBody(body []byte, secret string, _ time.Time) []byte {
	b, err := microsoftgraph.SignBody(body, secret)
	if err != nil {
		panic(err)
	}
	return b
}

// id is the ID of a sample signed with the first secret.
func id(body string) string {
	sum := sha256.Sum256(signBody([]byte(body), secrets[0], time.Time{}))
	return hex.EncodeToString(sum[:])
}

func harness(t testing.TB) providertest.Harness {
	sample := func(name, body, typ string) providertest.Sample {
		return providertest.Sample{Name: name, Header: jsonHeader, Body: []byte(body), ID: id(body), Type: typ}
	}
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			if len(c.Secrets) == 0 { // a validation vector: no secret is involved
				c.Secrets = []string{"unused-for-the-validation"}
			}
			return microsoftgraph.New(c.Secrets[0], microsoftgraph.WithSecrets(c.Secrets[1:]...))
		},
		Sign:     func(*http.Request, []byte, string, time.Time) error { return nil }, // the credential is in the body
		SignBody: signBody,
		Unsigned: true,
		Secrets:  secrets,
		Samples: []providertest.Sample{
			sample("created", created, "created"),
			sample("batch", batch, "updated"),
			sample("mixed", mixed, ""),
			sample("lifecycle", lifecycle, "reauthorizationRequired"),
		},
		Handshakes: []providertest.Handshake{
			{
				Name: "validation",
				URL:  providertest.DefaultURL + "?validationToken=" + url.QueryEscape("Validation: Testing client application reachability for subscription Request-Id: 1c4d"),
				Want: providertest.Response{Status: http.StatusOK, ContentType: "text/plain",
					Body: "Validation: Testing client application reachability for subscription Request-Id: 1c4d"},
			},
			{
				Name: "validation of markup",
				URL:  providertest.DefaultURL + "?validationToken=" + url.QueryEscape("<script>alert(1)</script>"),
				Want: providertest.Response{Status: http.StatusOK, ContentType: "text/plain", Body: "<script>alert(1)</script>"},
			},
			{
				Name: "token too long",
				URL:  providertest.DefaultURL + "?validationToken=" + strings.Repeat("a", microsoftgraph.MaxValidationTokenBytes+1),
				Want: providertest.Response{Status: http.StatusUnauthorized, ContentType: "text/plain; charset=utf-8", Body: http.StatusText(http.StatusUnauthorized) + "\n"},
			},
			{
				Name: "two tokens",
				URL:  providertest.DefaultURL + "?validationToken=a&validationToken=b",
				Want: providertest.Response{Status: http.StatusUnauthorized, ContentType: "text/plain; charset=utf-8", Body: http.StatusText(http.StatusUnauthorized) + "\n"},
			},
			{
				Name: "GET", Method: http.MethodGet,
				URL:  providertest.DefaultURL + "?validationToken=abc",
				Want: providertest.Response{Status: http.StatusMethodNotAllowed, ContentType: "text/plain; charset=utf-8", Body: http.StatusText(http.StatusMethodNotAllowed) + "\n"},
			},
		},
		Malformed: []providertest.Sample{
			{Name: "changeType not a string", Header: jsonHeader, Body: []byte(`{"value":[{"clientState":"placeholder","changeType":1}]}`)},
			{Name: "ambiguous changeType", Header: jsonHeader, Body: []byte(`{"value":[{"clientState":"placeholder","changeType":"created","ChangeType":"deleted"}]}`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", microsoftgraph.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

// FuzzVerifyBody fuzzes Verify with bodies: it must not panic, and an error
// must match verify.ErrVerification and quote neither the secret nor the
// body.
func FuzzVerifyBody(f *testing.F) {
	p, err := microsoftgraph.New(secrets[0])
	require.NoError(f, err)
	for _, s := range []string{created, batch, mixed, lifecycle, "", "{}", "[]", "null", `{"value":null}`, `{"value":[]}`,
		`{"value":{}}`, `{"value":[1]}`, `{"value":[{}]}`, `{"value":[{"clientState":1}]}`, `{"value":[{"clientState":""}]}`,
		`{"value":[{"clientState":"a","ClientState":"b"}]}`, `{"Value":[{"clientState":"a"}]}`, strings.Repeat("[", 100)} {
		f.Add([]byte(s))
	}
	f.Add(signBody([]byte(created), secrets[0], time.Time{}))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		require.NoError(t, err)
		err = p.Verify(r, body)
		if err == nil {
			return
		}
		assert.ErrorIs(t, err, verify.ErrVerification)
		assert.NotContains(t, err.Error(), secrets[0])
		if len(body) >= 16 {
			assert.NotContains(t, err.Error(), string(body))
		}
	})
}

// Every notification of a delivery must carry a configured clientState: one
// forged notification among genuine ones fails the whole delivery.
func TestEveryNotificationAuthenticated(t *testing.T) {
	p, err := microsoftgraph.New(secrets[0], microsoftgraph.WithSecrets(secrets[1]))
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"value":[{"clientState":"graph-client-state-one"},{"clientState":"graph-client-state-one"}]}`, true},
		{`{"value":[{"clientState":"graph-client-state-one"},{"clientState":"graph-client-state-two"}]}`, true},
		{`{"value":[{"clientState":"graph-client-state-one"},{"clientState":"forged"}]}`, false},
		{`{"value":[{"clientState":"forged"},{"clientState":"graph-client-state-one"}]}`, false},
		{`{"value":[{"clientState":"graph-client-state-one"},{"changeType":"created"}]}`, false},
		{`{"value":[{"clientState":"graph-client-state-one"},{"clientState":null}]}`, false},
		{`{"value":[{"clientState":"graph-client-state-one","ClientState":"forged"}]}`, false},
		{`{"value":[]}`, false},
		{`{"value":[{"clientState":"graph-client-state-three"}]}`, false},
	} {
		err := p.Verify(r, []byte(tc.body))
		if tc.ok {
			assert.NoError(t, err, tc.body)
			continue
		}
		if assert.Error(t, err, tc.body) {
			assert.ErrorIs(t, err, verify.ErrVerification, tc.body)
			assert.NotContains(t, err.Error(), "graph-client-state")
		}
	}
}

func TestSignRequest(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, strings.NewReader(created))
	require.NoError(t, err)
	require.NoError(t, microsoftgraph.SignRequest(r, []byte(created), secrets[0], time.Time{}))
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Len(t, b, int(r.ContentLength))
	p, err := microsoftgraph.New(secrets[0])
	require.NoError(t, err)
	assert.NoError(t, p.Verify(r, b))
	assert.Error(t, p.Verify(r, []byte(created)))
}
