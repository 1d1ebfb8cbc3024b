// Package sns verifies and reads Amazon SNS deliveries to HTTP/HTTPS
// subscriptions.
//
// SNS signs each message with an RSA key whose X.509 certificate it names
// in the message itself (SigningCertURL); there is no shared secret and no
// signature header. The body is a JSON document; the signed string is made
// of some of its fields, each as "Name\nvalue\n", in this order:
//
//   - Notification: Message, MessageId, Subject (only when present),
//     Timestamp, TopicArn, Type;
//   - SubscriptionConfirmation and UnsubscribeConfirmation: Message,
//     MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type.
//
// SignatureVersion "1" is RSA PKCS #1 v1.5 with SHA-1 (SHA1withRSA), "2"
// with SHA-256; Signature is base64. Other fields (UnsubscribeURL,
// MessageAttributes, the x-amz-sns-* headers) are not signed and not read.
// Top-level keys are matched exactly and a repeated key is refused, so the
// values verified are the values any JSON reader of the body sees.
//
// Before anything is fetched, Verify checks the message's shape, its
// SignatureVersion, its Timestamp (within the tolerance of the clock, 65
// minutes by default in both directions: AWS caps the total retry time of
// an HTTP/S delivery at 3,600 seconds, plus five minutes for clock skew),
// its TopicArn (when WithTopics restricts them)
// and SigningCertURL: https, host sns.<region>.amazonaws.com or
// sns.<region>.amazonaws.com.cn, default port, a path ending in ".pem", no
// query. The certificate is then fetched through a provider.KeyFetcher
// (by default a keyfetch.Fetcher limited to those hosts: no redirects,
// 64 KiB, 10 s, cached an hour), parsed, checked to be valid now, and its
// RSA key checks the signature. The certificate's chain is not checked:
// as AWS's SDKs do, the https fetch from an SNS host is what authenticates
// it.
//
// MessageAttributes and UnsubscribeURL reach handlers unauthenticated; a
// subscription with raw message delivery enabled sends bodies without any
// signature, which this provider rejects (keep raw delivery off).
//
// Anyone with an AWS account can publish signed SNS messages; a signature
// proves SNS sent the message, not that it came from your topic. Use
// WithTopics to accept only your topics' ARNs.
//
// The envelope's ID is MessageId and its Type is the message Type
// ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"),
// both signed. Replays are bounded by the tolerance and, within it, by
// dedupe on MessageId.
//
// # Subscription confirmations
//
// A SubscriptionConfirmation is verified like a notification. By default it
// is Optional: acknowledged, and queued only when a handler is registered
// for "SubscriptionConfirmation" (which can confirm it by fetching
// SubscribeURL). With WithAutoConfirm (which requires WithTopics), Parse
// confirms it itself with an https GET of SubscribeURL (an SNS host, as for
// certificates; no redirects; through the client WithConfirmClient sets)
// and answers 200, or 502 when the confirmation fails so that the request
// can be sent again. UnsubscribeConfirmation is Optional.
//
// Sources: https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html ;
// https://docs.aws.amazon.com/sns/latest/dg/http-subscription-confirmation-json.html ;
// https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html ;
// aws/aws-php-sns-message-validator src/MessageValidator.php (the signed
// fields, SHA1 for version 1 and SHA256 for 2, the SigningCertURL host
// pattern sns.<region>.amazonaws.com(.cn) and the .pem suffix);
// https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html
// (the 3,600-second retry limit).
//
// Usage:
//
//	p, err := sns.New(sns.WithTopics("arn:aws:sns:us-east-1:123456789012:orders"))
//	if err != nil { … }
//	rcv, err := receiver.New(p, handler) // handler gets "Notification" events
//	http.Handle("/sns", rcv)
package sns

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SignatureVersion 1 is SHA1withRSA
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/keyfetch"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "sns"

// Headers SNS sends (not signed, not read by Verify or Parse).
const (
	HeaderMessageType = "X-Amz-Sns-Message-Type"
	HeaderMessageID   = "X-Amz-Sns-Message-Id"
	HeaderTopicArn    = "X-Amz-Sns-Topic-Arn"
)

