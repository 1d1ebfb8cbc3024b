// Package typeform verifies and reads Typeform webhook deliveries.
//
// Typeform signs the raw body with HMAC-SHA256, keyed with the secret set on
// the webhook, and sends it base64-encoded (not hex) after "sha256=":
//
//	Typeform-Signature: sha256=<base64>
//
// No timestamp is signed, so replays are bounded by the dedupe store alone.
//
// The envelope comes from the signed body: the ID from the top-level
// event_id, the type from event_type ("form_response").
//
// Source: https://www.typeform.com/developers/webhooks/secure-your-webhooks/
//
// Usage:
//
//	p, err := typeform.New(os.Getenv("TYPEFORM_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package typeform

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "typeform"

// HeaderSignature is the signature header.
const HeaderSignature = "Typeform-Signature"

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Prefix: "sha256=", Encoding: verify.Base64},
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"event_id"}, Required: true},
		Type: kit.Field{JSON: []string{"event_type"}, Required: true},
	},
}

// Provider verifies and parses Typeform deliveries. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds webhook secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the webhook's secret. It returns an error
// matching verify.ErrNoSecret when a secret is empty or blank.
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

// Name returns "typeform".
func (p *Provider) Name() string { return Name }

// Verify checks Typeform-Signature, "sha256=" and the base64 HMAC-SHA256 of
// the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the ID from the body's event_id and the type from its
// event_type.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Typeform does with secret: it
// sets Typeform-Signature (now is unused). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
