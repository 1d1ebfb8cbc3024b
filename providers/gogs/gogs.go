// Package gogs verifies and reads Gogs webhook deliveries.
//
// Gogs signs the webhook's JSON payload with HMAC-SHA256, keyed with the
// webhook's secret (its raw bytes), and sends the lower-case hex digest,
// without a prefix, in
//
//	X-Gogs-Signature: <hex>
//
// A webhook whose content type is "application/json" sends the payload as
// the body, and the body is what is verified. One whose content type is
// "application/x-www-form-urlencoded" sends it as the form's payload field,
// and Gogs signs the payload, not the form (unlike GitHub, which signs the
// form body): the body must then be a form with exactly one field, payload,
// given once, and the MAC is checked over that field's decoded value; any
// other form is refused as unverifiable. Payload returns the JSON document
// either way. A webhook without a secret is not signed (its X-Gogs-Signature
// is empty) and does not verify. There is no timestamp: a captured delivery
// stays valid for ever, and replays are stopped only by the dedupe store,
// for as long as it remembers the event ID.
//
// The envelope's ID is X-Gogs-Delivery, a UUID per delivery; its Type is
// X-Gogs-Event ("push", "create", "pull_request"), required. Neither header
// is signed. A delivery without X-Gogs-Delivery has no ID and is not
// deduplicated. No handshake.
//
// Gitea sends the X-Gogs-* headers too (see package gitea for its own).
//
// Sources: gogs/gogs internal/database/webhook.go (HookTask.deliver: the
// headers and the form field; prepareHookTasks: the MAC over the JSON
// payload), go-playground/webhooks gogs, whose test vector is in the shared
// vectors file as gogs-go-playground.
//
// Usage:
//
//	p, err := gogs.New(os.Getenv("GOGS_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler)
package gogs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/form"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "gogs"

// Headers Gogs sends.
const (
	// HeaderSignature carries the hex HMAC-SHA256 of the JSON payload.
	HeaderSignature = "X-Gogs-Signature"
	// HeaderEvent names the event ("push").
	HeaderEvent = "X-Gogs-Event"
	// HeaderDelivery identifies the delivery (a UUID).
	HeaderDelivery = "X-Gogs-Delivery"
)

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: HeaderDelivery},
		Type: kit.Field{Header: HeaderEvent, Required: true},
	},
}

// Provider verifies and parses Gogs deliveries. It is safe for concurrent
// use.
type Provider struct{ p *kit.Provider }

var (
	_ provider.Provider        = (*Provider)(nil)
	_ provider.PayloadProvider = (*Provider)(nil)
)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds webhook secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the webhook's secret. It returns an error
// matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }

// NewFromSource returns a provider whose webhook secrets come from src,
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

// Name returns "gogs".
func (p *Provider) Name() string { return Name }

// Verify checks X-Gogs-Signature, the hex HMAC-SHA256 of the JSON payload
// (the body, or a form body's payload field), in constant time with each
// secret.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	doc, err := form.Payload(r.Header, body)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", Name, err, verify.ErrVerification)
	}
	return p.p.Verify(r, doc)
}

// Parse reads the event ID from X-Gogs-Delivery and the type from
// X-Gogs-Event.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	doc, err := form.Payload(r.Header, body)
	if err != nil {
		return provider.Envelope{}, fmt.Errorf("%s: %w: %w", Name, err, provider.ErrMalformedEnvelope)
	}
	return p.p.Parse(r, doc)
}

// Payload returns the JSON document of the delivery: the body itself, or
// the payload field of a form-encoded delivery.
func (p *Provider) Payload(header http.Header, body []byte) (json.RawMessage, error) {
	doc, err := form.Payload(header, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", Name, err, provider.ErrMalformedEnvelope)
	}
	return json.RawMessage(doc), nil
}

// SignRequest signs r, whose body is body, as Gogs does with secret: it
// sets X-Gogs-Signature over the body, or over the payload field when r's
// Content-Type is a form (now is unused: the scheme has no timestamp). It
// has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	doc, err := form.Payload(r.Header, body)
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	return scheme.Sign(r, doc, secret, now)
}
