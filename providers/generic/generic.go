// Package generic verifies webhook deliveries from senders that have no
// provider package of their own, with one of three common schemes, each
// configured rather than written:
//
//   - NewHMAC: an HMAC (SHA-1, SHA-256 or SHA-512) of the body, or of a
//     timestamp header + a separator + the body, sent hex or base64 in a
//     header, after an optional prefix ("sha256="), with the timestamp
//     checked against a window. The body is authenticated.
//   - NewToken: a static token in a header (X-Webhook-Token: …,
//     Authorization: Bearer …). It authenticates the sender, not the body.
//   - NewBasic: HTTP Basic credentials ("user:password", the form the
//     sender puts in the URL, https://user:password@host/path). It
//     authenticates the sender, not the body.
//
// Each returns a *Provider (a provider.Provider) built on the same kit as
// the bundled providers, so the same rules hold: signature headers are
// bounded before any MAC is computed, one MAC is computed per secret,
// timestamps are checked before the MAC, comparisons are constant-time
// (tokens and credentials are compared as SHA-256 digests, with every
// configured one, so neither their length nor which one matched shows in
// the timing), several secrets may be configured for a rotation or taken
// from a provider.SecretSource, and errors match verify.ErrVerification and
// quote neither secrets nor header values.
//
// With a token or Basic credentials anyone who sees one delivery (a proxy,
// a log) can forge others, and nothing bounds replays in time: prefer an
// HMAC when the sender offers one, and serve such endpoints over TLS only.
// Mutual TLS, where the sender presents a client certificate, is set up on
// the http.Server (tls.Config's ClientAuth and ClientCAs), not here: the
// receiver then only ever sees authenticated connections, and NewToken or
// NewBasic can be layered on top when the sender also sends a credential.
//
// The envelope: the event ID comes from a header or a JSON path of the
// body (Field), and by default is the hex SHA-256 of the body (a
// redelivery of the same bytes is then a duplicate); the type comes from a
// header or a JSON path, and is empty by default.
//
// Each Provider has a SignRequest method that signs requests as the sender
// does, for tests; it has the shape of providertest.Harness.Sign.
//
// Usage, for a sender that signs "X-Signature: sha256=<hex>" over the body
// and puts the event ID in X-Event-Id and its type in the body's "type":
//
//	p, err := generic.NewHMAC("acme", generic.HMACConfig{
//		Secrets:  []string{os.Getenv("ACME_WEBHOOK_SECRET")},
//		Header:   "X-Signature",
//		Prefix:   "sha256=",
//		Envelope: generic.Envelope{ID: generic.Field{Header: "X-Event-Id"}, Type: generic.Field{JSON: []string{"type"}}},
//	})
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
//
// and for one that sends a static token:
//
//	p, err := generic.NewToken("builds", "X-Build-Token", os.Getenv("BUILD_TOKEN"))
package generic

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// ErrConfig reports a configuration that cannot describe a scheme: an
// empty or unprintable name, no signature header, an unknown hash or
// encoding, a Field with two sources. Missing or blank secrets match
// verify.ErrNoSecret instead.
var ErrConfig = errors.New("generic: invalid configuration")

// Hash is the hash function of an HMAC.
type Hash uint8

// The hash functions. The zero Hash is SHA256.
const (
	SHA256 Hash = iota
	SHA1
	SHA512
)

// String returns the hash's name.
func (h Hash) String() string {
	switch h {
	case SHA256:
		return "sha256"
	case SHA1:
		return "sha1"
	case SHA512:
		return "sha512"
	}
	return "unknown"
}

// ParseHash reads "sha1", "sha256" or "sha512" (also "" for SHA256).
func ParseHash(s string) (Hash, error) {
	switch s {
	case "", "sha256", "SHA256", "sha-256", "SHA-256":
		return SHA256, nil
	case "sha1", "SHA1", "sha-1", "SHA-1":
		return SHA1, nil
	case "sha512", "SHA512", "sha-512", "SHA-512":
		return SHA512, nil
	}
	return 0, fmt.Errorf("%w: unknown hash", ErrConfig)
}

// ParseEncoding reads "hex" (also ""), "base64" or "base64url".
func ParseEncoding(s string) (verify.Encoding, error) {
	switch s {
	case "", "hex":
		return verify.Hex, nil
	case "base64":
		return verify.Base64, nil
	case "base64url":
		return verify.Base64URL, nil
	}
	return 0, fmt.Errorf("%w: unknown encoding", ErrConfig)
}

