package postmark_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/postmark"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func hash(b string) string {
	sum := sha256.Sum256([]byte(b))
	return hex.EncodeToString(sum[:])
}

const (
	delivery = `{"RecordType":"Delivery","ServerID":23,"MessageStream":"outbound","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483",` +
		`"Recipient":"john@example.com","Tag":"welcome-email","DeliveredAt":"2025-01-01T00:00:00Z","Details":"Test delivery webhook details",` +
		`"Metadata":{"a_key":"a_value"}}`
	bounce = `{"RecordType":"Bounce","ID":4323372036854775807,"Type":"HardBounce","TypeCode":1,"Name":"Hard bounce",` +
		`"MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Description":"The server was unable to deliver your message.",` +
		`"Email":"john@example.com","From":"sender@example.com","BouncedAt":"2025-01-01T00:05:00Z","Inactive":true,"CanActivate":true}`
	inbound = `{"FromName":"Postmarkapp Support","MessageStream":"inbound","From":"support@postmarkapp.com",` +
		`"MessageID":"73e6d360-66eb-11e1-8e72-a8904824019b","Subject":"Test subject","Date":"Sat, 1 Jan 2025 00:10:00 +0000","TextBody":"This is a test text body."}`
)

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return postmark.New(c.Secrets[0], postmark.WithSecrets(c.Secrets[1:]...))
		},
		Sign:     postmark.SignRequest,
		Unsigned: true,
		Secrets:  []string{"hookuser:s3cr3t-pass", "hookuser:n3w-s3cr3t", "other:s3cr3t-pass"},
		Samples: []providertest.Sample{
			{Name: "Delivery", Header: jsonHeader, Body: []byte(delivery), ID: hash(delivery), Type: "Delivery"},
			{Name: "Bounce", Header: jsonHeader, Body: []byte(bounce), ID: hash(bounce), Type: "Bounce"},
			{Name: "inbound", Header: jsonHeader, Body: []byte(inbound), ID: hash(inbound)},
		},
		Malformed: []providertest.Sample{
			{Name: "RecordType not a string", Header: jsonHeader, Body: []byte(`{"RecordType":1}`)},
			{Name: "ambiguous RecordType", Header: jsonHeader, Body: []byte(`{"RecordType":"Open","recordtype":"Click"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`RecordType=Open`)},
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", postmark.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceAuthorization(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), postmark.HeaderAuthorization)
}

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

// The credentials must match a pair exactly: user and password, any other
// scheme, a missing colon or padding are refused.
func TestCredentials(t *testing.T) {
	p, err := postmark.New("hookuser:s3cr3t-pass")
	require.NoError(t, err)
	body := []byte(delivery)
	for _, tc := range []struct {
		header string
		ok     bool
	}{
		{basic("hookuser:s3cr3t-pass"), true},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("hookuser:s3cr3t-pass")), true},
		{basic("hookuser:s3cr3t-pas"), false},
		{basic("hookuse:s3cr3t-pass"), false},
		{basic("Hookuser:s3cr3t-pass"), false},
		{basic("hookuser:s3cr3t-pass:"), false},
		{basic("hookusers3cr3t-pass"), false},
		{"Bearer hookuser:s3cr3t-pass", false},
		{"Basic", false},
		{"Basic !!!", false},
		{"hookuser:s3cr3t-pass", false},
	} {
		r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
		require.NoError(t, err)
		r.Header.Set("Authorization", tc.header)
		err = p.Verify(r, body)
		if tc.ok {
			assert.NoError(t, err, tc.header)
			continue
		}
		assert.ErrorIs(t, err, verify.ErrVerification, tc.header)
		assert.NotContains(t, err.Error(), "s3cr3t")
	}
	for _, bad := range []string{"", " ", "nocolon", ":password-only"} {
		_, err := postmark.New(bad)
		assert.ErrorIs(t, err, verify.ErrNoSecret, "credentials %q", bad)
	}
}
