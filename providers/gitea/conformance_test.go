package gitea_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/gitea"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

const (
	deliveryID = "76cfa806-1c16-448b-b50d-2fe0789cf397"
	formType   = "application/x-www-form-urlencoded"
	push       = `{
  "ref": "refs/heads/main",
  "before": "28e1879d029cb852e4844d9c718537df08844e03",
  "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
  "compare_url": "http://localhost:3000/gitea/webhooks/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
  "commits": [
    {
      "id": "bffeb74224043ba2feb48d137756c8a9331c449a",
      "message": "Webhooks – ünïcode\n",
      "url": "http://localhost:3000/gitea/webhooks/commit/bffeb74224043ba2feb48d137756c8a9331c449a"
    }
  ],
  "repository": {
    "id": 140,
    "full_name": "gitea/webhooks"
  },
  "pusher": {
    "login": "gitea"
  },
  "sender": {
    "login": "gitea"
  }
}`
	pullRequest = `{
  "action": "opened",
  "number": 1,
  "pull_request": {
    "id": 1,
    "title": "Add a feature",
    "state": "open"
  },
  "repository": {
    "full_name": "gitea/webhooks"
  }
}`
)

// giteaHeader returns the headers Gitea sends besides the signatures.
func giteaHeader(event, contentType string) http.Header {
	h := http.Header{
		"X-Gitea-Delivery":   {deliveryID},
		"X-Gitea-Event":      {event},
		"X-Gitea-Event-Type": {event},
		"X-Gogs-Delivery":    {deliveryID},
		"X-Gogs-Event":       {event},
		"X-Github-Delivery":  {deliveryID},
		"X-Github-Event":     {event},
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return h
}

// forgejoHeader returns the Forgejo headers alone, as a Forgejo that no
// longer sends Gitea's would.
func forgejoHeader(event string) http.Header {
	return http.Header{
		"Content-Type":         {"application/json"},
		"X-Forgejo-Delivery":   {deliveryID},
		"X-Forgejo-Event":      {event},
		"X-Forgejo-Event-Type": {event},
	}
}

func form(payload string) []byte { return []byte(url.Values{"payload": {payload}}.Encode()) }

func newProvider(c providertest.Config) (provider.Provider, error) {
	return gitea.New(c.Secrets[0], gitea.WithSecrets(c.Secrets[1:]...))
}

var secrets = []string{"IsWishesWereHorsesWedAllBeEatingSteak!", "rotated-gitea-secret", "unknown-gitea-secret"}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New:     newProvider,
		Sign:    gitea.SignRequest,
		Secrets: secrets,
		Samples: []providertest.Sample{
			{Name: "push", Header: giteaHeader("push", "application/json"), Body: []byte(push), ID: deliveryID, Type: "push"},
			{Name: "pull_request, form", Header: giteaHeader("pull_request", formType), Body: form(pullRequest),
				ID: deliveryID, Type: "pull_request"},
			{Name: "no delivery", Header: http.Header{"X-Gitea-Event": {"push"}}, Body: []byte(push), Type: "push"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event", Header: http.Header{"X-Gitea-Delivery": {"d1"}}, Body: []byte(push)},
			{Name: "two events", Header: http.Header{"X-Gitea-Event": {"push", "create"}}, Body: []byte(push)},
			{Name: "two deliveries", Header: http.Header{"X-Gitea-Event": {"push"}, "X-Gitea-Delivery": {"a", "b"}}, Body: []byte(push)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", gitea.Name),
	}
}

// signForgejo signs as a Forgejo without the Gitea headers: the signature
// in X-Forgejo-Signature alone.
func signForgejo(r *http.Request, body []byte, secret string, now time.Time) error {
	if err := gitea.SignRequest(r, body, secret, now); err != nil {
		return err
	}
	r.Header.Set(gitea.HeaderForgejoSignature, r.Header.Get(gitea.HeaderSignature))
	r.Header.Del(gitea.HeaderSignature)
	return nil
}

func forgejoHarness() providertest.Harness {
	return providertest.Harness{
		New:     newProvider,
		Sign:    signForgejo,
		Secrets: secrets,
		Samples: []providertest.Sample{
			{Name: "push", Header: forgejoHeader("push"), Body: []byte(push), ID: deliveryID, Type: "push"},
			{Name: "pull_request", Header: forgejoHeader("pull_request"), Body: []byte(pullRequest), ID: deliveryID, Type: "pull_request"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event", Header: http.Header{"X-Forgejo-Delivery": {"d1"}}, Body: []byte(push)},
			{Name: "two events", Header: http.Header{"X-Forgejo-Event": {"push", "create"}}, Body: []byte(push)},
		},
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func TestConformanceForgejo(t *testing.T) { providertest.Run(t, forgejoHarness()) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), gitea.HeaderSignature)
}

func FuzzConformanceForgejoSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, forgejoHarness(), gitea.HeaderForgejoSignature)
}

// Forgejo sends both signature headers. X-Gitea-Signature, when present,
// is the one checked: a wrong one is not rescued by a right
// X-Forgejo-Signature.
func TestGiteaHeaderFirst(t *testing.T) {
	p, err := gitea.New(secrets[0])
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header = giteaHeader("push", "application/json")
	for k, v := range forgejoHeader("push") {
		r.Header[k] = v
	}
	body := []byte(push)
	require.NoError(t, gitea.SignRequest(r, body, secrets[0], time.Time{}))
	good := r.Header.Get(gitea.HeaderSignature)
	r.Header.Set(gitea.HeaderForgejoSignature, good)
	require.NoError(t, p.Verify(r, body))

	forged, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, gitea.SignRequest(forged, body, secrets[2], time.Time{}))
	r.Header.Set(gitea.HeaderSignature, forged.Header.Get(gitea.HeaderSignature))
	assert.Error(t, p.Verify(r, body), "a wrong X-Gitea-Signature beside a right X-Forgejo-Signature")
	r.Header.Set(gitea.HeaderSignature, "")
	assert.Error(t, p.Verify(r, body), "an empty X-Gitea-Signature beside a right X-Forgejo-Signature")

	// Both event headers: Gitea's is read.
	r.Header.Set(gitea.HeaderSignature, good)
	r.Header.Set(gitea.HeaderForgejoEvent, "create")
	env, err := p.Parse(r, body)
	require.NoError(t, err)
	assert.Equal(t, "push", env.Type)
}

