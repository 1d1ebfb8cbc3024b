package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hookwise/hookwise/receiver/driver"
)

// OrderStore is driver.OrderStore: the lines of events waiting, per
// ordering key, to be handled one at a time (WithOrdering). MemoryOrder is
// the in-memory one; redisq.NewOrderStore and the PostgreSQL adapter's
// NewOrderStore are shared by replicas.
type OrderStore = driver.OrderStore

// Defaults of an Ordering.
const (
	// DefaultOrderPoll is the shortest wait of an event whose turn has not
	// come before it asks again.
	DefaultOrderPoll = 50 * time.Millisecond
	// MaxOrderPoll is the longest: an event that has waited long asks less
	// often (a quarter of its wait so far), up to this.
	MaxOrderPoll = 2 * time.Second
	// MinOrderHold is the shortest Hold an Ordering may have.
	MinOrderHold = time.Second
)

// Reasons observers see with StageDeferred for an ordered event.
const (
	ReasonOrdered          = "ordered"           // an earlier event of its key is not finished
	ReasonOrderUnavailable = "order_unavailable" // the order store did not answer
	ReasonSplit            = "fanout_enqueue"    // a fan-out copy could not be queued yet (Mux.Fanout)
)

// Ordering configures per-key ordering (WithOrdering).
type Ordering struct {
	// Key returns the event's ordering key: events with one key are
	// handled one at a time, in the order the receiver accepted them. ""
	// leaves an event unordered. It runs on the request path (after
	// verification and filters, with Payload set for a provider whose
	// deliveries are not plain JSON) and again before each attempt, so it
	// must depend on the event alone, be fast, and be safe for concurrent
	// use. Package flow has keys from a payload field and per route
	// (flow.FieldKey, flow.RouteKeys). Required.
	Key func(e *Event) string
	// Store keeps the lines (default: a MemoryOrder of this receiver).
	// Replicas must share one: redisq.NewOrderStore, or the PostgreSQL
	// adapter's.
	Store OrderStore
	// Hold is how long a line waits for an event it does not hear from
	// (every attempt, and every turn an event waits for, renews its
	// entry): an event whose enqueue failed after it joined its line, or
	// that its queue lost, holds its key back this long at most. It must
	// exceed the longest gap between two attempts of one event: the
	// handler timeout plus the longest backoff, and, with a durable queue,
	// the time before a crashed worker's event is taken over. Default:
	// twice the longest backoff, plus twice the handler timeout, plus 10
	// minutes; at least MinOrderHold.
	Hold time.Duration
	// Poll is the shortest wait of an event whose turn has not come
	// (default DefaultOrderPoll); it waits a quarter of its time in the
	// queue so far, up to MaxOrderPoll, when that is longer.
	Poll time.Duration
}

// WithOrdering handles the events of one ordering key one at a time, in
// the order the receiver accepted them: Stripe events by the object they
// describe ("data.object.id"), GitHub events by repository.
//
// What it guarantees: an event starts only after every earlier event of its
// key (accepted earlier by any replica sharing the Store) is finished:
// handled, dead-lettered, or acknowledged without a handler. A failing event
// holds its key's later events back through all its retries; they wait in
// the queue, deferred (observers see StageDeferred with ReasonOrdered),
// their attempts not used up. A dead-lettered event releases its key: later
// events run, and the dead letter, when replayed, runs at once, outside its
// key's order. With fan-out (Mux.Fanout), each handler's copies keep their
// key's order, each handler on its own: a handler retrying an event holds
// back only its own later copies.
//
// What it does not: "accepted" is the order deliveries reached the
// receiver, which providers do not promise to be the order of events (a
// provider's retry of an old event arrives late, and takes its place at the
// end of the line then). Events with different keys, or no key, run
// concurrently as before. An event whose line entry lapsed (Hold) runs
// when its turn is asked for, in whatever order.
//
// Costs: on the request path, Key and one Join per ordered delivery (a
// round trip with a shared store); before each attempt, one Turn, and after
// the last, one Leave. A store error on the request path answers 503.
func WithOrdering(o Ordering) Option {
	return func(c *config) {
		if o.Key == nil {
			c.markNil(true, "WithOrdering (Key)")
			return
		}
		oc := o
		c.order = &oc
	}
}

// orderKey returns the line key of e (lineKey of its ordering key and
// target), or "" when e is unordered.
func (r *Receiver) orderKey(ctx context.Context, e *Event) string {
	return r.lineKey(r.orderingKey(ctx, e), e.Target)
}

