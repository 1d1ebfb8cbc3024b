package nethttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

const secret = "It's a Secret to Everybody"

// handled records the events the asynchronous handler ran for.
type handled struct {
	mu     sync.Mutex
	events []*receiver.Event
}

func (h *handled) add(_ context.Context, e *receiver.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	return nil
}

func (h *handled) list() []*receiver.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*receiver.Event(nil), h.events...)
}

func newReceiver(t *testing.T, opts ...receiver.Option) (*receiver.Receiver, *handled) {
	t.Helper()
	p, err := github.New(secret)
	require.NoError(t, err)
	h := &handled{}
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(h.add))
	rc, err := receiver.New(p, mux, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})
	return rc, h
}

func drain(t *testing.T, rc *receiver.Receiver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, rc.Drain(ctx))
}

func signed(url, body string) *http.Request {
	return github.NewRequest(url, secret, "issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(body))
}

func issue(n int) string {
	return `{"action":"opened","issue":{"number":` + strings.Repeat("1", n) + `}}`
}

// padded is an issues delivery of exactly n bytes.
func padded(n int) string {
	const frame = `{"action":"opened","issue":{},"pad":""}`
	return `{"action":"opened","issue":{},"pad":"` + strings.Repeat("x", n-len(frame)) + `"}`
}

// rawBody is signed as it is: odd spacing, key order, escapes and a
// trailing newline, which any re-encoding would change.
const rawBody = "{ \"zeta\" :1,\"action\":\"opened\", \"issue\" : {\"number\":7 } ,  \"name\":\"caf\\u00e9 \u00e9\", \"n\":1.50 }\n"

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}
