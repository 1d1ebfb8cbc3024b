// Package driver is the contract between a Receiver and the backends that
// hold its events: queues and dead-letter stores. Users of package receiver
// rarely import it; implementers of a backend (package redisq, the
// PostgreSQL adapter) import it instead of package receiver, and run the
// conformance suites in package drivertest.
//
// Package receiver re-exports the types users meet (Event, Queue,
// DeadLetter, DeadLetterStore and the errors) under the same names; the
// Processor a queue calls back, and Result, exist only here.
package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

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
	// Meta is carried with the event through the queue, to whichever
	// replica runs it: the trace context a receiver.Propagator injects on
	// the request path, for one. The receiver bounds it (MaxMetaEntries,
	// MaxMetaKeyBytes, MaxMetaValueBytes); queues store and restore it as it
	// is. Nil when empty.
	Meta map[string]string
	// Target names the handler a fan-out copy of the event is for (see
	// receiver.Mux.Fanout): the receiver queues one copy per handler of a
	// fan-out route, each with its own attempts, retries, dead letter and
	// dedupe mark. Empty for an event as delivered. Queues and dead-letter
	// stores store and restore it.
	Target string
}

// MaxTargetBytes bounds Event.Target; a target name is 1 to MaxTargetBytes
// bytes of lower-case letters, digits, '-', '_' and '.'.
const MaxTargetBytes = 64

