package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/schema"
	"github.com/hookwise/hookwise/verify"
)

// observations records every Observation.
type observations struct {
	mu  sync.Mutex
	all []receiver.Observation
}

func (o *observations) Observe(_ context.Context, ob receiver.Observation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, ob)
}

func (o *observations) last() receiver.Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.all[len(o.all)-1]
}

func (o *observations) of(stage receiver.Stage) []receiver.Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []receiver.Observation
	for _, ob := range o.all {
		if ob.Stage == stage {
			out = append(out, ob)
		}
	}
	return out
}

// brokenBody fails after its first bytes, as a connection cut mid-body.
type brokenBody struct{ n int }

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.n > 0 {
		b.n = 0
		return copy(p, "{"), nil
	}
	return 0, io.ErrUnexpectedEOF
}
func (b *brokenBody) Close() error { return nil }

// stalledProvider verifies everything and says its deliveries were signed
// an hour ago, with a timestamp the test can also make stale.
type stalledProvider struct {
	*testProvider
	sent time.Time
}

func (p stalledProvider) SentAt(*http.Request) (time.Time, bool) { return p.sent, true }

// TestOneStatusTable checks that what ServeHTTP answers, what StatusCode and
// Classify say about the error the observer sees, and the reason, agree for
// every row of the table.
func TestOneStatusTable(t *testing.T) {
	obs := &observations{}
	rc := newReceiver(t, newRecorder(nil), receiver.WithMaxBodyBytes(64), receiver.WithObserver(obs),
		receiver.WithValidator(rejectAll{}, receiver.RejectInvalid), receiver.WithStore(failingStore{}))
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		reason string
	}{
		{"method", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/hook", nil) }, 405, receiver.ReasonMethod},
		{"forged", func() *http.Request {
			r := request("e", "t", []byte("{}"))
			r.Header.Set("X-Sig", sign([]byte("other")))
			return r
		}, 401, receiver.ReasonSignature},
		{"malformed", func() *http.Request { return request("e", "", []byte("{}")) }, 400, receiver.ReasonMalformed},
		{"too large", func() *http.Request { return request("e", "t", bytes.Repeat([]byte("a"), 65)) }, 413, receiver.ReasonTooLarge},
		{"unreadable", func() *http.Request {
			r := request("e", "t", []byte("{}"))
			r.ContentLength = -1
			r.Body = &brokenBody{n: 1}
			return r
		}, 400, receiver.ReasonUnreadable},
		{"invalid", func() *http.Request { return request("e", "t", []byte(`{"bad":1}`)) }, 422, receiver.ReasonInvalid},
		{"store down", func() *http.Request { return request("e", "t", []byte("{}")) }, 503, receiver.ReasonUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(rc, tt.req())
			require.Equal(t, tt.status, w.Code)
			o := obs.last()
			assert.Equal(t, tt.status, o.Status, "observed status")
			assert.Equal(t, tt.reason, o.Reason, "observed reason")
			require.Error(t, o.Err)
			assert.Equal(t, tt.status, receiver.StatusCode(o.Err), "StatusCode of the observed error")
			status, reason := receiver.Classify(o.Err)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.reason, reason)
			assert.NotNil(t, o.Request, "request-path observation without its request")
		})
	}
}

func TestClassifyRows(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
		reason string
	}{
		{nil, 200, ""},
		{verify.ErrSignatureMismatch, 401, receiver.ReasonSignature},
		{verify.ErrTimestampOutsideWindow, 401, receiver.ReasonTimestamp},
		{verify.ErrMissingTimestamp, 401, receiver.ReasonTimestamp},
		{receiver.ErrStore, 503, receiver.ReasonUnavailable},
		{receiver.ErrQueueFull, 503, receiver.ReasonUnavailable},
		{receiver.ErrOverloaded, 503, receiver.ReasonOverloaded},
		{receiver.ErrPending, 503, receiver.ReasonPending},
		{receiver.ErrClosed, 503, receiver.ReasonClosed},
		{receiver.ErrUnreadableBody, 400, receiver.ReasonUnreadable},
		{errors.New("other"), 500, receiver.ReasonInternal},
	} {
		status, reason := receiver.Classify(tt.err)
		assert.Equal(t, tt.status, status, "%v", tt.err)
		assert.Equal(t, tt.reason, reason, "%v", tt.err)
	}
}

