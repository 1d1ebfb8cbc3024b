// Package gitea verifies and reads Gitea and Forgejo webhook deliveries.
//
// Gitea signs the webhook's JSON payload with HMAC-SHA256, keyed with the
// webhook's secret (its raw bytes), and sends the lower-case hex digest,
// without a prefix, in
//
//	X-Gitea-Signature: <hex>
//
// (and the same value in X-Gogs-Signature, with sha1= and sha256= forms in
// X-Hub-Signature and X-Hub-Signature-256, which are not read). Forgejo
// sends all of these plus X-Forgejo-Signature; a delivery without
// X-Gitea-Signature is verified with X-Forgejo-Signature instead, so a
// Forgejo that stops sending the Gitea headers is still read. Which header
// is read depends only on X-Gitea-Signature's presence: a delivery never
// gets a second chance with the other one.
//
// A webhook whose content type is "application/json" sends the payload as
// the body, and the body is what is verified. One whose content type is
// "application/x-www-form-urlencoded" sends it as the form's payload field,
// and Gitea signs the payload, not the form (unlike GitHub, which signs the
// form body): the body must then be a form with exactly one field, payload,
// given once, and the MAC is checked over that field's decoded value; any
// other form is refused as unverifiable. Payload returns the JSON document
// either way. Webhooks sent with the GET method (the payload in the query)
// are not supported. A webhook without a secret is not signed and does not
// verify. There is no timestamp: a captured delivery stays valid for ever,
// and replays are stopped only by the dedupe store, for as long as it
// remembers the event ID.
//
// The envelope's ID is X-Gitea-Delivery (X-Forgejo-Delivery when the Gitea
// headers are absent), the hook task's UUID; its Type is X-Gitea-Event (or
// X-Forgejo-Event): "push", "create", "pull_request", …, required. Neither
// header is signed. A delivery without a delivery header has no ID and is
// not deduplicated. No handshake.
//
// Sources: https://docs.gitea.com/usage/webhooks , go-gitea/gitea
// services/webhook/deliver.go (the headers, the form field, the MAC over
// PayloadContent), forgejo services/webhook/deliver.go (AddDefaultHeaders:
// X-Forgejo-* besides the Gitea headers), go-playground/webhooks gitea,
// whose test vector is in the shared vectors file as gitea-go-playground.
//
// Usage:
//
//	p, err := gitea.New(os.Getenv("GITEA_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler)
package gitea

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
const Name = "gitea"

// Headers Gitea sends.
const (
	// HeaderSignature carries the hex HMAC-SHA256 of the JSON payload.
	HeaderSignature = "X-Gitea-Signature"
	// HeaderEvent names the event ("push").
	HeaderEvent = "X-Gitea-Event"
	// HeaderDelivery identifies the delivery (a UUID).
	HeaderDelivery = "X-Gitea-Delivery"
)

// Headers Forgejo sends besides Gitea's, read when Gitea's are absent.
const (
	HeaderForgejoSignature = "X-Forgejo-Signature"
	HeaderForgejoEvent     = "X-Forgejo-Event"
	HeaderForgejoDelivery  = "X-Forgejo-Delivery"
)

func declare(sig, event, delivery string) *kit.Scheme {
	return &kit.Scheme{
		Name:      Name,
		Algorithm: kit.HMACSHA256,
		Signature: kit.Signature{Header: sig, Encoding: verify.Hex},
		Envelope: kit.Envelope{
			ID:   kit.Field{Header: delivery},
			Type: kit.Field{Header: event, Required: true},
		},
	}
}

var (
	scheme        = declare(HeaderSignature, HeaderEvent, HeaderDelivery)
	forgejoScheme = declare(HeaderForgejoSignature, HeaderForgejoEvent, HeaderForgejoDelivery)
)

// Provider verifies and parses Gitea and Forgejo deliveries. It is safe for
// concurrent use.
type Provider struct{ gitea, forgejo *kit.Provider }

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
	g, err := scheme.New(o)
	if err != nil {
		return nil, err
	}
	f, err := forgejoScheme.New(o)
	if err != nil {
		return nil, err
	}
	return &Provider{gitea: g, forgejo: f}, nil
}

// Name returns "gitea".
func (p *Provider) Name() string { return Name }

// Verify checks X-Gitea-Signature, or X-Forgejo-Signature when it is
// absent: the hex HMAC-SHA256 of the JSON payload (the body, or a form
// body's payload field), in constant time with each secret.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	doc, err := form.Payload(r.Header, body)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", Name, err, verify.ErrVerification)
	}
	k := p.gitea
	if len(r.Header.Values(HeaderSignature)) == 0 && len(r.Header.Values(HeaderForgejoSignature)) > 0 {
		k = p.forgejo
	}
	return k.Verify(r, doc)
}

// Parse reads the event ID from X-Gitea-Delivery and the type from
// X-Gitea-Event, or from X-Forgejo-Delivery and X-Forgejo-Event when
// X-Gitea-Event is absent.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	doc, err := form.Payload(r.Header, body)
	if err != nil {
		return provider.Envelope{}, fmt.Errorf("%s: %w: %w", Name, err, provider.ErrMalformedEnvelope)
	}
	k := p.gitea
	if len(r.Header.Values(HeaderEvent)) == 0 && len(r.Header.Values(HeaderForgejoEvent)) > 0 {
		k = p.forgejo
	}
	return k.Parse(r, doc)
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

// SignRequest signs r, whose body is body, as Gitea does with secret: it
// sets X-Gitea-Signature over the body, or over the payload field when r's
// Content-Type is a form (now is unused: the scheme has no timestamp). It
// has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	doc, err := form.Payload(r.Header, body)
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	return scheme.Sign(r, doc, secret, now)
}
