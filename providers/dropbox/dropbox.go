// Package dropbox verifies and reads Dropbox webhook notifications, and
// answers Dropbox's verification request.
//
// Dropbox signs the raw body with HMAC-SHA256, keyed with the app secret,
// and sends it hex-encoded, without a prefix:
//
//	X-Dropbox-Signature: <hex>
//
// A notification says only which accounts changed (list_folder.accounts,
// delta.users): the application then fetches the changes through the API.
// It has no event ID and no type, and no timestamp is signed. The envelope's
// ID is therefore the hex SHA-256 of the signed body (a redelivery of the
// same bytes is a duplicate; replays are bounded by the dedupe store
// alone), and its type is always TypeNotification. The body must be JSON.
//
// # Verification request
//
// When a webhook URI is registered, and from time to time after, Dropbox
// sends
//
//	GET <uri>?challenge=<value>
//
// which must be answered within 10 s with 200, the value verbatim as the
// body, Content-Type: text/plain and X-Content-Type-Options: nosniff. The
// request is not signed, so anyone can send it: the answer echoes only what
// the request carries, as plain text that is never sniffed, and a challenge
// that is empty, given twice, longer than MaxChallengeBytes or not printable
// ASCII is answered 400. A GET without a challenge parameter is refused
// with 405, as any request other than POST.
//
// Source: https://www.dropbox.com/developers/reference/webhooks
//
// Usage:
//
//	p, err := dropbox.New(os.Getenv("DROPBOX_APP_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler) // answers the GET challenge itself
package dropbox

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
)

// Name is the provider's name.
const Name = "dropbox"

// HeaderSignature is the signature header.
const HeaderSignature = "X-Dropbox-Signature"

// TypeNotification is the type of every notification.
const TypeNotification = "notification"

// MaxChallengeBytes bounds the challenge echoed back.
const MaxChallengeBytes = 1024

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature},
	Envelope:  kit.Envelope{ID: kit.Field{BodyHash: true}},
}

// Provider verifies and parses Dropbox notifications and answers the
// verification request. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.Handshaker = (*Provider)(nil)
)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds app secrets accepted besides the one given to New, for a
// rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the app secret. It returns an error matching
// verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }

// NewFromSource returns a provider whose app secrets come from src, which
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

// Name returns "dropbox".
func (p *Provider) Name() string { return Name }

// Verify checks X-Dropbox-Signature, the hex HMAC-SHA256 of the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse returns the envelope of a notification: the hex SHA-256 of the body
// as its ID, TypeNotification as its type. A body that is not JSON is an
// error matching provider.ErrMalformedEnvelope.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	if _, _, err := jsonscan.Get(body); err != nil {
		return provider.Envelope{}, fmt.Errorf("%s: body: %w: %w", Name, err, provider.ErrMalformedEnvelope)
	}
	env, err := p.p.Parse(r, body)
	if err != nil {
		return provider.Envelope{}, err
	}
	env.Type = TypeNotification
	return env, nil
}

// Handshake answers Dropbox's verification request, a GET with a challenge
// query parameter, with the challenge as text/plain (see the package
// documentation); it returns nil for any other request.
func (p *Provider) Handshake(r *http.Request, _ []byte) *provider.Reply {
	if r.Method != http.MethodGet || r.URL == nil {
		return nil
	}
	vs, ok := r.URL.Query()["challenge"]
	if !ok {
		return nil
	}
	if len(vs) != 1 || !challengeOK(vs[0]) {
		return &provider.Reply{Status: http.StatusBadRequest}
	}
	return &provider.Reply{ContentType: "text/plain", Body: []byte(vs[0])}
}

// challengeOK reports whether c is 1 to MaxChallengeBytes bytes of
// printable ASCII other than space.
func challengeOK(c string) bool {
	if c == "" || len(c) > MaxChallengeBytes {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 0x21 || c[i] > 0x7e {
			return false
		}
	}
	return true
}

// SignRequest signs r, whose body is body, as Dropbox does with secret: it
// sets X-Dropbox-Signature (now is unused). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
