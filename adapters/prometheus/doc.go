// Package prometheus exports a Hookwise receiver's pipeline as Prometheus
// metrics (github.com/prometheus/client_golang).
//
// Three pieces, one per thing a receiver can tell:
//
//   - Metrics.Observer is a receiver.Observer: it counts deliveries by
//     outcome and reason, handler outcomes by event type, and records queue
//     wait, handler duration and the skew of signed timestamps.
//   - Metrics.Instrument wraps the receiver's http.Handler and records how
//     long the request path took: an Observer hears about a delivery after
//     the fact and never knows when the request began, so the timing lives in
//     a middleware, and the middleware takes the provider and the outcome from
//     the observation made while it ran.
//   - Metrics.Watch reads the queue's backlog (receiver.Stats) at scrape
//     time, as gauges: nothing polls between scrapes.
//
// Wiring one endpoint (the package is usually imported as hookprom, since
// client_golang's package has the same name):
//
//	m, err := hookprom.New(prometheus.DefaultRegisterer)
//	…
//	mux := receiver.NewMux()
//	…
//	rc, err := receiver.New(p, mux, receiver.WithObserver(m.Observer(mux)))
//	…
//	if err := m.Watch("stripe", rc); err != nil { … }
//	http.Handle("POST /webhooks/stripe", m.Instrument(rc))
//	http.Handle("GET /metrics", promhttp.Handler())
//
// # Metrics
//
//	hookwise_deliveries_total{provider,outcome,reason}                counter
//	hookwise_handler_outcomes_total{provider,event_type,outcome}      counter
//	hookwise_request_duration_seconds{provider,outcome}               histogram
//	hookwise_queue_wait_seconds{provider}                             histogram
//	hookwise_handler_duration_seconds{provider,event_type}            histogram
//	hookwise_timestamp_skew_seconds{provider,sender_clock}            histogram
//	hookwise_queue_depth{endpoint}                                    gauge
//	hookwise_queue_oldest_age_seconds{endpoint}                       gauge
//	hookwise_queue_stats_up{endpoint}                                 gauge
//
// Delivery outcomes are accepted, duplicate, handshake, filtered (dropped by
// a receiver.WithFilter, acknowledged), rejected (reason:
// method, too_large, unreadable, signature, timestamp, malformed, internal),
// invalid (a 422, reason invalid) and unavailable (a 503, reason unavailable
// for the dedupe store or the queue, overloaded, pending or closed): the
// reasons are receiver.Classify's. Handler outcomes are handled, unhandled
// (no handler takes the type; acknowledged), retried (an attempt failed and
// will run again), deferred (put off by receiver.Defer, a breaker or a
// limit, without using up an attempt), dead_lettered, invalid (the payload failed validation
// after the acknowledgement; the event is dead-lettered too, and counted
// there as well) and duplicate (a worker found the event already handled).
//
// # Bounded labels
//
// Every label value comes from configuration or from a closed set, never
// from a delivery: provider is the provider's Name; reason is Classify's
// (anything else is counted as "other"); event_type is the pattern the
// handler was registered with (receiver.Mux.Handler), "invoice.*" rather
// than the type a sender wrote, and OtherType when no pattern takes the
// type. A sender who invents a million event types adds no series.
//
// # Timestamp skew
//
// The skew is ReceivedAt minus the provider's signed timestamp. The
// histogram records its magnitude, with the sign in the sender_clock label:
// behind (the timestamp is earlier: the sender's clock is behind ours, or the
// delivery was slow; the usual case, by the network's latency) or ahead (the
// timestamp is in the future). A signed histogram would let _sum decrease,
// which rate() reads as a counter reset, breaking the mean skew that shows a
// drift; magnitudes keep _sum and _count counters, so the mean per direction
// (rate of _sum over rate of _count) and histogram_quantile both work. Only
// providers that sign a timestamp report it.
package prometheus
