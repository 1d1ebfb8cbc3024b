package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/verify"
)

// Receiver is the http.Handler of one webhook endpoint: it verifies each
// delivery, drops duplicates, queues the event, answers at once, and runs the
// handler asynchronously with retries and a dead-letter store.
//
// A Receiver is safe for concurrent use. Call Shutdown after the HTTP
// server's own Shutdown, so no request arrives while the queue drains.
type Receiver struct {
	p       Provider
	payload PayloadProvider
	hs      Handshaker           // the provider's handshake stage, or nil
	sentAt  provider.Timestamper // the provider's signed timestamp, or nil
	types   TypeHandler          // the handler's, or nil
	fan     FanoutHandler        // the handler's, or nil
	h       Handler
	cfg     config
	log     *slog.Logger

	memStore bool // the store never blocks: no per-call timeout needed
	memOrder bool // the same of the ordering store
	certain  bool // store and queue in memory: no call has an unknown outcome
	// queueClaims: Enqueue claims dedupe keys in the store itself
	// (driver.ClaimingQueue), so the request path makes no Claim.
	queueClaims bool
	// admitted is the store's ReleaseAdmitted, when it has one.
	admitted dedupe.AdmittedReleaser

	bodies byteBudget // body bytes being read (body.go)
	splits splits     // fan-out copies queued so far (fanout.go)

	endpoint string // the name the queue knows the receiver by

	closing      atomic.Bool // Shutdown began: new deliveries get 503 (ErrClosed)
	shutdownOnce sync.Once
	shutdownErr  error
}

var _ http.Handler = (*Receiver)(nil)

// processor is the driver.Processor the receiver hands its queue: the
// queue↔receiver contract stays out of the Receiver's methods.
type processor struct{ r *Receiver }

var _ driver.Processor = processor{}

func (p processor) Endpoint() string { return p.r.endpoint }
func (p processor) Process(ctx context.Context, e *Event) driver.Result {
	return p.r.process(ctx, e)
}
func (p processor) Abandon(ctx context.Context, e *Event, err error) { p.r.abandon(ctx, e, err) }

// New returns a Receiver for provider p whose events go to h (usually a
// *Mux). It starts the queue's workers; call Shutdown to stop them. It
// returns an error for an invalid configuration.
func New(p Provider, h Handler, opts ...Option) (*Receiver, error) {
	if isNil(p) || isNil(h) {
		return nil, errors.New("receiver: nil provider or handler")
	}
	c := config{
		lease: DefaultLease, admission: DefaultAdmissionLease, retention: DefaultRetention, maxBody: DefaultMaxBodyBytes,
		now: time.Now, maxAttempts: DefaultMaxAttempts, backoffBase: DefaultBackoffBase,
		backoffMax: DefaultBackoffMax, handlerTO: DefaultHandlerTimeout, storeTO: DefaultStoreTimeout,
		retryAfter: DefaultRetryAfter, workers: 4 * runtime.GOMAXPROCS(0), capacity: DefaultQueueCapacity,
		okStatus: http.StatusOK, keepHeader: keepDefault, reprocess: true,
	}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.nilDep != "":
		return nil, fmt.Errorf("receiver: %s given nil", c.nilDep)
	case c.maxBody <= 0:
		return nil, errors.New("receiver: max body bytes must be positive")
	case c.maxAttempts < 1:
		return nil, errors.New("receiver: max attempts must be at least 1")
	case c.lease <= 0 || c.retention <= 0 || c.admission <= 0:
		return nil, errors.New("receiver: lease, admission lease and retention must be positive")
	case c.workers < 1 || c.capacity < 1:
		return nil, errors.New("receiver: workers and queue capacity must be positive")
	case c.okStatus < 200 || c.okStatus > 299:
		return nil, errors.New("receiver: accepted status must be 2xx")
	case c.queue != nil && len(c.queueOpts) > 0:
		return nil, fmt.Errorf("receiver: %s configure the default in-memory queue, not one given WithQueue: configure that queue instead",
			strings.Join(c.queueOpts, ", "))
	}
	if err := c.setOrderDefaults(); err != nil {
		return nil, err
	}
	if c.render == nil {
		c.render = func(w http.ResponseWriter, _ *http.Request, rf Refusal) { WriteRefusal(w, rf) }
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.store == nil {
		c.store, c.ownStore = dedupe.NewMemory(), true
	}
	if c.deadLetters == nil {
		c.deadLetters = NewMemoryDeadLetters(0, DeadLettersLogger(c.logger))
	}
	if c.queue == nil {
		c.queue = NewMemoryQueue(c.capacity, c.workers, MemoryQueueMaxBytes(c.queueBytes))
	}
	r := &Receiver{p: p, h: h, cfg: c, log: c.logger.With("provider", p.Name()), endpoint: c.endpoint}
	if r.endpoint == "" {
		r.endpoint = p.Name()
	}
	r.payload, _ = p.(PayloadProvider)
	r.hs, _ = p.(Handshaker)
	r.sentAt, _ = p.(provider.Timestamper)
	r.types, _ = h.(TypeHandler)
	r.fan, _ = h.(FanoutHandler)
	_, r.memStore = c.store.(*dedupe.Memory)
	r.admitted, _ = c.store.(dedupe.AdmittedReleaser)
	if c.order != nil {
		_, r.memOrder = c.order.Store.(*MemoryOrder)
	}
	_, memQueue := c.queue.(*MemoryQueue)
	r.certain = r.memStore && memQueue
	if cq, ok := c.queue.(driver.ClaimingQueue); ok && !r.certain {
		r.queueClaims = cq.ClaimFor(c.store, c.admission, c.lease)
	}
	if err := c.queue.Start(processor{r}); err != nil {
		return nil, fmt.Errorf("receiver: start queue: %w", err)
	}
	return r, nil
}

