package otel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookwise/hookwise/internal/textcut"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// Attribute keys of the spans and metrics, besides the messaging and HTTP
// semantic conventions'.
const (
	AttrProvider      = attribute.Key("hookwise.provider")
	AttrOutcome       = attribute.Key("hookwise.outcome")
	AttrReason        = attribute.Key("hookwise.reason")
	AttrEventType     = attribute.Key("hookwise.event.type")
	AttrEventPattern  = attribute.Key("hookwise.event.pattern")
	AttrAttempt       = attribute.Key("hookwise.attempt")
	AttrSkew          = attribute.Key("hookwise.skew")
	AttrSkewDirection = attribute.Key("hookwise.skew.direction")
	AttrEndpoint      = attribute.Key("hookwise.endpoint")
	AttrTarget        = attribute.Key("hookwise.target") // a fan-out copy's handler (receiver.Event.Target)
	attrSystem        = attribute.Key("messaging.system")
	attrOperationType = attribute.Key("messaging.operation.type")
	attrOperationName = attribute.Key("messaging.operation.name")
	attrMessageID     = attribute.Key("messaging.message.id")
	attrDestination   = attribute.Key("messaging.destination.name")
	attrMethod        = attribute.Key("http.request.method")
	attrStatusCode    = attribute.Key("http.response.status_code")
	attrExceptionType = attribute.Key("exception.type")
	attrExceptionMsg  = attribute.Key("exception.message")
	maxErrorBytes     = 256
	pendingTTL        = time.Minute
)

// Span event names recording what the receiver did with a failed attempt.
const (
	EventRetried      = "hookwise.retried"
	EventDeadLettered = "hookwise.dead_lettered"
	EventInvalid      = "hookwise.invalid"
	// EventDeferred marks an attempt a breaker or a limit put off
	// (receiver.Defer): not an error, no attempt used up.
	EventDeferred = "hookwise.deferred"
)

type deliveryKey struct{}

// delivery is what the observer learns about a request, for Instrument.
type delivery struct {
	provider, outcome string
}

type linkKey struct{}

// clock is the time source of the held spans' sweep (tests replace it).
var clock = time.Now

// Instrument wraps a receiver (or any handler mounting one) with a SERVER
// span per request and the hookwise.request.duration histogram. The
// observer (Options) fills in the outcome; the span carries the status code
// and ends when the answer is written.
func (t *Telemetry) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		d := &delivery{}
		name := "receive"
		if t.endpoint != "" {
			name += " " + t.endpoint
		}
		ctx := context.WithValue(r.Context(), deliveryKey{}, d)
		ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attrSystem.String(System), attrOperationType.String("receive"), attrOperationName.String("receive"),
			attrMethod.String(method(r.Method)),
		))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			span.SetAttributes(attrStatusCode.Int(status))
			if t.endpoint == "" && d.provider != "" {
				span.SetName("receive " + d.provider)
			}
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			span.End()
			// A request the observer did not see (it never reached the
			// receiver, or an optional event acknowledged unobserved) is
			// not timed, as in the Prometheus adapter.
			if d.outcome != "" {
				t.inst.requestDuration.Record(context.WithoutCancel(ctx), seconds(time.Since(start)),
					t.inst.set(AttrProvider.String(d.provider), AttrOutcome.String(d.outcome)))
			}
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// method bounds the request method for an attribute: a known method, or
// "_OTHER" (the HTTP semantic conventions' value for the rest).
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observeDelivery annotates the delivery span and counts the delivery.
func (t *Telemetry) observeDelivery(ctx context.Context, o receiver.Observation) {
	outcome := deliveryOutcome(o)
	if d, ok := ctx.Value(deliveryKey{}).(*delivery); ok {
		d.provider, d.outcome = o.Provider, outcome
	}
	t.countDelivery(ctx, o, outcome)
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		AttrProvider.String(o.Provider), attrDestination.String(t.destination(o.Provider)), AttrOutcome.String(outcome),
	}
	if r := reason(o.Reason); r != "" {
		attrs = append(attrs, AttrReason.String(r))
	}
	// An Event exists only once the delivery is verified and its envelope
	// read within the receiver's bounds.
	if e := o.Event; e != nil {
		if e.ID != "" {
			attrs = append(attrs, attrMessageID.String(e.ID))
		}
		if e.Type != "" {
			attrs = append(attrs, AttrEventType.String(e.Type))
		}
	}
	if o.HasSkew {
		attrs = append(attrs, AttrSkew.Float64(o.Skew.Seconds()))
	}
	span.SetAttributes(attrs...)
}

