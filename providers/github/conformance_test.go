package github_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/providertest"
)

var (
	issuesBody = []byte(`{"action":"opened","issue":{"number":1347,"title":"Found a bug","user":{"login":"octocat"}},` +
		`"repository":{"id":1296269,"full_name":"octocat/Hello-World"},"sender":{"login":"octocat"}}`)
	pushBody = []byte(`{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246",` +
		`"after":"0000000000000000000000000000000000000000","commits":[],"head_commit":null,` +
		`"pusher":{"name":"octocat"},"repository":{"full_name":"octocat/Hello-World"}}`)
	pingBody = []byte(`{"zen":"Design for failure.","hook_id":109948940,"hook":{"type":"Repository","active":true}}`)
	formBody = []byte("payload=" + url.QueryEscape(string(issuesBody)))
)

// deliveryHeader returns the headers GitHub sends besides the signatures.
func deliveryHeader(event, contentType string) http.Header {
	return http.Header{
		"Content-Type": {contentType},
		"User-Agent":   {"GitHub-Hookshot/044aadd"},
		http.CanonicalHeaderKey(github.HeaderEvent):    {event},
		http.CanonicalHeaderKey(github.HeaderDelivery): {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
	}
}

// harness describes the provider with the given options; sign sets the
// signature header.
func harness(t testing.TB, sign func(secret string, body []byte) (string, string), vectors []providertest.Vector, opts ...github.Option) providertest.Harness {
	const jsonType = "application/json"
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return github.New(c.Secrets[0], append([]github.Option{github.WithSecrets(c.Secrets[1:]...)}, opts...)...)
		},
		Sign: func(r *http.Request, body []byte, secret string, _ time.Time) error {
			r.Header.Set(sign(secret, body))
			return nil
		},
		Secrets: []string{"It's a Secret to Everybody", "rotated-secret-2", "unknown-secret-3"},
		Samples: []providertest.Sample{
			{Name: "issues.opened", Header: deliveryHeader("issues", jsonType), Body: issuesBody,
				ID: github.EventID(issuesBody), Type: "issues.opened"},
			{Name: "push", Header: deliveryHeader("push", jsonType), Body: pushBody,
				ID: github.EventID(pushBody), Type: "push"},
			{Name: "ping", Header: deliveryHeader("ping", jsonType), Body: pingBody,
				ID: github.EventID(pingBody), Type: "ping"},
			{Name: "form", Header: deliveryHeader("issues", "application/x-www-form-urlencoded"), Body: formBody,
				ID: github.EventID(formBody), Type: "issues.opened"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event header", Header: http.Header{"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}}, Body: issuesBody},
			{Name: "delivery not a GUID", Header: http.Header{"X-Github-Event": {"issues"}, "X-Github-Delivery": {"1"}}, Body: issuesBody},
			{Name: "relabelled", Header: deliveryHeader("repository", jsonType), Body: issuesBody},
			{Name: "form without payload", Header: deliveryHeader("issues", "application/x-www-form-urlencoded"), Body: []byte("a=b")},
		},
		Vectors: vectors,
	}
}

func sign256(secret string, body []byte) (string, string) {
	return github.HeaderSignature256, github.Sign(secret, body)
}

func sign1(secret string, body []byte) (string, string) {
	return github.HeaderSignature1, github.SignSHA1(secret, body)
}

func TestConformance(t *testing.T) {
	vectors := providertest.LoadVectors(t, "../testdata/vectors.json", "github")
	// By default a delivery signed with SHA-1 alone does not verify.
	sha256Vectors := slices.DeleteFunc(slices.Clone(vectors), func(v providertest.Vector) bool {
		_, has256 := v.Headers[github.HeaderSignature256]
		return !has256 && v.Valid()
	})
	require := func(cond bool) {
		if !cond {
			t.Fatal("the vectors file changed: no SHA-1-only vector")
		}
	}
	require(len(sha256Vectors) < len(vectors))

	t.Run("default", func(t *testing.T) {
		providertest.Run(t, harness(t, sign256, sha256Vectors))
	})
	t.Run("WithSHA1", func(t *testing.T) {
		providertest.Run(t, harness(t, sign256, vectors, github.WithSHA1()))
	})
	t.Run("WithSHA1 signed with SHA-1", func(t *testing.T) {
		providertest.Run(t, harness(t, sign1, vectors, github.WithSHA1()))
	})
	t.Run("WithDeliveryIDDedupe", func(t *testing.T) {
		h := harness(t, sign256, sha256Vectors, github.WithDeliveryIDDedupe())
		for i := range h.Samples {
			h.Samples[i].ID = h.Samples[i].Header.Get(github.HeaderDelivery)
		}
		providertest.Run(t, h)
	})
}

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f, sign256, nil), github.HeaderSignature256)
}

func FuzzConformanceDeliveryHeader(f *testing.F) {
	p, err := github.New("It's a Secret to Everybody")
	if err != nil {
		f.Fatal(err)
	}
	providertest.FuzzHeader(f, func(v string) error {
		r, _ := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		r.Header = deliveryHeader("issues", "application/json")
		r.Header.Set(github.HeaderDelivery, v)
		_, err := p.Parse(r, issuesBody)
		return err
	}, "72d3162e-cc78-11e3-81ab-4c9367dc0958", github.NewDeliveryID())
}
