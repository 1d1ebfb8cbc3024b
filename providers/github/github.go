// Package github verifies and reads GitHub webhook deliveries.
//
// GitHub signs the raw body with HMAC-SHA256 under the webhook secret and
// sends it as X-Hub-Signature-256: sha256=<hex>. The legacy SHA-1 signature
// (X-Hub-Signature: sha1=<hex>) is accepted only with WithSHA1, and only when
// the SHA-256 header is absent; by default a delivery carrying only the SHA-1
// header fails with verify.ErrMissingSignature.
//
// What is authenticated: the body, and only the body. X-GitHub-Delivery and
// X-GitHub-Event are not signed, and GitHub sends no timestamp, so a captured
// delivery verifies forever, under any delivery ID and any event name. Parse
// therefore takes nothing that matters from those headers on trust:
//
//   - ID, the dedupe key, is "sha256:" and the hex SHA-256 of the signed raw
//     body (71 bytes; see EventID). A redelivery re-sends a delivery GitHub
//     recorded (the "Redeliver" button and the REST endpoint ".../deliveries/
//     {delivery_id}/attempts" act on a recorded delivery, whose request
//     payload the deliveries API returns), so it carries the same body and
//     is a duplicate. GitHub documents that "if you request a redelivery, the
//     X-GitHub-Delivery header will be the same as in the original delivery"
//     (docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks,
//     "Use the X-GitHub-Delivery header"); it does not state in so many words
//     that the body is byte-identical. A replay under a fresh
//     X-GitHub-Delivery is a duplicate too, for as long as the dedupe store
//     remembers the ID (72 hours by default). Two events whose bodies are
//     byte for byte the same are one event to the receiver: GitHub's payloads
//     carry the IDs and timestamps of what they describe, so this does not
//     happen in practice. WithDeliveryIDDedupe keys on X-GitHub-Delivery
//     instead, as GitHub's documentation suggests, at the cost of accepting
//     replays under new delivery IDs.
//   - X-GitHub-Delivery must be a GUID as GitHub sends it (36 characters:
//     hex digits and dashes, 8-4-4-4-12); any other value is a malformed
//     envelope (400). It stays available to handlers in Event.Header.
//   - Type is the X-GitHub-Event header, followed by "." and the payload's
//     top-level action when it has one: "push", "issues.opened". The action
//     is signed, the event name is not: by default the payload's top-level
//     keys must fit the event name (see WithEventCheck), so that an
//     issues.deleted payload is not routed as repository.deleted.
//   - The ping event GitHub sends when a hook is created is Optional: it is
//     acknowledged without a handler unless one is registered for "ping".
//
// Replays are not bounded in time: a captured delivery older than the dedupe
// store's retention is accepted again (promise kept by Stripe, Slack and
// Standard Webhooks through their signed timestamps, not by GitHub's scheme).
//
// Deliveries may be application/json or, when the hook is configured so,
// application/x-www-form-urlencoded with the JSON in the payload field. The
// signature always covers the raw body; Parse and Payload read the JSON from
// the payload field of form deliveries.
package github

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/form"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "github"

// Header names GitHub sends.
const (
	HeaderSignature256 = "X-Hub-Signature-256"
	HeaderSignature1   = "X-Hub-Signature"
	HeaderEvent        = "X-GitHub-Event"
	HeaderDelivery     = "X-GitHub-Delivery"
)

// The schemes GitHub signs with: the body alone, in hex, prefixed.
var (
	scheme256 = &kit.Scheme{
		Name:      Name,
		Algorithm: kit.HMACSHA256,
		Signature: kit.Signature{Header: HeaderSignature256, Encoding: verify.Hex, Prefix: "sha256="},
	}
	scheme1 = &kit.Scheme{
		Name:      Name,
		Algorithm: kit.HMACSHA1,
		Signature: kit.Signature{Header: HeaderSignature1, Encoding: verify.Hex, Prefix: "sha1="},
	}
)

// Provider verifies and parses GitHub deliveries. It is safe for concurrent use.
type Provider struct {
	sha256 *kit.Provider
	sha1   *kit.Provider // nil unless WithSHA1

	deliveryID bool // WithDeliveryIDDedupe: ID from X-GitHub-Delivery
	eventCheck bool // WithEventCheck (default on)
}

var (
	_ provider.Provider        = (*Provider)(nil)
	_ provider.PayloadProvider = (*Provider)(nil)
)

type options struct {
	kit.Options
	sha1         bool
	deliveryID   bool
	noEventCheck bool
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds secrets accepted besides the one given to New, for a
// secret rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { o.Secrets = append(o.Secrets, more...) }
}

