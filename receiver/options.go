package receiver

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	"github.com/hookwise/hookwise/dedupe"
)

// Defaults of a Receiver, each overridable by an Option.
const (
	DefaultMaxBodyBytes   = 5 << 20          // 5 MiB: above every bundled provider's documented maximum but GitHub's 25 MB
	DefaultLease          = time.Hour        // how long an accepted event's claim survives a crash of its holder
	DefaultAdmissionLease = 30 * time.Second // how long a claim lives before its event is known to be stored
	DefaultRetention      = 72 * time.Hour   // how long a handled event's ID is remembered
	DefaultMaxAttempts    = 8                // handler attempts before dead-lettering
	DefaultBackoffBase    = time.Second      // first retry delay ceiling
	DefaultBackoffMax     = 5 * time.Minute  // retry delay ceiling
	DefaultHandlerTimeout = 30 * time.Second // per attempt
	DefaultStoreTimeout   = time.Second      // per dedupe call on the request path
	DefaultRetryAfter     = 5 * time.Second  // the Retry-After of a 503
	DefaultQueueCapacity  = 4096             // events buffered by the default in-memory queue
)

// InvalidPolicy says what the receiver does with an authentic delivery whose
// payload fails validation.
type InvalidPolicy uint8

const (
	// AcknowledgeInvalid (the default) answers 2xx, validates after the
	// acknowledgement, and puts an invalid event in the dead-letter store with
	// the reason, so the sender does not retry for days and nothing is lost.
	AcknowledgeInvalid InvalidPolicy = iota
	// RejectInvalid validates on the request path and answers 422 with an
	// application/problem+json body.
	RejectInvalid
)

type config struct {
	store       dedupe.Store
	ownStore    bool
	lease       time.Duration
	admission   time.Duration
	retention   time.Duration
	queue       Queue
	endpoint    string
	propagator  Propagator
	render      func(http.ResponseWriter, *http.Request, Refusal)
	queueOpts   []string // options of the default queue given, to refuse them beside WithQueue
	deadLetters DeadLetterStore
	validator   Validator
	invalid     InvalidPolicy
	maxBody     int64
	logger      *slog.Logger
	observer    Observer
	now         func() time.Time
	maxAttempts int
	backoffBase time.Duration
	backoffMax  time.Duration
	handlerTO   time.Duration
	storeTO     time.Duration
	retryAfter  time.Duration
	workers     int
	capacity    int
	okStatus    int
	bodyBudget  int64 // WithBodyBudget (limits.go); 0: default
	queueBytes  int64 // QueueMaxBytes (limits.go); 0: default
	keepHeader  func(name string) bool
	reprocess   bool
	filters     []func(context.Context, *Event) bool // WithFilter
	order       *Ordering                            // WithOrdering
	nilDep      string                               // the first nil dependency passed to an option
}

// Option configures a Receiver.
type Option func(*config)

// WithStore sets the dedupe store (default: a dedupe.Memory owned and closed
// by the receiver). The caller owns a store it passes.
func WithStore(s dedupe.Store) Option {
	return func(c *config) { c.store = s; c.markNil(s == nil, "WithStore") }
}

// markNil records the first option given a nil dependency; New refuses it,
// rather than fall back to a default the caller did not ask for.
func (c *config) markNil(isNil bool, option string) {
	if isNil && c.nilDep == "" {
		c.nilDep = option
	}
}

// WithLease sets how long an accepted event's claim lasts before another
// delivery of it may be taken (its holder is presumed crashed). It must
// exceed the time an event can spend queued and retried. Default DefaultLease.
func WithLease(d time.Duration) Option { return func(c *config) { c.lease = d } }

// WithAdmissionLease sets how long a delivery's claim lives before its event
// is known to be stored (default DefaultAdmissionLease). A claim whose
// outcome is unknown (the dedupe store or the queue did not answer in time)
// blocks redeliveries of the event (503) for at most this long, instead of
// the full lease. It must exceed the time a delivery takes to be claimed and
// queued (StoreTimeout plus the queue's call timeout). With a store or queue
// that is not in memory, the worker that takes the event confirms the claim
// for the full lease (WithLease).
func WithAdmissionLease(d time.Duration) Option { return func(c *config) { c.admission = d } }

