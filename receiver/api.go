package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
)

// The provider contract lives in package provider, which the providers
// import instead of this package; the names below are the same types and
// values, kept so that code written against package receiver compiles.

// Envelope is provider.Envelope: the event ID, type and version a provider
// reads from a delivery, and a signed handshake's answer.
type Envelope = provider.Envelope

// Reply is provider.Reply: a complete HTTP answer to a handshake.
type Reply = provider.Reply

// Provider is provider.Provider: how one sender signs its deliveries and
// where their ID and type live.
type Provider = provider.Provider

// PayloadProvider is provider.PayloadProvider, for providers whose
// deliveries are not plain JSON bodies.
type PayloadProvider = provider.PayloadProvider

// Handshaker is provider.Handshaker: the handshake stage a Receiver runs
// before its method check and before verification.
type Handshaker = provider.Handshaker

// ErrMalformedEnvelope is provider.ErrMalformedEnvelope, the same value:
// Provider.Parse failed and the receiver answers 400.
var ErrMalformedEnvelope = provider.ErrMalformedEnvelope

// TypeHandler is implemented by handlers that can tell whether they take an
// event type, as *Mux does. The receiver acknowledges an optional event
// (Envelope.Optional, such as GitHub's ping) at once without queueing it,
// unless the receiver's handler implements TypeHandler and Handles reports
// true for the event's type. A handler wrapped in middleware of one's own
// should implement it too (by asking the wrapped handler), or registered
// handlers of optional events never run.
type TypeHandler interface {
	// Handles reports whether a handler is registered for eventType, other
	// than a catch-all.
	Handles(eventType string) bool
}

// Event is one verified delivery as handlers see it. Handlers must not
// modify Header or Body.
type Event struct {
	Provider   string      // the provider's Name
	ID         string      // the event ID (Envelope.ID)
	Type       string      // the event type (Envelope.Type)
	Version    string      // the payload version, when known
	ReceivedAt time.Time   // when the delivery was acknowledged
	Header     http.Header // the delivery's headers
	Body       []byte      // the verified raw body
	// Payload is the JSON document to decode: Body itself for JSON
	// deliveries, or the document a PayloadProvider extracts. It is set before
	// the handler runs.
	Payload json.RawMessage
	// Attempt counts handling attempts, from 1.
	Attempt int
	// ClaimToken identifies the delivery that admitted the event: the random
	// token of its dedupe claim, also the key that makes enqueueing it
	// idempotent. The receiver sets it; queues store it with the event, so
	// that marking the event done or releasing it is conditional on the
	// claim. Handlers ignore it.
	ClaimToken string
}

// Decode decodes the event's JSON payload into v.
func (e *Event) Decode(v any) error { return json.Unmarshal(e.payload(), v) }

func (e *Event) payload() []byte {
	if e.Payload != nil {
		return e.Payload
	}
	return e.Body
}

// Handler handles events. It returns nil when the event is done, an error to
// have it retried, or Permanent(err) to dead-letter it at once. A handler may
// see an event more than once (at-least-once delivery), so it should be
// idempotent.
type Handler interface {
	HandleEvent(ctx context.Context, e *Event) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, e *Event) error

// HandleEvent calls f(ctx, e).
func (f HandlerFunc) HandleEvent(ctx context.Context, e *Event) error { return f(ctx, e) }

// Queue holds accepted events until a worker handles them. The receiver
// answers 2xx only after Enqueue returned nil, so a Queue that returns nil
// must not lose the event. Implementations are safe for concurrent use.
type Queue interface {
	// Enqueue stores e. It must not block for long: it returns ErrQueueFull
	// when it cannot take e now and ErrClosed after Shutdown began.
	Enqueue(ctx context.Context, e *Event) error
	// Start begins handing events to p. The receiver calls it once.
	Start(p Processor) error
	// Shutdown stops intake, waits for queued and in-flight events until ctx
	// is done, and reports what it could not finish.
	Shutdown(ctx context.Context) error
}

// Processor handles one attempt of an event for a Queue: it runs the
// handler, and records the outcome (dedupe, dead letters, observers) unless
// the result asks for a retry, which the queue schedules.
type Processor interface {
	Process(ctx context.Context, e *Event) Result
	// Abandon records an event the queue gives up on without handling it
	// (an in-memory queue shut down before it ran); the receiver
	// dead-letters it with err as the reason.
	Abandon(ctx context.Context, e *Event, err error)
}

// Result is the outcome of one attempt.
type Result struct {
	// Retry asks the queue to run the event again, no sooner than Delay from
	// now, with Attempt increased by one.
	Retry bool
	Delay time.Duration
	// Err is the attempt's error, if any.
	Err error
}

