package receiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/leakcheck"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

const secret = "test-secret"

// testProvider signs the body with HMAC-SHA256 hex in X-Sig; the event ID and
// type come from the X-Id and X-Type headers. Type "handshake" answers a
// reply, type "ping" is optional.
type testProvider struct{ v verify.Verifier }

func newTestProvider(t testing.TB) *testProvider {
	v, err := verify.NewScheme(verify.Scheme{Hash: sha256.New, Secrets: [][]byte{[]byte(secret)}, Header: "X-Sig", Prefix: "sha256="})
	require.NoError(t, err)
	return &testProvider{v: v}
}

func (p *testProvider) Name() string                              { return "test" }
func (p *testProvider) Verify(r *http.Request, body []byte) error { return p.v.Verify(r, body) }
func (p *testProvider) Parse(r *http.Request, _ []byte) (receiver.Envelope, error) {
	env := receiver.Envelope{ID: r.Header.Get("X-Id"), Type: r.Header.Get("X-Type")}
	switch {
	case env.Type == "":
		return env, fmt.Errorf("test: %w: no type", receiver.ErrMalformedEnvelope)
	case env.Type == "handshake":
		env.Reply = &receiver.Reply{Status: 200, ContentType: "text/plain", Body: []byte("challenge")}
	case env.Type == "ping":
		env.Optional = true
	}
	return env, nil
}

func sign(body []byte) string {
	m, _ := verify.NewHMAC(sha256.New, []byte(secret))
	return "sha256=" + hex.EncodeToString(m.Sign(body))
}

func request(id, typ string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header.Set("X-Sig", sign(body))
	r.Header.Set("X-Id", id)
	r.Header.Set("X-Type", typ)
	return r
}

// recorder is a handler that records the events it ran.
type recorder struct {
	mu     sync.Mutex
	events []*receiver.Event
	calls  atomic.Int64
	fn     func(ctx context.Context, e *receiver.Event) error
	done   chan string
}

func newRecorder(fn func(ctx context.Context, e *receiver.Event) error) *recorder {
	return &recorder{fn: fn, done: make(chan string, 1000)}
}

func (r *recorder) HandleEvent(ctx context.Context, e *receiver.Event) error {
	r.calls.Add(1)
	var err error
	if r.fn != nil {
		err = r.fn(ctx, e)
	}
	if err == nil {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
		r.done <- e.ID
	}
	return err
}

func (r *recorder) wait(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("handled %d events, want %d", i, n)
		}
	}
}

func newReceiver(t *testing.T, h receiver.Handler, opts ...receiver.Option) *receiver.Receiver {
	t.Helper()
	rc, err := receiver.New(newTestProvider(t), h, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})
	return rc
}

func serve(rc http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, r)
	return w
}

func TestAcceptedEventReachesHandler(t *testing.T) {
	rec := newRecorder(nil)
	rc := newReceiver(t, rec)
	body := []byte(`{"hello":"world"}`)
	w := serve(rc, request("evt_1", "invoice.paid", body))
	require.Equal(t, http.StatusOK, w.Code, "status")
	rec.wait(t, 1)
	e := rec.events[0]
	assert.Equal(t, "test", e.Provider)
	assert.Equal(t, "evt_1", e.ID)
	assert.Equal(t, "invoice.paid", e.Type)
	assert.Equal(t, body, e.Body)
	assert.Equal(t, 1, e.Attempt)
	assert.Equal(t, "evt_1", e.Header.Get("X-Id"), "event headers missing")
	assert.False(t, e.ReceivedAt.IsZero(), "event time missing")
	var v map[string]string
	assert.NoError(t, e.Decode(&v))
	assert.Equal(t, "world", v["hello"], "Decode")
}

