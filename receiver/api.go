package receiver

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/receiver/driver"
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

// FanoutHandler is implemented by handlers with fan-out routes (a *Mux,
// see Mux.Fanout). The receiver asks Targets, once an event is queued,
// whether its type goes to several named handlers; when it does, it queues
// one copy of the event per name (Event.Target) and handles each copy on
// its own. Middleware wrapping a Mux from the outside should pass Targets
// through (as Handles), or a fan-out route's handlers run one after the
// other as one handler, retried together.
type FanoutHandler interface {
	Handler
	// Targets returns the names of eventType's handlers, or nil when it has
	// one handler.
	Targets(eventType string) []string
}

// ValidTarget reports whether name can name a fan-out target: 1 to
// MaxTargetBytes bytes of lower-case letters, digits, '-', '_' and '.'.
func ValidTarget(name string) bool { return driver.ValidTarget(name) }

// MaxTargetBytes bounds a fan-out target's name (Event.Target).
const MaxTargetBytes = driver.MaxTargetBytes

// Event is driver.Event: one verified delivery as handlers see it. The
// payload a Typed handler or On receives is decoded from the event's JSON
// document (Event.Decode); the Event itself carries the provider, ID, type,
// headers and raw body.
type Event = driver.Event

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

// Queue is driver.Queue: where accepted events wait for a worker. The
// receiver answers 2xx only after Enqueue returned nil. See package driver
// to implement one.
type Queue = driver.Queue

// DeadLetter is driver.DeadLetter: an event that was not handled, with the
// reason.
type DeadLetter = driver.DeadLetter

// DeadLetterStore is driver.DeadLetterStore: where dead letters wait to be
// replayed or deleted.
type DeadLetterStore = driver.DeadLetterStore

// ShutdownError is driver.ShutdownError: the acknowledged events a queue
// did not finish before its Shutdown deadline.
type ShutdownError = driver.ShutdownError

// Sentinel errors of the receiver.
var (
	// ErrQueueFull is driver.ErrQueueFull: the queue cannot take an event
	// now; the receiver answers 503 with Retry-After.
	ErrQueueFull = driver.ErrQueueFull
	// ErrClosed is driver.ErrClosed, returned after Shutdown began.
	ErrClosed = driver.ErrClosed
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
	// It is driver.ErrPending.
	ErrPending = driver.ErrPending
	// ErrOverloaded is returned on the request path when the receiver has no
	// room for another delivery now (its budget of body bytes being read is
	// spent); the receiver answers 503 with Retry-After.
	ErrOverloaded = errors.New("receiver: overloaded")
	// ErrDeadLettersFull is driver.ErrDeadLettersFull: a DeadLetterStore
	// holds its maximum. The receiver never drops the event then: it logs the
	// refusal at ERROR and leaves the event in its queue, retried after the
	// longest backoff, until the store has room.
	ErrDeadLettersFull = driver.ErrDeadLettersFull
)

// MinDeferral is the shortest wait of a deferred event (Defer), so that a
// handler deferring every event does not spin.
const MinDeferral = 10 * time.Millisecond

// ErrDeferred matches errors made by Defer.
var ErrDeferred = errors.New("receiver: attempt deferred")

// Defer returns the error a handler (or handler middleware: a circuit
// breaker, a concurrency or rate limit, see package flow) returns to put an
// event off without using up one of its attempts: the queue runs it again
// after about after (the receiver's Backoff base when after ≤ 0; at least
// MinDeferral, at most the larger of the Backoff max and MinDeferral) with
// the same Attempt. Observers see StageDeferred, with
// reason (a short, bounded name such as "circuit_open", fit for a metric
// label) as the Observation's Reason. A deferred event is never
// dead-lettered for being deferred: it waits, in the queue, as long as its
// handler defers it; in the in-memory queue it keeps its place in the
// queue's bounds, so a queue full of deferred events answers 503 with
// Retry-After and the senders hold the rest. The dedupe claim of a deferred
// event must outlive its wait (WithLease).
//
// errors.Is(err, ErrDeferred) holds, and errors.As finds a *DeferredError.
func Defer(after time.Duration, reason string) error {
	return &DeferredError{After: after, Reason: reason}
}

