package declare

import (
	"crypto/ed25519"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Algorithm is how a scheme authenticates a delivery.
type Algorithm uint8

// The algorithms a Scheme can declare.
const (
	// HMACSHA256 is an HMAC-SHA256 of the Message, keyed with the secret.
	HMACSHA256 Algorithm = iota + 1
	// HMACSHA1 is an HMAC-SHA1 of the Message (Twilio, Vercel, Intercom).
	HMACSHA1
	// HMACSHA512 is an HMAC-SHA512 of the Message.
	HMACSHA512
	// Ed25519 is an Ed25519 signature of the Message. The secrets given to
	// New are the sender's public keys (decoded by Scheme.Key, hex by
	// default); Scheme.Sign takes the private key (a 32-byte seed or a
	// 64-byte key, in the same encoding).
	Ed25519
	// Token is a static token the sender sends verbatim in the signature
	// header (after Signature.Prefix, such as "Bearer "), compared in
	// constant time with each secret. It authenticates the sender, not the
	// body.
	Token
	// Basic is HTTP Basic authentication: each secret is "user:password",
	// compared in constant time with the credentials of the Authorization
	// header. It authenticates the sender, not the body.
	Basic
)

// String returns the algorithm's name ("HMAC-SHA256", "Ed25519", …).
func (a Algorithm) String() string { return kit.Algorithm(a).String() }

// Signature declares the header that carries the signature (or the token,
// or the Basic credentials).
type Signature struct {
	// Header is the header's name ("X-Acme-Signature"). Required, except
	// for Basic, where it defaults to "Authorization".
	Header string
	// Encoding is how a signature is written: verify.Hex (the default),
	// verify.Base64 or verify.Base64URL.
	Encoding verify.Encoding
	// Prefix precedes each signature ("sha256=", "v1="); a signature
	// without it does not verify. For Token, the text before the token
	// ("Bearer ").
	Prefix string
	// Aliases are other spellings of Header that the sender uses. A request
	// without Header is read from the first alias it carries. Sign writes
	// Header.
	Aliases []string
	// Sep, when set, makes the header a list of entries separated by Sep
	// ("," as in "t=…,v1=…,v1=…"; " " for any run of white space): an entry
	// written as Prefix + signature is a candidate, other entries are
	// skipped, and a delivery verifies when any candidate matches. The
	// header is bounded by verify.MaxSignatureHeaderBytes and
	// verify.MaxSignatureEntries before any signature is checked, and one
	// MAC is computed per secret whatever the number of entries.
	Sep string
}

// TimeFormat is how a timestamp is written.
type TimeFormat uint8

// The timestamp formats.
const (
	// Unix is decimal seconds since 1970 ("1735689600"). It is the default.
	Unix TimeFormat = iota
	// UnixMilli is decimal milliseconds since 1970.
	UnixMilli
	// RFC3339 is an RFC 3339 time, with or without fractional seconds.
	RFC3339
)

// Timestamp declares a signed timestamp. It is checked against the
// provider's clock before any signature is computed; a delivery outside
// the window fails with verify.ErrTimestampOutsideWindow.
type Timestamp struct {
	// Header is the header that carries it ("X-Acme-Timestamp"). Set
	// Header or Field, not both.
	Header string
	// Field is the prefix of the signature header's entry that carries it
	// ("t=" in "t=…,v1=…"), for a list (Signature.Sep set). The header must
	// hold exactly one such entry.
	Field string
	// Format is how it is written; Unix by default.
	Format TimeFormat
	// Tolerance is the default window, in both directions; zero means
	// verify.DefaultTolerance. WithTolerance overrides it.
	Tolerance time.Duration
	// Unchecked signs the timestamp without checking it against a window,
	// unless WithTolerance sets one. Leave it false unless the sender's clock cannot be trusted at all:
	// the window is what stops replays of old deliveries once the dedupe
	// store has forgotten them.
	Unchecked bool
}

// Piece is a part of the signed message; see Scheme.Message. Its values
// are Body, Time, URL, Method, Lit and HeaderPiece.
type Piece struct{ p kit.Piece }

// The pieces of a signed message, besides Lit and HeaderPiece.
var (
	// Body is the raw body.
	Body = Piece{kit.Body}
	// Time is the timestamp as the request carries it (Scheme.Timestamp
	// is then required).
	Time = Piece{kit.Time}
	// URL is the URL the sender posted to: the one given with WithURL, else
	// the request's URL (scheme, host, path and query as the request
	// arrived; behind a proxy that rewrites any of them, use WithURL).
	URL = Piece{kit.URL}
	// Method is the request's method ("POST").
	Method = Piece{kit.Method}
)

// Lit is a literal piece: a separator such as "." or ":", a version
// prefix such as "v0:".
func Lit(s string) Piece { return Piece{kit.Lit(s)} }

// HeaderPiece is the value of the named request header ("" when absent:
// its absence is then signed as an empty value).
func HeaderPiece(name string) Piece { return Piece{kit.HeaderPiece(name)} }

// Field declares where a part of the envelope (ID, type, version) lives:
// set one of JSON, Header and BodyHash, or none for a part the provider
// does not have.
type Field struct {
	// JSON is the path of a value in a JSON body: []string{"id"} is the
	// top-level id, []string{"event", "type"} the type of the top-level
	// event object. The whole body is validated, and a key that is
	// ambiguous (duplicated, or present in another case) is refused, so
	// the envelope and the handler's decoding never disagree. The value
	// must be a string (or an integer, with Number).
	JSON []string
	// Number accepts a JSON integer too, as its decimal text.
	Number bool
	// Header is a request header; more than one value is refused as
	// ambiguous.
	Header string
	// BodyHash is the hex SHA-256 of the body: an ID for senders that have
	// none, so that a redelivery of the same bytes is a duplicate.
	BodyHash bool
	// Required refuses a delivery where the value is missing or empty.
	Required bool
}

// Envelope declares where a delivery's ID, type and version live. Errors
// reading them match provider.ErrMalformedEnvelope (the receiver answers
// 400) and name the field, never its value.
type Envelope struct {
	// ID is the event's ID, which the receiver deduplicates on.
	ID Field
	// Type is the event's type, which the receiver routes on.
	Type Field
	// Version is the event's version, if the sender has one.
	Version Field
}

// HeaderFamily maps header names a Scheme declares (Signature.Header,
// Timestamp.Header, the names of HeaderPiece pieces, Envelope fields'
// Header) to another spelling of them. It must rename Signature.Header.
// Names are matched case-insensitively.
type HeaderFamily map[string]string

// Scheme declares a provider: how its sender signs a delivery and where the
// envelope lives. Declare it once (a package variable) and do not modify it
// afterwards; New builds a provider from it, Sign signs requests as the
// sender does, for tests.
type Scheme struct {
	// Name is the provider's name ("acme"); it prefixes every error and is
	// the provider's Name. Required.
	Name string
	// Algorithm is how the delivery is authenticated. Required.
	Algorithm Algorithm
	// Signature is the header carrying the signature (or token).
	Signature Signature
	// Timestamp, when not nil, is the signed timestamp.
	Timestamp *Timestamp
	// Message lists the pieces whose concatenation is signed; nil means
	// the body alone. "t.body" is {Time, Lit("."), Body}; "v0:ts:body" is
	// {Lit("v0:"), Time, Lit(":"), Body}; "id.ts.body" with the ID in a
	// header is {HeaderPiece("Acme-Id"), Lit("."), Time, Lit("."), Body}.
	// Not for Token and Basic.
	Message []Piece
	// Key turns a secret into the key bytes: nil means the secret's raw
	// bytes for the HMACs and HexKey for Ed25519. Base64Key and WhsecKey
	// decode other common forms.
	Key func(secret string) ([]byte, error)
	// Envelope is where the ID, type and version live.
	Envelope Envelope
	// Families are other spellings of the scheme's headers, renamed
	// together. A request that carries Signature.Header is read with the
	// declared names; otherwise with the first family whose signature
	// header it carries. Sign writes the declared names; Respell returns
	// the Scheme that writes a family's.
	Families []HeaderFamily
}

// kit returns the kit's declaration of s.
func (s *Scheme) kit() *kit.Scheme {
	k := &kit.Scheme{
		Name:      s.Name,
		Algorithm: kit.Algorithm(s.Algorithm),
		Signature: kit.Signature{
			Header:   s.Signature.Header,
			Encoding: s.Signature.Encoding,
			Prefix:   s.Signature.Prefix,
			Aliases:  s.Signature.Aliases,
			Sep:      s.Signature.Sep,
		},
		Key: s.Key,
		Envelope: kit.Envelope{
			ID:      kitField(s.Envelope.ID),
			Type:    kitField(s.Envelope.Type),
			Version: kitField(s.Envelope.Version),
		},
	}
	if t := s.Timestamp; t != nil {
		k.Timestamp = &kit.Timestamp{
			Header:    t.Header,
			Field:     t.Field,
			Format:    kit.TimeFormat(t.Format),
			Tolerance: t.Tolerance,
			Unchecked: t.Unchecked,
		}
	}
	if s.Message != nil {
		k.Message = make([]kit.Piece, len(s.Message))
		for i, p := range s.Message {
			k.Message[i] = p.p
		}
	}
	for _, f := range s.Families {
		k.Families = append(k.Families, kit.HeaderFamily(f))
	}
	return k
}

func kitField(f Field) kit.Field {
	return kit.Field{JSON: f.JSON, Number: f.Number, Header: f.Header, BodyHash: f.BodyHash, Required: f.Required}
}

func fromKitField(f kit.Field) Field {
	return Field{JSON: f.JSON, Number: f.Number, Header: f.Header, BodyHash: f.BodyHash, Required: f.Required}
}

// fromKit returns the declaration of k.
func fromKit(k *kit.Scheme) *Scheme {
	s := &Scheme{
		Name:      k.Name,
		Algorithm: Algorithm(k.Algorithm),
		Signature: Signature{
			Header:   k.Signature.Header,
			Encoding: k.Signature.Encoding,
			Prefix:   k.Signature.Prefix,
			Aliases:  k.Signature.Aliases,
			Sep:      k.Signature.Sep,
		},
		Key: k.Key,
		Envelope: Envelope{
			ID:      fromKitField(k.Envelope.ID),
			Type:    fromKitField(k.Envelope.Type),
			Version: fromKitField(k.Envelope.Version),
		},
	}
	if t := k.Timestamp; t != nil {
		s.Timestamp = &Timestamp{
			Header:    t.Header,
			Field:     t.Field,
			Format:    TimeFormat(t.Format),
			Tolerance: t.Tolerance,
			Unchecked: t.Unchecked,
		}
	}
	if k.Message != nil {
		s.Message = make([]Piece, len(k.Message))
		for i, p := range k.Message {
			s.Message[i] = Piece{p}
		}
	}
	for _, f := range k.Families {
		s.Families = append(s.Families, HeaderFamily(f))
	}
	return s
}

// ErrScheme reports a Scheme that declares something impossible (no Name,
// no Signature.Header, a Time piece without a Timestamp, …): a programming
// error, returned by New, NewFromSource and Sign.
var ErrScheme = kit.ErrScheme

// HexKey decodes a hex key (the default for Ed25519 keys).
func HexKey(s string) ([]byte, error) { return kit.HexKey(s) }

// Base64Key decodes a standard base64 key.
func Base64Key(s string) ([]byte, error) { return kit.Base64Key(s) }

// WhsecKey decodes a Standard Webhooks secret, "whsec_" and the standard
// base64 (padded or not) of the key; the prefix is optional. It fails on
// an empty key.
func WhsecKey(s string) ([]byte, error) { return kit.WhsecKey(s) }

// config is what an Option sets.
type config = kit.Options

// Option configures a Provider built by New or NewFromSource.
type Option func(*config)

// WithSecrets adds secrets accepted besides the one given to New, for a
// rotation: the current secret first, the others after it.
func WithSecrets(more ...string) Option { return Option(kit.WithSecrets(more...)) }

// WithClock sets the clock timestamps are checked against; nil keeps
// time.Now.
func WithClock(now func() time.Time) Option { return Option(kit.WithClock(now)) }

// WithTolerance sets the timestamp window, in both directions; zero or less
// keeps the scheme's default (Timestamp.Tolerance).
func WithTolerance(d time.Duration) Option { return Option(kit.WithTolerance(d)) }

// WithURL sets the public URL the sender posts to, for schemes that sign it
// (the URL piece), when the URL the request arrives at differs (a proxy
// that rewrites the host, scheme or path).
func WithURL(url string) Option { return Option(kit.WithURL(url)) }

// Provider is the provider a Scheme declares. It implements
// provider.Provider, so receiver.New and verify's middleware accept it. It
// is safe for concurrent use. To answer handshakes (a challenge, a ping),
// embed it in a type of your own that adds a Handshake method (see
// provider.Handshaker).
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// New returns the provider s declares, accepting secret (and those of
// WithSecrets): HMAC secrets, Ed25519 public keys, tokens or
// "user:password" pairs, as s.Algorithm takes. Errors are prefixed with
// s.Name; a declaration error matches ErrScheme; a missing, empty or blank
// secret, or one the scheme cannot use (a public key of the wrong length, a
// Basic secret without ":"), matches verify.ErrNoSecret. Errors never quote
// a secret.
func (s *Scheme) New(secret string, opts ...Option) (*Provider, error) {
	return build(s, kit.Apply(secret, opts))
}

// NewFromSource returns the provider s declares, with its secrets read from
// src at run time, which the application updates to rotate them without a
// restart (see provider.Secrets). The keys are rebuilt only when the list
// changes; a list that becomes invalid fails closed: deliveries are
// rejected.
func (s *Scheme) NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(s, kit.ApplySource(src, opts))
}

