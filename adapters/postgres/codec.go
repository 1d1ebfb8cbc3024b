package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookwise/hookwise/internal/textcut"
)

// ErrMalformedRow matches the error of a stored event or dead letter whose
// encoded header or meta cannot be read back (written by something else). A
// Queue passes such an event, as far as it can be read, to its processor's
// Abandon, to be dead-lettered, and marks it dead.
var ErrMalformedRow = errors.New("postgres: malformed stored event")

// ErrUnstorable matches the error of Enqueue and Put for an event whose
// provider, ID, type or version cannot be stored in a text column (not valid
// UTF-8, or holding a NUL byte). The receiver never passes such an event: it
// refuses IDs, types and versions outside printable ASCII.
var ErrUnstorable = errors.New("postgres: event field not storable as text")

// The header and meta columns hold a compact binary encoding, lossless for
// any bytes (header values may hold bytes outside UTF-8, which jsonb would
// alter):
//
//	version byte 1
//	uvarint n                      the number of names (header) or keys (meta)
//	n × { bytes name; uvarint m; m × bytes value }   header
//	n × { bytes key; bytes value }                   meta
//	bytes = uvarint length, then the bytes
const codecVersion = 1

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeHeader returns h encoded, or nil for a nil header.
func encodeHeader(h http.Header) []byte {
	if h == nil {
		return nil
	}
	b := []byte{codecVersion}
	b = binary.AppendUvarint(b, uint64(len(h)))
	for k, vs := range h {
		b = appendBytes(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendBytes(b, v)
		}
	}
	return b
}

// encodeMeta returns m encoded, or nil for a nil map.
func encodeMeta(m map[string]string) []byte {
	if m == nil {
		return nil
	}
	b := []byte{codecVersion}
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = appendBytes(b, k)
		b = appendBytes(b, v)
	}
	return b
}

// reader decodes the encoding; every count is bounded by the bytes left, so
// a corrupt value cannot make it allocate more than its input's size.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)-n) {
		r.err = ErrMalformedRow
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) bytes() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) start(b []byte) int {
	if len(b) == 0 || b[0] != codecVersion {
		r.err = ErrMalformedRow
		return 0
	}
	r.b = b[1:]
	return r.uvarint()
}

// decodeHeader decodes a header column; nil for NULL.
func decodeHeader(b []byte) (http.Header, error) {
	if b == nil {
		return nil, nil
	}
	var r reader
	n := r.start(b)
	h := make(http.Header, min(n, 64))
	for i := 0; i < n && r.err == nil; i++ {
		k := r.bytes()
		m := r.uvarint()
		vs := make([]string, 0, min(m, 16))
		for j := 0; j < m && r.err == nil; j++ {
			vs = append(vs, r.bytes())
		}
		h[k] = vs
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = ErrMalformedRow
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: header", ErrMalformedRow)
	}
	return h, nil
}

// decodeMeta decodes a meta column; nil for NULL.
func decodeMeta(b []byte) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	var r reader
	n := r.start(b)
	m := make(map[string]string, min(n, 16))
	for i := 0; i < n && r.err == nil; i++ {
		k := r.bytes()
		m[k] = r.bytes()
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = ErrMalformedRow
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: meta", ErrMalformedRow)
	}
	return m, nil
}

// textOK reports whether s fits a text column: valid UTF-8 without NUL.
func textOK(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// checkText returns ErrUnstorable when a field cannot be stored as text.
func checkText(fields ...string) error {
	for _, f := range fields {
		if !textOK(f) {
			return ErrUnstorable
		}
	}
	return nil
}

// errorText returns err's text fit for a text column: bounded to
// MaxErrorBytes, invalid UTF-8 and NUL bytes replaced. Empty for nil.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return cleanText(err.Error())
}

func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	return textcut.Cut(s, MaxErrorBytes)
}

// splitTime returns t to the microsecond (nil for the zero time) and its
// nanoseconds below the microsecond, so that a timestamptz column and an
// integer column keep it exactly.
func splitTime(t time.Time) (any, int32) {
	if t.IsZero() {
		return nil, 0
	}
	us := t.Truncate(time.Microsecond)
	return us, int32(t.Sub(us))
}

// joinTime is the inverse of splitTime.
func joinTime(t *time.Time, ns int32) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC().Add(time.Duration(ns))
}