// WithRetention sets how long the ID of a handled or dead-lettered event is
// remembered, rejecting redeliveries as duplicates. Default 72 hours, longer
// than Stripe's and Standard Webhooks' retry horizons.
func WithRetention(d time.Duration) Option { return func(c *config) { c.retention = d } }

// WithQueue sets the queue (default: a MemoryQueue of QueueCapacity events
// and Workers workers). The receiver starts it and shuts it down. A queue
// serves one receiver: giving it to a second one fails that New
// (driver.ErrStarted). The options of the default queue (Workers,
// QueueCapacity, QueueMaxBytes) configure nothing beside WithQueue, and New
// refuses them there: configure the queue given instead.
func WithQueue(q Queue) Option {
	return func(c *config) { c.queue = q; c.markNil(q == nil, "WithQueue") }
}

// WithDeadLetters sets the dead-letter store (default: a MemoryDeadLetters).
func WithDeadLetters(s DeadLetterStore) Option {
	return func(c *config) { c.deadLetters = s; c.markNil(s == nil, "WithDeadLetters") }
}

// WithValidator validates payloads before handlers run, with the given
// policy for invalid ones. New refuses a nil validator.
func WithValidator(v Validator, policy InvalidPolicy) Option {
	return func(c *config) { c.validator, c.invalid = v, policy; c.markNil(isNil(v), "WithValidator") }
}

// WithHeaders sets which request headers are kept with an event, for
// handlers and replays: those for which keep(canonical name) is true. The
// default keeps every header but DefaultDroppedHeaders (credentials and
// hop-by-hop headers). Keep at least the headers the provider reads after
// the acknowledgement (GitHub's X-GitHub-Event, Content-Type of form
// deliveries) and those your handlers use.
func WithHeaders(keep func(name string) bool) Option {
	return func(c *config) { c.keepHeader = keep; c.markNil(keep == nil, "WithHeaders") }
}

// ReprocessDeadLettered says whether a redelivery of an event that was
// dead-lettered is processed again (true, the default: an operator who
// presses "resend" in the provider's dashboard gets the event handled) or
// acknowledged as a duplicate for the retention, like a handled event.
func ReprocessDeadLettered(on bool) Option { return func(c *config) { c.reprocess = on } }

// WithMaxBodyBytes sets the largest body read (default DefaultMaxBodyBytes);
// larger deliveries get 413 without being buffered whole.
func WithMaxBodyBytes(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithLogger sets the structured logger (default: discard). Logs never
// contain bodies or secrets.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l; c.markNil(l == nil, "WithLogger") }
}

// WithObserver adds an observer of every pipeline stage; several
// WithObserver options add several observers (metrics and traces, say),
// called in the order given. A panic in an observer is recovered and
// logged, and the others still run.
func WithObserver(o Observer) Option {
	return func(c *config) {
		c.markNil(isNil(o), "WithObserver")
		if isNil(o) {
			return
		}
		if c.observer == nil {
			c.observer = o
			return
		}
		all, _ := c.observer.(observers)
		if all == nil {
			all = observers{c.observer}
		}
		c.observer = append(all, o)
	}
}

// observers is several observers in one.
type observers []Observer

func (all observers) Observe(ctx context.Context, o Observation) {
	for _, ob := range all {
		ob.Observe(ctx, o)
	}
}

// WithClock sets the clock used for receive times (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now; c.markNil(now == nil, "WithClock") }
}

// isNil reports whether v is nil or a nil pointer, map, func or slice held
// in an interface.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Slice, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// MaxAttempts sets how many times a handler runs for one event before it is
// dead-lettered (default DefaultMaxAttempts).
func MaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// Backoff sets the retry delays: exponential from base, capped at max, with
// full jitter (the delay is uniform in [0, min(max, base·2^(attempt-1))]).
func Backoff(base, max time.Duration) Option {
	return func(c *config) { c.backoffBase, c.backoffMax = base, max }
}