func TestErrorRendererGetsTheTableRow(t *testing.T) {
	var got []receiver.Refusal
	render := func(w http.ResponseWriter, _ *http.Request, rf receiver.Refusal) {
		got = append(got, rf)
		if rf.Status == http.StatusServiceUnavailable {
			receiver.WriteRefusal(w, rf) // the default for what it does not change
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rf.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": rf.Reason})
	}
	rc := newReceiver(t, newRecorder(nil), receiver.WithErrorRenderer(render), receiver.WithStore(failingStore{}))
	r := request("e", "t", []byte("{}"))
	r.Header.Set("X-Sig", sign([]byte("other")))
	w := serve(rc, r)
	assert.Equal(t, 401, w.Code)
	assert.JSONEq(t, `{"error":"signature"}`, w.Body.String())
	w = serve(rc, request("e", "t", []byte("{}")))
	assert.Equal(t, 503, w.Code)
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	require.Len(t, got, 2)
	assert.Equal(t, receiver.ReasonUnavailable, got[1].Reason)
	assert.Equal(t, receiver.DefaultRetryAfter, got[1].RetryAfter)

	_, err := receiver.New(newTestProvider(t), newRecorder(nil), receiver.WithErrorRenderer(nil))
	assert.Error(t, err, "nil renderer accepted")
}

// traceProp carries a "trace" value from the request context to the
// handler's, through Meta, and tries to carry more than the bounds allow.
type traceProp struct{}

type traceKey struct{}

func (traceProp) Inject(ctx context.Context, meta map[string]string) {
	if v, ok := ctx.Value(traceKey{}).(string); ok {
		meta["traceparent"] = v
	}
	meta["huge"] = strings.Repeat("x", driver.MaxMetaValueBytes+1)
	meta[strings.Repeat("k", driver.MaxMetaKeyBytes+1)] = "v"
}

func (traceProp) Extract(ctx context.Context, meta map[string]string) context.Context {
	return context.WithValue(ctx, traceKey{}, meta["traceparent"])
}

func TestPropagatorCarriesContextToHandler(t *testing.T) {
	got := make(chan string, 1)
	var meta map[string]string
	rec := newRecorder(func(ctx context.Context, e *receiver.Event) error {
		meta = e.Meta
		got <- ctx.Value(traceKey{}).(string)
		return nil
	})
	rc := newReceiver(t, rec, receiver.WithPropagator(traceProp{}))
	r := request("e1", "t", []byte("{}"))
	r = r.WithContext(context.WithValue(r.Context(), traceKey{}, "00-abc-def-01"))
	require.Equal(t, 200, serve(rc, r).Code)
	select {
	case v := <-got:
		assert.Equal(t, "00-abc-def-01", v)
	case <-time.After(5 * time.Second):
		t.Fatal("handler not run")
	}
	assert.Equal(t, map[string]string{"traceparent": "00-abc-def-01"}, meta, "entries beyond the bounds kept")
}

func TestMuxUseWrapsEveryAttemptAndKeepsHandles(t *testing.T) {
	mux := receiver.NewMux()
	var order []string
	var mu sync.Mutex
	mw := func(name string) func(receiver.Handler) receiver.Handler {
		return func(next receiver.Handler) receiver.Handler {
			return receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
				mu.Lock()
				order = append(order, name+">")
				mu.Unlock()
				err := next.HandleEvent(ctx, e)
				mu.Lock()
				order = append(order, "<"+name)
				mu.Unlock()
				if err != nil {
					return errors.Join(err, errors.New(name+" saw it"))
				}
				return nil
			})
		}
	}
	mux.Use(mw("outer"), mw("inner"))
	mux.HandleFunc("ping", func(context.Context, *receiver.Event) error { return errors.New("boom") })
	err := mux.HandleEvent(context.Background(), &receiver.Event{Type: "ping"})
	assert.ErrorContains(t, err, "boom")
	assert.ErrorContains(t, err, "outer saw it")
	assert.Equal(t, []string{"outer>", "inner>", "<inner", "<outer"}, order)
	assert.True(t, mux.Handles("ping"), "Use hid a registered handler from Handles")
	assert.Panics(t, func() { mux.Use(nil) })
}