// DeadLetters returns the receiver's dead-letter store, to list dead letters.
func (r *Receiver) DeadLetters() DeadLetterStore { return r.cfg.deadLetters }

// ServeHTTP runs the request path: handshake stage (any method), method
// check, bounded body read, handshake stage (POST), verify, envelope, signed
// handshake, filters (WithFilter), dedupe claim, enqueue, answer. Nothing else: the payload is
// decoded, validated and handled after the answer.
//
// The handshake stage is the provider's Handshake, when it implements
// Handshaker (see package provider): a request other than POST is offered to
// it with a nil body, and only when it does not answer is the request
// refused with 405; a POST is offered to it with its body, read through the
// body limit, before verification. A handshake never reaches the dedupe
// store, the queue or the handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		if r.handshake(req, w, nil) {
			return
		}
		r.refuse(req, w, errMethod, nil)
		return
	}
	body, reserved, err := r.readBody(w, req)
	if err != nil {
		w.Header().Set("Connection", "close")
		r.refuse(req, w, err, nil)
		return
	}
	defer r.bodies.release(reserved)
	if r.handshake(req, w, body) {
		return
	}
	if err := r.p.Verify(req, body); err != nil {
		r.refuse(req, w, asVerifyError(err), nil)
		return
	}
	env, err := r.p.Parse(req, body)
	if err != nil && !errors.Is(err, ErrMalformedEnvelope) {
		err = &parseError{err}
	}
	if err == nil {
		err = checkEnvelope(env)
	}
	if err != nil {
		r.refuse(req, w, err, nil)
		return
	}
	if env.Reply != nil {
		env.Reply.ServeHTTP(w, req)
		r.observe(req.Context(), Observation{Stage: StageHandshake, Request: req})
		return
	}
	if env.Optional && !r.handles(env.Type) {
		// A ping nothing handles is answered like a handshake.
		w.WriteHeader(r.cfg.okStatus)
		r.observe(req.Context(), Observation{Stage: StageHandshake, Status: r.cfg.okStatus, Request: req})
		return
	}
	e := &Event{
		Provider: r.p.Name(), ID: env.ID, Type: env.Type, Version: env.Version,
		ReceivedAt: r.cfg.now(), Header: r.keptHeader(req.Header), Body: body, Attempt: 1,
	}
	if len(r.cfg.filters) > 0 && !r.keep(req.Context(), e) {
		w.WriteHeader(r.cfg.okStatus)
		r.observe(req.Context(), Observation{Stage: StageFiltered, Event: e, Status: r.cfg.okStatus, Request: req})
		r.log.LogAttrs(req.Context(), slog.LevelDebug, "event filtered out; acknowledged", slog.String("id", e.ID), slog.String("type", e.Type))
		return
	}
	if r.cfg.validator != nil && r.cfg.invalid == RejectInvalid {
		if err := r.validate(req.Context(), e); err != nil {
			r.refuse(req, w, err, e)
			return
		}
	}
	ctx := req.Context()
	if r.closing.Load() {
		r.refuse(req, w, ErrClosed, e)
		return
	}
	if r.cfg.propagator != nil {
		r.inject(ctx, e)
	}
	e.ClaimToken = dedupe.NewToken()
	var key string // set when this delivery claimed e's key in the store
	if e.ID != "" && !r.queueClaims {
		key = e.DedupeKey()
		lease := r.cfg.admission
		if r.certain {
			lease = r.cfg.lease
		}
		sctx, cancel := r.storeContext(ctx, r.memStore)
		outcome, err := r.cfg.store.Claim(sctx, key, e.ClaimToken, lease)
		cancel()
		switch {
		case err != nil:
			r.refuse(req, w, fmt.Errorf("%w: %w", ErrStore, err), e)
			return
		case outcome == dedupe.Pending:
			r.refuse(req, w, ErrPending, e)
			return
		case outcome != dedupe.Claimed:
			w.WriteHeader(r.cfg.okStatus)
			r.observeAccepted(req, StageDuplicate, e)
			r.log.LogAttrs(ctx, slog.LevelDebug, "duplicate delivery acknowledged", slog.String("id", e.ID), slog.String("type", e.Type))
			return
		}
	}
	line := r.orderKey(ctx, e)
	if err := r.joinLine(ctx, line, e); err != nil {
		if key != "" {
			r.release(ctx, e, "release after the ordering store refused")
		}
		r.refuse(req, w, err, e)
		return
	}
	// Once queued, the event belongs to the workers, which may set its
	// Payload and Attempt at once: observers of the acknowledgement get a
	// copy taken before.
	seen := e
	if r.cfg.observer != nil {
		c := *e
		seen = &c
	}
	if err := r.cfg.queue.Enqueue(context.WithoutCancel(ctx), e); errors.Is(err, driver.ErrDuplicate) {
		// The queue holds the event already (it claims IDs itself): this
		// delivery's own claim, if the store made one, is not needed.
		r.leaveLine(ctx, line, e)
		if key != "" {
			r.release(ctx, e, "release after a duplicate the queue found")
		}
		w.WriteHeader(r.cfg.okStatus)
		r.observeAccepted(req, StageDuplicate, seen)
		r.log.LogAttrs(ctx, slog.LevelDebug, "duplicate delivery acknowledged", slog.String("id", e.ID), slog.String("type", e.Type))
		return
	} else if err != nil {
		// Best effort, and only for this delivery's own claim, so that the
		// sender's retry is processed at once. Unless the queue says it
		// keeps nothing (driver.ErrNotKept), the error does not prove the
		// event was not stored (a reply lost after the write): only a claim
		// still admitted is released then. A worker that took the stored
		// copy confirmed the claim (see take), which stays, and the retry is
		// a duplicate rather than a second copy. Its line entry, if any,
		// lapses after the hold then.
		r.leaveLine(ctx, line, e)
		switch {
		case errors.Is(err, driver.ErrNotKept):
			r.forget(ctx, e, "release after failed enqueue", r.cfg.store.Release)
		case r.admitted != nil:
			r.forget(ctx, e, "release after failed enqueue", r.admitted.ReleaseAdmitted)
		} // else the claim lapses with the admission lease
		r.refuse(req, w, err, e)
		return
	}
	if key != "" && r.certain {
		// In memory the claim is confirmed at once: a redelivery is then a
		// duplicate, not pending. With a store or queue that can leave an
		// outcome unknown, the worker that takes the event confirms it.
		_, _ = r.cfg.store.Confirm(ctx, key, e.ClaimToken, r.cfg.lease)
	}
	w.WriteHeader(r.cfg.okStatus)
	r.observeAccepted(req, StageEnqueued, seen)
}