// HandlerTimeout bounds each handler attempt (default DefaultHandlerTimeout).
func HandlerTimeout(d time.Duration) Option { return func(c *config) { c.handlerTO = d } }

// StoreTimeout bounds each dedupe call on the request path (default DefaultStoreTimeout).
func StoreTimeout(d time.Duration) Option { return func(c *config) { c.storeTO = d } }

// RetryAfter sets the Retry-After of 503 answers (default DefaultRetryAfter).
func RetryAfter(d time.Duration) Option { return func(c *config) { c.retryAfter = d } }

// Workers sets the default in-memory queue's worker count (default
// 4×GOMAXPROCS, since handlers mostly wait on I/O).
// New refuses it beside WithQueue, which it would not apply to.
func Workers(n int) Option {
	return func(c *config) { c.workers = n; c.queueOpts = append(c.queueOpts, "Workers") }
}

// QueueCapacity sets the default in-memory queue's capacity (default
// DefaultQueueCapacity: a burst of thousands is absorbed, beyond it senders
// get 503 and retry).
// New refuses it beside WithQueue, which it would not apply to.
func QueueCapacity(n int) Option {
	return func(c *config) { c.capacity = n; c.queueOpts = append(c.queueOpts, "QueueCapacity") }
}

// AcceptedStatus sets the status of an accepted delivery (default 200).
func AcceptedStatus(code int) Option { return func(c *config) { c.okStatus = code } }

// WithEndpoint names the receiver's endpoint (default: the provider's
// Name). The queue records it: a Redis stream or PostgreSQL queue that
// already serves another endpoint refuses to start, so that two receivers
// given one queue by mistake fail at New instead of handling each other's
// events. Give each endpoint its own name when one provider has several
// endpoints (two GitHub apps, say), and its own queue.
func WithEndpoint(name string) Option {
	return func(c *config) { c.endpoint = name }
}

// WithErrorRenderer sets how refused requests are answered: render gets
// the Refusal, whose status and reason come from the one status table
// (Classify), and writes the answer, the framework's way. It must write
// rf.Status and, for 503, the Retry-After header (WriteRefusal does both
// and may be called for the cases a renderer does not change). The
// default is WriteRefusal.
func WithErrorRenderer(render func(w http.ResponseWriter, r *http.Request, rf Refusal)) Option {
	return func(c *config) {
		if render == nil {
			c.markNil(true, "WithErrorRenderer")
			return
		}
		c.render = render
	}
}

// WithPropagator sets the Propagator that carries a context (a trace
// context) with each event through the queue, to the handler's context.
func WithPropagator(p Propagator) Option {
	return func(c *config) {
		if isNil(p) {
			c.markNil(true, "WithPropagator")
			return
		}
		c.propagator = p
	}
}

// WithFilter adds a filter run on the request path, after the delivery is
// verified and its envelope read, before anything else (validation, the
// dedupe claim, the queue): an event keep reports false for is
// acknowledged (the accepted status) and dropped, never queued, never
// claimed, and observers see StageFiltered. Several WithFilter options keep
// an event only when every filter keeps it. A filter sees the event as the
// handler would (provider, ID, type, headers, body; Payload set first for a
// provider whose deliveries are not plain JSON, when it can be extracted);
// it must be fast, must not modify the event, and must be safe for
// concurrent use. A filter that panics keeps the event (the panic is
// logged). Package flow has filters by event type and by a payload field.
//
// A filter never sees a delivery that failed verification: dropping is an
// answer only authentic senders get.
func WithFilter(keep func(ctx context.Context, e *Event) bool) Option {
	return func(c *config) {
		if keep == nil {
			c.markNil(true, "WithFilter")
			return
		}
		c.filters = append(c.filters, keep)
	}
}
