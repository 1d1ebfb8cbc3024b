// Package brex verifies and reads Brex webhook deliveries.
//
// Brex signs its webhooks per the Standard Webhooks specification with the
// unbranded header names (see package standardwebhooks for the scheme in
// full):
//
//	Webhook-Id: 9c1f8e3a-6a36-4f86-a4b7-2f7d1c0b9e21
//	Webhook-Timestamp: 1735689600
//	Webhook-Signature: v1,<base64> [v1,<base64>…]
//
// The signed content is Webhook-Id + "." + Webhook-Timestamp + "." + body,
// with HMAC-SHA256 under the base64-decoded secret. Brex serves its secrets
// from GET /v1/webhooks/secrets, a list: configure every secret it returns
// (the first with New, the others with WithSecrets, or all through
// NewFromSource to follow a rotation without a restart). Its published
// examples base64-decode the secret as it is; a "whsec_" prefix is accepted
// too and stripped. Webhook-Signature is a space-separated list: a delivery
// verifies when any "v1," entry matches any configured secret; other
// entries are skipped. The list is bounded (verify.MaxSignatureEntries,
// verify.MaxSignatureHeaderBytes) before any MAC is computed, and each
// secret's MAC is computed once. Only the Webhook-* names are read: Brex
// sends no other spelling.
//
// The timestamp must lie within DefaultTolerance (five minutes) of the clock
// in both directions, and is checked before the signature: replays are
// bounded in time, and within the window deduplicated on the ID.
//
// The envelope's ID is Webhook-Id (signed; stable across retries), its Type
// the body's top-level "event_type" ("TRANSFER_PROCESSED",
// "EXPENSE_PAYMENT_UPDATED").
//
// Sources: https://developer.brex.com/docs/webhooks (Webhook-* headers,
// signed content, secrets endpoint); the Standard Webhooks specification.
//
// Usage:
//
//	p, err := brex.New(secrets[0], brex.WithSecrets(secrets[1:]...))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package brex

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/providers/internal/swpreset"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
)

// Name is the provider's name.
const Name = "brex"

// Header names Brex sends.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// DefaultTolerance is the accepted distance of the signed timestamp from now.
const DefaultTolerance = standardwebhooks.DefaultTolerance

// scheme declares Brex's signature and envelope.
var scheme = swpreset.Preset{
	Name: Name, ID: HeaderID, Timestamp: HeaderTimestamp, Signature: HeaderSignature, Type: "event_type",
}.Scheme()

// Provider verifies and parses Brex deliveries. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the endpoint's signing secret ("whsec_…"). It
// returns an error matching verify.ErrNoSecret when a secret is empty,
// blank or not base64.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(secret, opts))
}

// NewFromSource returns a provider whose signing secrets come from src,
// which the application updates to rotate them without a restart (see
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

// Name returns "brex".
func (p *Provider) Name() string { return Name }

// Verify checks Webhook-Signature over Webhook-Id.Webhook-Timestamp.body, after the
// list's bounds and the timestamp's window.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the ID from Webhook-Id and the type from the body's "event_type".
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body and whose Webhook-Id header is
// set, as Brex does with secret at now: it sets Webhook-Timestamp and
// Webhook-Signature ("v1,<base64>"). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
