// Package lemonsqueezy verifies and reads Lemon Squeezy webhook deliveries.
//
// Lemon Squeezy signs the raw body with HMAC-SHA256, keyed with the
// webhook's signing secret (its raw bytes), and sends the lower-case hex
// digest, without a prefix, in
//
//	X-Signature: <hex>
//
// There is no timestamp: a captured delivery stays valid for ever, and
// replays are stopped only by the dedupe store, for as long as it remembers
// the event ID.
//
// Lemon Squeezy sends no event or delivery ID. The envelope's ID is
// therefore the hex SHA-256 of the signed body: a retry, which resends the
// same bytes, is a duplicate, while two changes to the same object differ
// (their data.attributes.updated_at differ). Its Type is the body's
// meta.event_name ("order_created"), which is signed; the X-Event-Name
// header repeats it unsigned and is not read. No handshake.
//
// Sources: https://docs.lemonsqueezy.com/help/webhooks/signing-requests
// and https://docs.lemonsqueezy.com/help/webhooks (the meta object,
// X-Event-Name).
//
// Usage:
//
//	p, err := lemonsqueezy.New(os.Getenv("LEMONSQUEEZY_SIGNING_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler)
package lemonsqueezy

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "lemonsqueezy"

// Headers Lemon Squeezy sends.
const (
	// HeaderSignature carries the hex HMAC-SHA256 of the body.
	HeaderSignature = "X-Signature"
	// HeaderEventName repeats meta.event_name, unsigned.
	HeaderEventName = "X-Event-Name"
)

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex},
	Envelope: kit.Envelope{
		ID:   kit.Field{BodyHash: true},
		Type: kit.Field{JSON: []string{"meta", "event_name"}, Required: true},
	},
}

// Provider verifies and parses Lemon Squeezy deliveries. It is safe for
// concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds signing secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the webhook's signing secret. It returns an
// error matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }

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

// Name returns "lemonsqueezy".
func (p *Provider) Name() string { return Name }

// Verify checks X-Signature, the hex HMAC-SHA256 of the raw body, in
// constant time with each secret.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the type from the body's meta.event_name; the ID is the hex
// SHA-256 of the body.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Lemon Squeezy does with
// secret: it sets X-Signature (now is unused: the scheme has no timestamp).
// It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