// Message types.
const (
	TypeNotification             = "Notification"
	TypeSubscriptionConfirmation = "SubscriptionConfirmation"
	TypeUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// DefaultTolerance is the accepted distance of the signed Timestamp from
// now: SNS's 3,600-second limit on HTTP/S retries plus five minutes of
// clock skew.
const DefaultTolerance = time.Hour + 5*time.Minute

// Hosts are the host patterns (see keyfetch.Config.AllowedHosts) a
// SigningCertURL or SubscribeURL must match.
var Hosts = []string{"sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"}

// maxSignatureBytes bounds the decoded signature (an RSA-4096 signature is
// 512 bytes).
const maxSignatureBytes = 1024

// Errors, all matching verify.ErrVerification.
var (
	// ErrMessage: the body is not an SNS message of a known type with the
	// fields its type signs.
	ErrMessage = fmt.Errorf("%w: sns: malformed message", verify.ErrVerification)
	// ErrCertURL: SigningCertURL is not an https .pem URL on an SNS host.
	ErrCertURL = fmt.Errorf("%w: sns: certificate URL not allowed", verify.ErrVerification)
	// ErrCertificate: the certificate cannot be fetched or parsed, is not
	// valid now, or has no RSA key.
	ErrCertificate = fmt.Errorf("%w: sns: unusable certificate", verify.ErrVerification)
	// ErrTopic: the TopicArn is not one WithTopics accepts.
	ErrTopic = fmt.Errorf("%w: sns: topic not accepted", verify.ErrVerification)
	// ErrTimestamp: the Timestamp is outside the tolerance.
	ErrTimestamp = fmt.Errorf("%w: sns: timestamp outside the tolerance", verify.ErrVerification)
	// ErrSignature: the signature does not match.
	ErrSignature = fmt.Errorf("%w: sns: signature mismatch", verify.ErrVerification)
	// ErrConfiguration: WithAutoConfirm without WithTopics.
	ErrConfiguration = errors.New("sns: auto-confirm requires topics")
)

// Provider verifies and parses SNS deliveries. It is safe for concurrent use.
type Provider struct{ o options }

var _ provider.Provider = (*Provider)(nil)

type options struct {
	topics      []string
	now         func() time.Time
	tolerance   time.Duration
	fetcher     provider.KeyFetcher
	autoConfirm bool
	client      *http.Client
	logger      *slog.Logger
}

// Option configures a Provider.
type Option func(*options)

// WithTopics accepts only messages whose TopicArn is one of arns (compared
// exactly). Without it every topic is accepted.
func WithTopics(arns ...string) Option {
	return func(o *options) { o.topics = append(o.topics, arns...) }
}

// WithClock sets the clock the Timestamp and the certificate's validity are
// checked against (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTolerance sets the accepted distance of the Timestamp from now, in
// both directions (default DefaultTolerance; zero or less keeps the
// default).
func WithTolerance(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.tolerance = d
		}
	}
}

// WithFetcher sets the fetcher of signing certificates (default: a
// keyfetch.Fetcher allowed Hosts only). Verify checks a SigningCertURL
// against Hosts before it calls f.
func WithFetcher(f provider.KeyFetcher) Option { return func(o *options) { o.fetcher = f } }

// WithAutoConfirm has Parse confirm SubscriptionConfirmation messages by
// fetching their SubscribeURL. New refuses it without WithTopics.
func WithAutoConfirm() Option { return func(o *options) { o.autoConfirm = true } }

