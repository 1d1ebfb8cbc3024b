// Package calendly verifies and reads Calendly webhook deliveries (API v2
// webhook subscriptions).
//
// Calendly signs t + "." + body with HMAC-SHA256, keyed with the
// subscription's webhook signing key (chosen when the subscription is
// created with a personal access token, generated per OAuth application
// otherwise; used as a string, not decoded), and sends
//
//	Calendly-Webhook-Signature: t=1735689600,v1=<hex>
//
// The header is a "," list: exactly one t, and v1 entries, any of which may
// match any configured key; other entries are skipped. It is bounded
// (verify.MaxSignatureHeaderBytes, verify.MaxSignatureEntries) before any
// MAC is computed, and each key's MAC is computed once per request.
//
// The timestamp must lie within DefaultTolerance (three minutes, the
// tolerance of Calendly's guide) of the clock, in both directions; it is
// checked before the signature.
//
// The envelope's Type is the body's event ("invitee.created",
// "invitee.canceled"), signed. Calendly sends no event or delivery ID, so
// the ID is the hex SHA-256 of the signed body: a retry of the same bytes
// is a duplicate. Replays are bounded in time by the window and, inside it,
// stopped by the dedupe store on that hash.
//
// Sources: https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures ;
// https://developer.calendly.com/docs/webhooks/overview . Calendly
// publishes no SDK verifier and no known-answer vector: the vectors of
// ../testdata/vectors.json were generated from the documented scheme.
//
// Usage:
//
//	p, err := calendly.New(os.Getenv("CALENDLY_WEBHOOK_SIGNING_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	rcv, err := receiver.New(p, mux)
package calendly

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "calendly"

// HeaderSignature is the signature header: "t=<unix>,v1=<hex>".
const HeaderSignature = "Calendly-Webhook-Signature"

// DefaultTolerance is the accepted distance of the signed timestamp from
// now: the three minutes of Calendly's guide.
const DefaultTolerance = 3 * time.Minute

// scheme declares Calendly's signature and envelope.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex, Prefix: "v1=", Sep: ","},
	Timestamp: &kit.Timestamp{Field: "t=", Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.Time, kit.Lit("."), kit.Body},
	Envelope: kit.Envelope{
		ID:   kit.Field{BodyHash: true},
		Type: kit.Field{JSON: []string{"event"}, Required: true},
	},
}

// Provider verifies and parses Calendly deliveries. It is safe for
// concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds signing keys accepted besides the one given to New, for
// a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the webhook signing key. It returns an error
// matching verify.ErrNoSecret when a key is empty or blank.
func New(signingKey string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(signingKey, opts))
}

// NewFromSource returns a provider whose signing keys come from src, which
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

// Name returns "calendly".
func (p *Provider) Name() string { return Name }

// Verify checks Calendly-Webhook-Signature: its bounds and syntax, the
// timestamp's window, then the v1 signatures over t + "." + the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the type from the body's event; the ID is the hex SHA-256 of
// the body.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Calendly does with signingKey
// at now: it sets Calendly-Webhook-Signature to "t=<unix>,v1=<hex>". It has
// the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, signingKey string, now time.Time) error {
	return scheme.Sign(r, body, signingKey, now)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
