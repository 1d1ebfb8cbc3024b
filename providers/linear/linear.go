// Package linear verifies and reads Linear webhook deliveries.
//
// Linear signs the raw body with HMAC-SHA256, keyed with the webhook's
// signing secret, and sends it hex-encoded, without a prefix:
//
//	Linear-Signature: <hex>
//
// The signed body carries the time of sending, webhookTimestamp, in
// milliseconds since 1970. Once the signature matches, webhookTimestamp
// must lie within the tolerance (default DefaultTolerance, 60 s, Linear's
// own) of the clock in both directions, as Linear's SDK checks it; a
// signed body without a webhookTimestamp integer is refused, where the SDK
// skips the check. Replays are thus bounded in time, and within the window
// by the dedupe store. The timestamp is read after the MAC (it lives in the
// body, which is scanned only once it is known to be Linear's), with
// internal/jsonscan, which refuses a webhookTimestamp key given twice or in
// another case.
//
// The envelope: the ID from the Linear-Delivery header (unsigned; a UUID
// per delivery), the type from the signed body's type ("Issue", "Comment",
// "Project", …; also sent as the Linear-Event header); the action
// ("create", "update", "remove") is the body's action.
//
// Sources: https://linear.app/developers/webhooks (Securing webhooks), and
// the webhook client of Linear's SDK, linear/linear
// packages/sdk/src/webhooks/client.ts (LINEAR_WEBHOOK_SIGNATURE_HEADER,
// LINEAR_WEBHOOK_TS_FIELD, the 60 s window).
//
// Usage:
//
//	p, err := linear.New(os.Getenv("LINEAR_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package linear

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "linear"

// The headers Linear sends.
const (
	HeaderSignature = "Linear-Signature"
	HeaderDelivery  = "Linear-Delivery"
	HeaderEvent     = "Linear-Event"
)

// TimestampField is the body's field that carries the signed time of
// sending, in milliseconds.
const TimestampField = "webhookTimestamp"

// DefaultTolerance is the accepted distance of webhookTimestamp from now.
const DefaultTolerance = 60 * time.Second

// scheme declares the signature and the envelope; the timestamp, which the
// kit cannot read from a body, is checked by Verify.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: HeaderDelivery, Required: true},
		Type: kit.Field{JSON: []string{"type"}, Required: true},
	},
}

// Provider verifies and parses Linear deliveries. It is safe for concurrent use.
type Provider struct {
	p         *kit.Provider
	now       func() time.Time
	tolerance time.Duration
}

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds signing secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock webhookTimestamp is checked against (default
// time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of webhookTimestamp from now, in
// both directions (default DefaultTolerance; zero or less keeps the
// default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the webhook's signing secret. It returns an
// error matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }

// NewFromSource returns a provider whose signing secrets come from src,
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
	lp := &Provider{p: p, now: o.Now, tolerance: o.Tolerance}
	if lp.now == nil {
		lp.now = time.Now
	}
	if lp.tolerance <= 0 {
		lp.tolerance = DefaultTolerance
	}
	return lp, nil
}

// Name returns "linear".
func (p *Provider) Name() string { return Name }

// Tolerance returns the timestamp window in force.
func (p *Provider) Tolerance() time.Duration { return p.tolerance }

// Verify checks Linear-Signature, the hex HMAC-SHA256 of the raw body, and
// then the body's webhookTimestamp against the window. Errors match
// verify.ErrVerification (verify.ErrMissingTimestamp,
// verify.ErrMalformedTimestamp, verify.ErrTimestampOutsideWindow for the
// timestamp).
func (p *Provider) Verify(r *http.Request, body []byte) error {
	if err := p.p.Verify(r, body); err != nil {
		return err
	}
	if err := p.checkTime(body); err != nil {
		return fmt.Errorf("%s: body %s: %w", Name, TimestampField, err)
	}
	return nil
}

// maxMillisDigits bounds webhookTimestamp's digits (13 until the year 2286).
const maxMillisDigits = 15

func (p *Provider) checkTime(body []byte) error {
	raw, found, err := jsonscan.Get(body, TimestampField)
	switch {
	case err != nil:
		return verify.ErrMalformedTimestamp
	case !found || jsonscan.IsNull(raw):
		return verify.ErrMissingTimestamp
	case len(raw) == 0 || len(raw) > maxMillisDigits:
		return verify.ErrMalformedTimestamp
	}
	var ms int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return verify.ErrMalformedTimestamp
		}
		ms = ms*10 + int64(c-'0')
	}
	return verify.CheckTimestamp(time.UnixMilli(ms), p.now(), p.tolerance)
}

// Parse reads the ID from Linear-Delivery and the type from the body's
// type.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Linear does with secret: it
// sets Linear-Signature. Linear's timestamp is part of the body, which
// SignRequest does not change: the body must already carry the
// webhookTimestamp to verify with (now is unused). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