// keep runs the filters (WithFilter) on e, a verified event, and reports
// whether every one keeps it. A filter that panics keeps it.
func (r *Receiver) keep(ctx context.Context, e *Event) bool {
	if r.payload != nil {
		_ = r.setPayload(e) // best effort: the worker extracts it again, or dead-letters it
	}
	for _, f := range r.cfg.filters {
		if !r.runFilter(ctx, f, e) {
			return false
		}
	}
	return true
}

// runFilter calls one filter, keeping the event when it panics.
func (r *Receiver) runFilter(ctx context.Context, f func(context.Context, *Event) bool, e *Event) (keep bool) {
	defer func() {
		if v := recover(); v != nil {
			keep = true
			r.log.LogAttrs(ctx, slog.LevelError, "filter panicked; event kept", slog.String("id", e.ID), slog.String("type", e.Type), slog.Any("panic", v))
		}
	}()
	return f(ctx, e)
}

// asVerifyError makes sure an error of Provider.Verify classifies as a
// verification failure (401), whatever its cause.
func asVerifyError(err error) error {
	if errors.Is(err, verify.ErrVerification) {
		return err
	}
	return &verifyError{err}
}

// observeAccepted tells the observer about an acknowledged delivery, with
// the clock skew of its signed timestamp when the provider has one.
func (r *Receiver) observeAccepted(req *http.Request, stage Stage, e *Event) {
	if r.cfg.observer == nil {
		return
	}
	o := Observation{Stage: stage, Event: e, Status: r.cfg.okStatus, Request: req}
	if r.sentAt != nil {
		if t, ok := r.sentAt.SentAt(req); ok {
			o.Skew, o.HasSkew = e.ReceivedAt.Sub(t), true
		}
	}
	r.observe(req.Context(), o)
}

