package receiver

import (
	"log/slog"
	"time"

	"github.com/hookwise/hookwise/dedupe"
)

// Defaults of a Receiver, each overridable by an Option.
const (
	DefaultMaxBodyBytes  = 5 << 20          // 5 MiB: above every bundled provider's documented maximum but GitHub's 25 MB
	DefaultLease         = time.Hour        // how long an accepted event's claim survives a crash of its holder
	DefaultRetention     = 72 * time.Hour   // how long a handled event's ID is remembered
	DefaultMaxAttempts   = 8                // handler attempts before dead-lettering
	DefaultBackoffBase   = time.Second      // first retry delay ceiling
	DefaultBackoffMax    = 5 * time.Minute  // retry delay ceiling
	DefaultHandlerTimout = 30 * time.Second // per attempt
	DefaultStoreTimeout  = time.Second      // per dedupe call on the request path
	DefaultRetryAfter    = 5 * time.Second  // the Retry-After of a 503
	DefaultQueueCapacity = 4096             // events buffered by the default in-memory queue
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
	retention   time.Duration
	queue       Queue
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
}

// Option configures a Receiver.
type Option func(*config)

// WithStore sets the dedupe store (default: a dedupe.Memory owned and closed
// by the receiver). The caller owns a store it passes.
func WithStore(s dedupe.Store) Option { return func(c *config) { c.store = s } }

// WithLease sets how long an accepted event's claim lasts before another
// delivery of it may be taken (its holder is presumed crashed). It must
// exceed the time an event can spend queued and retried. Default DefaultLease.
func WithLease(d time.Duration) Option { return func(c *config) { c.lease = d } }

// WithRetention sets how long the ID of a handled or dead-lettered event is
// remembered, rejecting redeliveries as duplicates. Default 72 hours, longer
// than Stripe's and Standard Webhooks' retry horizons.
func WithRetention(d time.Duration) Option { return func(c *config) { c.retention = d } }

// WithQueue sets the queue (default: a MemoryQueue of QueueCapacity events
// and Workers workers). The receiver starts it and shuts it down.
func WithQueue(q Queue) Option { return func(c *config) { c.queue = q } }

// WithDeadLetters sets the dead-letter store (default: a MemoryDeadLetters).
func WithDeadLetters(s DeadLetterStore) Option { return func(c *config) { c.deadLetters = s } }

// WithValidator validates payloads before handlers run, with the given
// policy for invalid ones.
func WithValidator(v Validator, policy InvalidPolicy) Option {
	return func(c *config) { c.validator, c.invalid = v, policy }
}

// WithMaxBodyBytes sets the largest body read (default DefaultMaxBodyBytes);
// larger deliveries get 413 without being buffered whole.
func WithMaxBodyBytes(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithLogger sets the structured logger (default: discard). Logs never
// contain bodies or secrets.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithObserver adds an observer of every pipeline stage.
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// WithClock sets the clock used for receive times (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// MaxAttempts sets how many times a handler runs for one event before it is
// dead-lettered (default DefaultMaxAttempts).
func MaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// Backoff sets the retry delays: exponential from base, capped at max, with
// full jitter (the delay is uniform in [0, min(max, base·2^(attempt-1))]).
func Backoff(base, max time.Duration) Option {
	return func(c *config) { c.backoffBase, c.backoffMax = base, max }
}

// HandlerTimeout bounds each handler attempt (default DefaultHandlerTimout).
func HandlerTimeout(d time.Duration) Option { return func(c *config) { c.handlerTO = d } }

// StoreTimeout bounds each dedupe call on the request path (default DefaultStoreTimeout).
func StoreTimeout(d time.Duration) Option { return func(c *config) { c.storeTO = d } }

// RetryAfter sets the Retry-After of 503 answers (default DefaultRetryAfter).
func RetryAfter(d time.Duration) Option { return func(c *config) { c.retryAfter = d } }

// Workers sets the default in-memory queue's worker count (default
// 4×GOMAXPROCS, since handlers mostly wait on I/O).
func Workers(n int) Option { return func(c *config) { c.workers = n } }

// QueueCapacity sets the default in-memory queue's capacity (default
// DefaultQueueCapacity: a burst of thousands is absorbed, beyond it senders
// get 503 and retry).
func QueueCapacity(n int) Option { return func(c *config) { c.capacity = n } }

// AcceptedStatus sets the status of an accepted delivery (default 200).
func AcceptedStatus(code int) Option { return func(c *config) { c.okStatus = code } }
