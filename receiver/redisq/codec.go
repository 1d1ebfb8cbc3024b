package redisq

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

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
	fieldToken      = "token"  // optional: absent in entries written before claim tokens
	fieldMeta       = "meta"   // optional: a JSON object, present when the event carries Meta
	fieldTarget     = "target" // optional: present for a fan-out copy (Event.Target)
	// Header and Meta values that are not valid UTF-8 (net/http lets header
	// values carry any byte but controls) would be altered by JSON strings:
	// such events store their headers, or Meta, in these fields instead, as
	// JSON with base64 bytes, and decode prefers them.
	fieldHeaderBytes = "headerb"
	fieldMetaBytes   = "metab"

	formatVersion = "1"
)

// Fields of format 2, the compact format Enqueue writes: the event in one
// binary field (see encode) and the attempt, which a retry rewrites, in
// another. An entry with fieldEvent is read as format 2, any other as
// format 1.
const (
	fieldEvent        = "e"
	fieldEventAttempt = "a"
)

// ErrMalformedEntry matches the error of a stream entry that cannot be read
// back as an event (written by something else, or by an incompatible
// version). Such an entry is passed, as far as it can be read, to the
// Processor's Abandon with this error, then acknowledged: it can never be
// handled, and left pending it would be reclaimed forever.
var ErrMalformedEntry = errors.New("redisq: malformed stream entry")

func headerFromBytes(in [][][]byte) (http.Header, error) {
	h := make(http.Header, len(in))
	for _, entry := range in {
		if len(entry) == 0 {
			return nil, errors.New("empty header entry")
		}
		k := string(entry[0])
		for _, v := range entry[1:] {
			h[k] = append(h[k], string(v))
		}
		if _, ok := h[k]; !ok {
			h[k] = []string{}
		}
	}
	return h, nil
}

func metaFromBytes(in [][2][]byte) map[string]string {
	if len(in) == 0 {
		return nil
	}
	m := make(map[string]string, len(in))
	for _, kv := range in {
		m[string(kv[0])] = string(kv[1])
	}
	return m
}

// maxAttempt bounds the attempt count read from an entry, so that a corrupt
// value cannot overflow when the queue adds one.
const maxAttempt = 1 << 30

// decode reads an event back from the fields of a stream entry, as go-redis
// returns them (string values), in format 2 or in format 1.
func decode(values map[string]any) (*driver.Event, error) {
	if _, ok := values[fieldEvent]; ok {
		return decodeV2(values)
	}
	return decodeV1(values)
}

// decodeV1 reads an entry of format 1: one field per Event field, the
// header and Meta as JSON.
func decodeV1(values map[string]any) (*driver.Event, error) {
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
	if hb, ok := values[fieldHeaderBytes]; ok {
		var raw [][][]byte
		hs, ok := hb.(string)
		if !ok || json.Unmarshal([]byte(hs), &raw) != nil {
			return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldHeaderBytes)
		}
		if e.Header, err = headerFromBytes(raw); err != nil {
			return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldHeaderBytes)
		}
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
	if t, ok := values[fieldTarget]; ok {
		if e.Target, ok = t.(string); !ok || !driver.ValidTarget(e.Target) {
			return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldTarget)
		}
	}
	if m, ok := values[fieldMeta]; ok {
		ms, ok := m.(string)
		if !ok || json.Unmarshal([]byte(ms), &e.Meta) != nil {
			return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldMeta)
		}
	}
	if m, ok := values[fieldMetaBytes]; ok {
		var raw [][2][]byte
		ms, ok := m.(string)
		if !ok || json.Unmarshal([]byte(ms), &raw) != nil {
			return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldMetaBytes)
		}
		e.Meta = metaFromBytes(raw)
	}
	return &e, nil
}

// retryFields returns the entry's fields as script arguments with the
// attempt count replaced by next. Unknown fields are kept.
func retryFields(values map[string]any, next int) []any {
	out := make([]any, 0, 2*len(values))
	for k, v := range values {
		if k == fieldAttempt || k == fieldEventAttempt {
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
	if blob, ok := values[fieldEvent].(string); ok {
		// What the fields decoded before the first bad one hold.
		e := &driver.Event{Attempt: 1}
		_ = decodeBlob(blob, e)
		if e.Header == nil {
			e.Header = http.Header{}
		}
		if a, err := strconv.Atoi(str(fieldEventAttempt)); err == nil && a >= 1 && a <= maxAttempt {
			e.Attempt = a
		}
		if !driver.ValidTarget(e.Target) {
			e.Target = ""
		}
		return e
	}
	e := &driver.Event{
		Provider:   str(fieldProvider),
		ID:         str(fieldID),
		Type:       str(fieldType),
		Version:    str(fieldPayloadVer),
		Header:     http.Header{},
		Body:       []byte(str(fieldBody)),
		Attempt:    1,
		ClaimToken: str(fieldToken),
		Target:     str(fieldTarget),
	}
	if t, err := time.Parse(time.RFC3339Nano, str(fieldReceivedAt)); err == nil {
		e.ReceivedAt = t
	}
	if a, err := strconv.Atoi(str(fieldAttempt)); err == nil && a >= 1 && a <= maxAttempt {
		e.Attempt = a
	}
	return e
}

func headerUTF8(h http.Header) bool {
	for k, vs := range h {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

func metaUTF8(m map[string]string) bool {
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// headerAsBytes and metaAsBytes give every string as []byte, which JSON
// writes in base64: any byte survives.
func headerAsBytes(h http.Header) [][][]byte {
	out := make([][][]byte, 0, len(h))
	for k, vs := range h {
		entry := make([][]byte, 0, 1+len(vs))
		entry = append(entry, []byte(k))
		for _, v := range vs {
			entry = append(entry, []byte(v))
		}
		out = append(out, entry)
	}
	return out
}

func metaAsBytes(m map[string]string) [][2][]byte {
	out := make([][2][]byte, 0, len(m))
	for k, v := range m {
		out = append(out, [2][]byte{[]byte(k), []byte(v)})
	}
	return out
}

// encodeV1 returns the stream fields of e as XADD arguments (field, value, ...)
// in format 1, the format of earlier releases, which decode still reads.
// Payload is not stored: the processor derives it again from Body.
func encodeV1(e *driver.Event) ([]any, error) {
	header := []byte("{}")
	var headerBytes []byte
	if len(e.Header) > 0 {
		var err error
		if headerUTF8(e.Header) {
			header, err = json.Marshal(e.Header)
		} else {
			headerBytes, err = json.Marshal(headerAsBytes(e.Header))
		}
		if err != nil {
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
	if headerBytes != nil {
		fields = append(fields, fieldHeaderBytes, headerBytes)
	}
	if e.Target != "" {
		fields = append(fields, fieldTarget, e.Target)
	}
	if len(e.Meta) > 0 {
		name, v := fieldMeta, any(e.Meta)
		if !metaUTF8(e.Meta) {
			name, v = fieldMetaBytes, metaAsBytes(e.Meta)
		}
		meta, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("redisq: encode meta: %w", err)
		}
		fields = append(fields, name, meta)
	}
	return fields, nil
}