// handshake runs the provider's handshake stage on req (body nil for a
// request other than POST) and reports whether it answered: with the
// provider's reply, or 401 for a reply marked VerifyFirst to a request that
// fails verification.
func (r *Receiver) handshake(req *http.Request, w http.ResponseWriter, body []byte) bool {
	if r.hs == nil {
		return false
	}
	rep := r.hs.Handshake(req, body)
	if rep == nil {
		return false
	}
	if rep.VerifyFirst {
		if err := r.p.Verify(req, body); err != nil {
			r.refuse(req, w, asVerifyError(err), nil)
			return true
		}
	}
	rep.ServeHTTP(w, req)
	r.observe(req.Context(), Observation{Stage: StageHandshake, Status: rep.Status, Request: req})
	return true
}

// handles reports whether the handler takes eventType, through TypeHandler.
func (r *Receiver) handles(eventType string) bool {
	return r.types != nil && r.types.Handles(eventType)
}

// refuse answers a request refused before enqueueing (e is nil until the
// envelope is read) through the error renderer, with the status of the
// one table (Classify). The default body is the status text alone: a 401
// never says which check failed. The reason goes to the log and the
// observer.
func (r *Receiver) refuse(req *http.Request, w http.ResponseWriter, err error, e *Event) {
	rf := r.refusal(err)
	r.cfg.render(w, req, rf)
	ctx := req.Context()
	stage := StageRejected
	switch rf.Status {
	case http.StatusServiceUnavailable:
		attrs := []slog.Attr{slog.String("reason", rf.Reason), slog.Any("error", err)}
		if e != nil {
			attrs = append(attrs, slog.String("id", e.ID), slog.String("type", e.Type))
		}
		r.log.LogAttrs(ctx, slog.LevelWarn, "delivery not accepted, sender will retry", attrs...)
	case http.StatusUnprocessableEntity:
		stage = StageInvalid
		r.log.LogAttrs(ctx, slog.LevelInfo, "invalid payload rejected", slog.String("id", e.ID), slog.String("type", e.Type), slog.Any("error", err))
	default:
		// Anyone can send requests that fail here: at DEBUG, so a flood of
		// them costs no log volume unless asked for, and the reason bounded
		// and escaped, since a provider's error may quote the request.
		// Observers count them all.
		if r.log.Enabled(ctx, slog.LevelDebug) {
			r.log.LogAttrs(ctx, slog.LevelDebug, "delivery rejected", slog.Int("status", rf.Status),
				slog.String("reason", rf.Reason), slog.String("error", logText(err.Error(), maxReasonBytes)))
		}
	}
	r.observe(ctx, Observation{Stage: stage, Event: e, Status: rf.Status, Reason: rf.Reason, Err: err, Request: req})
}

func (r *Receiver) observe(ctx context.Context, o Observation) {
	if r.cfg.observer == nil {
		return
	}
	o.Provider = r.p.Name()
	if all, ok := r.cfg.observer.(observers); ok {
		for _, ob := range all {
			r.observeOne(ctx, ob, o)
		}
		return
	}
	r.observeOne(ctx, r.cfg.observer, o)
}

