// Package discord verifies and reads Discord's HTTP requests: interactions
// (slash commands, components, modals) sent to an app's Interactions
// Endpoint URL, and webhook events sent to its Webhook Events URL.
//
// Discord signs X-Signature-Timestamp + body (concatenated, no separator)
// with Ed25519 under the application's key and sends the signature in hex:
//
//	X-Signature-Ed25519: <hex of 64 bytes>
//	X-Signature-Timestamp: 1735689600
//
// The provider holds the application's public key (hex, 32 bytes, from the
// developer portal's General Information page); SignRequest takes the
// private key, for tests. Both endpoint kinds use the same headers. Discord
// sends requests with invalid signatures when the URL is saved and expects
// them to be refused (401): they are.
//
// Discord states no window for the timestamp, so by default it is signed
// but not checked against the clock: replays are not bounded in time, only
// deduplicated on the ID while the dedupe store remembers it.
// WithTolerance(d) with d > 0 checks it (±d) as hardening.
//
// The envelope, by the body's top-level "type":
//
//	body                                   ID                 Type                          answer
//	interaction, type 1 (PING)             —                  —                             200 application/json {"type":1}
//	interaction, type 2..5                 "id" (signed)      "APPLICATION_COMMAND",         2xx, to the handler
//	                                                          "MESSAGE_COMPONENT",
//	                                                          "APPLICATION_COMMAND_AUTOCOMPLETE",
//	                                                          "MODAL_SUBMIT" (others: the number)
//	webhook event, type 0 (PING)           —                  —                             204, empty
//	webhook event, type 1 (EVENT, with     SHA-256 of body    event.type                    2xx, to the handler
//	an "event" object)                     (no ID is sent)    ("APPLICATION_AUTHORIZED")
//
// Type 1 means PING on the Interactions URL and EVENT on the Webhook Events
// URL; the two are told apart by the "event" object, which only webhook
// events carry (and which is signed). Both PINGs are answered after the
// signature is verified, and never reach a handler.
//
// An interaction other than PING must be answered by Discord's deadline
// (three seconds) with an interaction response; the receiver acknowledges it
// (2xx) and runs the handler asynchronously, so a handler answers through
// the interaction's webhook (the followup endpoints, with the body's token).
//
// Sources: https://discord.com/developers/docs/interactions/overview
// (security and authorization, PING); https://discord.com/developers/docs/events/webhook-events
// (PING type 0 answered 204, event body); discord/discord-interactions-js
// src/index.ts (verifyKey: timestamp + body, hex key and signature).
//
// Usage:
//
//	p, err := discord.New(os.Getenv("DISCORD_PUBLIC_KEY"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package discord

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "discord"

// Header names Discord sends.
const (
	HeaderSignature = "X-Signature-Ed25519"
	HeaderTimestamp = "X-Signature-Timestamp"
)

// scheme signs the timestamp; it is checked only when WithTolerance sets a
// window (the sender states none).
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.Ed25519,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex},
	Timestamp: &kit.Timestamp{Header: HeaderTimestamp, Unchecked: true},
	Message:   []kit.Piece{kit.Time, kit.Body},
}

// Provider verifies and parses Discord requests. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithPublicKeys adds application public keys (hex) accepted besides the one
// given to New.
func WithPublicKeys(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against when
// WithTolerance enables the check (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance checks the signed timestamp: it must lie within d of the
// clock, in both directions. Zero or less (the default) leaves it unchecked,
// as Discord states no window.
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the application's public key (64 hex digits).
// It returns an error matching verify.ErrNoSecret when a key is empty,
// blank or not a hex Ed25519 public key.
func New(publicKey string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(publicKey, opts))
}

// NewFromSource returns a provider whose public keys come from src, which
// the application updates to change them without a restart (see
// provider.Secrets).
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(kit.ApplySource(src, opts))
}

func build(o kit.Options) (*Provider, error) {
	p, err := scheme.New(o)
	if err != nil {
		return nil, err
	}
	return &Provider{p}, nil
}

// Name returns "discord".
func (p *Provider) Name() string { return Name }

// Verify checks X-Signature-Ed25519 over X-Signature-Timestamp + body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

var paths = [][]string{{"type"}, {"id"}, {"event"}, {"event", "type"}}

// Interaction types (https://discord.com/developers/docs/interactions/receiving-and-responding).
var interactionTypes = map[string]string{
	"2": "APPLICATION_COMMAND",
	"3": "MESSAGE_COMPONENT",
	"4": "APPLICATION_COMMAND_AUTOCOMPLETE",
	"5": "MODAL_SUBMIT",
}

// pong is the answer to an interaction PING.
var pong = []byte(`{"type":1}`)

func malformed(format string, args ...any) error {
	return fmt.Errorf("discord: "+format+": %w", append(args, provider.ErrMalformedEnvelope)...)
}

// Parse reads the envelope; see the package documentation for the mapping.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	var vals [4][]byte
	if err := jsonscan.GetMany(body, paths, vals[:]); err != nil {
		return provider.Envelope{}, malformed("body: %w", err)
	}
	typ := string(vals[0])
	if vals[0] == nil || !isDigits(typ) {
		return provider.Envelope{}, malformed("body type is not an integer")
	}
	event := vals[2] != nil && !jsonscan.IsNull(vals[2])
	switch {
	case typ == "0": // webhook events PING
		return provider.Envelope{Reply: &provider.Reply{Status: http.StatusNoContent}}, nil
	case typ == "1" && !event: // interaction PING
		return provider.Envelope{Reply: &provider.Reply{Status: http.StatusOK, ContentType: "application/json", Body: pong}}, nil
	case typ == "1": // webhook event
		et, err := str(vals[3], "event.type")
		if err != nil {
			return provider.Envelope{}, err
		}
		if et == "" {
			return provider.Envelope{}, malformed("webhook event without event.type")
		}
		return provider.Envelope{ID: bodyHash(body), Type: et}, nil
	}
	id, err := str(vals[1], "id")
	if err != nil {
		return provider.Envelope{}, err
	}
	if id == "" {
		return provider.Envelope{}, malformed("interaction without id")
	}
	name, ok := interactionTypes[typ]
	if !ok {
		name = typ
	}
	return provider.Envelope{ID: id, Type: name}, nil
}

// isDigits reports whether s is a small non-negative JSON integer.
func isDigits(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// bodyHash is the hex SHA-256 of body: the ID of a webhook event, which
// carries none of its own.
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// str unquotes a string value; absent and null values are "".
func str(raw []byte, name string) (string, error) {
	if raw == nil || jsonscan.IsNull(raw) {
		return "", nil
	}
	s, err := jsonscan.String(raw)
	if err != nil {
		return "", malformed("%s: %w", name, err)
	}
	return s, nil
}

// SignRequest signs r, whose body is body, as Discord does with the
// application's private key (hex: a 32-byte seed or a 64-byte key) at now:
// it sets X-Signature-Timestamp and X-Signature-Ed25519. It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, privateKey string, now time.Time) error {
	return scheme.Sign(r, body, privateKey, now)
}

// PublicKey returns the hex public key of a hex private key (a 32-byte seed
// or a 64-byte key), for tests that sign with SignRequest.
func PublicKey(privateKey string) (string, error) {
	pub, err := scheme.Ed25519PublicKey(privateKey)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(pub), nil
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