// A form delivery is verified over its payload field, as Gitea signs it,
// and a form other than a single payload field does not verify.
func TestForm(t *testing.T) {
	p, err := gitea.New(secrets[0])
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header = giteaHeader("push", "application/json")
	require.NoError(t, gitea.SignRequest(r, []byte(push), secrets[0], time.Time{}))
	r.Header.Set("Content-Type", formType)
	body := form(push)
	require.NoError(t, p.Verify(r, body), "the JSON document's signature verifies the form carrying it")
	doc, err := p.Payload(r.Header, body)
	require.NoError(t, err)
	assert.Equal(t, push, string(doc))
	for name, body := range map[string][]byte{
		"extra field":   append(form(push), "&extra=1"...),
		"payload twice": append(form(push), "&"+string(form(push))...),
		"no payload":    []byte("data=" + url.QueryEscape(push)),
		"bad escape":    append(form(push), "%zz"...),
		"not a form":    []byte(push),
		"empty":         nil,
	} {
		err := p.Verify(r, body)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "refs/heads", name)
		_, err = p.Parse(r, body)
		assert.ErrorIs(t, err, provider.ErrMalformedEnvelope, name)
	}
}

// FuzzFormBody fuzzes the form body a form-encoded delivery is read from:
// Verify must not panic, and its errors match verify.ErrVerification and do
// not quote the body.
func FuzzFormBody(f *testing.F) {
	const secret = "fuzz-secret"
	p, err := gitea.New(secret)
	require.NoError(f, err)
	signed, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(f, err)
	signed.Header.Set("Content-Type", formType)
	require.NoError(f, gitea.SignRequest(signed, form(push), secret, time.Time{}))
	for _, s := range []string{string(form(push)), "", "payload=", "payload=%", "payload=a&payload=b", "a=b", "payload=%7B%7D&x=", ";", "payload=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := signed.Clone(signed.Context())
		err := p.Verify(r, []byte(body))
		if err == nil {
			return
		}
		assert.ErrorIs(t, err, verify.ErrVerification)
		if len(body) >= 16 {
			assert.NotContains(t, err.Error(), body)
		}
	})
}
