package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hookwise/hookwise/internal/pattern"
	"github.com/hookwise/hookwise/internal/structcheck"
)

// Mux routes events to handlers by event type. Patterns are:
//
//   - an exact type, "invoice.paid" (a name with a dot);
//   - a prefix, "invoice.*", matching every type that starts with "invoice.";
//   - a bare family name, "issues" (no dot), matching "issues" and every
//     "issues.*" (GitHub events carry their action as a suffix:
//     "issues.opened");
//   - "*", matching every type.
//
// The schema registry (package schema) reads patterns by the same grammar.
// The most specific pattern wins: the exact type first, then the longest
// family or prefix, then "*". An event no pattern takes gets ErrNoHandler,
// which the receiver acknowledges without retrying.
//
// A Mux is a TypeHandler: the receiver asks its Handles method whether an
// optional event (GitHub's ping) has a handler of its own before queueing it.
// Middleware added with Use runs inside the Mux, around the matched
// handler, so Handles keeps working; middleware wrapping the Mux from the
// outside should pass Handles through, or such handlers never run.
//
// A route registered with Fanout has several named handlers: the receiver
// queues a copy of each event it takes for every one of them (see Fanout).
//
// The zero value is ready to use. A Mux is safe for concurrent use;
// registering while events are handled is allowed.
type Mux struct {
	mu       sync.RWMutex
	patterns map[string]bool   // every registered pattern
	exact    map[string]*entry // by exact type
	prefix   map[string]*entry // by prefix, "invoice." for "invoice.*" and "invoice"
	any      *entry            // "*"
	mw       []func(Handler) Handler
}

var (
	_ TypeHandler   = (*Mux)(nil)
	_ FanoutHandler = (*Mux)(nil)
)

// NewMux returns an empty Mux.
func NewMux() *Mux { return new(Mux) }

// Handle registers h for pattern. It panics when pattern is outside the
// grammar, h is nil, or pattern overlaps one already registered (the same
// pattern, or "invoice.*" beside the family "invoice", which take the same
// types): these are programming errors.
func (m *Mux) Handle(pattern string, h Handler) {
	if h == nil {
		panic("receiver: nil handler for " + pattern)
	}
	m.register(pattern, &entry{h: h, pattern: pattern})
}

// Fanout registers a route whose events go to several handlers, named by
// the keys of targets: a billing update, a CRM sync and an analytics
// export of one "invoice.paid". Behind a Receiver, each event the pattern
// takes is split, once queued, into one copy per handler (Event.Target
// names it), and each copy has its own attempts, retries, dead letter,
// dedupe mark and replay: a failing handler is retried, or dead-lettered
// and replayed, alone, without running the others' side effects again.
//
// Names are what the queue and the dead-letter store record: 1 to
// MaxTargetBytes bytes of lower-case letters, digits, '-', '_' and '.'.
// Keep them stable across deploys: a copy whose target is no longer
// registered for its type is acknowledged with ErrNoHandler. Renaming a
// target is removing one and adding another.
//
// Fanout panics, as Handle does, when pattern is outside the grammar or
// overlaps one already registered, and when targets is empty, a name is
// invalid, or a handler is nil.
//
// Called directly (without a Receiver), HandleEvent runs an event without
// a Target through every handler of its fan-out route in name order, and
// returns their errors joined.
func (m *Mux) Fanout(pattern string, targets map[string]Handler) {
	if len(targets) == 0 {
		panic("receiver: fan-out without targets for " + pattern)
	}
	e := &entry{pattern: pattern, targets: make(map[string]Handler, len(targets))}
	for name, h := range targets {
		if !ValidTarget(name) {
			panic(fmt.Sprintf("receiver: invalid fan-out target name %q for %s", logText(name, MaxTargetBytes+8), pattern))
		}
		if h == nil {
			panic("receiver: nil handler for fan-out target " + name)
		}
		e.targets[name] = h
		e.names = append(e.names, name)
	}
	slices.Sort(e.names)
	e.h = HandlerFunc(func(ctx context.Context, ev *Event) error {
		var errs []error
		for _, name := range e.names {
			if err := e.targets[name].HandleEvent(ctx, ev); err != nil {
				errs = append(errs, fmt.Errorf("target %s: %w", name, err))
			}
		}
		return errors.Join(errs...)
	})
	m.register(pattern, e)
}

