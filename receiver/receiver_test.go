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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
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
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	rec.wait(t, 1)
	e := rec.events[0]
	if e.Provider != "test" || e.ID != "evt_1" || e.Type != "invoice.paid" || !bytes.Equal(e.Body, body) || e.Attempt != 1 {
		t.Errorf("event = %+v", e)
	}
	if e.Header.Get("X-Id") != "evt_1" || e.ReceivedAt.IsZero() {
		t.Errorf("event headers or time missing: %+v", e)
	}
	var v map[string]string
	if err := e.Decode(&v); err != nil || v["hello"] != "world" {
		t.Errorf("Decode = %v, %v", v, err)
	}
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
			if w.Code != tt.want {
				t.Errorf("status = %d, want %d", w.Code, tt.want)
			}
			if tt.want == 401 && strings.Contains(w.Body.String(), "signature") {
				t.Errorf("401 body names the failed check: %q", w.Body.String())
			}
		})
	}
	if w := serve(rc, httptest.NewRequest(http.MethodGet, "/hook", nil)); w.Header().Get("Allow") != "POST" {
		t.Errorf("405 without Allow: POST")
	}
	if n := rec.calls.Load(); n != 0 {
		t.Errorf("handler ran %d times for rejected requests", n)
	}
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
	if w := serve(rc, r); w.Code != 200 {
		t.Fatalf("status = %d", w.Code)
	}
	rec.wait(t, 1)
}

func TestHandshakeAndOptional(t *testing.T) {
	rec := newRecorder(nil)
	mux := receiver.NewMux()
	mux.Handle("*", rec)
	rc := newReceiver(t, mux)
	w := serve(rc, request("h1", "handshake", []byte("{}")))
	if w.Code != 200 || w.Body.String() != "challenge" || w.Header().Get("Content-Type") != "text/plain" {
		t.Errorf("handshake answer = %d %q %q", w.Code, w.Body.String(), w.Header().Get("Content-Type"))
	}
	if w := serve(rc, request("p1", "ping", []byte("{}"))); w.Code != 200 {
		t.Errorf("ping status = %d", w.Code)
	}
	// A ping with a handler registered for it is handled.
	mux.Handle("ping", rec)
	if w := serve(rc, request("p2", "ping", []byte("{}"))); w.Code != 200 {
		t.Errorf("ping status = %d", w.Code)
	}
	rec.wait(t, 1)
	if rec.calls.Load() != 1 || rec.events[0].ID != "p2" {
		t.Errorf("handler calls = %d (%v), want only p2", rec.calls.Load(), rec.events)
	}
}

