// Package okta authenticates and reads Okta event hook deliveries.
//
// Okta does not sign event hooks. Each hook is configured with an
// authentication header, a name and a secret value (by default
// "Authorization: <value>"), which Okta sends verbatim with every delivery.
// The provider compares it with every configured value as SHA-256 digests
// in constant time. This authenticates the sender, not the body: anyone who
// learns the value can send any body, and a captured delivery can be
// replayed at any time (Okta sends no signed timestamp; replays are
// deduplicated on the ID only while the dedupe store remembers it). Use
// HTTPS, a long random value, and WithHeader when the hook uses another
// header name.
//
// # Verification
//
// When a hook is created or verified, Okta sends a one-time GET request
// with an X-Okta-Verification-Challenge header and expects
//
//	200 application/json {"verification":"<the header's value>"}
//
// Handshake answers it before verification and before the method check: it
// echoes a value the request brought (JSON-encoded, at most
// MaxChallengeBytes) and reveals nothing derived from the secret.
//
// # Envelope
//
// The ID is the body's top-level "eventId", which identifies the delivery
// (Okta's retry of a delivery carries the same one). The Type is the
// eventType of the events in data.events ("user.lifecycle.create",
// "user.session.start") when they all share one; a batch of events of
// several types, or none, gets the top-level eventType
// ("com.okta.event_hook"). Each event's own uuid stays in the payload.
//
// Sources: https://developer.okta.com/docs/concepts/event-hooks/ (one-time
// verification request, authentication header, request body);
// https://developer.okta.com/docs/guides/event-hook-implementation/.
//
// Usage:
//
//	p, err := okta.New(os.Getenv("OKTA_EVENT_HOOK_SECRET"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux) // answers the verification GET too
package okta

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
)

// Name is the provider's name.
const Name = "okta"

// Header names.
const (
	// HeaderAuthorization is the authentication header Okta hooks use by
	// default.
	HeaderAuthorization = "Authorization"
	// HeaderChallenge carries the one-time verification challenge.
	HeaderChallenge = "X-Okta-Verification-Challenge"
)

// MaxChallengeBytes bounds the verification challenge Handshake echoes;
// Okta's are a few dozen characters. A longer one is not answered.
const MaxChallengeBytes = 1024

// scheme declares Okta's authentication header and envelope; New renames
// the header for WithHeader.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.Token,
	Signature: kit.Signature{Header: HeaderAuthorization},
	Envelope: kit.Envelope{
		ID: kit.Field{JSON: []string{"eventId"}, Required: true},
	},
}

// Provider authenticates and parses Okta event hook deliveries and answers
// their verification. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.Handshaker = (*Provider)(nil)
)

type options struct {
	kit.Options
	header string
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds header values accepted besides the one given to New,
// for a rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { kit.WithSecrets(more...)(&o.Options) }
}

// WithHeader names the authentication header the hook is configured with
// (default HeaderAuthorization).
func WithHeader(name string) Option { return func(o *options) { o.header = name } }

// New returns a provider accepting the authentication header value secret
// (the whole value, as configured on the hook). It returns an error
// matching verify.ErrNoSecret when a value is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(options{Options: kit.Options{Secrets: []string{secret}}}, opts)
}

// NewFromSource returns a provider whose header values come from src, which
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
	s := scheme
	if o.header != "" {
		c := *scheme
		c.Signature.Header = o.header
		s = &c
	}
	p, err := s.New(o.Options)
	if err != nil {
		return nil, err
	}
	return &Provider{p}, nil
}

// Name returns "okta".
func (p *Provider) Name() string { return Name }

// Verify compares the authentication header with every configured value,
// in constant time.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

// Handshake answers Okta's one-time verification: a GET carrying
// X-Okta-Verification-Challenge gets 200 application/json
// {"verification":"<value>"}. Other requests get nil.
func (p *Provider) Handshake(r *http.Request, _ []byte) *provider.Reply {
	if r.Method != http.MethodGet {
		return nil
	}
	vs := r.Header.Values(HeaderChallenge)
	if len(vs) != 1 || vs[0] == "" || len(vs[0]) > MaxChallengeBytes {
		return nil
	}
	b, err := json.Marshal(struct {
		Verification string `json:"verification"`
	}{vs[0]})
	if err != nil {
		return nil
	}
	return &provider.Reply{Status: http.StatusOK, ContentType: "application/json", Body: b}
}

var eventPaths = [][]string{{"eventType"}, {"data", "events"}}

// Parse reads the ID from the body's eventId and the type from the events'
// eventType; see the package documentation.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	env, err := p.p.Parse(r, body)
	if err != nil {
		return provider.Envelope{}, err
	}
	var vals [2][]byte
	if err := jsonscan.GetMany(body, eventPaths, vals[:]); err != nil {
		return provider.Envelope{}, malformed("body: %w", err)
	}
	top, err := str(vals[0], "eventType")
	if err != nil {
		return provider.Envelope{}, err
	}
	shared, err := sharedType(vals[1])
	if err != nil {
		return provider.Envelope{}, err
	}
	env.Type = top
	if shared != "" {
		env.Type = shared
	}
	return env, nil
}

// sharedType returns the eventType every event of the data.events array
// shares, or "" when they differ or there are none.
func sharedType(raw []byte) (string, error) {
	if raw == nil || jsonscan.IsNull(raw) {
		return "", nil
	}
	var events []json.RawMessage
	if err := json.Unmarshal(raw, &events); err != nil {
		return "", malformed("data.events is not an array")
	}
	shared := ""
	for i, ev := range events {
		v, _, err := jsonscan.Get(ev, "eventType")
		if err != nil {
			return "", malformed("data.events[%d]: %w", i, err)
		}
		t, err := str(v, "data.events[].eventType")
		if err != nil {
			return "", err
		}
		switch {
		case t == "":
			return "", nil
		case i == 0:
			shared = t
		case t != shared:
			return "", nil
		}
	}
	return shared, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("okta: "+format+": %w", append(args, provider.ErrMalformedEnvelope)...)
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

// SignRequest sets r's Authorization header to secret, as Okta sends it;
// body and now are unused. It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}
