package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// Metric names, as exported.
const (
	DeliveriesName      = "hookwise_deliveries_total"
	HandlerOutcomesName = "hookwise_handler_outcomes_total"
	RequestDurationName = "hookwise_request_duration_seconds"
	QueueWaitName       = "hookwise_queue_wait_seconds"
	HandlerDurationName = "hookwise_handler_duration_seconds"
	SkewName            = "hookwise_timestamp_skew_seconds"
	QueueDepthName      = "hookwise_queue_depth"
	QueueOldestAgeName  = "hookwise_queue_oldest_age_seconds"
	QueueStatsUpName    = "hookwise_queue_stats_up"
	BreakerStateName    = "hookwise_breaker_state"
	BreakerChangesName  = "hookwise_breaker_transitions_total"
)

// Delivery outcomes (the outcome label of hookwise_deliveries_total and
// hookwise_request_duration_seconds).
const (
	OutcomeAccepted    = "accepted"
	OutcomeDuplicate   = "duplicate"
	OutcomeHandshake   = "handshake"
	OutcomeRejected    = "rejected"
	OutcomeInvalid     = "invalid"
	OutcomeUnavailable = "unavailable"
	OutcomeFiltered    = "filtered" // acknowledged and dropped by a filter (receiver.WithFilter)
)

// Handler outcomes (the outcome label of hookwise_handler_outcomes_total).
const (
	OutcomeHandled      = "handled"
	OutcomeUnhandled    = "unhandled"
	OutcomeRetried      = "retried"
	OutcomeDeadLettered = "dead_lettered"
	OutcomeDeferred     = "deferred" // put off without using up an attempt (receiver.Defer: a breaker, a limit; an ordering key's turn)
	OutcomeSplit        = "split"    // split into one queued copy per handler of a fan-out route (receiver.Mux.Fanout)
	// OutcomeInvalid and OutcomeDuplicate are handler outcomes too: a
	// payload that fails validation after the acknowledgement, and an event
	// a worker found already handled.
)

// Values of the sender_clock label of hookwise_timestamp_skew_seconds.
const (
	// SenderBehind: the signed timestamp is earlier than the receive time
	// (or equal): the sender's clock is behind ours, or the delivery took
	// that long.
	SenderBehind = "behind"
	// SenderAhead: the signed timestamp is later than the receive time.
	SenderAhead = "ahead"
)

// OtherType is the event_type label of an event no registered pattern takes,
// and of every event when the observer was given no Patterns.
const OtherType = "(other)"

// OtherReason is the reason label of a refusal whose reason is outside
// receiver.Classify's set (none is, today).
const OtherReason = "other"

// DefaultScrapeTimeout bounds each queue's Stats call during a scrape.
const DefaultScrapeTimeout = 2 * time.Second

// Family describes one metric family the adapter exports.
type Family struct {
	Name   string   // the family's name, as in the exposition
	Type   string   // "counter", "histogram" or "gauge"
	Help   string   // its HELP text
	Labels []string // its label names
}

// Buckets of the histograms, in seconds.
var (
	// RequestBuckets: the request path verifies, claims and enqueues; a
	// store or queue across the network adds a round trip or two.
	RequestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	// QueueWaitBuckets: from a millisecond on an idle queue to an hour of
	// backlog.
	QueueWaitBuckets = []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600}
	// HandlerBuckets: a handler's attempt, up to the default 30 s timeout
	// and beyond.
	HandlerBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	// SkewBuckets bound the skew's magnitude (its sign is the sender_clock
	// label). Past 300 s (the usual tolerance) deliveries are refused, not
	// skewed.
	SkewBuckets = []float64{.1, .25, .5, 1, 2, 5, 10, 30, 60, 120, 300}
)