// WithConfirmClient sets the client that fetches SubscribeURL (default: a
// client with a 10 s timeout). Redirects are never followed.
func WithConfirmClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithLogger sets the logger subscription confirmations are reported to
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// New returns an SNS provider. It returns an error matching
// ErrConfiguration for WithAutoConfirm without WithTopics.
func New(opts ...Option) (*Provider, error) {
	o := options{now: time.Now, tolerance: DefaultTolerance, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.autoConfirm && len(o.topics) == 0 {
		return nil, ErrConfiguration
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.fetcher == nil {
		o.fetcher = keyfetch.New(keyfetch.Config{AllowedHosts: Hosts})
	}
	c := http.Client{Timeout: 10 * time.Second}
	if o.client != nil {
		c = *o.client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.client = &c
	o.topics = slices.Clone(o.topics)
	return &Provider{o}, nil
}

// Name returns "sns".
func (p *Provider) Name() string { return Name }

// message holds the fields of an SNS message that are signed or checked.
type message struct {
	Type, MessageID, Token, TopicArn, Message, Timestamp      string
	SignatureVersion, Signature, SigningCertURL, SubscribeURL string
	Subject                                                   *string
	hasMessage                                                bool // Message is present (it may be empty)
}

// decode reads the top-level string fields of body, refusing anything that
// is not one JSON object, a repeated field, and a non-string field of those
// read.
func decode(body []byte) (message, error) {
	var m message
	d := json.NewDecoder(bytes.NewReader(body))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return m, ErrMessage
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return m, ErrMessage
		}
		key, _ := t.(string)
		var dst **string
		var str *string
		switch key {
		case "Type":
			str = &m.Type
		case "MessageId":
			str = &m.MessageID
		case "Token":
			str = &m.Token
		case "TopicArn":
			str = &m.TopicArn
		case "Message":
			str = &m.Message
		case "Timestamp":
			str = &m.Timestamp
		case "SignatureVersion":
			str = &m.SignatureVersion
		case "Signature":
			str = &m.Signature
		case "SigningCertURL":
			str = &m.SigningCertURL
		case "SubscribeURL":
			str = &m.SubscribeURL
		case "Subject":
			dst = &m.Subject
		}
		if str == nil && dst == nil {
			var skip json.RawMessage
			if d.Decode(&skip) != nil {
				return m, ErrMessage
			}
			continue
		}
		if seen[key] {
			return m, ErrMessage
		}
		seen[key] = true
		var v *string
		if d.Decode(&v) != nil {
			return m, ErrMessage
		}
		switch {
		case dst != nil:
			*dst = v
		case v != nil:
			*str = *v
		}
	}
	m.hasMessage = seen["Message"]
	if _, err := d.Token(); err != nil { // the closing brace
		return m, ErrMessage
	}
	if _, err := d.Token(); err != io.EOF {
		return m, ErrMessage
	}
	return m, nil
}

// canonical returns the string SNS signs for m.
func canonical(m message) ([]byte, error) {
	var b bytes.Buffer
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	switch m.Type {
	case TypeNotification:
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case TypeSubscriptionConfirmation, TypeUnsubscribeConfirmation:
		if m.SubscribeURL == "" || m.Token == "" {
			return nil, ErrMessage
		}
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return nil, ErrMessage
	}
	if !m.hasMessage || m.MessageID == "" || m.TopicArn == "" || m.Timestamp == "" {
		return nil, ErrMessage
	}
	return b.Bytes(), nil
}

// hashFor returns the hash of a SignatureVersion.
func hashFor(version string) (crypto.Hash, bool) {
	switch version {
	case "1":
		return crypto.SHA1, true
	case "2":
		return crypto.SHA256, true
	}
	return 0, false
}

// AllowedURL reports whether raw is an https URL on an SNS host (Hosts),
// on the default port, without user information or fragment.
func AllowedURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Fragment == "" && keyfetch.Allowed(raw, Hosts)
}

// allowedCertURL reports whether raw may name a signing certificate.
func allowedCertURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && AllowedURL(raw) && u.RawQuery == "" && !u.ForceQuery &&
		strings.HasSuffix(u.Path, ".pem")
}

