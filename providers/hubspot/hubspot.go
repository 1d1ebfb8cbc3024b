// Package hubspot verifies and reads HubSpot webhook deliveries (the
// Webhooks API of HubSpot apps).
//
// # Signature v3
//
// HubSpot signs, with HMAC-SHA256 under the app's client secret (used as a
// string),
//
//	method + URI + body + X-HubSpot-Request-Timestamp
//
// ("POST" + "https://example.com/webhooks/hubspot" + body + "1735689600000",
// concatenated without separators) and sends the base64 MAC in
// X-HubSpot-Signature-v3. The timestamp is in Unix milliseconds; it must
// lie within DefaultTolerance (five minutes, as HubSpot requires) of the
// clock, in both directions, and is checked before the signature.
//
// The URI is the full URL HubSpot posted to, query included. Set it with
// WithURL (the catalog's Config.URL) whenever the receiver sits behind a
// proxy, a load balancer or a path rewrite; without it the request's own
// URL is used (scheme from TLS, the Host header, the request URI). HubSpot's
// documentation says a few percent-encoded characters of the URI (%3A,
// %2F, %3F, %40, %21, %24, %27, %28, %29, %2A, %2C, %3B) are decoded
// before signing, while its Python SDK signs the URI as given: the URI is
// tried as it is first and, only when it holds one of those sequences and
// that fails, once more decoded, so at most two MACs are computed per
// secret. A base64 signature whose "+" arrived as a space is read with its
// "+" restored.
//
// # Signatures v1 and v2 (legacy, off by default)
//
// HubSpot still sends, beside v3, X-HubSpot-Signature with
// X-HubSpot-Signature-Version: v1 (webhooks: hex SHA-256, a plain hash, of
// client secret + body) or v2 (workflow actions and CRM cards: hex SHA-256
// of client secret + method + URI + body). Neither signs a time, so a
// captured request verifies forever; both are plain hashes of
// secret || message, open to length extension; and because HubSpot sends v1
// together with v3, accepting v1 would let anyone who strips the v3 header
// from a captured delivery replay it without a window. They are therefore
// refused unless WithLegacySignatures is given (the catalog's Params
// "legacy": "true"), and even then checked only when X-HubSpot-Signature-v3
// is absent: a request that carries v3 is judged by v3 alone. Enable them
// only for integrations HubSpot does not sign with v3.
//
// # Envelope
//
// The body is a JSON array of up to 100 events, each with eventId,
// subscriptionId, portalId, subscriptionType ("contact.creation"),
// occurredAt and attemptNumber. An eventId is documented as the ID of the
// event that triggered the notification, not as unique across
// subscriptions or accounts, and a retried batch differs from the first
// attempt in its attemptNumber, so neither an eventId alone nor a hash of
// the body identifies a delivery. The ID is therefore built from the signed
// events: "<portalId>:<subscriptionId>:<eventId>" for a batch of one event,
// and for a larger batch the hex SHA-256 of its events' such triples,
// sorted, so a retry of the same batch is a duplicate whatever its
// attemptNumber. The Type is the batch's subscriptionType when all its
// events share it, else TypeMixed. Both come from the signed body under v3
// (and v1/v2). Replays are bounded in time under v3 by the window and,
// inside it, stopped by the dedupe store on the ID; under v1/v2 only by the
// dedupe store.
//
// Sources:
// https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests ;
// https://developers.hubspot.com/changelog/introducing-version-3-of-webhook-signatures
// ("prior versions of the X-HubSpot-Signature header will continue to be
// included"); https://developers.hubspot.com/docs/api/webhooks (the
// payload); HubSpot/hubspot-api-python hubspot/utils/signature.py and
// tests/spec/utils/test_signature.py (their secret, URI, body and
// signatures are vectors of ../testdata/vectors.json). The Python SDK
// rejects only v3 timestamps in the past; this package rejects future ones
// beyond the window too.
//
// Usage:
//
//	p, err := hubspot.New(os.Getenv("HUBSPOT_CLIENT_SECRET"),
//		hubspot.WithURL("https://example.com/webhooks/hubspot"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	rcv, err := receiver.New(p, mux)
package hubspot

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "hubspot"

// Header names HubSpot sends.
const (
	HeaderSignatureV3      = "X-HubSpot-Signature-v3"
	HeaderTimestamp        = "X-HubSpot-Request-Timestamp"
	HeaderSignature        = "X-HubSpot-Signature"
	HeaderSignatureVersion = "X-HubSpot-Signature-Version"
)

// DefaultTolerance is the accepted distance of the v3 timestamp from now:
// HubSpot's five minutes.
const DefaultTolerance = 5 * time.Minute

