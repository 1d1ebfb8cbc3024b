package otel

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookwise/hookwise/receiver"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/hookwise/hookwise/adapters/otel"

// System is the messaging.system attribute of every span.
const System = "hookwise"

// Telemetry traces and measures one receiver, or several: it is a
// receiver.Observer and a receiver.Propagator, and gives the HTTP middleware
// (Instrument) and the handler middleware (Middleware). It is safe for
// concurrent use.
type Telemetry struct {
	tracer   trace.Tracer
	meter    metric.Meter
	prop     propagation.TextMapPropagator
	mux      *receiver.Mux
	endpoint string
	inst     instruments

	mu      sync.Mutex
	pending map[*receiver.Event]pendingSpan // attempt spans waiting for the receiver's verdict
}

// Option configures a Telemetry.
type Option func(*config)

type config struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	prop     propagation.TextMapPropagator
	mux      *receiver.Mux
	endpoint string
}

// WithTracerProvider sets the tracer provider (default: the global one,
// otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the meter provider (default: the global one,
// otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTextMapPropagator sets the propagator that writes the trace context
// into Event.Meta (default: propagation.TraceContext, the W3C traceparent
// and tracestate). Entries beyond Event.Meta's bounds are dropped, so keep
// it small: a composite with propagation.Baggage carries baggage only while
// it fits in 512 bytes.
func WithTextMapPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// WithMux sets the Mux whose patterns name event types in metrics
// (hookwise.event.pattern): an event is counted under the pattern that
// takes it ("invoice.*", not the type the sender wrote), or OtherPattern.
// Without it every event counts under OtherPattern: a raw type comes from
// the sender and would let it create series at will. Give each receiver its
// own Telemetry when their muxes differ.
func WithMux(m *receiver.Mux) Option {
	return func(c *config) { c.mux = m }
}

// WithEndpoint sets messaging.destination.name and the span names
// ("receive <name>", "process <name>"); default: the event's provider,
// which is also the receiver's default endpoint name (receiver.WithEndpoint).
func WithEndpoint(name string) Option {
	return func(c *config) { c.endpoint = name }
}

// New returns a Telemetry. It fails only when the meter refuses an
// instrument.
func New(opts ...Option) (*Telemetry, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = propagation.TraceContext{}
	}
	t := &Telemetry{
		tracer:   c.tp.Tracer(ScopeName),
		meter:    c.mp.Meter(ScopeName),
		prop:     c.prop,
		mux:      c.mux,
		endpoint: c.endpoint,
		pending:  make(map[*receiver.Event]pendingSpan),
	}
	inst, err := newInstruments(t.meter)
	if err != nil {
		return nil, err
	}
	t.inst = inst
	return t, nil
}

// Options returns the receiver options that install t: its observer and
// its propagator.
func (t *Telemetry) Options() []receiver.Option {
	return []receiver.Option{receiver.WithObserver(t), receiver.WithPropagator(t)}
}

// Observe implements receiver.Observer: it annotates the delivery's span
// (request-path stages) or the attempt's span (handler stages) and records
// the metrics.
func (t *Telemetry) Observe(ctx context.Context, o receiver.Observation) {
	if o.Request != nil || o.Stage == receiver.StageHandshake {
		t.observeDelivery(ctx, o)
		return
	}
	t.observeAttempt(ctx, o)
}

// destination is messaging.destination.name for provider.
func (t *Telemetry) destination(provider string) string {
	if t.endpoint != "" {
		return t.endpoint
	}
	return provider
}

// OtherPattern is the hookwise.event.pattern of an event no pattern of the
// Mux takes, and of every event without WithMux (as the Prometheus
// adapter's OtherType).
const OtherPattern = "(other)"

// pattern returns the Mux pattern that takes eventType, or OtherPattern.
func (t *Telemetry) pattern(eventType string) string {
	if t.mux == nil {
		return OtherPattern
	}
	if _, p := t.mux.Handler(eventType); p != "" {
		return p
	}
	return OtherPattern
}

// deliveryOutcome names a request-path observation.
func deliveryOutcome(o receiver.Observation) string {
	switch o.Stage {
	case receiver.StageEnqueued:
		return "accepted"
	case receiver.StageDuplicate:
		return "duplicate"
	case receiver.StageInvalid:
		return "invalid"
	case receiver.StageHandshake:
		return "handshake"
	case receiver.StageFiltered:
		return "filtered"
	case receiver.StageRejected:
		switch o.Reason {
		case receiver.ReasonInvalid:
			return "invalid"
		case receiver.ReasonUnavailable, receiver.ReasonOverloaded, receiver.ReasonPending, receiver.ReasonClosed:
			return "unavailable"
		}
		if o.Status == 503 {
			return "unavailable"
		}
		return "rejected"
	}
	return "other"
}

// reasons is receiver.Classify's set of reasons.
var reasons = map[string]bool{
	receiver.ReasonMethod: true, receiver.ReasonTooLarge: true, receiver.ReasonUnreadable: true,
	receiver.ReasonSignature: true, receiver.ReasonTimestamp: true, receiver.ReasonMalformed: true,
	receiver.ReasonInvalid: true, receiver.ReasonUnavailable: true, receiver.ReasonOverloaded: true,
	receiver.ReasonPending: true, receiver.ReasonClosed: true, receiver.ReasonInternal: true,
}

// reason bounds an observation's reason to Classify's set: "" stays "",
// anything outside the set is "other".
func reason(r string) string {
	if r == "" || reasons[r] {
		return r
	}
	return "other"
}

// attemptOutcome names a handler-stage observation.
func attemptOutcome(o receiver.Observation) string {
	switch o.Stage {
	case receiver.StageHandled:
		if errors.Is(o.Err, receiver.ErrNoHandler) {
			return "unhandled"
		}
		return "handled"
	case receiver.StageRetried:
		return "retried"
	case receiver.StageDeadLettered:
		return "dead_lettered"
	case receiver.StageInvalid:
		return "invalid"
	case receiver.StageDuplicate:
		return "duplicate"
	case receiver.StageDeferred:
		return "deferred"
	case receiver.StageSplit:
		return "split"
	}
	return "other"
}

// seconds converts d for a histogram in seconds.
func seconds(d time.Duration) float64 { return d.Seconds() }
