// Package paddle verifies and reads Paddle Billing webhook deliveries
// (notifications).
//
// Paddle signs ts + ":" + body with HMAC-SHA256, keyed with the whole
// notification destination's secret key string ("pdl_ntfset_…", not
// decoded), and sends
//
//	Paddle-Signature: ts=1710929255;h1=<hex>[;h1=<hex>…]
//
// The header is a ";" list: exactly one ts, and one h1 per active secret
// while Paddle rotates a destination's secret; a delivery verifies when any
// h1 matches any configured secret, and entries of other kinds are
// skipped. The header is bounded (verify.MaxSignatureHeaderBytes,
// verify.MaxSignatureEntries) before any MAC is computed, and each secret's
// MAC is computed once per request whatever the number of h1 entries.
//
// The timestamp must lie within DefaultTolerance (five seconds, the default
// of Paddle's Node and Python SDKs) of the clock, in both directions, and is
// checked before the signature. Five seconds is tight: a server whose clock
// drifts, or a receiver behind a slow proxy, may need WithTolerance. A
// delivery older than the window is refused (401) and Paddle retries it with
// a fresh signature.
//
// The envelope's ID is the body's event_id ("evt_…", the same on every
// retry and for every destination) and its Type is event_type
// ("subscription.created"); both are signed, as the whole body is. Replays
// are bounded in time by the window and, inside it, stopped by the dedupe
// store on event_id.
//
// Paddle Classic (the p_signature form field, RSA over PHP-serialised
// fields) is a different scheme and is not covered.
//
// Sources: https://developer.paddle.com/webhooks/signature-verification ;
// PaddleHQ/paddle-go-sdk webhook_verifier.go and
// example_webhook_verifier_test.go (its example secret, payload and
// signature are a vector of ../testdata/vectors.json); PaddleHQ
// paddle-node-sdk WebhooksValidator (MAX_VALID_TIME_DIFFERENCE = 5). The Go
// SDK accepts a single h1 and checks no timestamp; this package accepts a
// list and checks the window both ways.
//
// Usage:
//
//	p, err := paddle.New(os.Getenv("PADDLE_WEBHOOK_SECRET"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	rcv, err := receiver.New(p, mux)
package paddle

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "paddle"

// HeaderSignature is the signature header: "ts=<unix>;h1=<hex>".
const HeaderSignature = "Paddle-Signature"

// DefaultTolerance is the accepted distance of the signed timestamp from
// now: the five seconds of Paddle's SDKs.
const DefaultTolerance = 5 * time.Second

// scheme declares Paddle's signature and envelope.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex, Prefix: "h1=", Sep: ";"},
	Timestamp: &kit.Timestamp{Field: "ts=", Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.Time, kit.Lit(":"), kit.Body},
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"event_id"}, Required: true},
		Type: kit.Field{JSON: []string{"event_type"}, Required: true},
	},
}

// Provider verifies and parses Paddle Billing deliveries. It is safe for
// concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds secret keys accepted besides the one given to New, for a
// rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the notification destination's secret key
// ("pdl_ntfset_…"). It returns an error matching verify.ErrNoSecret when a
// secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(secret, opts))
}

// NewFromSource returns a provider whose secret keys come from src, which
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

// Name returns "paddle".
func (p *Provider) Name() string { return Name }

// Verify checks Paddle-Signature: its bounds and syntax, the timestamp's
// window, then the h1 signatures over ts + ":" + the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the envelope from the body's event_id and event_type.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Paddle does with secret at
// now: it sets Paddle-Signature to "ts=<unix>;h1=<hex>". It has the shape
// of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
