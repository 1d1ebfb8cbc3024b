package slack

import (
	"errors"
	"testing"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A signed body whose event ID or type has two readings (encoding/json
// matches struct fields case-insensitively and keeps the last duplicate) is
// refused: the router must not read one event while the handler decodes
// another.
func TestParseRefusesAmbiguousKeys(t *testing.T) {
	p, err := New(secret)
	require.NoError(t, err)
	for _, body := range []string{
		`{"type":"event_callback","event_id":"Ev1","EVENT_ID":"Ev2","event":{"type":"app_mention"}}`,
		`{"type":"event_callback","Event_Id":"Ev2","event":{"type":"app_mention"}}`,
		`{"type":"event_callback","type":"url_verification","event_id":"Ev1","challenge":"c","event":{"type":"app_mention"}}`,
		`{"type":"event_callback","Type":"url_verification","event_id":"Ev1","challenge":"c","event":{"type":"app_mention"}}`,
		`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","TYPE":"member_joined_channel"}}`,
		`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"},"Event":{"type":"x"}}`,
		`{"type":"url_verification","challenge":"a","Challenge":"b"}`,
	} {
		b := []byte(body)
		r := NewRequest("https://example.com/", secret, now, b, "application/json")
		_, err := p.Parse(r, b)
		assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope, body)
		assert.True(t, errors.Is(err, jsonscan.ErrDuplicateKey) || errors.Is(err, jsonscan.ErrKeyCase), body)
		if err != nil {
			assert.NotContains(t, err.Error(), "Ev2", "the error quotes the payload")
		}
	}
	// The interactive payload of a form delivery is read the same way.
	form := []byte("payload=" + `%7B%22type%22%3A%22block_actions%22%2C%22Type%22%3A%22view_submission%22%7D`)
	_, err = p.Parse(NewRequest("https://example.com/", secret, now, form, formType), form)
	assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
	assert.ErrorIs(t, err, jsonscan.ErrDuplicateKey)
}
