// Package clerk verifies and reads Clerk webhook deliveries.
//
// Clerk sends its webhooks through Svix, signed per the Standard Webhooks
// specification with the Svix-branded header names (see package
// standardwebhooks for the scheme in full):
//
//	svix-id: msg_2pC9Lb0vq3dYxJ8mXyZ1aBcDeFg
//	svix-timestamp: 1735689600
//	svix-signature: v1,<base64> [v1,<base64>…]
//
// The signed content is svix-id + "." + svix-timestamp + "." + body, with
// HMAC-SHA256 under the base64-decoded part of the endpoint's signing
// secret ("whsec_<base64>", from the Clerk dashboard). svix-signature is a
// space-separated list: a delivery verifies when any "v1," entry matches
// any configured secret; other entries are skipped. The list is bounded
// (verify.MaxSignatureEntries, verify.MaxSignatureHeaderBytes) before any
// MAC is computed, and each secret's MAC is computed once. Only the svix-*
// names are read: Clerk sends no other spelling.
//
// The timestamp must lie within DefaultTolerance (five minutes) of the clock
// in both directions, and is checked before the signature: replays are
// bounded in time, and within the window deduplicated on the ID.
//
// The envelope's ID is svix-id (signed; stable across Svix's retries), its
// Type the body's top-level "type" ("user.created", "session.ended").
//
// Sources: https://clerk.com/docs/webhooks/sync-data (svix-* headers,
// verification with the Svix libraries); the Standard Webhooks
// specification and svix/svix-webhooks go/webhook.go.
//
// Usage:
//
//	p, err := clerk.New(os.Getenv("CLERK_WEBHOOK_SIGNING_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package clerk

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/providers/internal/swpreset"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
)

// Name is the provider's name.
const Name = "clerk"

// Header names Clerk sends.
const (
	HeaderID        = "svix-id"
	HeaderTimestamp = "svix-timestamp"
	HeaderSignature = "svix-signature"
)

// DefaultTolerance is the accepted distance of the signed timestamp from now.
const DefaultTolerance = standardwebhooks.DefaultTolerance

// scheme declares Clerk's signature and envelope.
var scheme = swpreset.Preset{
	Name: Name, ID: HeaderID, Timestamp: HeaderTimestamp, Signature: HeaderSignature, Type: "type",
}.Scheme()

// Provider verifies and parses Clerk deliveries. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds signing secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the endpoint's signing secret ("whsec_…"). It
// returns an error matching verify.ErrNoSecret when a secret is empty,
// blank or not base64.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(secret, opts))
}

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
	return &Provider{p}, nil
}

// Name returns "clerk".
func (p *Provider) Name() string { return Name }

// Verify checks svix-signature over svix-id.svix-timestamp.body, after the
// list's bounds and the timestamp's window.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the ID from svix-id and the type from the body's "type".
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body and whose svix-id header is set,
// as Clerk does with secret at now: it sets svix-timestamp and
// svix-signature ("v1,<base64>"). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