// register adds e under pattern; it panics as Handle documents.
func (m *Mux) register(pattern string, e *entry) {
	pat, err := parsePattern(pattern)
	if err != nil {
		panic("receiver: " + err.Error())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.patterns == nil {
		m.patterns, m.exact, m.prefix = map[string]bool{}, map[string]*entry{}, map[string]*entry{}
	}
	_, dupExact := m.exact[pat.Exact]
	_, dupPrefix := m.prefix[pat.Prefix]
	if m.patterns[pattern] || (pat.Exact != "" && dupExact) || (pat.Prefix != "" && dupPrefix) || (pat.Any && m.any != nil) {
		panic("receiver: pattern registered twice or overlapping another: " + pattern)
	}
	m.patterns[pattern] = true
	switch {
	case pat.Any:
		m.any = e
	default:
		if pat.Exact != "" {
			m.exact[pat.Exact] = e
		}
		if pat.Prefix != "" {
			m.prefix[pat.Prefix] = e
		}
	}
}

// entry is a registered handler with its pattern; for a fan-out route, h
// runs every target in name order (HandleEvent without a Receiver).
type entry struct {
	h       Handler
	pattern string
	targets map[string]Handler // fan-out routes only
	names   []string           // their names, sorted
}

// HandleFunc registers f for pattern, as Handle does.
func (m *Mux) HandleFunc(pattern string, f func(ctx context.Context, e *Event) error) {
	m.Handle(pattern, HandlerFunc(f))
}

// Use appends middleware run around every handler the Mux dispatches to, in
// the order given (the first is outermost), on each attempt: tracing,
// metrics, logging, a per-handler timeout. Middleware sees the event and the
// handler's error, and may return its own.
func (m *Mux) Use(mw ...func(Handler) Handler) {
	for _, f := range mw {
		if f == nil {
			panic("receiver: nil middleware")
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mw = append(m.mw, mw...)
}

// Handler returns the handler that takes eventType and the pattern it was
// registered with, or nil and "" when none does. The handler is the one
// registered, without the middleware of Use.
func (m *Mux) Handler(eventType string) (Handler, string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if e := m.lookup(eventType); e != nil {
		return e.h, e.pattern
	}
	return nil, ""
}

// lookup finds the most specific entry for eventType; m.mu is held.
func (m *Mux) lookup(eventType string) *entry {
	if e, ok := m.exact[eventType]; ok {
		return e
	}
	for i := len(eventType) - 1; i >= 0 && len(m.prefix) > 0; i-- {
		if eventType[i] != '.' {
			continue
		}
		if e, ok := m.prefix[eventType[:i+1]]; ok {
			return e
		}
	}
	return m.any
}

// Handles reports whether a pattern other than "*" takes eventType; it
// implements TypeHandler.
func (m *Mux) Handles(eventType string) bool {
	_, p := m.Handler(eventType)
	return p != "" && p != "*"
}

// Targets returns the names of the handlers of the fan-out route that
// takes eventType, sorted, or nil when that route is not a fan-out (or no
// route takes it); it implements FanoutHandler. The slice must not be
// modified.
func (m *Mux) Targets(eventType string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if e := m.lookup(eventType); e != nil {
		return e.names
	}
	return nil
}

// HandleEvent runs the handler for e.Type, inside the middleware of Use, or
// returns ErrNoHandler. A fan-out copy (e.Target set) runs the handler of
// that name on the route; when the route has none by that name any more,
// it returns ErrNoHandler.
func (m *Mux) HandleEvent(ctx context.Context, e *Event) error {
	m.mu.RLock()
	ent := m.lookup(e.Type)
	mw := m.mw
	m.mu.RUnlock()
	if ent == nil {
		return fmt.Errorf("%w for %q", ErrNoHandler, logText(e.Type, MaxTypeBytes))
	}
	var h Handler = ent.h
	if e.Target != "" {
		if h = ent.targets[e.Target]; h == nil {
			return fmt.Errorf("%w for %q and target %q", ErrNoHandler, logText(e.Type, MaxTypeBytes), logText(e.Target, MaxTargetBytes))
		}
	}
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h.HandleEvent(ctx, e)
}

// Typed returns a Handler that decodes the event's whole JSON payload into
// a T: T describes the entire document the provider sent (Stripe's event
// object with its "data.object", GitHub's payload with its "action"), not an
// inner object. It then checks T's `validate` struct tags
// (go-playground/validator) and calls fn.
// A payload that does not decode or fails its tags is an invalid payload:
// the error matches ErrInvalidPayload and ErrPermanent, and the event goes to
// the dead-letter store without retries.
func Typed[T any](fn func(ctx context.Context, e *Event, payload T) error) Handler {
	return HandlerFunc(func(ctx context.Context, e *Event) error {
		var v T
		if err := json.Unmarshal(e.JSON(), &v); err != nil {
			return Permanent(&InvalidPayloadError{Reason: "decode: " + structcheck.DecodeReason(err)}) // never the value
		}
		if err := structcheck.Check(v); err != nil {
			return Permanent(&InvalidPayloadError{Reason: "validate: " + structcheck.Reason(err)}) // field and rule only
		}
		return fn(ctx, e, v)
	})
}

// On registers a Typed handler for pattern on m. As with Typed, T is the
// type of the whole JSON payload of the event, not of an inner object:
//
//	type InvoicePaid struct {
//		ID   string `json:"id" validate:"required"` // the event's ID
//		Data struct {
//			Object struct {
//				ID string `json:"id"` // the invoice's
//			} `json:"object"`
//		} `json:"data"`
//	}
//	receiver.On(mux, "invoice.paid", func(ctx context.Context, e *receiver.Event, ev InvoicePaid) error { … })
func On[T any](m *Mux, pattern string, fn func(ctx context.Context, e *Event, payload T) error) {
	m.Handle(pattern, Typed(fn))
}

// InvalidPayloadError reports a payload that failed decoding or struct
// validation. errors.Is(err, ErrInvalidPayload) holds.
type InvalidPayloadError struct {
	Reason string
}

// Error names the failed check, never the payload's values.
func (e *InvalidPayloadError) Error() string { return "receiver: invalid payload: " + e.Reason }

// Is reports whether target is ErrInvalidPayload.
func (e *InvalidPayloadError) Is(target error) bool { return target == ErrInvalidPayload }

func parsePattern(p string) (pattern.Pattern, error) { return pattern.Parse(p) }
