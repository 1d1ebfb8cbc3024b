package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"

	"github.com/hookwise/hookwise/receiver"
)

// The payloads the handlers take. Each T is the whole event as the sender
// posted it; the `validate` tags are checked before the handler runs, and an
// event that fails them is dead-lettered, not retried.
type (
	stripeInvoiceEvent struct {
		ID   string `json:"id" validate:"required"`
		Type string `json:"type" validate:"required"`
		Data struct {
			Object struct {
				ID       string `json:"id" validate:"required"`
				Customer string `json:"customer"`
			} `json:"object"`
		} `json:"data"`
	}
	githubPushEvent struct {
		Ref        string `json:"ref" validate:"required"`
		Repository struct {
			FullName string `json:"full_name" validate:"required"`
		} `json:"repository"`
	}
	githubIssuesEvent struct {
		Action string `json:"action" validate:"required"`
		Issue  struct {
			Number int `json:"number" validate:"required"`
		} `json:"issue"`
	}
	standardUserEvent struct {
		Type string `json:"type" validate:"required"`
		Data struct {
			ID string `json:"id" validate:"required"`
		} `json:"data"`
	}
)

// work stands for what a real handler does (a database write, a call to
// another service): it prints one JSON line per handled event on stdout,
// {"endpoint":"stripe","id":"evt_…","type":"invoice.paid","object":"in_…","attempt":1,"trace_id":"…"}.
type work struct {
	mu  sync.Mutex
	out io.Writer
	log *slog.Logger
}

// record is one line of work's output.
type record struct {
	Endpoint string `json:"endpoint"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Object   string `json:"object,omitempty"`
	Attempt  int    `json:"attempt"`
	TraceID  string `json:"trace_id,omitempty"`
}

// testHook, when set (tests only), runs at the start of every handler: a
// test makes handlers slow or failing with it. Production leaves it nil.
var testHook atomic.Pointer[func(ctx context.Context, e *receiver.Event) error]

func (w *work) done(ctx context.Context, endpoint string, e *receiver.Event, object string) error {
	if h := testHook.Load(); h != nil {
		if err := (*h)(ctx, e); err != nil {
			return err
		}
	}
	r := record{Endpoint: endpoint, ID: e.ID, Type: e.Type, Object: object, Attempt: e.Attempt}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.TraceID = sc.TraceID().String()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.out.Write(append(b, '\n')); err != nil {
		return err // retried: the work did not happen
	}
	// IDs and types are bounded by the receiver and carry no payload
	// values; the payload itself is never logged.
	w.log.DebugContext(ctx, "event handled", "endpoint", endpoint, "event_id", e.ID, "event_type", e.Type, "attempt", e.Attempt)
	return nil
}

// routes registers each endpoint's handlers on its mux. Types no pattern
// takes are acknowledged and counted as unhandled.
func (w *work) routes(name string, mux *receiver.Mux) {
	switch name {
	case "github":
		receiver.On(mux, "push", func(ctx context.Context, e *receiver.Event, p githubPushEvent) error {
			return w.done(ctx, name, e, p.Repository.FullName)
		})
		receiver.On(mux, "issues.*", func(ctx context.Context, e *receiver.Event, p githubIssuesEvent) error {
			return w.done(ctx, name, e, "")
		})
	case "stripe":
		receiver.On(mux, "invoice.*", func(ctx context.Context, e *receiver.Event, p stripeInvoiceEvent) error {
			return w.done(ctx, name, e, p.Data.Object.ID)
		})
	case "standard":
		receiver.On(mux, "user.*", func(ctx context.Context, e *receiver.Event, p standardUserEvent) error {
			return w.done(ctx, name, e, p.Data.ID)
		})
	}
}