var families = []Family{
	{DeliveriesName, "counter", "Webhook deliveries answered, by provider, outcome (accepted, duplicate, handshake, rejected, invalid, unavailable) and reason class (receiver.Classify).", []string{"provider", "outcome", "reason"}},
	{HandlerOutcomesName, "counter", "Handler attempts' outcomes (handled, unhandled, retried, deferred, dead_lettered, invalid, duplicate, split) by provider and registered event-type pattern.", []string{"provider", "event_type", "outcome"}},
	{RequestDurationName, "histogram", "Time to answer a delivery: body read, verification, dedupe claim, enqueue and the answer.", []string{"provider", "outcome"}},
	{QueueWaitName, "histogram", "Time from a delivery's acknowledgement to the start of its first handler attempt.", []string{"provider"}},
	{HandlerDurationName, "histogram", "Run time of handler attempts that returned (handled or failed), by registered event-type pattern.", []string{"provider", "event_type"}},
	{SkewName, "histogram", "Distance between the receive time and the provider's signed timestamp of acknowledged deliveries; sender_clock is behind (timestamp earlier, or the delivery slow) or ahead (timestamp in the future).", []string{"provider", "sender_clock"}},
	{QueueDepthName, "gauge", "Events accepted and not finished (queued, waiting for a retry or running), read from the queue at scrape time.", []string{"endpoint"}},
	{QueueOldestAgeName, "gauge", "Age of the oldest event waiting for its first attempt, 0 when none waits, read from the queue at scrape time.", []string{"endpoint"}},
	{QueueStatsUpName, "gauge", "1 when the queue's backlog could be read during this scrape, 0 when reading it failed.", []string{"endpoint"}},
	{BreakerStateName, "gauge", "State of each circuit breaker (flow.Breaker) reported through BreakerStateChange: 0 closed, 1 open, 2 half_open.", []string{"breaker"}},
	{BreakerChangesName, "counter", "Circuit breaker transitions, by breaker and the state entered (closed, open, half_open).", []string{"breaker", "to"}},
}

// Families returns the metric families the adapter exports, for tools that
// check dashboards and alerting rules against them. A histogram's series are
// its Name with _bucket, _sum and _count.
func Families() []Family {
	out := make([]Family, len(families))
	for i, f := range families {
		f.Labels = append([]string(nil), f.Labels...)
		out[i] = f
	}
	return out
}

func family(name string) Family {
	for _, f := range families {
		if f.Name == name {
			return f
		}
	}
	panic("hookprom: no family " + name)
}

// Option configures Metrics.
type Option func(*Metrics)

// ScrapeTimeout bounds each watched queue's Stats call during a scrape
// (default DefaultScrapeTimeout); d ≤ 0 selects the default.
func ScrapeTimeout(d time.Duration) Option {
	return func(m *Metrics) {
		if d > 0 {
			m.scrapeTO = d
		}
	}
}

// Metrics holds a receiver's Prometheus collectors. Create one per
// registry with New and share it between the receivers of a process: the
// provider and endpoint labels tell them apart. It is a
// prometheus.Collector, registered by New, and safe for concurrent use.
type Metrics struct {
	deliveries *prometheus.CounterVec
	outcomes   *prometheus.CounterVec
	request    *prometheus.HistogramVec
	wait       *prometheus.HistogramVec
	handler    *prometheus.HistogramVec
	skew       *prometheus.HistogramVec
	breaker    *prometheus.GaugeVec
	changes    *prometheus.CounterVec

	depthDesc, ageDesc, upDesc *prometheus.Desc
	scrapeTO                   time.Duration

	mu      sync.Mutex
	watched map[string]StatsReader
	seen    sync.Map // provider name → struct{}: delivery series initialised
	skewed  sync.Map // provider name → struct{}: skew series initialised
}

var _ prometheus.Collector = (*Metrics)(nil)

// StatsReader is what Watch reads at scrape time: *receiver.Receiver and the
// queues implementing driver.StatsReader.
type StatsReader interface {
	Stats(ctx context.Context) (driver.Stats, error)
}

// Patterns names event types by the pattern that takes them:
// *receiver.Mux implements it. Handler returns "" for a type no pattern
// takes.
type Patterns interface {
	Handler(eventType string) (receiver.Handler, string)
}

