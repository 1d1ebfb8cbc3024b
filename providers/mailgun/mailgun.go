// Package mailgun verifies and reads Mailgun webhook deliveries (the JSON
// webhooks of Mailgun's current API).
//
// Mailgun does not sign the request. It puts a signature inside the JSON
// body, beside the event,
//
//	{"signature":{"timestamp":"1735689600","token":"<50 random characters>","signature":"<hex>"},
//	 "event-data":{"event":"delivered","id":"CPgfbmQMTCKtHW6uIWtuVe",…}}
//
// where signature is the hex HMAC-SHA256, keyed with the account's HTTP
// webhook signing key, of timestamp + token (no separator).
//
// # What is authenticated, and what is not
//
// The signature covers the timestamp and the token only: THE EVENT DATA IS
// NOT COVERED. Whoever obtains one signed delivery (a log, a proxy, a
// leaked request) can attach its signature object to any event-data of
// their choosing, and the signature still verifies. This package narrows
// that as far as the scheme allows:
//
//   - the timestamp must lie within DefaultTolerance (five minutes; Mailgun
//     publishes no window) of the clock, in both directions, so a captured
//     signature is usable for minutes, not forever;
//   - every verified token is remembered, with the SHA-256 of the body it
//     came with, until its timestamp leaves the window: a token that comes
//     back with another body is a replay and is refused (ErrTokenReplayed,
//     401), while the same body again (a redelivery) verifies and is then
//     a duplicate for the dedupe store;
//   - the body must be one unambiguous JSON object (a duplicated
//     "signature" or "event-data" key, in any case, is refused), so the
//     signature this package checks and the event a handler decodes come
//     from the same document.
//
// The token memory is in this process: it holds at most DefaultMaxTokens
// tokens (WithMaxTokens), forgetting the oldest first when full, and it is
// not shared between replicas, so a captured signature replayed with
// another body to another replica within the window is not caught. Where
// that matters, keep the window short, and treat Mailgun events as hints to
// be confirmed through Mailgun's Events API for anything security-relevant.
//
// The envelope's ID is event-data.id (the same on every retry) and its Type
// event-data.event ("delivered", "failed", "opened"). Neither is signed.
//
// Not covered: the legacy form-encoded webhooks (timestamp, token and
// signature as form fields), and the parent-signature of subaccount events
// (a subaccount's delivery is verified with its own key).
//
// Sources: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
// (the scheme, the advice to check the timestamp and to cache tokens).
// Mailgun's example signature there is a placeholder and cannot be
// reproduced; the vectors of ../testdata/vectors.json were generated from
// the documented scheme.
//
// Usage:
//
//	p, err := mailgun.New(os.Getenv("MAILGUN_WEBHOOK_SIGNING_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	rcv, err := receiver.New(p, mux)
package mailgun

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "mailgun"

// DefaultTolerance is the accepted distance of the signed timestamp from
// now. Mailgun publishes none; five minutes is this package's choice.
const DefaultTolerance = 5 * time.Minute

// DefaultMaxTokens is how many verified tokens a Provider remembers at
// most.
const DefaultMaxTokens = 100_000

// MaxTokenBytes bounds the token's length (Mailgun's are 50 characters).
const MaxTokenBytes = 256

// ErrTokenReplayed reports a token that was verified before with another
// body: the signature of one delivery attached to other event data.
var ErrTokenReplayed = fmt.Errorf("mailgun: token replayed with another body: %w", verify.ErrVerification)

// The header names of the synthetic request the kit verifies: the body's
// signature fields, never the request's own headers.
const (
	synthSignature = "Signature"
	synthTimestamp = "Timestamp"
	synthToken     = "Token"
)

// scheme declares Mailgun's MAC over the signature object's fields, carried
// as headers of a synthetic request built from the body.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.HMACSHA256,
	Signature: kit.Signature{Header: synthSignature, Encoding: verify.Hex},
	Timestamp: &kit.Timestamp{Header: synthTimestamp, Tolerance: DefaultTolerance},
	Message:   []kit.Piece{kit.Time, kit.HeaderPiece(synthToken)},
}

// Provider verifies and parses Mailgun deliveries. It is safe for
// concurrent use.
type Provider struct {
	p      *kit.Provider
	now    func() time.Time
	tokens *tokens
}

