package linear_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/linear"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

func header(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// tsPlaceholder is the webhookTimestamp of the samples; signBody replaces
// it with the signing time, as Linear sends it.
const tsPlaceholder = `"webhookTimestamp":0`

func signBody(body []byte, _ string, now time.Time) []byte {
	return bytes.Replace(body, []byte(tsPlaceholder), []byte(`"webhookTimestamp":`+strconv.FormatInt(now.UnixMilli(), 10)), 1)
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return linear.New(c.Secrets[0], linear.WithSecrets(c.Secrets[1:]...),
				linear.WithClock(c.Now), linear.WithTolerance(c.Tolerance))
		},
		Sign:     linear.SignRequest,
		SignBody: signBody,
		Secrets:  []string{"lin_wh_conformance_one", "lin_wh_conformance_two", "lin_wh_conformance_three"},
		Samples: []providertest.Sample{
			{
				Name: "Issue create", ID: "234d1a4e-b617-4388-90fe-adc3633d6b72", Type: "Issue",
				Header: header(linear.HeaderDelivery, "234d1a4e-b617-4388-90fe-adc3633d6b72", linear.HeaderEvent, "Issue"),
				Body: []byte(`{"action":"create","type":"Issue","createdAt":"2025-01-01T00:00:00.000Z",` +
					`"actor":{"id":"0e4f8c3a-1b2c-4d5e-8f90-123456789abc","type":"user","name":"Zoë"},` +
					`"data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","identifier":"LIN-1","title":"Test","priority":2,` +
					`"labelIds":[],"teamId":"72b2a2dc-6f4f-4423-9d34-24b5bd10634a"},"url":"https://linear.app/issue/LIN-1",` +
					`"organizationId":"b3a1e0a4-0000-4000-8000-000000000000",` + tsPlaceholder +
					`,"webhookId":"000042e3-d123-4980-b49f-8e140eef9329"}`),
			},
			{
				Name: "Comment remove", ID: "9c1f2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", Type: "Comment",
				Header: header(linear.HeaderDelivery, "9c1f2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", linear.HeaderEvent, "Comment"),
				Body:   []byte(`{` + tsPlaceholder + `,"action":"remove","type":"Comment","data":{"id":"c1","body":"done"}}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no delivery", Header: header(), Body: []byte(`{"type":"Issue",` + tsPlaceholder + `}`)},
			{Name: "no type", Header: header(linear.HeaderDelivery, "d1"), Body: []byte(`{"action":"create",` + tsPlaceholder + `}`)},
			{Name: "two deliveries", Header: header(linear.HeaderDelivery, "d1", linear.HeaderDelivery, "d2"), Body: []byte(`{"type":"Issue",` + tsPlaceholder + `}`)},
		},
		Tolerance: linear.DefaultTolerance,
		Vectors:   providertest.LoadVectors(t, "../testdata/vectors.json", linear.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), linear.HeaderSignature)
}

const vectorSecret = "lin_wh_test_secret_0123456789"

func vectorBody(ts string) []byte {
	return []byte(`{"action":"create","type":"Issue","createdAt":"2025-01-01T00:00:00.000Z","data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Test"},"url":"https://linear.app/issue/LIN-1","organizationId":"b3a1e0a4-0000-4000-8000-000000000000","webhookTimestamp":` + ts + `,"webhookId":"000042e3-d123-4980-b49f-8e140eef9329"}`)
}

func signed(t *testing.T, body []byte, secret string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, bytes.NewReader(body))
	require.NoError(t, err)
	r.Header = header(linear.HeaderDelivery, "234d1a4e-b617-4388-90fe-adc3633d6b72", linear.HeaderEvent, "Issue")
	require.NoError(t, linear.SignRequest(r, body, secret, time.Time{}))
	return r
}

// The linear-tampered and linear-stale vectors carry the MACs of their
// bodies as Linear signed them: signed here, they are those MACs, and the
// stale one verifies on a clock within 60 s of its timestamp.
func TestKnownAnswers(t *testing.T) {
	r := signed(t, vectorBody("1735689600000"), vectorSecret)
	assert.Equal(t, "ef6c10129fe2ef9c9463e31f6e034becde1368beeea986a1c7c8b9f3f4196b77", r.Header.Get(linear.HeaderSignature))

	stale := vectorBody("1735689480000")
	r = signed(t, stale, vectorSecret)
	assert.Equal(t, "e2305dc8635c547dec9ad441253f1c594ac7721b31f48bd2c46a9d26a1b0641a", r.Header.Get(linear.HeaderSignature))
	for _, c := range []struct {
		now int64
		err error
	}{
		{1735689480, nil},
		{1735689540, nil}, // the edge is inclusive
		{1735689420, nil},
		{1735689541, verify.ErrTimestampOutsideWindow},
		{1735689419, verify.ErrTimestampOutsideWindow},
		{1735689610, verify.ErrTimestampOutsideWindow},
	} {
		p, err := linear.New(vectorSecret, linear.WithClock(func() time.Time { return time.Unix(c.now, 0) }))
		require.NoError(t, err)
		err = p.Verify(r, stale)
		if c.err == nil {
			assert.NoError(t, err, "now %d", c.now)
		} else {
			assert.ErrorIs(t, err, c.err, "now %d", c.now)
			assert.ErrorIs(t, err, verify.ErrVerification)
		}
	}
}

// A signed body whose webhookTimestamp is missing, not an integer, or
// ambiguous is refused: the window is not optional.
func TestTimestampField(t *testing.T) {
	now := time.UnixMilli(1735689600000)
	p, err := linear.New("s3cret", linear.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		body string
		err  error
	}{
		{"ok", `{"type":"Issue","webhookTimestamp":1735689600000}`, nil},
		{"missing", `{"type":"Issue"}`, verify.ErrMissingTimestamp},
		{"null", `{"type":"Issue","webhookTimestamp":null}`, verify.ErrMissingTimestamp},
		{"string", `{"type":"Issue","webhookTimestamp":"1735689600000"}`, verify.ErrMalformedTimestamp},
		{"fraction", `{"type":"Issue","webhookTimestamp":1735689600000.5}`, verify.ErrMalformedTimestamp},
		{"exponent", `{"type":"Issue","webhookTimestamp":1.7356896e12}`, verify.ErrMalformedTimestamp},
		{"negative", `{"type":"Issue","webhookTimestamp":-1735689600000}`, verify.ErrMalformedTimestamp},
		{"seconds", `{"type":"Issue","webhookTimestamp":1735689600}`, verify.ErrTimestampOutsideWindow},
		{"too long", `{"type":"Issue","webhookTimestamp":` + strings.Repeat("9", 16) + `}`, verify.ErrMalformedTimestamp},
		{"twice", `{"type":"Issue","webhookTimestamp":1,"webhookTimestamp":1735689600000}`, verify.ErrMalformedTimestamp},
		{"other case", `{"type":"Issue","webhooktimestamp":1735689600000}`, verify.ErrMalformedTimestamp},
		{"nested only", `{"type":"Issue","data":{"webhookTimestamp":1735689600000}}`, verify.ErrMissingTimestamp},
		{"not JSON", `webhookTimestamp=1735689600000`, verify.ErrMalformedTimestamp},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := []byte(c.body)
			err := p.Verify(signed(t, body, "s3cret"), body)
			if c.err == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, c.err)
			assert.ErrorIs(t, err, verify.ErrVerification)
			assert.NotContains(t, err.Error(), "1735689600000")
		})
	}
}

// The timestamp is read only from an authentic body: a forged body with a
// fresh timestamp fails on the signature.
func TestSignatureBeforeTimestamp(t *testing.T) {
	p, err := linear.New("s3cret", linear.WithClock(func() time.Time { return time.UnixMilli(1735689600000) }))
	require.NoError(t, err)
	body := []byte(`{"type":"Issue","webhookTimestamp":"not a number"}`)
	r := signed(t, body, "other")
	err = p.Verify(r, body)
	assert.ErrorIs(t, err, verify.ErrSignatureMismatch)
	assert.NotErrorIs(t, err, verify.ErrMalformedTimestamp)
	assert.Equal(t, linear.DefaultTolerance, p.Tolerance())
}

// FuzzTimestampField fuzzes the body Verify reads webhookTimestamp from,
// signed so that the reading is reached: Verify must not panic, and a
// failure must match verify.ErrVerification without quoting the body.
func FuzzTimestampField(f *testing.F) {
	for _, s := range []string{
		`{"type":"Issue","webhookTimestamp":1735689600000}`, `{"webhookTimestamp":-0}`, `{"webhookTimestamp":1e3}`,
		`{"webhookTimestamp":"1"}`, `{"webhookTimestamp":[1]}`, `{"webhookTimestamp":{}}`, `{"WEBHOOKTIMESTAMP":1}`,
		`{"webhookTimestamp":99999999999999999999}`, `{"webhookTimestamp":1735689600000,"webhookTimestamp":1}`,
		`[]`, `null`, ``, `{`, `{"webhook\u0054imestamp":1735689600000}`,
	} {
		f.Add([]byte(s))
	}
	p, err := linear.New("s3cret", linear.WithClock(func() time.Time { return time.UnixMilli(1735689600000) }))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, bytes.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, linear.SignRequest(r, body, "s3cret", time.Time{}))
		if err := p.Verify(r, body); err != nil {
			assert.ErrorIs(t, err, verify.ErrVerification)
			if len(body) >= 16 {
				assert.NotContains(t, err.Error(), string(body))
			}
		}
	})
}
