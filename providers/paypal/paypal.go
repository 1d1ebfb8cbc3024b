// Package paypal verifies and reads PayPal webhook deliveries: REST webhooks
// (New) and legacy Instant Payment Notifications (NewIPN, see IPN).
//
// # REST webhooks
//
// PayPal signs each transmission with its private key (RSA PKCS#1 v1.5 over
// SHA-256, PAYPAL-AUTH-ALGO "SHA256withRSA"; any other algorithm is
// refused) and sends the base64 signature in PAYPAL-TRANSMISSION-SIG. The
// signed message is
//
//	PAYPAL-TRANSMISSION-ID + "|" + PAYPAL-TRANSMISSION-TIME + "|" + webhook ID + "|" + crc32(body)
//
// where the webhook ID is the ID of your webhook in the developer dashboard
// (it is not in the request: WithWebhookID, required) and crc32 is the
// IEEE CRC-32 of the raw body written as an unsigned decimal. The body is
// therefore covered only through a CRC-32, which is not collision
// resistant: whoever sees a genuine transmission (TLS terminated in a
// proxy, a log of headers and bodies) can craft another body with the same
// CRC and replay the headers within the time window. That is PayPal's
// design; the window bounds it, and keeping deliveries' headers and bodies
// out of logs matters more here than for an HMAC scheme.
//
// The verifying certificate is either configured (WithCertificates, or a
// provider.SecretSource of PEM certificates through NewFromSource: pinned,
// PAYPAL-CERT-URL is then ignored; only their validity period is checked)
// or fetched from PAYPAL-CERT-URL. A fetched certificate is accepted only
// when the URL is https on one of PayPal's API hosts (api.paypal.com,
// api-m.paypal.com, api.sandbox.paypal.com, api-m.sandbox.paypal.com; no
// other port, user info, query or fragment) under /v1/notifications/certs/,
// the response came without a redirect, within MaxCertBytes and
// DefaultFetchTimeout, and the leaf certificate names
// messageverificationcerts.paypal.com or
// messageverificationcerts.sandbox.paypal.com (subject common name or DNS
// SAN, as PayPal's Java SDK, SSLUtil.validateCertificateChain, checks),
// is within its validity period and chains to a trusted root (the system
// roots; WithRoots for tests). Certificates are cached per URL until they
// expire (at most MaxCachedCerts, a day at most each); a URL that failed is
// not fetched again for FailedFetchBackoff, and fetches run one at a time,
// so forged deliveries naming new URLs cost at most one outbound request at
// a time. The fetcher is a provider.KeyFetcher, by default a
// keyfetch.Fetcher allowed CertHosts only; WithFetcher replaces it.
//
// Every header is checked before any fetch or RSA operation: presence, one
// value each, bounded lengths, the algorithm, the time window and the
// signature's encoding.
//
// PAYPAL-TRANSMISSION-TIME (RFC 3339) must lie within DefaultTolerance
// (five minutes) of the clock, in both directions (WithTolerance changes
// it). PayPal documents no window. It retries an unacknowledged event for
// up to three days; each attempt is a transmission of its own (the event's
// transmissions list, GET /v1/notifications/webhooks-events/{id}, has one
// transmission_id and time per attempt), so the window refuses replays of
// old transmissions, not retries, and dedupe on the event ID catches a
// retry of an event already handled. Should retries arrive with an old
// transmission time, widen the window.
//
// The envelope's ID is the body's id ("WH-…", the event's ID, the same
// across retries; signed through the CRC), its Type event_type
// ("PAYMENT.CAPTURE.COMPLETED") and its Version event_version.
//
// PayPal's alternative, POST /v1/notifications/verify-webhook-signature, is
// not used: it needs API credentials and a round trip per event.
//
// Sources: https://developer.paypal.com/api/rest/webhooks/rest/ (message
// layout, headers), https://developer.paypal.com/api/rest/webhooks/ (retries),
// PayPal-Java-SDK SSLUtil.validateCertificateChain (certificate name rule).
//
// # Usage
//
//	p, err := paypal.New(paypal.WithWebhookID("1JE4291016473214C"))
//	if err != nil { … }
//	rcv, err := receiver.New(p, handler)
package paypal

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "paypal"

