package kit

import (
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"strings"
	"time"

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
	// Ed25519 is an Ed25519 signature of the Message; the secrets are the
	// sender's public keys (decoded by Scheme.Key, hex by default), and
	// Scheme.Sign takes the private key (a 32-byte seed or a 64-byte key,
	// in the same encoding).
	Ed25519
	// Token is a static token the sender sends verbatim in the signature
	// header (after Signature.Prefix, such as "Bearer "), compared in
	// constant time with each secret (GitLab's X-Gitlab-Token, Okta). It
	// authenticates the sender, not the body.
	Token
	// Basic is HTTP Basic authentication: each secret is "user:password",
	// compared in constant time with the credentials of the Authorization
	// header (Postmark). It authenticates the sender, not the body.
	Basic
	// ECDSAP256SHA256 is an ECDSA signature on the P-256 curve of the
	// SHA-256 digest of the Message, ASN.1 DER encoded (SendGrid's signed
	// Event Webhook). The secrets are the sender's public keys, decoded by
	// Scheme.Key (DERKey by default: base64 DER or PEM) into a DER
	// SubjectPublicKeyInfo; Scheme.Sign takes the private key, PKCS #8 or
	// SEC 1 DER, in the same form. The header carries a single signature
	// (no Signature.Sep), at most 72 bytes once decoded (a P-256 DER
	// signature); each key costs one verification per request.
	ECDSAP256SHA256
)

// String returns the algorithm's name.
func (a Algorithm) String() string {
	switch a {
	case HMACSHA256:
		return "HMAC-SHA256"
	case HMACSHA1:
		return "HMAC-SHA1"
	case HMACSHA512:
		return "HMAC-SHA512"
	case Ed25519:
		return "Ed25519"
	case Token:
		return "token"
	case Basic:
		return "Basic"
	case ECDSAP256SHA256:
		return "ECDSA-P256-SHA256"
	}
	return "unknown"
}

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case HMACSHA256:
		return sha256.New
	case HMACSHA1:
		return sha1.New
	case HMACSHA512:
		return sha512.New
	}
	return nil
}

func (a Algorithm) signs() bool { return a.hash() != nil || a == Ed25519 || a == ECDSAP256SHA256 }

// Signature declares the header that carries the signature.
type Signature struct {
	// Header is the header's name ("X-Hub-Signature-256"). Required, except
	// for Basic, where it defaults to "Authorization".
	Header string
	// Encoding is how a signature is written: verify.Hex (the default),
	// verify.Base64 or verify.Base64URL.
	Encoding verify.Encoding
	// Prefix precedes each signature ("sha256=", "v0=", Stripe's "v1=");
	// a signature without it does not verify. For Token, the text before
	// the token ("Bearer ").
	Prefix string
	// Aliases are other spellings of Header that senders use (Shopify's
	// newer "Shopify-Hmac-Sha256" for "X-Shopify-Hmac-Sha256"; Gitea's
	// X-Forgejo-Signature and X-Gogs-Signature). A request without Header
	// is read from the first alias it carries; only the signature header is
	// renamed (Scheme.Families renames headers together). Aliases are tried
	// after Scheme.Families. Sign writes Header.
	Aliases []string
	// Sep, when set, makes the header a list of entries separated by Sep
	// ("," for Stripe, ";" for Paddle, " " for any run of white space): an
	// entry written as Prefix + signature is a candidate, other entries are
	// skipped, and a delivery verifies when any candidate matches. Every
	// header is bounded by verify.MaxSignatureHeaderBytes and
	// verify.MaxSignatureEntries before any MAC is computed.
	Sep string
}

// TimeFormat is how a timestamp is written.
type TimeFormat uint8

// The timestamp formats.
const (
	// Unix is decimal seconds since 1970 ("1735689600").
	Unix TimeFormat = iota
	// UnixMilli is decimal milliseconds since 1970 (HubSpot).
	UnixMilli
	// RFC3339 is an RFC 3339 time, with or without fractional seconds
	// (Twitch).
	RFC3339
)

// Timestamp declares a signed timestamp.
type Timestamp struct {
	// Header is the header that carries it (Slack's
	// X-Slack-Request-Timestamp). Set Header or Field, not both.
	Header string
	// Field is the prefix of the signature header's entry that carries it
	// ("t=" for Stripe, "ts=" for Paddle), in a list (Signature.Sep set).
	// The header must hold exactly one such entry.
	Field string
	// Format is how it is written; Unix by default.
	Format TimeFormat
	// Tolerance is the provider's default window, in both directions;
	// zero means verify.DefaultTolerance. Options.Tolerance overrides it.
	Tolerance time.Duration
	// Unchecked signs the timestamp without checking it against a window
	// unless Options.Tolerance sets one (Discord and SendGrid state none).
	// Leave it false unless the sender's clock cannot be trusted at all:
	// the window is what stops replays of old deliveries once the dedupe
	// store has forgotten them.
	Unchecked bool
}

