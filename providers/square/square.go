// Package square verifies and reads Square webhook deliveries (event
// notifications).
//
// Square signs the notification URL followed by the raw body with
// HMAC-SHA256, keyed with the webhook subscription's signature key (used as
// a string, not decoded), and sends the base64 MAC in
//
//	X-Square-Hmacsha256-Signature: <base64>
//
// The URL is the subscription's notification URL exactly as registered
// with Square, not the URL the request seems to arrive at: behind a proxy,
// a load balancer or a path rewrite, set it with WithURL (the catalog's
// Config.URL). Without WithURL the request's own URL is used (scheme from
// TLS, the Host header, the request URI), which matches only when the
// receiver is reached directly at the registered URL. A mismatch fails
// closed (401).
//
// Square signs no timestamp, so replays are not bounded in time: the body's
// event_id (the same on every retry) is the ID, and a replay is stopped
// only by the dedupe store while it remembers that ID. The Type is the
// body's type ("payment.updated"). Both are signed, as the whole body is.
//
// The legacy X-Square-Signature header (HMAC-SHA1 of the same message) is
// not checked: Square sends the SHA-256 header to every subscription.
//
// Sources: https://developer.squareup.com/docs/webhooks/step3validate ;
// square/square-python-sdk src/square/utils/webhooks_helper.py and its
// tests tests/utilities/test_webhooks_helper.py (their key, URL, body and
// signature are vectors of ../testdata/vectors.json).
//
// Usage:
//
//	p, err := square.New(os.Getenv("SQUARE_SIGNATURE_KEY"),
//		square.WithURL("https://example.com/webhooks/square"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	rcv, err := receiver.New(p, mux)
package square

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "square"

// HeaderSignature is the signature header.
const HeaderSignature = "X-Square-Hmacsha256-Signature"

// scheme declares Square's signature and envelope.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Base64},
	Message:   []kit.Piece{kit.URL, kit.Body},
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"event_id"}, Required: true},
		Type: kit.Field{JSON: []string{"type"}, Required: true},
	},
}

// Provider verifies and parses Square deliveries. It is safe for concurrent
// use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds signature keys accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithURL sets the notification URL exactly as registered on the Square
// subscription ("https://example.com/webhooks/square"); "" means the URL
// the request arrived at.
func WithURL(url string) Option { return kit.WithURL(url) }

// New returns a provider for the subscription's signature key. It returns
// an error matching verify.ErrNoSecret when a key is empty or blank.
func New(signatureKey string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(signatureKey, opts))
}

// NewFromSource returns a provider whose signature keys come from src,
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

// Name returns "square".
func (p *Provider) Name() string { return Name }

// Verify checks X-Square-Hmacsha256-Signature over the notification URL
// followed by the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the envelope from the body's event_id and type.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Square does with signatureKey:
// the notification URL is r's URL. It sets X-Square-Hmacsha256-Signature.
// It has the shape of providertest.Harness.Sign; Square signs no time, so
// now is unused.
func SignRequest(r *http.Request, body []byte, signatureKey string, now time.Time) error {
	return scheme.Sign(r, body, signatureKey, now)
}