// The headers of a REST webhook delivery.
const (
	HeaderTransmissionID   = "Paypal-Transmission-Id"
	HeaderTransmissionTime = "Paypal-Transmission-Time"
	HeaderTransmissionSig  = "Paypal-Transmission-Sig"
	HeaderCertURL          = "Paypal-Cert-Url"
	HeaderAuthAlgo         = "Paypal-Auth-Algo"
)

// AuthAlgo is the only PAYPAL-AUTH-ALGO accepted.
const AuthAlgo = "SHA256withRSA"

// DefaultTolerance is the accepted distance of PAYPAL-TRANSMISSION-TIME from
// now, in both directions.
const DefaultTolerance = 5 * time.Minute

// Bounds of the headers, checked before any other work.
const (
	maxIDLen      = 128
	maxTimeLen    = 64
	maxSigLen     = 1024 // base64 of a 4096-bit RSA signature is 684 bytes
	maxCertURLLen = 512
	maxWebhookID  = 128
)

// Provider verifies and parses PayPal REST webhook deliveries. It is safe
// for concurrent use.
type Provider struct {
	webhookID string
	now       func() time.Time
	tolerance time.Duration
	pinned    *kit.SourceCache[[]*x509.Certificate] // nil: fetch
	certs     *certCache
}

var _ provider.Provider = (*Provider)(nil)

type options struct {
	webhookID string
	certs     []string
	source    provider.SecretSource
	now       func() time.Time
	tolerance time.Duration
	fetch     provider.KeyFetcher
	roots     *x509.CertPool
}

// Option configures a Provider.
type Option func(*options)

// WithWebhookID sets the ID of the webhook in PayPal's developer dashboard,
// part of the signed message. Required.
func WithWebhookID(id string) Option { return func(o *options) { o.webhookID = id } }

// WithCertificates pins the PEM certificates (or bundles) that verify
// deliveries, instead of fetching PAYPAL-CERT-URL: the current one first,
// more during a rotation. Only their validity period is checked.
func WithCertificates(pem ...string) Option {
	return func(o *options) { o.certs = append(o.certs, pem...) }
}

// WithClock sets the clock the transmission time and certificates are
// checked against (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTolerance sets the accepted distance of the transmission time from
// now, in both directions (default DefaultTolerance; zero or less keeps the
// default).
func WithTolerance(d time.Duration) Option { return func(o *options) { o.tolerance = d } }

// WithFetcher replaces the fetcher of PAYPAL-CERT-URL (default: a
// keyfetch.Fetcher allowed CertHosts only). It is called only with a URL
// that passed the host and path checks, under a context bounded by
// DefaultFetchTimeout; the certificate's name, validity and chain are
// checked on what it returns.
func WithFetcher(f provider.KeyFetcher) Option { return func(o *options) { o.fetch = f } }

// WithRoots sets the roots a fetched certificate must chain to (default:
// the system roots). For tests.
func WithRoots(roots *x509.CertPool) Option { return func(o *options) { o.roots = roots } }

// ErrNoWebhookID is returned by New when WithWebhookID is missing or blank.
var ErrNoWebhookID = errors.New("paypal: no webhook ID configured")

// New returns a provider for the webhook WithWebhookID names. Without
// WithCertificates it fetches the certificate PAYPAL-CERT-URL names. It
// returns an error matching ErrNoWebhookID without a webhook ID, and one
// matching verify.ErrNoSecret for a certificate that is empty or not a PEM
// certificate with an RSA key.
func New(opts ...Option) (*Provider, error) {
	o := apply(opts)
	var pinned *kit.SourceCache[[]*x509.Certificate]
	if len(o.certs) > 0 {
		var err error
		if pinned, err = kit.NewSourceCache(staticCerts(o.certs), parseCerts); err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
	}
	return build(o, pinned)
}

// NewFromSource returns a provider whose pinned PEM certificates come from
// src, which the application updates to rotate them without a restart (see
// provider.Secrets).
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	o := apply(opts)
	if src == nil {
		return nil, fmt.Errorf("%s: nil certificate source: %w", Name, verify.ErrNoSecret)
	}
	if len(o.certs) > 0 {
		return nil, fmt.Errorf("%s: certificates given with a certificate source: %w", Name, verify.ErrNoSecret)
	}
	pinned, err := kit.NewSourceCache(src, parseCerts)
	if err != nil {
		return nil, fmt.Errorf("%s: certificate source: %w", Name, err)
	}
	return build(o, pinned)
}

func apply(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.tolerance <= 0 {
		o.tolerance = DefaultTolerance
	}
	if o.fetch == nil {
		o.fetch = defaultFetcher()
	}
	return o
}