// Sentinel errors of the receiver.
var (
	// ErrQueueFull is returned by Queue.Enqueue when the queue cannot take an
	// event now; the receiver answers 503 with Retry-After.
	ErrQueueFull = errors.New("receiver: queue full")
	// ErrClosed is returned after Shutdown began.
	ErrClosed = errors.New("receiver: closed")
	// ErrNoHandler is returned by a Mux for an event type no handler takes;
	// such events are acknowledged and not retried.
	ErrNoHandler = errors.New("receiver: no handler")
	// ErrPermanent matches errors wrapped by Permanent.
	ErrPermanent = errors.New("receiver: permanent failure")
	// ErrInvalidPayload matches errors from schema or struct validation.
	ErrInvalidPayload = errors.New("receiver: invalid payload")
	// ErrStore wraps a dedupe store failure on the request path (503).
	ErrStore = errors.New("receiver: dedupe store unavailable")
	// ErrPending is the reason a delivery is answered 503 while another
	// delivery of the same event is being accepted and its outcome is not
	// known yet; the sender's retry finds it settled.
	ErrPending = errors.New("receiver: another delivery of the event is being accepted")
	// ErrOverloaded is returned on the request path when the receiver has no
	// room for another delivery now (its budget of body bytes being read is
	// spent); the receiver answers 503 with Retry-After.
	ErrOverloaded = errors.New("receiver: overloaded")
	// ErrDeadLettersFull is returned by a DeadLetterStore's Put when the
	// store holds its maximum. The receiver never drops the event then: it
	// logs the refusal at ERROR and leaves the event in its queue, retried
	// after the longest backoff, until the store has room (replay or delete
	// dead letters to make some).
	ErrDeadLettersFull = errors.New("receiver: dead-letter store full")
)

// Permanent marks err as not retryable: the event goes to the dead-letter
// store at once. errors.Is(Permanent(err), ErrPermanent) holds and
// errors.Unwrap returns err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// DeadLetter is an event that was not handled, with the reason.
type DeadLetter struct {
	Event    *Event    // the event, with the attempts made in Event.Attempt
	Reason   string    // the last error's text ("schema: …" for invalid payloads)
	FailedAt time.Time // when it was dead-lettered
}

// Key returns the key a DeadLetterStore keeps d under, with its event's
// provider: the event ID, or, for an event without one, "~" followed by the
// event's claim token, so that dead letters of events without IDs do not
// replace each other. Event IDs never start with "~" (the receiver refuses
// them).
func (d DeadLetter) Key() string {
	if d.Event == nil {
		return ""
	}
	if d.Event.ID == "" {
		return "~" + d.Event.ClaimToken
	}
	return d.Event.ID
}

// DeadLetterStore keeps dead letters until they are replayed or deleted.
// Implementations are safe for concurrent use.
type DeadLetterStore interface {
	// Put stores d under its event's provider and d.Key().
	Put(ctx context.Context, d DeadLetter) error
	// List returns up to limit dead letters, oldest first; all of them when
	// limit ≤ 0.
	List(ctx context.Context, limit int) ([]DeadLetter, error)
	// Delete removes the dead letter stored under (provider, key), where key
	// is the dead letter's Key(); deleting a missing one is not an error.
	Delete(ctx context.Context, provider, key string) error
}

// Stage is a point of the pipeline an Observer hears about.
type Stage uint8

// The stages, in pipeline order.
const (
	StageRejected     Stage = iota + 1 // the request was answered 4xx/5xx before enqueueing
	StageDuplicate                     // a duplicate was acknowledged without handling
	StageEnqueued                      // the event was queued and acknowledged
	StageHandled                       // a handler returned nil
	StageRetried                       // an attempt failed and will be retried
	StageDeadLettered                  // the event went to the dead-letter store
	StageInvalid                       // the payload failed schema or struct validation
)

// String returns the stage's lower-case name ("dead_lettered").
func (s Stage) String() string {
	switch s {
	case StageRejected:
		return "rejected"
	case StageDuplicate:
		return "duplicate"
	case StageEnqueued:
		return "enqueued"
	case StageHandled:
		return "handled"
	case StageRetried:
		return "retried"
	case StageDeadLettered:
		return "dead_lettered"
	case StageInvalid:
		return "invalid"
	}
	return "unknown"
}

// Observation describes one pipeline event for an Observer.
type Observation struct {
	Stage    Stage
	Provider string
	Event    *Event        // nil for StageRejected
	Status   int           // the HTTP status, for request-path stages
	Err      error         // the cause, if any
	Duration time.Duration // the handler's run time, for handler stages
}

// Observer hears about every stage; metrics and tracing adapters implement it.
// Observe must be fast and safe for concurrent use; it runs on the request
// path for request stages.
type Observer interface {
	Observe(ctx context.Context, o Observation)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(ctx context.Context, o Observation)

// Observe calls f(ctx, o).
func (f ObserverFunc) Observe(ctx context.Context, o Observation) { f(ctx, o) }

// Validator checks an event's payload before its handler runs; package
// schema implements it. Validate returns nil, or an error matching
// ErrInvalidPayload whose text says what failed (it is recorded as the
// dead-letter reason). It must be safe for concurrent use.
type Validator interface {
	Validate(ctx context.Context, e *Event) error
}