func TestRejections(t *testing.T) {
	rec := newRecorder(nil)
	rc := newReceiver(t, rec, receiver.WithMaxBodyBytes(64))
	big := bytes.Repeat([]byte("a"), 65)
	tests := []struct {
		name string
		req  func() *http.Request
		want int
	}{
		{"wrong method", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/hook", nil) }, 405},
		{"missing signature", func() *http.Request {
			r := request("e", "t", []byte("{}"))
			r.Header.Del("X-Sig")
			return r
		}, 401},
		{"forged signature", func() *http.Request {
			r := request("e", "t", []byte("{}"))
			r.Header.Set("X-Sig", sign([]byte("other")))
			return r
		}, 401},
		{"tampered body", func() *http.Request {
			r := request("e", "t", []byte(`{"a":1}`))
			r2 := request("e", "t", []byte(`{"a":2}`))
			r2.Header.Set("X-Sig", r.Header.Get("X-Sig"))
			return r2
		}, 401},
		{"malformed envelope", func() *http.Request { return request("e", "", []byte("{}")) }, 400},
		{"oversized with length", func() *http.Request { return request("e", "t", big) }, 413},
		{"oversized chunked", func() *http.Request {
			r := request("e", "t", big)
			r.ContentLength = -1
			r.Body = readerOnly{bytes.NewReader(big)}
			return r
		}, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(rc, tt.req())
			assert.Equal(t, tt.want, w.Code, "status")
			if tt.want == 401 {
				assert.NotContains(t, w.Body.String(), "signature", "401 body names the failed check")
			}
		})
	}
	w := serve(rc, httptest.NewRequest(http.MethodGet, "/hook", nil))
	assert.Equal(t, "POST", w.Header().Get("Allow"), "405 without Allow: POST")
	assert.Zero(t, rec.calls.Load(), "handler ran for rejected requests")
}

type readerOnly struct{ r *bytes.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r readerOnly) Close() error               { return nil }

func TestChunkedBodyWithinLimitAccepted(t *testing.T) {
	rec := newRecorder(nil)
	rc := newReceiver(t, rec)
	body := []byte(`{"x":"y"}`)
	r := request("evt_c", "t", body)
	r.ContentLength = -1
	r.Body = readerOnly{bytes.NewReader(body)}
	require.Equal(t, 200, serve(rc, r).Code, "status")
	rec.wait(t, 1)
}

func TestHandshakeAndOptional(t *testing.T) {
	rec := newRecorder(nil)
	mux := receiver.NewMux()
	mux.Handle("*", rec)
	rc := newReceiver(t, mux)
	w := serve(rc, request("h1", "handshake", []byte("{}")))
	assert.Equal(t, 200, w.Code, "handshake status")
	assert.Equal(t, "challenge", w.Body.String(), "handshake body")
	assert.Equal(t, "text/plain", w.Header().Get("Content-Type"), "handshake Content-Type")
	assert.Equal(t, 200, serve(rc, request("p1", "ping", []byte("{}"))).Code, "ping status")
	// A ping with a handler registered for it is handled.
	mux.Handle("ping", rec)
	assert.Equal(t, 200, serve(rc, request("p2", "ping", []byte("{}"))).Code, "ping status")
	rec.wait(t, 1)
	assert.EqualValues(t, 1, rec.calls.Load(), "handler calls, want only p2")
	assert.Equal(t, "p2", rec.events[0].ID, "handler calls, want only p2")
}

func TestDuplicatesHandledOnce(t *testing.T) {
	rec := newRecorder(nil)
	rc := newReceiver(t, rec)
	body := []byte(`{}`)
	for i := 0; i < 3; i++ {
		require.Equal(t, 200, serve(rc, request("dup", "t", body)).Code, "status")
	}
	rec.wait(t, 1)
	// Concurrent copies of another event.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			assert.Equal(t, 200, serve(rc, request("conc", "t", body)).Code, "status")
		})
	}
	wg.Wait()
	rec.wait(t, 1)
	require.NoError(t, rc.Shutdown(context.Background()))
	assert.EqualValues(t, 2, rec.calls.Load(), "handler runs")
}

// failingStore fails every call.
type failingStore struct{}

func (failingStore) Claim(context.Context, string, string, time.Duration) (dedupe.Outcome, error) {
	return 0, errors.New("store down")
}
func (failingStore) Confirm(context.Context, string, string, time.Duration) (bool, error) {
	return false, errors.New("store down")
}
func (failingStore) Complete(context.Context, string, string, time.Duration) error { return nil }
func (failingStore) Release(context.Context, string, string) error                 { return nil }