func build(o options, pinned *kit.SourceCache[[]*x509.Certificate]) (*Provider, error) {
	id := strings.TrimSpace(o.webhookID)
	if id == "" {
		return nil, ErrNoWebhookID
	}
	if len(id) > maxWebhookID || strings.ContainsAny(id, "|") {
		return nil, fmt.Errorf("%w: the webhook ID is malformed", ErrNoWebhookID)
	}
	p := &Provider{webhookID: id, now: o.now, tolerance: o.tolerance, pinned: pinned}
	if pinned == nil {
		p.certs = newCertCache(o.fetch, o.roots)
	}
	return p, nil
}

// staticCerts is the source of certificates given to WithCertificates.
type staticCerts []string

func (s staticCerts) Secrets() []string { return s }

// parseCerts decodes pinned PEM certificates: every CERTIFICATE block of
// each secret, which must hold at least one with an RSA key.
func parseCerts(secrets []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for i, s := range secrets {
		certs, err := parsePEM([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("certificate %d of %d: %w: %w", i+1, len(secrets), err, verify.ErrNoSecret)
		}
		out = append(out, certs...)
	}
	return out, nil
}

// parsePEM returns the certificates of a PEM bundle; the first must have an
// RSA public key.
func parsePEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errors.New("not a valid X.509 certificate")
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	if _, ok := out[0].PublicKey.(*rsa.PublicKey); !ok {
		return nil, errors.New("not an RSA certificate")
	}
	return out, nil
}

// Name returns "paypal".
func (p *Provider) Name() string { return Name }

// Tolerance returns the transmission time window in force.
func (p *Provider) Tolerance() time.Duration { return p.tolerance }

func fail(err error, what string) error { return fmt.Errorf("%s: %s: %w", Name, what, err) }

// header returns the single value of name, refusing none, several, or one
// longer than max.
func header(r *http.Request, name string, max int) (string, error) {
	vs := r.Header.Values(name)
	switch {
	case len(vs) == 0 || vs[0] == "":
		return "", fail(verify.ErrMissingSignature, "no "+name)
	case len(vs) > 1:
		return "", fail(verify.ErrMalformedSignature, "several "+name)
	case len(vs[0]) > max:
		return "", fail(verify.ErrSignatureHeaderTooLarge, name+" too long")
	}
	return vs[0], nil
}

// Verify checks the transmission signature: the headers, the algorithm and
// the time window first, then the certificate (pinned, or fetched and
// validated) and one RSA verification per candidate certificate. Errors
// match verify.ErrVerification and quote no header value.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	id, err := header(r, HeaderTransmissionID, maxIDLen)
	if err != nil {
		return err
	}
	if !printable(id) || strings.Contains(id, "|") {
		return fail(verify.ErrMalformedSignature, "malformed "+HeaderTransmissionID)
	}
	algo, err := header(r, HeaderAuthAlgo, 64)
	if err != nil {
		return err
	}
	if algo != AuthAlgo {
		return fail(verify.ErrMalformedSignature, "unsupported "+HeaderAuthAlgo)
	}
	ts, err := header(r, HeaderTransmissionTime, maxTimeLen)
	if err != nil {
		return fail(verify.ErrMissingTimestamp, "no valid "+HeaderTransmissionTime)
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return fail(verify.ErrMalformedTimestamp, HeaderTransmissionTime)
	}
	now := p.now()
	if d := now.Sub(at); d > p.tolerance || d < -p.tolerance {
		return fail(verify.ErrTimestampOutsideWindow, HeaderTransmissionTime)
	}
	sig64, err := header(r, HeaderTransmissionSig, maxSigLen)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sig64)
	if err != nil || len(sig) < 128 {
		return fail(verify.ErrMalformedSignature, "malformed "+HeaderTransmissionSig)
	}

	var certs []*x509.Certificate
	if p.pinned != nil {
		all, err := p.pinned.Get()
		if err != nil {
			return fail(verify.ErrSignatureMismatch, "pinned certificates unusable: "+err.Error())
		}
		for _, c := range all {
			if _, ok := c.PublicKey.(*rsa.PublicKey); ok && !now.Before(c.NotBefore) && !now.After(c.NotAfter) {
				certs = append(certs, c)
			}
		}
		if len(certs) == 0 {
			return fail(verify.ErrSignatureMismatch, "no pinned certificate is within its validity period")
		}
	} else {
		u, err := header(r, HeaderCertURL, maxCertURLLen)
		if err != nil {
			return err
		}
		c, err := p.certs.get(r.Context(), u, now)
		if err != nil {
			return fail(verify.ErrSignatureMismatch, err.Error())
		}
		certs = []*x509.Certificate{c}
	}

	digest := sha256.Sum256(message(id, ts, p.webhookID, body))
	for _, c := range certs {
		pub := c.PublicKey.(*rsa.PublicKey)
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil {
			return nil
		}
	}
	return fail(verify.ErrSignatureMismatch, "transmission signature")
}

