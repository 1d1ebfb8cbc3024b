// Package twilio verifies and reads Twilio webhook requests (messaging,
// voice and the other products' status callbacks and incoming-event
// webhooks).
//
// Twilio signs with HMAC-SHA1 under the account's Auth Token and sends the
// base64 MAC in X-Twilio-Signature. The string to sign is the full URL
// Twilio requested (scheme, host, port if any, path and query), then:
//
//   - for a form body (application/x-www-form-urlencoded, what most
//     webhooks send): every POST parameter sorted by name, appended as name
//   - value, decoded; a name sent several times contributes each of its
//     values, sorted;
//   - for any other body (JSON): nothing. Twilio adds
//     bodySHA256=<hex SHA-256 of the body> to the URL's query, so the body
//     is authenticated through the signed URL: Verify compares that hash
//     with the body's, in constant time.
//
// A request whose URL has no bodySHA256 must be a form (or have an empty
// body), so that every byte Twilio sent is covered.
//
// # The URL
//
// Twilio signs the URL as it called it, which a server behind a proxy or a
// load balancer does not see: set the public URL with WithURL (scheme,
// host, port and path as configured in Twilio; the query is always the
// request's own, as Twilio adds bodySHA256 to it). Without it the URL is
// rebuilt from the request (https when it came over TLS, its Host header
// and its request target). As Twilio's own validators do (twilio-go's
// RequestValidator, twilio-python, twilio-node), two spellings of the URL
// are tried: as given, and with the port removed when it has one or with
// the scheme's default port (:443, :80) added when it has none, since
// Twilio has signed both forms. That is one MAC per secret per spelling,
// two in all: a bounded cost whatever the request.
//
// # What is authenticated
//
// The URL and the decoded parameters (or, for JSON, the body's bytes).
// Twilio sends no timestamp, so a captured request verifies forever:
// replays are deduplicated on the ID only while the dedupe store
// remembers it. Headers are not signed, so the I-Twilio-Idempotency-Token
// header Twilio sends (the same on its retries) is left to handlers in
// Event.Header and not used as the ID: a replay under a fresh token would
// otherwise be a new event.
//
// # Envelope
//
// The ID is, for a form, the hex SHA-256 of the signed parameters in
// canonical order (names and values query-escaped, sorted, joined by &), so
// a replay that re-encodes or reorders the form is still a duplicate; for a
// JSON body, the hex SHA-256 of the body (the signed bodySHA256). Type,
// from signed parameters: EventType when present (Conversations,
// TaskRouter, Sync: "onMessageAdded", "task.created"); else "message." and
// MessageStatus or SmsStatus for messaging ("message.received",
// "message.delivered"; "message" without a status); else "call." and
// CallStatus for voice ("call.ringing", "call.completed"); else "". For a
// JSON body, its top-level "type" when it is an object that has one.
//
// Payload returns the JSON a handler decodes: the body itself for JSON,
// and for a form an object of its parameters (a string for a name sent
// once, an array of strings for one sent several times).
//
// Sources: https://www.twilio.com/docs/usage/webhooks/webhooks-security
// (string to sign, bodySHA256, ports); twilio/twilio-go
// client/request_validator.go and its tests (with and without the port,
// ValidateBody); twilio/twilio-python tests/unit/test_request_validator.py
// (the known-answer vectors, repeated parameters).
//
// Usage:
//
//	p, err := twilio.New(os.Getenv("TWILIO_AUTH_TOKEN"), twilio.WithURL("https://example.com/twilio/sms"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux)
package twilio

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/form"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "twilio"

// Header names Twilio sends.
const (
	HeaderSignature = "X-Twilio-Signature"
	// HeaderIdempotencyToken is the same on Twilio's retries of a request;
	// it is not signed (see the package documentation).
	HeaderIdempotencyToken = "I-Twilio-Idempotency-Token"
)

// QueryBodySHA256 is the query parameter carrying the hex SHA-256 of a
// body that is not a form.
const QueryBodySHA256 = "bodySHA256"

// scheme declares the MAC: HMAC-SHA1, base64, over the string to sign,
// which Verify builds and hands to the kit as the message.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA1,
	Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Base64},
}

// ErrInvalidURL reports a public URL WithURL cannot use: not an absolute
// http or https URL with a host.
var ErrInvalidURL = errors.New("twilio: invalid public URL")

// Provider verifies and parses Twilio requests. It is safe for concurrent
// use.
type Provider struct {
	p *kit.Provider
	// base is the configured public URL's scheme, authority and path ("":
	// rebuilt from each request).
	base string
}

