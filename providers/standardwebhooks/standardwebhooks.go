// Package standardwebhooks verifies and reads deliveries signed per the
// Standard Webhooks specification, as sent by Svix and the services built on
// it (Clerk, Resend, Brex, …).
//
// The signed content is webhook-id + "." + webhook-timestamp + "." + body.
// The webhook-signature header is a space-separated list of entries:
//
//   - "v1,<base64>": HMAC-SHA256 under the base64-decoded part of the
//     "whsec_<base64>" secret (New, WithSecrets);
//   - "v1a,<base64>": Ed25519 under a "whpk_<base64>" public key
//     (NewAsymmetric, WithPublicKeys).
//
// A delivery verifies when any entry matches any configured key; entries of
// other versions, of a kind no key is configured for, and malformed entries
// are skipped. A list longer than verify.MaxSignatureHeaderBytes or with
// more than verify.MaxSignatureEntries entries, or with more than
// verify.MaxEd25519Signatures distinct v1a signatures when public keys are
// configured, is rejected before any signature is checked; otherwise each
// secret's MAC is computed once, the Ed25519 message is assembled once, and
// each (public key, distinct v1a signature) pair is verified once. The
// timestamp must lie within five minutes of the clock in both directions,
// and is checked before the signatures.
//
// Svix-branded senders use svix-id, svix-timestamp and svix-signature: when
// all three are present they are used, otherwise the webhook-* set.
//
// The envelope's ID is the id header (stable across retries); its Type is the
// body's top-level "type" by convention ("" when absent; WithTypeKey names
// another key, such as Brex's "event_type").
package standardwebhooks

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
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
const Name = "standard"

// DefaultTolerance is the accepted distance of the timestamp from now.
const DefaultTolerance = 5 * time.Minute

// Prefixes of secrets and keys.
const (
	SecretPrefix    = "whsec_"
	PublicKeyPrefix = "whpk_"
)

// Provider verifies and parses Standard Webhooks deliveries. It is safe for
// concurrent use.
type Provider struct {
	mac       *verify.HMAC                   // nil when only public keys are configured or secrets come from a source
	macs      *kit.SourceCache[*verify.HMAC] // the HMAC of a source's secrets (NewFromSource), else nil
	ed        *verify.Ed25519                // nil when no public key is configured
	prefixes  []string                       // the entry prefixes of the configured kinds
	macTag    int                            // index of "v1," in prefixes
	edTag     int                            // index of "v1a," in prefixes
	now       func() time.Time
	tolerance time.Duration
	typePaths [][]string
}

var _ provider.Provider = (*Provider)(nil)

type options struct {
	source    provider.SecretSource
	secrets   []string
	keys      []string
	now       func() time.Time
	tolerance time.Duration
	typeKey   string
}

// Option configures a Provider.
type Option func(*options)

// WithSecrets adds "whsec_" secrets accepted besides the one given to New,
// for a secret rotation.
func WithSecrets(more ...string) Option {
	return func(o *options) { o.secrets = append(o.secrets, more...) }
}

// WithPublicKeys adds "whpk_<base64>" Ed25519 public keys whose "v1a"
// signatures are accepted.
func WithPublicKeys(keys ...string) Option {
	return func(o *options) { o.keys = append(o.keys, keys...) }
}

// WithClock sets the clock the timestamp is checked against (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTolerance sets the accepted distance of the timestamp from now, in both
// directions (default DefaultTolerance; zero or less keeps the default).
func WithTolerance(d time.Duration) Option { return func(o *options) { o.tolerance = d } }

// WithTypeKey names the top-level body key holding the event type (default
// "type").
func WithTypeKey(key string) Option { return func(o *options) { o.typeKey = key } }

// New returns a provider for the symmetric secret "whsec_<base64>" (the
// prefix is optional). It returns an error matching verify.ErrNoSecret when
// a secret is empty, blank or not base64, or a public key given with
// WithPublicKeys is not "whpk_" + base64 of 32 bytes.
func New(secret string, opts ...Option) (*Provider, error) {
	return build(append([]Option{WithSecrets(secret)}, opts...), true)
}

// NewAsymmetric returns a provider accepting "v1a" Ed25519 signatures under
// the public key "whpk_<base64>" (more with WithPublicKeys). "v1" entries are
// skipped unless secrets are added with WithSecrets. It returns an error
// matching verify.ErrNoSecret for a key that is not "whpk_" + base64 of 32
// bytes.
func NewAsymmetric(publicKey string, opts ...Option) (*Provider, error) {
	return build(append([]Option{WithPublicKeys(publicKey)}, opts...), false)
}

// NewFromSource returns a provider whose "whsec_" secrets come from src,
// which the application updates to rotate them without a restart (see
// provider.Secrets): the current secret first, more during a rotation. It
// returns an error matching verify.ErrNoSecret when src holds no secret or
// one that is empty, blank or not base64 (a list that becomes so later
// fails every verification until it is fixed); WithSecrets cannot be
// combined with it. Public keys (WithPublicKeys) stay static.
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	if src == nil {
		return nil, fmt.Errorf("standardwebhooks: nil secret source: %w", verify.ErrNoSecret)
	}
	return build(append([]Option{func(o *options) { o.source = src }}, opts...), false)
}

