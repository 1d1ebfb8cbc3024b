// Package coinbasecommerce verifies and reads Coinbase Commerce webhook
// deliveries.
//
// Coinbase Commerce signs the raw body with HMAC-SHA256, keyed with the
// endpoint's shared secret (its raw bytes), and sends the lower-case hex
// digest, without a prefix, in
//
//	X-CC-Webhook-Signature: <hex>
//
// There is no timestamp: a captured delivery stays valid for ever, and
// replays are stopped only by the dedupe store, for as long as it remembers
// the event ID.
//
// The body is a delivery object whose top-level id (a number) and
// attempt_number change with each delivery; the event it carries is its
// "event" member. The envelope's ID is event.id (a UUID, signed, the same
// on every retry), its Type event.type ("charge:confirmed") and its Version
// event.api_version. No handshake.
//
// Sources: https://docs.cdp.coinbase.com/commerce/api-arcitecture/webhooks-security
// and webhooks-overview (retries with back-off for up to three days),
// coinbase/coinbase-commerce-node lib/Webhook.js and
// test/testWebhook.spec.js, whose known-answer vector is in the shared
// vectors file as coinbase-commerce-sdk.
//
// Usage:
//
//	p, err := coinbasecommerce.New(os.Getenv("COINBASE_COMMERCE_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler)
package coinbasecommerce

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "coinbase-commerce"

// HeaderSignature is the signature header.
const HeaderSignature = "X-CC-Webhook-Signature"

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex},
	Envelope: kit.Envelope{
		ID:      kit.Field{JSON: []string{"event", "id"}, Required: true},
		Type:    kit.Field{JSON: []string{"event", "type"}, Required: true},
		Version: kit.Field{JSON: []string{"event", "api_version"}},
	},
}

// Provider verifies and parses Coinbase Commerce deliveries. It is safe for
// concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds shared secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the endpoint's shared secret. It returns an
// error matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }

// NewFromSource returns a provider whose shared secrets come from src,
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

// Name returns "coinbase-commerce".
func (p *Provider) Name() string { return Name }

// Verify checks X-CC-Webhook-Signature, the hex HMAC-SHA256 of the raw
// body, in constant time with each secret.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the envelope from the body's event.id, event.type and
// event.api_version.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Coinbase Commerce does with
// secret: it sets X-CC-Webhook-Signature (now is unused: the scheme has no
// timestamp). It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
