// Package postmark authenticates and reads Postmark webhook deliveries
// (delivery, bounce, spam complaint, open, click, subscription change and
// inbound webhooks).
//
// Postmark does not sign its webhooks. It authenticates itself with HTTP
// Basic credentials written into the webhook URL
// (https://user:password@example.com/hooks/postmark), which arrive as
//
//	Authorization: Basic <base64 of user:password>
//
// The provider holds the expected "user:password" pairs and compares the
// credentials with every one of them as SHA-256 digests in constant time.
// This authenticates the sender, not the body: anyone who learns the
// credentials can send any body, and a captured delivery can be replayed
// at any time (Postmark sends no timestamp; replays are deduplicated on
// the ID only while the dedupe store remembers it). Serve the endpoint over
// HTTPS only, and add Postmark's published IP ranges at the edge for
// defence in depth.
//
// The envelope's ID is the hex SHA-256 of the body: Postmark sends no event
// or delivery ID (MessageID names the message, shared by its Delivery, Open
// and Click events), and each event's body carries its own timestamps
// (DeliveredAt, ReceivedAt, BouncedAt), so a retry of the same event is a
// duplicate and two events differ. The Type is the body's "RecordType"
// ("Delivery", "Bounce", "SpamComplaint", "Open", "Click",
// "SubscriptionChange"); inbound-message webhooks carry none and get "".
//
// Sources: https://postmarkapp.com/developer/webhooks/webhooks-overview
// (Protecting your webhook: Basic auth in the URL, IP allow-list);
// https://postmarkapp.com/developer/webhooks/delivery-webhook and the other
// webhook pages (RecordType, MessageID).
//
// Usage:
//
//	p, err := postmark.New(os.Getenv("POSTMARK_WEBHOOK_USER") + ":" + os.Getenv("POSTMARK_WEBHOOK_PASSWORD"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package postmark

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
)

// Name is the provider's name.
const Name = "postmark"

// HeaderAuthorization carries the Basic credentials.
const HeaderAuthorization = "Authorization"

// scheme declares Postmark's credentials and envelope.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.Basic,
	Signature: kit.Signature{Header: HeaderAuthorization},
	Envelope: kit.Envelope{
		ID:   kit.Field{BodyHash: true},
		Type: kit.Field{JSON: []string{"RecordType"}},
	},
}

// Provider authenticates and parses Postmark deliveries. It is safe for
// concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds "user:password" credentials accepted besides the ones
// given to New, for a rotation (configure the new pair, change the URL in
// Postmark, then drop the old pair).
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider accepting the Basic credentials "user:password".
// It returns an error matching verify.ErrNoSecret when a secret is empty,
// blank, or not user:password with a non-empty user.
func New(credentials string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(credentials, opts))
}

// NewFromSource returns a provider whose "user:password" credentials come
// from src, which the application updates to rotate them without a restart
// (see provider.Secrets).
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

// Name returns "postmark".
func (p *Provider) Name() string { return Name }

// Verify compares the Basic credentials of the Authorization header with
// every configured pair, in constant time.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the ID (the hex SHA-256 of the body) and the type (the body's
// RecordType).
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest sets r's Authorization header to the Basic credentials
// "user:password" (secret), as Postmark sends them; body and now are
// unused. It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
