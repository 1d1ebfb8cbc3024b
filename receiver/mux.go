package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/hookwise/hookwise/internal/structcheck"
)

// Mux routes events to handlers by event type. Patterns are:
//
//   - an exact type, "invoice.paid";
//   - a prefix, "invoice.*", matching every type that starts with "invoice.";
//   - a bare family name, "issues", matching "issues" and every "issues.*"
//     (GitHub events carry their action as a suffix: "issues.opened");
//   - "*", matching every type.
//
// The most specific pattern wins: the exact type first, then the longest
// family or prefix, then "*". An event no pattern takes gets ErrNoHandler,
// which the receiver acknowledges without retrying.
//
// A Mux is a TypeHandler: the receiver asks its Handles method whether an
// optional event (GitHub's ping) has a handler of its own before queueing it.
// Middleware wrapping a Mux should pass Handles through, or such handlers
// never run.
//
// The zero value is ready to use. A Mux is safe for concurrent use;
// registering while events are handled is allowed.
type Mux struct {
	mu       sync.RWMutex
	handlers map[string]Handler // by pattern
}

var _ TypeHandler = (*Mux)(nil)

// NewMux returns an empty Mux.
func NewMux() *Mux { return new(Mux) }

// Handle registers h for pattern. It panics when pattern is empty, h is
// nil, or pattern is already registered: these are programming errors.
func (m *Mux) Handle(pattern string, h Handler) {
	if pattern == "" {
		panic("receiver: empty pattern")
	}
	if h == nil {
		panic("receiver: nil handler for " + pattern)
	}
	if i := strings.IndexByte(pattern, '*'); i >= 0 && pattern != "*" && (i != len(pattern)-1 || !strings.HasSuffix(pattern, ".*")) {
		panic("receiver: a wildcard may only end a pattern, as in \"invoice.*\": " + pattern)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.handlers == nil {
		m.handlers = make(map[string]Handler)
	}
	if _, dup := m.handlers[pattern]; dup {
		panic("receiver: pattern registered twice: " + pattern)
	}
	m.handlers[pattern] = h
}

// HandleFunc registers f for pattern, as Handle does.
func (m *Mux) HandleFunc(pattern string, f func(ctx context.Context, e *Event) error) {
	m.Handle(pattern, HandlerFunc(f))
}

// Handler returns the handler that takes eventType and the pattern it was
// registered with, or nil and "" when none does.
func (m *Mux) Handler(eventType string) (Handler, string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if h, ok := m.handlers[eventType]; ok {
		return h, eventType
	}
	t := eventType
	for {
		i := strings.LastIndexByte(t, '.')
		if i < 0 {
			break
		}
		t = t[:i]
		if h, ok := m.handlers[t+".*"]; ok {
			return h, t + ".*"
		}
		if h, ok := m.handlers[t]; ok {
			return h, t
		}
	}
	if h, ok := m.handlers["*"]; ok {
		return h, "*"
	}
	return nil, ""
}

// Handles reports whether a pattern other than "*" takes eventType; it
// implements TypeHandler.
func (m *Mux) Handles(eventType string) bool {
	_, p := m.Handler(eventType)
	return p != "" && p != "*"
}

// HandleEvent runs the handler for e.Type, or returns ErrNoHandler.
func (m *Mux) HandleEvent(ctx context.Context, e *Event) error {
	h, _ := m.Handler(e.Type)
	if h == nil {
		return fmt.Errorf("%w for %q", ErrNoHandler, e.Type)
	}
	return h.HandleEvent(ctx, e)
}

// Typed returns a Handler that decodes the event's JSON payload into a T,
// checks T's `validate` struct tags (go-playground/validator), and calls fn.
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

// On registers a Typed handler for pattern on m.
func On[T any](m *Mux, pattern string, fn func(ctx context.Context, e *Event, payload T) error) {
	m.Handle(pattern, Typed(fn))
}

// InvalidPayloadError reports a payload that failed decoding or struct
// validation. errors.Is(err, ErrInvalidPayload) holds.
type InvalidPayloadError struct {
	Reason string
}

func (e *InvalidPayloadError) Error() string { return "receiver: invalid payload: " + e.Reason }

// Is reports whether target is ErrInvalidPayload.
func (e *InvalidPayloadError) Is(target error) bool { return target == ErrInvalidPayload }
