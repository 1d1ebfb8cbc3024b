package hubspot_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/hubspot"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

var (
	contactCreated = []byte(`[{"eventId":1741207371,"subscriptionId":234567,"portalId":62515,"appId":987654,` +
		`"occurredAt":1708986598741,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":65059681032,` +
		`"changeFlag":"CREATED","changeSource":"CRM_UI","sourceId":"userId:45678"}]`)
	mixedBatch = []byte(`[{"eventId":100,"subscriptionId":234567,"portalId":62515,"appId":987654,"occurredAt":1708986598741,` +
		`"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":123,"propertyName":"email",` +
		`"propertyValue":"zoe@example.com","changeSource":"CRM_UI"},` +
		`{"eventId":101,"subscriptionId":234568,"portalId":62515,"appId":987654,"occurredAt":1708986598742,` +
		`"subscriptionType":"deal.creation","attemptNumber":0,"objectId":456,"changeFlag":"CREATED","changeSource":"API"}]`)
)

// batchID computes the ID of a batch of several events independently of
// the package: the SHA-256 of its sorted portal:subscription:event triples.
func batchID(triples ...string) string {
	slices.Sort(triples)
	sum := sha256.Sum256([]byte(strings.Join(triples, ",")))
	return hex.EncodeToString(sum[:])
}

var secrets = []string{"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyy1", "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyy2", "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyy3"}

func harness(t testing.TB, vectors []providertest.Vector, opts ...hubspot.Option) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return hubspot.New(c.Secrets[0], append([]hubspot.Option{hubspot.WithSecrets(c.Secrets[1:]...),
				hubspot.WithClock(c.Now), hubspot.WithTolerance(c.Tolerance)}, opts...)...)
		},
		Sign:    hubspot.SignRequest,
		Secrets: secrets,
		Samples: []providertest.Sample{
			{Name: "contact.creation", Header: jsonHeader, Body: contactCreated, ID: "62515:234567:1741207371", Type: "contact.creation"},
			{Name: "mixed batch", Header: jsonHeader, Body: mixedBatch,
				ID: batchID("62515:234567:100", "62515:234568:101"), Type: hubspot.TypeMixed},
		},
		Malformed: []providertest.Sample{
			{Name: "not an array", Header: jsonHeader, Body: []byte(`{"eventId":1,"subscriptionId":2,"portalId":3,"subscriptionType":"a"}`)},
			{Name: "empty batch", Header: jsonHeader, Body: []byte(`[]`)},
			{Name: "no eventId", Header: jsonHeader, Body: []byte(`[{"subscriptionId":2,"portalId":3,"subscriptionType":"contact.creation"}]`)},
			{Name: "no subscriptionType", Header: jsonHeader, Body: []byte(`[{"eventId":1,"subscriptionId":2,"portalId":3}]`)},
			{Name: "eventId an object", Header: jsonHeader, Body: []byte(`[{"eventId":{},"subscriptionId":2,"portalId":3,"subscriptionType":"a"}]`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`{'example_field':'example_value'}`)},
		},
		Tolerance: hubspot.DefaultTolerance,
		Vectors:   vectors,
	}
}

func v3Vectors(t testing.TB) []providertest.Vector {
	return slices.DeleteFunc(providertest.LoadVectors(t, "../testdata/vectors.json", hubspot.Name), func(v providertest.Vector) bool {
		return !strings.Contains(v.ID, "-v3-")
	})
}

// TestConformance runs the suite with the default provider (v3 only) and
// the v3 vectors.
func TestConformance(t *testing.T) { providertest.Run(t, harness(t, v3Vectors(t))) }

// TestConformanceLegacy runs the suite with v1/v2 enabled and every vector,
// v1 and v2 ones included.
func TestConformanceLegacy(t *testing.T) {
	providertest.Run(t, harness(t, providertest.LoadVectors(t, "../testdata/vectors.json", hubspot.Name), hubspot.WithLegacySignatures()))
}

func FuzzConformanceSignature(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f, v3Vectors(f)), hubspot.HeaderSignatureV3)
}

func FuzzConformanceTimestamp(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f, v3Vectors(f)), hubspot.HeaderTimestamp)
}

func FuzzConformanceLegacySignature(f *testing.F) {
	h := harness(f, nil, hubspot.WithLegacySignatures())
	h.Sign = func(r *http.Request, body []byte, secret string, _ time.Time) error {
		sig, err := hubspot.SignLegacy(r, body, secret, "v2")
		r.Header.Set(hubspot.HeaderSignature, sig)
		r.Header.Set(hubspot.HeaderSignatureVersion, "v2")
		return err
	}
	providertest.FuzzVerifyHeader(f, h, hubspot.HeaderSignature)
}

