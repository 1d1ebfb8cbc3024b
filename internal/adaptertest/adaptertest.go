// Package adaptertest holds what the framework adapters' tests share: a
// GitHub receiver whose handler records the events it ran, the signed
// deliveries they send it, and the waits. Each adapter module imports it
// from its tests (a path under the root module's may import its internal
// packages).
package adaptertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

// Secret is the GitHub webhook secret of the receivers built here (the one
// of GitHub's own documentation example).
const Secret = "It's a Secret to Everybody"

// DeliveryID is the X-GitHub-Delivery of Signed's requests.
const DeliveryID = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

// Handled records the events the asynchronous handler ran for, and, when
// Value is set, what it read from each attempt's context.
type Handled struct {
	// Value reads a value from the handler's context (a framework's context
	// value carried by a propagator, say); nil records nothing.
	Value func(ctx context.Context) (string, bool)

	mu     sync.Mutex
	events []*receiver.Event
	values []string
}

// Add is the handler: it records e.
func (h *Handled) Add(ctx context.Context, e *receiver.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	if h.Value != nil {
		if v, ok := h.Value(ctx); ok {
			h.values = append(h.values, v)
		}
	}
	return nil
}

// List returns the events handled so far.
func (h *Handled) List() []*receiver.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*receiver.Event(nil), h.events...)
}

// Values returns what Value read, in the order handled.
func (h *Handled) Values() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.values...)
}

// NewReceiver builds a GitHub receiver whose handler (for every type)
// records into h, shut down when the test ends.
func NewReceiver(tb testing.TB, h *Handled, opts ...receiver.Option) *receiver.Receiver {
	tb.Helper()
	p, err := github.New(Secret)
	if err != nil {
		tb.Fatal(err)
	}
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(h.Add))
	rc, err := receiver.New(p, mux, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})
	return rc
}

// Drain waits, up to 5 s, until rc's handlers ran for everything accepted.
func Drain(tb testing.TB, rc *receiver.Receiver) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Drain(ctx); err != nil {
		tb.Fatal(err)
	}
}

// Signed returns an "issues" delivery of body to url, signed with Secret.
func Signed(url, body string) *http.Request {
	return github.NewRequest(url, Secret, "issues", DeliveryID, []byte(body))
}

// Serve runs h on req and returns the recorded answer.
func Serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}
