// Package stripe verifies and reads Stripe webhook deliveries.
//
// Stripe signs t + "." + body with HMAC-SHA256, keyed with the whole endpoint
// secret string ("whsec_…", not decoded), and sends
//
//	Stripe-Signature: t=1735689600,v1=<hex>[,v1=<hex>…][,v0=<hex>]
//
// The header is split on "," and each element on its first "=". Only v1
// signatures are checked (v0 is a test-mode signature under a fake key and
// never accepted); unknown keys and v1 values that are not hex are skipped,
// and a delivery verifies when any v1 matches any configured secret (Stripe
// sends one v1 per active secret while a secret is rolled). Exactly one t is
// required.
//
// A header longer than verify.MaxSignatureHeaderBytes or with more than
// verify.MaxSignatureEntries elements is rejected before any MAC is
// computed; otherwise each secret's MAC is computed once per request and
// compared with every v1.
//
// The timestamp must lie within the tolerance (default five minutes) of the
// clock in both directions, and is checked before the signature. This is
// stricter than stripe-go, which rejects only timestamps too far in the
// past: a timestamp from the future is a forgery or a broken clock either
// way.
//
// The envelope's ID and Type are the body's top-level id ("evt_…") and type
// ("invoice.paid"); Version is api_version when present.
package stripe

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "stripe"

// HeaderSignature is the signature header.
const HeaderSignature = "Stripe-Signature"

// DefaultTolerance is the accepted distance of the signed timestamp from now.
const DefaultTolerance = 300 * time.Second

// scheme declares Stripe's signature and envelope.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex, Prefix: "v1=", Sep: ","},
	Timestamp: &kit.Timestamp{Field: "t=", Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.Time, kit.Lit("."), kit.Body},
	Envelope: kit.Envelope{
		ID:      kit.Field{JSON: []string{"id"}, Required: true},
		Type:    kit.Field{JSON: []string{"type"}, Required: true},
		Version: kit.Field{JSON: []string{"api_version"}},
	},
}

// Provider verifies and parses Stripe deliveries. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds endpoint secrets accepted besides the one given to New,
// for a secret rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the endpoint secret ("whsec_…"). It returns an
// error matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(secret, opts))
}

// NewFromSource returns a provider whose endpoint secrets come from src,
// which the application updates to rotate them without a restart (see
// provider.Secrets). It returns an error matching verify.ErrNoSecret when
// src holds no secret or an empty or blank one.
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

// Name returns "stripe".
func (p *Provider) Name() string { return Name }

// Verify checks the Stripe-Signature header: first its bounds and syntax
// (at most verify.MaxSignatureEntries elements, t included, and
// verify.MaxSignatureHeaderBytes bytes), then the timestamp's window, and
// only then the v1 signatures over the raw body, with each secret's MAC
// computed once whatever the number of v1 elements.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the envelope from the body's id, type and api_version.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Stripe does with secret at
// now: it sets Stripe-Signature to "t=<unix>,v1=<hex>". It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}

// Sign returns the Stripe-Signature header value for body signed under
// secret at t: "t=<unix>,v1=<hex>".
func Sign(secret string, t time.Time, body []byte) string {
	r := &http.Request{Method: http.MethodPost, Header: http.Header{}}
	if err := SignRequest(r, body, secret, t); err != nil {
		panic("stripe: Sign: " + err.Error()) // the declaration is valid, and any secret signs
	}
	return r.Header.Get(HeaderSignature)
}

// NewRequest returns a signed delivery of body to url as Stripe sends it, for
// tests: a POST with Stripe-Signature and Content-Type
// "application/json; charset=utf-8". It panics when url cannot be parsed,
// like httptest.NewRequest.
func NewRequest(url, secret string, t time.Time, body []byte) *http.Request {
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic("stripe: NewRequest: " + err.Error())
	}
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	r.Header.Set(HeaderSignature, Sign(secret, t, body))
	return r
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