// New returns Metrics registered with reg (prometheus.DefaultRegisterer, or
// a registry of one's own). It fails when reg already holds metrics of the
// same names.
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("hookprom: nil registerer")
	}
	counter := func(name string) *prometheus.CounterVec {
		f := family(name)
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: f.Name, Help: f.Help}, f.Labels)
	}
	histogram := func(name string, buckets []float64) *prometheus.HistogramVec {
		f := family(name)
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: f.Name, Help: f.Help, Buckets: buckets}, f.Labels)
	}
	gauge := func(name string) *prometheus.Desc {
		f := family(name)
		return prometheus.NewDesc(f.Name, f.Help, f.Labels, nil)
	}
	m := &Metrics{
		deliveries: counter(DeliveriesName),
		outcomes:   counter(HandlerOutcomesName),
		request:    histogram(RequestDurationName, RequestBuckets),
		wait:       histogram(QueueWaitName, QueueWaitBuckets),
		handler:    histogram(HandlerDurationName, HandlerBuckets),
		skew:       histogram(SkewName, SkewBuckets),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: BreakerStateName, Help: family(BreakerStateName).Help},
			family(BreakerStateName).Labels),
		changes:   counter(BreakerChangesName),
		depthDesc: gauge(QueueDepthName),
		ageDesc:   gauge(QueueOldestAgeName),
		upDesc:    gauge(QueueStatsUpName),
		scrapeTO:  DefaultScrapeTimeout,
		watched:   map[string]StatsReader{},
	}
	for _, o := range opts {
		o(m)
	}
	if err := reg.Register(m); err != nil {
		return nil, fmt.Errorf("hookprom: register: %w", err)
	}
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.deliveries.Describe(ch)
	m.outcomes.Describe(ch)
	m.request.Describe(ch)
	m.wait.Describe(ch)
	m.handler.Describe(ch)
	m.skew.Describe(ch)
	ch <- m.depthDesc
	ch <- m.ageDesc
	ch <- m.upDesc
	m.breaker.Describe(ch)
	m.changes.Describe(ch)
}

// Collect implements prometheus.Collector. It reads the backlog of every
// watched queue, each within the scrape timeout: a queue whose Stats fails
// reports hookwise_queue_stats_up 0 and no depth or age.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.deliveries.Collect(ch)
	m.outcomes.Collect(ch)
	m.request.Collect(ch)
	m.wait.Collect(ch)
	m.handler.Collect(ch)
	m.skew.Collect(ch)
	m.breaker.Collect(ch)
	m.changes.Collect(ch)

	m.mu.Lock()
	names := make([]string, 0, len(m.watched))
	for name := range m.watched {
		names = append(names, name)
	}
	srcs := make([]StatsReader, len(names))
	sort.Strings(names)
	for i, name := range names {
		srcs[i] = m.watched[name]
	}
	m.mu.Unlock()
	for i, name := range names {
		ctx, cancel := context.WithTimeout(context.Background(), m.scrapeTO)
		st, err := srcs[i].Stats(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.MustNewConstMetric(m.upDesc, prometheus.GaugeValue, 0, name)
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.upDesc, prometheus.GaugeValue, 1, name)
		ch <- prometheus.MustNewConstMetric(m.depthDesc, prometheus.GaugeValue, float64(st.Depth), name)
		ch <- prometheus.MustNewConstMetric(m.ageDesc, prometheus.GaugeValue, st.OldestAge.Seconds(), name)
	}
}

// BreakerStateChange exports a circuit breaker's state: give it as
// flow.BreakerConfig.OnStateChange (or call it from yours). It sets
// hookwise_breaker_state{breaker=name} to the state entered (0 closed, 1
// open, 2 half_open) and counts the transition in
// hookwise_breaker_transitions_total{breaker, to}. It is fast and takes no
// lock of the breaker's, as OnStateChange requires. Breaker names are
// configuration (BreakerConfig.Name, or a route's pattern with
// flow.NewBreakers): the series stay bounded.
func (m *Metrics) BreakerStateChange(name string, _, to flow.State) {
	m.breaker.WithLabelValues(name).Set(float64(to))
	m.changes.WithLabelValues(name, to.String()).Inc()
}

// ErrWatched is returned by Watch for an endpoint name already watched.
var ErrWatched = errors.New("hookprom: endpoint already watched")

