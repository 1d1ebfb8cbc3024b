package kit_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

// Alternate spellings of the signature header (Signature.Aliases) and of a
// scheme's whole header set (Scheme.Families).

// shopifyAliased reads Shopify's newer unprefixed signature header too.
var shopifyAliased = func() *kit.Scheme {
	s := *shopify
	s.Signature.Aliases = []string{"Shopify-Hmac-Sha256"}
	return &s
}()

var shopifyNewSpelling = shopifyAliased.Respell(kit.HeaderFamily{"X-Shopify-Hmac-Sha256": "Shopify-Hmac-Sha256"})

// The suite passes with deliveries signed under the alias.
func TestAliasConformance(t *testing.T) {
	h := shopifyHarness(t)
	h.New = newFunc(shopifyAliased)
	h.Sign = shopifyNewSpelling.Sign
	providertest.Run(t, h)
}

func TestAlias(t *testing.T) {
	p, err := shopifyAliased.New(kit.Options{Secrets: []string{"shpss_one"}})
	require.NoError(t, err)
	body := []byte(`{"id":1}`)
	hdr := header("X-Shopify-Event-Id", "e1", "X-Shopify-Topic", "orders/create")
	sign := func(s *kit.Scheme, secret string) *http.Request {
		r := request(hdr)
		require.NoError(t, s.Sign(r, body, secret, time.Now()))
		return r
	}
	old, nu := sign(shopifyAliased, "shpss_one"), sign(shopifyNewSpelling, "shpss_one")
	assert.Empty(t, nu.Header.Get("X-Shopify-Hmac-Sha256"), "Respell renamed the header")
	assert.NoError(t, p.Verify(old, body), "the declared spelling")
	assert.NoError(t, p.Verify(nu, body), "the alias")
	assert.ErrorIs(t, p.Verify(sign(shopifyNewSpelling, "shpss_two"), body), verify.ErrSignatureMismatch, "the alias, a wrong secret")

	// With both headers, the declared one is read: a forged declared header
	// beside a valid alias fails.
	both := sign(shopifyNewSpelling, "shpss_one")
	both.Header.Set("X-Shopify-Hmac-Sha256", sign(shopifyAliased, "shpss_two").Header.Get("X-Shopify-Hmac-Sha256"))
	assert.ErrorIs(t, p.Verify(both, body), verify.ErrSignatureMismatch)

	// Without any of them, the declared header is reported missing.
	assert.ErrorIs(t, p.Verify(request(hdr), body), verify.ErrMissingSignature)
	// The declaration is not modified by compiling it.
	assert.Equal(t, []string{"Shopify-Hmac-Sha256"}, shopifyAliased.Signature.Aliases)
	assert.Equal(t, "X-Shopify-Hmac-Sha256", shopifyAliased.Signature.Header)
}

func request(h http.Header) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, providertest.DefaultURL, http.NoBody)
	r.Header = h.Clone()
	return r
}

// gitea: Gitea, Forgejo and Gogs send the same bare hex HMAC-SHA256 of the
// body under three names.
var gitea = &kit.Scheme{
	Name:      "gitea",
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: "X-Gitea-Signature", Aliases: []string{"X-Forgejo-Signature", "X-Gogs-Signature"}},
	Envelope:  kit.Envelope{ID: kit.Field{BodyHash: true}},
}

func TestAliasesVectors(t *testing.T) {
	vs := vectors(t, "gitea", nil)
	vs = append(vs, vectors(t, "gogs", nil)...)
	require.NotEmpty(t, vs)
	for _, v := range vs {
		t.Run(v.ID, func(t *testing.T) {
			p, err := gitea.New(kit.Options{Secrets: []string{v.Secret}})
			require.NoError(t, err)
			r, body := v.Request()
			if v.Valid() {
				assert.NoError(t, p.Verify(r, body))
			} else {
				assert.ErrorIs(t, p.Verify(r, body), verify.ErrVerification)
			}
		})
	}
	p, err := gitea.New(kit.Options{Secrets: []string{"s3cret"}})
	require.NoError(t, err)
	for _, name := range []string{"X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature"} {
		body := []byte(`{"ref":"main"}`)
		r := request(jsonHeader)
		require.NoError(t, gitea.Respell(kit.HeaderFamily{"X-Gitea-Signature": name}).Sign(r, body, "s3cret", time.Now()))
		require.NotEmpty(t, r.Header.Get(name))
		assert.NoError(t, p.Verify(r, body), name)
	}
}

