// Package gitlab verifies and reads GitLab webhook deliveries: the secret
// token every GitLab version sends (New), or the HMAC signature of GitLab's
// newer signing token (NewSigned).
//
// # Secret token (New)
//
// GitLab sends the webhook's secret token verbatim in
//
//	X-Gitlab-Token: <token>
//
// It is compared with each configured token, as SHA-256 digests in constant
// time. This authenticates the sender, not the body: whoever sees one
// delivery (a proxy, a log) can forge any other, and a captured delivery
// stays valid for ever; replays are stopped only by the dedupe store, for
// as long as it remembers the event ID. Prefer the signing token where the
// GitLab instance offers it.
//
// # Signing token (NewSigned)
//
// A webhook with a signing token ("whsec_" + the base64 of 32 bytes) is
// signed per the Standard Webhooks specification: HMAC-SHA256, keyed with
// the decoded token, of webhook-id + "." + webhook-timestamp + "." + body,
// sent as "v1,<base64>" (a space-separated list during a rotation) in
//
//	webhook-signature: v1,<base64>
//	webhook-id: <the Idempotency-Key>
//	webhook-timestamp: <Unix seconds>
//
// The body and the ID are authenticated, and the timestamp must lie within
// DefaultTolerance (five minutes) of the clock in both directions, so a
// replay is refused once the window has passed. GitLab ships this behind
// the webhook_signing_token feature flag; when both a secret
// token and a signing token are configured, NewSigned checks the signature
// and ignores X-Gitlab-Token.
//
// # Envelope
//
// The Type is the body's object_kind ("push", "tag_push", "merge_request",
// "pipeline"), or its event_name for the system and group events that have
// no object_kind ("project_create", "user_add_to_group"); one of them is
// required. It is signed only with a signing token. X-Gitlab-Event ("Push
// Hook") is not used: it holds spaces, which an event type may not. With a
// secret token the ID is the Idempotency-Key header (GitLab 17.4+), a UUID
// that stays the same across retries of an event, unsigned; GitLab before
// 17.4 sends none, and the ID is then the hex SHA-256 of the body, so a
// resent delivery is still a duplicate. X-Gitlab-Event-UUID is not used: it
// is GitLab's recursion detection, shared by a webhook and the webhooks it
// triggers. With a signing token the ID is webhook-id, which GitLab sets to
// the Idempotency-Key and signs. No handshake.
//
// Sources: https://docs.gitlab.com/user/project/integrations/webhooks/
// (Secret token, Delivery headers, Idempotency-Key);
// gitlab-org/gitlab merge requests 230944 (the signing token: headers,
// signed content, v1 format) and 231325 (whsec_ format, the feature flag),
// issue 388692 (Idempotency-Key); https://www.standardwebhooks.com/ .
//
// Usage:
//
//	p, err := gitlab.New(os.Getenv("GITLAB_WEBHOOK_TOKEN"))
//	// or, with a signing token:
//	p, err := gitlab.NewSigned(os.Getenv("GITLAB_SIGNING_TOKEN"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, handler)
package gitlab

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "gitlab"

// Headers GitLab sends.
const (
	// HeaderToken carries the secret token.
	HeaderToken = "X-Gitlab-Token"
	// HeaderEvent names the event ("Push Hook"); not read.
	HeaderEvent = "X-Gitlab-Event"
	// HeaderIdempotencyKey identifies the event across retries (17.4+).
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderSignature carries the signing token's signatures.
	HeaderSignature = "webhook-signature"
	// HeaderWebhookID is the signed ID (the Idempotency-Key).
	HeaderWebhookID = "webhook-id"
	// HeaderTimestamp is the signed timestamp, in Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
)

// DefaultTolerance is the accepted distance of a signing-token delivery's
// timestamp from now.
const DefaultTolerance = 5 * time.Minute

var tokenScheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.Token,
	Signature: kit.Signature{Header: HeaderToken},
	Envelope:  kit.Envelope{ID: kit.Field{Header: HeaderIdempotencyKey}},
}

var signedScheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Base64, Prefix: "v1,", Sep: " "},
	Timestamp: &kit.Timestamp{Header: HeaderTimestamp, Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.HeaderPiece(HeaderWebhookID), kit.Lit("."), kit.Time, kit.Lit("."), kit.Body},
	Key:       standardwebhooks.DecodeSecret,
	Envelope:  kit.Envelope{ID: kit.Field{Header: HeaderWebhookID, Required: true}},
}

// Provider verifies and parses GitLab deliveries. It is safe for concurrent
// use.
type Provider struct {
	p      *kit.Provider
	signed bool
}

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds tokens (secret tokens for New, signing tokens for
// NewSigned) accepted besides the one given to the constructor, for a
// rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock a signing-token delivery's timestamp is checked
// against (default time.Now). New's provider has no timestamp.
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of a signing-token delivery's
// timestamp from now, in both directions (default DefaultTolerance; zero
// or less keeps the default). New's provider has no timestamp.
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider that checks the webhook's secret token. It returns
// an error matching verify.ErrNoSecret when a token is empty or blank.
func New(token string, opts ...Option) (*Provider, error) {
	return build(tokenScheme, kit.Apply(token, opts))
}

// NewFromSource returns a provider whose secret tokens come from src, which
// the application updates to rotate them without a restart (see
// provider.Secrets).
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(tokenScheme, kit.ApplySource(src, opts))
}

// NewSigned returns a provider that checks the signature of the webhook's
// signing token ("whsec_<base64>"). It returns an error matching
// verify.ErrNoSecret when a token is empty, blank or not base64.
func NewSigned(signingToken string, opts ...Option) (*Provider, error) {
	return build(signedScheme, kit.Apply(signingToken, opts))
}

// NewSignedFromSource is NewSigned with signing tokens that come from src.
func NewSignedFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(signedScheme, kit.ApplySource(src, opts))
}

func build(s *kit.Scheme, o kit.Options) (*Provider, error) {
	p, err := s.New(o)
	if err != nil {
		return nil, err
	}
	return &Provider{p: p, signed: s == signedScheme}, nil
}

// Name returns "gitlab".
func (p *Provider) Name() string { return Name }

// Verify checks X-Gitlab-Token (New) or, for NewSigned, the timestamp's
// window and then webhook-signature, with one MAC per signing token
// whatever the number of signatures in the list.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse reads the type from the body's object_kind (or event_name) and the
// ID from webhook-id (NewSigned) or Idempotency-Key (New; the body's hex
// SHA-256 when the header is absent).
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	env, err := p.p.Parse(r, body)
	if err != nil {
		return env, err
	}
	if env.Type, err = eventType(body); err != nil {
		return provider.Envelope{}, fmt.Errorf("%s: type: %w: %w", Name, err, provider.ErrMalformedEnvelope)
	}
	if env.ID == "" && !p.signed {
		sum := sha256.Sum256(body)
		env.ID = hex.EncodeToString(sum[:])
	}
	return env, nil
}

var typePaths = [][]string{{"object_kind"}, {"event_name"}}

// eventType returns the body's object_kind, or its event_name when it has
// none. Its errors name the keys, never a value.
func eventType(body []byte) (string, error) {
	var vals [2][]byte
	if err := jsonscan.GetMany(body, typePaths, vals[:]); err != nil {
		return "", fmt.Errorf("body: %w", err)
	}
	for i, raw := range vals {
		if raw == nil || jsonscan.IsNull(raw) {
			continue
		}
		v, err := jsonscan.String(raw)
		if err != nil {
			return "", fmt.Errorf("body %s: %w", typePaths[i][0], err)
		}
		if v != "" {
			return v, nil
		}
	}
	return "", errors.New("no body object_kind or event_name")
}

// SignRequest sets X-Gitlab-Token to token, as GitLab does (body and now
// are unused). It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, token string, now time.Time) error {
	return tokenScheme.Sign(r, body, token, now)
}

// SignRequestSigned signs r, whose body is body and whose webhook-id header
// is set, as GitLab does with a signing token at now: it sets
// webhook-timestamp and webhook-signature ("v1,<base64>"). It has the shape
// of providertest.Harness.Sign.
func SignRequestSigned(r *http.Request, body []byte, signingToken string, now time.Time) error {
	return signedScheme.Sign(r, body, signingToken, now)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
