package gitlab_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/gitlab"
	"github.com/hookwise/hookwise/providers/providertest"
)

const (
	idempotencyKey = "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"
	push           = `{"object_kind":"push","event_name":"push","before":"95790bf891e76fee5e1747ab589903a6a1f80f22",` +
		`"after":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","ref":"refs/heads/main","ref_protected":true,` +
		`"checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","user_id":4,"user_name":"John Smith",` +
		`"project_id":15,"project":{"id":15,"name":"Diaspora","path_with_namespace":"mike/diaspora"},` +
		`"commits":[{"id":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","message":"fixed readme – ünïcode",` +
		`"timestamp":"2024-05-01T12:00:00+02:00"}],"total_commits_count":1}`
	mergeRequest = `{"object_kind":"merge_request","event_type":"merge_request","user":{"id":1,"username":"root"},` +
		`"project":{"id":1,"path_with_namespace":"gitlabhq/gitlab-test"},` +
		`"object_attributes":{"id":99,"iid":1,"title":"MS-Viewport","state":"opened","action":"open",` +
		`"updated_at":"2024-05-01 12:00:00 UTC"}}`
)

var malformed = []providertest.Sample{
	{Name: "no object_kind or event_name", Header: signedHeader("Push Hook", "k1"), Body: []byte(`{"ref":"refs/heads/main"}`)},
	{Name: "object_kind not a string", Header: signedHeader("Push Hook", "k1"), Body: []byte(`{"object_kind":1}`)},
	{Name: "object_kind twice", Header: signedHeader("Push Hook", "k1"), Body: []byte(`{"object_kind":"push","Object_Kind":"note"}`)},
	{Name: "not JSON", Header: signedHeader("Push Hook", "k1"), Body: []byte(`object_kind=push`)},
	{Name: "two keys", Header: http.Header{"Idempotency-Key": {"a", "b"}, "Webhook-Id": {"a", "b"}}, Body: []byte(push)},
}

const projectCreate = `{"created_at":"2024-05-01T12:00:00Z","updated_at":"2024-05-01T12:00:00Z",` +
	`"event_name":"project_create","name":"StoreCloud","owner_email":"johnsmith@example.com",` +
	`"path":"storecloud","path_with_namespace":"jsmith/storecloud","project_id":74,"project_visibility":"private"}`

// header returns the headers GitLab sends besides the token or signature;
// idem is the Idempotency-Key ("" for a GitLab before 17.4).
func header(event, idem string) http.Header {
	h := http.Header{
		"Content-Type":          {"application/json"},
		"User-Agent":            {"GitLab/17.6.0"},
		"X-Gitlab-Event":        {event},
		"X-Gitlab-Event-Uuid":   {"13792a34-cac6-4fda-95a8-c58e00a3954e"},
		"X-Gitlab-Webhook-Uuid": {"02affd2d-2cba-4033-917d-ec22d5dc4b38"},
		"X-Gitlab-Instance":     {"https://gitlab.com"},
	}
	if idem != "" {
		h.Set(gitlab.HeaderIdempotencyKey, idem)
	}
	return h
}

// signedHeader returns the headers of a signing-token delivery besides the
// signature and timestamp: webhook-id is the Idempotency-Key.
func signedHeader(event, idem string) http.Header {
	h := header(event, idem)
	h.Set(gitlab.HeaderWebhookID, idem)
	return h
}

func bodyHash(b string) string {
	sum := sha256.Sum256([]byte(b))
	return hex.EncodeToString(sum[:])
}

func tokenHarness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return gitlab.New(c.Secrets[0], gitlab.WithSecrets(c.Secrets[1:]...))
		},
		Sign:     gitlab.SignRequest,
		Unsigned: true,
		Secrets:  []string{"my-gitlab-secret-token", "rotated-gitlab-token", "unknown-gitlab-token"},
		Samples: []providertest.Sample{
			{Name: "Push Hook", Header: header("Push Hook", idempotencyKey), Body: []byte(push),
				ID: idempotencyKey, Type: "push"},
			{Name: "Merge Request Hook", Header: header("Merge Request Hook", "0b9e4c6a-8f1d-4e2a-b3c5-d7e9f1a3b5c7"),
				Body: []byte(mergeRequest), ID: "0b9e4c6a-8f1d-4e2a-b3c5-d7e9f1a3b5c7", Type: "merge_request"},
			{Name: "before 17.4, no Idempotency-Key", Header: header("Push Hook", ""), Body: []byte(push),
				ID: bodyHash(push), Type: "push"},
			{Name: "System Hook, event_name only", Header: header("System Hook", "5d1b2c3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d"),
				Body: []byte(projectCreate), ID: "5d1b2c3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d", Type: "project_create"},
		},
		Malformed: malformed,
		Vectors:   providertest.LoadVectors(t, "../testdata/vectors.json", gitlab.Name),
	}
}