// Watch exports the backlog of s (a *receiver.Receiver, or its queue) as
// the gauges hookwise_queue_depth, hookwise_queue_oldest_age_seconds and
// hookwise_queue_stats_up with the label endpoint=name, read at each scrape.
// Use the receiver's endpoint name (receiver.WithEndpoint; by default the
// provider's name), so that the gauges line up with the counters' provider
// label. A receiver whose queue cannot report its backlog
// (receiver.ErrNoStats) shows as stats_up 0. Watch returns ErrWatched for a
// name already watched.
func (m *Metrics) Watch(name string, s StatsReader) error {
	if name == "" || s == nil {
		return errors.New("hookprom: Watch needs an endpoint name and a stats reader")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.watched[name]; ok {
		return fmt.Errorf("%w: %q", ErrWatched, name)
	}
	m.watched[name] = s
	return nil
}

// Unwatch stops exporting the backlog of the endpoint name (after its
// receiver shut down, say).
func (m *Metrics) Unwatch(name string) {
	m.mu.Lock()
	delete(m.watched, name)
	m.mu.Unlock()
}

// Observer returns a receiver.Observer that records into m. Event types are
// counted under the pattern types registers them with (pass the receiver's
// *receiver.Mux), or OtherType; with nil types every event is OtherType.
// One Metrics may give an Observer to each of several receivers.
func (m *Metrics) Observer(types Patterns) receiver.Observer {
	return &observer{m: m, types: types}
}

// AllowTypes returns Patterns that name each of the given event types by
// itself and every other type OtherType: a bounded set for a handler that is
// not a *receiver.Mux.
func AllowTypes(types ...string) Patterns {
	set := make(allowSet, len(types))
	for _, t := range types {
		set[t] = struct{}{}
	}
	return set
}

type allowSet map[string]struct{}

func (s allowSet) Handler(eventType string) (receiver.Handler, string) {
	if _, ok := s[eventType]; ok {
		return nil, eventType
	}
	return nil, ""
}

type observer struct {
	m     *Metrics
	types Patterns
}

// requestKey is the context key under which Instrument leaves the labels the
// observer fills in: one per Metrics, so two do not mix.
type requestKey struct{ m *Metrics }

type requestLabels struct {
	provider, outcome string
}

var reasons = map[string]string{ // Classify's reason → delivery outcome
	receiver.ReasonMethod:      OutcomeRejected,
	receiver.ReasonTooLarge:    OutcomeRejected,
	receiver.ReasonUnreadable:  OutcomeRejected,
	receiver.ReasonSignature:   OutcomeRejected,
	receiver.ReasonTimestamp:   OutcomeRejected,
	receiver.ReasonMalformed:   OutcomeRejected,
	receiver.ReasonInternal:    OutcomeRejected,
	receiver.ReasonInvalid:     OutcomeInvalid,
	receiver.ReasonUnavailable: OutcomeUnavailable,
	receiver.ReasonOverloaded:  OutcomeUnavailable,
	receiver.ReasonPending:     OutcomeUnavailable,
	receiver.ReasonClosed:      OutcomeUnavailable,
}

// Observe implements receiver.Observer.
func (o *observer) Observe(ctx context.Context, ob receiver.Observation) {
	m := o.m
	provider := ob.Provider
	if ob.Request != nil {
		m.initProvider(provider)
		outcome, reason := deliveryOutcome(ob)
		if outcome == "" {
			return
		}
		m.deliveries.WithLabelValues(provider, outcome, reason).Inc()
		if ob.HasSkew && (ob.Stage == receiver.StageEnqueued || ob.Stage == receiver.StageDuplicate) {
			m.observeSkew(provider, ob.Skew)
		}
		if l, ok := ctx.Value(requestKey{m}).(*requestLabels); ok {
			l.provider, l.outcome = provider, outcome
		}
		return
	}
	var outcome string
	switch ob.Stage {
	case receiver.StageHandled:
		outcome = OutcomeHandled
		if errors.Is(ob.Err, receiver.ErrNoHandler) {
			outcome = OutcomeUnhandled
		}
	case receiver.StageRetried:
		outcome = OutcomeRetried
	case receiver.StageDeadLettered:
		outcome = OutcomeDeadLettered
	case receiver.StageInvalid:
		outcome = OutcomeInvalid
	case receiver.StageDuplicate:
		outcome = OutcomeDuplicate
	case receiver.StageDeferred:
		outcome = OutcomeDeferred
	case receiver.StageSplit:
		outcome = OutcomeSplit
	default:
		return
	}
	typ := o.eventType(ob.Event)
	m.outcomes.WithLabelValues(provider, typ, outcome).Inc()
	if ob.Stage != receiver.StageHandled && ob.Stage != receiver.StageRetried {
		return
	}
	if ob.Event != nil && ob.Event.Attempt == 1 {
		m.wait.WithLabelValues(provider).Observe(ob.QueueWait.Seconds())
	}
	if outcome != OutcomeUnhandled {
		m.handler.WithLabelValues(provider, typ).Observe(ob.Duration.Seconds())
	}
}

// deliveryOutcome maps a request-path observation to its outcome and
// reason labels ("" outcome: not a delivery answer).
func deliveryOutcome(ob receiver.Observation) (outcome, reason string) {
	switch ob.Stage {
	case receiver.StageEnqueued:
		return OutcomeAccepted, ""
	case receiver.StageDuplicate:
		return OutcomeDuplicate, ""
	case receiver.StageHandshake:
		return OutcomeHandshake, ""
	case receiver.StageFiltered:
		return OutcomeFiltered, ""
	case receiver.StageRejected, receiver.StageInvalid:
		if out, ok := reasons[ob.Reason]; ok {
			return out, ob.Reason
		}
		if ob.Status == http.StatusServiceUnavailable {
			return OutcomeUnavailable, OtherReason
		}
		return OutcomeRejected, OtherReason
	}
	return "", ""
}

// eventType is the bounded label of e's type: the pattern that takes it.
func (o *observer) eventType(e *receiver.Event) string {
	if e == nil || o.types == nil {
		return OtherType
	}
	if _, p := o.types.Handler(e.Type); p != "" {
		return p
	}
	return OtherType
}

// initProvider creates a provider's delivery series at zero the first time
// it is seen, so that rate() and increase() see the first refusal of a kind
// instead of a series that starts at 1.
func (m *Metrics) initProvider(provider string) {
	if _, loaded := m.seen.LoadOrStore(provider, struct{}{}); loaded {
		return
	}
	m.deliveries.WithLabelValues(provider, OutcomeAccepted, "")
	m.deliveries.WithLabelValues(provider, OutcomeDuplicate, "")
	m.deliveries.WithLabelValues(provider, OutcomeHandshake, "")
	m.deliveries.WithLabelValues(provider, OutcomeFiltered, "")
	for reason, outcome := range reasons {
		m.deliveries.WithLabelValues(provider, outcome, reason)
	}
}

// observeSkew records the magnitude of skew under its direction. The
// histogram takes magnitudes only: a histogram's _sum must never decrease,
// or rate() reads every negative observation as a counter reset. Both
// directions' series are created at the first skew of a provider.
func (m *Metrics) observeSkew(provider string, skew time.Duration) {
	if _, loaded := m.skewed.LoadOrStore(provider, struct{}{}); !loaded {
		m.skew.WithLabelValues(provider, SenderBehind)
		m.skew.WithLabelValues(provider, SenderAhead)
	}
	if skew < 0 {
		m.skew.WithLabelValues(provider, SenderAhead).Observe(-skew.Seconds())
		return
	}
	m.skew.WithLabelValues(provider, SenderBehind).Observe(skew.Seconds())
}

// Instrument wraps a receiver (or any handler in front of one) and records
// hookwise_request_duration_seconds: the time ServeHTTP took, labelled with
// the provider and outcome that an Observer of m recorded for the request.
// A request no Observer of m saw (one that never reached the receiver,
// or an optional event the receiver acknowledges without observing it)
// is not timed.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := &requestLabels{}
		start := time.Now()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{m}, l)))
		if l.outcome != "" {
			m.request.WithLabelValues(l.provider, l.outcome).Observe(time.Since(start).Seconds())
		}
	})
}
