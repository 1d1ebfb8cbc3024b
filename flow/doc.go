// Package flow shapes what happens to verified events: filters that drop
// events nothing wants before they are queued, and handler middleware that
// protects a downstream — a circuit breaker per handler, and limits on
// concurrency and rate per handler.
//
// Filters plug into a receiver with receiver.WithFilter:
//
//	receiver.New(p, mux, receiver.WithFilter(flow.Types("invoice.*", "customer.subscription.*")))
//
// Breakers and limits wrap one handler, where it is registered:
//
//	mux.Handle("invoice.*", flow.NewBreaker(invoices, flow.BreakerConfig{Name: "billing-api"}))
//	mux.Handle("customer.*", flow.NewLimit(crm, flow.LimitConfig{Name: "crm", MaxInFlight: 4, PerSecond: 10}))
//
// When a breaker is open, or a limit is reached, the middleware does not
// call the handler: it returns receiver.Defer, and the receiver asks the
// queue to run the event again later without using up one of its attempts
// (observers see receiver.StageDeferred, with the reason "circuit_open",
// "concurrency" or "rate"). Events wait in the queue meanwhile: a durable
// queue (Redis, PostgreSQL) keeps accepting deliveries; the in-memory queue
// counts waiting events in its bounds, so once it is full the receiver
// answers 503 with Retry-After and the senders hold the rest.
//
// For one breaker per route without wrapping each handler, give a
// Breakers' Middleware to Mux.Use.
//
// Breakers keep their state in this process: with several replicas, each
// trips on its own. Limits do too, unless LimitConfig.Store is shared
// (package flow/redislimit keeps them in Redis, for every replica): with the
// default store, N replicas allow N × MaxInFlight in flight and N ×
// PerSecond per second. See docs/flow.md.
package flow