// TypeMixed is the Type of a batch whose events have different
// subscriptionTypes.
const TypeMixed = "batch"

// synthURL carries the URI into the signed message: the scheme signs a
// header of a synthetic request that Verify builds, never one of the
// request's own headers.
const synthURL = "Hookwise-Hubspot-Uri"

// scheme declares signature v3 over a synthetic request whose synthURL
// header holds the URI.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignatureV3, Encoding: verify.Base64},
	Timestamp: &kit.Timestamp{Header: HeaderTimestamp, Format: kit.UnixMilli, Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.Method, kit.HeaderPiece(synthURL), kit.Body, kit.Time},
}

// Provider verifies and parses HubSpot deliveries. It is safe for
// concurrent use.
type Provider struct {
	p       *kit.Provider
	url     string
	legacy  bool
	secrets func() []string
}

var _ provider.Provider = (*Provider)(nil)

type options struct {
	kit.Options
	legacy bool
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds client secrets accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { kit.WithSecrets(more...)(&o.Options) }
}

// WithClock sets the clock the v3 timestamp is checked against (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) { kit.WithClock(now)(&o.Options) }
}

// WithTolerance sets the accepted distance of the v3 timestamp from now, in
// both directions (default DefaultTolerance; zero or less keeps the
// default).
func WithTolerance(d time.Duration) Option {
	return func(o *options) { kit.WithTolerance(d)(&o.Options) }
}

// WithURL sets the URL HubSpot posts to, as configured in the app
// ("https://example.com/webhooks/hubspot"); "" means the URL the request
// arrived at.
func WithURL(url string) Option { return func(o *options) { o.URL = url } }

// WithLegacySignatures accepts X-HubSpot-Signature v1 and v2 when a request
// carries no X-HubSpot-Signature-v3. They sign no time: see the package
// documentation before enabling them.
func WithLegacySignatures() Option { return func(o *options) { o.legacy = true } }

// New returns a provider for the app's client secret. It returns an error
// matching verify.ErrNoSecret when a secret is empty or blank.
func New(clientSecret string, opts ...Option) (*Provider, error) {
	return build(options{Options: kit.Options{Secrets: []string{clientSecret}}}, opts)
}

// NewFromSource returns a provider whose client secrets come from src, which
// the application updates to rotate them without a restart (see
// provider.Secrets).
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(options{Options: kit.Options{Source: src}}, opts)
}

func build(o options, opts []Option) (*Provider, error) {
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	url := o.URL
	o.URL = "" // the URI is a header of the synthetic request
	p, err := scheme.New(o.Options)
	if err != nil {
		return nil, err
	}
	static := slices.Clone(o.Secrets)
	secrets := func() []string { return static }
	if o.Source != nil {
		secrets = o.Source.Secrets
	}
	return &Provider{p: p, url: url, legacy: o.legacy, secrets: secrets}, nil
}

// Name returns "hubspot".
func (p *Provider) Name() string { return Name }

// Verify checks X-HubSpot-Signature-v3 (window first, then the MAC over
// method + URI + body + timestamp), or, with WithLegacySignatures and no v3
// header, X-HubSpot-Signature v1 or v2. Errors match verify.ErrVerification.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	uri := p.uri(r)
	v3 := r.Header.Get(HeaderSignatureV3)
	if v3 == "" && p.legacy && r.Header.Get(HeaderSignature) != "" {
		if err := p.verifyLegacy(r, body, uri); err != nil {
			return fmt.Errorf("%s: %w", Name, err)
		}
		return nil
	}
	synth := &http.Request{Method: r.Method, Header: http.Header{}}
	if v3 != "" {
		synth.Header.Set(HeaderSignatureV3, strings.ReplaceAll(v3, " ", "+"))
	}
	if ts := r.Header.Get(HeaderTimestamp); ts != "" {
		synth.Header.Set(HeaderTimestamp, ts)
	}
	synth.Header.Set(synthURL, uri)
	err := p.p.Verify(synth, body)
	if errors.Is(err, verify.ErrSignatureMismatch) {
		if decoded := decodeURI(uri); decoded != uri {
			synth.Header.Set(synthURL, decoded)
			err = p.p.Verify(synth, body)
		}
	}
	return err
}