// Inject implements receiver.Propagator: it writes the trace context of
// ctx (the delivery's span) into meta, dropping entries beyond
// driver.Event's Meta bounds.
func (t *Telemetry) Inject(ctx context.Context, meta map[string]string) {
	if meta == nil {
		return
	}
	t.prop.Inject(ctx, metaCarrier(meta))
}

// Extract implements receiver.Propagator: it returns ctx with the trace
// context meta carries, as the remote parent of spans started from it, and
// remembers the delivery's span context for Middleware's link.
func (t *Telemetry) Extract(ctx context.Context, meta map[string]string) context.Context {
	if len(meta) == 0 {
		return ctx
	}
	c := metaCarrier(meta)
	if sc := trace.SpanContextFromContext(t.prop.Extract(context.Background(), c)); sc.IsValid() {
		ctx = context.WithValue(ctx, linkKey{}, sc)
	}
	return t.prop.Extract(ctx, c)
}

// DeliverySpan returns the span context of the delivery an attempt's
// context (from Extract) belongs to.
func DeliverySpan(ctx context.Context) (trace.SpanContext, bool) {
	sc, ok := ctx.Value(linkKey{}).(trace.SpanContext)
	return sc, ok
}

// metaCarrier is a propagation.TextMapCarrier over Event.Meta that keeps
// driver.Event's bounds.
type metaCarrier map[string]string

func (c metaCarrier) Get(key string) string { return c[key] }

func (c metaCarrier) Set(key, value string) {
	if key == "" || len(key) > driver.MaxMetaKeyBytes || len(value) > driver.MaxMetaValueBytes {
		return
	}
	if _, ok := c[key]; !ok && len(c) >= driver.MaxMetaEntries {
		return
	}
	c[key] = value
}