func TestStoreFailureIs503(t *testing.T) {
	rec := newRecorder(nil)
	rc := newReceiver(t, rec, receiver.WithStore(failingStore{}), receiver.RetryAfter(7*time.Second))
	w := serve(rc, request("e", "t", []byte("{}")))
	assert.Equal(t, 503, w.Code, "status")
	assert.Equal(t, "7", w.Header().Get("Retry-After"))
}

func TestQueueFullIs503AndReleases(t *testing.T) {
	block := make(chan struct{})
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		<-block
		return nil
	})
	// The capacity counts every event not finished: one handled, one queued.
	rc := newReceiver(t, rec, receiver.Workers(1), receiver.QueueCapacity(2))
	require.Equal(t, 200, serve(rc, request("a", "t", []byte("{}"))).Code) // taken by the worker
	deadline := time.Now().Add(5 * time.Second)
	for rec.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, 200, serve(rc, request("b", "t", []byte("{}"))).Code) // buffered
	w := serve(rc, request("c", "t", []byte("{}")))
	require.Equal(t, 503, w.Code, "full queue answer")
	require.NotEmpty(t, w.Header().Get("Retry-After"), "full queue answer")
	close(block)
	rec.wait(t, 2)
	// The refused delivery was released, so the sender's retry is processed.
	require.Equal(t, 200, serve(rc, request("c", "t", []byte("{}"))).Code, "retry status")
	rec.wait(t, 1)
}

func TestRetriesThenSuccess(t *testing.T) {
	var n atomic.Int64
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		if n.Add(1) < 3 {
			return errors.New("transient")
		}
		assert.Equal(t, 3, e.Attempt, "attempt")
		return nil
	})
	rc := newReceiver(t, rec, receiver.Backoff(time.Millisecond, 5*time.Millisecond))
	serve(rc, request("r", "t", []byte("{}")))
	rec.wait(t, 1)
}

func TestExhaustedPermanentAndPanicDeadLettered(t *testing.T) {
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		switch e.Type {
		case "always":
			return errors.New("boom")
		case "permanent":
			return receiver.Permanent(errors.New("bad data"))
		case "panic":
			panic("kaboom")
		}
		return nil
	})
	var mu sync.Mutex
	stages := map[receiver.Stage]int{}
	obs := receiver.ObserverFunc(func(_ context.Context, o receiver.Observation) {
		mu.Lock()
		stages[o.Stage]++
		mu.Unlock()
	})
	rc := newReceiver(t, rec, receiver.MaxAttempts(3), receiver.Backoff(time.Millisecond, 2*time.Millisecond), receiver.WithObserver(obs))
	for _, typ := range []string{"always", "permanent", "panic"} {
		serve(rc, request("id-"+typ, typ, []byte("{}")))
	}
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)))
	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	got := map[string]receiver.DeadLetter{}
	for _, d := range dls {
		got[d.Event.Type] = d
	}
	require.Len(t, got, 3, "dead letters = %v", dls)
	assert.Equal(t, 3, got["always"].Event.Attempt, "always: attempt")
	assert.Equal(t, "boom", got["always"].Reason, "always: reason")
	assert.Equal(t, 1, got["permanent"].Event.Attempt, "permanent: attempt")
	assert.Equal(t, "bad data", got["permanent"].Reason, "permanent: reason")
	assert.Equal(t, 3, got["panic"].Event.Attempt, "panic: attempt")
	assert.Contains(t, got["panic"].Reason, "kaboom", "panic: reason")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 3, stages[receiver.StageEnqueued], "stages = %v", stages)
	assert.Equal(t, 3, stages[receiver.StageDeadLettered], "stages = %v", stages)
	assert.Equal(t, 4, stages[receiver.StageRetried], "stages = %v", stages)
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestReplay(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		if fail.Load() {
			return receiver.Permanent(errors.New("not yet"))
		}
		return nil
	})
	rc := newReceiver(t, rec, receiver.ReprocessDeadLettered(false))
	serve(rc, request("rp", "t", []byte("{}")))
	var dls []receiver.DeadLetter
	deadline := time.Now().Add(5 * time.Second)
	for len(dls) == 0 && time.Now().Before(deadline) {
		dls, _ = rc.DeadLetters().List(context.Background(), 10)
		time.Sleep(time.Millisecond)
	}
	require.Len(t, dls, 1, "dead letters")
	// With ReprocessDeadLettered(false), a redelivery of a dead-lettered
	// event is a duplicate.
	serve(rc, request("rp", "t", []byte("{}")))
	fail.Store(false)
	require.NoError(t, rc.Replay(context.Background(), dls[0]))
	rec.wait(t, 1)
	assert.EqualValues(t, 2, rec.calls.Load(), "handler calls, want 2 (failed once, replayed once)")
	dls, _ = rc.DeadLetters().List(context.Background(), 10)
	assert.Empty(t, dls, "dead letter not removed after replay")
}

