package clerk_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/clerk"
	"github.com/hookwise/hookwise/providers/providertest"
)

func header(id string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Svix-Id": {id}}
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return clerk.New(c.Secrets[0], clerk.WithSecrets(c.Secrets[1:]...),
				clerk.WithClock(c.Now), clerk.WithTolerance(c.Tolerance))
		},
		Sign: clerk.SignRequest,
		Secrets: []string{
			"whsec_LKe4l8/P6LJnhTfG7sIQhD0oFQ4dg+dxtq21C88oI9s=",
			"whsec_YW5vdGhlci1zZWNyZXQtb2YtMjQtYnl0ZXMh",
			"whsec_dKNmfNibe8Nkb87i4JhxlVfAyGZSWZ7BCbuJ0hRmuHY=",
		},
		Samples: []providertest.Sample{
			{
				Name: "user.created", Header: header("msg_2pC9Lb0vq3dYxJ8mXyZ1aBcDeFg"),
				ID: "msg_2pC9Lb0vq3dYxJ8mXyZ1aBcDeFg", Type: "user.created",
				Body: []byte(`{"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC","object":"user",` +
					`"email_addresses":[{"email_address":"example@example.org","id":"idn_29w83yL7CwVlJXylYLxcslromF1"}],` +
					`"first_name":"Example","last_name":"Example"},"event_attributes":{"http_request":{"client_ip":"0.0.0.0"}},` +
					`"object":"event","timestamp":1654012591835,"type":"user.created"}`),
			},
			{
				Name: "session.ended", Header: header("msg_2qZ0s3Jv5pYb2mHQd8Q0yq3mQhA"),
				ID: "msg_2qZ0s3Jv5pYb2mHQd8Q0yq3mQhA", Type: "session.ended",
				Body: []byte(`{"data":{"id":"sess_2qZ0s1","object":"session","status":"ended","user_id":"user_29w83"},"object":"event","type":"session.ended"}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no type", Header: header("msg_1"), Body: []byte(`{"data":{},"object":"event"}`)},
			{Name: "ambiguous type", Header: header("msg_1"), Body: []byte(`{"type":"user.created","Type":"user.deleted"}`)},
			{Name: "not JSON", Header: header("msg_1"), Body: []byte(`type=user.created`)},
		},
		SignedHeaders: []string{clerk.HeaderID},
		Tolerance:     clerk.DefaultTolerance,
		List: &providertest.SignatureList{
			Header: clerk.HeaderSignature,
			Sep:    " ",
			Entry:  providertest.ForgedEntry("v1,", base64.StdEncoding.EncodeToString),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", clerk.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), clerk.HeaderSignature)
}

func FuzzConformanceTimestampHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), clerk.HeaderTimestamp)
}