func (c metaCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// pendingSpan is an attempt's span that failed, waiting for the observer
// to say whether the event is retried or dead-lettered.
type pendingSpan struct {
	span trace.Span
	at   time.Time
}

// Middleware starts a CONSUMER span around each handler attempt, linked
// to the delivery's span, for receiver.Mux.Use:
//
//	mux.Use(tel.Middleware)
//
// It may also wrap any receiver.Handler; the result implements
// receiver.TypeHandler by asking h, so optional events keep reaching their
// handlers. A failed attempt's span ends when the observer (Options) hears
// whether it is retried or dead-lettered, so install both.
func (t *Telemetry) Middleware(h receiver.Handler) receiver.Handler {
	return &traced{t: t, h: h}
}

type traced struct {
	t *Telemetry
	h receiver.Handler
}

// Handles implements receiver.TypeHandler, by asking the wrapped handler.
func (h *traced) Handles(eventType string) bool {
	th, ok := h.h.(receiver.TypeHandler)
	return ok && th.Handles(eventType)
}

// HandleEvent runs the wrapped handler inside the attempt's span.
func (h *traced) HandleEvent(ctx context.Context, e *receiver.Event) error {
	t := h.t
	dest := t.destination(e.Provider)
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithNewRoot(),
		trace.WithAttributes(
			attrSystem.String(System), attrOperationType.String("process"), attrOperationName.String("process"),
			attrDestination.String(dest), AttrProvider.String(e.Provider), AttrAttempt.Int(e.Attempt),
		),
	}
	if e.ID != "" {
		opts = append(opts, trace.WithAttributes(attrMessageID.String(e.ID)))
	}
	if e.Type != "" {
		opts = append(opts, trace.WithAttributes(AttrEventType.String(e.Type)))
	}
	if e.Target != "" {
		opts = append(opts, trace.WithAttributes(AttrTarget.String(e.Target)))
	}
	if sc, ok := DeliverySpan(ctx); ok {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	ctx, span := t.tracer.Start(ctx, "process "+dest, opts...)
	defer func() {
		// The receiver recovers a handler's panic outside the middleware and
		// treats it as a failed attempt: record it, hold the span for the
		// verdict, and let the panic go on.
		if v := recover(); v != nil {
			t.failed(e, span, "panic", textcut.Cut(fmt.Sprint("panic: ", v), maxErrorBytes))
			panic(v)
		}
	}()
	err := h.h.HandleEvent(ctx, e)
	switch {
	case err == nil:
		span.SetAttributes(AttrOutcome.String("handled"))
	case errors.Is(err, receiver.ErrNoHandler):
		span.SetAttributes(AttrOutcome.String("unhandled"))
	case errors.Is(err, receiver.ErrDeferred):
		// Put off without using up the attempt: not an error.
		span.AddEvent(EventDeferred)
		span.SetAttributes(AttrOutcome.String("deferred"))
	default:
		t.failed(e, span, fmt.Sprintf("%T", err), textcut.Cut(err.Error(), maxErrorBytes))
		return err
	}
	span.End()
	return err
}

// failed records a failed attempt on its span and holds the span for the
// receiver's verdict, or ends it when it is not recorded.
func (t *Telemetry) failed(e *receiver.Event, span trace.Span, typ, msg string) {
	span.AddEvent("exception", trace.WithAttributes(attrExceptionType.String(typ), attrExceptionMsg.String(msg)))
	span.SetStatus(codes.Error, msg)
	if !span.IsRecording() {
		span.End()
		return
	}
	t.hold(e, span)
}

// hold keeps a failed attempt's span open until the observer hears the
// receiver's verdict, ending spans held longer than pendingTTL (the
// verdict never came: the observer is not installed, or the dead-letter
// store refused the event).
func (t *Telemetry) hold(e *receiver.Event, span trace.Span) {
	now := clock()
	var stale []trace.Span
	t.mu.Lock()
	if old, ok := t.pending[e]; ok {
		stale = append(stale, old.span)
	}
	t.pending[e] = pendingSpan{span: span, at: now}
	for k, p := range t.pending {
		if now.Sub(p.at) > pendingTTL {
			stale = append(stale, p.span)
			delete(t.pending, k)
		}
	}
	t.mu.Unlock()
	for _, s := range stale {
		s.End()
	}
}

// release returns and forgets the span held for e.
func (t *Telemetry) release(e *receiver.Event) (trace.Span, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.pending[e]
	if ok {
		delete(t.pending, e)
	}
	return p.span, ok
}

// peek returns the span held for e, leaving it held.
func (t *Telemetry) peek(e *receiver.Event) (trace.Span, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.pending[e]
	return p.span, ok
}

// Pending returns the number of failed attempts' spans waiting for the
// receiver's verdict (normally 0 between attempts).
func (t *Telemetry) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// observeAttempt finishes a failed attempt's span and records the handler
// metrics.
func (t *Telemetry) observeAttempt(ctx context.Context, o receiver.Observation) {
	t.countAttempt(ctx, o)
	if o.Event == nil {
		return
	}
	switch o.Stage {
	case receiver.StageInvalid:
		// A dead letter follows, unless the store refuses it.
		if span, ok := t.peek(o.Event); ok {
			span.AddEvent(EventInvalid)
			span.SetAttributes(AttrOutcome.String("invalid"))
		}
	case receiver.StageRetried:
		if span, ok := t.release(o.Event); ok {
			span.AddEvent(EventRetried)
			span.SetAttributes(AttrOutcome.String("retried"))
			span.End()
		}
	case receiver.StageDeadLettered:
		if span, ok := t.release(o.Event); ok {
			span.AddEvent(EventDeadLettered)
			span.SetAttributes(AttrOutcome.String("dead_lettered"))
			span.End()
		}
	}
}