func TestAcknowledgementDoesNotWaitForHandler(t *testing.T) {
	release := make(chan struct{})
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		<-release
		return nil
	})
	rc := newReceiver(t, rec)
	done := make(chan int)
	go func() { done <- serve(rc, request("slow", "t", []byte("{}"))).Code }()
	select {
	case code := <-done:
		assert.Equal(t, 200, code, "status")
	case <-time.After(5 * time.Second):
		t.Fatal("acknowledgement waited for the handler")
	}
	close(release)
	rec.wait(t, 1)
}

func TestShutdownDrainsQueuedEvents(t *testing.T) {
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		time.Sleep(2 * time.Millisecond)
		return nil
	})
	rc := newReceiver(t, rec, receiver.Workers(2))
	for i := 0; i < 100; i++ {
		require.Equal(t, 200, serve(rc, request(fmt.Sprint("d", i), "t", []byte("{}"))).Code)
	}
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)))
	assert.EqualValues(t, 100, rec.calls.Load(), "handled of 100 acknowledged events")
	assert.Equal(t, 503, serve(rc, request("late", "t", []byte("{}"))).Code, "after shutdown")
}

func TestShutdownDeadlineDeadLettersUnfinished(t *testing.T) {
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		<-ctx.Done() // hangs until cancelled
		return ctx.Err()
	})
	rc := newReceiver(t, rec, receiver.Workers(1))
	for i := 0; i < 5; i++ {
		serve(rc, request(fmt.Sprint("u", i), "t", []byte("{}")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := rc.Shutdown(ctx)
	var se *receiver.ShutdownError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 5, se.Unfinished, "ShutdownError unfinished")
	assert.Len(t, se.IDs, 5, "ShutdownError IDs")
	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	assert.Len(t, dls, 5, "dead letters, want all 5 unfinished events")
	err2 := rc.Shutdown(context.Background())
	assert.True(t, err2 == err, "second Shutdown = %v, want the first result", err2)
}

type invoice struct {
	ID     string `json:"id" validate:"required"`
	Amount int    `json:"amount" validate:"gte=0"`
}

func TestTypedHandlerAndStructValidation(t *testing.T) {
	got := make(chan invoice, 1)
	mux := receiver.NewMux()
	receiver.On(mux, "invoice.*", func(ctx context.Context, e *receiver.Event, inv invoice) error {
		got <- inv
		return nil
	})
	rc := newReceiver(t, mux)
	serve(rc, request("i1", "invoice.paid", []byte(`{"id":"in_1","amount":5}`)))
	select {
	case inv := <-got:
		assert.Equal(t, invoice{ID: "in_1", Amount: 5}, inv, "payload")
	case <-time.After(5 * time.Second):
		t.Fatal("typed handler not called")
	}
	serve(rc, request("i2", "invoice.paid", []byte(`{"amount":-1}`)))
	serve(rc, request("i3", "invoice.paid", []byte(`not json`)))
	serve(rc, request("i4", "unrouted", []byte(`{}`)))
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 5*time.Second)))
	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	require.Len(t, dls, 2, "dead letters, want 2 (invalid i2, undecodable i3)")
	for _, d := range dls {
		assert.Equal(t, 1, d.Event.Attempt, "dead letter %s: attempt", d.Event.ID)
		assert.Contains(t, d.Reason, "invalid payload", "dead letter %s: reason", d.Event.ID)
	}
}