// WithSHA1 opts in to the legacy X-Hub-Signature (HMAC-SHA1) header, checked
// only when X-Hub-Signature-256 is absent. Use it only for senders that do not
// send the SHA-256 signature (old GitHub Enterprise Server versions).
func WithSHA1() Option { return func(o *options) { o.sha1 = true } }

// WithDeliveryIDDedupe makes the X-GitHub-Delivery header the event ID (the
// dedupe key) instead of the hash of the body. GitHub keeps the header on a
// redelivery, so redeliveries are still duplicates; but the header is not
// signed: whoever captured one delivery can have it handled again and again
// by sending it under fresh delivery IDs (GitHub has no timestamp to bound
// it). Use it only when the deliveries reach you over a channel no one else
// can replay into, or when distinct events may share a body byte for byte.
func WithDeliveryIDDedupe() Option { return func(o *options) { o.deliveryID = true } }

// WithEventCheck turns the check of the payload against X-GitHub-Event on
// (the default) or off. With it, Parse refuses (400, matching
// provider.ErrMalformedEnvelope) a payload of a checked event (see
// CheckedEvents) that lacks a top-level key every payload of that event
// carries, or carries a key naming what another kind of event is about that
// no payload of that event carries: an issues payload labelled "repository"
// has "issue", which no repository payload has. It reads key names only, in
// the pass that reads the action, and allocates nothing. It cannot tell
// apart events whose payloads have the same keys (repository and public),
// does not check events missing from its table, and does not check actions.
// Turn it off only if GitHub starts sending a payload it refuses, and say so
// in an issue.
func WithEventCheck(on bool) Option { return func(o *options) { o.noEventCheck = !on } }

// New returns a provider for the webhook secret. It returns an error matching
// verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(options{Options: kit.Options{Secrets: []string{secret}}}, opts)
}

// NewFromSource returns a provider whose webhook secrets come from src,
// which the application updates to rotate them without a restart (see
// provider.Secrets). It returns an error matching verify.ErrNoSecret when
// src holds no secret or an empty or blank one; WithSecrets cannot be
// combined with it.
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(options{Options: kit.Options{Source: src}}, opts)
}

func build(o options, opts []Option) (*Provider, error) {
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	p := &Provider{deliveryID: o.deliveryID, eventCheck: !o.noEventCheck}
	var err error
	if p.sha256, err = scheme256.New(o.Options); err != nil {
		return nil, err
	}
	if o.sha1 {
		if p.sha1, err = scheme1.New(o.Options); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Name returns "github".
func (p *Provider) Name() string { return Name }

// Verify checks the delivery's signature over the raw body: the
// X-Hub-Signature-256 header, or with WithSHA1 the X-Hub-Signature header
// when the former is absent.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	if p.sha1 == nil || headerValue(r.Header, canonicalSignature256) != "" {
		return p.sha256.Verify(r, body)
	}
	return p.sha1.Verify(r, body)
}

// Parse reads the envelope: ID from the hash of the body (or the
// X-GitHub-Delivery header with WithDeliveryIDDedupe), Type from
// X-GitHub-Event plus "." + the payload's action when present, after
// checking that the delivery ID is a GUID and, unless WithEventCheck(false),
// that the payload fits the event. Every refusal matches
// provider.ErrMalformedEnvelope.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	event := headerValue(r.Header, canonicalEvent)
	if event == "" {
		return provider.Envelope{}, fmt.Errorf("github: missing %s header: %w", HeaderEvent, provider.ErrMalformedEnvelope)
	}
	delivery := headerValue(r.Header, canonicalDelivery)
	if delivery == "" {
		return provider.Envelope{}, fmt.Errorf("github: missing %s header: %w", HeaderDelivery, provider.ErrMalformedEnvelope)
	}
	if !IsDeliveryID(delivery) {
		return provider.Envelope{}, fmt.Errorf("github: %s header is not a GUID: %w", HeaderDelivery, provider.ErrMalformedEnvelope)
	}
	doc, err := payload(r.Header, body)
	if err != nil {
		return provider.Envelope{}, err
	}
	paths := actionPaths
	var rule *eventRule
	if p.eventCheck {
		if rule = eventRules[event]; rule != nil {
			paths = rule.paths
		}
	}
	var vals [maxRulePaths][]byte
	if err := jsonscan.GetMany(doc, paths, vals[:len(paths)]); err != nil {
		return provider.Envelope{}, fmt.Errorf("github: payload: %w: %w", err, provider.ErrMalformedEnvelope)
	}
	if rule != nil {
		if err := rule.check(event, vals[:len(paths)]); err != nil {
			return provider.Envelope{}, err
		}
	}
	env := provider.Envelope{ID: delivery, Type: event, Optional: event == "ping"}
	if !p.deliveryID {
		env.ID = EventID(body)
	}
	if raw := vals[0]; raw != nil && !jsonscan.IsNull(raw) {
		if plainString(raw) {
			// The common case, in one allocation: "issues" + "." + opened.
			if len(raw) > 2 {
				env.Type = event + "." + string(raw[1:len(raw)-1])
			}
			return env, nil
		}
		action, err := jsonscan.String(raw)
		if err != nil {
			return provider.Envelope{}, fmt.Errorf("github: action: %w: %w", err, provider.ErrMalformedEnvelope)
		}
		if action != "" {
			env.Type = event + "." + action
		}
	}
	return env, nil
}