// observeOne calls one observer, recovering and logging its panic.
func (r *Receiver) observeOne(ctx context.Context, ob Observer, o Observation) {
	defer func() {
		if v := recover(); v != nil {
			r.log.LogAttrs(ctx, slog.LevelError, "observer panicked", slog.String("stage", o.Stage.String()), slog.Any("panic", v))
		}
	}()
	ob.Observe(ctx, o)
}

func noop() {}

// storeContext bounds a call to the dedupe or ordering store by
// StoreTimeout, unless the store is in memory (inMemory), which never
// blocks. Its timer is made only once the store waits on the context (see
// attemptContext): a Redis store that answers a worker's Confirm or Complete
// from the queue's read or acknowledgement makes no call and costs none.
func (r *Receiver) storeContext(ctx context.Context, inMemory bool) (context.Context, context.CancelFunc) {
	if inMemory {
		return ctx, noop
	}
	return newAttemptContext(ctx, r.cfg.storeTO)
}

// validate sets the event's payload and runs the validator.
func (r *Receiver) validate(ctx context.Context, e *Event) error {
	if err := r.setPayload(e); err != nil {
		return err
	}
	return r.runValidator(ctx, e)
}

// runValidator calls the user's validator, turning a panic into an error:
// an event whose validation panics is retried like one whose handler does,
// instead of crashing the process after the event was acknowledged.
func (r *Receiver) runValidator(ctx context.Context, e *Event) (err error) {
	defer r.recoverPanic(ctx, e, "validator", &err)
	return r.cfg.validator.Validate(ctx, e)
}

// runValidatorContext runs the validator as runValidator does and returns
// the context the handler runs with: ctx, or what a ContextValidator
// returned (ctx when it returned nil).
func (r *Receiver) runValidatorContext(ctx context.Context, e *Event) (hctx context.Context, err error) {
	cv, ok := r.cfg.validator.(ContextValidator)
	if !ok {
		return ctx, r.runValidator(ctx, e)
	}
	hctx = ctx
	defer r.recoverPanic(ctx, e, "validator", &err)
	if vctx, verr := cv.ValidateContext(ctx, e); vctx != nil {
		hctx, err = vctx, verr
	} else {
		err = verr
	}
	return hctx, err
}

// recoverPanic, deferred around a user callback, logs a panic with its stack
// and sets *err to an error naming what panicked.
func (r *Receiver) recoverPanic(ctx context.Context, e *Event, what string, err *error) {
	v := recover()
	if v == nil {
		return
	}
	buf := make([]byte, 4096)
	buf = buf[:runtime.Stack(buf, false)]
	r.log.LogAttrs(ctx, slog.LevelError, what+" panicked", slog.String("id", e.ID), slog.String("type", e.Type),
		slog.Any("panic", v), slog.String("stack", string(buf)))
	*err = fmt.Errorf("receiver: %s panicked: %v", what, v)
}

func (r *Receiver) setPayload(e *Event) error {
	if e.Payload != nil || r.payload == nil {
		return nil
	}
	p, err := r.extractPayload(e)
	if err != nil {
		return &InvalidPayloadError{Reason: err.Error()}
	}
	e.Payload = p
	return nil
}

// extractPayload calls the provider's Payload, turning a panic into an
// error.
func (r *Receiver) extractPayload(e *Event) (p json.RawMessage, err error) {
	defer r.recoverPanic(context.Background(), e, "payload extraction", &err)
	return r.payload.Payload(e.Header, e.Body)
}

// process runs one attempt of e (attempt), then, when e is finished and
// ordered, takes it out of its key's line. The queue calls it through
// processor.
func (r *Receiver) process(ctx context.Context, e *Event) driver.Result {
	res, line, asked := r.attempt(ctx, e)
	if !res.Retry && r.cfg.order != nil {
		if !asked {
			line = r.orderKey(ctx, e) // finished before its turn was asked: a duplicate, an invalid payload
		}
		r.leaveLine(ctx, line, e)
	}
	return res
}