// DeferredError is the error of Defer.
type DeferredError struct {
	After  time.Duration // how long to wait before running the event again
	Reason string        // why, a bounded name ("circuit_open", "concurrency", "rate")
}

// Error says the attempt was deferred, and why.
func (e *DeferredError) Error() string {
	return "receiver: attempt deferred (" + e.Reason + ") for " + e.After.String()
}

// Is reports whether target is ErrDeferred.
func (e *DeferredError) Is(target error) bool { return target == ErrDeferred }

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
	StageHandshake                     // a handshake (a challenge, a ping) was answered
	StageFiltered                      // a verified event a filter did not keep was acknowledged without queueing (WithFilter)
	StageDeferred                      // a handler deferred the event (Defer), or its ordering key's turn has not come: it runs again later, its attempt not used up
	StageSplit                         // an event of a fan-out route was split into one queued copy per handler (Mux.Fanout)
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
	case StageHandshake:
		return "handshake"
	case StageFiltered:
		return "filtered"
	case StageDeferred:
		return "deferred"
	case StageSplit:
		return "split"
	}
	return "unknown"
}

// Observation describes one pipeline event for an Observer.
type Observation struct {
	Stage    Stage
	Provider string
	// Event is nil for a request refused before its envelope was read, and
	// for handshakes. For StageEnqueued and StageDuplicate it is a copy of
	// the event taken before the workers got it. Observers must not modify
	// it.
	Event  *Event
	Status int // the HTTP status, for request-path stages
	// Reason is Classify's reason class of a refused request (StageRejected,
	// StageInvalid on the request path), or the reason given to Defer
	// (StageDeferred): a bounded set, fit for a label.
	Reason string
	Err    error // the cause, if any
	// Request is the delivery, for request-path stages (nil for handler
	// stages). Its body has been read: use Event.Body. An observer must not
	// keep it, or its headers, past Observe: copy what it needs.
	Request *http.Request
	// Duration is the handler's run time, for handler stages.
	Duration time.Duration
	// QueueWait is how long the event waited between its acknowledgement
	// and the start of its first attempt, for the handler stages of attempt
	// 1 (0 for later attempts, which wait for their backoff by design).
	QueueWait time.Duration
	// Skew is ReceivedAt minus the timestamp the provider signed into the
	// delivery, when HasSkew: positive when the sender's clock is behind
	// (or the delivery was slow), negative when it is ahead. Set for
	// StageEnqueued and StageDuplicate, with providers that sign a
	// timestamp (provider.Timestamper); a growing skew shows clock drift
	// before deliveries start failing their tolerance window.
	Skew    time.Duration
	HasSkew bool
}

// Propagator carries a context across the queue (a trace context, say):
// Inject runs on the request path, after verification and before the event
// is queued, and copies what it needs from the request's context into the
// event's Meta; Extract runs on the worker before each attempt and returns
// the handler's context with it. The OpenTelemetry adapter implements it
// with the W3C trace-context propagator. Entries beyond the bounds of
// driver.Event.Meta are dropped.
type Propagator interface {
	Inject(ctx context.Context, meta map[string]string)
	Extract(ctx context.Context, meta map[string]string) context.Context
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

// ContextValidator is a Validator that hands what it learned to the
// handler: when the receiver validates after the acknowledgement
// (AcknowledgeInvalid), it calls ValidateContext instead of Validate and
// runs the handler with the context returned. A schema.Registry is one: it
// puts the document it decoded there, so that schema.Document and
// schema.Versioned do not decode and validate the payload again. The
// context must derive from ctx.
type ContextValidator interface {
	Validator
	ValidateContext(ctx context.Context, e *Event) (context.Context, error)
}