// uri returns the URL HubSpot signed: WithURL's, else the one r arrived at.
func (p *Provider) uri(r *http.Request) string {
	if p.url != "" {
		return p.url
	}
	if r.URL == nil {
		return ""
	}
	if r.URL.IsAbs() {
		return r.URL.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// uriDecodings are the percent-encodings HubSpot's documentation says are
// decoded in the signed URI.
var uriDecodings = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

func decodeURI(uri string) string { return uriDecodings.Replace(uri) }

// verifyLegacy checks X-HubSpot-Signature, version v1 or v2: hex SHA-256 of
// secret + body, or of secret + method + URI + body, for each secret (one
// hash per secret and URI form), compared in constant time.
func (p *Provider) verifyLegacy(r *http.Request, body []byte, uri string) error {
	got := r.Header.Get(HeaderSignature)
	if len(got) != 2*sha256.Size {
		return verify.ErrMalformedSignature
	}
	want, err := hex.DecodeString(got)
	if err != nil {
		return verify.ErrMalformedSignature
	}
	version := r.Header.Get(HeaderSignatureVersion)
	uris := []string{""}
	switch version {
	case "v1":
	case "v2":
		uris = []string{uri}
		if d := decodeURI(uri); d != uri {
			uris = append(uris, d)
		}
	default:
		return verify.ErrMalformedSignature
	}
	secrets := p.secrets()
	if provider.CheckSecrets(secrets) != nil {
		return fmt.Errorf("secret source: %w", verify.ErrVerification)
	}
	ok := 0
	for _, secret := range secrets {
		for _, u := range uris {
			h := sha256.New()
			h.Write([]byte(secret))
			if version == "v2" {
				h.Write([]byte(r.Method))
				h.Write([]byte(u))
			}
			h.Write(body)
			ok |= subtle.ConstantTimeCompare(h.Sum(nil), want)
		}
	}
	if ok != 1 {
		return verify.ErrSignatureMismatch
	}
	return nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("hubspot: "+format+": %w", append(args, provider.ErrMalformedEnvelope)...)
}

// event is what Parse reads of each event of a batch.
type event struct {
	EventID          json.Number `json:"eventId"`
	SubscriptionID   json.Number `json:"subscriptionId"`
	PortalID         json.Number `json:"portalId"`
	SubscriptionType string      `json:"subscriptionType"`
}

// Parse reads the envelope from the batch of events (see the package
// documentation). It decodes with encoding/json, as a handler decoding the
// batch would.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	var events []event
	if err := json.Unmarshal(body, &events); err != nil {
		return provider.Envelope{}, malformed("body is not an array of events")
	}
	if len(events) == 0 {
		return provider.Envelope{}, malformed("no events")
	}
	keys := make([]string, len(events))
	typ := events[0].SubscriptionType
	for i, e := range events {
		if e.EventID == "" || e.SubscriptionID == "" || e.PortalID == "" {
			return provider.Envelope{}, malformed("event %d without eventId, subscriptionId or portalId", i)
		}
		if e.SubscriptionType == "" {
			return provider.Envelope{}, malformed("event %d without subscriptionType", i)
		}
		if e.SubscriptionType != typ {
			typ = TypeMixed
		}
		keys[i] = string(e.PortalID) + ":" + string(e.SubscriptionID) + ":" + string(e.EventID)
	}
	if len(keys) == 1 {
		return provider.Envelope{ID: keys[0], Type: typ}, nil
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, ",")))
	return provider.Envelope{ID: hex.EncodeToString(sum[:]), Type: typ}, nil
}

// SignRequest signs r, whose body is body, as HubSpot does with v3 and
// clientSecret at now: it sets X-HubSpot-Request-Timestamp (milliseconds)
// and X-HubSpot-Signature-v3 over r's method and URL. It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, clientSecret string, now time.Time) error {
	synth := &http.Request{Method: r.Method, Header: http.Header{}}
	synth.Header.Set(synthURL, (&Provider{}).uri(r))
	if err := scheme.Sign(synth, body, clientSecret, now); err != nil {
		return err
	}
	r.Header.Set(HeaderTimestamp, synth.Header.Get(HeaderTimestamp))
	r.Header.Set(HeaderSignatureV3, synth.Header.Get(HeaderSignatureV3))
	return nil
}

// SignLegacy returns the X-HubSpot-Signature value of version "v1" or "v2"
// for r, whose body is body, under clientSecret, for tests of
// WithLegacySignatures: set it with X-HubSpot-Signature-Version.
func SignLegacy(r *http.Request, body []byte, clientSecret, version string) (string, error) {
	h := sha256.New()
	h.Write([]byte(clientSecret))
	switch version {
	case "v1":
	case "v2":
		h.Write([]byte(r.Method))
		h.Write([]byte((&Provider{}).uri(r)))
	default:
		return "", fmt.Errorf("hubspot: unknown signature version")
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