// TestOnePatternGrammar checks the Mux and the schema registry accept and
// refuse the same patterns, and route the same types.
func TestOnePatternGrammar(t *testing.T) {
	const anySchema = `{"type":"object"}`
	for _, p := range []string{"", ".*", "in*", "*.paid", "a.*.b", "**"} {
		assert.Panics(t, func() { receiver.NewMux().HandleFunc(p, func(context.Context, *receiver.Event) error { return nil }) }, "Mux accepted %q", p)
		_, err := schema.New(fstest.MapFS{}, schema.WithSchema("p", p, "1", []byte(anySchema)))
		assert.Error(t, err, "schema accepted %q", p)
	}
	for _, p := range []string{"*", "invoice.*", "issues", "invoice.paid"} {
		assert.NotPanics(t, func() { receiver.NewMux().HandleFunc(p, func(context.Context, *receiver.Event) error { return nil }) }, "Mux refused %q", p)
		_, err := schema.New(fstest.MapFS{}, schema.WithSchema("p", p, "1", []byte(anySchema)))
		assert.NoError(t, err, "schema refused %q", p)
	}
	mux := receiver.NewMux()
	mux.HandleFunc("invoice.paid", func(context.Context, *receiver.Event) error { return nil })
	_, p := mux.Handler("invoice.paid.extra")
	assert.Empty(t, p, "a dotted exact pattern took a longer type")
	_, p = mux.Handler("invoice.paid")
	assert.Equal(t, "invoice.paid", p)
	mux.HandleFunc("issues", func(context.Context, *receiver.Event) error { return nil })
	assert.Panics(t, func() { mux.HandleFunc("issues.*", func(context.Context, *receiver.Event) error { return nil }) },
		"issues.* overlaps the family issues")
}

func TestObservationQueueWaitAndSkew(t *testing.T) {
	obs := &observations{}
	sent := time.Now().Add(-90 * time.Second)
	p := stalledProvider{testProvider: newTestProvider(t), sent: sent}
	rec := newRecorder(func(context.Context, *receiver.Event) error { return nil })
	rc, err := receiver.New(p, rec, receiver.WithObserver(obs))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	require.Equal(t, 200, serve(rc, request("e1", "t", []byte("{}"))).Code)
	rec.wait(t, 1)
	require.NoError(t, rc.Drain(ctxTimeout(t, 5*time.Second)))
	enq := obs.of(receiver.StageEnqueued)
	require.Len(t, enq, 1)
	assert.True(t, enq[0].HasSkew)
	assert.InDelta(t, 90, enq[0].Skew.Seconds(), 5)
	handled := obs.of(receiver.StageHandled)
	require.Len(t, handled, 1)
	assert.Positive(t, handled[0].QueueWait, "queue wait of the first attempt")
	assert.Nil(t, handled[0].Request)

	// A provider without a signed timestamp reports none.
	obs2 := &observations{}
	rc2 := newReceiver(t, newRecorder(nil), receiver.WithObserver(obs2))
	require.Equal(t, 200, serve(rc2, request("e1", "t", []byte("{}"))).Code)
	assert.False(t, obs2.of(receiver.StageEnqueued)[0].HasSkew)
}

func TestHandshakeObserved(t *testing.T) {
	obs := &observations{}
	rc := newReceiver(t, newRecorder(nil), receiver.WithObserver(obs))
	require.Equal(t, 200, serve(rc, request("", "handshake", []byte("{}"))).Code)
	assert.Len(t, obs.of(receiver.StageHandshake), 1)
}

