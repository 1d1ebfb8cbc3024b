package calendly_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/calendly"
	"github.com/hookwise/hookwise/providers/providertest"
)

var jsonHeader = http.Header{"Content-Type": {"application/json; charset=utf-8"}}

var (
	inviteeCreated = []byte(`{"created_at":"2025-01-01T00:00:00.000000Z","created_by":"https://api.calendly.com/users/AAAAAAAAAAAAAAAA",` +
		`"event":"invitee.created","payload":{"email":"test@example.com","name":"John Doe","status":"active",` +
		`"event":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",` +
		`"uri":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAAAAAAAAAAAAAA",` +
		`"timezone":"America/New_York","rescheduled":false}}`)
	inviteeCanceled = []byte(`{"created_at":"2025-01-02T09:30:00.000000Z","created_by":"https://api.calendly.com/users/AAAAAAAAAAAAAAAA",` +
		`"event":"invitee.canceled","payload":{"email":"test@example.com","status":"canceled",` +
		`"cancellation":{"canceled_by":"John Doe","reason":"Conflict","canceler_type":"invitee"},` +
		`"uri":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAAAAAAAAAAAAAA"}}`)
)

func bodyHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func harness(t testing.TB) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return calendly.New(c.Secrets[0], calendly.WithSecrets(c.Secrets[1:]...),
				calendly.WithClock(c.Now), calendly.WithTolerance(c.Tolerance))
		},
		Sign:    calendly.SignRequest,
		Secrets: []string{"calendly-signing-key-one", "calendly-signing-key-two", "calendly-signing-key-three"},
		Samples: []providertest.Sample{
			{Name: "invitee.created", Header: jsonHeader, Body: inviteeCreated, ID: bodyHash(inviteeCreated), Type: "invitee.created"},
			{Name: "invitee.canceled", Header: jsonHeader, Body: inviteeCanceled, ID: bodyHash(inviteeCanceled), Type: "invitee.canceled"},
		},
		Malformed: []providertest.Sample{
			{Name: "no event", Header: jsonHeader, Body: []byte(`{"created_at":"2025-01-01T00:00:00.000000Z","payload":{}}`)},
			{Name: "event not a string", Header: jsonHeader, Body: []byte(`{"event":{"type":"invitee.created"}}`)},
			{Name: "ambiguous event", Header: jsonHeader, Body: []byte(`{"event":"invitee.created","Event":"invitee.canceled"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`event=invitee.created`)},
		},
		Tolerance: calendly.DefaultTolerance,
		List: &providertest.SignatureList{
			Header: calendly.HeaderSignature,
			Sep:    ",",
			Entry:  providertest.ForgedEntry("v1=", hex.EncodeToString),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", calendly.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), calendly.HeaderSignature)
}
