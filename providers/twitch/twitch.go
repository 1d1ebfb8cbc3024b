// Package twitch verifies and reads Twitch EventSub deliveries over the
// webhook transport.
//
// Twitch signs the message ID, the timestamp and the body, concatenated
// without separators,
//
//	Twitch-Eventsub-Message-Id + Twitch-Eventsub-Message-Timestamp + body
//
// with HMAC-SHA256 under the subscription's secret (10 to 100 ASCII
// characters, chosen when the subscription is created, used as a string),
// and sends Twitch-Eventsub-Message-Signature: sha256=<hex>. The timestamp
// is RFC 3339 with up to nanoseconds ("2025-01-01T00:00:00.123456789Z"),
// signed as it is written; it must lie within DefaultTolerance (ten minutes,
// as Twitch requires) of the clock, in both directions, and is checked
// before the signature.
//
// The envelope depends on Twitch-Eventsub-Message-Type, which is not signed
// itself; each type is therefore bound to the signed body's shape (a
// notification has an event, a revocation has none, a verification has a
// challenge), so a changed header turns a message into nothing else:
//
//	message type                   Type                                  ID
//	notification                   the body's subscription.type          Twitch-Eventsub-Message-Id (signed)
//	                               ("channel.follow"), signed; Version
//	                               is subscription.version
//	revocation                     "revocation", Optional: acknowledged  Twitch-Eventsub-Message-Id (signed)
//	                               (2xx) at once unless a handler takes
//	                               "revocation"
//	webhook_callback_verification  answered 200, Content-Type            —
//	                               text/plain, with the body's raw
//	                               challenge, once the request verifies
//
// The type is read from the signed body, not from the unsigned
// Twitch-Eventsub-Subscription-Type header; a header that disagrees with the
// body is refused as malformed (400). Handshake recognises
// webhook_callback_verification from its header and answers it with
// Reply.VerifyFirst, so the challenge is echoed only to a request that
// passes Verify (401 otherwise); Parse gives the same answer. The message ID
// is the same on every retry of a message, so the dedupe store stops a
// replay inside the window, and the window stops older ones.
//
// Sources: https://dev.twitch.tv/docs/eventsub/handling-webhook-events/
// (verifying the event message; responding to a challenge request;
// revoking your subscription). Twitch publishes no known-answer vector: the
// vectors of ../testdata/vectors.json were generated from that page.
//
// Usage:
//
//	p, err := twitch.New(os.Getenv("TWITCH_EVENTSUB_SECRET"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	rcv, err := receiver.New(p, mux)
package twitch

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
const Name = "twitch"

// Header names Twitch sends.
const (
	HeaderSignature           = "Twitch-Eventsub-Message-Signature"
	HeaderTimestamp           = "Twitch-Eventsub-Message-Timestamp"
	HeaderMessageID           = "Twitch-Eventsub-Message-Id"
	HeaderMessageType         = "Twitch-Eventsub-Message-Type"
	HeaderMessageRetry        = "Twitch-Eventsub-Message-Retry"
	HeaderSubscriptionType    = "Twitch-Eventsub-Subscription-Type"
	HeaderSubscriptionVersion = "Twitch-Eventsub-Subscription-Version"
)

// The values of Twitch-Eventsub-Message-Type.
const (
	MessageNotification = "notification"
	MessageVerification = "webhook_callback_verification"
	MessageRevocation   = "revocation"
)

// TypeRevocation is the envelope Type of a revocation message.
const TypeRevocation = "revocation"

// DefaultTolerance is the accepted distance of the signed timestamp from
// now: Twitch's ten minutes.
const DefaultTolerance = 10 * time.Minute

// scheme declares Twitch's signature; the envelope is read by Parse.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex, Prefix: "sha256="},
	Timestamp: &kit.Timestamp{Header: HeaderTimestamp, Format: kit.RFC3339, Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.HeaderPiece(HeaderMessageID), kit.Time, kit.Body},
	Envelope:  kit.Envelope{ID: kit.Field{Header: HeaderMessageID, Required: true}},
}

// Provider verifies and parses Twitch EventSub deliveries and answers their
// challenges. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.Handshaker = (*Provider)(nil)
)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds subscription secrets accepted besides the one given to
// New, for a rotation (or several subscriptions with their own secrets).
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the subscription secret. It returns an error
// matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(secret, opts))
}

