package verify

import (
	"encoding/base64"
	"encoding/hex"
)

// Encoding is how a signature is written in its header.
type Encoding uint8

const (
	// Hex is lower- or upper-case hexadecimal (GitHub, Stripe, Slack).
	Hex Encoding = iota + 1
	// Base64 is standard padded base64 (Standard Webhooks, Shopify).
	Base64
	// Base64URL is URL-safe base64, padded or not.
	Base64URL
)

// String returns the encoding's name.
func (e Encoding) String() string {
	switch e {
	case Hex:
		return "hex"
	case Base64:
		return "base64"
	case Base64URL:
		return "base64url"
	}
	return "unknown"
}

// Decode decodes src, appending to dst[:0] when it has room, and returns the
// decoded bytes. It returns ErrMalformedSignature when src is not valid in
// the encoding. It never allocates when dst has room for the result.
func (e Encoding) Decode(dst []byte, src string) ([]byte, error) {
	var n int
	switch e {
	case Hex:
		n = len(src) / 2
	case Base64:
		n = base64.StdEncoding.DecodedLen(len(src))
	case Base64URL:
		n = base64.RawURLEncoding.DecodedLen(len(src))
	default:
		return nil, ErrMalformedSignature
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	var err error
	switch e {
	case Hex:
		if len(src)%2 != 0 {
			return nil, ErrMalformedSignature
		}
		n, err = hexDecode(dst, src)
	case Base64:
		var in [maxEncodedSize]byte
		n, err = base64.StdEncoding.Decode(dst, bytesOf(&in, src))
	case Base64URL:
		s := src
		for len(s) > 0 && s[len(s)-1] == '=' {
			s = s[:len(s)-1]
		}
		var in [maxEncodedSize]byte
		n, err = base64.RawURLEncoding.Decode(dst, bytesOf(&in, s))
	}
	if err != nil {
		return nil, ErrMalformedSignature
	}
	return dst[:n], nil
}

// Encode returns mac written in the encoding.
func (e Encoding) Encode(mac []byte) string {
	switch e {
	case Base64:
		return base64.StdEncoding.EncodeToString(mac)
	case Base64URL:
		return base64.RawURLEncoding.EncodeToString(mac)
	default:
		return hex.EncodeToString(mac)
	}
}

// bytesOf returns s as bytes, copied into buf when it fits: converting a
// string of more than 32 bytes would allocate.
func bytesOf(buf *[maxEncodedSize]byte, s string) []byte {
	if len(s) <= len(buf) {
		return buf[:copy(buf[:], s)]
	}
	return []byte(s)
}

func hexDecode(dst []byte, src string) (int, error) {
	n := len(src) / 2
	dst = dst[:n]
	var bad byte // any digit's value above 0x0f: one test after the loop, not one per byte
	for i := range dst {
		a, b := hexValues[src[2*i]], hexValues[src[2*i+1]]
		bad |= a | b
		dst[i] = a<<4 | b
	}
	if bad > 0x0f {
		return 0, ErrMalformedSignature
	}
	return n, nil
}

// hexValues maps a hex digit (either case) to its value and every other
// byte to 0xff: one load per digit instead of three range tests. The
// signature it decodes is the request's, not a secret, so a table indexed
// by it leaks nothing.
var hexValues = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()