// Field says where a part of the envelope lives: a request header or a
// JSON path of the body (set one, or neither for the default). A JSON
// value must be a string or an integer; keys that are ambiguous in the
// body (duplicated, or present in another case) are refused (400).
type Field struct {
	// Header is a request header ("X-Event-Id").
	Header string
	// JSON is the path of a value in a JSON body: []string{"id"} is the
	// top-level id, []string{"data", "id"} the id of the data object.
	JSON []string
}

func (f Field) kit(required bool) kit.Field {
	return kit.Field{Header: f.Header, JSON: f.JSON, Number: len(f.JSON) > 0, Required: required && (f.Header != "" || len(f.JSON) > 0)}
}

// Envelope says where a delivery's event ID and type live.
type Envelope struct {
	// ID is the event ID, the dedupe key; a delivery where it is set but
	// missing is refused (400). The zero Field means the hex SHA-256 of the
	// body.
	ID Field
	// Type is the event type; the zero Field means none (an empty type).
	Type Field
}

func (e Envelope) kit() kit.Envelope {
	out := kit.Envelope{ID: e.ID.kit(true), Type: e.Type.kit(false)}
	if e.ID.Header == "" && len(e.ID.JSON) == 0 {
		out.ID = kit.Field{BodyHash: true}
	}
	return out
}

// HMACConfig configures NewHMAC.
type HMACConfig struct {
	// Secrets are the shared secrets, used as raw bytes: the current one
	// first, more during a rotation.
	Secrets []string
	// Source, when not nil, supplies the secrets at run time instead of
	// Secrets (which must then be empty): see provider.Secrets.
	Source provider.SecretSource
	// Header is the signature header ("X-Signature"). Required.
	Header string
	// Hash is the HMAC's hash function; SHA256 by default.
	Hash Hash
	// Encoding is how the signature is written: verify.Hex (the default),
	// verify.Base64 or verify.Base64URL.
	Encoding verify.Encoding
	// Prefix precedes the signature in the header ("sha256="); a signature
	// without it does not verify.
	Prefix string
	// TimestampHeader, when set, is a header carrying the time of sending
	// in Unix seconds; the signed message is then the timestamp, Separator
	// and the body, and the timestamp must lie within Tolerance of Now.
	// When empty, the signed message is the body alone and replays are
	// bounded only by the dedupe store.
	TimestampHeader string
	// Separator goes between the timestamp and the body ("." or ":"; ""
	// concatenates them). Only with TimestampHeader.
	Separator string
	// Tolerance is the timestamp window, in both directions; zero or less
	// means five minutes (verify.DefaultTolerance).
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Envelope is where the event ID and type live.
	Envelope Envelope
}

// AuthConfig configures NewTokenConfig and NewBasicConfig.
type AuthConfig struct {
	// Secrets are the accepted tokens (NewTokenConfig) or "user:password"
	// credentials (NewBasicConfig), several during a rotation.
	Secrets []string
	// Source, when not nil, supplies them at run time instead of Secrets.
	Source provider.SecretSource
	// Header is the token's header (NewTokenConfig; required). Basic
	// credentials are always read from Authorization.
	Header string
	// Prefix is the text before the token in the header ("Bearer "); a
	// header without it does not verify. Not for Basic.
	Prefix string
	// Envelope is where the event ID and type live.
	Envelope Envelope
}

// Provider verifies and parses one sender's deliveries as its
// configuration says. It is safe for concurrent use.
type Provider struct {
	p *kit.Provider
	s *kit.Scheme
}

var _ provider.Provider = (*Provider)(nil)

// maxName bounds a provider's name, which prefixes dedupe keys.
const maxName = 64

func checkName(name string) error {
	if name == "" || len(name) > maxName {
		return fmt.Errorf("%w: a name of 1 to %d bytes is required", ErrConfig, maxName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: the name must be printable ASCII without spaces", ErrConfig)
		}
	}
	return nil
}