func build(s *Scheme, o kit.Options) (*Provider, error) {
	p, err := s.kit().New(o)
	if err != nil {
		return nil, err
	}
	return &Provider{p}, nil
}

// Name returns the scheme's Name.
func (p *Provider) Name() string { return p.p.Name() }

// Tolerance returns the timestamp window in force (0 when the scheme has no
// timestamp).
func (p *Provider) Tolerance() time.Duration { return p.p.Tolerance() }

// Verify authenticates a delivery. The cheap checks come first: the
// signature header's presence, bounds and syntax, then the timestamp and
// its window; only then is the message signed, with one MAC per secret
// whatever the number of signatures (a bounded number of Ed25519
// verifications per key). Signatures, tokens and credentials are compared
// in constant time. Errors match verify.ErrVerification (the receiver
// answers 401), are prefixed with the scheme's Name and quote neither
// secrets nor header values.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the envelope the scheme declares. Its errors match
// provider.ErrMalformedEnvelope, name the field's source and never quote a
// value.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// Sign signs r, whose body is body, as the sender does with secret at now,
// for tests: it sets the timestamp header when the scheme has one and the
// signature header (the timestamp entry first, for a timestamp in a list).
// For Ed25519 the secret is the private key; for Token, the token; for
// Basic, "user:password". Its method value s.Sign is a
// providertest.Harness.Sign.
func (s *Scheme) Sign(r *http.Request, body []byte, secret string, now time.Time) error {
	return s.kit().Sign(r, body, secret, now)
}

// Respell returns a copy of s whose headers are spelled as family spells
// them, without Families and Aliases: its Sign signs a request as a sender
// using that spelling does, for tests. s is not modified.
func (s *Scheme) Respell(family HeaderFamily) *Scheme {
	return fromKit(s.kit().Respell(kit.HeaderFamily(family)))
}

// Ed25519PublicKey returns the public key of an Ed25519 private key (a
// 32-byte seed or a 64-byte key, decoded by Key, hex by default): for tests
// that sign with the private key and verify with the public one. Its
// errors match ErrScheme or verify.ErrNoSecret and never quote the key.
func (s *Scheme) Ed25519PublicKey(private string) (ed25519.PublicKey, error) {
	return s.kit().Ed25519PublicKey(private)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