// Verify checks the message's shape, signature version, timestamp, topic
// and certificate URL, and only then fetches the certificate and checks the
// signature over the canonical string.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	m, err := decode(body)
	if err != nil {
		return err
	}
	signed, err := canonical(m)
	if err != nil {
		return err
	}
	h, ok := hashFor(m.SignatureVersion)
	if !ok {
		return ErrMessage
	}
	if base64.StdEncoding.DecodedLen(len(m.Signature)) > maxSignatureBytes+2 {
		return ErrMessage
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) == 0 {
		return ErrMessage
	}
	ts, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	if err != nil {
		return ErrMessage
	}
	now := p.o.now()
	if d := now.Sub(ts); d > p.o.tolerance || d < -p.o.tolerance {
		return ErrTimestamp
	}
	if len(p.o.topics) > 0 && !slices.Contains(p.o.topics, m.TopicArn) {
		return ErrTopic
	}
	if !allowedCertURL(m.SigningCertURL) {
		return ErrCertURL
	}
	key, err := p.certificate(ctxOf(r), m.SigningCertURL, now)
	if err != nil {
		return err
	}
	var digest []byte
	if h == crypto.SHA1 {
		s := sha1.Sum(signed) //nolint:gosec // SignatureVersion 1
		digest = s[:]
	} else {
		s := sha256.Sum256(signed)
		digest = s[:]
	}
	if rsa.VerifyPKCS1v15(key, h, digest, sig) != nil {
		return ErrSignature
	}
	return nil
}

func ctxOf(r *http.Request) context.Context {
	if r == nil {
		return context.Background()
	}
	return r.Context()
}

// certificate fetches and parses the certificate at u and returns its RSA
// key when it is valid at now.
func (p *Provider) certificate(ctx context.Context, u string, now time.Time) (*rsa.PublicKey, error) {
	doc, err := p.o.fetcher.Fetch(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", ErrCertificate, err)
	}
	block, _ := pem.Decode(doc)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, ErrCertificate
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, ErrCertificate
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, ErrCertificate
	}
	return key, nil
}

// Parse reads the envelope: ID from MessageId, Type from Type. A
// SubscriptionConfirmation is confirmed here with WithAutoConfirm, and is
// Optional otherwise; an UnsubscribeConfirmation is Optional.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	m, err := decode(body)
	if err != nil || m.MessageID == "" || m.Type == "" {
		return provider.Envelope{}, fmt.Errorf("%w: sns: no MessageId or Type", provider.ErrMalformedEnvelope)
	}
	env := provider.Envelope{ID: m.MessageID, Type: m.Type}
	switch m.Type {
	case TypeNotification:
	case TypeSubscriptionConfirmation:
		if !p.o.autoConfirm {
			p.o.logger.Info("sns: subscription confirmation received; not confirmed (auto-confirm off)",
				slog.String("provider", Name), slog.String("message_id", m.MessageID))
			env.Optional = true
			return env, nil
		}
		if err := p.confirm(ctxOf(r), m.SubscribeURL); err != nil {
			p.o.logger.Warn("sns: subscription confirmation failed",
				slog.String("provider", Name), slog.String("message_id", m.MessageID), slog.String("error", err.Error()))
			env.Reply = &provider.Reply{Status: http.StatusBadGateway}
			return env, nil
		}
		p.o.logger.Info("sns: subscription confirmed",
			slog.String("provider", Name), slog.String("message_id", m.MessageID))
		env.Reply = &provider.Reply{Status: http.StatusOK}
	case TypeUnsubscribeConfirmation:
		env.Optional = true
	default:
		return provider.Envelope{}, fmt.Errorf("%w: sns: unknown message type", provider.ErrMalformedEnvelope)
	}
	return env, nil
}

// ErrConfirm is returned by Confirm when SubscribeURL is not an SNS URL or
// its fetch fails.
var ErrConfirm = errors.New("sns: subscription confirmation failed")

// maxConfirmBody bounds the confirmation answer read (and discarded).
const maxConfirmBody = 64 << 10

// confirm fetches subscribeURL, an https URL on an SNS host asking
// Action=ConfirmSubscription.
func (p *Provider) confirm(ctx context.Context, subscribeURL string) error {
	u, err := url.Parse(subscribeURL)
	if err != nil || !AllowedURL(subscribeURL) || u.Query().Get("Action") != "ConfirmSubscription" {
		return fmt.Errorf("%w: SubscribeURL not allowed", ErrConfirm)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, subscribeURL, nil)
	if err != nil {
		return fmt.Errorf("%w: bad request", ErrConfirm)
	}
	resp, err := p.o.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: request failed", ErrConfirm)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxConfirmBody))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: status %d", ErrConfirm, resp.StatusCode)
	}
	return nil
}
