// Package otel traces and measures a hookwise receiver with OpenTelemetry:
// a SERVER span per delivery, a CONSUMER span per handler attempt linked to
// its delivery's span, the trace context carried with the event through the
// queue (the Redis one too, so an attempt on another replica links back),
// and metrics with the meaning of the Prometheus adapter's, as an
// alternative to it.
//
// Import it under another name, since OpenTelemetry's own package is also
// called otel:
//
//	import hwotel "github.com/hookwise/hookwise/adapters/otel"
//
//	tel, err := hwotel.New(hwotel.WithMux(mux)) // global providers, or WithTracerProvider / WithMeterProvider
//	...
//	mux.Use(tel.Middleware)                            // a CONSUMER span per attempt
//	rc, err := receiver.New(p, mux, tel.Options()...)  // observer + propagator
//	...
//	http.Handle("POST /webhooks/stripe", tel.Instrument(rc)) // a SERVER span per delivery
//	reg, err := tel.ObserveQueue("stripe", rc)               // queue depth and age gauges
//
// # Traces
//
// Instrument starts a SERVER span around each request ("receive <endpoint>",
// messaging.operation.type "receive"). The observer annotates it with the
// outcome (hookwise.outcome, as in the metrics below), the reason class of a refusal (hookwise.reason, the
// bounded set of receiver.Classify) and, once the delivery is verified, the
// event's ID (messaging.message.id) and type (hookwise.event.type), which
// the receiver bounds to receiver.MaxIDBytes and receiver.MaxTypeBytes.
// Nothing of a delivery that failed verification is recorded but its
// status and reason. Trace headers sent by the webhook's sender are not read:
// senders are third parties. A span already in the request's context (from
// the server's own instrumentation) becomes the delivery span's parent.
//
// The propagator (Inject, Extract: a receiver.Propagator) writes the
// delivery span's W3C trace context into Event.Meta, within its bounds, and
// the queue carries it. Middleware, given to receiver.Mux.Use (or wrapped
// around any receiver.Handler), starts a CONSUMER span per attempt
// ("process <endpoint>", messaging.operation.type "process",
// hookwise.attempt) as the root of a trace of its own, LINKED to the
// delivery's span, as the OpenTelemetry messaging conventions describe for
// work that outlives its request: retries days later do not stretch the
// delivery's trace. A handler error sets the span's status to Error and
// records an exception event (its message cut to 256 bytes); the observer
// then adds what the receiver did with the failure, an event
// "hookwise.retried", "hookwise.invalid" or "hookwise.dead_lettered", and
// the attribute hookwise.outcome. Spans the handler starts from its context
// are children of the attempt's span; without Middleware they are children
// of the delivery's span.
//
// # Metrics
//
// The observer records the Prometheus adapter's metrics, under OpenTelemetry
// names, with bounded attributes only: provider names come from code,
// reasons from receiver.Classify's closed set, and event types only as the
// Mux pattern that took them (see WithMux), never as the sender wrote them.
//
//	hookwise.deliveries         counter    hookwise.provider, hookwise.outcome, hookwise.reason (refusals)
//	hookwise.handler.outcomes   counter    hookwise.provider, hookwise.event.pattern, hookwise.outcome
//	hookwise.request.duration   histogram  s; hookwise.provider, hookwise.outcome (Instrument only)
//	hookwise.queue.wait         histogram  s; hookwise.provider, hookwise.event.pattern (first attempts)
//	hookwise.handler.duration   histogram  s; hookwise.provider, hookwise.event.pattern, hookwise.outcome
//	hookwise.clock.skew         histogram  s; hookwise.provider, hookwise.skew.direction (behind, ahead)
//	hookwise.queue.depth        gauge      hookwise.endpoint (ObserveQueue)
//	hookwise.queue.oldest_age   gauge      s; hookwise.endpoint (ObserveQueue)
//	hookwise.queue.stats_up     gauge      hookwise.endpoint (ObserveQueue)
//
// Delivery outcomes are accepted, duplicate, handshake, rejected (4xx, with
// the reason: method, too_large, unreadable, signature, timestamp,
// malformed, internal), invalid (422) and unavailable (503, with the reason:
// unavailable, overloaded, pending, closed). Handler outcomes are handled,
// unhandled (no pattern takes the type; acknowledged), retried,
// dead_lettered, invalid (dead-lettered too, and counted there as well) and
// duplicate (a worker found the event already handled). Durations are those
// of attempts that ran a handler and were handled or retried: the receiver
// does not time an attempt that ends in a dead letter, and the queue wait
// is recorded for the first attempts among those. The skew histogram records
// the absolute clock skew of deliveries whose provider signs a timestamp
// (OpenTelemetry histograms take non-negative values), with its direction:
// "behind" when the signed time precedes the receipt (the sender's clock is
// behind, or the delivery was slow), "ahead" otherwise.
package otel