// Piece is a part of the signed message; see Scheme.Message.
type Piece struct {
	kind  pieceKind
	value string
}

type pieceKind uint8

const (
	pieceLiteral pieceKind = iota + 1
	pieceHeader
	pieceTime
	pieceBody
	pieceURL
	pieceMethod
)

// The pieces of a signed message, besides Lit and HeaderPiece.
var (
	// Time is the timestamp as the request carries it (Scheme.Timestamp
	// is then required).
	Time = Piece{kind: pieceTime}
	// Body is the raw body.
	Body = Piece{kind: pieceBody}
	// URL is the URL the sender posted to: Options.URL when set, else the
	// request's URL (scheme, host, path and query as the request arrived;
	// behind a proxy that rewrites any of them, set Options.URL).
	URL = Piece{kind: pieceURL}
	// Method is the request's method ("POST").
	Method = Piece{kind: pieceMethod}
)

// Lit is a literal piece: a separator such as "." or ":", a version
// prefix such as "v0:".
func Lit(s string) Piece { return Piece{kind: pieceLiteral, value: s} }

// HeaderPiece is the value of the named request header ("" when absent:
// the header's absence is then signed as an empty value).
func HeaderPiece(name string) Piece { return Piece{kind: pieceHeader, value: name} }

// Field declares where a part of the envelope (ID, type, version) lives:
// set one of JSON, Header and BodyHash, or none for a part the provider
// does not have.
type Field struct {
	// JSON is the path of a value in a JSON body: []string{"id"} is the
	// top-level id, []string{"event", "type"} the type of the top-level
	// event object. It is read with internal/jsonscan, which validates
	// the whole body and refuses a key that is ambiguous (duplicated, or
	// present in another case), so the envelope and the handler's decoding
	// never disagree. The value must be a string (or an integer, with
	// Number).
	JSON []string
	// Number accepts a JSON integer too, as its decimal text.
	Number bool
	// Header is a request header; more than one value is refused as
	// ambiguous.
	Header string
	// BodyHash is the hex SHA-256 of the body (an ID for senders that have
	// none: a redelivery of the same bytes is then a duplicate).
	BodyHash bool
	// Required refuses a delivery where the value is missing or empty.
	Required bool
}

func (f Field) set() bool { return len(f.JSON) > 0 || f.Header != "" || f.BodyHash }

// describe names f's source for error messages: the path, the header's
// name; never a value.
func (f Field) describe(part string) string {
	switch {
	case f.Header != "":
		return "header " + f.Header
	case len(f.JSON) > 0:
		return "body " + strings.Join(f.JSON, ".")
	}
	return part
}

// Envelope declares where a delivery's ID, type and version live. Errors
// reading them match provider.ErrMalformedEnvelope (answered 400) and
// name the field, never its value; the receiver then bounds the values
// (printable ASCII, lengths).
type Envelope struct {
	ID, Type, Version Field
}

// Scheme declares a provider: how its sender signs a delivery and where the
// envelope lives. A Scheme is a value a provider package declares once (a
// package variable) and never modifies; New builds a verifier from it and
// Sign signs requests as the sender does.
type Scheme struct {
	// Name is the provider's name ("shopify"); it prefixes every error.
	Name string
	// Algorithm is how the delivery is authenticated. Required.
	Algorithm Algorithm
	// Signature is the header carrying the signature (or token).
	Signature Signature
	// Timestamp, when not nil, is the signed timestamp.
	Timestamp *Timestamp
	// Message lists the pieces whose concatenation is signed; nil means
	// the body alone. Stripe's "t.body" is {Time, Lit("."), Body}, Slack's
	// "v0:ts:body" {Lit("v0:"), Time, Lit(":"), Body}, Standard Webhooks'
	// "id.ts.body" {HeaderPiece("webhook-id"), Lit("."), Time, Lit("."),
	// Body}. Not for Token and Basic.
	Message []Piece
	// Key turns a secret into the key bytes: nil means the secret's raw
	// bytes for the HMACs and HexKey for Ed25519. Standard Webhooks'
	// "whsec_<base64>" secrets need a function of their own.
	Key func(secret string) ([]byte, error)
	// Envelope is where the ID, type and version live.
	Envelope Envelope
	// Families are other spellings of the scheme's headers, renamed
	// together (Standard Webhooks' webhook-id, webhook-timestamp and
	// webhook-signature, sent by Svix as svix-id, svix-timestamp and
	// svix-signature). A request that carries Signature.Header is read
	// with the declared names; otherwise with the first family whose
	// signature header it carries, the names that family does not map
	// keeping their declared spelling. Sign writes the declared names; a
	// family's are written by the Scheme Respell returns.
	Families []HeaderFamily

	// variants are the compiled Families then Signature.Aliases: copies
	// of the scheme with the names renamed (set by compile).
	variants []*Scheme
}