var (
	_ provider.Provider        = (*Provider)(nil)
	_ provider.PayloadProvider = (*Provider)(nil)
)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds Auth Tokens accepted besides the one given to New: the
// secondary token, around its promotion to primary.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// WithURL sets the public URL Twilio calls, as configured in Twilio: its
// scheme, host, port and path are signed in place of the request's. Its
// query, if any, is ignored: the request's own query is signed.
func WithURL(publicURL string) Option { return kit.WithURL(publicURL) }

// New returns a provider for the account's Auth Token. It returns an error
// matching verify.ErrNoSecret when a token is empty or blank, and one
// matching ErrInvalidURL for a public URL it cannot use.
func New(authToken string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(authToken, opts))
}

// NewFromSource returns a provider whose Auth Tokens come from src, which
// the application updates to rotate them without a restart (see
// provider.Secrets).
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(kit.ApplySource(src, opts))
}

func build(o kit.Options) (*Provider, error) {
	base := ""
	if o.URL != "" {
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
			return nil, ErrInvalidURL
		}
		base, _, _ = strings.Cut(o.URL, "#")
		base, _, _ = strings.Cut(base, "?")
		o.URL = ""
	}
	p, err := scheme.New(o)
	if err != nil {
		return nil, err
	}
	return &Provider{p: p, base: base}, nil
}

// Name returns "twilio".
func (p *Provider) Name() string { return Name }

// Verify checks X-Twilio-Signature over the URL and the form's parameters,
// or over the URL and, through bodySHA256, the body; see the package
// documentation.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	switch sig := r.Header.Get(HeaderSignature); {
	case sig == "":
		return fmt.Errorf("%s: %w", Name, verify.ErrMissingSignature)
	case len(sig) > verify.MaxSignatureHeaderBytes:
		return fmt.Errorf("%s: %w", Name, verify.ErrSignatureHeaderTooLarge)
	}
	full, query := p.requestURL(r)
	msg, err := message(r.Header, full, query, body)
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	err = p.p.Verify(r, msg)
	if !errors.Is(err, verify.ErrSignatureMismatch) {
		return err
	}
	alt, ok := otherPort(full)
	if !ok {
		return err
	}
	return p.p.Verify(r, append([]byte(alt), msg[len(full):]...))
}

// requestURL returns the URL Twilio called, without fragment, and its raw
// query.
func (p *Provider) requestURL(r *http.Request) (full, query string) {
	query = r.URL.RawQuery
	base := p.base
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		switch {
		case strings.HasPrefix(r.RequestURI, "/"): // a server request, origin form: the raw target
			path, _, _ := strings.Cut(r.RequestURI, "?")
			base = scheme + "://" + r.Host + path
		case r.URL.IsAbs(): // a client request, or a server request in absolute form
			u := *r.URL
			u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
			base = u.String()
		default:
			base = scheme + "://" + r.Host + r.URL.EscapedPath()
		}
	}
	if query == "" {
		return base, ""
	}
	return base + "?" + query, query
}

// message returns the string to sign for a request to full: full and the
// sorted form parameters, or full alone when its query carries bodySHA256,
// which must then be the hash of body.
func message(h http.Header, full, query string, body []byte) ([]byte, error) {
	if sums := bodySHA256(query); sums != nil {
		if len(sums) != 1 {
			return nil, fmt.Errorf("%d bodySHA256 parameters: %w", len(sums), verify.ErrMalformedSignature)
		}
		var want [sha256.Size]byte
		if len(sums[0]) != 2*sha256.Size {
			return nil, fmt.Errorf("bodySHA256 is not a hex SHA-256: %w", verify.ErrMalformedSignature)
		}
		if _, err := hex.Decode(want[:], []byte(sums[0])); err != nil {
			return nil, fmt.Errorf("bodySHA256 is not a hex SHA-256: %w", verify.ErrMalformedSignature)
		}
		got := sha256.Sum256(body)
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return nil, fmt.Errorf("body does not match bodySHA256: %w", verify.ErrSignatureMismatch)
		}
		return []byte(full), nil
	}
	if len(body) > 0 && !form.IsForm(h) {
		return nil, fmt.Errorf("a body that is not a form without bodySHA256: %w", verify.ErrMalformedSignature)
	}
	vals, err := form.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("form body does not parse: %w", verify.ErrSignatureMismatch)
	}
	msg := make([]byte, 0, len(full)+len(body))
	msg = append(msg, full...)
	for _, name := range sortedNames(vals) {
		for _, v := range sortedValues(vals[name]) {
			msg = append(append(msg, name...), v...)
		}
	}
	return msg, nil
}

// bodySHA256 returns the bodySHA256 values of a raw query (nil when there
// is none). Malformed pairs are skipped, as Twilio's validators do.
func bodySHA256(query string) []string {
	if !strings.Contains(query, QueryBodySHA256) {
		return nil
	}
	vals, _ := url.ParseQuery(query)
	return vals[QueryBodySHA256]
}

