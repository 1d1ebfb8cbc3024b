// Package meta verifies and reads webhook deliveries of Meta's Graph API
// (Facebook pages, Instagram, Messenger, WhatsApp Cloud API), and answers
// Meta's subscription verification request.
//
// Meta signs the raw body with HMAC-SHA256, keyed with the app secret, and
// sends it hex-encoded after "sha256=":
//
//	X-Hub-Signature-256: sha256=<hex>
//
// (Meta also sends the legacy X-Hub-Signature, an HMAC-SHA1, which is not
// checked.) Verify the bytes as received: Meta escapes non-ASCII text as
// \uXXXX and signs that form, which re-serialising a decoded payload does
// not reproduce. No timestamp is signed, so replays are bounded by the
// dedupe store alone.
//
// A delivery has no event or delivery ID (it batches entries, each with its
// own ids), so the envelope's ID is the hex SHA-256 of the signed body: a
// redelivery of the same bytes is a duplicate. Its type is the body's
// object ("whatsapp_business_account", "page", "instagram", …).
//
// # Verification request
//
// When a subscription is set up, Meta sends
//
//	GET <callback>?hub.mode=subscribe&hub.challenge=<n>&hub.verify_token=<token>
//
// unsigned. The verify token is a string of the application's choosing,
// entered in the App Dashboard and given to WithVerifyToken (catalog:
// Params["verify-token"]); it is not the app secret. When hub.mode is
// "subscribe" and hub.verify_token equals a configured verify token
// (compared in constant time, as SHA-256 digests), the answer is 200 with
// hub.challenge verbatim as text/plain; otherwise 403 with an empty body,
// also when no verify token is configured. A matching request whose
// challenge is empty, longer than MaxChallengeBytes or not printable ASCII
// is answered 400; any of the three parameters given twice is answered
// 403. A GET without hub.mode is refused with 405, as any request other
// than POST.
//
// Source: https://developers.facebook.com/docs/graph-api/webhooks/getting-started
// (Verification Requests, Event Notifications: Validating Payloads).
//
// Usage:
//
//	p, err := meta.New(os.Getenv("META_APP_SECRET"),
//		meta.WithVerifyToken(os.Getenv("META_VERIFY_TOKEN")))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux) // answers the GET verification itself
package meta

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "meta"

// HeaderSignature is the signature header.
const HeaderSignature = "X-Hub-Signature-256"

// MaxChallengeBytes bounds the hub.challenge echoed back.
const MaxChallengeBytes = 1024

// The query parameters of the verification request.
const (
	ParamMode        = "hub.mode"
	ParamChallenge   = "hub.challenge"
	ParamVerifyToken = "hub.verify_token"
)

var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Prefix: "sha256="},
	Envelope: kit.Envelope{
		ID:   kit.Field{BodyHash: true},
		Type: kit.Field{JSON: []string{"object"}, Required: true},
	},
}

// Provider verifies and parses Meta deliveries and answers the verification
// request. It is safe for concurrent use.
type Provider struct {
	p      *kit.Provider
	tokens [][sha256.Size]byte // the verify tokens' digests
}

var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.Handshaker = (*Provider)(nil)
)

type options struct {
	kit.Options
	tokens []string
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds app secrets accepted besides the one given to New, for a
// rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { kit.WithSecrets(more...)(&o.Options) }
}

// WithVerifyToken adds verify tokens accepted in hub.verify_token (more
// than one while the token is changed). Without one, every verification
// request is answered 403.
func WithVerifyToken(tokens ...string) Option {
	return func(o *options) { o.tokens = append(o.tokens, tokens...) }
}

// New returns a provider for the app secret. It returns an error matching
// verify.ErrNoSecret when a secret or a verify token is empty or blank.
func New(appSecret string, opts ...Option) (*Provider, error) {
	return build(apply(kit.Options{Secrets: []string{appSecret}}, opts))
}

// NewFromSource returns a provider whose app secrets come from src, which
// the application updates to rotate them without a restart (see
// provider.Secrets).
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(apply(kit.Options{Source: src}, opts))
}

func apply(base kit.Options, opts []Option) options {
	o := options{Options: base}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

func build(o options) (*Provider, error) {
	p, err := scheme.New(o.Options)
	if err != nil {
		return nil, err
	}
	mp := &Provider{p: p}
	for i, t := range o.tokens {
		if strings.TrimSpace(t) == "" {
			return nil, fmt.Errorf("%s: verify token %d of %d is empty: %w", Name, i+1, len(o.tokens), verify.ErrNoSecret)
		}
		mp.tokens = append(mp.tokens, sha256.Sum256([]byte(t)))
	}
	return mp, nil
}

// Name returns "meta".
func (p *Provider) Name() string { return Name }

// Verify checks X-Hub-Signature-256, "sha256=" and the hex HMAC-SHA256 of
// the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse returns the envelope: the hex SHA-256 of the body as its ID, the
// body's object as its type.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	return p.p.Parse(r, body)
}

// Handshake answers Meta's verification request, a GET with hub.mode (see
// the package documentation); it returns nil for any other request.
func (p *Provider) Handshake(r *http.Request, _ []byte) *provider.Reply {
	if r.Method != http.MethodGet || r.URL == nil {
		return nil
	}
	q := r.URL.Query()
	if _, ok := q[ParamMode]; !ok {
		return nil
	}
	forbidden := &provider.Reply{Status: http.StatusForbidden}
	mode, ok1 := single(q[ParamMode])
	token, ok2 := single(q[ParamVerifyToken])
	challenge, ok3 := single(q[ParamChallenge])
	if !ok1 || !ok2 || !ok3 || mode != "subscribe" || !p.tokenOK(token) {
		return forbidden
	}
	if !challengeOK(challenge) {
		return &provider.Reply{Status: http.StatusBadRequest}
	}
	return &provider.Reply{ContentType: "text/plain", Body: []byte(challenge)}
}

// single returns the only value of a parameter.
func single(vs []string) (string, bool) {
	if len(vs) != 1 {
		return "", false
	}
	return vs[0], true
}

// tokenOK compares token with every configured verify token, as SHA-256
// digests in constant time, so that neither its length nor which token
// matched shows in the timing.
func (p *Provider) tokenOK(token string) bool {
	got := sha256.Sum256([]byte(token))
	ok := 0
	for i := range p.tokens {
		ok |= subtle.ConstantTimeCompare(got[:], p.tokens[i][:])
	}
	return ok == 1 && token != ""
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

// SignRequest signs r, whose body is body, as Meta does with the app secret:
// it sets X-Hub-Signature-256 (now is unused). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
