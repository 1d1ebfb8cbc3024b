// Package vercel verifies and reads Vercel webhook deliveries.
//
// Vercel signs the raw body with HMAC-SHA1 (not SHA-256), keyed with the
// webhook's secret (shown once, when an account webhook is created) or, for
// an integration's webhooks, the integration's client secret, and sends it
// hex-encoded, without a prefix:
//
//	x-vercel-signature: <hex>
//
// No timestamp is signed (the body's createdAt is not checked), so replays
// are bounded by the dedupe store alone.
//
// The envelope comes from the signed body: the ID from the event's
// top-level id, the type from its type ("deployment.succeeded").
//
// Source: https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks
//
// Usage:
//
//	p, err := vercel.New(os.Getenv("VERCEL_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package vercel

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
)

// Name is the provider's name.
const Name = "vercel"

// HeaderSignature is the signature header.
const HeaderSignature = "X-Vercel-Signature"

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA1,
	Signature: kit.Signature{Header: HeaderSignature},
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"id"}, Required: true},
		Type: kit.Field{JSON: []string{"type"}, Required: true},
	},
}

// Provider verifies and parses Vercel deliveries. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds secrets accepted besides the one given to New, for a
// rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the webhook's secret (or the integration's
// client secret). It returns an error matching verify.ErrNoSecret when a
// secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }

// NewFromSource returns a provider whose secrets come from src, which the
// application updates to rotate them without a restart (see
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

// Name returns "vercel".
func (p *Provider) Name() string { return Name }

// Verify checks x-vercel-signature, the hex HMAC-SHA1 of the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the ID from the body's id and the type from its type.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Vercel does with secret: it
// sets x-vercel-signature (now is unused). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