type rejectAll struct{}

func (rejectAll) Validate(_ context.Context, e *receiver.Event) error {
	if bytes.Contains(e.Body, []byte("bad")) {
		return &receiver.InvalidPayloadError{Reason: "schema: /x: type"}
	}
	return nil
}

func TestValidationPolicies(t *testing.T) {
	t.Run("acknowledge", func(t *testing.T) {
		rec := newRecorder(nil)
		rc := newReceiver(t, rec, receiver.WithValidator(rejectAll{}, receiver.AcknowledgeInvalid))
		require.Equal(t, 200, serve(rc, request("v1", "t", []byte(`{"bad":1}`))).Code, "status")
		_ = rc.Shutdown(ctxTimeout(t, 5*time.Second))
		assert.Zero(t, rec.calls.Load(), "invalid payload reached the handler")
		dls, _ := rc.DeadLetters().List(context.Background(), 0)
		if assert.Len(t, dls, 1, "dead letters") {
			assert.Contains(t, dls[0].Reason, "schema: /x: type", "dead letter reason")
		}
	})
	t.Run("reject", func(t *testing.T) {
		rec := newRecorder(nil)
		rc := newReceiver(t, rec, receiver.WithValidator(rejectAll{}, receiver.RejectInvalid))
		w := serve(rc, request("v2", "t", []byte(`{"bad":1}`)))
		assert.Equal(t, 422, w.Code, "status")
		assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
		// A forged invalid request stays 401.
		r := request("v3", "t", []byte(`{"bad":1}`))
		r.Header.Set("X-Sig", "sha256=00")
		assert.Equal(t, 401, serve(rc, r).Code, "forged invalid: status")
		// The rejected event was not claimed: a fixed redelivery is handled.
		assert.Equal(t, 200, serve(rc, request("v2", "t", []byte(`{"good":1}`))).Code, "status")
		rec.wait(t, 1)
	})
}

func TestMuxRouting(t *testing.T) {
	mux := receiver.NewMux()
	hit := func(name string) receiver.Handler {
		return receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error { return errors.New(name) })
	}
	mux.Handle("invoice.paid", hit("exact"))
	mux.Handle("invoice.*", hit("prefix"))
	mux.Handle("issues", hit("family"))
	mux.Handle("*", hit("fallback"))
	for typ, want := range map[string]string{
		"invoice.paid": "exact", "invoice.created": "prefix", "invoice.x.y": "prefix",
		"issues": "family", "issues.opened": "family", "push": "fallback", "invoice": "fallback",
	} {
		assert.EqualError(t, mux.HandleEvent(context.Background(), &receiver.Event{Type: typ}), want, "%s routed", typ)
	}
	empty := receiver.NewMux()
	assert.ErrorIs(t, empty.HandleEvent(context.Background(), &receiver.Event{Type: "x"}), receiver.ErrNoHandler, "unrouted")
	for _, bad := range []string{"", "in*", "*.paid"} {
		assert.Panics(t, func() { mux.Handle(bad, hit("x")) }, "Handle(%q)", bad)
	}
}

func TestStatusCode(t *testing.T) {
	for err, want := range map[error]int{
		nil: 200, verify.ErrSignatureMismatch: 401, fmt.Errorf("x: %w", receiver.ErrMalformedEnvelope): 400,
		&http.MaxBytesError{Limit: 1}: 413, receiver.ErrQueueFull: 503, receiver.ErrClosed: 503,
		&receiver.InvalidPayloadError{}: 422, errors.New("other"): 500,
		receiver.ErrStore: 503, receiver.ErrOverloaded: 503, receiver.ErrPending: 503,
	} {
		assert.Equal(t, want, receiver.StatusCode(err), "StatusCode(%v)", err)
	}
}

var _ dedupe.Store = failingStore{}