var (
	at    = time.UnixMilli(1735689600123)
	clock = hubspot.WithClock(func() time.Time { return at.Add(time.Second) })
)

func post(t *testing.T, url string, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	r.Header.Set("Content-Type", "application/json")
	return r
}

// TestV3KnownAnswer checks v3 against an HMAC computed here.
func TestV3KnownAnswer(t *testing.T) {
	const url = "https://example.com/webhooks/hubspot?portal=62516" // its signature holds a "+"
	m := hmac.New(sha256.New, []byte(secrets[0]))
	m.Write([]byte("POST" + url + string(contactCreated) + "1735689600123"))
	r := post(t, url, contactCreated)
	r.Header.Set(hubspot.HeaderTimestamp, "1735689600123")
	r.Header.Set(hubspot.HeaderSignatureV3, base64.StdEncoding.EncodeToString(m.Sum(nil)))
	p, err := hubspot.New(secrets[0], clock)
	require.NoError(t, err)
	assert.NoError(t, p.Verify(r, contactCreated))

	signed := post(t, url, contactCreated)
	require.NoError(t, hubspot.SignRequest(signed, contactCreated, secrets[0], at))
	assert.Equal(t, r.Header.Get(hubspot.HeaderSignatureV3), signed.Header.Get(hubspot.HeaderSignatureV3))

	// A "+" that arrived as a space.
	sig := r.Header.Get(hubspot.HeaderSignatureV3)
	require.Contains(t, sig, "+")
	r.Header.Set(hubspot.HeaderSignatureV3, strings.ReplaceAll(sig, "+", " "))
	assert.NoError(t, p.Verify(r, contactCreated))
}

// TestNoDowngrade checks that v1/v2 are refused by default, and that with
// WithLegacySignatures a request carrying v3 is judged by v3 alone: a
// delivery whose v3 header was stripped or spoiled does not fall back.
func TestNoDowngrade(t *testing.T) {
	const url = "https://example.com/webhooks/hubspot"
	signed := func() *http.Request {
		r := post(t, url, contactCreated)
		require.NoError(t, hubspot.SignRequest(r, contactCreated, secrets[0], at))
		v1, err := hubspot.SignLegacy(r, contactCreated, secrets[0], "v1")
		require.NoError(t, err)
		r.Header.Set(hubspot.HeaderSignature, v1)
		r.Header.Set(hubspot.HeaderSignatureVersion, "v1")
		return r
	}
	strict, err := hubspot.New(secrets[0], clock)
	require.NoError(t, err)
	legacy, err := hubspot.New(secrets[0], clock, hubspot.WithLegacySignatures())
	require.NoError(t, err)
	for _, p := range []*hubspot.Provider{strict, legacy} {
		assert.NoError(t, p.Verify(signed(), contactCreated))
	}

	stripped := signed()
	stripped.Header.Del(hubspot.HeaderSignatureV3)
	stripped.Header.Del(hubspot.HeaderTimestamp)
	assert.ErrorIs(t, strict.Verify(stripped, contactCreated), verify.ErrMissingSignature, "v1 alone, by default")
	assert.NoError(t, legacy.Verify(stripped, contactCreated), "v1 alone, with WithLegacySignatures")

	spoiled := signed()
	spoiled.Header.Set(hubspot.HeaderSignatureV3, base64.StdEncoding.EncodeToString(make([]byte, 32)))
	assert.ErrorIs(t, legacy.Verify(spoiled, contactCreated), verify.ErrSignatureMismatch, "a bad v3 beside a good v1")

	stale := signed()
	late, err := hubspot.New(secrets[0], hubspot.WithLegacySignatures(),
		hubspot.WithClock(func() time.Time { return at.Add(hubspot.DefaultTolerance + time.Second) }))
	require.NoError(t, err)
	assert.ErrorIs(t, late.Verify(stale, contactCreated), verify.ErrTimestampOutsideWindow, "a stale v3 beside a good v1")
}