// plainString reports whether raw is a JSON string of printable ASCII
// without escapes, whose content is its value as it stands.
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c > 0x7e || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

// The canonical forms of the header names, looked up without the
// allocation Header.Get makes to canonicalize "X-GitHub-…".
var (
	canonicalEvent        = http.CanonicalHeaderKey(HeaderEvent)
	canonicalDelivery     = http.CanonicalHeaderKey(HeaderDelivery)
	canonicalSignature256 = http.CanonicalHeaderKey(HeaderSignature256)
)

// headerValue is h.Get(key) for a canonical key.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// EventID returns the event ID Parse gives a delivery of body by default:
// "sha256:" followed by the lower-case hex SHA-256 of the raw body as
// signed (the form-encoded body itself for form deliveries).
func EventID(body []byte) string {
	sum := sha256.Sum256(body)
	var b [len(idPrefix) + 2*sha256.Size]byte
	copy(b[:], idPrefix)
	hex.Encode(b[len(idPrefix):], sum[:])
	return string(b[:])
}

const idPrefix = "sha256:"

// IsDeliveryID reports whether s has the form of the GUID GitHub sends in
// X-GitHub-Delivery: 36 characters, hex digits in groups of 8, 4, 4, 4 and
// 12 separated by dashes ("72d3162e-cc78-11e3-81ab-4c9367dc0958"). Either
// case of hex digit is accepted.
func IsDeliveryID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// NewDeliveryID returns a random GUID of the form GitHub sends in
// X-GitHub-Delivery (a version 4 UUID), for tests and senders of test
// deliveries.
func NewDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Payload returns the JSON document of the delivery: the body itself, or the
// payload field of a form-encoded delivery.
func (p *Provider) Payload(header http.Header, body []byte) (json.RawMessage, error) {
	doc, err := payload(header, body)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(doc), nil
}

func payload(h http.Header, body []byte) ([]byte, error) {
	if !form.IsForm(h) {
		return body, nil
	}
	vals, err := form.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("github: form body: %w", provider.ErrMalformedEnvelope)
	}
	if len(vals["payload"]) != 1 {
		return nil, fmt.Errorf("github: form body needs exactly one payload field: %w", provider.ErrMalformedEnvelope)
	}
	return []byte(vals.Get("payload")), nil
}

// SignRequest signs r, whose body is body, as GitHub does with secret: it
// sets X-Hub-Signature-256 and the legacy X-Hub-Signature. GitHub signs no
// timestamp, so now is unused. It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	if err := scheme256.Sign(r, body, secret, now); err != nil {
		return err
	}
	return scheme1.Sign(r, body, secret, now)
}

// Sign returns the X-Hub-Signature-256 value of body under secret:
// "sha256=<hex>".
func Sign(secret string, body []byte) string { return signWith(scheme256, secret, body) }

// SignSHA1 returns the legacy X-Hub-Signature value of body under secret:
// "sha1=<hex>".
func SignSHA1(secret string, body []byte) string { return signWith(scheme1, secret, body) }

func signWith(s *kit.Scheme, secret string, body []byte) string {
	r := &http.Request{Method: http.MethodPost, Header: http.Header{}}
	if err := s.Sign(r, body, secret, time.Time{}); err != nil {
		panic("github: Sign: " + err.Error()) // the declarations are valid, and any secret signs
	}
	return r.Header.Get(s.Signature.Header)
}

// NewRequest returns a signed JSON delivery of event to url as GitHub sends
// it, for tests: a POST with X-Hub-Signature-256, X-Hub-Signature,
// X-GitHub-Event, X-GitHub-Delivery, Content-Type application/json and a
// GitHub-Hookshot User-Agent. It panics when url cannot be parsed, like
// httptest.NewRequest.
func NewRequest(url, secret, event, deliveryID string, body []byte) *http.Request {
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic("github: NewRequest: " + err.Error())
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "GitHub-Hookshot/hookwise")
	r.Header.Set(HeaderEvent, event)
	r.Header.Set(HeaderDelivery, deliveryID)
	if err := SignRequest(r, body, secret, time.Time{}); err != nil {
		panic("github: NewRequest: " + err.Error())
	}
	return r
}
