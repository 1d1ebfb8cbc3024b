// Package razorpay verifies and reads Razorpay webhook deliveries.
//
// Razorpay signs the raw body with HMAC-SHA256, keyed with the webhook
// secret set in the Dashboard (its raw bytes; not the API key secret, which
// signs checkout payments over order_id|payment_id, a different flow), and
// sends the lower-case hex digest, without a prefix, in
//
//	X-Razorpay-Signature: <hex>
//
// There is no timestamp: a captured delivery stays valid for ever, and
// replays are stopped only by the dedupe store, for as long as it remembers
// the event ID. Razorpay retries a failed delivery with exponential
// back-off for 24 hours.
//
// The envelope's ID is the X-Razorpay-Event-Id header, which Razorpay
// documents as the idempotency key (the same on every retry of an event);
// it is not signed. A delivery without it has no ID and is not
// deduplicated. Its Type is the body's top-level "event"
// ("payment.captured"), which is signed. No handshake.
//
// Sources: https://razorpay.com/docs/webhooks/validate-test/ (validation,
// idempotency), https://razorpay.com/docs/webhooks/best-practices/
// (retries), razorpay/razorpay-go utils.VerifyWebhookSignature.
//
// Usage:
//
//	p, err := razorpay.New(os.Getenv("RAZORPAY_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler)
package razorpay

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "razorpay"

// Headers Razorpay sends.
const (
	// HeaderSignature carries the hex HMAC-SHA256 of the body.
	HeaderSignature = "X-Razorpay-Signature"
	// HeaderEventID carries the event's ID, the same on every retry.
	HeaderEventID = "X-Razorpay-Event-Id"
)

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: HeaderEventID},
		Type: kit.Field{JSON: []string{"event"}, Required: true},
	},
}

// Provider verifies and parses Razorpay deliveries. It is safe for
// concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds webhook secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the webhook secret. It returns an error
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

// Name returns "razorpay".
func (p *Provider) Name() string { return Name }

// Verify checks X-Razorpay-Signature, the hex HMAC-SHA256 of the raw body,
// in constant time with each secret.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the event ID from X-Razorpay-Event-Id and the type from the
// body's event.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Razorpay does with secret: it
// sets X-Razorpay-Signature (now is unused: the scheme has no timestamp).
// It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