// attempt runs one attempt of e: the dedupe check, payload extraction, its
// ordering key's turn, validation (under the default policy), then the
// split of a fan-out event, or the handler with its timeout and panic
// recovery, and records the outcome. It returns the outcome, and e's line
// key with asked true once its key was read (line "" then: unordered).
func (r *Receiver) attempt(ctx context.Context, e *Event) (res driver.Result, line string, asked bool) {
	if res, ok := r.take(ctx, e); !ok {
		return res, "", false
	}
	if err := r.setPayload(e); err != nil {
		return r.invalid(ctx, e, err), "", false
	}
	if r.cfg.order != nil {
		if line = r.orderKey(ctx, e); line != "" {
			if de, ok := r.turn(ctx, line, e); !ok {
				return r.deferred(ctx, e, de, 0, 0), line, true
			}
		}
	}
	return r.handle(ctx, e), line, r.cfg.order != nil
}

// handle runs validation (under the default policy), then splits a fan-out
// event or runs the handler, and records the outcome.
func (r *Receiver) handle(ctx context.Context, e *Event) driver.Result {
	hctx := ctx // the handler's: with what a ContextValidator passes on
	if r.cfg.validator != nil && r.cfg.invalid == AcknowledgeInvalid {
		vctx, err := r.runValidatorContext(ctx, e)
		switch {
		case errors.Is(err, ErrInvalidPayload):
			return r.invalid(ctx, e, err)
		case err != nil:
			return r.failed(ctx, e, err, 0, 0)
		}
		hctx = vctx
	}
	start := time.Now()
	var wait time.Duration
	if e.Attempt == 1 && !e.ReceivedAt.IsZero() {
		wait = max(r.cfg.now().Sub(e.ReceivedAt), 0)
	}
	if targets := r.fanoutTargets(e); len(targets) > 0 {
		return r.split(ctx, e, targets, wait)
	}
	err := r.run(r.extract(hctx, e), e)
	took := time.Since(start)
	var de *DeferredError
	switch {
	case errors.As(err, &de):
		return r.deferred(ctx, e, de, took, wait)
	case err == nil:
		r.complete(ctx, e)
		r.observe(ctx, Observation{Stage: StageHandled, Event: e, Duration: took, QueueWait: wait})
		r.logEvent(ctx, slog.LevelDebug, "event handled", e, slog.Duration("took", took))
		return driver.Result{}
	case errors.Is(err, ErrNoHandler):
		r.complete(ctx, e)
		r.observe(ctx, Observation{Stage: StageHandled, Event: e, Duration: took, QueueWait: wait, Err: err})
		r.logEvent(ctx, slog.LevelDebug, "no handler for event type; acknowledged", e)
		return driver.Result{}
	case errors.Is(err, ErrInvalidPayload):
		return r.invalid(ctx, e, err)
	}
	return r.failed(ctx, e, err, took, wait)
}

// failed records a failed attempt: a dead letter when err is permanent or
// the attempts are spent, otherwise a retry after a backoff.
func (r *Receiver) failed(ctx context.Context, e *Event, err error, took, wait time.Duration) driver.Result {
	if errors.Is(err, ErrPermanent) || e.Attempt >= r.cfg.maxAttempts {
		return r.deadLetterResult(ctx, e, err, took, wait)
	}
	d := r.delay(e.Attempt)
	r.observe(ctx, Observation{Stage: StageRetried, Event: e, Duration: took, QueueWait: wait, Err: err})
	r.logEvent(ctx, slog.LevelWarn, "handler failed; will retry", e, slog.Any("error", err), slog.Duration("in", d))
	return driver.Result{Retry: true, Delay: d, Err: err}
}

// deferred records an attempt a handler put off (Defer): the event runs
// again after the delay asked for, its attempt not used up.
func (r *Receiver) deferred(ctx context.Context, e *Event, de *DeferredError, took, wait time.Duration) driver.Result {
	d := de.After
	if d <= 0 {
		d = r.cfg.backoffBase
	}
	d = max(min(d, max(r.cfg.backoffMax, MinDeferral)), MinDeferral)
	r.observe(ctx, Observation{Stage: StageDeferred, Event: e, Reason: de.Reason, Duration: took, QueueWait: wait, Err: de})
	r.logEvent(ctx, slog.LevelDebug, "handler deferred event; attempt not used", e,
		slog.String("reason", logText(de.Reason, maxReasonBytes)), slog.Duration("in", d))
	return driver.Result{Retry: true, KeepAttempt: true, Delay: d, Err: de}
}

