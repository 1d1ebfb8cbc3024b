package standardwebhooks

import (
	"errors"
	"testing"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A signed body whose type has two readings (encoding/json matches struct
// fields case-insensitively and keeps the last duplicate) is refused: the
// router must not read one event while the handler decodes another. The ID
// comes from the signed webhook-id header, so "id"/"ID" in the body are not
// read; a body "type" is.
func TestParseRefusesAmbiguousKeys(t *testing.T) {
	p, err := New(secret)
	require.NoError(t, err)
	for _, body := range []string{
		`{"type":"user.created","type":"user.deleted","data":{}}`,
		`{"type":"user.created","Type":"user.deleted","data":{}}`,
		`{"TYPE":"user.deleted","data":{}}`,
		`{"type":"user.created","\u0054ype":"user.deleted","data":{}}`,
		`{"id":"a","ID":"b","type":"user.created","TYPE":"user.deleted"}`,
	} {
		b := []byte(body)
		r := NewRequest("https://example.com/", secret, msgID, time.Now(), b)
		_, err := p.Parse(r, b)
		assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope, body)
		assert.True(t, errors.Is(err, jsonscan.ErrDuplicateKey) || errors.Is(err, jsonscan.ErrKeyCase), body)
		if err != nil {
			assert.NotContains(t, err.Error(), "user.deleted", "the error quotes the payload")
		}
	}
	// A custom type key is held to the same rule.
	kp, err := New(secret, WithTypeKey("eventType"))
	require.NoError(t, err)
	b := []byte(`{"eventType":"a","EventType":"b"}`)
	r := NewRequest("https://example.com/", secret, msgID, time.Now(), b)
	_, err = kp.Parse(r, b)
	assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
	assert.ErrorIs(t, err, jsonscan.ErrDuplicateKey)
}
