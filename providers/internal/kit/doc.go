// Package kit is what every bundled provider shares, written once: options
// (secrets and their rotation, a secret source updated at run time, clock,
// tolerance, public URL) and their validation, and declared schemes. A
// provider whose sender signs with an HMAC (SHA-1, SHA-256, SHA-512) over
// the body or a composed string, an Ed25519 or ECDSA P-256 signature, a
// static token or HTTP Basic credentials is a Scheme value, not code: the
// Scheme's New builds the verifier and envelope parser, its Sign signs
// requests as the sender does, for tests.
//
// Everything rests on package verify, so its rules hold for every declared
// provider: the signature header is bounded (verify.MaxSignatureHeaderBytes,
// verify.MaxSignatureEntries) before any MAC is computed, one MAC is
// computed per secret whatever the number of signatures in the header,
// comparisons are constant-time, the timestamp is checked before the MAC,
// and errors match verify.ErrVerification and quote neither secrets nor
// header values. Envelope errors match provider.ErrMalformedEnvelope; JSON
// values are read with internal/jsonscan, which refuses ambiguous keys.
//
// # A provider package
//
// A whole provider, Shopify's scheme (base64 HMAC-SHA256 of the body, the
// event ID and topic in headers), is this file; a provider with a
// timestamp adds WithClock and WithTolerance, one line each:
//
//	// Package shopify verifies and reads Shopify webhook deliveries: …
//	package shopify
//
//	import (
//		"net/http"
//		"time"
//
//		"github.com/hookwise/hookwise/provider"
//		"github.com/hookwise/hookwise/providers/internal/kit"
//		"github.com/hookwise/hookwise/verify"
//	)
//
//	// Name is the provider's name.
//	const Name = "shopify"
//
//	// HeaderSignature is the signature header.
//	const HeaderSignature = "X-Shopify-Hmac-Sha256"
//
//	var scheme = &kit.Scheme{
//		Name:      Name,
//		Algorithm: kit.HMACSHA256,
//		Signature: kit.Signature{Header: HeaderSignature, Encoding: verify.Base64},
//		Envelope: kit.Envelope{
//			ID:   kit.Field{Header: "X-Shopify-Event-Id", Required: true},
//			Type: kit.Field{Header: "X-Shopify-Topic", Required: true},
//		},
//	}
//
//	// Provider verifies and parses Shopify deliveries. It is safe for concurrent use.
//	type Provider struct{ p *kit.Provider }
//
//	var _ provider.Provider = (*Provider)(nil)
//
//	// Option configures a Provider.
//	type Option func(*kit.Options)
//
//	// WithSecrets adds client secrets accepted besides the one given to New, for a rotation.
//	func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }
//
//	// New returns a provider for the app's client secret. It returns an error
//	// matching verify.ErrNoSecret when a secret is empty or blank.
//	func New(secret string, opts ...Option) (*Provider, error) { return build(kit.Apply(secret, opts)) }
//
//	// NewFromSource returns a provider whose secrets come from src, which the
//	// application updates to rotate them without a restart (see provider.Secrets).
//	func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
//		return build(kit.ApplySource(src, opts))
//	}
//
//	func build(o kit.Options) (*Provider, error) {
//		p, err := scheme.New(o)
//		if err != nil {
//			return nil, err
//		}
//		return &Provider{p}, nil
//	}
//
//	// Name returns "shopify".
//	func (p *Provider) Name() string { return Name }
//
//	// Verify checks X-Shopify-Hmac-Sha256 over the raw body.
//	func (p *Provider) Verify(r *http.Request, body []byte) error { return p.p.Verify(r, body) }
//
//	// Parse reads the event ID from X-Shopify-Event-Id and the type from X-Shopify-Topic.
//	func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
//		return p.p.Parse(r, body)
//	}
//
//	// SignRequest signs r as Shopify does, for tests. It has the shape of
//	// providertest.Harness.Sign.
//	func SignRequest(r *http.Request, body []byte, secret string, now time.Time) error {
//		return scheme.Sign(r, body, secret, now)
//	}
//
// Its conformance test hands New and SignRequest to providertest:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Harness{
//			New: func(c providertest.Config) (provider.Provider, error) {
//				return shopify.New(c.Secrets[0], shopify.WithSecrets(c.Secrets[1:]...))
//			},
//			Sign:    shopify.SignRequest,
//			Secrets: []string{"shpss_one", "shpss_two", "shpss_three"},
//			Samples: []providertest.Sample{…},
//			Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", "shopify"),
//		})
//	}
//
// Other families, as declarations (see declared_test.go for each running
// the conformance suite with the shared vectors):
//
//	// Stripe: "t=…,v1=…" over t + "." + body, the timestamp a field of the list.
//	Signature: kit.Signature{Header: "Stripe-Signature", Prefix: "v1=", Sep: ","},
//	Timestamp: &kit.Timestamp{Field: "t=", Tolerance: 5 * time.Minute},
//	Message:   []kit.Piece{kit.Time, kit.Lit("."), kit.Body},
//
//	// Slack: "v0=<hex>" over "v0:" + ts + ":" + body, the timestamp in a header.
//	Signature: kit.Signature{Header: "X-Slack-Signature", Prefix: "v0="},
//	Timestamp: &kit.Timestamp{Header: "X-Slack-Request-Timestamp"},
//	Message:   []kit.Piece{kit.Lit("v0:"), kit.Time, kit.Lit(":"), kit.Body},
//
//	// Twitch: message ID header + RFC 3339 timestamp + body.
//	Timestamp: &kit.Timestamp{Header: "Twitch-Eventsub-Message-Timestamp", Format: kit.RFC3339, Tolerance: 10 * time.Minute},
//	Message:   []kit.Piece{kit.HeaderPiece("Twitch-Eventsub-Message-Id"), kit.Time, kit.Body},
//
//	// HubSpot v3: method + URL + body + a timestamp in milliseconds (URL: set
//	// Options.URL behind a proxy).
//	Message: []kit.Piece{kit.Method, kit.URL, kit.Body, kit.Time},
//
//	// Discord: Ed25519 (hex public key as the secret) over timestamp + body.
//	Algorithm: kit.Ed25519,
//	Signature: kit.Signature{Header: "X-Signature-Ed25519"},
//	Timestamp: &kit.Timestamp{Header: "X-Signature-Timestamp", Unchecked: true},
//	Message:   []kit.Piece{kit.Time, kit.Body},
//
//	// SendGrid: ECDSA P-256/SHA-256 (base64 DER public key as the secret)
//	// over timestamp + body, one base64 DER signature.
//	Algorithm: kit.ECDSAP256SHA256,
//	Signature: kit.Signature{Header: "X-Twilio-Email-Event-Webhook-Signature", Encoding: verify.Base64},
//	Timestamp: &kit.Timestamp{Header: "X-Twilio-Email-Event-Webhook-Timestamp", Unchecked: true},
//	Message:   []kit.Piece{kit.Time, kit.Body},
//
//	// GitLab: a token compared in constant time; Postmark: Basic credentials.
//	Algorithm: kit.Token, Signature: kit.Signature{Header: "X-Gitlab-Token"},
//	Algorithm: kit.Basic, // secrets are "user:password"
//
// Other spellings of the headers are declared too: Signature.Aliases for
// the signature header alone (Shopify's Shopify-Hmac-Sha256; Gitea's
// X-Forgejo-Signature and X-Gogs-Signature), Scheme.Families for a set
// renamed together (Standard Webhooks' svix-* headers, with WhsecKey as the
// Key); Respell gives the Scheme that signs with another spelling.
//
//	Signature: kit.Signature{Header: "X-Gitea-Signature", Aliases: []string{"X-Forgejo-Signature", "X-Gogs-Signature"}},
//	Families:  []kit.HeaderFamily{{"webhook-id": "svix-id", "webhook-timestamp": "svix-timestamp", "webhook-signature": "svix-signature"}},
//
// A provider with more than a declaration (a handshake, a payload that is
// not JSON, a second signature header) keeps its Scheme for what fits and
// adds methods around the kit.Provider it wraps (GitHub wraps two, one per
// signature header). A verifier the kit cannot declare at all takes its
// secrets from a source through SourceCache.
package kit
