// Package sendgrid verifies and reads Twilio SendGrid's signed Event
// Webhook deliveries.
//
// SendGrid signs X-Twilio-Email-Event-Webhook-Timestamp + body
// (concatenated, no separator) with ECDSA on the P-256 curve over SHA-256,
// and sends the signature as the standard base64 of its ASN.1 DER encoding
// (SEQUENCE{r, s}):
//
//	X-Twilio-Email-Event-Webhook-Signature: MEUCIQ…
//	X-Twilio-Email-Event-Webhook-Timestamp: 1588788367
//
// The provider holds the verification key exactly as SendGrid shows it
// when signing is enabled (Mail Settings, Signed Event Webhook Requests, or
// GET /v3/user/webhooks/event/settings/signed): the base64 of a DER
// SubjectPublicKeyInfo ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…"); a PEM
// "PUBLIC KEY" block is accepted too. Several keys may be given (a key
// pair regenerated while deliveries are in flight). Each key costs one
// ECDSA verification per request; the signature header is bounded (96
// base64 characters, 72 bytes of DER) before any verification, and a
// signature that is not strict DER fails. SignRequest takes the private
// key (base64 PKCS #8 or SEC 1 DER), for tests; ECDSA signatures are
// randomised, so a signature can be verified but not reproduced.
//
// SendGrid publishes no window for the timestamp, so by default it is
// signed but not checked against the clock: replays are not bounded in
// time, only deduplicated while the dedupe store remembers them.
// WithTolerance(d) with d > 0 checks it (±d) as hardening.
//
// A delivery is a JSON array of events, each with its own sg_event_id
// (unique per event) and event ("processed", "delivered", "open", "bounce",
// …); SendGrid batches several events, of several types, into one POST.
// The envelope therefore describes the batch: its ID is the hex SHA-256 of
// the signed body (SendGrid sends no delivery ID; a redelivery of the same
// batch is a duplicate), and its Type is always "events" (TypeEvents): a
// handler registered for it decodes the array and routes each element by
// its event, deduplicating per element on sg_event_id when it needs to (a
// retried batch may be re-batched with other events). A body that is not
// a non-empty JSON array is refused (400).
//
// This follows sendgrid/sendgrid-go helpers/eventwebhook/eventwebhook.go
// (ConvertPublicKeyBase64ToECDSA, VerifySignature: SHA-256 over timestamp
// then payload, base64 DER signature) and is tested with its test vector
// (helpers/eventwebhook/eventwebhook_test.go). It is stricter than the SDK
// in two ways: trailing bytes after the DER signature fail (the SDK's
// asn1.Unmarshal ignores them), and a key that is not a P-256 ECDSA key is
// refused by New (the SDK's type assertion panics).
//
// Sources: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features ;
// https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
// (the event array, sg_event_id).
//
// Usage:
//
//	p, err := sendgrid.New(os.Getenv("SENDGRID_WEBHOOK_VERIFICATION_KEY"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux) // mux handles sendgrid.TypeEvents
package sendgrid

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "sendgrid"

// Header names SendGrid sends.
const (
	HeaderSignature = "X-Twilio-Email-Event-Webhook-Signature"
	HeaderTimestamp = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// TypeEvents is the Type of every delivery: a batch of events.
const TypeEvents = "events"

// scheme signs the timestamp; it is checked only when WithTolerance sets a
// window (the sender states none).
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.ECDSAP256SHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Base64},
	Timestamp: &kit.Timestamp{Header: HeaderTimestamp, Unchecked: true},
	Message:   []kit.Piece{kit.Time, kit.Body},
}

// Provider verifies and parses SendGrid Event Webhook deliveries. It is
// safe for concurrent use.
type Provider struct{ p *kit.Provider }

var _ provider.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*kit.Options)

// WithPublicKeys adds verification keys (base64 DER or PEM) accepted
// besides the one given to New.
func WithPublicKeys(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against when
// WithTolerance enables the check (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance checks the signed timestamp: it must lie within d of the
// clock, in both directions. Zero or less (the default) leaves it
// unchecked, as SendGrid states no window.
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the verification key (base64 DER
// SubjectPublicKeyInfo, as SendGrid shows it, or PEM). It returns an error
// matching verify.ErrNoSecret when a key is empty, blank or not an ECDSA
// P-256 public key.
func New(publicKey string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(publicKey, opts))
}

// NewFromSource returns a provider whose verification keys come from src,
// which the application updates to change them without a restart (see
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

// Name returns "sendgrid".
func (p *Provider) Name() string { return Name }

// Verify checks X-Twilio-Email-Event-Webhook-Signature over
// X-Twilio-Email-Event-Webhook-Timestamp + body.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Parse returns the envelope of a batch: ID the hex SHA-256 of the body,
// Type TypeEvents. The body must be a non-empty JSON array.
func (p *Provider) Parse(_ *http.Request, body []byte) (provider.Envelope, error) {
	raw, _, err := jsonscan.Get(body)
	if err != nil {
		return provider.Envelope{}, fmt.Errorf("sendgrid: body: %w: %w", err, provider.ErrMalformedEnvelope)
	}
	if len(raw) < 2 || raw[0] != '[' || isEmptyArray(raw) {
		return provider.Envelope{}, fmt.Errorf("sendgrid: body is not a non-empty array of events: %w", provider.ErrMalformedEnvelope)
	}
	sum := sha256.Sum256(body)
	return provider.Envelope{ID: hex.EncodeToString(sum[:]), Type: TypeEvents}, nil
}

// isEmptyArray reports whether raw, a valid JSON array, has no element.
func isEmptyArray(raw []byte) bool {
	for _, c := range raw[1 : len(raw)-1] {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// SignRequest signs r, whose body is body, as SendGrid does with the
// private key (base64 PKCS #8 or SEC 1 DER) at now: it sets
// X-Twilio-Email-Event-Webhook-Timestamp and
// X-Twilio-Email-Event-Webhook-Signature. It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, privateKey string, now time.Time) error {
	return scheme.Sign(r, body, privateKey, now)
}

// PublicKey returns the verification key (base64 DER SubjectPublicKeyInfo,
// as SendGrid shows it) of a private key, for tests.
func PublicKey(privateKey string) (string, error) {
	pub, err := scheme.ECDSAPublicKey(privateKey)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("sendgrid: %w", err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