func TestDrainWaitsForHandlers(t *testing.T) {
	var handled sync.Map
	rc := newReceiver(t, receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		time.Sleep(20 * time.Millisecond)
		handled.Store(e.ID, true)
		return nil
	}))
	for _, id := range []string{"a", "b", "c"} {
		require.Equal(t, 200, serve(rc, request(id, "t", []byte("{}"))).Code)
	}
	require.NoError(t, rc.Drain(ctxTimeout(t, 5*time.Second)))
	for _, id := range []string{"a", "b", "c"} {
		_, ok := handled.Load(id)
		assert.True(t, ok, "Drain returned before %s was handled", id)
	}
	st, err := rc.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, driver.Stats{}, st)

	// A handler that never finishes: Drain gives up with ctx.
	stuck := make(chan struct{})
	defer close(stuck)
	rc2 := newReceiver(t, receiver.HandlerFunc(func(context.Context, *receiver.Event) error { <-stuck; return nil }))
	require.Equal(t, 200, serve(rc2, request("x", "t", []byte("{}"))).Code)
	err = rc2.Drain(ctxTimeout(t, 50*time.Millisecond))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	st, err = rc2.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, st.Depth)
}

func TestQueueServesOneReceiver(t *testing.T) {
	q := receiver.NewMemoryQueue(10, 1)
	newReceiver(t, newRecorder(nil), receiver.WithQueue(q))
	_, err := receiver.New(newTestProvider(t), newRecorder(nil), receiver.WithQueue(q))
	assert.ErrorIs(t, err, driver.ErrStarted)
}

func TestDefaultQueueOptionsRefusedBesideWithQueue(t *testing.T) {
	for name, opt := range map[string]receiver.Option{
		"Workers": receiver.Workers(2), "QueueCapacity": receiver.QueueCapacity(2), "QueueMaxBytes": receiver.QueueMaxBytes(2),
	} {
		_, err := receiver.New(newTestProvider(t), newRecorder(nil), opt, receiver.WithQueue(receiver.NewMemoryQueue(1, 1)))
		assert.ErrorContains(t, err, name)
	}
}

func TestReplayerWithoutReceiver(t *testing.T) {
	store := dedupe.NewMemory()
	defer store.Close()
	dl := receiver.NewMemoryDeadLetters(0)
	q := receiver.NewMemoryQueue(10, 1)
	rec := newRecorder(func(_ context.Context, e *receiver.Event) error {
		if e.Attempt == 1 && e.Header.Get("X-Replayed") == "" {
			return receiver.Permanent(errors.New("downstream said no"))
		}
		return nil
	})
	rc := newReceiver(t, rec, receiver.WithQueue(q), receiver.WithStore(store), receiver.WithDeadLetters(dl))
	require.Equal(t, 200, serve(rc, request("e1", "t", []byte("{}"))).Code)
	require.NoError(t, rc.Drain(ctxTimeout(t, 5*time.Second)))
	letters, err := dl.List(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, letters, 1)
	letters[0].Event.Header.Set("X-Replayed", "1")

	// An operator's tool: no receiver, only its queue and stores.
	rp := receiver.Replayer{Queue: q, Store: store, DeadLetters: dl}
	require.NoError(t, rp.Replay(context.Background(), letters[0]))
	rec.wait(t, 1)
	assert.Zero(t, dl.Len(), "dead letter kept after replay")
	require.NoError(t, rc.Drain(ctxTimeout(t, 5*time.Second)))
	assert.Equal(t, 200, serve(rc, request("e1", "t", []byte("{}"))).Code)
	assert.EqualValues(t, 2, rec.calls.Load(), "redelivery after the replay handled again")
}