// orderingKey returns Ordering.Key of e, Payload set first when it can be,
// or "" when the receiver does not order events.
func (r *Receiver) orderingKey(ctx context.Context, e *Event) string {
	if r.cfg.order == nil {
		return ""
	}
	_ = r.setPayload(e) // best effort: Key sees what it can
	return r.runKey(ctx, e)
}

// lineKey returns the store's key of the line of ordering key k for a
// fan-out copy's target ("" for an event as delivered): a hash of the
// endpoint, k and target. It is "" when k is.
func (r *Receiver) lineKey(k, target string) string {
	if k == "" {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(r.endpoint))
	h.Write([]byte{0})
	h.Write([]byte(k))
	if target != "" {
		h.Write([]byte{0})
		h.Write([]byte(target))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// runKey calls Ordering.Key, turning a panic into no key (logged).
func (r *Receiver) runKey(ctx context.Context, e *Event) (k string) {
	defer func() {
		if v := recover(); v != nil {
			k = ""
			r.log.LogAttrs(ctx, slog.LevelError, "ordering key panicked; event unordered", slog.String("id", e.ID), slog.String("type", e.Type), slog.Any("panic", v))
		}
	}()
	return r.cfg.order.Key(e)
}

// joinLine puts e, about to be queued, at the end of the line keyed line
// (nothing when line is "": e is unordered). Its error refuses the
// delivery.
func (r *Receiver) joinLine(ctx context.Context, line string, e *Event) error {
	if line == "" {
		return nil
	}
	sctx, cancel := r.storeContext(ctx, r.memOrder)
	defer cancel()
	if err := r.cfg.order.Store.Join(sctx, line, e.ClaimToken, r.cfg.order.Hold); err != nil {
		if errors.Is(err, ErrQueueFull) {
			return err
		}
		return fmt.Errorf("%w: ordering: %w", ErrStore, err)
	}
	return nil
}

// leaveLine takes e's token out of its line, when e is ordered; a failure is
// logged (the entry lapses after the hold).
func (r *Receiver) leaveLine(ctx context.Context, key string, e *Event) {
	if key == "" {
		return
	}
	sctx, cancel := r.storeContext(context.WithoutCancel(ctx), r.memOrder)
	defer cancel()
	if err := r.cfg.order.Store.Leave(sctx, key, e.ClaimToken); err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "could not leave ordering line; later events of the key wait for the hold", slog.String("id", e.ID), slog.Any("error", err))
	}
}

// turn reports whether e, ordered under key, may run now; when not, it
// returns the deferral to answer.
func (r *Receiver) turn(ctx context.Context, key string, e *Event) (*DeferredError, bool) {
	sctx, cancel := r.storeContext(context.WithoutCancel(ctx), r.memOrder)
	ok, err := r.cfg.order.Store.Turn(sctx, key, e.ClaimToken, r.cfg.order.Hold)
	cancel()
	if err != nil {
		r.logEvent(ctx, slog.LevelWarn, "ordering store unavailable; event deferred", e, slog.Any("error", err))
		return &DeferredError{After: r.cfg.order.Poll, Reason: ReasonOrderUnavailable}, false
	}
	if ok {
		return nil, true
	}
	wait := r.cfg.order.Poll
	if !e.ReceivedAt.IsZero() {
		wait = max(wait, min(r.cfg.now().Sub(e.ReceivedAt)/4, MaxOrderPoll))
	}
	return &DeferredError{After: wait, Reason: ReasonOrdered}, false
}

// setOrderDefaults completes c.order; it returns an error for an invalid
// configuration.
func (c *config) setOrderDefaults() error {
	o := c.order
	if o == nil {
		return nil
	}
	if o.Store == nil {
		o.Store = NewMemoryOrder(0)
	}
	if o.Hold == 0 {
		o.Hold = 2*c.backoffMax + 2*c.handlerTO + 10*time.Minute
	}
	if o.Poll == 0 {
		o.Poll = DefaultOrderPoll
	}
	switch {
	case o.Hold < MinOrderHold:
		return fmt.Errorf("receiver: ordering hold %v below %v", o.Hold, MinOrderHold)
	case o.Poll < MinDeferral:
		return fmt.Errorf("receiver: ordering poll %v below %v", o.Poll, MinDeferral)
	}
	return nil
}