// HeaderFamily maps header names a Scheme declares (Signature.Header,
// Timestamp.Header, the names of HeaderPiece pieces, Envelope fields'
// Header) to another spelling of them. It must rename Signature.Header.
// Names are matched case-insensitively.
type HeaderFamily map[string]string

// rename returns the name f gives the declared header name ("" when it
// keeps it).
func (f HeaderFamily) rename(name string) string {
	if name == "" {
		return ""
	}
	if v, ok := f[name]; ok {
		return v
	}
	for k, v := range f {
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
			return v
		}
	}
	return ""
}

// Respell returns a copy of s whose headers are spelled as family spells
// them, without Families and Aliases: its Sign signs a request as a sender
// using that spelling does, for tests. s is not modified.
func (s *Scheme) Respell(family HeaderFamily) *Scheme {
	c := *s
	c.Families, c.variants = nil, nil
	c.Signature.Aliases = nil
	name := func(n string) string {
		if v := family.rename(n); v != "" {
			return v
		}
		return n
	}
	c.Signature.Header = name(c.Signature.Header)
	if c.Timestamp != nil {
		t := *c.Timestamp
		t.Header = name(t.Header)
		c.Timestamp = &t
	}
	if c.Message != nil {
		c.Message = append([]Piece(nil), c.Message...)
		for i, p := range c.Message {
			if p.kind == pieceHeader {
				c.Message[i].value = name(p.value)
			}
		}
	}
	for _, f := range []*Field{&c.Envelope.ID, &c.Envelope.Type, &c.Envelope.Version} {
		f.Header = name(f.Header)
	}
	return &c
}

// pick returns the compiled scheme whose spelling h uses: c itself when h
// carries the declared signature header, else the first variant whose
// signature header h carries, else c (whose checks then report the
// missing header). It costs at most one header lookup per variant.
func (c *Scheme) pick(h http.Header) *Scheme {
	if len(c.variants) == 0 || h.Get(c.Signature.Header) != "" {
		return c
	}
	for _, v := range c.variants {
		if h.Get(v.Signature.Header) != "" {
			return v
		}
	}
	return c
}

// HexKey decodes a hex key (Discord's public key).
func HexKey(s string) ([]byte, error) { return hex.DecodeString(strings.TrimSpace(s)) }

// Base64Key decodes a standard base64 key.
func Base64Key(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimSpace(s))
}

// WhsecPrefix is the prefix of Standard Webhooks' symmetric secrets.
const WhsecPrefix = "whsec_"

// WhsecKey decodes a Standard Webhooks secret, "whsec_" and the standard
// base64 (padded or not) of the key; the prefix is optional. It fails on
// an empty key.
func WhsecKey(s string) ([]byte, error) {
	b64, _ := strings.CutPrefix(strings.TrimSpace(s), WhsecPrefix)
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return nil, err
		}
	}
	if len(b) == 0 {
		return nil, errors.New("empty key")
	}
	return b, nil
}

// ErrScheme reports a Scheme that declares something impossible: a
// programming error in a provider package, returned by New and Sign.
var ErrScheme = errors.New("kit: invalid scheme declaration")

