// Package receiver turns webhook deliveries into verified, deduplicated
// events handled asynchronously by typed handlers.
//
// A Receiver is the http.Handler of one endpoint. On the request path it does
// only what the answer depends on: it reads the body once through a size
// limit, verifies the signature over the raw bytes, reads the event's ID and
// type without decoding the whole body, claims the ID in the dedupe store,
// queues the event and answers. Decoding, validation and the handler run
// after the answer, on the queue's workers, with retries, backoff and a
// dead-letter store.
//
//	mux := receiver.NewMux()
//	receiver.On(mux, "invoice.paid", func(ctx context.Context, e *receiver.Event, inv Invoice) error {
//		return billing.MarkPaid(ctx, inv.ID)
//	})
//	p, err := stripe.New(os.Getenv("STRIPE_WEBHOOK_SECRET"))
//	...
//	rc, err := receiver.New(p, mux)
//	...
//	http.Handle("POST /webhooks/stripe", rc)
//	...
//	srv.Shutdown(ctx) // stop intake first
//	rc.Shutdown(ctx)  // then drain
//
// Answers: 200 for an accepted or duplicate delivery and for handshakes, 401
// for a failed verification (the body never says which check failed), 400 for
// an unreadable envelope, 405 for a method other than POST, 413 for an
// oversized body, 422 for an invalid payload on a route set to RejectInvalid,
// and 503 with Retry-After when the event cannot be taken now (queue full or
// closed, dedupe store unreachable): never a 2xx for an event that was not
// queued. StatusCode maps errors to these codes.
//
// Handlers see each event at least once: an error or a panic is retried with
// exponential backoff and full jitter up to MaxAttempts, then the event goes
// to the DeadLetterStore with the reason, from where Replay queues it again.
// Handlers should therefore be idempotent.
package receiver
