package redisq

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hookwise/hookwise/receiver/driver"
)

// Stream entry fields. The names are part of the stored format: entries
// written by one version must be readable by the next.
const (
	fieldVersion    = "v"
	fieldProvider   = "provider"
	fieldID         = "id"
	fieldType       = "type"
	fieldPayloadVer = "version"
	fieldReceivedAt = "received_at"
	fieldHeader     = "header"
	fieldBody       = "body"
	fieldAttempt    = "attempt"
	fieldToken      = "token" // optional: absent in entries written before claim tokens
	fieldMeta       = "meta"  // optional: a JSON object, present when the event carries Meta

	formatVersion = "1"
)

// ErrMalformedEntry matches the error of a stream entry that cannot be read
// back as an event (written by something else, or by an incompatible
// version). Such an entry is passed, as far as it can be read, to the
// Processor's Abandon with this error, then acknowledged: it can never be
// handled, and left pending it would be reclaimed forever.
var ErrMalformedEntry = errors.New("redisq: malformed stream entry")

// encode returns the stream fields of e as XADD arguments (field, value, ...).
// Payload is not stored: the processor derives it again from Body.
func encode(e *driver.Event) ([]any, error) {
	header := []byte("{}")
	if len(e.Header) > 0 {
		var err error
		if header, err = json.Marshal(e.Header); err != nil {
			return nil, fmt.Errorf("redisq: encode header: %w", err)
		}
	}
	attempt := e.Attempt
	if attempt < 1 {
		attempt = 1
	}
	receivedAt := ""
	if !e.ReceivedAt.IsZero() {
		receivedAt = e.ReceivedAt.UTC().Format(time.RFC3339Nano)
	}
	fields := []any{
		fieldVersion, formatVersion,
		fieldProvider, e.Provider,
		fieldID, e.ID,
		fieldType, e.Type,
		fieldPayloadVer, e.Version,
		fieldReceivedAt, receivedAt,
		fieldHeader, header,
		fieldBody, e.Body,
		fieldAttempt, strconv.Itoa(attempt),
		fieldToken, e.ClaimToken,
	}
	if len(e.Meta) > 0 {
		meta, err := json.Marshal(e.Meta)
		if err != nil {
			return nil, fmt.Errorf("redisq: encode meta: %w", err)
		}
		fields = append(fields, fieldMeta, meta)
	}
	return fields, nil
}

// maxAttempt bounds the attempt count read from an entry, so that a corrupt
// value cannot overflow when the queue adds one.
const maxAttempt = 1 << 30

// decode reads an event back from the fields of a stream entry, as go-redis
// returns them (string values).
func decode(values map[string]any) (*driver.Event, error) {
	str := func(k string) (string, error) {
		v, ok := values[k]
		if !ok {
			return "", fmt.Errorf("%w: missing field %q", ErrMalformedEntry, k)
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%w: field %q is not a string", ErrMalformedEntry, k)
		}
		return s, nil
	}
	if v, err := str(fieldVersion); err != nil {
		return nil, err
	} else if v != formatVersion {
		return nil, fmt.Errorf("%w: unknown format version %q", ErrMalformedEntry, v)
	}
	var e driver.Event
	var err error
	if e.Provider, err = str(fieldProvider); err != nil {
		return nil, err
	}
	if e.ID, err = str(fieldID); err != nil {
		return nil, err
	}
	if e.Type, err = str(fieldType); err != nil {
		return nil, err
	}
	if e.Version, err = str(fieldPayloadVer); err != nil {
		return nil, err
	}
	ra, err := str(fieldReceivedAt)
	if err != nil {
		return nil, err
	}
	if ra != "" {
		if e.ReceivedAt, err = time.Parse(time.RFC3339Nano, ra); err != nil {
			return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldReceivedAt)
		}
	}
	h, err := str(fieldHeader)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(h), &e.Header); err != nil {
		return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldHeader)
	}
	if e.Header == nil {
		e.Header = http.Header{}
	}
	body, err := str(fieldBody)
	if err != nil {
		return nil, err
	}
	e.Body = []byte(body)
	a, err := str(fieldAttempt)
	if err != nil {
		return nil, err
	}
	if e.Attempt, err = strconv.Atoi(a); err != nil || e.Attempt < 1 || e.Attempt > maxAttempt {
		return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldAttempt)
	}
	if t, ok := values[fieldToken]; ok {
		if e.ClaimToken, ok = t.(string); !ok {
			return nil, fmt.Errorf("%w: field %q is not a string", ErrMalformedEntry, fieldToken)
		}
	}
	if m, ok := values[fieldMeta]; ok {
		ms, ok := m.(string)
		if !ok || json.Unmarshal([]byte(ms), &e.Meta) != nil {
			return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldMeta)
		}
	}
	return &e, nil
}

// retryFields returns the entry's fields as script arguments with the
// attempt count replaced by next. Unknown fields are kept.
func retryFields(values map[string]any, next int) []any {
	out := make([]any, 0, 2*len(values))
	for k, v := range values {
		if k == fieldAttempt {
			v = strconv.Itoa(next)
		}
		out = append(out, k, v)
	}
	return out
}

// partialEvent returns what can be read of an entry decode rejects, for the
// dead-letter store: its string fields, and the attempt when it parses.
func partialEvent(values map[string]any) *driver.Event {
	str := func(k string) string { s, _ := values[k].(string); return s }
	e := &driver.Event{
		Provider:   str(fieldProvider),
		ID:         str(fieldID),
		Type:       str(fieldType),
		Version:    str(fieldPayloadVer),
		Header:     http.Header{},
		Body:       []byte(str(fieldBody)),
		Attempt:    1,
		ClaimToken: str(fieldToken),
	}
	if t, err := time.Parse(time.RFC3339Nano, str(fieldReceivedAt)); err == nil {
		e.ReceivedAt = t
	}
	if a, err := strconv.Atoi(str(fieldAttempt)); err == nil && a >= 1 && a <= maxAttempt {
		e.Attempt = a
	}
	return e
}