func TestDuplicatesHandledOnce(t *testing.T) {
	rec := newRecorder(nil)
	rc := newReceiver(t, rec)
	body := []byte(`{}`)
	for i := 0; i < 3; i++ {
		if w := serve(rc, request("dup", "t", body)); w.Code != 200 {
			t.Fatalf("status = %d", w.Code)
		}
	}
	rec.wait(t, 1)
	// Concurrent copies of another event.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			if w := serve(rc, request("conc", "t", body)); w.Code != 200 {
				t.Errorf("status = %d", w.Code)
			}
		})
	}
	wg.Wait()
	rec.wait(t, 1)
	if err := rc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := rec.calls.Load(); n != 2 {
		t.Errorf("handler ran %d times, want 2", n)
	}
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
	if w.Code != 503 || w.Header().Get("Retry-After") != "7" {
		t.Errorf("answer = %d Retry-After %q, want 503 and 7", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestQueueFullIs503AndReleases(t *testing.T) {
	block := make(chan struct{})
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		<-block
		return nil
	})
	// The capacity counts every event not finished: one handled, one queued.
	rc := newReceiver(t, rec, receiver.Workers(1), receiver.QueueCapacity(2))
	if w := serve(rc, request("a", "t", []byte("{}"))); w.Code != 200 { // taken by the worker
		t.Fatal(w.Code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rec.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if w := serve(rc, request("b", "t", []byte("{}"))); w.Code != 200 { // buffered
		t.Fatal(w.Code)
	}
	w := serve(rc, request("c", "t", []byte("{}")))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("full queue answer = %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	close(block)
	rec.wait(t, 2)
	// The refused delivery was released, so the sender's retry is processed.
	if w := serve(rc, request("c", "t", []byte("{}"))); w.Code != 200 {
		t.Fatalf("retry status = %d", w.Code)
	}
	rec.wait(t, 1)
}

func TestRetriesThenSuccess(t *testing.T) {
	var n atomic.Int64
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		if n.Add(1) < 3 {
			return errors.New("transient")
		}
		if e.Attempt != 3 {
			t.Errorf("attempt = %d, want 3", e.Attempt)
		}
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
	if err := rc.Shutdown(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	got := map[string]receiver.DeadLetter{}
	for _, d := range dls {
		got[d.Event.Type] = d
	}
	if len(got) != 3 {
		t.Fatalf("dead letters = %v", dls)
	}
	if d := got["always"]; d.Event.Attempt != 3 || d.Reason != "boom" {
		t.Errorf("always: attempt %d reason %q", d.Event.Attempt, d.Reason)
	}
	if d := got["permanent"]; d.Event.Attempt != 1 || d.Reason != "bad data" {
		t.Errorf("permanent: attempt %d reason %q", d.Event.Attempt, d.Reason)
	}
	if d := got["panic"]; d.Event.Attempt != 3 || !strings.Contains(d.Reason, "kaboom") {
		t.Errorf("panic: attempt %d reason %q", d.Event.Attempt, d.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if stages[receiver.StageEnqueued] != 3 || stages[receiver.StageDeadLettered] != 3 || stages[receiver.StageRetried] != 4 {
		t.Errorf("stages = %v", stages)
	}
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
	if len(dls) != 1 {
		t.Fatalf("dead letters = %d", len(dls))
	}
	// With ReprocessDeadLettered(false), a redelivery of a dead-lettered
	// event is a duplicate.
	serve(rc, request("rp", "t", []byte("{}")))
	fail.Store(false)
	if err := rc.Replay(context.Background(), dls[0]); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, 1)
	if n := rec.calls.Load(); n != 2 {
		t.Errorf("handler calls = %d, want 2 (failed once, replayed once)", n)
	}
	if dls, _ := rc.DeadLetters().List(context.Background(), 10); len(dls) != 0 {
		t.Errorf("dead letter not removed after replay")
	}
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
		if code != 200 {
			t.Errorf("status = %d", code)
		}
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
		if w := serve(rc, request(fmt.Sprint("d", i), "t", []byte("{}"))); w.Code != 200 {
			t.Fatal(w.Code)
		}
	}
	if err := rc.Shutdown(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := rec.calls.Load(); n != 100 {
		t.Errorf("handled %d of 100 acknowledged events", n)
	}
	if w := serve(rc, request("late", "t", []byte("{}"))); w.Code != 503 {
		t.Errorf("after shutdown: status = %d, want 503", w.Code)
	}
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
	if !errors.As(err, &se) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want *ShutdownError wrapping DeadlineExceeded", err)
	}
	if se.Unfinished != 5 || len(se.IDs) != 5 {
		t.Errorf("ShutdownError reports %d unfinished (%d IDs), want all 5", se.Unfinished, len(se.IDs))
	}
	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	if len(dls) != 5 {
		t.Errorf("dead letters = %d, want all 5 unfinished events", len(dls))
	}
	if err2 := rc.Shutdown(context.Background()); err2 != err {
		t.Errorf("second Shutdown = %v, want the first result", err2)
	}
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
		if inv.ID != "in_1" || inv.Amount != 5 {
			t.Errorf("payload = %+v", inv)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("typed handler not called")
	}
	serve(rc, request("i2", "invoice.paid", []byte(`{"amount":-1}`)))
	serve(rc, request("i3", "invoice.paid", []byte(`not json`)))
	serve(rc, request("i4", "unrouted", []byte(`{}`)))
	if err := rc.Shutdown(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	if len(dls) != 2 {
		t.Fatalf("dead letters = %d, want 2 (invalid i2, undecodable i3)", len(dls))
	}
	for _, d := range dls {
		if d.Event.Attempt != 1 || !strings.Contains(d.Reason, "invalid payload") {
			t.Errorf("dead letter %s: attempt %d reason %q", d.Event.ID, d.Event.Attempt, d.Reason)
		}
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
		if w := serve(rc, request("v1", "t", []byte(`{"bad":1}`))); w.Code != 200 {
			t.Fatalf("status = %d, want 200", w.Code)
		}
		_ = rc.Shutdown(ctxTimeout(t, 5*time.Second))
		if rec.calls.Load() != 0 {
			t.Errorf("invalid payload reached the handler")
		}
		dls, _ := rc.DeadLetters().List(context.Background(), 0)
		if len(dls) != 1 || !strings.Contains(dls[0].Reason, "schema: /x: type") {
			t.Errorf("dead letters = %+v", dls)
		}
	})
	t.Run("reject", func(t *testing.T) {
		rec := newRecorder(nil)
		rc := newReceiver(t, rec, receiver.WithValidator(rejectAll{}, receiver.RejectInvalid))
		w := serve(rc, request("v2", "t", []byte(`{"bad":1}`)))
		if w.Code != 422 || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("answer = %d %q", w.Code, w.Header().Get("Content-Type"))
		}
		// A forged invalid request stays 401.
		r := request("v3", "t", []byte(`{"bad":1}`))
		r.Header.Set("X-Sig", "sha256=00")
		if w := serve(rc, r); w.Code != 401 {
			t.Errorf("forged invalid: status = %d, want 401", w.Code)
		}
		// The rejected event was not claimed: a fixed redelivery is handled.
		if w := serve(rc, request("v2", "t", []byte(`{"good":1}`))); w.Code != 200 {
			t.Errorf("status = %d", w.Code)
		}
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
		err := mux.HandleEvent(context.Background(), &receiver.Event{Type: typ})
		if err == nil || err.Error() != want {
			t.Errorf("%s routed to %v, want %s", typ, err, want)
		}
	}
	empty := receiver.NewMux()
	if err := empty.HandleEvent(context.Background(), &receiver.Event{Type: "x"}); !errors.Is(err, receiver.ErrNoHandler) {
		t.Errorf("unrouted = %v, want ErrNoHandler", err)
	}
	for _, bad := range []string{"", "in*", "*.paid"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", bad)
				}
			}()
			mux.Handle(bad, hit("x"))
		}()
	}
}

func TestStatusCode(t *testing.T) {
	for err, want := range map[error]int{
		nil: 200, verify.ErrSignatureMismatch: 401, fmt.Errorf("x: %w", receiver.ErrMalformedEnvelope): 400,
		&http.MaxBytesError{Limit: 1}: 413, receiver.ErrQueueFull: 503, receiver.ErrClosed: 503,
		&receiver.InvalidPayloadError{}: 422, errors.New("other"): 500,
		receiver.ErrStore: 503, receiver.ErrOverloaded: 503, receiver.ErrPending: 503,
	} {
		if got := receiver.StatusCode(err); got != want {
			t.Errorf("StatusCode(%v) = %d, want %d", err, got, want)
		}
	}
}

var _ dedupe.Store = failingStore{}