// newHMAC returns the HMAC of the "whsec_" secrets.
func newHMAC(secrets []string) (*verify.HMAC, error) {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := DecodeSecret(s)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	mac, err := verify.NewHMAC(sha256.New, keys...)
	if err != nil {
		return nil, fmt.Errorf("standardwebhooks: %w", err)
	}
	return mac, nil
}

func build(opts []Option, needSecret bool) (*Provider, error) {
	o := options{typeKey: "type"}
	for _, opt := range opts {
		opt(&o)
	}
	p := &Provider{now: o.now, tolerance: o.tolerance, typePaths: [][]string{{o.typeKey}}}
	if p.now == nil {
		p.now = time.Now
	}
	if p.tolerance <= 0 {
		p.tolerance = DefaultTolerance
	}
	if o.typeKey == "" {
		return nil, errors.New("standardwebhooks: empty type key")
	}
	switch {
	case o.source != nil && len(o.secrets) > 0:
		return nil, errors.New("standardwebhooks: secrets given with a secret source")
	case o.source != nil:
		macs, err := kit.NewSourceCache(o.source, newHMAC)
		if err != nil {
			return nil, fmt.Errorf("standardwebhooks: secret source: %w", err)
		}
		p.macs = macs
	case needSecret || len(o.secrets) > 0:
		mac, err := newHMAC(o.secrets)
		if err != nil {
			return nil, err
		}
		p.mac = mac
	}
	if len(o.keys) > 0 {
		keys := make([]ed25519.PublicKey, len(o.keys))
		for i, s := range o.keys {
			b64, _ := strings.CutPrefix(strings.TrimSpace(s), PublicKeyPrefix)
			k, err := decodeBase64(b64)
			if err != nil || len(k) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("standardwebhooks: public key is not whpk_ + base64 of 32 bytes: %w", verify.ErrNoSecret)
			}
			keys[i] = k
		}
		ed, err := verify.NewEd25519(keys...)
		if err != nil {
			return nil, fmt.Errorf("standardwebhooks: %w", err)
		}
		p.ed = ed
	}
	if p.mac != nil || p.macs != nil {
		p.macTag = len(p.prefixes)
		p.prefixes = append(p.prefixes, "v1,")
	}
	if p.ed != nil {
		p.edTag = len(p.prefixes)
		p.prefixes = append(p.prefixes, "v1a,")
	}
	return p, nil
}

// DecodeSecret returns the HMAC key of a "whsec_<base64>" secret (the prefix
// is optional). It returns an error matching verify.ErrNoSecret when the
// secret is empty, blank or not base64.
func DecodeSecret(secret string) ([]byte, error) {
	b64, _ := strings.CutPrefix(strings.TrimSpace(secret), SecretPrefix)
	if b64 == "" {
		return nil, fmt.Errorf("standardwebhooks: %w", verify.ErrNoSecret)
	}
	k, err := decodeBase64(b64)
	if err != nil || len(k) == 0 {
		return nil, fmt.Errorf("standardwebhooks: secret is not whsec_ + base64: %w", verify.ErrNoSecret)
	}
	return k, nil
}

// decodeBase64 accepts padded or unpadded standard base64.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Name returns "standard".
func (p *Provider) Name() string { return Name }

// headers returns the id, timestamp and signature headers: the svix-* set
// when all three are present, else the webhook-* set.
func headers(h http.Header) (id, ts, sig string) {
	// Canonical names: http.Header.Get would canonicalise lower-case ones on
	// every call, allocating.
	id, ts, sig = h.Get("Svix-Id"), h.Get("Svix-Timestamp"), h.Get("Svix-Signature")
	if id != "" && ts != "" && sig != "" {
		return id, ts, sig
	}
	return h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
}

var dot = []byte(".")

