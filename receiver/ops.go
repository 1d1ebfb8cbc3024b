package receiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver/driver"
)

// inject lets the propagator copy the request's context into e.Meta,
// within driver.Event's bounds.
func (r *Receiver) inject(ctx context.Context, e *Event) {
	meta := make(map[string]string, 2)
	r.cfg.propagator.Inject(ctx, meta)
	e.Meta = boundMeta(meta)
}

// boundMeta drops the entries of meta beyond driver.Event's bounds; nil
// when nothing is left.
func boundMeta(meta map[string]string) map[string]string {
	n := 0
	for k, v := range meta {
		if n >= driver.MaxMetaEntries || k == "" || len(k) > driver.MaxMetaKeyBytes || len(v) > driver.MaxMetaValueBytes {
			delete(meta, k)
			continue
		}
		n++
	}
	if n == 0 {
		return nil
	}
	return meta
}

// extract returns the handler's context, with what the propagator carried.
func (r *Receiver) extract(ctx context.Context, e *Event) context.Context {
	if r.cfg.propagator == nil || len(e.Meta) == 0 {
		return ctx
	}
	return r.cfg.propagator.Extract(ctx, e.Meta)
}

// ErrNoStats is returned by Stats and Drain when the queue cannot report its
// backlog (it does not implement driver.StatsReader).
var ErrNoStats = errors.New("receiver: the queue does not report its backlog")

// Stats returns the queue's backlog: events accepted and not finished, and
// how long the oldest one waiting to start has waited. It returns
// ErrNoStats for a queue that does not implement driver.StatsReader (the
// in-memory and Redis queues do).
func (r *Receiver) Stats(ctx context.Context) (driver.Stats, error) {
	sr, ok := r.cfg.queue.(driver.StatsReader)
	if !ok {
		return driver.Stats{}, ErrNoStats
	}
	return sr.Stats(ctx)
}

// Drain waits until every event accepted so far is finished (handled, or
// dead-lettered), or ctx is done. It is meant for tests and examples that
// send deliveries and then check what their handlers did:
//
//	rec.ServeHTTP(w, signedRequest)
//	if err := rc.Drain(ctx); err != nil { … }
//	// the handler has run
//
// Unlike Shutdown it leaves the receiver running. Events accepted while it
// waits are waited for too; events waiting for a retry count as unfinished,
// so set a short Backoff in tests that expect failures. With a queue shared
// by replicas (Redis), it waits for the whole queue. It returns ErrNoStats
// for a queue that cannot report its backlog.
func (r *Receiver) Drain(ctx context.Context) error {
	wait := 100 * time.Microsecond
	for {
		st, err := r.Stats(ctx)
		if err != nil {
			return err
		}
		if st.Depth == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("receiver: drain: %d events unfinished: %w", st.Depth, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// Replayer queues dead letters again: Receiver.Replay, usable without a
// receiver, by operators' tools that reach the receiver's queue, dedupe
// store and dead-letter store (the Redis ones, say) from another process.
// The replayed event is handled by whichever receiver consumes the queue.
type Replayer struct {
	Queue       Queue           // the receiver's queue; it need not be started
	Store       dedupe.Store    // the receiver's dedupe store; nil to leave dedupe marks alone
	DeadLetters DeadLetterStore // where d is kept
}

// Replay queues d's event again with a fresh attempt count and claim token,
// then removes d from the dead-letter store. The event's dedupe mark is
// released first: a replay is deliberate, and the worker must not skip the
// event as already done.
func (p Replayer) Replay(ctx context.Context, d DeadLetter) error {
	if d.Event == nil {
		return errors.New("receiver: dead letter without event")
	}
	if p.Queue == nil || p.DeadLetters == nil {
		return errors.New("receiver: replayer without queue or dead-letter store")
	}
	e := *d.Event
	e.Attempt = 1
	e.ClaimToken = dedupe.NewToken()
	e.Payload = nil // derived again from Body
	if e.ID != "" && p.Store != nil {
		if err := p.Store.Release(ctx, e.DedupeKey(), ""); err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
	}
	if err := p.Queue.Enqueue(ctx, &e); err != nil {
		return err
	}
	return p.DeadLetters.Delete(ctx, e.Provider, d.Key())
}
