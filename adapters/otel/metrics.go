package otel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// Metric names (see the package documentation for their attributes).
const (
	MetricDeliveries      = "hookwise.deliveries"
	MetricHandlerOutcomes = "hookwise.handler.outcomes"
	MetricRequestDuration = "hookwise.request.duration"
	MetricQueueWait       = "hookwise.queue.wait"
	MetricHandlerDuration = "hookwise.handler.duration"
	MetricSkew            = "hookwise.clock.skew"
	MetricQueueDepth      = "hookwise.queue.depth"
	MetricQueueOldestAge  = "hookwise.queue.oldest_age"
	MetricQueueStatsUp    = "hookwise.queue.stats_up"
)

// Default bucket boundaries, in seconds: the request path answers in
// milliseconds, handlers and queue waits take up to minutes, and a clock
// skew matters from seconds up to the providers' tolerance windows.
var (
	requestBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	handlerBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	waitBuckets    = []float64{0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600}
	skewBuckets    = []float64{0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800}
)

type instruments struct {
	deliveries      metric.Int64Counter
	handlerOutcomes metric.Int64Counter
	requestDuration metric.Float64Histogram
	queueWait       metric.Float64Histogram
	handlerDuration metric.Float64Histogram
	skew            metric.Float64Histogram
	depth           metric.Int64ObservableGauge
	oldestAge       metric.Float64ObservableGauge
	statsUp         metric.Int64ObservableGauge
}

func newInstruments(m metric.Meter) (instruments, error) {
	var in instruments
	var errs []error
	try := func(e error) { errs = append(errs, e) }
	var e error
	in.deliveries, e = m.Int64Counter(MetricDeliveries, metric.WithUnit("{delivery}"),
		metric.WithDescription("Webhook deliveries answered, by provider and outcome."))
	try(e)
	in.handlerOutcomes, e = m.Int64Counter(MetricHandlerOutcomes, metric.WithUnit("{attempt}"),
		metric.WithDescription("Outcomes of handler attempts, by provider, event pattern and outcome."))
	try(e)
	in.requestDuration, e = m.Float64Histogram(MetricRequestDuration, metric.WithUnit("s"),
		metric.WithDescription("Time to answer a delivery (the request path)."),
		metric.WithExplicitBucketBoundaries(requestBuckets...))
	try(e)
	in.queueWait, e = m.Float64Histogram(MetricQueueWait, metric.WithUnit("s"),
		metric.WithDescription("Time from an event's acknowledgement to the start of its first attempt."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	try(e)
	in.handlerDuration, e = m.Float64Histogram(MetricHandlerDuration, metric.WithUnit("s"),
		metric.WithDescription("Run time of handler attempts."),
		metric.WithExplicitBucketBoundaries(handlerBuckets...))
	try(e)
	in.skew, e = m.Float64Histogram(MetricSkew, metric.WithUnit("s"),
		metric.WithDescription("Absolute difference between a delivery's receipt and the timestamp its provider signed."),
		metric.WithExplicitBucketBoundaries(skewBuckets...))
	try(e)
	in.depth, e = m.Int64ObservableGauge(MetricQueueDepth, metric.WithUnit("{event}"),
		metric.WithDescription("Events accepted and not finished (queued, retrying, running)."))
	try(e)
	in.oldestAge, e = m.Float64ObservableGauge(MetricQueueOldestAge, metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest event waiting to start."))
	try(e)
	in.statsUp, e = m.Int64ObservableGauge(MetricQueueStatsUp,
		metric.WithDescription("1 when the queue's backlog could be read at the last collection, 0 otherwise."))
	try(e)
	return in, errors.Join(errs...)
}

// set builds the attribute set of a measurement, leaving out empty values.
func (instruments) set(kvs ...attribute.KeyValue) metric.MeasurementOption {
	n := 0
	for _, kv := range kvs {
		if kv.Value.AsString() != "" {
			kvs[n] = kv
			n++
		}
	}
	return metric.WithAttributes(kvs[:n]...)
}

// countDelivery records a request-path observation.
func (t *Telemetry) countDelivery(ctx context.Context, o receiver.Observation, outcome string) {
	t.inst.deliveries.Add(ctx, 1, t.inst.set(AttrProvider.String(o.Provider), AttrOutcome.String(outcome), AttrReason.String(reason(o.Reason))))
	if o.HasSkew {
		skew, dir := o.Skew, "behind"
		if skew < 0 {
			skew, dir = -skew, "ahead"
		}
		t.inst.skew.Record(ctx, seconds(skew), t.inst.set(AttrProvider.String(o.Provider), AttrSkewDirection.String(dir)))
	}
}

// countAttempt records a handler-stage observation.
func (t *Telemetry) countAttempt(ctx context.Context, o receiver.Observation) {
	pattern := OtherPattern
	if o.Event != nil {
		pattern = t.pattern(o.Event.Type)
	}
	outcome := attemptOutcome(o)
	t.inst.handlerOutcomes.Add(ctx, 1, t.inst.set(AttrProvider.String(o.Provider), AttrEventPattern.String(pattern), AttrOutcome.String(outcome)))
	if o.Stage != receiver.StageHandled && o.Stage != receiver.StageRetried {
		return // the other stages carry no run time
	}
	if o.Event != nil && o.Event.Attempt == 1 {
		t.inst.queueWait.Record(ctx, seconds(o.QueueWait), t.inst.set(AttrProvider.String(o.Provider), AttrEventPattern.String(pattern)))
	}
	if outcome != "unhandled" { // no handler ran
		t.inst.handlerDuration.Record(ctx, seconds(o.Duration),
			t.inst.set(AttrProvider.String(o.Provider), AttrEventPattern.String(pattern), AttrOutcome.String(outcome)))
	}
}

// StatsReader reports a queue's backlog; *receiver.Receiver implements it.
type StatsReader interface {
	Stats(ctx context.Context) (driver.Stats, error)
}

// ObserveQueue reports s's backlog as the hookwise.queue.depth and
// hookwise.queue.oldest_age gauges, under hookwise.endpoint = endpoint, at
// each collection, and hookwise.queue.stats_up: 1, or 0 when Stats failed
// (Redis unreachable), in which case the other two report nothing rather
// than a stale or zero backlog. Unregister the returned registration when
// the receiver is gone.
func (t *Telemetry) ObserveQueue(endpoint string, s StatsReader) (metric.Registration, error) {
	attrs := metric.WithAttributes(AttrEndpoint.String(endpoint))
	return t.meter.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
		st, err := s.Stats(ctx)
		if err != nil {
			ob.ObserveInt64(t.inst.statsUp, 0, attrs)
			return nil // a failed read is a gap and stats_up 0, not a failed collection
		}
		ob.ObserveInt64(t.inst.statsUp, 1, attrs)
		ob.ObserveInt64(t.inst.depth, int64(st.Depth), attrs)
		ob.ObserveFloat64(t.inst.oldestAge, seconds(st.OldestAge), attrs)
		return nil
	}, t.inst.depth, t.inst.oldestAge, t.inst.statsUp)
}
