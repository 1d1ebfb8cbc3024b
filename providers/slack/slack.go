// Package slack verifies and reads Slack requests: Events API deliveries,
// slash commands and interactive payloads.
//
// Slack signs "v0:" + X-Slack-Request-Timestamp + ":" + body with
// HMAC-SHA256 under the app's signing secret (used as a string, not decoded)
// and sends X-Slack-Signature: v0=<hex>. The timestamp must lie within five
// minutes of the clock, in both directions.
//
// The envelope depends on what Slack sent:
//
//	request                         Type                         ID
//	Events API event_callback       inner event.type             event_id
//	                                ("app_mention")
//	Events API url_verification     "url_verification"           "" (Reply: 200 text/plain challenge)
//	Events API app_rate_limited     "app_rate_limited"           "" (Reply: 200, empty)
//	other Events API types          top-level type               event_id, if any
//	slash command (form)            "command." + the command     trigger_id
//	                                without "/" ("command.deploy")
//	interactive payload (form       "interactive." + payload     trigger_id, else view.id + ":" + view.hash,
//	field payload=<JSON>)           type ("interactive.          else "" (no dedupe)
//	                                block_actions")
//	ssl_check (form ssl_check=1)    "ssl_check"                  "" (Reply: 200, empty)
//
// Replies never reach a handler. Every request must be signed, with one
// exception: Slack's SSL check (a form body with ssl_check=1), which tests
// the endpoint's TLS certificate and may arrive without signature headers.
// Handshake answers such a request 200 with an empty body before
// verification (see package provider); it reads nothing else, touches no state and reaches no
// handler, so an attacker gains nothing by sending one. A signed ssl_check
// gets the same answer from Parse.
//
// Payload returns the JSON a handler decodes: the body of Events API
// requests, the payload field of interactive requests, and for slash
// commands a JSON object of the form's fields (the first value of each).
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/form"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "slack"

// Header names Slack sends.
const (
	HeaderSignature = "X-Slack-Signature"
	HeaderTimestamp = "X-Slack-Request-Timestamp"
)

// DefaultTolerance is the accepted distance of the timestamp from now.
const DefaultTolerance = 5 * time.Minute

// scheme declares Slack's signature.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Hex, Prefix: "v0="},
	Timestamp: &kit.Timestamp{Header: HeaderTimestamp, Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.Lit("v0:"), kit.Time, kit.Lit(":"), kit.Body},
}

// Provider verifies and parses Slack requests. It is safe for concurrent use.
type Provider struct {
	p *kit.Provider
}

var (
	_ provider.Provider        = (*Provider)(nil)
	_ provider.PayloadProvider = (*Provider)(nil)
)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds signing secrets accepted besides the one given to New, for
// a secret rotation.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return kit.WithClock(now) }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return kit.WithTolerance(d) }

// New returns a provider for the app's signing secret. It returns an error
// matching verify.ErrNoSecret when a secret is empty or blank.
func New(signingSecret string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(signingSecret, opts))
}

// NewFromSource returns a provider whose signing secrets come from src,
// which the application updates to rotate them without a restart (see
// provider.Secrets). It returns an error matching verify.ErrNoSecret when
// src holds no secret or an empty or blank one.
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(kit.ApplySource(src, opts))
}

func build(o kit.Options) (*Provider, error) {
	p, err := scheme.New(o)
	if err != nil {
		return nil, err
	}
	return &Provider{p: p}, nil
}

// Name returns "slack".
func (p *Provider) Name() string { return Name }

// Verify checks X-Slack-Signature over the raw body, then the timestamp.
func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }

func malformed(format string, args ...any) error {
	return fmt.Errorf("slack: "+format+": %w", append(args, provider.ErrMalformedEnvelope)...)
}

var eventPaths = [][]string{{"type"}, {"event_id"}, {"challenge"}, {"event", "type"}}