// message returns the signed message.
func message(id, ts, webhookID string, body []byte) []byte {
	m := make([]byte, 0, len(id)+len(ts)+len(webhookID)+16)
	m = append(m, id...)
	m = append(m, '|')
	m = append(m, ts...)
	m = append(m, '|')
	m = append(m, webhookID...)
	m = append(m, '|')
	return strconv.AppendUint(m, uint64(crc32.ChecksumIEEE(body)), 10)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

var envelopePaths = [][]string{{"id"}, {"event_type"}, {"event_version"}}

// Parse reads the event ID from the body's id, the type from event_type and
// the version from event_version. Its errors match
// provider.ErrMalformedEnvelope.
func (p *Provider) Parse(_ *http.Request, body []byte) (provider.Envelope, error) {
	var vals [3][]byte
	if err := jsonscan.GetMany(body, envelopePaths, vals[:]); err != nil {
		return provider.Envelope{}, fmt.Errorf("%s: body: %w: %w", Name, err, provider.ErrMalformedEnvelope)
	}
	var out [3]string
	for i, name := range []string{"id", "event_type", "event_version"} {
		if vals[i] == nil || jsonscan.IsNull(vals[i]) {
			continue
		}
		s, err := jsonscan.String(vals[i])
		if err != nil {
			return provider.Envelope{}, fmt.Errorf("%s: body %s: %w: %w", Name, name, err, provider.ErrMalformedEnvelope)
		}
		out[i] = s
	}
	if out[0] == "" {
		return provider.Envelope{}, fmt.Errorf("%s: no body id: %w", Name, provider.ErrMalformedEnvelope)
	}
	if out[1] == "" {
		return provider.Envelope{}, fmt.Errorf("%s: no body event_type: %w", Name, provider.ErrMalformedEnvelope)
	}
	return provider.Envelope{ID: out[0], Type: out[1], Version: out[2]}, nil
}

// NewSigner returns a function that signs requests as PayPal does, for
// tests, with the shape of providertest.Harness.Sign: its secret is a PEM
// RSA private key (PKCS#1 or PKCS#8). It sets the five PAYPAL-* headers,
// with a fresh transmission ID, webhookID in the signed message and certURL
// as PAYPAL-CERT-URL. (PayPal's message includes the receiver's webhook ID,
// which the harness shape has no room for, hence a constructor.)
func NewSigner(webhookID, certURL string) func(r *http.Request, body []byte, secret string, now time.Time) error {
	return func(r *http.Request, body []byte, secret string, now time.Time) error {
		b, _ := pem.Decode([]byte(secret))
		if b == nil {
			return fmt.Errorf("%s: the signing key is not PEM: %w", Name, verify.ErrNoSecret)
		}
		var key *rsa.PrivateKey
		if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			key = k
		} else if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			key, _ = k.(*rsa.PrivateKey)
		}
		if key == nil {
			return fmt.Errorf("%s: the signing key is not an RSA private key: %w", Name, verify.ErrNoSecret)
		}
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		id := fmt.Sprintf("%x-%x-11e5-baa3-778b53f4ae55", rnd[:4], rnd[4:6])
		ts := now.UTC().Format(time.RFC3339)
		digest := sha256.Sum256(message(id, ts, webhookID, body))
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
		if err != nil {
			return fmt.Errorf("%s: sign: %w", Name, err)
		}
		r.Header.Set(HeaderTransmissionID, id)
		r.Header.Set(HeaderTransmissionTime, ts)
		r.Header.Set(HeaderTransmissionSig, base64.StdEncoding.EncodeToString(sig))
		r.Header.Set(HeaderAuthAlgo, AuthAlgo)
		r.Header.Set(HeaderCertURL, certURL)
		return nil
	}
}
