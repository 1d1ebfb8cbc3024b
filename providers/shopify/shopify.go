// Package shopify verifies and reads Shopify webhook deliveries.
//
// Shopify signs the raw body with HMAC-SHA256, keyed with the app's client
// secret (for a webhook created in the store admin, the signing secret shown
// there), and sends the base64 MAC in X-Shopify-Hmac-Sha256. Deliveries of
// Shopify's newer Events subscriptions (developer preview) carry the same
// MAC, over the same bytes, in Shopify-Hmac-Sha256, without the X- prefix
// (and, for now, the X- headers as well); a delivery is verified through
// X-Shopify-Hmac-Sha256 when it has one, else through Shopify-Hmac-Sha256.
// A hex MAC does not verify. While a client secret is rotated, give both
// (WithSecrets): Shopify may take up to an hour to sign with the new one.
//
// Nothing else is signed. No timestamp is signed (X-Shopify-Triggered-At is
// informative), so replays are bounded by the dedupe store alone, and the
// event ID, topic and API version come from unsigned headers: a holder of a
// captured delivery can resend its body under another ID or topic, but not
// change the body.
//
// The envelope:
//
//   - ID: X-Shopify-Event-Id (Shopify-Event-Id for Events deliveries), which
//     Shopify documents as the duplicate-detection key: the same value on
//     two deliveries means one event, also when several subscriptions to one
//     topic each deliver it. A delivery without it falls back to
//     X-Shopify-Webhook-Id. WithWebhookIDDedupe keys on X-Shopify-Webhook-Id
//     (Shopify-Webhook-Id) instead, the ID of one subscription's delivery
//     (stable across its retries), which shopify-app-js calls the
//     idempotency key: each subscription's delivery is then handled.
//   - Type: X-Shopify-Topic (Shopify-Topic), such as "orders/create".
//   - Version: X-Shopify-API-Version (Shopify-API-Version), such as "2025-01".
//
// A header given twice is refused as ambiguous (400).
//
// Sources: https://shopify.dev/docs/apps/build/webhooks/verify-deliveries ,
// https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates ,
// https://shopify.dev/docs/apps/build/events/verify-deliveries , and
// shopify-app-js (packages/apps/shopify-api/lib/webhooks/header-names.ts,
// validate.ts), which reads the unprefixed headers of Events deliveries.
//
// Usage:
//
//	p, err := shopify.New(os.Getenv("SHOPIFY_CLIENT_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package shopify

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "shopify"

// The headers Shopify sends with a webhook delivery.
const (
	HeaderSignature  = "X-Shopify-Hmac-Sha256"
	HeaderEventID    = "X-Shopify-Event-Id"
	HeaderWebhookID  = "X-Shopify-Webhook-Id"
	HeaderTopic      = "X-Shopify-Topic"
	HeaderAPIVersion = "X-Shopify-API-Version"
)

// The headers of Events deliveries, without the X- prefix.
const (
	HeaderEventsSignature  = "Shopify-Hmac-Sha256"
	HeaderEventsEventID    = "Shopify-Event-Id"
	HeaderEventsWebhookID  = "Shopify-Webhook-Id"
	HeaderEventsTopic      = "Shopify-Topic"
	HeaderEventsAPIVersion = "Shopify-API-Version"
)

// scheme declares the signature; Events deliveries spell its header
// without the X- prefix (the alias). The envelope is read by Parse.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Base64, Aliases: []string{HeaderEventsSignature}},
}

// events signs as Shopify signs an Events delivery, for SignEventsRequest.
var events = scheme.Respell(kit.HeaderFamily{HeaderSignature: HeaderEventsSignature})

// Provider verifies and parses Shopify deliveries. It is safe for concurrent use.
type Provider struct {
	p         *kit.Provider
	webhookID bool
}

var _ provider.Provider = (*Provider)(nil)

