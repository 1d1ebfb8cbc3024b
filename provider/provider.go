// Package provider is the contract between a webhook sender's provider and
// what runs it: package receiver, verify.Middleware and the bundled
// providers under providers/ all import it, and it imports only the
// standard library and package verify. A provider package therefore links
// no third-party module (no Redis client, no validator): a test in
// providers/ holds every package there to that.
//
// A provider implements Provider: Name, Verify (a verify.Verifier) and
// Parse, which reads the Envelope (event ID, type, version) of a verified
// delivery. Providers whose deliveries are not plain JSON implement
// PayloadProvider too.
//
// # Handshakes
//
// Senders also send requests that are not events, and expect a particular
// answer. A provider answers them on one of two paths:
//
//   - Before verification, by implementing Handshaker. Its Handshake runs
//     first on every request, before the method check: a request other than
//     POST with a nil body, a POST with its body read through the receiver's
//     limit. It answers GET challenges (Meta's hub.challenge with its
//     verify token, Dropbox, Microsoft Graph's validationToken), unsigned
//     POST checks (Slack's ssl_check) and subscription confirmations. Such an
//     answer goes to an unverified request, so it must carry nothing derived
//     from a secret unless Handshake authenticates the request itself (a
//     verify token compared in constant time). A signed challenge that can
//     be recognised from the request cheaply (a header, as Twitch's
//     Twitch-Eventsub-Message-Type) is answered here with Reply.VerifyFirst
//     set: the reply is sent only once the request passes Verify, and a
//     request that fails gets 401. Both receiver.Receiver and
//     verify.Middleware run this stage.
//   - After verification, from Parse, by setting Envelope.Reply: the signed
//     challenge whose answer depends on the parsed body (Slack's
//     url_verification, Zoom's endpoint.url_validation, whose answer is an
//     HMAC of the body's plainToken). Only receiver.Receiver, which calls
//     Parse, sends it; verify.Middleware passes such a verified request on
//     to the next handler like an event.
//
// Either way a handshake never reaches the dedupe store, the queue or a
// handler.
package provider

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/verify"
)

// Provider knows how one sender signs its deliveries and where their ID and
// type live. Implementations are safe for concurrent use. See the packages
// under providers/ for the bundled ones.
type Provider interface {
	// Name is the provider's short name ("github", "stripe"): it prefixes
	// dedupe keys and appears in events, logs and metrics.
	Name() string
	// Verify authenticates a delivery over its raw body; a failure matches
	// verify.ErrVerification.
	verify.Verifier
	// Parse reads the envelope from a verified delivery. It must not decode
	// more of the body than it needs; an error (matching
	// ErrMalformedEnvelope) means 400.
	Parse(r *http.Request, body []byte) (Envelope, error)
}

// Envelope is what a provider reads from a delivery on the request path,
// without decoding the whole body: the event's ID and type, and how to answer
// a signed handshake.
type Envelope struct {
	// ID identifies the event across redeliveries; it is the dedupe key. It
	// comes only from signed material or the provider's own delivery header.
	// An empty ID disables dedupe for the delivery.
	ID string
	// Type routes the event to handlers ("invoice.paid", "issues.opened").
	Type string
	// Version is the payload version when the provider states one (Stripe's
	// api_version); schema validation may use it.
	Version string
	// Reply, when not nil, is sent as the answer and the delivery never
	// reaches a handler: the answer to a signed handshake (Slack's
	// url_verification). See the package documentation.
	Reply *Reply
	// Optional marks an event the sender does not need handled (GitHub's
	// ping): the receiver acknowledges it at once, without queueing it,
	// unless its handler reports, through the optional Handles method
	// (receiver.TypeHandler), that a handler is registered for its type.
	Optional bool
}

// Reply is a complete HTTP answer a provider requires for a handshake: its
// status (0 means 200), Content-Type and body, and whether it may be sent
// only to a verified request (VerifyFirst). It is verify.Reply, declared
// there so that verify.Middleware can send it without importing this
// package.
type Reply = verify.Reply

// Handshaker is implemented by providers whose sender sends requests that are
// not events: GET challenges (Meta's hub.challenge, Dropbox, Microsoft
// Graph's validationToken), unsigned POST checks (Slack's ssl_check),
// subscription confirmations, signed challenges recognisable from their
// headers. Its single method is
//
//	Handshake(r *http.Request, body []byte) *Reply
//
// which returns the answer to r when r is such a request, or nil to go on.
// It runs before the method check and before verification; body is the
// POST body read through the receiver's limit, nil for other methods. See
// the package documentation for the rules, and verify.Handshaker, which it
// is (declared there so that verify.Middleware runs the same stage).
type Handshaker = verify.Handshaker

// Timestamper is implemented by providers whose deliveries carry a signed
// timestamp (Stripe's t=, Slack's X-Slack-Request-Timestamp, Standard
// Webhooks' webhook-timestamp, …). SentAt returns it for a request that
// passed Verify, or false when the request has none or it does not parse.
// The receiver reports the clock skew to observers, so that drift shows in
// metrics before deliveries start failing the tolerance window.
type Timestamper interface {
	SentAt(r *http.Request) (time.Time, bool)
}

// PayloadProvider is implemented by providers whose deliveries are not plain
// JSON bodies (form-encoded GitHub and Slack deliveries). Payload returns the
// JSON document a handler decodes; it runs after the acknowledgement.
type PayloadProvider interface {
	Payload(header http.Header, body []byte) (json.RawMessage, error)
}

// ErrMalformedEnvelope is returned (wrapped) by Provider.Parse when a
// verified delivery cannot be read; the receiver answers 400.
var ErrMalformedEnvelope = errors.New("provider: malformed envelope")