// take makes sure, before an attempt runs, that e's delivery still holds
// its dedupe key, and confirms the claim for the full lease. It reports
// false, with the result to return, when the attempt must not run:
//   - the key is done (the event was handled, and this is a copy left
//     pending by a crash before its acknowledgement), or confirmed by another
//     delivery whose event is stored: this copy is a duplicate;
//   - another delivery is being admitted: this attempt waits for the
//     admission lease, after which the key is settled, without using up
//     an attempt (no handler ran).
//
// A key that is free (released after an enqueue whose outcome was unknown,
// or lapsed) is taken for this copy. A store error lets the attempt run:
// the request path already deduplicated the delivery. When the store and
// the queue are both in memory no outcome is ever unknown and nothing is
// checked.
func (r *Receiver) take(ctx context.Context, e *Event) (driver.Result, bool) {
	if r.certain || e.ID == "" || e.ClaimToken == "" {
		return driver.Result{}, true
	}
	key := e.DedupeKey()
	sctx, cancel := r.storeContext(context.WithoutCancel(ctx), r.memStore)
	defer cancel()
	held, err := r.cfg.store.Confirm(sctx, key, e.ClaimToken, r.cfg.lease)
	if err != nil || held {
		return driver.Result{}, true
	}
	outcome, err := r.cfg.store.Claim(sctx, key, e.ClaimToken, r.cfg.lease)
	switch {
	case err != nil:
		return driver.Result{}, true
	case outcome == dedupe.Claimed:
		_, _ = r.cfg.store.Confirm(sctx, key, e.ClaimToken, r.cfg.lease)
		return driver.Result{}, true
	case outcome == dedupe.Pending:
		r.logEvent(ctx, slog.LevelDebug, "another delivery of the event is being admitted; waiting", e)
		return driver.Result{Retry: true, KeepAttempt: true, Delay: r.cfg.admission, Err: ErrPending}, false
	}
	r.observe(ctx, Observation{Stage: StageDuplicate, Event: e})
	r.logEvent(ctx, slog.LevelDebug, "event already handled or held by another delivery; not run again", e)
	return driver.Result{}, false
}

// logEvent logs msg with the event's ID, type and attempt, building nothing
// when the level is disabled.
func (r *Receiver) logEvent(ctx context.Context, level slog.Level, msg string, e *Event, attrs ...slog.Attr) {
	if !r.log.Enabled(ctx, level) {
		return
	}
	r.log.LogAttrs(ctx, level, msg, append([]slog.Attr{slog.String("id", e.ID), slog.String("type", e.Type), slog.Int("attempt", e.Attempt)}, attrs...)...)
}

// run calls the handler with a timeout, turning a panic into an error.
func (r *Receiver) run(ctx context.Context, e *Event) (err error) {
	actx := startAttempt(ctx, r.cfg.handlerTO)
	ctx = actx
	defer actx.stop()
	defer r.recoverPanic(ctx, e, "handler", &err)
	return r.h.HandleEvent(ctx, e)
}

// delay is exponential backoff with full jitter.
func (r *Receiver) delay(attempt int) time.Duration {
	ceil := r.cfg.backoffBase
	for i := 1; i < attempt && ceil < r.cfg.backoffMax; i++ {
		ceil *= 2
	}
	ceil = min(ceil, r.cfg.backoffMax)
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}

// release forgets e's dedupe key, if this delivery's claim holds it, so
// that a redelivery is processed; a failure is logged with msg.
func (r *Receiver) release(ctx context.Context, e *Event, msg string) {
	r.forget(ctx, e, msg, r.cfg.store.Release)
}

// forget runs a release of the store (Release, or ReleaseAdmitted) for e's
// dedupe key and this delivery's claim token, within StoreTimeout; a
// failure is logged with msg.
func (r *Receiver) forget(ctx context.Context, e *Event, msg string, release func(ctx context.Context, key, token string) error) {
	if e.ID == "" {
		return
	}
	sctx, cancel := r.storeContext(context.WithoutCancel(ctx), r.memStore)
	defer cancel()
	if err := release(sctx, e.DedupeKey(), e.ClaimToken); err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("id", e.ID), slog.Any("error", err))
	}
}

func (r *Receiver) complete(ctx context.Context, e *Event) {
	if e.ID == "" {
		return
	}
	sctx, cancel := r.storeContext(context.WithoutCancel(ctx), r.memStore)
	defer cancel()
	if err := r.cfg.store.Complete(sctx, e.DedupeKey(), e.ClaimToken, r.cfg.retention); err != nil {
		// The claim's lease still guards the key; a redelivery after it lapses
		// would be handled again, which idempotent handlers tolerate.
		r.log.LogAttrs(ctx, slog.LevelWarn, "could not mark event done", slog.String("id", e.ID), slog.Any("error", err))
	}
}

