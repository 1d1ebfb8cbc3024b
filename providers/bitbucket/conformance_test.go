package bitbucket_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/bitbucket"
	"github.com/hookwise/hookwise/providers/providertest"
)

// cloudHeader returns the headers Bitbucket Cloud sends besides the
// signature.
func cloudHeader(event, requestUUID string) http.Header {
	return http.Header{
		"Content-Type":     {"application/json"},
		"User-Agent":       {"Bitbucket-Webhooks/2.0"},
		"X-Event-Key":      {event},
		"X-Hook-Uuid":      {"3c7d6e1a-1c5f-4d2b-9f0e-6f9a1b2c3d4e"},
		"X-Request-Uuid":   {requestUUID},
		"X-Attempt-Number": {"1"},
	}
}

// dcHeader returns the headers Bitbucket Data Center sends besides the
// signature.
func dcHeader(event, requestID string) http.Header {
	return http.Header{
		"Content-Type": {"application/json; charset=utf-8"},
		"X-Event-Key":  {event},
		"X-Request-Id": {requestID},
	}
}

const (
	cloudPush = `{"push":{"changes":[{"new":{"type":"branch","name":"main","target":{"hash":"709d658dc5b6d6afcd46049c2f332ee3f515a67d"}},` +
		`"old":{"type":"branch","name":"main","target":{"hash":"1e65c05c1d5171631d92438a13901ca7dae9618c"}},"created":false,"forced":false}]},` +
		`"repository":{"type":"repository","full_name":"team/repo","uuid":"{c2f4f1b4-8b48-4b3a-9e07-8a0b5f3f0a11}"},` +
		`"actor":{"type":"user","display_name":"Emma","uuid":"{d301aafa-d676-4ee0-88be-962be7417567}"}}`
	cloudPR = `{"pullrequest":{"id":42,"title":"Fix the build","state":"OPEN","source":{"branch":{"name":"fix"}},` +
		`"destination":{"branch":{"name":"main"}}},"repository":{"full_name":"team/repo"},"actor":{"display_name":"Emma"}}`
	dcRefsChanged = `{"eventKey":"repo:refs_changed","date":"2024-03-01T10:37:14+0100","actor":{"name":"gopher","id":3231},` +
		`"repository":{"slug":"repository","id":84,"project":{"key":"PROJ"}},` +
		`"changes":[{"ref":{"id":"refs/heads/master","displayId":"master","type":"BRANCH"},` +
		`"refId":"refs/heads/master","fromHash":"ecddabb624f6f5ba43816f5926e580a5f680a932",` +
		`"toHash":"178864a7d521b6f5e720b386b2c2b0ef8563e0dc","type":"UPDATE"}]}`
)

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return bitbucket.New(c.Secrets[0], bitbucket.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    bitbucket.SignRequest,
		Secrets: []string{"bb-cloud-secret", "bb-rotated-secret", "bb-unknown-secret"},
		Samples: []providertest.Sample{
			{Name: "cloud repo:push", Header: cloudHeader("repo:push", "0f1c2b3a-4d5e-6f70-8192-a3b4c5d6e7f8"), Body: []byte(cloudPush),
				ID: "0f1c2b3a-4d5e-6f70-8192-a3b4c5d6e7f8", Type: "repo:push"},
			{Name: "cloud pullrequest:created", Header: cloudHeader("pullrequest:created", "a9b8c7d6-e5f4-4321-8765-0fedcba98765"),
				Body: []byte(cloudPR), ID: "a9b8c7d6-e5f4-4321-8765-0fedcba98765", Type: "pullrequest:created"},
			{Name: "data center repo:refs_changed", Header: dcHeader("repo:refs_changed", "d4e6f1a2-5b3c-4d7e-9f8a-1b2c3d4e5f60"),
				Body: []byte(dcRefsChanged), ID: "d4e6f1a2-5b3c-4d7e-9f8a-1b2c3d4e5f60", Type: "repo:refs_changed"},
			{Name: "no request id", Header: http.Header{"X-Event-Key": {"repo:push"}}, Body: []byte(cloudPush), Type: "repo:push"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event key", Header: http.Header{"X-Request-Uuid": {"r1"}}, Body: []byte(cloudPush)},
			{Name: "two event keys", Header: http.Header{"X-Event-Key": {"repo:push", "repo:fork"}}, Body: []byte(cloudPush)},
			{Name: "two request uuids", Header: http.Header{"X-Event-Key": {"repo:push"}, "X-Request-Uuid": {"a", "b"}}, Body: []byte(cloudPush)},
			{Name: "two request ids", Header: http.Header{"X-Event-Key": {"repo:push"}, "X-Request-Id": {"a", "b"}}, Body: []byte(cloudPush)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", bitbucket.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), bitbucket.HeaderSignature)
}

// Cloud's X-Request-UUID wins over X-Request-Id when a delivery has both.
func TestRequestUUIDFirst(t *testing.T) {
	p, err := bitbucket.New("s3cret")
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header = cloudHeader("repo:push", "cloud-uuid")
	r.Header.Set(bitbucket.HeaderRequestID, "dc-id")
	body := []byte(cloudPush)
	require.NoError(t, bitbucket.SignRequest(r, body, "s3cret", time.Time{}))
	require.NoError(t, p.Verify(r, body))
	env, err := p.Parse(r, body)
	require.NoError(t, err)
	assert.Equal(t, "cloud-uuid", env.ID)
}

// A signature without its "sha256=" prefix, or under GitHub's SHA-1
// prefix, does not verify.
func TestPrefixRequired(t *testing.T) {
	p, err := bitbucket.New("s3cret")
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	body := []byte(cloudPush)
	require.NoError(t, bitbucket.SignRequest(r, body, "s3cret", time.Time{}))
	sig := r.Header.Get(bitbucket.HeaderSignature)
	require.NoError(t, p.Verify(r, body))
	for _, v := range []string{sig[len("sha256="):], "sha1=" + sig[len("sha256="):]} {
		r.Header.Set(bitbucket.HeaderSignature, v)
		assert.Error(t, p.Verify(r, body), v)
	}
}
