package stripe

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A signed body whose ID or type has two readings (encoding/json matches
// struct fields case-insensitively and keeps the last duplicate) is refused:
// the router must not read one event while the handler decodes another.
func TestParseRefusesAmbiguousKeys(t *testing.T) {
	p, err := New(secret)
	require.NoError(t, err)
	for _, body := range []string{
		`{"id":"evt_1","ID":"evt_2","type":"invoice.paid"}`,
		`{"ID":"evt_2","id":"evt_1","type":"invoice.paid"}`,
		`{"Id":"evt_2","type":"invoice.paid"}`,
		`{"id":"evt_1","\u0049d":"evt_2","type":"invoice.paid"}`,
		`{"id":"evt_1","type":"invoice.paid","type":"customer.deleted"}`,
		`{"id":"evt_1","type":"invoice.paid","Type":"customer.deleted"}`,
		`{"id":"evt_1","type":"invoice.paid","api_version":"2024-06-20","api_verſion":"2020-01-01"}`,
	} {
		b := []byte(body)
		r := NewRequest("https://example.com/", secret, time.Now(), b)
		raw, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		require.NoError(t, p.Verify(r, raw), "the body is authentic")
		_, err = p.Parse(r, raw)
		assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope, body)
		assert.True(t, errors.Is(err, jsonscan.ErrDuplicateKey) || errors.Is(err, jsonscan.ErrKeyCase), body)
		if err != nil {
			assert.NotContains(t, err.Error(), "evt_2", "the error quotes the payload")
		}
	}
}
