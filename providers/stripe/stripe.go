// Package stripe verifies and reads Stripe webhook deliveries.
//
// Stripe signs t + "." + body with HMAC-SHA256, keyed with the whole endpoint
// secret string ("whsec_…", not decoded), and sends
//
//	Stripe-Signature: t=1735689600,v1=<hex>[,v1=<hex>…][,v0=<hex>]
//
// The header is split on "," and each element on its first "=". Only v1
// signatures are checked (v0 is a test-mode signature under a fake key and
// never accepted); unknown keys and v1 values that are not hex are skipped,
// and a delivery verifies when any v1 matches any configured secret (Stripe
// sends one v1 per active secret while a secret is rolled). Exactly one t is
// required.
//
// A header longer than verify.MaxSignatureHeaderBytes or with more than
// verify.MaxSignatureEntries elements is rejected before any MAC is
// computed; otherwise each secret's MAC is computed once per request and
// compared with every v1.
//
// The timestamp must lie within the tolerance (default five minutes) of the
// clock in both directions, and is checked before the signature. This is
// stricter than stripe-go, which rejects only timestamps too far in the
// past: a timestamp from the future is a forgery or a broken clock either
// way.
//
// The envelope's ID and Type are the body's top-level id ("evt_…") and type
// ("invoice.paid"); Version is api_version when present.
package stripe

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "stripe"

// HeaderSignature is the signature header.
const HeaderSignature = "Stripe-Signature"

// DefaultTolerance is the accepted distance of the signed timestamp from now.
const DefaultTolerance = 300 * time.Second

// Provider verifies and parses Stripe deliveries. It is safe for concurrent use.
type Provider struct {
	mac       *verify.HMAC
	now       func() time.Time
	tolerance time.Duration
}

var _ provider.Provider = (*Provider)(nil)

type options struct {
	secrets   []string
	now       func() time.Time
	tolerance time.Duration
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds endpoint secrets accepted besides the one given to New,
// for a secret rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { o.secrets = append(o.secrets, more...) }
}

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return func(o *options) { o.tolerance = d } }

// New returns a provider for the endpoint secret ("whsec_…"). It returns an
// error matching verify.ErrNoSecret when a secret is empty or blank.
func New(secret string, opts ...Option) (*Provider, error) {
	o := options{secrets: []string{secret}, now: time.Now, tolerance: DefaultTolerance}
	for _, opt := range opts {
		opt(&o)
	}
	keys := make([][]byte, len(o.secrets))
	for i, s := range o.secrets {
		keys[i] = []byte(s)
	}
	mac, err := verify.NewHMAC(sha256.New, keys...)
	if err != nil {
		return nil, fmt.Errorf("stripe: %w", err)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.tolerance <= 0 {
		o.tolerance = DefaultTolerance
	}
	return &Provider{mac: mac, now: o.now, tolerance: o.tolerance}, nil
}

// Name returns "stripe".
func (p *Provider) Name() string { return Name }

var dot = []byte(".")

// Verify checks the Stripe-Signature header: first its bounds and syntax
// (at most verify.MaxSignatureEntries elements, t included, and
// verify.MaxSignatureHeaderBytes bytes), then the timestamp's window, and
// only then the v1 signatures over the raw body, with each secret's MAC
// computed once whatever the number of v1 elements.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	header := r.Header.Get(HeaderSignature)
	if header == "" {
		return fmt.Errorf("stripe: %w", verify.ErrMissingSignature)
	}
	var sigs verify.Signatures
	if err := verify.ParseSignatures(&sigs, header, ",", verify.Hex, "v1="); err != nil {
		return fmt.Errorf("stripe: %w", err)
	}
	ts, err := timestamp(header)
	if err != nil {
		return fmt.Errorf("stripe: %w", err)
	}
	if err := verify.CheckUnix(ts, p.now(), p.tolerance); err != nil {
		return fmt.Errorf("stripe: %w", err)
	}
	if !p.mac.MatchAny(&sigs, 0, []byte(ts), dot, body) {
		return fmt.Errorf("stripe: %w", verify.ErrSignatureMismatch)
	}
	return nil
}

// timestamp returns the raw value of the header's single t element.
func timestamp(header string) (string, error) {
	var ts string
	found := false
	for header != "" {
		var elem string
		elem, header, _ = strings.Cut(header, ",")
		k, v, ok := strings.Cut(strings.TrimSpace(elem), "=")
		if !ok || k != "t" {
			continue
		}
		if found {
			return "", verify.ErrMalformedTimestamp
		}
		ts, found = v, true
	}
	if !found || ts == "" {
		return "", verify.ErrMissingTimestamp
	}
	return ts, nil
}

var envelopePaths = [][]string{{"id"}, {"type"}, {"api_version"}}

// Parse reads the envelope from the body's id, type and api_version.
func (p *Provider) Parse(_ *http.Request, body []byte) (provider.Envelope, error) {
	var vals [3][]byte
	if err := jsonscan.GetMany(body, envelopePaths, vals[:]); err != nil {
		return provider.Envelope{}, fmt.Errorf("stripe: body: %w: %w", err, provider.ErrMalformedEnvelope)
	}
	var env provider.Envelope
	var err error
	if env.ID, err = field(vals[0], "id", true); err != nil {
		return env, err
	}
	if env.Type, err = field(vals[1], "type", true); err != nil {
		return provider.Envelope{}, err
	}
	if env.Version, err = field(vals[2], "api_version", false); err != nil {
		return provider.Envelope{}, err
	}
	return env, nil
}

func field(raw []byte, name string, required bool) (string, error) {
	if raw == nil || jsonscan.IsNull(raw) {
		if required {
			return "", fmt.Errorf("stripe: body has no %s: %w", name, provider.ErrMalformedEnvelope)
		}
		return "", nil
	}
	s, err := jsonscan.String(raw)
	if err != nil {
		return "", fmt.Errorf("stripe: %s: %w: %w", name, err, provider.ErrMalformedEnvelope)
	}
	if required && s == "" {
		return "", fmt.Errorf("stripe: body has an empty %s: %w", name, provider.ErrMalformedEnvelope)
	}
	return s, nil
}

// Sign returns the Stripe-Signature header value for body signed under
// secret at t: "t=<unix>,v1=<hex>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write(dot)
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// NewRequest returns a signed delivery of body to url as Stripe sends it, for
// tests: a POST with Stripe-Signature and Content-Type
// "application/json; charset=utf-8". It panics when url cannot be parsed,
// like httptest.NewRequest.
func NewRequest(url, secret string, t time.Time, body []byte) *http.Request {
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic("stripe: NewRequest: " + err.Error())
	}
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	r.Header.Set(HeaderSignature, Sign(secret, t, body))
	return r
}
