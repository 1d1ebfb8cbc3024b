package crosscheck

import (
	"errors"
	"testing"

	gogithub "github.com/google/go-github/v75/github"
	hwgithub "github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

// TestGitHubEnvelopeKnownDifferences pins where Hookwise's GitHub envelope
// deliberately departs from what go-github reads (README.md, "Known
// differences"). X-GitHub-Delivery and X-GitHub-Event are not signed, so
// Hookwise keys dedupe on the signed body, requires the delivery ID to be a
// GUID, checks that the payload fits the event name, and refuses keys with
// two readings; go-github takes all of it as sent.
func TestGitHubEnvelopeKnownDifferences(t *testing.T) {
	const secret = "It's a Secret to Everybody"
	const guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	issuesDeleted := []byte(`{"action":"deleted","issue":{"number":1},"repository":{"id":1},"sender":{"login":"u"}}`)

	t.Run("event ID is the body's hash, not X-GitHub-Delivery", func(t *testing.T) {
		req := hwgithub.NewRequest("http://hookwise.test/github", secret, "issues", guid, issuesDeleted)
		env, err := newGitHub(t, secret).Parse(req, issuesDeleted)
		if err != nil {
			t.Fatal(err)
		}
		if env.ID != hwgithub.EventID(issuesDeleted) || env.ID == gogithub.DeliveryID(req) {
			t.Errorf("Hookwise ID %q, go-github %q", env.ID, gogithub.DeliveryID(req))
		}
	})

	refused := []struct {
		name, event, delivery string
		body                  []byte
	}{
		{"issues payload labelled repository", "repository", guid, issuesDeleted},
		{"delivery ID not a GUID", "issues", "delivery-1", issuesDeleted},
		{"action and Action", "issues", guid, []byte(`{"action":"opened","Action":"deleted","issue":{"number":1}}`)},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			req := hwgithub.NewRequest("http://hookwise.test/github", secret, tt.event, tt.delivery, tt.body)
			payload, err := gogithub.ValidatePayload(cloneRequest(req), []byte(secret))
			if err != nil {
				t.Fatalf("go-github ValidatePayload: %v", err)
			}
			if _, err := gogithub.ParseWebHook(gogithub.WebHookType(req), payload); err != nil {
				t.Fatalf("go-github ParseWebHook: %v, expected it to accept (the difference is gone)", err)
			}
			p := newGitHub(t, secret)
			if err := p.Verify(req, tt.body); err != nil {
				t.Fatalf("Hookwise Verify: %v", err)
			}
			if _, err := p.Parse(req, tt.body); !errors.Is(err, receiver.ErrMalformedEnvelope) {
				t.Errorf("Hookwise Parse: %v, want ErrMalformedEnvelope", err)
			}
		})
	}
}
