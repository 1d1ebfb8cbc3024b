package verify

import (
	"errors"
	"hash"
	"net/http"
	"time"
)

// A Verifier authenticates one delivery. body is the complete raw body, read
// once by the caller; implementations must not read r.Body and must not
// modify body. Verify returns nil or an error matching ErrVerification.
// Implementations are safe for concurrent use.
type Verifier interface {
	Verify(r *http.Request, body []byte) error
}

// VerifierFunc adapts a function to a Verifier.
type VerifierFunc func(r *http.Request, body []byte) error

// Verify calls f(r, body).
func (f VerifierFunc) Verify(r *http.Request, body []byte) error { return f(r, body) }

// Content builds the signed content of a request as a list of byte slices,
// hashed in order without being concatenated. ts is the raw timestamp header
// value ("" when the scheme has none).
type Content func(r *http.Request, ts string, body []byte) [][]byte

// Body signs the raw body alone (GitHub, Shopify).
func Body(_ *http.Request, _ string, body []byte) [][]byte { return [][]byte{body} }

// TimestampBody signs prefix + ts + sep + body: TimestampBody("", ".") is
// Stripe's "t.body", TimestampBody("v0:", ":") is Slack's "v0:ts:body".
func TimestampBody(prefix, sep string) Content {
	p, s := []byte(prefix), []byte(sep)
	return func(_ *http.Request, ts string, body []byte) [][]byte {
		return [][]byte{p, []byte(ts), s, body}
	}
}

// IDTimestampBody signs id + "." + ts + "." + body, where id is the value of
// the header idHeader (Standard Webhooks' "msg_id.ts.body").
func IDTimestampBody(idHeader string) Content {
	dot := []byte(".")
	return func(r *http.Request, ts string, body []byte) [][]byte {
		return [][]byte{[]byte(r.Header.Get(idHeader)), dot, []byte(ts), dot, body}
	}
}

// Scheme describes the common shape of an HMAC signature carried in a header,
// enough to write a provider in a few lines:
//
//	v, err := verify.NewScheme(verify.Scheme{
//		Hash:     sha256.New,
//		Secrets:  [][]byte{secret},
//		Header:   "X-Signature",
//		Prefix:   "sha256=",
//		Encoding: verify.Hex,
//		Content:  verify.Body,
//	})
type Scheme struct {
	// Hash is the HMAC's hash: sha256.New, sha1.New or sha512.New. Required.
	Hash func() hash.Hash
	// Secrets are the accepted secrets, newest first. At least one is required.
	Secrets [][]byte
	// Header is the signature header, such as "X-Hub-Signature-256". Required.
	Header string
	// Prefix is stripped from each signature, such as "sha256=", "v0=" or
	// "v1,". A signature without it does not verify.
	Prefix string
	// Encoding is how each signature is written. Default Hex.
	Encoding Encoding
	// Separator, when set, splits the header into several signatures, any of
	// which may match (" " for Standard Webhooks). Entries without Prefix are
	// ignored, as are malformed ones. Every scheme bounds its header to
	// MaxSignatureHeaderBytes and MaxSignatureEntries (see ParseSignatures).
	Separator string
	// TimestampHeader, when set, names the header with the signed Unix time in
	// seconds, checked against Tolerance.
	TimestampHeader string
	// Tolerance is the accepted distance of the timestamp from now, in both
	// directions. Default DefaultTolerance.
	Tolerance time.Duration
	// Content builds the signed bytes. Default Body.
	Content Content
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// SchemeVerifier is the Verifier built by NewScheme. It is safe for concurrent use.
type SchemeVerifier struct {
	s   Scheme
	mac *HMAC
}

// NewScheme validates s and returns its verifier. It returns ErrNoSecret
// when no usable secret is configured and an error for a missing Hash or Header.
func NewScheme(s Scheme) (*SchemeVerifier, error) {
	if s.Hash == nil || s.Header == "" {
		return nil, errors.New("verify: scheme needs Hash and Header")
	}
	mac, err := NewHMAC(s.Hash, s.Secrets...)
	if err != nil {
		return nil, err
	}
	if s.Encoding == 0 {
		s.Encoding = Hex
	}
	if s.Content == nil {
		s.Content = Body
	}
	if s.Tolerance <= 0 {
		s.Tolerance = DefaultTolerance
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return &SchemeVerifier{s: s, mac: mac}, nil
}

// HMAC returns the verifier's HMAC, for signing test requests.
func (v *SchemeVerifier) HMAC() *HMAC { return v.mac }

// Verify checks r's signature over body. The cheap checks come first: the
// headers' presence, the signature header's bounds and syntax
// (ParseSignatures), the timestamp and its window; only then is the MAC
// computed, once per secret whatever the number of entries.
func (v *SchemeVerifier) Verify(r *http.Request, body []byte) error {
	header := r.Header.Get(v.s.Header)
	if header == "" {
		return ErrMissingSignature
	}
	var ts string
	if v.s.TimestampHeader != "" {
		ts = r.Header.Get(v.s.TimestampHeader)
		if ts == "" {
			return ErrMissingTimestamp
		}
	}
	var sigs Signatures
	if err := ParseSignatures(&sigs, header, v.s.Separator, v.s.Encoding, v.s.Prefix); err != nil {
		return err
	}
	if v.s.TimestampHeader != "" {
		if err := CheckUnix(ts, v.s.Now(), v.s.Tolerance); err != nil {
			return err
		}
	}
	if !v.mac.MatchAny(&sigs, 0, v.s.Content(r, ts, body)...) {
		return ErrSignatureMismatch
	}
	return nil
}

// MatchList checks a header carrying one signature, or several separated by
// sep (when sep is not empty), each written as prefix + encoded MAC. It
// parses the header with ParseSignatures, so the header's bounds are checked
// before any MAC is computed, then computes each secret's MAC once and
// compares it with every entry. It returns nil when any entry matches,
// ErrSignatureHeaderTooLarge beyond MaxSignatureHeaderBytes or
// MaxSignatureEntries, ErrMalformedSignature when no entry could be read, and
// ErrSignatureMismatch otherwise. A malformed entry never hides a valid one.
func MatchList(m *HMAC, enc Encoding, header, sep, prefix string, parts ...[]byte) error {
	var sigs Signatures
	if err := ParseSignatures(&sigs, header, sep, enc, prefix); err != nil {
		return err
	}
	if !m.MatchAny(&sigs, 0, parts...) {
		return ErrSignatureMismatch
	}
	return nil
}