// NewHMAC returns a provider called name (it prefixes dedupe keys, logs and
// errors) for a sender that signs with an HMAC as c says. It returns an
// error matching ErrConfig for an invalid configuration and one matching
// verify.ErrNoSecret when no secret is given or one is empty or blank.
func NewHMAC(name string, c HMACConfig) (*Provider, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if c.Header == "" {
		return nil, fmt.Errorf("%w: %s: no signature header", ErrConfig, name)
	}
	if c.Encoding == 0 {
		c.Encoding = verify.Hex
	}
	if c.Encoding.String() == "unknown" {
		return nil, fmt.Errorf("%w: %s: unknown encoding", ErrConfig, name)
	}
	s := &kit.Scheme{
		Name:      name,
		Signature: kit.Signature{Header: c.Header, Encoding: c.Encoding, Prefix: c.Prefix},
		Envelope:  c.Envelope.kit(),
	}
	switch c.Hash {
	case SHA256:
		s.Algorithm = kit.HMACSHA256
	case SHA1:
		s.Algorithm = kit.HMACSHA1
	case SHA512:
		s.Algorithm = kit.HMACSHA512
	default:
		return nil, fmt.Errorf("%w: %s: unknown hash", ErrConfig, name)
	}
	switch {
	case c.TimestampHeader != "":
		s.Timestamp = &kit.Timestamp{Header: c.TimestampHeader}
		s.Message = []kit.Piece{kit.Time, kit.Lit(c.Separator), kit.Body}
	case c.Separator != "":
		return nil, fmt.Errorf("%w: %s: a Separator without a TimestampHeader", ErrConfig, name)
	}
	return build(s, kit.Options{Secrets: c.Secrets, Source: c.Source, Now: c.Now, Tolerance: c.Tolerance})
}

// NewToken returns a provider called name for a sender that sends one of
// tokens verbatim in header (the whole value: for "Authorization: Bearer
// x", NewTokenConfig with Prefix "Bearer " accepts "x"). The ID is the hex
// SHA-256 of the body and the type empty; NewTokenConfig sets them.
func NewToken(name, header string, tokens ...string) (*Provider, error) {
	return NewTokenConfig(name, AuthConfig{Header: header, Secrets: tokens})
}

// NewTokenConfig returns a provider called name for a sender that sends a
// static token in c.Header, after c.Prefix. Errors as for NewHMAC.
func NewTokenConfig(name string, c AuthConfig) (*Provider, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if c.Header == "" {
		return nil, fmt.Errorf("%w: %s: no token header", ErrConfig, name)
	}
	s := &kit.Scheme{
		Name:      name,
		Algorithm: kit.Token,
		Signature: kit.Signature{Header: c.Header, Prefix: c.Prefix},
		Envelope:  c.Envelope.kit(),
	}
	return build(s, kit.Options{Secrets: c.Secrets, Source: c.Source})
}

// NewBasic returns a provider called name for a sender that authenticates
// with HTTP Basic credentials, each "user:password". The ID is the hex
// SHA-256 of the body and the type empty; NewBasicConfig sets them.
func NewBasic(name string, credentials ...string) (*Provider, error) {
	return NewBasicConfig(name, AuthConfig{Secrets: credentials})
}

// NewBasicConfig returns a provider called name for a sender that
// authenticates with HTTP Basic credentials (c.Secrets, each
// "user:password"; c.Header and c.Prefix must be empty). Errors as for
// NewHMAC; a credential without ":" or with an empty user matches
// verify.ErrNoSecret.
func NewBasicConfig(name string, c AuthConfig) (*Provider, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if c.Header != "" || c.Prefix != "" {
		return nil, fmt.Errorf("%w: %s: Basic credentials take no Header or Prefix", ErrConfig, name)
	}
	s := &kit.Scheme{Name: name, Algorithm: kit.Basic, Envelope: c.Envelope.kit()}
	return build(s, kit.Options{Secrets: c.Secrets, Source: c.Source})
}

func build(s *kit.Scheme, o kit.Options) (*Provider, error) {
	p, err := s.New(o)
	if errors.Is(err, kit.ErrScheme) {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err != nil {
		return nil, err
	}
	return &Provider{p: p, s: s}, nil
}

// Name returns the name the provider was built with.
func (p *Provider) Name() string { return p.s.Name }

// Verify authenticates a delivery: the HMAC over the configured message,
// the token or the Basic credentials. Failures match
// verify.ErrVerification.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the event ID and type as the configuration's Envelope says.
// Its errors match provider.ErrMalformedEnvelope.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as the sender does with secret
// (the HMAC secret, the token, or "user:password") at now, for tests: it
// sets the signature (and timestamp) header, the token header or
// Authorization. It has the shape of providertest.Harness.Sign.
func (p *Provider) SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return p.s.Sign(r, body, secret, now)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