// ValidTarget reports whether name is a valid fan-out target name.
func ValidTarget(name string) bool {
	if name == "" || len(name) > MaxTargetBytes {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// DedupeKey returns the key the event's dedupe marks are kept under:
// "provider:ID", as dedupe.Key makes it, followed for a fan-out copy by a
// space and its Target (event IDs never contain a space), so that each
// handler of a fan-out records its own outcome. Empty for an event without
// an ID, which has no dedupe mark.
func (e *Event) DedupeKey() string {
	if e.ID == "" {
		return ""
	}
	if e.Target == "" {
		return e.Provider + ":" + e.ID
	}
	return e.Provider + ":" + e.ID + " " + e.Target
}

// Bounds of Event.Meta, enforced by the receiver before an event is queued:
// entries beyond them are dropped.
const (
	MaxMetaEntries    = 8
	MaxMetaKeyBytes   = 64
	MaxMetaValueBytes = 512
)

// Decode decodes the event's JSON payload into v.
func (e *Event) Decode(v any) error { return json.Unmarshal(e.JSON(), v) }

// JSON returns the JSON document a handler decodes: Payload when set,
// otherwise Body.
func (e *Event) JSON() []byte {
	if e.Payload != nil {
		return e.Payload
	}
	return e.Body
}

// Queue holds accepted events until a worker handles them. The receiver
// answers 2xx only after Enqueue returned nil, so a Queue that returns nil
// must not lose the event. Implementations are safe for concurrent use.
//
// One queue serves one receiver: a second Start returns ErrStarted, and a
// queue shared by processes (Redis, PostgreSQL) refuses to serve an endpoint
// other than the one its events were queued for, so that one endpoint's
// events never reach another's handlers.
type Queue interface {
	// Enqueue stores e. It must not block for long: it returns ErrQueueFull
	// when it cannot take e now and ErrClosed after Shutdown began. It may be
	// called before Start (an operator's replay tool enqueues without
	// running workers).
	Enqueue(ctx context.Context, e *Event) error
	// Start begins handing events to p. It returns ErrStarted when called
	// more than once.
	Start(p Processor) error
	// Shutdown stops intake, waits for queued and in-flight events until ctx
	// is done, and reports what it could not finish (a *ShutdownError).
	Shutdown(ctx context.Context) error
}

// ClaimingQueue is a Queue that can take an event's dedupe claim in the
// receiver's store itself, in the same atomic step that stores the event,
// which saves the request path a round trip. The receiver's New asks it once,
// before Start; when ClaimFor returns true, the receiver makes no Claim of
// its own on the request path, and from then on Enqueue of an event with an
// ID claims e.DedupeKey() in store for e.ClaimToken, for the admission
// lease, exactly as store.Claim would, and stores the event only if the
// claim was taken: when another token confirmed the key or it is done, it
// stores nothing and returns ErrDuplicate; when another token admitted it, it
// stores nothing and returns an error matching ErrPending. Everything else
// (the worker's Confirm, Complete, Release) still goes to the store, which
// the queue may help: it may confirm an event's claim for the lease as it
// takes the event, so that the store answers the attempt's Confirm without a
// call of its own.
type ClaimingQueue interface {
	Queue
	// ClaimFor reports whether Enqueue claims the keys of store (the
	// receiver's dedupe.Store) from now on, with the admission lease; lease
	// is the receiver's full lease, which a worker's Confirm sets.
	ClaimFor(store any, admission, lease time.Duration) bool
}

// Processor is what a queue calls to handle an event: the receiver, behind
// this interface. It runs one attempt and records the outcome (dedupe, dead
// letters, observers), unless the result asks for a retry, which the queue
// schedules.
type Processor interface {
	// Endpoint names the receiver the queue serves (receiver.WithEndpoint,
	// by default the provider's name). A queue shared by processes stores
	// it, and refuses to start for another endpoint.
	Endpoint() string
	// Process runs one attempt of e.
	Process(ctx context.Context, e *Event) Result
	// Abandon records an event the queue gives up on without handling it
	// (an in-memory queue shut down before it ran); the receiver
	// dead-letters it with err as the reason.
	Abandon(ctx context.Context, e *Event, err error)
}

// Result is the outcome of one attempt.
type Result struct {
	// Retry asks the queue to run the event again, no sooner than Delay from
	// now, with Attempt increased by one (unchanged with KeepAttempt).
	Retry bool
	Delay time.Duration
	// KeepAttempt, with Retry, asks the queue to run the event again after
	// Delay with Attempt unchanged: the attempt was deferred (a circuit
	// breaker open, a concurrency or rate limit reached), not failed, and
	// must not use up one of the event's attempts. Every queue honours it.
	KeepAttempt bool
	// Err is the attempt's error, if any.
	Err error
}

// Stats describe a queue's backlog at one moment.
type Stats struct {
	// Depth is the number of events accepted and not finished: queued,
	// waiting for a retry, and being handled.
	Depth int
	// OldestAge is how long the oldest event waiting to start (not waiting
	// for a retry's delay) has waited, or 0 when none waits.
	OldestAge time.Duration
}

// StatsReader is implemented by queues that can report their backlog; the
// receiver's Stats and Drain use it, metrics adapters export it.
type StatsReader interface {
	Stats(ctx context.Context) (Stats, error)
}

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
// them). A fan-out copy's key is "~", its Target, "~" and that key
// ("~billing~evt_1", "~billing~~TOKEN"), so that each handler of a fan-out
// has its own dead letter.
func (d DeadLetter) Key() string {
	if d.Event == nil {
		return ""
	}
	k := d.Event.ID
	if k == "" {
		k = "~" + d.Event.ClaimToken
	}
	if d.Event.Target != "" {
		k = "~" + d.Event.Target + "~" + k
	}
	return k
}

// DeadLetterStore keeps dead letters until they are replayed or deleted.
// Implementations are safe for concurrent use.
type DeadLetterStore interface {
	// Put stores d under its event's provider and d.Key(). A store at its
	// bound returns an error matching ErrDeadLettersFull.
	Put(ctx context.Context, d DeadLetter) error
	// List returns up to limit dead letters, oldest first; all of them when
	// limit ≤ 0.
	List(ctx context.Context, limit int) ([]DeadLetter, error)
	// Delete removes the dead letter stored under (provider, key), where key
	// is the dead letter's Key(); deleting a missing one is not an error.
	Delete(ctx context.Context, provider, key string) error
}

// OrderStore keeps, for each ordering key, the line of events waiting to
// be handled one at a time, in the order they joined it (see
// receiver.WithOrdering). Entries are claim tokens. An entry not renewed
// (Join or Turn) within its hold is dropped, so that an event whose
// enqueue failed after it joined, or that was lost with its queue, holds
// its key back for at most the hold. Implementations are safe for
// concurrent use, and those shared by processes (Redis, PostgreSQL) keep
// one line per key for all of them.
type OrderStore interface {
	// Join appends token to key's line, to be dropped unless renewed within
	// hold. Joining a token already in the line renews it in place. A
	// store at its bound returns an error matching ErrQueueFull.
	Join(ctx context.Context, key, token string, hold time.Duration) error
	// Turn reports whether token's event may run now: token is first in
	// key's line, or is not in it (dropped after its hold, or never
	// joined). It first drops the entries whose hold has passed, and renews
	// token's entry for hold.
	Turn(ctx context.Context, key, token string, hold time.Duration) (bool, error)
	// Leave removes token from key's line; a token not in it is not an
	// error.
	Leave(ctx context.Context, key, token string) error
}

// Errors of the driver contract. Package receiver exports the same values.
var (
	// ErrQueueFull is returned by Queue.Enqueue when the queue cannot take an
	// event now; the receiver answers 503 with Retry-After.
	ErrQueueFull = errors.New("receiver: queue full")
	// ErrClosed is returned after Shutdown began.
	ErrClosed = errors.New("receiver: closed")
	// ErrDeadLettersFull is returned by a DeadLetterStore's Put when the
	// store holds its maximum. The receiver never drops the event then: it
	// logs the refusal at ERROR and leaves the event in its queue, retried
	// after the longest backoff, until the store has room (replay or delete
	// dead letters to make some).
	ErrDeadLettersFull = errors.New("receiver: dead-letter store full")
	// ErrStarted is returned by a Queue's second Start: a queue serves one
	// receiver.
	ErrStarted = errors.New("receiver: queue already started")
	// ErrDuplicate may be returned by Enqueue from a queue that claims
	// event IDs itself (the PostgreSQL inbox stores the event and claims its
	// ID in one statement) when the event is already stored by another
	// delivery, or done: nothing was stored, and the receiver answers 2xx as
	// for any duplicate.
	ErrDuplicate = errors.New("receiver: event already stored or done")
	// ErrPending is returned by Enqueue from a queue that claims event IDs
	// itself when another delivery of the event holds an admission claim
	// whose outcome is not known yet: nothing was stored, and the receiver
	// answers 503 (the sender's retry finds it settled). Package receiver
	// exports the same value.
	ErrPending = errors.New("receiver: another delivery of the event is being accepted")
	// ErrNotKept, wrapped in an error of Enqueue, says that the queue
	// certainly keeps nothing of the event: nothing stored, no attempt left
	// running (an inline queue that gave up on it). The receiver then
	// releases the delivery's dedupe claim even once a worker confirmed it,
	// so that the sender's retry is processed. Any other error leaves the
	// outcome unknown (a reply can be lost after the write), and the
	// receiver releases the claim only while it is admitted: a confirmed
	// claim means a worker took a stored copy.
	ErrNotKept = errors.New("receiver: event not kept by the queue")
)

// ShutdownError reports the acknowledged events a queue did not finish
// before its Shutdown deadline: those it never ran or would have retried
// (the in-memory queue hands them to Abandon, so the receiver dead-letters
// them) and those whose handler was still running, ignoring its cancelled
// context, when Shutdown returned. errors.Is(err, context.DeadlineExceeded)
// (or Canceled) holds.
type ShutdownError struct {
	// Unfinished is the number of acknowledged events not handled.
	Unfinished int
	// IDs are their IDs (for an event without an ID, "~" and its claim
	// token, as DeadLetter.Key), in no particular order.
	IDs []string
	// Running is how many of them were still in a handler that ignored its
	// cancelled context. Such a handler goes on in the background; if it
	// returns before the process exits, its outcome is recorded as usual.
	Running int
	// Err is the cause: the Shutdown context's error.
	Err error
}

// Error says how many acknowledged events were left, and why.
func (e *ShutdownError) Error() string {
	return fmt.Sprintf("receiver: shutdown left %d acknowledged events unfinished (%d still in a handler): %v", e.Unfinished, e.Running, e.Err)
}

// Unwrap returns the Shutdown context's error.
func (e *ShutdownError) Unwrap() error { return e.Err }