var _ provider.Provider = (*Provider)(nil)

type options struct {
	kit.Options
	maxTokens int
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds signing keys accepted besides the one given to New, for
// a rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { kit.WithSecrets(more...)(&o.Options) }
}

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) { kit.WithClock(now)(&o.Options) }
}

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default). The
// tokens are remembered as long as the window lasts.
func WithTolerance(d time.Duration) Option {
	return func(o *options) { kit.WithTolerance(d)(&o.Options) }
}

// WithMaxTokens sets how many verified tokens are remembered at most
// (default DefaultMaxTokens; zero or less keeps the default).
func WithMaxTokens(n int) Option { return func(o *options) { o.maxTokens = n } }

// New returns a provider for the HTTP webhook signing key. It returns an
// error matching verify.ErrNoSecret when a key is empty or blank.
func New(signingKey string, opts ...Option) (*Provider, error) {
	o := options{Options: kit.Options{Secrets: []string{signingKey}}}
	return build(o, opts)
}

// NewFromSource returns a provider whose signing keys come from src, which
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
	p, err := scheme.New(o.Options)
	if err != nil {
		return nil, err
	}
	if o.maxTokens <= 0 {
		o.maxTokens = DefaultMaxTokens
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Provider{p: p, now: now, tokens: newTokens(o.maxTokens, p.Tolerance())}, nil
}

// Name returns "mailgun".
func (p *Provider) Name() string { return Name }

var signaturePaths = [][]string{{"signature", "timestamp"}, {"signature", "token"}, {"signature", "signature"}}

// Verify reads the body's signature object, checks the timestamp's window,
// then the HMAC of timestamp + token (one per key), then that the token was
// not verified before with another body (see the package documentation).
// Errors match verify.ErrVerification.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	var vals [3][]byte
	if err := jsonscan.GetMany(body, signaturePaths, vals[:]); err != nil {
		return fmt.Errorf("mailgun: body: %w", verify.ErrMalformedSignature)
	}
	if vals[2] == nil {
		return fmt.Errorf("mailgun: %w", verify.ErrMissingSignature)
	}
	ts, ok := scalar(vals[0])
	if !ok {
		return fmt.Errorf("mailgun: %w", verify.ErrMalformedTimestamp)
	}
	token, okToken := scalar(vals[1])
	sig, okSig := scalar(vals[2])
	switch {
	case !okToken || !okSig || token == "" || sig == "":
		return fmt.Errorf("mailgun: %w", verify.ErrMalformedSignature)
	case len(token) > MaxTokenBytes:
		return fmt.Errorf("mailgun: token: %w", verify.ErrSignatureHeaderTooLarge)
	}
	synth := &http.Request{Method: http.MethodPost, Header: http.Header{
		synthSignature: {sig}, synthTimestamp: {ts}, synthToken: {token},
	}}
	if err := p.p.Verify(synth, nil); err != nil {
		return err
	}
	at, err := verify.ParseUnix(ts)
	if err != nil { // checked by Verify already
		return fmt.Errorf("mailgun: %w", err)
	}
	if !p.tokens.check(token, sha256.Sum256(body), at, p.now()) {
		return ErrTokenReplayed
	}
	return nil
}

// scalar returns a JSON string's value, or an integer's text (Mailgun
// documents the timestamp as an integer and sends it as a string).
func scalar(raw []byte) (string, bool) {
	if raw == nil || jsonscan.IsNull(raw) {
		return "", false
	}
	if raw[0] != '"' {
		for _, c := range raw {
			if c < '0' || c > '9' {
				return "", false
			}
		}
		return string(raw), true
	}
	s, err := jsonscan.String(raw)
	return s, err == nil
}

var envelopePaths = [][]string{{"event-data", "id"}, {"event-data", "event"}}

func malformed(format string, args ...any) error {
	return fmt.Errorf("mailgun: "+format+": %w", append(args, provider.ErrMalformedEnvelope)...)
}