// TestReadmeStatusTableIsClassify checks the README's table of answers
// against Classify: every reason the code returns has one row, with the
// same status.
func TestReadmeStatusTableIsClassify(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(readme), "## HTTP answers")
	require.True(t, ok, "README has no HTTP answers section")
	table, _, _ = strings.Cut(table, "\n## ")
	rows := map[string]int{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		reason := strings.Trim(strings.TrimSpace(cells[2]), "`")
		code, err := strconv.Atoi(strings.Fields(strings.TrimSpace(cells[1]) + " x")[0])
		if err != nil || reason == "" {
			continue
		}
		rows[reason] = code
	}
	for err, reason := range map[error]string{
		errors.New("x"): receiver.ReasonInternal, verify.ErrSignatureMismatch: receiver.ReasonSignature,
		verify.ErrTimestampOutsideWindow: receiver.ReasonTimestamp, receiver.ErrMalformedEnvelope: receiver.ReasonMalformed,
		receiver.ErrUnreadableBody: receiver.ReasonUnreadable, &http.MaxBytesError{}: receiver.ReasonTooLarge,
		receiver.ErrInvalidPayload: receiver.ReasonInvalid, receiver.ErrQueueFull: receiver.ReasonUnavailable,
		receiver.ErrOverloaded: receiver.ReasonOverloaded, receiver.ErrPending: receiver.ReasonPending,
		receiver.ErrClosed: receiver.ReasonClosed,
	} {
		status, got := receiver.Classify(err)
		require.Equal(t, reason, got, "Classify(%v)", err)
		assert.Equal(t, status, rows[reason], "README row for %q", reason)
	}
	_, method := receiver.Classify(nil)
	assert.Empty(t, method)
	assert.Equal(t, 405, rows[receiver.ReasonMethod], "README row for method")
	assert.Len(t, rows, 12, "README rows with a reason: %v", rows)
}

func TestDeliveryAfterShutdownIsClosed(t *testing.T) {
	obs := &observations{}
	rc, err := receiver.New(newTestProvider(t), newRecorder(nil), receiver.WithObserver(obs))
	require.NoError(t, err)
	require.NoError(t, rc.Shutdown(context.Background()))
	for _, id := range []string{"with-id", ""} {
		w := serve(rc, request(id, "t", []byte("{}")))
		assert.Equal(t, 503, w.Code)
		assert.NotEmpty(t, w.Header().Get("Retry-After"))
		assert.Equal(t, receiver.ReasonClosed, obs.last().Reason, "delivery %q after Shutdown", id)
	}
}

func TestDeadLetterObservationIsTimed(t *testing.T) {
	obs := &observations{}
	rc := newReceiver(t, receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		time.Sleep(5 * time.Millisecond)
		return receiver.Permanent(errors.New("no"))
	}), receiver.WithObserver(obs))
	require.Equal(t, 200, serve(rc, request("e1", "t", []byte("{}"))).Code)
	require.NoError(t, rc.Drain(ctxTimeout(t, 5*time.Second)))
	dl := obs.of(receiver.StageDeadLettered)
	require.Len(t, dl, 1)
	assert.GreaterOrEqual(t, dl[0].Duration, 5*time.Millisecond)
	assert.Positive(t, dl[0].QueueWait)
}

func TestSeveralObserversEachHearEverything(t *testing.T) {
	a, b := &observations{}, &observations{}
	panicky := receiver.ObserverFunc(func(context.Context, receiver.Observation) { panic("observer bug") })
	rc := newReceiver(t, newRecorder(nil), receiver.WithObserver(a), receiver.WithObserver(panicky), receiver.WithObserver(b))
	require.Equal(t, 200, serve(rc, request("e1", "t", []byte("{}"))).Code)
	require.Equal(t, 200, serve(rc, request("p1", "ping", []byte("{}"))).Code, "optional event without a handler")
	require.NoError(t, rc.Drain(ctxTimeout(t, 5*time.Second)))
	for _, o := range []*observations{a, b} {
		assert.Len(t, o.of(receiver.StageEnqueued), 1)
		assert.Len(t, o.of(receiver.StageHandled), 1)
		assert.Len(t, o.of(receiver.StageHandshake), 1, "an unhandled ping is observed as a handshake")
	}
}

