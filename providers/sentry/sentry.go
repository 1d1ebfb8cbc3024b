// Package sentry verifies and reads webhooks of Sentry's integration
// platform (internal and public integrations).
//
// Sentry signs the raw body with HMAC-SHA256, keyed with the integration's
// client secret, and sends it hex-encoded, without a prefix:
//
//	Sentry-Hook-Signature: <hex>
//
// Verify the bytes as received: Sentry's own sample re-serialises the
// parsed body, which matches only by luck. Sentry-Hook-Timestamp is not
// signed, so it is not checked: replays are bounded by the dedupe store
// alone.
//
// The envelope comes from unsigned headers: the ID from Request-ID, the
// type from Sentry-Hook-Resource ("issue", "error", "event_alert",
// "metric_alert", "comment", "installation"); the action ("created",
// "resolved", "triggered", …) is the body's action.
//
// Source: https://docs.sentry.io/integrations/integration-platform/webhooks/
//
// Usage:
//
//	p, err := sentry.New(os.Getenv("SENTRY_CLIENT_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package sentry

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
)

// Name is the provider's name.
const Name = "sentry"

// The headers Sentry sends.
const (
	HeaderSignature = "Sentry-Hook-Signature"
	HeaderResource  = "Sentry-Hook-Resource"
	HeaderRequestID = "Request-ID"
)

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: HeaderRequestID, Required: true},
		Type: kit.Field{Header: HeaderResource, Required: true},
	},
}

// Provider verifies and parses Sentry deliveries. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds client secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the integration's client secret. It returns an
// error matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }

// NewFromSource returns a provider whose client secrets come from src, which
// the application updates to rotate them without a restart (see
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

// Name returns "sentry".
func (p *Provider) Name() string { return Name }

// Verify checks Sentry-Hook-Signature, the hex HMAC-SHA256 of the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the ID from Request-ID and the type from Sentry-Hook-Resource;
// either missing or given twice is an error matching
// provider.ErrMalformedEnvelope.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Sentry does with secret: it
// sets Sentry-Hook-Signature (now is unused; Sentry's unsigned
// Sentry-Hook-Timestamp is left to the caller). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