type options struct {
	kit.Options
	webhookID bool
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds client secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { kit.WithSecrets(more...)(&o.Options) }
}

// WithWebhookIDDedupe keys dedupe on X-Shopify-Webhook-Id, one
// subscription's delivery, instead of X-Shopify-Event-Id, the event: use it
// when several subscriptions to one topic post to this endpoint and each
// must be handled.
func WithWebhookIDDedupe() Option { return func(o *options) { o.webhookID = true } }

// New returns a provider for the app's client secret. It returns an error
// matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(apply(kit.Options{Secrets: []string{secret}}, opts))
}

// NewFromSource returns a provider whose client secrets come from src, which
// the application updates to rotate them without a restart (see
// provider.Secrets). It returns an error matching verify.ErrNoSecret when
// src holds no secret or an empty or blank one.
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(apply(kit.Options{Source: src}, opts))
}

func apply(base kit.Options, opts []Option) options {
	o := options{Options: base}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

func build(o options) (*Provider, error) {
	p, err := scheme.New(o.Options)
	if err != nil {
		return nil, err
	}
	return &Provider{p: p, webhookID: o.webhookID}, nil
}

// Name returns "shopify".
func (p *Provider) Name() string { return Name }

// Verify checks the base64 HMAC-SHA256 of the raw body in
// X-Shopify-Hmac-Sha256, or in Shopify-Hmac-Sha256 when the request has no
// X-Shopify-Hmac-Sha256. One MAC is computed per secret.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the envelope from the headers: the ID from
// X-Shopify-Event-Id (or X-Shopify-Webhook-Id, see the package
// documentation), the type from X-Shopify-Topic, the version from
// X-Shopify-API-Version, each also under its unprefixed name. A missing ID
// or topic, or a header given twice, is an error matching
// provider.ErrMalformedEnvelope.
func (p *Provider) Parse(r *http.Request, _ []byte) (provider.Envelope, error) {
	var env provider.Envelope
	var err error
	if env.Type, err = header(r, HeaderTopic, HeaderEventsTopic); err != nil {
		return provider.Envelope{}, err
	}
	if env.Type == "" {
		return provider.Envelope{}, malformed("no header %s", HeaderTopic)
	}
	if p.webhookID {
		env.ID, err = header(r, HeaderWebhookID, HeaderEventsWebhookID)
	} else if env.ID, err = header(r, HeaderEventID, HeaderEventsEventID); err == nil && env.ID == "" {
		env.ID, err = header(r, HeaderWebhookID, HeaderEventsWebhookID)
	}
	if err != nil {
		return provider.Envelope{}, err
	}
	if env.ID == "" {
		if p.webhookID {
			return provider.Envelope{}, malformed("no header %s", HeaderWebhookID)
		}
		return provider.Envelope{}, malformed("no header %s or %s", HeaderEventID, HeaderWebhookID)
	}
	if env.Version, err = header(r, HeaderAPIVersion, HeaderEventsAPIVersion); err != nil {
		return provider.Envelope{}, err
	}
	return env, nil
}

// header returns the value of the first of names the request has, "" when
// it has none; a header given more than once is ambiguous.
func header(r *http.Request, names ...string) (string, error) {
	for _, name := range names {
		switch vs := r.Header.Values(name); len(vs) {
		case 0:
			continue
		case 1:
			if vs[0] != "" {
				return vs[0], nil
			}
		default:
			return "", malformed("%d values of header %s", len(vs), name)
		}
	}
	return "", nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", Name, fmt.Sprintf(format, args...), provider.ErrMalformedEnvelope)
}

// SignRequest signs r, whose body is body, as Shopify signs a webhook
// delivery with secret: it sets X-Shopify-Hmac-Sha256 (now is unused:
// Shopify signs no timestamp). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}

// SignEventsRequest signs r as Shopify signs an Events delivery: it sets
// Shopify-Hmac-Sha256.
func SignEventsRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return events.Sign(r, body, secret, now)
}