// NewFromSource returns a provider whose secrets come from src, which the
// application updates to rotate them without a restart (see
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

// Name returns "twitch".
func (p *Provider) Name() string { return Name }

// Verify checks Twitch-Eventsub-Message-Signature over the message ID, the
// timestamp and the raw body, after the timestamp's window.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

func malformed(format string, args ...any) error {
	return fmt.Errorf("twitch: "+format+": %w", append(args, provider.ErrMalformedEnvelope)...)
}

// envelopePaths are the body's values Parse reads.
var envelopePaths = [][]string{{"subscription", "type"}, {"subscription", "version"}, {"event"}, {"challenge"}}

// Parse reads the envelope as the package documentation describes.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	typ := r.Header.Values(HeaderMessageType)
	if len(typ) != 1 {
		return provider.Envelope{}, malformed("%d values of %s", len(typ), HeaderMessageType)
	}
	var vals [4][]byte
	if err := jsonscan.GetMany(body, envelopePaths, vals[:]); err != nil {
		return provider.Envelope{}, malformed("body: %w", err)
	}
	hasEvent := vals[2] != nil && !jsonscan.IsNull(vals[2])
	switch typ[0] {
	case MessageVerification:
		rep, err := challengeReply(vals[3])
		if err != nil {
			return provider.Envelope{}, err
		}
		return provider.Envelope{Type: MessageVerification, Reply: rep}, nil
	case MessageNotification:
		if !hasEvent {
			return provider.Envelope{}, malformed("a notification without event")
		}
	case MessageRevocation:
		if hasEvent {
			return provider.Envelope{}, malformed("a revocation with an event")
		}
	default:
		return provider.Envelope{}, malformed("unknown %s", HeaderMessageType)
	}
	env, err := p.p.Parse(r, body) // the message ID
	if err != nil {
		return provider.Envelope{}, err
	}
	subType, err := str(vals[0], "subscription.type")
	if err != nil {
		return provider.Envelope{}, err
	}
	if subType == "" {
		return provider.Envelope{}, malformed("body has no subscription.type")
	}
	if h := r.Header.Get(HeaderSubscriptionType); h != "" && h != subType {
		return provider.Envelope{}, malformed("%s disagrees with the body's subscription.type", HeaderSubscriptionType)
	}
	if env.Version, err = str(vals[1], "subscription.version"); err != nil {
		return provider.Envelope{}, err
	}
	env.Type = subType
	if typ[0] == MessageRevocation {
		env.Type, env.Optional = TypeRevocation, true
	}
	return env, nil
}

// str unquotes a string value; absent and null values are "".
func str(raw []byte, name string) (string, error) {
	if raw == nil || jsonscan.IsNull(raw) {
		return "", nil
	}
	s, err := jsonscan.String(raw)
	if err != nil {
		return "", malformed("%s: %w", name, err)
	}
	return s, nil
}

var challengePath = [][]string{{"challenge"}}

// challengeReply returns the answer to a webhook_callback_verification
// message whose challenge value is raw: the challenge, verbatim, as
// text/plain.
func challengeReply(raw []byte) (*provider.Reply, error) {
	challenge, err := str(raw, "challenge")
	if err != nil {
		return nil, err
	}
	if challenge == "" {
		return nil, malformed("%s without challenge", MessageVerification)
	}
	return &provider.Reply{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(challenge)}, nil
}

// Handshake answers a webhook_callback_verification message (a POST whose
// Twitch-Eventsub-Message-Type says so) with its challenge, as text/plain,
// marked VerifyFirst: the answer goes only to a request that passes Verify.
// It returns nil for every other request, and for a verification message
// without a readable challenge (which Parse then refuses).
func (p *Provider) Handshake(r *http.Request, body []byte) *provider.Reply {
	if r.Method != http.MethodPost || r.Header.Get(HeaderMessageType) != MessageVerification {
		return nil
	}
	var vals [1][]byte
	if err := jsonscan.GetMany(body, challengePath, vals[:]); err != nil {
		return nil
	}
	rep, err := challengeReply(vals[0])
	if err != nil {
		return nil
	}
	rep.VerifyFirst = true
	return rep
}

// SignRequest signs r, whose body is body, as Twitch does with secret at
// now: it sets Twitch-Eventsub-Message-Timestamp (RFC 3339, nanoseconds) and
// Twitch-Eventsub-Message-Signature over r's Twitch-Eventsub-Message-Id
// (set it first). It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