func signedHarness() providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return gitlab.NewSigned(c.Secrets[0], gitlab.WithSecrets(c.Secrets[1:]...),
				gitlab.WithClock(c.Now), gitlab.WithTolerance(c.Tolerance))
		},
		Sign: gitlab.SignRequestSigned,
		Secrets: []string{
			"whsec_t8e13qTJltU+htGOJxxr2Yaeujf7eIahbf9ESJ4Rm14=",
			"whsec_yQhy+MJgrra7rbY9gtkwpUn1n9iOiDmOURxBNPSBeok=",
			"whsec_11paHF6I8juhlhuEzRG2UewicURnz8ICsHV2kZM39mo=",
		},
		Samples: []providertest.Sample{
			{Name: "Push Hook", Header: signedHeader("Push Hook", idempotencyKey), Body: []byte(push),
				ID: idempotencyKey, Type: "push"},
			{Name: "Merge Request Hook", Header: signedHeader("Merge Request Hook", "0b9e4c6a-8f1d-4e2a-b3c5-d7e9f1a3b5c7"),
				Body: []byte(mergeRequest), ID: "0b9e4c6a-8f1d-4e2a-b3c5-d7e9f1a3b5c7", Type: "merge_request"},
		},
		SignedHeaders: []string{gitlab.HeaderWebhookID},
		Tolerance:     gitlab.DefaultTolerance,
		List: &providertest.SignatureList{
			Header: gitlab.HeaderSignature,
			Sep:    " ",
			Entry:  providertest.ForgedEntry("v1,", base64.StdEncoding.EncodeToString),
		},
		Malformed: append([]providertest.Sample{
			{Name: "no webhook-id", Header: http.Header{"X-Gitlab-Event": {"Push Hook"}}, Body: []byte(push)},
		}, malformed...),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, tokenHarness(t)) }

func TestConformanceSigningToken(t *testing.T) { providertest.Run(t, signedHarness()) }

func FuzzConformanceToken(f *testing.F) {
	providertest.FuzzVerifyHeader(f, tokenHarness(f), gitlab.HeaderToken)
}

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, signedHarness(), gitlab.HeaderSignature)
}

func FuzzConformanceTimestampHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, signedHarness(), gitlab.HeaderTimestamp)
}

// The token provider ignores a signature, and the signed provider ignores
// the token: neither credential stands in for the other.
func TestCredentialsDoNotMix(t *testing.T) {
	const token = "my-gitlab-secret-token"
	signing := signedHarness().Secrets[0]
	body := []byte(push)
	at := time.Unix(1735689600, 0)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header = signedHeader("Push Hook", idempotencyKey)
	require.NoError(t, gitlab.SignRequestSigned(r, body, signing, at))

	tp, err := gitlab.New(token)
	require.NoError(t, err)
	assert.Error(t, tp.Verify(r, body), "a signature without X-Gitlab-Token")

	sp, err := gitlab.NewSigned(signing, gitlab.WithClock(func() time.Time { return at }))
	require.NoError(t, err)
	require.NoError(t, sp.Verify(r, body))
	tokenOnly := r.Clone(r.Context())
	tokenOnly.Header.Del(gitlab.HeaderSignature)
	require.NoError(t, gitlab.SignRequest(tokenOnly, body, token, at))
	assert.Error(t, sp.Verify(tokenOnly, body), "X-Gitlab-Token without a signature")

	// A secret token is not a signing token.
	_, err = gitlab.NewSigned("not base64!")
	assert.Error(t, err)
}

// With a signing token, the ID is the signed webhook-id, not the unsigned
// Idempotency-Key.
func TestSignedIDIsWebhookID(t *testing.T) {
	signing := signedHarness().Secrets[0]
	at := time.Unix(1735689600, 0)
	body := []byte(push)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header = signedHeader("Push Hook", idempotencyKey)
	r.Header.Set(gitlab.HeaderIdempotencyKey, "something-else")
	require.NoError(t, gitlab.SignRequestSigned(r, body, signing, at))
	p, err := gitlab.NewSigned(signing, gitlab.WithClock(func() time.Time { return at }))
	require.NoError(t, err)
	require.NoError(t, p.Verify(r, body))
	env, err := p.Parse(r, body)
	require.NoError(t, err)
	assert.Equal(t, idempotencyKey, env.ID)
}