// Verify checks the headers, then the signature list's bounds and syntax
// (verify.ParseSignatures), then the timestamp's window, and only then the
// signatures over id.timestamp.body: each secret's MAC is computed once and
// the Ed25519 message joined once, whatever the number of entries.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	mac := p.mac
	if p.macs != nil {
		var err error
		if mac, err = p.macs.Get(); err != nil {
			// A source that went bad fails closed, as a verification
			// failure (401) that still says why.
			return fmt.Errorf("standardwebhooks: secret source: %w: %w", err, verify.ErrVerification)
		}
	}
	id, ts, sig := headers(r.Header)
	switch {
	case sig == "":
		return fmt.Errorf("standardwebhooks: %w", verify.ErrMissingSignature)
	case ts == "":
		return fmt.Errorf("standardwebhooks: %w", verify.ErrMissingTimestamp)
	case id == "":
		return fmt.Errorf("standardwebhooks: missing id: %w", verify.ErrMalformedSignature)
	}
	var sigs verify.Signatures
	if err := verify.ParseSignatures(&sigs, sig, " ", verify.Base64, p.prefixes...); err != nil {
		return fmt.Errorf("standardwebhooks: %w", err)
	}
	if p.ed != nil && verify.TooManyEd25519(&sigs, p.edTag) {
		return fmt.Errorf("standardwebhooks: more than %d v1a signatures: %w", verify.MaxEd25519Signatures, verify.ErrSignatureHeaderTooLarge)
	}
	if err := verify.CheckUnix(ts, p.now(), p.tolerance); err != nil {
		return fmt.Errorf("standardwebhooks: %w", err)
	}
	parts := [][]byte{[]byte(id), dot, []byte(ts), dot, body}
	ok := false
	if mac != nil && mac.MatchAny(&sigs, p.macTag, parts...) {
		ok = true
	}
	if p.ed != nil && p.ed.MatchAny(&sigs, p.edTag, parts...) {
		ok = true
	}
	if !ok {
		return fmt.Errorf("standardwebhooks: %w", verify.ErrSignatureMismatch)
	}
	return nil
}

// Parse reads the envelope: ID from the id header, Type from the body.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	id, _, _ := headers(r.Header)
	if id == "" {
		return provider.Envelope{}, fmt.Errorf("standardwebhooks: missing id header: %w", provider.ErrMalformedEnvelope)
	}
	var vals [1][]byte
	if err := jsonscan.GetMany(body, p.typePaths, vals[:]); err != nil {
		return provider.Envelope{}, fmt.Errorf("standardwebhooks: body: %w: %w", err, provider.ErrMalformedEnvelope)
	}
	env := provider.Envelope{ID: id}
	if vals[0] != nil && !jsonscan.IsNull(vals[0]) {
		t, err := jsonscan.String(vals[0])
		if err != nil {
			return provider.Envelope{}, fmt.Errorf("standardwebhooks: type: %w: %w", err, provider.ErrMalformedEnvelope)
		}
		env.Type = t
	}
	return env, nil
}

func content(id string, t time.Time, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(id) + 24 + len(body))
	b.WriteString(id)
	b.WriteByte('.')
	b.WriteString(strconv.FormatInt(t.Unix(), 10))
	b.WriteByte('.')
	b.Write(body)
	return b.Bytes()
}

// Sign returns the "v1,<base64>" signature of body with id at t under the
// "whsec_" secret. It returns an error matching verify.ErrNoSecret for a bad
// secret.
func Sign(secret, id string, t time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write(content(id, t, body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// SignRequest signs r, whose body is body, as a Standard Webhooks sender
// does with the "whsec_" secret at now: it reads the message ID from r's
// webhook-id header and sets webhook-timestamp and webhook-signature (a
// single "v1," entry), or, when r carries svix-id and no webhook-id, sets
// svix-timestamp and svix-signature. It returns an error when r carries
// neither ID header, and one matching verify.ErrNoSecret for a bad
// secret. It has the shape of providertest.Harness.Sign.
func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
	idHeader, tsHeader, sigHeader := "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"
	if r.Header.Get(idHeader) == "" && r.Header.Get("Svix-Id") != "" {
		idHeader, tsHeader, sigHeader = "Svix-Id", "Svix-Timestamp", "Svix-Signature"
	}
	id := r.Header.Get(idHeader)
	if id == "" {
		return errors.New("standardwebhooks: SignRequest: the request has no webhook-id header")
	}
	sig, err := Sign(secret, id, now, body)
	if err != nil {
		return err
	}
	r.Header.Set(tsHeader, strconv.FormatInt(now.Unix(), 10))
	r.Header.Set(sigHeader, sig)
	return nil
}

// SignEd25519 returns the "v1a,<base64>" signature of body with id at t under
// the private key.
func SignEd25519(key ed25519.PrivateKey, id string, t time.Time, body []byte) string {
	return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(key, content(id, t, body)))
}

// NewRequest returns a signed delivery of body to url with the unbranded
// webhook-id, webhook-timestamp and webhook-signature headers and
// Content-Type application/json, for tests. It panics when the secret is
// not a Standard Webhooks secret or url cannot be parsed, like the other
// providers' NewRequest and httptest.NewRequest; Sign returns the error
// instead.
func NewRequest(url, secret, id string, t time.Time, body []byte) *http.Request {
	sig, err := Sign(secret, id, t, body)
	if err != nil {
		panic("standardwebhooks: NewRequest: " + err.Error())
	}
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic("standardwebhooks: NewRequest: " + err.Error())
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("webhook-id", id)
	r.Header.Set("webhook-timestamp", strconv.FormatInt(t.Unix(), 10))
	r.Header.Set("webhook-signature", sig)
	return r
}

// SentAt returns the webhook-timestamp (svix-timestamp) of a verified
// delivery (provider.Timestamper), for the receiver's clock-skew
// observations.
func (p *Provider) SentAt(r *http.Request) (time.Time, bool) {
	_, ts, _ := headers(r.Header)
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(secs, 0), true
}