func sortedNames(vals url.Values) []string {
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func sortedValues(vs []string) []string {
	if len(vs) < 2 {
		return vs
	}
	vs = append([]string(nil), vs...)
	sort.Strings(vs)
	return vs
}

// otherPort returns full with its port removed when it has one, or with the
// scheme's default port added when it has none.
func otherPort(full string) (string, bool) {
	scheme, rest, ok := strings.Cut(full, "://")
	if !ok {
		return "", false
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	hostport := authority[strings.LastIndexByte(authority, '@')+1:]
	userinfo := authority[:len(authority)-len(hostport)]
	host, port := hostport, ""
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		host, port = hostport[:i], hostport[i+1:]
	}
	switch {
	case port != "":
		return scheme + "://" + userinfo + host + tail, true
	case scheme == "https":
		return scheme + "://" + userinfo + host + ":443" + tail, true
	case scheme == "http":
		return scheme + "://" + userinfo + host + ":80" + tail, true
	}
	return "", false
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%s: "+format+": %w", append([]any{Name}, append(args, provider.ErrMalformedEnvelope)...)...)
}

// Parse reads the envelope; see the package documentation.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	if bodySHA256(r.URL.RawQuery) != nil {
		sum := sha256.Sum256(body)
		env := provider.Envelope{ID: hex.EncodeToString(sum[:])}
		raw, _, err := jsonscan.Get(body, "type")
		if err != nil {
			return provider.Envelope{}, malformed("body: %w", err)
		}
		if raw != nil && !jsonscan.IsNull(raw) {
			if env.Type, err = jsonscan.String(raw); err != nil {
				return provider.Envelope{}, malformed("type: %w", err)
			}
		}
		return env, nil
	}
	vals, err := form.Parse(body)
	if err != nil {
		return provider.Envelope{}, malformed("form body")
	}
	var id bytes.Buffer
	for i, name := range sortedNames(vals) {
		for j, v := range sortedValues(vals[name]) {
			if i+j > 0 {
				id.WriteByte('&')
			}
			id.WriteString(url.QueryEscape(name))
			id.WriteByte('=')
			id.WriteString(url.QueryEscape(v))
		}
	}
	sum := sha256.Sum256(id.Bytes())
	env := provider.Envelope{ID: hex.EncodeToString(sum[:])}
	one := func(name string) (string, error) {
		vs := vals[name]
		if len(vs) > 1 {
			return "", malformed("%d values of %s", len(vs), name)
		}
		if len(vs) == 0 {
			return "", nil
		}
		return vs[0], nil
	}
	var f [6]string
	for i, name := range []string{"EventType", "MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "CallSid"} {
		if f[i], err = one(name); err != nil {
			return provider.Envelope{}, err
		}
	}
	switch {
	case f[0] != "":
		env.Type = f[0]
	case f[1] != "" || f[2] != "":
		env.Type = "message"
		if s := firstOf(f[3], f[4]); s != "" {
			env.Type += "." + s
		}
	case f[5] != "":
		status, err := one("CallStatus")
		if err != nil {
			return provider.Envelope{}, err
		}
		env.Type = "call"
		if status != "" {
			env.Type += "." + status
		}
	}
	return env, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Payload returns the JSON document of the request: the body of a JSON
// request, an object of the parameters of a form.
func (p *Provider) Payload(header http.Header, body []byte) (json.RawMessage, error) {
	if !form.IsForm(header) {
		return json.RawMessage(body), nil
	}
	vals, err := form.Parse(body)
	if err != nil {
		return nil, malformed("form body")
	}
	m := make(map[string]any, len(vals))
	for k, vs := range vals {
		if len(vs) == 1 {
			m[k] = vs[0]
		} else {
			m[k] = vs
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s: form to JSON: %w", Name, err)
	}
	return b, nil
}

// SignRequest signs r, whose body is body, as Twilio does with the Auth
// Token secret: a form body (Content-Type
// application/x-www-form-urlencoded) is signed with r's URL; any other body
// gets bodySHA256 added to r's URL query, and the URL alone is signed. It
// sets X-Twilio-Signature; now is unused. r's URL must be absolute. It has
// the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	if !r.URL.IsAbs() {
		return fmt.Errorf("%s: SignRequest: %w", Name, ErrInvalidURL)
	}
	if !form.IsForm(r.Header) {
		sum := sha256.Sum256(body)
		pair := QueryBodySHA256 + "=" + hex.EncodeToString(sum[:])
		if r.URL.RawQuery == "" {
			r.URL.RawQuery = pair
		} else {
			r.URL.RawQuery += "&" + pair
		}
	}
	full, query := (&Provider{}).requestURL(r)
	msg, err := message(r.Header, full, query, body)
	if err != nil {
		return fmt.Errorf("%s: SignRequest: %w", Name, err)
	}
	return scheme.Sign(r, msg, secret, now)
}