// standard: Standard Webhooks' v1 HMAC, the webhook-* headers declared and
// Svix's svix-* spelling as a family.
var standard = &kit.Scheme{
	Name:      "standard",
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: "webhook-signature", Prefix: "v1,", Sep: " ", Encoding: verify.Base64},
	Timestamp: &kit.Timestamp{Header: "webhook-timestamp"},
	Message:   []kit.Piece{kit.HeaderPiece("webhook-id"), kit.Lit("."), kit.Time, kit.Lit("."), kit.Body},
	Key:       kit.WhsecKey,
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: "webhook-id", Required: true},
		Type: kit.Field{JSON: []string{"type"}},
	},
	Families: []kit.HeaderFamily{svixFamily},
}

var svixFamily = kit.HeaderFamily{"webhook-id": "svix-id", "webhook-timestamp": "svix-timestamp", "webhook-signature": "svix-signature"}

func standardHarness(t testing.TB, sign func(*http.Request, []byte, string, time.Time) error, idHeader string) providertest.Harness {
	return providertest.Harness{
		New:     newFunc(standard),
		Sign:    sign,
		Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + b64("second secret"), b64("third secret")},
		Samples: []providertest.Sample{{
			Name: "user.created", Header: header(idHeader, "msg_1"), ID: "msg_1", Type: "user.created",
			Body: []byte(`{"type":"user.created","data":{"id":"u1"}}`),
		}},
		SignedHeaders: []string{idHeader},
		Tolerance:     verify.DefaultTolerance,
		List:          &providertest.SignatureList{Header: "webhook-signature", Sep: " ", Entry: forgedBase64("v1,")},
		Vectors: slices.DeleteFunc(vectors(t, "standard-webhooks", nil), func(v providertest.Vector) bool {
			return v.PublicKey != "" // v1a: not this declaration's
		}),
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func forgedBase64(prefix string) func(i int) string {
	return func(i int) string {
		h := forged("")(i)
		return prefix + b64(h[:32])
	}
}

func TestFamilyConformance(t *testing.T) {
	t.Run("webhook", func(t *testing.T) {
		providertest.Run(t, standardHarness(t, standard.Sign, "webhook-id"))
	})
	t.Run("svix", func(t *testing.T) {
		h := standardHarness(t, standard.Respell(svixFamily).Sign, "svix-id")
		h.List.Header = "svix-signature"
		h.Vectors = vectors(t, "svix", nil)
		require.NotEmpty(t, h.Vectors)
		providertest.Run(t, h)
	})
}

func TestFamily(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	p, err := standard.New(kit.Options{Secrets: []string{secret}})
	require.NoError(t, err)
	body := []byte(`{"type":"a"}`)
	svix := request(header("svix-id", "msg_1"))
	require.NoError(t, standard.Respell(svixFamily).Sign(svix, body, secret, time.Now()))

	// The family's headers are read together: a webhook-id beside svix-*
	// is not the signed ID, nor the envelope's.
	c := svix.Clone(svix.Context())
	c.Header.Set("webhook-id", "msg_other")
	require.NoError(t, p.Verify(c, body))
	env, err := p.Parse(c, body)
	require.NoError(t, err)
	assert.Equal(t, "msg_1", env.ID)

	// A family is chosen by its signature header; its other headers are
	// never borrowed from the declared set.
	c = svix.Clone(svix.Context())
	c.Header.Del("svix-id")
	c.Header.Set("webhook-id", "msg_1")
	assert.ErrorIs(t, p.Verify(c, body), verify.ErrSignatureMismatch)
	c = svix.Clone(svix.Context())
	c.Header.Set("webhook-timestamp", c.Header.Get("svix-timestamp"))
	c.Header.Del("svix-timestamp")
	assert.ErrorIs(t, p.Verify(c, body), verify.ErrMissingTimestamp)
}

func TestFamilyDeclarations(t *testing.T) {
	for name, s := range map[string]*kit.Scheme{
		"alias equal to the header": {Name: "x", Algorithm: kit.HMACSHA256, Signature: kit.Signature{Header: "X-Sig", Aliases: []string{"x-sig"}}},
		"empty alias":               {Name: "x", Algorithm: kit.HMACSHA256, Signature: kit.Signature{Header: "X-Sig", Aliases: []string{" "}}},
		"family keeps the header":   {Name: "x", Algorithm: kit.HMACSHA256, Signature: kit.Signature{Header: "X-Sig"}, Families: []kit.HeaderFamily{{"X-Id": "Y-Id"}}},
		"empty name in a family":    {Name: "x", Algorithm: kit.HMACSHA256, Signature: kit.Signature{Header: "X-Sig"}, Families: []kit.HeaderFamily{{"X-Sig": ""}}},
	} {
		_, err := s.New(kit.Options{Secrets: []string{"s"}})
		assert.ErrorIs(t, err, kit.ErrScheme, name)
	}
}

func TestWhsecKey(t *testing.T) {
	for _, s := range []string{"whsec_" + b64("key!"), b64("key!"), "whsec_" + base64.RawStdEncoding.EncodeToString([]byte("key!")), " whsec_" + b64("key!") + " "} {
		k, err := kit.WhsecKey(s)
		require.NoError(t, err, s)
		assert.Equal(t, []byte("key!"), k, s)
	}
	for _, s := range []string{"", "whsec_", "whsec_***", "whsec_=="} {
		_, err := kit.WhsecKey(s)
		assert.Error(t, err, s)
	}
	// A scheme refuses an undecodable secret with verify.ErrNoSecret.
	_, err := standard.New(kit.Options{Secrets: []string{"whsec_***"}})
	assert.ErrorIs(t, err, verify.ErrNoSecret)
}

// The token and Basic schemes authenticate the sender, not the body: the
// suite runs with Unsigned.

func TestTokenConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New:      newFunc(gitlab),
		Sign:     gitlab.Sign,
		Unsigned: true,
		Secrets:  []string{"gitlab-token-one", "gitlab-token-two", "gitlab-token-three"},
		Samples: []providertest.Sample{{
			Name: "push", Header: header("X-Gitlab-Event", "Push-Hook", "Idempotency-Key", "k1"), ID: "k1", Type: "Push-Hook", // the receiver refuses a type with a space
			Body: []byte(`{"object_kind":"push"}`),
		}},
		Malformed: []providertest.Sample{{Name: "no event", Header: jsonHeader, Body: []byte(`{}`)}},
		Vectors:   vectors(t, "gitlab", nil),
	})
}

func TestBasicConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New:      newFunc(postmark),
		Sign:     postmark.Sign,
		Unsigned: true,
		Secrets:  []string{"hook:password-one", "hook:password-two", "other:password-three"},
		Samples: []providertest.Sample{{
			Name: "delivery", Header: jsonHeader, ID: "m1", Type: "Delivery",
			Body: []byte(`{"RecordType":"Delivery","MessageID":"m1"}`),
		}},
		Malformed: []providertest.Sample{{Name: "no MessageID", Header: jsonHeader, Body: []byte(`{"RecordType":"Delivery"}`)}},
		Vectors:   vectors(t, "postmark", nil),
	})
}

var _ provider.Provider = (*kit.Provider)(nil)
