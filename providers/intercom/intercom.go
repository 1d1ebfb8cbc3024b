// Package intercom verifies and reads Intercom webhook notifications.
//
// Intercom signs the raw body with HMAC-SHA1 (not SHA-256), keyed with the
// app's client_secret, and sends it hex-encoded after "sha1=":
//
//	X-Hub-Signature: sha1=<hex>
//
// No timestamp is signed (the body's created_at is not checked), so replays
// are bounded by the dedupe store alone.
//
// The envelope comes from the signed body: the ID from the notification's
// top-level id ("notif_…"), the type from its topic
// ("conversation.user.created"). Saving a webhook sends a signed
// notification whose topic is "ping": it is an ordinary event of type
// "ping", acknowledged with 2xx like any other.
//
// Source: https://developers.intercom.com/docs/references/webhooks/webhook-models
// (Signed notifications).
//
// Usage:
//
//	p, err := intercom.New(os.Getenv("INTERCOM_CLIENT_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package intercom

import (
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
)

// Name is the provider's name.
const Name = "intercom"

// HeaderSignature is the signature header.
const HeaderSignature = "X-Hub-Signature"

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA1,
	Signature: kit.Signature{Header: HeaderSignature, Prefix: "sha1="},
	Envelope: kit.Envelope{
		ID:   kit.Field{JSON: []string{"id"}, Required: true},
		Type: kit.Field{JSON: []string{"topic"}, Required: true},
	},
}

// Provider verifies and parses Intercom notifications. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds client secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the app's client secret. It returns an error
// matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }

// NewFromSource returns a provider whose client secrets come from src, which
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

// Name returns "intercom".
func (p *Provider) Name() string { return Name }

// Verify checks X-Hub-Signature, "sha1=" and the hex HMAC-SHA1 of the raw
// body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the ID from the body's id and the type from its topic.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// SignRequest signs r, whose body is body, as Intercom does with secret: it
// sets X-Hub-Signature (now is unused). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
