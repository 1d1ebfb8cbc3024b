// Package jira verifies and reads Jira (Atlassian Cloud) admin webhook
// deliveries signed with a secret.
//
// A webhook registered with a secret, in Jira's administration or through
// POST /rest/webhooks/1.0/webhook, is signed WebSub-style: the raw body's
// HMAC-SHA256, keyed with the secret (its raw bytes), as lower-case hex
// after "sha256=" in
//
//	X-Hub-Signature: sha256=<hex>
//
// (the header GitHub uses for SHA-1; here it carries SHA-256). There is no
// timestamp: a captured delivery stays valid for ever, and replays are
// stopped only by the dedupe store, for as long as it remembers the event
// ID. A webhook without a secret is not signed and does not verify.
//
// The envelope's ID is the X-Atlassian-Webhook-Identifier header, which
// Atlassian documents as unique per delivery within the site and unchanged
// across retries (X-Atlassian-Webhook-Retry counts them); it is not signed.
// A delivery without it has no ID and is not deduplicated. Its Type is the
// body's webhookEvent ("jira:issue_created", "comment_created"), which is
// signed. No handshake.
//
// Not covered: Connect apps' webhooks (a JWT in the Authorization header,
// with a qsh claim) and OAuth 2.0 dynamic webhooks (/rest/api/3/webhook),
// which are not HMAC-signed.
//
// Source: https://developer.atlassian.com/cloud/jira/platform/webhooks/
// (Secure admin webhooks; Retry policy, for the headers).
//
// Usage:
//
//	p, err := jira.New(os.Getenv("JIRA_WEBHOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler)
package jira

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "jira"

// Headers Jira sends.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the body.
	HeaderSignature = "X-Hub-Signature"
	// HeaderIdentifier identifies the delivery, the same on every retry.
	HeaderIdentifier = "X-Atlassian-Webhook-Identifier"
	// HeaderRetry counts the retries of a delivery.
	HeaderRetry = "X-Atlassian-Webhook-Retry"
)

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex, Prefix: "sha256="},
	Envelope: kit.Envelope{
		ID:   kit.Field{Header: HeaderIdentifier},
		Type: kit.Field{JSON: []string{"webhookEvent"}, Required: true},
	},
}

// Provider verifies and parses Jira deliveries. It is safe for concurrent
// use.
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

// Name returns "jira".
func (p *Provider) Name() string { return Name }

// Verify checks X-Hub-Signature ("sha256=<hex>", the HMAC-SHA256 of the
// raw body) in constant time with each secret.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the event ID from X-Atlassian-Webhook-Identifier and the type
// from the body's webhookEvent.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Jira does with secret: it
// sets X-Hub-Signature to "sha256=<hex>" (now is unused: the scheme has no
// timestamp). It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
