package redisq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/hookwise/hookwise/receiver/driver"
)

// blobVersion is the first byte of a format 2 event field.
const blobVersion = 2

// encode returns the stream fields of e as XADD arguments (field, value, ...)
// in format 2: fieldEvent holds every Event field but Attempt and Payload
// (the processor derives Payload again from Body) in one binary value, and
// fieldEventAttempt the attempt in decimal. Strings and bytes are stored as
// they are, whatever their encoding. The value is, in order:
//
//	byte     blobVersion (2)
//	string   Provider, ID, Type, Version, ClaimToken, Target
//	byte     0: no ReceivedAt; 1: ReceivedAt follows, as
//	varint   its Unix seconds, and
//	uvarint  its nanoseconds
//	uvarint  the number of header keys, then for each:
//	string   the key
//	uvarint  the number of values, then each value as a string
//	uvarint  the number of Meta entries, then each key and value as strings
//	string   Body
//
// where a string is its length as a uvarint followed by its bytes, and
// nothing follows Body.
func encode(e *driver.Event) ([]any, error) {
	n := 1 + 6*binary.MaxVarintLen64 + 1 + 2*binary.MaxVarintLen64 + binary.MaxVarintLen64 + len(e.Provider) + len(e.ID) + len(e.Type) +
		len(e.Version) + len(e.ClaimToken) + len(e.Target) + 2*binary.MaxVarintLen64 + len(e.Body)
	for k, vs := range e.Header {
		n += 2*binary.MaxVarintLen64 + len(k)
		for _, v := range vs {
			n += binary.MaxVarintLen64 + len(v)
		}
	}
	for k, v := range e.Meta {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	b := make([]byte, 0, n)
	b = append(b, blobVersion)
	for _, s := range [...]string{e.Provider, e.ID, e.Type, e.Version, e.ClaimToken, e.Target} {
		b = appendString(b, s)
	}
	if e.ReceivedAt.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, e.ReceivedAt.Unix())
		b = binary.AppendUvarint(b, uint64(e.ReceivedAt.Nanosecond()))
	}
	b = binary.AppendUvarint(b, uint64(len(e.Header)))
	for k, vs := range e.Header {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.Meta)))
	for k, v := range e.Meta {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Body)))
	b = append(b, e.Body...)
	attempt := e.Attempt
	if attempt < 1 {
		attempt = 1
	}
	return []any{fieldEvent, b, fieldEventAttempt, strconv.Itoa(attempt)}, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeV2 reads an entry of format 2 (see encode).
func decodeV2(values map[string]any) (*driver.Event, error) {
	blob, ok := values[fieldEvent].(string)
	if !ok {
		return nil, fmt.Errorf("%w: field %q is not a string", ErrMalformedEntry, fieldEvent)
	}
	a, ok := values[fieldEventAttempt].(string)
	if !ok {
		return nil, fmt.Errorf("%w: missing or bad field %q", ErrMalformedEntry, fieldEventAttempt)
	}
	var e driver.Event
	var err error
	if e.Attempt, err = strconv.Atoi(a); err != nil || e.Attempt < 1 || e.Attempt > maxAttempt {
		return nil, fmt.Errorf("%w: bad %s", ErrMalformedEntry, fieldEventAttempt)
	}
	if err := decodeBlob(blob, &e); err != nil {
		return nil, fmt.Errorf("%w: bad %s: %w", ErrMalformedEntry, fieldEvent, err)
	}
	if e.Target != "" && !driver.ValidTarget(e.Target) {
		return nil, fmt.Errorf("%w: bad target", ErrMalformedEntry)
	}
	if e.Header == nil {
		e.Header = http.Header{}
	}
	return &e, nil
}

var (
	errBlobVersion = errors.New("unknown version")
	errBlobShort   = errors.New("truncated")
	errBlobLong    = errors.New("trailing bytes")
	errBlobTime    = errors.New("bad time")
)

// decodeBlob fills e from a format 2 event value, field by field, and stops
// at the first that does not decode. Its strings share blob's memory; Body
// is a copy. No count or length can make it allocate more than blob's size
// in elements, since each element takes at least one byte.
func decodeBlob(blob string, e *driver.Event) error {
	d := blobReader{s: blob}
	if v, ok := d.byte(); !ok || v != blobVersion {
		return errBlobVersion
	}
	for _, p := range [...]*string{&e.Provider, &e.ID, &e.Type, &e.Version, &e.ClaimToken, &e.Target} {
		s, ok := d.string()
		if !ok {
			return errBlobShort
		}
		*p = s
	}
	switch flag, ok := d.byte(); {
	case !ok:
		return errBlobShort
	case flag == 1:
		sec, ok1 := d.varint()
		nsec, ok2 := d.uvarint()
		if !ok1 || !ok2 {
			return errBlobShort
		}
		if nsec >= uint64(time.Second) || sec < math.MinInt64/2 || sec > math.MaxInt64/2 {
			return errBlobTime
		}
		e.ReceivedAt = time.Unix(sec, int64(nsec)).UTC()
	case flag != 0:
		return errBlobTime
	}
	nh, ok := d.count()
	if !ok {
		return errBlobShort
	}
	if nh > 0 {
		e.Header = make(http.Header, nh)
	}
	for range nh {
		k, ok := d.string()
		if !ok {
			return errBlobShort
		}
		nv, ok := d.count()
		if !ok {
			return errBlobShort
		}
		vs := make([]string, 0, nv)
		for range nv {
			v, ok := d.string()
			if !ok {
				return errBlobShort
			}
			vs = append(vs, v)
		}
		if old, dup := e.Header[k]; dup {
			vs = append(old, vs...)
		}
		e.Header[k] = vs
	}
	nm, ok := d.count()
	if !ok {
		return errBlobShort
	}
	if nm > 0 {
		e.Meta = make(map[string]string, nm)
	}
	for range nm {
		k, ok1 := d.string()
		v, ok2 := d.string()
		if !ok1 || !ok2 {
			return errBlobShort
		}
		e.Meta[k] = v
	}
	body, ok := d.string()
	if !ok {
		return errBlobShort
	}
	e.Body = []byte(body)
	if d.s != "" {
		return errBlobLong
	}
	return nil
}

// blobReader reads a format 2 value from the front of s.
type blobReader struct{ s string }

func (d *blobReader) byte() (byte, bool) {
	if d.s == "" {
		return 0, false
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c, true
}

func (d *blobReader) uvarint() (uint64, bool) {
	var x uint64
	for i := 0; i < binary.MaxVarintLen64 && i < len(d.s); i++ {
		c := d.s[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, false // overflow
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			d.s = d.s[i+1:]
			return x, true
		}
	}
	return 0, false
}

func (d *blobReader) varint() (int64, bool) {
	u, ok := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x, ok
}

// count reads a number of elements, each of which takes at least one byte
// of what is left.
func (d *blobReader) count() (int, bool) {
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.s)) {
		return 0, false
	}
	return int(n), true
}

func (d *blobReader) string() (string, bool) {
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.s)) {
		return "", false
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s, true
}