// compile returns a copy of s with its defaults set, or an error matching
// ErrScheme.
func (s *Scheme) compile() (*Scheme, error) {
	c := *s
	bad := func(format string, args ...any) (*Scheme, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrScheme, s.Name, fmt.Sprintf(format, args...))
	}
	if c.Name == "" {
		return bad("no Name")
	}
	if c.Signature.Header == "" && c.Algorithm == Basic {
		c.Signature.Header = "Authorization"
	}
	if c.Signature.Header == "" {
		return bad("no Signature.Header")
	}
	if c.Signature.Encoding == 0 {
		c.Signature.Encoding = verify.Hex
	}
	if c.Signature.Encoding.String() == "unknown" {
		return bad("unknown Signature.Encoding")
	}
	switch {
	case c.Algorithm.signs():
		if c.Message == nil {
			c.Message = []Piece{Body}
		}
		if c.Key == nil && c.Algorithm == Ed25519 {
			c.Key = HexKey
		}
		if c.Algorithm == ECDSAP256SHA256 {
			if c.Signature.Sep != "" {
				return bad("ECDSA takes a single signature (no Signature.Sep)")
			}
			if c.Key == nil {
				c.Key = DERKey
			}
		}
	case c.Algorithm == Token || c.Algorithm == Basic:
		if c.Timestamp != nil || c.Message != nil || c.Signature.Sep != "" || c.Key != nil {
			return bad("%s takes no Timestamp, Message, Signature.Sep or Key", c.Algorithm)
		}
		if c.Algorithm == Basic && c.Signature.Prefix != "" {
			return bad("Basic takes no Signature.Prefix")
		}
	default:
		return bad("unknown Algorithm")
	}
	if t := c.Timestamp; t != nil {
		tc := *t
		c.Timestamp = &tc
		switch {
		case (tc.Header == "") == (tc.Field == ""):
			return bad("Timestamp needs one of Header and Field")
		case tc.Field != "" && c.Signature.Sep == "":
			return bad("Timestamp.Field needs a list (Signature.Sep)")
		case tc.Field != "" && (strings.HasPrefix(tc.Field, c.Signature.Prefix) || strings.HasPrefix(c.Signature.Prefix, tc.Field)):
			return bad("Timestamp.Field and Signature.Prefix overlap")
		case tc.Format > RFC3339:
			return bad("unknown Timestamp.Format")
		case tc.Tolerance < 0:
			return bad("negative Timestamp.Tolerance")
		}
		if tc.Tolerance == 0 {
			c.Timestamp.Tolerance = verify.DefaultTolerance
		}
	}
	for _, p := range c.Message {
		switch p.kind {
		case pieceLiteral, pieceBody, pieceURL, pieceMethod:
		case pieceHeader:
			if p.value == "" {
				return bad("HeaderPiece without a name")
			}
		case pieceTime:
			if c.Timestamp == nil {
				return bad("the Time piece needs a Timestamp")
			}
		default:
			return bad("zero Piece in Message")
		}
	}
	for _, f := range []Field{c.Envelope.ID, c.Envelope.Type, c.Envelope.Version} {
		n := 0
		if len(f.JSON) > 0 {
			n++
			for _, k := range f.JSON {
				if k == "" {
					return bad("empty key in an Envelope JSON path")
				}
			}
		}
		if f.Header != "" {
			n++
		}
		if f.BodyHash {
			n++
		}
		if n > 1 {
			return bad("an Envelope field has more than one source")
		}
		if f.Number && len(f.JSON) == 0 {
			return bad("Number without JSON")
		}
		if f.Required && n == 0 {
			return bad("a required Envelope field has no source")
		}
	}
	families := slices.Clone(c.Families)
	for _, a := range c.Signature.Aliases {
		families = append(families, HeaderFamily{c.Signature.Header: a})
	}
	c.variants = nil
	for _, f := range families {
		for k, v := range f {
			if k == "" || strings.TrimSpace(v) == "" {
				return bad("an empty name in a header family or alias")
			}
		}
		v := c.Respell(f)
		if http.CanonicalHeaderKey(v.Signature.Header) == http.CanonicalHeaderKey(c.Signature.Header) {
			return bad("a header family or alias that does not rename Signature.Header")
		}
		c.variants = append(c.variants, v)
	}
	return &c, nil
}

// Ed25519PublicKey returns the public key of an Ed25519 private key (a
// 32-byte seed or a 64-byte key) as Key decodes it, hex by default: for
// tests that sign with the private key and verify with the public one.
func (s *Scheme) Ed25519PublicKey(private string) (ed25519.PublicKey, error) {
	c, err := s.compile()
	if err != nil {
		return nil, err
	}
	priv, err := c.privateKey(private)
	if err != nil {
		return nil, err
	}
	return priv.Public().(ed25519.PublicKey), nil
}

func (s *Scheme) privateKey(secret string) (ed25519.PrivateKey, error) {
	b, err := s.Key(secret)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: private key does not decode: %w", s.Name, verify.ErrNoSecret)
	case len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case len(b) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(b), nil
	}
	return nil, fmt.Errorf("%s: private key of %d bytes: %w", s.Name, len(b), verify.ErrNoSecret)
}
