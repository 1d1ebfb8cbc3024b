// Package github verifies and reads GitHub webhook deliveries.
//
// GitHub signs the raw body with HMAC-SHA256 under the webhook secret and
// sends it as X-Hub-Signature-256: sha256=<hex>. The legacy SHA-1 signature
// (X-Hub-Signature: sha1=<hex>) is accepted only with WithSHA1, and only when
// the SHA-256 header is absent; by default a delivery carrying only the SHA-1
// header fails with verify.ErrMissingSignature.
//
// The envelope:
//
//   - ID is the X-GitHub-Delivery header, which GitHub keeps on redelivery.
//   - Type is the X-GitHub-Event header, followed by "." and the payload's
//     top-level action when it has one: "push", "issues.opened".
//   - The ping event GitHub sends when a hook is created is Optional: it is
//     acknowledged without a handler unless one is registered for "ping".
//
// Deliveries may be application/json or, when the hook is configured so,
// application/x-www-form-urlencoded with the JSON in the payload field. The
// signature always covers the raw body; Parse and Payload read the JSON from
// the payload field of form deliveries.
package github

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/providers/internal/form"
	"github.com/hookwise/hookwise/receiver"
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

// Provider verifies and parses GitHub deliveries. It is safe for concurrent use.
type Provider struct {
	sha256 *verify.HMAC
	sha1   *verify.HMAC // nil unless WithSHA1
}

var (
	_ receiver.Provider        = (*Provider)(nil)
	_ receiver.PayloadProvider = (*Provider)(nil)
)

type options struct {
	secrets []string
	sha1    bool
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds secrets accepted besides the one given to New, for a
// secret rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { o.secrets = append(o.secrets, more...) }
}

// WithSHA1 opts in to the legacy X-Hub-Signature (HMAC-SHA1) header, checked
// only when X-Hub-Signature-256 is absent. Use it only for senders that do not
// send the SHA-256 signature (old GitHub Enterprise Server versions).
func WithSHA1() Option { return func(o *options) { o.sha1 = true } }

// New returns a provider for the webhook secret. It returns an error matching
// verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) {
	o := options{secrets: []string{secret}}
	for _, opt := range opts {
		opt(&o)
	}
	keys := make([][]byte, len(o.secrets))
	for i, s := range o.secrets {
		keys[i] = []byte(s)
	}
	p := &Provider{}
	var err error
	if p.sha256, err = verify.NewHMAC(sha256.New, keys...); err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	if o.sha1 {
		if p.sha1, err = verify.NewHMAC(sha1.New, keys...); err != nil {
			return nil, fmt.Errorf("github: %w", err)
		}
	}
	return p, nil
}

// Name returns "github".
func (p *Provider) Name() string { return Name }

// Verify checks the delivery's signature over the raw body.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	if h := r.Header.Get(HeaderSignature256); h != "" {
		if err := verify.MatchList(p.sha256, verify.Hex, h, "", "sha256=", body); err != nil {
			return fmt.Errorf("github: %w", err)
		}
		return nil
	}
	if p.sha1 != nil {
		if h := r.Header.Get(HeaderSignature1); h != "" {
			if err := verify.MatchList(p.sha1, verify.Hex, h, "", "sha1=", body); err != nil {
				return fmt.Errorf("github: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("github: %w", verify.ErrMissingSignature)
}

// Parse reads the envelope: ID from X-GitHub-Delivery, Type from
// X-GitHub-Event plus "." + the payload's action when present.
func (p *Provider) Parse(r *http.Request, body []byte) (receiver.Envelope, error) {
	event := r.Header.Get(HeaderEvent)
	if event == "" {
		return receiver.Envelope{}, fmt.Errorf("github: missing %s header: %w", HeaderEvent, receiver.ErrMalformedEnvelope)
	}
	id := r.Header.Get(HeaderDelivery)
	if id == "" {
		return receiver.Envelope{}, fmt.Errorf("github: missing %s header: %w", HeaderDelivery, receiver.ErrMalformedEnvelope)
	}
	doc, err := payload(r.Header, body)
	if err != nil {
		return receiver.Envelope{}, err
	}
	env := receiver.Envelope{ID: id, Type: event, Optional: event == "ping"}
	raw, found, err := jsonscan.Get(doc, "action")
	if err != nil {
		return receiver.Envelope{}, fmt.Errorf("github: payload: %w: %w", err, receiver.ErrMalformedEnvelope)
	}
	if found && !jsonscan.IsNull(raw) {
		action, err := jsonscan.String(raw)
		if err != nil {
			return receiver.Envelope{}, fmt.Errorf("github: action: %w: %w", err, receiver.ErrMalformedEnvelope)
		}
		if action != "" {
			env.Type = event + "." + action
		}
	}
	return env, nil
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
		return nil, fmt.Errorf("github: form body: %w", receiver.ErrMalformedEnvelope)
	}
	if len(vals["payload"]) != 1 {
		return nil, fmt.Errorf("github: form body needs exactly one payload field: %w", receiver.ErrMalformedEnvelope)
	}
	return []byte(vals.Get("payload")), nil
}

// Sign returns the X-Hub-Signature-256 value of body under secret:
// "sha256=<hex>".
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignSHA1 returns the legacy X-Hub-Signature value of body under secret:
// "sha1=<hex>".
func SignSHA1(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
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
	r.Header.Set(HeaderSignature256, Sign(secret, body))
	r.Header.Set(HeaderSignature1, SignSHA1(secret, body))
	return r
}