// Parse reads the envelope; see the package documentation for the mapping.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	if form.IsForm(r.Header) {
		return parseForm(body)
	}
	var vals [4][]byte
	if err := jsonscan.GetMany(body, eventPaths, vals[:]); err != nil {
		return provider.Envelope{}, malformed("body: %w", err)
	}
	typ, err := str(vals[0], "type")
	if err != nil {
		return provider.Envelope{}, err
	}
	switch typ {
	case "":
		return provider.Envelope{}, malformed("body has no type")
	case "url_verification":
		challenge, err := str(vals[2], "challenge")
		if err != nil {
			return provider.Envelope{}, err
		}
		if challenge == "" {
			return provider.Envelope{}, malformed("url_verification without challenge")
		}
		return provider.Envelope{Type: typ, Reply: &provider.Reply{
			Status: http.StatusOK, ContentType: "text/plain", Body: []byte(challenge),
		}}, nil
	case "app_rate_limited":
		return provider.Envelope{Type: typ, Reply: &provider.Reply{
			Status: http.StatusOK, ContentType: "text/plain",
		}}, nil
	}
	id, err := str(vals[1], "event_id")
	if err != nil {
		return provider.Envelope{}, err
	}
	env := provider.Envelope{ID: id, Type: typ}
	if typ == "event_callback" {
		if env.Type, err = str(vals[3], "event.type"); err != nil {
			return provider.Envelope{}, err
		}
		if env.Type == "" {
			return provider.Envelope{}, malformed("event_callback without event.type")
		}
		if id == "" {
			return provider.Envelope{}, malformed("event_callback without event_id")
		}
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

var interactivePaths = [][]string{{"type"}, {"trigger_id"}, {"view", "id"}, {"view", "hash"}}

func parseForm(body []byte) (provider.Envelope, error) {
	vals, err := form.Parse(body)
	if err != nil {
		return provider.Envelope{}, malformed("form body")
	}
	switch {
	case vals.Has("payload"):
		if len(vals["payload"]) != 1 {
			return provider.Envelope{}, malformed("form body with several payload fields")
		}
		var f [4][]byte
		if err := jsonscan.GetMany([]byte(vals.Get("payload")), interactivePaths, f[:]); err != nil {
			return provider.Envelope{}, malformed("payload: %w", err)
		}
		var s [4]string
		for i := range f {
			if s[i], err = str(f[i], strings.Join(interactivePaths[i], ".")); err != nil {
				return provider.Envelope{}, err
			}
		}
		if s[0] == "" {
			return provider.Envelope{}, malformed("payload has no type")
		}
		env := provider.Envelope{Type: "interactive." + s[0], ID: s[1]}
		if env.ID == "" && s[2] != "" && s[3] != "" {
			env.ID = s[2] + ":" + s[3]
		}
		return env, nil
	case vals.Has("command"):
		cmd := strings.TrimPrefix(vals.Get("command"), "/")
		if cmd == "" {
			return provider.Envelope{}, malformed("empty command")
		}
		return provider.Envelope{Type: "command." + cmd, ID: vals.Get("trigger_id")}, nil
	case vals.Get("ssl_check") == "1":
		return provider.Envelope{Type: "ssl_check", Reply: &provider.Reply{
			Status: http.StatusOK, ContentType: "text/plain",
		}}, nil
	}
	return provider.Envelope{}, malformed("unknown form request")
}

// Handshake answers Slack's unsigned SSL check (a POST of a form body with
// ssl_check=1 and no X-Slack-Signature) with 200 and an empty body. It
// returns nil for every other request, which is then verified as usual
// (other methods are refused).
func (p *Provider) Handshake(r *http.Request, body []byte) *provider.Reply {
	if r.Method != http.MethodPost || r.Header.Get(HeaderSignature) != "" || !form.IsForm(r.Header) || len(body) > 4096 {
		return nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil || vals.Get("ssl_check") != "1" {
		return nil
	}
	return &provider.Reply{Status: http.StatusOK, ContentType: "text/plain"}
}

var _ provider.Handshaker = (*Provider)(nil)

// Payload returns the JSON document of the request: the body of Events API
// requests, the payload field of interactive ones, and an object of the
// form's fields for slash commands.
func (p *Provider) Payload(header http.Header, body []byte) (json.RawMessage, error) {
	if !form.IsForm(header) {
		return json.RawMessage(body), nil
	}
	vals, err := form.Parse(body)
	if err != nil {
		return nil, malformed("form body")
	}
	if vals.Has("payload") {
		return json.RawMessage(vals.Get("payload")), nil
	}
	return formJSON(vals)
}

func formJSON(vals url.Values) (json.RawMessage, error) {
	m := make(map[string]string, len(vals))
	for k, v := range vals {
		m[k] = v[0]
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("slack: form to JSON: %w", err)
	}
	return b, nil
}

// SignRequest signs r, whose body is body, as Slack does with secret at
// now: it sets X-Slack-Request-Timestamp and X-Slack-Signature. It has the
// shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	return scheme.Sign(r, body, secret, now)
}

// Sign returns the X-Slack-Signature value for body signed under secret at t:
// "v0=<hex>".
func Sign(secret string, t time.Time, body []byte) string {
	r := &http.Request{Method: http.MethodPost, Header: http.Header{}}
	if err := SignRequest(r, body, secret, t); err != nil {
		panic("slack: Sign: " + err.Error()) // the declaration is valid, and any secret signs
	}
	return r.Header.Get(HeaderSignature)
}

// NewRequest returns a signed request of body to url as Slack sends it, for
// tests: a POST with X-Slack-Signature, X-Slack-Request-Timestamp and the
// given Content-Type ("application/json" for the Events API,
// "application/x-www-form-urlencoded" for commands and interactivity). It
// panics when url cannot be parsed, like httptest.NewRequest.
func NewRequest(url, secret string, t time.Time, body []byte, contentType string) *http.Request {
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic("slack: NewRequest: " + err.Error())
	}
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	if err := SignRequest(r, body, secret, t); err != nil {
		panic("slack: NewRequest: " + err.Error())
	}
	return r
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
