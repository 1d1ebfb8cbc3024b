// Package bitbucket verifies and reads Bitbucket webhook deliveries, from
// Bitbucket Cloud and from Bitbucket Data Center (Server).
//
// Both sign a webhook that has a secret the same way: the raw body's
// HMAC-SHA256, keyed with the secret (its raw bytes), as lower-case hex
// after "sha256=" in
//
//	X-Hub-Signature: sha256=<hex>
//
// (the header GitHub uses for SHA-1; Bitbucket puts SHA-256 in it, and
// names the algorithm in the prefix). A webhook without a secret is not
// signed and does not verify; Data Center's optional Basic authentication
// is not checked here. There is no timestamp: a captured delivery stays
// valid for ever, and replays are stopped only by the dedupe store, for as
// long as it remembers the event ID.
//
// The envelope's ID is the delivery header: Cloud's X-Request-UUID, or
// Data Center's X-Request-Id when X-Request-UUID is absent. Neither is
// signed; Atlassian describes both as the request's UUID and does not say
// whether a retry keeps it (Cloud retries a failed delivery up to twice,
// numbering attempts in X-Attempt-Number). A delivery without either has no
// ID and is not deduplicated. Its Type is X-Event-Key ("repo:push",
// "pullrequest:created", Data Center's "repo:refs_changed"), the same in
// both, unsigned and required. No handshake.
//
// Sources: https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/
// (secure webhooks), https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
// (HTTP headers), https://bitbucket.org/blog/enhanced-webhook-security ,
// https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html
// (Data Center: HTTP headers, securing the webhook), go-playground/webhooks
// bitbucket-server, whose test vector is in the shared vectors file as
// bitbucket-server-go-playground.
//
// Usage:
//
//	p, err := bitbucket.New(os.Getenv("BITBUCKET_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler)
package bitbucket

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "bitbucket"

// Headers Bitbucket sends.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the body.
	HeaderSignature = "X-Hub-Signature"
	// HeaderEventKey names the event ("repo:push").
	HeaderEventKey = "X-Event-Key"
	// HeaderRequestUUID identifies a Bitbucket Cloud delivery.
	HeaderRequestUUID = "X-Request-UUID"
	// HeaderRequestID identifies a Bitbucket Data Center delivery.
	HeaderRequestID = "X-Request-Id"
)

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex, Prefix: "sha256="},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: HeaderRequestUUID},
		Type: kit.Field{Header: HeaderEventKey, Required: true},
	},
}

// Provider verifies and parses Bitbucket deliveries. It is safe for
// concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds webhook secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the webhook's secret. It returns an error
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

// Name returns "bitbucket".
func (p *Provider) Name() string { return Name }

// Verify checks X-Hub-Signature ("sha256=<hex>", the HMAC-SHA256 of the
// raw body) in constant time with each secret.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the type from X-Event-Key and the event ID from
// X-Request-UUID (Cloud) or, when absent, X-Request-Id (Data Center). A
// header sent more than once is refused as ambiguous.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	env, err := p.p.Parse(r, body)
	if err != nil || env.ID != "" {
		return env, err
	}
	switch ids := r.Header.Values(HeaderRequestID); len(ids) {
	case 0:
	case 1:
		env.ID = ids[0]
	default:
		return provider.Envelope{}, fmt.Errorf("%s: id: %d values of header %s: %w", Name, len(ids), HeaderRequestID, provider.ErrMalformedEnvelope)
	}
	return env, nil
}

// SignRequest signs r, whose body is body, as Bitbucket does with secret:
// it sets X-Hub-Signature to "sha256=<hex>" (now is unused: the scheme has
// no timestamp). It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
