package jira_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/jira"
	"github.com/hookwise/hookwise/providers/providertest"
)

func header(id string) http.Header {
	h := http.Header{"Content-Type": {"application/json; charset=UTF-8"}}
	if id != "" {
		h.Set(jira.HeaderIdentifier, id)
		h.Set(jira.HeaderRetry, "0")
		h.Set("X-Atlassian-Webhook-Flow", "Primary")
	}
	return h
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return jira.New(c.Secrets[0], jira.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    jira.SignRequest,
		Secrets: []string{"jira-admin-webhook-secret", "jira-rotated-secret-2", "jira-unknown-secret-3"},
		Samples: []providertest.Sample{
			{
				Name: "jira:issue_created", Header: header("8c7e8a41-1f7a-4d6e-9b2c-0a1b2c3d4e5f"),
				ID: "8c7e8a41-1f7a-4d6e-9b2c-0a1b2c3d4e5f", Type: "jira:issue_created",
				Body: []byte(`{"timestamp":1735689600000,"webhookEvent":"jira:issue_created","issue_event_type_name":"issue_created",` +
					`"user":{"accountId":"5b10a2844c20165700ede21g","displayName":"Mia Krystof"},` +
					`"issue":{"id":"10002","self":"https://your-domain.atlassian.net/rest/api/3/issue/10002","key":"PROJ-2",` +
					`"fields":{"summary":"Über-long summary – ✓","issuetype":{"name":"Bug"},"project":{"key":"PROJ"}}}}`),
			},
			{
				Name: "comment_created", Header: header("0d4a1f5e-2b3c-4d5e-8f90-a1b2c3d4e5f6"),
				ID: "0d4a1f5e-2b3c-4d5e-8f90-a1b2c3d4e5f6", Type: "comment_created",
				Body: []byte(`{"timestamp":1735689660000,"webhookEvent":"comment_created",` +
					`"comment":{"id":"10100","body":"Looks good","author":{"accountId":"5b10a2844c20165700ede21g"}},` +
					`"issue":{"id":"10002","key":"PROJ-2"}}`),
			},
			{
				Name: "no identifier", Header: header(""), Type: "jira:issue_updated",
				Body: []byte(`{"timestamp":1735689700000,"webhookEvent":"jira:issue_updated","issue":{"id":"10002","key":"PROJ-2"}}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no webhookEvent", Header: header("i1"), Body: []byte(`{"timestamp":1,"issue":{"id":"1"}}`)},
			{Name: "webhookEvent in two cases", Header: header("i1"), Body: []byte(`{"webhookEvent":"a","WebhookEvent":"b"}`)},
			{Name: "two identifiers", Header: http.Header{"X-Atlassian-Webhook-Identifier": {"a", "b"}}, Body: []byte(`{"webhookEvent":"a"}`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", jira.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), jira.HeaderSignature)
}

// TestKnownAnswer verifies the delivery the jira-tampered vector was
// derived from (the vector's body without its inserted space) with the
// vector's signature.
func TestKnownAnswer(t *testing.T) {
	for _, v := range providertest.LoadVectors(t, "../testdata/vectors.json", jira.Name) {
		if v.ID != "jira-tampered" {
			continue
		}
		v.Body = strings.Replace(v.Body, " }", "}", 1)
		p, err := jira.New(v.Secret)
		require.NoError(t, err)
		r, body := v.Request()
		require.NoError(t, p.Verify(r, body))
		env, err := p.Parse(r, body)
		require.NoError(t, err)
		require.Equal(t, provider.Envelope{ID: "8c7e8a41-1f7a-4d6e-9b2c-0a1b2c3d4e5f", Type: "jira:issue_created"}, env)
		return
	}
	t.Fatal("no jira-tampered vector")
}

// A signature without its "sha256=" prefix, or under another algorithm's
// prefix, does not verify.
func TestPrefixRequired(t *testing.T) {
	p, err := jira.New("s3cret-jira")
	require.NoError(t, err)
	body := []byte(`{"webhookEvent":"jira:issue_deleted"}`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, jira.SignRequest(r, body, "s3cret-jira", time.Time{}))
	sig := r.Header.Get(jira.HeaderSignature)
	require.True(t, strings.HasPrefix(sig, "sha256="))
	require.NoError(t, p.Verify(r, body))
	for _, v := range []string{strings.TrimPrefix(sig, "sha256="), "sha1=" + strings.TrimPrefix(sig, "sha256=")} {
		r.Header.Set(jira.HeaderSignature, v)
		require.Error(t, p.Verify(r, body), v)
	}
}