func (r *Receiver) invalid(ctx context.Context, e *Event, err error) driver.Result {
	r.observe(ctx, Observation{Stage: StageInvalid, Event: e, Err: err})
	return r.deadLetterResult(ctx, e, err, 0, 0)
}

// deadLetterResult dead-letters e, or, when the dead-letter store refuses it
// (full, or unreachable), keeps it in the queue: it is retried after the
// longest backoff, so that an acknowledged event leaves the queue only
// handled or stored as a dead letter.
func (r *Receiver) deadLetterResult(ctx context.Context, e *Event, err error, took, wait time.Duration) driver.Result {
	if r.deadLetter(ctx, e, err, took, wait) != nil {
		return driver.Result{Retry: true, Delay: r.cfg.backoffMax, Err: err}
	}
	return driver.Result{Err: err}
}

// deadLetter stores e in the dead-letter store with err as the reason, then
// settles its dedupe key: released, so that a redelivery is processed again
// (ReprocessDeadLettered, the default), or marked done. When the store
// refuses the dead letter, it logs that at ERROR, leaves the key as it is
// and returns the store's error.
func (r *Receiver) deadLetter(ctx context.Context, e *Event, err error, took, wait time.Duration) error {
	d := DeadLetter{Event: e, Reason: err.Error(), FailedAt: r.cfg.now()}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.storeTO)
	perr := r.cfg.deadLetters.Put(sctx, d)
	cancel()
	if perr != nil {
		r.log.LogAttrs(ctx, slog.LevelError, "could not store dead letter", slog.String("id", e.ID),
			slog.String("type", e.Type), slog.Int("attempts", e.Attempt), slog.Any("error", perr))
		return perr
	}
	if r.cfg.reprocess {
		r.release(ctx, e, "could not release dead-lettered event")
	} else {
		r.complete(ctx, e)
	}
	r.observe(ctx, Observation{Stage: StageDeadLettered, Event: e, Err: err, Duration: took, QueueWait: wait})
	r.log.LogAttrs(ctx, slog.LevelWarn, "event dead-lettered", slog.String("id", e.ID), slog.String("type", e.Type), slog.Int("attempts", e.Attempt), slog.String("reason", d.Reason))
	return nil
}

// abandon dead-letters an event a queue gives up on without running it
// (again). Should the dead-letter store refuse it, the refusal is logged at
// ERROR with the event's ID.
func (r *Receiver) abandon(ctx context.Context, e *Event, err error) {
	_ = r.deadLetter(ctx, e, err, 0, 0)
	if r.cfg.order != nil {
		r.leaveLine(ctx, r.orderKey(ctx, e), e)
	}
}

// Replay queues a dead letter's event again with a fresh attempt count and
// removes it from the dead-letter store. The event's dedupe mark is
// released: a replay is deliberate. See Replayer to replay from a tool that
// has no receiver.
func (r *Receiver) Replay(ctx context.Context, d DeadLetter) error {
	return Replayer{Queue: r.cfg.queue, Store: r.cfg.store, DeadLetters: r.cfg.deadLetters}.Replay(ctx, d)
}

// Shutdown stops intake (new deliveries get 503), lets the queue finish
// queued and in-flight events until ctx is done, and closes the dedupe store
// if the receiver created it. Later calls return the first call's result.
//
// What happens to events left when ctx ends depends on the queue. The
// in-memory queue hands them to the dead-letter store; every acknowledged
// event not handled is logged at ERROR level with its ID and listed in the
// *ShutdownError (wrapping ctx.Err()) it returns. A durable queue (Redis,
// PostgreSQL) keeps them: Shutdown returns ctx.Err(), and the events are
// run by another replica, or by this one restarted, once their lease lapses
// (at once under the same consumer or instance name); nothing is lost, and
// nothing is logged at ERROR.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.shutdownOnce.Do(func() {
		r.closing.Store(true)
		r.shutdownErr = r.cfg.queue.Shutdown(ctx)
		r.logUnfinished(ctx, r.shutdownErr)
		if r.cfg.ownStore {
			if c, ok := r.cfg.store.(interface{ Close() error }); ok {
				_ = c.Close()
			}
		}
	})
	return r.shutdownErr
}