// TestLegacy checks v1 and v2 under WithLegacySignatures: both versions, a
// rotation, the method and URI in v2, an unknown version.
func TestLegacy(t *testing.T) {
	const url = "https://example.com/crm-card?userId=1"
	p, err := hubspot.New(secrets[0], hubspot.WithSecrets(secrets[1]), hubspot.WithLegacySignatures())
	require.NoError(t, err)
	for _, version := range []string{"v1", "v2"} {
		for _, secret := range secrets[:2] {
			r := post(t, url, contactCreated)
			sig, err := hubspot.SignLegacy(r, contactCreated, secret, version)
			require.NoError(t, err)
			r.Header.Set(hubspot.HeaderSignature, sig)
			r.Header.Set(hubspot.HeaderSignatureVersion, version)
			assert.NoError(t, p.Verify(r, contactCreated), version)
			assert.ErrorIs(t, p.Verify(r, append(bytes.Clone(contactCreated), ' ')), verify.ErrSignatureMismatch, version)
			r.Header.Set(hubspot.HeaderSignatureVersion, "v9")
			assert.ErrorIs(t, p.Verify(r, contactCreated), verify.ErrMalformedSignature, version)
		}
		r := post(t, url, contactCreated)
		sig, err := hubspot.SignLegacy(r, contactCreated, secrets[2], version)
		require.NoError(t, err)
		r.Header.Set(hubspot.HeaderSignature, sig)
		r.Header.Set(hubspot.HeaderSignatureVersion, version)
		assert.ErrorIs(t, p.Verify(r, contactCreated), verify.ErrSignatureMismatch, version)
	}
	// v2 signs the method and the URI.
	r := post(t, url, contactCreated)
	sig, err := hubspot.SignLegacy(r, contactCreated, secrets[0], "v2")
	require.NoError(t, err)
	r.Header.Set(hubspot.HeaderSignature, sig)
	r.Header.Set(hubspot.HeaderSignatureVersion, "v2")
	r.Method = http.MethodPut
	assert.ErrorIs(t, p.Verify(r, contactCreated), verify.ErrSignatureMismatch, "method")
	other := post(t, url+"&x=1", contactCreated)
	other.Header = r.Header.Clone()
	assert.ErrorIs(t, p.Verify(other, contactCreated), verify.ErrSignatureMismatch, "URI")
	_, err = hubspot.SignLegacy(r, contactCreated, secrets[0], "v3")
	assert.Error(t, err)
}

// TestURI checks WithURL behind a proxy, and the decoded form of the URI
// HubSpot's documentation describes, tried only after the URI as it is.
func TestURI(t *testing.T) {
	const public = "https://example.com/webhooks/hubspot?ref=a%3Ab"
	raw := post(t, public, contactCreated)
	require.NoError(t, hubspot.SignRequest(raw, contactCreated, secrets[0], at))
	decoded := post(t, "https://example.com/webhooks/hubspot?ref=a:b", contactCreated)
	require.NoError(t, hubspot.SignRequest(decoded, contactCreated, secrets[0], at))

	p, err := hubspot.New(secrets[0], clock, hubspot.WithURL(public))
	require.NoError(t, err)
	for name, signed := range map[string]*http.Request{"as it is": raw, "decoded": decoded} {
		behind := post(t, "http://10.0.0.7:8080/hubspot", contactCreated)
		behind.Header = signed.Header.Clone()
		assert.NoError(t, p.Verify(behind, contactCreated), name)
	}
	direct, err := hubspot.New(secrets[0], clock)
	require.NoError(t, err)
	behind := post(t, "http://10.0.0.7:8080/hubspot", contactCreated)
	behind.Header = raw.Header.Clone()
	assert.ErrorIs(t, direct.Verify(behind, contactCreated), verify.ErrSignatureMismatch, "the proxy's URL")
}

// TestRetryIsDuplicate checks that a retried batch (another attemptNumber)
// has the ID of the first attempt, and that the order of its events does
// not matter.
func TestRetryIsDuplicate(t *testing.T) {
	p, err := hubspot.New(secrets[0])
	require.NoError(t, err)
	retry := bytes.ReplaceAll(mixedBatch, []byte(`"attemptNumber":0`), []byte(`"attemptNumber":1`))
	require.NotEqual(t, mixedBatch, retry)
	first, err := p.Parse(post(t, providertest.DefaultURL, mixedBatch), mixedBatch)
	require.NoError(t, err)
	again, err := p.Parse(post(t, providertest.DefaultURL, retry), retry)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)

	a, b, _ := strings.Cut(strings.Trim(string(mixedBatch), "[]"), "},{")
	swapped := []byte("[{" + b + "," + a + "}]")
	swapped = []byte(strings.Replace(string(swapped), `"API",{`, `"API"},{`, 1))
	reordered, err := p.Parse(post(t, providertest.DefaultURL, swapped), swapped)
	require.NoError(t, err, string(swapped))
	assert.Equal(t, first.ID, reordered.ID)

	single, err := p.Parse(post(t, providertest.DefaultURL, contactCreated), contactCreated)
	require.NoError(t, err)
	assert.Equal(t, "62515:234567:1741207371", single.ID)
}
