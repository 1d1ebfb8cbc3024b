package gogs_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/gogs"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

// header returns the headers Gogs sends besides the signature.
func header(event, contentType string) http.Header {
	h := http.Header{
		"X-Gogs-Event":      {event},
		"X-Gogs-Delivery":   {"f6266f16-1bf3-46a5-9ea4-602e06ead473"},
		"X-Github-Event":    {event},
		"X-Github-Delivery": {"f6266f16-1bf3-46a5-9ea4-602e06ead473"},
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return h
}

const (
	formType = "application/x-www-form-urlencoded"
	push     = `{
  "ref": "refs/heads/master",
  "before": "28e1879d029cb852e4844d9c718537df08844e03",
  "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
  "compare_url": "https://gogs.example.com/unknwon/webhooks/compare/28e1879d029c...bffeb7422404",
  "commits": [
    {
      "id": "bffeb74224043ba2feb48d137756c8a9331c449a",
      "message": "Update README – ünïcode\n",
      "url": "https://gogs.example.com/unknwon/webhooks/commit/bffeb74224043ba2feb48d137756c8a9331c449a"
    }
  ],
  "repository": {
    "id": 140,
    "full_name": "unknwon/webhooks"
  },
  "pusher": {
    "username": "unknwon"
  }
}`
	create = `{
  "ref": "feature-branch",
  "ref_type": "branch",
  "repository": {
    "full_name": "user/repo"
  }
}`
)

func form(payload string) []byte { return []byte(url.Values{"payload": {payload}}.Encode()) }

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return gogs.New(c.Secrets[0], gogs.WithSecrets(c.Secrets[1:]...))
		},
		Sign:    gogs.SignRequest,
		Secrets: []string{"sampleToken!", "rotated-gogs-secret", "unknown-gogs-secret"},
		Samples: []providertest.Sample{
			{Name: "push", Header: header("push", "application/json"), Body: []byte(push),
				ID: "f6266f16-1bf3-46a5-9ea4-602e06ead473", Type: "push"},
			{Name: "create, form", Header: header("create", formType), Body: form(create),
				ID: "f6266f16-1bf3-46a5-9ea4-602e06ead473", Type: "create"},
			{Name: "no delivery", Header: http.Header{"X-Gogs-Event": {"push"}}, Body: []byte(push), Type: "push"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event", Header: http.Header{"X-Gogs-Delivery": {"d1"}}, Body: []byte(push)},
			{Name: "two events", Header: http.Header{"X-Gogs-Event": {"push", "create"}}, Body: []byte(push)},
			{Name: "two deliveries", Header: http.Header{"X-Gogs-Event": {"push"}, "X-Gogs-Delivery": {"a", "b"}}, Body: []byte(push)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", gogs.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), gogs.HeaderSignature)
}

// A form delivery is verified over its payload field, as Gogs signs it: the
// signature of the JSON document verifies the form that carries it, and
// Payload returns the document.
func TestFormSignsThePayload(t *testing.T) {
	const secret = "sampleToken!"
	p, err := gogs.New(secret)
	require.NoError(t, err)
	jsonReq, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	jsonReq.Header = header("push", "application/json")
	require.NoError(t, gogs.SignRequest(jsonReq, []byte(push), secret, time.Time{}))

	formReq, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	formReq.Header = header("push", formType)
	formReq.Header.Set(gogs.HeaderSignature, jsonReq.Header.Get(gogs.HeaderSignature))
	body := form(push)
	require.NoError(t, p.Verify(formReq, body))
	doc, err := p.Payload(formReq.Header, body)
	require.NoError(t, err)
	assert.Equal(t, push, string(doc))

	// The form's own bytes are not what is signed.
	formSigned, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	formSigned.Header = header("push", "application/json")
	require.NoError(t, gogs.SignRequest(formSigned, body, secret, time.Time{}))
	formReq.Header.Set(gogs.HeaderSignature, formSigned.Header.Get(gogs.HeaderSignature))
	assert.Error(t, p.Verify(formReq, body))
}

// A form body other than a single payload field given once does not
// verify, whatever its signature: nothing unsigned rides along with the
// signed document.
func TestFormMustBeASinglePayload(t *testing.T) {
	const secret = "sampleToken!"
	p, err := gogs.New(secret)
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	r.Header = header("push", formType)
	require.NoError(t, gogs.SignRequest(r, form(push), secret, time.Time{}))
	for name, body := range map[string][]byte{
		"extra field":    append(form(push), "&extra=1"...),
		"payload twice":  append(form(push), "&"+string(form(push))...),
		"no payload":     []byte("data=" + url.QueryEscape(push)),
		"bad escape":     append(form(push), "%zz"...),
		"not a form":     []byte(push),
		"empty":          nil,
		"payload casing": []byte("Payload=" + url.QueryEscape(push)),
	} {
		err := p.Verify(r, body)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "refs/heads", name)
		_, err = p.Payload(r.Header, body)
		assert.ErrorIs(t, err, provider.ErrMalformedEnvelope, name)
	}
	err = gogs.SignRequest(r, []byte("a=b"), secret, time.Time{})
	assert.Error(t, err)
}

// FuzzFormBody fuzzes the form body a form-encoded delivery is read from:
// Verify must not panic, and its errors match verify.ErrVerification and do
// not quote the body.
func FuzzFormBody(f *testing.F) {
	const secret = "fuzz-secret"
	p, err := gogs.New(secret)
	require.NoError(f, err)
	signed, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(f, err)
	signed.Header.Set("Content-Type", formType)
	require.NoError(f, gogs.SignRequest(signed, form(push), secret, time.Time{}))
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
