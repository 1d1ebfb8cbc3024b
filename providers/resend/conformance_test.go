package resend_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/resend"
)

func header(id string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Svix-Id": {id}}
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return resend.New(c.Secrets[0], resend.WithSecrets(c.Secrets[1:]...),
				resend.WithClock(c.Now), resend.WithTolerance(c.Tolerance))
		},
		Sign: resend.SignRequest,
		Secrets: []string{
			"whsec_dKNmfNibe8Nkb87i4JhxlVfAyGZSWZ7BCbuJ0hRmuHY=",
			"whsec_YW5vdGhlci1zZWNyZXQtb2YtMjQtYnl0ZXMh",
			"whsec_LKe4l8/P6LJnhTfG7sIQhD0oFQ4dg+dxtq21C88oI9s=",
		},
		Samples: []providertest.Sample{
			{
				Name: "email.delivered", Header: header("msg_2qDM0aC8kuWcZ5q1v3N0tXh9wRz"),
				ID: "msg_2qDM0aC8kuWcZ5q1v3N0tXh9wRz", Type: "email.delivered",
				Body: []byte(`{"type":"email.delivered","created_at":"2025-01-01T00:00:00.000Z","data":{"created_at":"2025-01-01 00:00:00.000000+00",` +
					`"email_id":"4ef9a417-02e9-4d39-ad75-9611e0fcc33c","from":"Acme <onboarding@resend.dev>","to":["delivered@resend.dev"],` +
					`"subject":"Sending this example"}}`),
			},
			{
				Name: "email.bounced", Header: header("msg_2qDM1bD9lvXdA6r2w4O1uYi0xSa"),
				ID: "msg_2qDM1bD9lvXdA6r2w4O1uYi0xSa", Type: "email.bounced",
				Body: []byte(`{"type":"email.bounced","created_at":"2025-01-01T00:01:00.000Z","data":{"email_id":"56761188-7520-42d8-8898-ff6fc54ce618",` +
					`"bounce":{"message":"The recipient's email address does not exist.","subType":"Suppressed","type":"Permanent"}}}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no type", Header: header("msg_1"), Body: []byte(`{"data":{},"object":"event"}`)},
			{Name: "ambiguous type", Header: header("msg_1"), Body: []byte(`{"type":"email.sent","Type":"email.bounced"}`)},
			{Name: "not JSON", Header: header("msg_1"), Body: []byte(`type=email.sent`)},
		},
		SignedHeaders: []string{resend.HeaderID},
		Tolerance:     resend.DefaultTolerance,
		List: &providertest.SignatureList{
			Header: resend.HeaderSignature,
			Sep:    " ",
			Entry:  providertest.ForgedEntry("v1,", base64.StdEncoding.EncodeToString),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", resend.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), resend.HeaderSignature)
}

func FuzzConformanceTimestampHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), resend.HeaderTimestamp)
}