// Parse reads the ID from event-data.id and the type from event-data.event.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	var vals [2][]byte
	if err := jsonscan.GetMany(body, envelopePaths, vals[:]); err != nil {
		return provider.Envelope{}, malformed("body: %w", err)
	}
	var out [2]string
	for i, raw := range vals {
		name := "event-data." + envelopePaths[i][1]
		if raw == nil || jsonscan.IsNull(raw) {
			return provider.Envelope{}, malformed("no %s", name)
		}
		s, err := jsonscan.String(raw)
		if err != nil {
			return provider.Envelope{}, malformed("%s: %w", name, err)
		}
		if s == "" {
			return provider.Envelope{}, malformed("empty %s", name)
		}
		out[i] = s
	}
	return provider.Envelope{ID: out[0], Type: out[1]}, nil
}

// tokens remembers verified tokens and the SHA-256 of their bodies until
// their timestamps leave the window, at most max of them, oldest forgotten
// first.
type tokens struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	seen   map[string]seenToken
	order  []string // tokens in the order they were first seen
	head   int      // order[head:] are live
}

type seenToken struct {
	body    [sha256.Size]byte
	expires time.Time
}

func newTokens(max int, window time.Duration) *tokens {
	return &tokens{max: max, window: window, seen: map[string]seenToken{}}
}

// check reports whether token may be accepted with a body whose hash is
// sum: it was not seen, or it was seen with the same body. It remembers a
// new token until at + the window.
func (t *tokens) check(token string, sum [sha256.Size]byte, at, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	if s, ok := t.seen[token]; ok {
		return s.body == sum
	}
	for len(t.seen) >= t.max {
		t.evictOldest()
	}
	t.seen[token] = seenToken{body: sum, expires: at.Add(t.window)}
	t.order = append(t.order, token)
	return true
}

// prune forgets the tokens at the front of the order that have expired.
func (t *tokens) prune(now time.Time) {
	for t.head < len(t.order) {
		s, ok := t.seen[t.order[t.head]]
		if ok && now.Before(s.expires) {
			break
		}
		t.evictOldest()
	}
}

func (t *tokens) evictOldest() {
	if t.head >= len(t.order) {
		return
	}
	delete(t.seen, t.order[t.head])
	t.order[t.head] = ""
	t.head++
	if t.head > len(t.order)/2 && t.head > 64 {
		t.order = append(t.order[:0], t.order[t.head:]...)
		t.head = 0
	}
}

// Len returns how many tokens the provider remembers, for tests and metrics.
func (p *Provider) Len() int {
	p.tokens.mu.Lock()
	defer p.tokens.mu.Unlock()
	return len(p.tokens.seen)
}

// errNotObject reports a body SignBody cannot sign.
var errNotObject = errors.New("mailgun: the body is not a JSON object without a signature key")

// SignBody returns body, a JSON object without a "signature" key, with the
// signature object Mailgun adds, made with signingKey at now and a new
// random 50-character token, as its first member. It is for tests.
func SignBody(body []byte, signingKey string, now time.Time) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) < 2 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, errNotObject
	}
	if _, found, err := jsonscan.Get(trimmed, "signature"); err != nil || found {
		return nil, errNotObject
	}
	var raw [25]byte
	if _, err := io.ReadFull(rand.Reader, raw[:]); err != nil {
		return nil, fmt.Errorf("mailgun: token: %w", err)
	}
	token := hex.EncodeToString(raw[:])
	synth := &http.Request{Method: http.MethodPost, Header: http.Header{synthToken: {token}}}
	if err := scheme.Sign(synth, nil, signingKey, now); err != nil {
		return nil, err
	}
	sig, err := json.Marshal(map[string]string{
		"timestamp": synth.Header.Get(synthTimestamp),
		"token":     token,
		"signature": synth.Header.Get(synthSignature),
	})
	if err != nil {
		return nil, fmt.Errorf("mailgun: %w", err)
	}
	out := append([]byte(`{"signature":`), sig...)
	if rest := bytes.TrimSpace(trimmed[1:]); rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, trimmed[1:]...), nil
}

// SignRequest signs r as Mailgun does with signingKey at now: r's body
// becomes SignBody(body, …) (body itself is not modified; read the signed
// body back from r, or use SignBody). It has the shape of
// providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, signingKey string, now time.Time) error {
	signed, err := SignBody(body, signingKey, now)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(signed))
	r.ContentLength = int64(len(signed))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(signed)), nil }
	return nil
}

// SentAt returns the timestamp signed into a verified delivery
// (provider.Timestamper), for the receiver's clock-skew observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) { return p.p.SentAt(r) }
