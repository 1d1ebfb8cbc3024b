// Package zoom verifies and reads Zoom webhook deliveries (event
// subscriptions of Zoom apps) and answers Zoom's endpoint URL validation.
//
// Zoom signs "v0:" + x-zm-request-timestamp + ":" + body with HMAC-SHA256
// under the app's Secret Token (used as a string) and sends
//
//	x-zm-signature: v0=<hex>
//	x-zm-request-timestamp: 1735689600
//
// The timestamp (Unix seconds) must lie within DefaultTolerance of the
// clock, in both directions, and is checked before the signature. Zoom
// publishes no tolerance: five minutes is this package's choice, as for
// Slack's identical scheme. Zoom's own sample verifies a re-serialised
// body (JSON.stringify of the parsed request); this package verifies the
// raw bytes.
//
// The envelope's Type is the body's event ("meeting.started"), signed. Zoom
// sends no event or delivery ID that is documented as stable across
// retries, so the ID is the hex SHA-256 of the signed body (which carries
// the event's event_ts in milliseconds): a retry of the same bytes is a
// duplicate. Replays are bounded in time by the window and, inside it,
// stopped by the dedupe store on that hash.
//
// # URL validation
//
// When an app's event notification endpoint is saved, and every 72 hours,
// Zoom posts a signed endpoint.url_validation event,
//
//	{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}
//
// and expects, within three seconds, 200 with the JSON
//
//	{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"<hex HMAC-SHA256(secret token, plainToken)>"}
//
// Parse answers it with Envelope.Reply (so only receiver.Receiver, which
// calls Parse after Verify, answers it; it never reaches a handler). The
// HMAC is keyed with the secret token that verified the request (the first
// configured one when several do), so the answer is right during a
// rotation too.
//
// Sources: https://developers.zoom.us/docs/api/webhooks/ (Verify webhook
// events; Validate your webhook endpoint); zoom/webhook-sample index.js.
// Zoom publishes no known-answer vector: the vectors of
// ../testdata/vectors.json were generated from the documented scheme.
//
// Usage:
//
//	p, err := zoom.New(os.Getenv("ZOOM_WEBHOOK_SECRET_TOKEN"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	rcv, err := receiver.New(p, mux)
package zoom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "zoom"

// Header names Zoom sends.
const (
	HeaderSignature = "X-Zm-Signature"
	HeaderTimestamp = "X-Zm-Request-Timestamp"
)

// EventURLValidation is the event of Zoom's endpoint URL validation.
const EventURLValidation = "endpoint.url_validation"

// DefaultTolerance is the accepted distance of the signed timestamp from
// now. Zoom publishes none; five minutes is this package's choice.
const DefaultTolerance = 5 * time.Minute

// scheme declares Zoom's signature; the envelope is read by Parse.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex, Prefix: "v0="},
	Timestamp: &kit.Timestamp{Header: HeaderTimestamp, Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.Lit("v0:"), kit.Time, kit.Lit(":"), kit.Body},
	Envelope: kit.Envelope{
		ID:   kit.Field{BodyHash: true},
		Type: kit.Field{JSON: []string{"event"}, Required: true},
	},
}

// Provider verifies and parses Zoom deliveries and answers URL validations.
// It is safe for concurrent use.
type Provider struct {
	p       *kit.Provider
	secrets func() []string
}

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds secret tokens accepted besides the one given to New, for
// a rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the app's Secret Token. It returns an error
// matching verify.ErrNoSecret when a secret is empty or blank.
func New(secretToken string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(secretToken, opts))
}

// NewFromSource returns a provider whose secret tokens come from src, which
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
	static := append([]string(nil), o.Secrets...)
	secrets := func() []string { return static }
	if o.Source != nil {
		secrets = o.Source.Secrets
	}
	return &Provider{p: p, secrets: secrets}, nil
}

// Name returns "zoom".
func (p *Provider) Name() string { return Name }

// Verify checks x-zm-signature over "v0:" + timestamp + ":" + the raw body,
// after the timestamp's window.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

func malformed(format string, args ...any) error {
	return fmt.Errorf("zoom: "+format+": %w", append(args, provider.ErrMalformedEnvelope)...)
}

var validationPaths = [][]string{{"event"}, {"payload", "plainToken"}}

// Parse reads the type from the body's event, the ID as the hex SHA-256 of
// the body; an endpoint.url_validation event gets its answer as
// Envelope.Reply (see the package documentation).
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	env, err := p.p.Parse(r, body)
	if err != nil || env.Type != EventURLValidation {
		return env, err
	}
	var vals [2][]byte
	if err := jsonscan.GetMany(body, validationPaths, vals[:]); err != nil {
		return provider.Envelope{}, malformed("body: %w", err)
	}
	if vals[1] == nil || jsonscan.IsNull(vals[1]) {
		return provider.Envelope{}, malformed("%s without payload.plainToken", EventURLValidation)
	}
	plain, err := jsonscan.String(vals[1])
	if err != nil {
		return provider.Envelope{}, malformed("payload.plainToken: %w", err)
	}
	if plain == "" {
		return provider.Envelope{}, malformed("%s with an empty payload.plainToken", EventURLValidation)
	}
	secret, ok := p.signer(r, body)
	if !ok {
		return provider.Envelope{}, malformed("%s signed by no configured secret token", EventURLValidation)
	}
	answer, err := json.Marshal(struct {
		PlainToken     string `json:"plainToken"`
		EncryptedToken string `json:"encryptedToken"`
	}{plain, EncryptToken(secret, plain)})
	if err != nil {
		return provider.Envelope{}, malformed("answer: %w", err)
	}
	return provider.Envelope{Type: EventURLValidation, Reply: &provider.Reply{
		Status: http.StatusOK, ContentType: "application/json", Body: answer,
	}}, nil
}

// signer returns the first configured secret token whose signature r
// carries. It runs for URL validations only, after Verify: one MAC per
// secret, comparisons in constant time.
func (p *Provider) signer(r *http.Request, body []byte) (string, bool) {
	got, ok := strings.CutPrefix(r.Header.Get(HeaderSignature), "v0=")
	if !ok {
		return "", false
	}
	want, err := hex.DecodeString(got)
	if err != nil {
		return "", false
	}
	ts := r.Header.Get(HeaderTimestamp)
	for _, secret := range p.secrets() {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("v0:" + ts + ":"))
		m.Write(body)
		if hmac.Equal(m.Sum(nil), want) {
			return secret, true
		}
	}
	return "", false
}

// EncryptToken returns the encryptedToken Zoom expects for plainToken: the
// hex HMAC-SHA256 of plainToken keyed with the secret token.
func EncryptToken(secretToken, plainToken string) string {
	m := hmac.New(sha256.New, []byte(secretToken))
	m.Write([]byte(plainToken))
	return hex.EncodeToString(m.Sum(nil))
}

// SignRequest signs r, whose body is body, as Zoom does with secretToken at
// now: it sets x-zm-request-timestamp and x-zm-signature. It has the shape
// of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secretToken string, now time.Time) error {
	return scheme.Sign(r, body, secretToken, now)
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