// dupQueue is a queue that claims IDs itself and finds every event stored.
type dupQueue struct{ *receiver.MemoryQueue }

func (dupQueue) Enqueue(context.Context, *receiver.Event) error { return driver.ErrDuplicate }

func TestQueueReportedDuplicateIsAcknowledged(t *testing.T) {
	obs := &observations{}
	rec := newRecorder(nil)
	rc := newReceiver(t, rec, receiver.WithObserver(obs), receiver.WithQueue(dupQueue{receiver.NewMemoryQueue(1, 1)}))
	assert.Equal(t, 200, serve(rc, request("e1", "t", []byte("{}"))).Code)
	assert.Len(t, obs.of(receiver.StageDuplicate), 1)
	assert.Empty(t, obs.of(receiver.StageEnqueued))
	assert.Zero(t, rec.calls.Load())
}

// pendingQueue is a queue that claims IDs itself (when it agrees to) and
// finds every event's key admitted by another delivery.
type pendingQueue struct {
	*receiver.MemoryQueue
	agree bool
	asked []time.Duration // the leases ClaimFor was given
}

func (q *pendingQueue) ClaimFor(_ any, admission, lease time.Duration) bool {
	q.asked = append(q.asked, admission, lease)
	return q.agree
}
func (*pendingQueue) Enqueue(context.Context, *receiver.Event) error { return driver.ErrPending }

// claimCounter counts the Claim calls of a dedupe store.
type claimCounter struct {
	dedupe.Store
	mu     sync.Mutex
	claims int
}

func (s *claimCounter) Claim(ctx context.Context, key, token string, lease time.Duration) (dedupe.Outcome, error) {
	s.mu.Lock()
	s.claims++
	s.mu.Unlock()
	return s.Store.Claim(ctx, key, token, lease)
}

// A queue that claims keys itself (driver.ClaimingQueue) is asked once, at
// New, with the admission lease; when it agrees, the request path makes no
// Claim of its own, and the queue's ErrPending is answered 503.
func TestClaimingQueueTakesTheRequestPathsClaim(t *testing.T) {
	for _, agree := range []bool{true, false} {
		t.Run(fmt.Sprintf("agrees=%v", agree), func(t *testing.T) {
			store := &claimCounter{Store: dedupe.NewMemory()}
			q := &pendingQueue{MemoryQueue: receiver.NewMemoryQueue(1, 1), agree: agree}
			rc := newReceiver(t, newRecorder(nil), receiver.WithStore(store), receiver.WithQueue(q),
				receiver.WithAdmissionLease(7*time.Second), receiver.WithLease(time.Minute))
			assert.Equal(t, []time.Duration{7 * time.Second, time.Minute}, q.asked, "asked once, with the admission lease and the lease")
			assert.Equal(t, http.StatusServiceUnavailable, serve(rc, request("e1", "t", []byte("{}"))).Code)
			want := 1
			if agree {
				want = 0
			}
			assert.Equal(t, want, store.claims, "claims made on the request path")
		})
	}
}

// TestEnqueuedObservationDoesNotRaceTheWorker reads the observed event
// while a worker handles it; run with -race.
func TestEnqueuedObservationDoesNotRaceTheWorker(t *testing.T) {
	read := receiver.ObserverFunc(func(_ context.Context, o receiver.Observation) {
		if o.Stage == receiver.StageEnqueued {
			time.Sleep(time.Millisecond) // let the worker start
			_ = len(o.Event.Payload) + o.Event.Attempt
		}
	})
	rc := newReceiver(t, receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		e.Attempt++ // a handler may not, but the worker's own writes look like this
		return nil
	}), receiver.WithObserver(read))
	for i := range 20 {
		require.Equal(t, 200, serve(rc, request(fmt.Sprintf("e%d", i), "t", []byte("{}"))).Code)
	}
	require.NoError(t, rc.Drain(ctxTimeout(t, 5*time.Second)))
}
