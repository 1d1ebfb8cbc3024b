package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// keyed returns a request of an event with ordering key k (header X-Key).
func keyed(id, typ, k string) *http.Request {
	r := request(id, typ, []byte(`{"id":"`+id+`"}`))
	r.Header.Set("X-Key", k)
	return r
}

func headerKey(e *receiver.Event) string { return e.Header.Get("X-Key") }

// lines records, per key, the order events started in and how many ran at
// once.
type lines struct {
	mu      sync.Mutex
	order   map[string][]string
	running map[string]int
	most    map[string]int
	ends    map[string]time.Time
	starts  map[string]time.Time
}

func (l *lines) start(k, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.order == nil {
		l.order, l.running, l.most = map[string][]string{}, map[string]int{}, map[string]int{}
		l.ends, l.starts = map[string]time.Time{}, map[string]time.Time{}
	}
	l.order[k] = append(l.order[k], id)
	l.running[k]++
	l.most[k] = max(l.most[k], l.running[k])
	l.starts[id] = time.Now()
}

func (l *lines) end(k, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running[k]--
	l.ends[id] = time.Now()
}

func (l *lines) of(k string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.order[k]...)
}

func TestOrderingOneAtATimeInOrder(t *testing.T) {
	// Four keys, 15 events each, sent in turn; every fifth event fails
	// twice before it succeeds. Per key, events start one at a time, in the
	// order sent, and each is handled once.
	const keys, per = 4, 15
	var l lines
	var fails sync.Map
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		k := headerKey(e)
		l.start(k, e.ID)
		defer l.end(k, e.ID)
		time.Sleep(time.Millisecond)
		if n, _ := strconv.Atoi(e.ID[len(e.ID)-2:]); n%5 == 2 {
			v, _ := fails.LoadOrStore(e.ID, new(atomic.Int64))
			if v.(*atomic.Int64).Add(1) <= 2 {
				return errors.New("downstream hiccup")
			}
		}
		return nil
	})
	var obs stages
	rc := newReceiver(t, h, receiver.Backoff(time.Millisecond, 5*time.Millisecond), receiver.WithObserver(&obs),
		receiver.WithOrdering(receiver.Ordering{Key: headerKey, Poll: receiver.MinDeferral}))
	for i := range per {
		for k := range keys {
			id := fmt.Sprintf("k%d_%02d", k, i)
			require.Equal(t, http.StatusOK, serve(rc, keyed(id, "t.x", "key"+strconv.Itoa(k))).Code)
		}
	}
	drain(t, rc)
	for k := range keys {
		want := []string{}
		for i := range per {
			id := fmt.Sprintf("k%d_%02d", k, i)
			want = append(want, id)
			if i%5 == 2 {
				want = append(want, id, id) // its two failed attempts, then its success
			}
		}
		key := "key" + strconv.Itoa(k)
		assert.Equal(t, want, l.of(key), "attempts of %s, in order", key)
		assert.Equal(t, 1, l.most[key], "events of %s running at once", key)
	}
	assert.Equal(t, keys*per, obs.count(receiver.StageHandled))
	assert.Positive(t, obs.count(receiver.StageDeferred), "later events waited for their turn")
	obs.mu.Lock()
	for _, o := range obs.by[receiver.StageDeferred] {
		assert.Equal(t, receiver.ReasonOrdered, o.Reason)
		assert.Equal(t, 1, o.Event.Attempt, "waiting uses up no attempt")
	}
	obs.mu.Unlock()
}

func TestOrderingRetryHoldsBackItsKeyOnly(t *testing.T) {
	var l lines
	var healthy atomic.Bool
	var firstFails atomic.Int64
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		k := headerKey(e)
		l.start(k, e.ID)
		defer l.end(k, e.ID)
		if e.ID == "a1" && !healthy.Load() {
			firstFails.Add(1)
			return errors.New("down")
		}
		return nil
	})
	rc := newReceiver(t, h, receiver.Backoff(5*time.Millisecond, 20*time.Millisecond), receiver.MaxAttempts(100),
		receiver.WithOrdering(receiver.Ordering{Key: headerKey, Poll: receiver.MinDeferral}))
	require.Equal(t, http.StatusOK, serve(rc, keyed("a1", "t.x", "A")).Code)
	require.Equal(t, http.StatusOK, serve(rc, keyed("a2", "t.x", "A")).Code)
	require.Equal(t, http.StatusOK, serve(rc, keyed("b1", "t.x", "B")).Code)
	require.Eventually(t, func() bool { return firstFails.Load() >= 4 && len(l.of("B")) == 1 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{"b1"}, l.of("B"), "another key is not held back")
	for _, id := range l.of("A") {
		assert.Equal(t, "a1", id, "a2 must not start while a1 retries")
	}
	healthy.Store(true)
	drain(t, rc)
	got := l.of("A")
	require.NotEmpty(t, got)
	assert.Equal(t, "a2", got[len(got)-1], "a2 runs once a1 succeeded")
	assert.Equal(t, 1, countOf(got, "a2"))
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestOrderingDeadLetterReleasesKey(t *testing.T) {
	var l lines
	var replayed atomic.Bool
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		l.start(headerKey(e), e.ID)
		defer l.end(headerKey(e), e.ID)
		if e.ID == "a1" && !replayed.Load() {
			return receiver.Permanent(errors.New("rejected"))
		}
		return nil
	})
	rc := newReceiver(t, h, receiver.WithOrdering(receiver.Ordering{Key: headerKey, Poll: receiver.MinDeferral}))
	require.Equal(t, http.StatusOK, serve(rc, keyed("a1", "t.x", "A")).Code)
	require.Equal(t, http.StatusOK, serve(rc, keyed("a2", "t.x", "A")).Code)
	drain(t, rc)
	assert.Equal(t, []string{"a1", "a2"}, l.of("A"), "a dead-lettered event lets the next one run")
	dls, err := rc.DeadLetters().List(ctxTimeout(t, time.Second), 0)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	replayed.Store(true)
	require.Equal(t, http.StatusOK, serve(rc, keyed("a3", "t.x", "A")).Code)
	require.NoError(t, rc.Replay(ctxTimeout(t, time.Second), dls[0]))
	drain(t, rc)
	assert.ElementsMatch(t, []string{"a1", "a2", "a3", "a1"}, l.of("A"), "the replay runs, out of the key's order")
}

// lossyOrder is a MemoryOrder whose Leave calls are lost while lose is set.
type lossyOrder struct {
	*receiver.MemoryOrder
	lose      atomic.Bool
	joinErr   atomic.Pointer[error]
	leaveSeen atomic.Int64
}

func (s *lossyOrder) Join(ctx context.Context, key, token string, hold time.Duration) error {
	if err := s.joinErr.Load(); err != nil {
		return *err
	}
	return s.MemoryOrder.Join(ctx, key, token, hold)
}

func (s *lossyOrder) Leave(ctx context.Context, key, token string) error {
	s.leaveSeen.Add(1)
	if s.lose.Load() {
		return errors.New("lost")
	}
	return s.MemoryOrder.Leave(ctx, key, token)
}

func TestOrderingLostLeaveLapsesAfterHold(t *testing.T) {
	// a1's Leave is lost: a2 waits for a1's entry to lapse (Hold), then
	// runs.
	const hold = time.Second
	var l lines
	st := &lossyOrder{MemoryOrder: receiver.NewMemoryOrder(0)}
	st.lose.Store(true)
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		l.start(headerKey(e), e.ID)
		l.end(headerKey(e), e.ID)
		if e.ID == "a1" {
			st.lose.Store(true)
		} else {
			st.lose.Store(false)
		}
		return nil
	})
	rc := newReceiver(t, h, receiver.WithOrdering(receiver.Ordering{Key: headerKey, Store: st, Hold: hold, Poll: receiver.MinDeferral}))
	require.Equal(t, http.StatusOK, serve(rc, keyed("a1", "t.x", "A")).Code)
	require.Eventually(t, func() bool { return st.leaveSeen.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, http.StatusOK, serve(rc, keyed("a2", "t.x", "A")).Code)
	drain(t, rc)
	assert.Equal(t, []string{"a1", "a2"}, l.of("A"))
	l.mu.Lock()
	gap := l.starts["a2"].Sub(l.ends["a1"])
	l.mu.Unlock()
	assert.GreaterOrEqual(t, gap, hold-100*time.Millisecond, "a2 waited for a1's entry to lapse")
	assert.Zero(t, st.Len(), "every line emptied")
}

func TestOrderingStoreRefusalIs503(t *testing.T) {
	st := &lossyOrder{MemoryOrder: receiver.NewMemoryOrder(0)}
	down := errors.New("order store down")
	st.joinErr.Store(&down)
	rec := newRecorder(nil)
	rc := newReceiver(t, rec, receiver.WithOrdering(receiver.Ordering{Key: headerKey, Store: st}))
	w := serve(rc, keyed("a1", "t.x", "A"))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	st.joinErr.Store(nil)
	assert.Equal(t, http.StatusOK, serve(rc, keyed("a1", "t.x", "A")).Code, "the sender's retry is accepted: the claim was released")
	rec.wait(t, 1)
	assert.Equal(t, http.StatusOK, serve(rc, keyed("u1", "t.x", "")).Code, "an event without a key never touches the store")

	full := receiver.NewMemoryOrder(1)
	release := make(chan struct{})
	rc2 := newReceiver(t, newRecorder(func(ctx context.Context, e *receiver.Event) error { <-release; return nil }),
		receiver.WithOrdering(receiver.Ordering{Key: headerKey, Store: full}))
	t.Cleanup(func() { close(release) }) // before rc2's Shutdown
	assert.Equal(t, http.StatusOK, serve(rc2, keyed("f1", "t.x", "A")).Code)
	assert.Equal(t, http.StatusServiceUnavailable, serve(rc2, keyed("f2", "t.x", "B")).Code, "the store at its bound")
}

func TestOrderingWithFanoutPerHandler(t *testing.T) {
	// billing's first event fails a few times: billing's later copies wait,
	// crm's do not.
	var l lines
	var fails atomic.Int64
	mk := func(name string) receiver.Handler {
		return receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
			require.Equal(t, name, e.Target)
			k := name + "/" + headerKey(e)
			l.start(k, e.ID)
			defer l.end(k, e.ID)
			if name == "billing" && e.ID == "e1" && fails.Add(1) <= 3 {
				return errors.New("billing down")
			}
			return nil
		})
	}
	mux := receiver.NewMux()
	mux.Fanout("t.*", map[string]receiver.Handler{"billing": mk("billing"), "crm": mk("crm")})
	rc := newReceiver(t, mux, receiver.Backoff(20*time.Millisecond, 40*time.Millisecond),
		receiver.WithOrdering(receiver.Ordering{Key: headerKey, Poll: receiver.MinDeferral}))
	for i := 1; i <= 5; i++ {
		require.Equal(t, http.StatusOK, serve(rc, keyed("e"+strconv.Itoa(i), "t.x", "A")).Code)
	}
	drain(t, rc)
	assert.Equal(t, []string{"e1", "e2", "e3", "e4", "e5"}, l.of("crm/A"), "crm's copies in order")
	assert.Equal(t, []string{"e1", "e1", "e1", "e1", "e2", "e3", "e4", "e5"}, l.of("billing/A"), "billing's copies in order, held back by its retries")
	l.mu.Lock()
	defer l.mu.Unlock()
	assert.True(t, l.ends["e5"].Before(l.starts["e2"]) || len(l.order["crm/A"]) == 5, "crm finished regardless")
	assert.Equal(t, 1, l.most["billing/A"])
	assert.Equal(t, 1, l.most["crm/A"])
}

func TestOrderingKeyPanicLeavesEventUnordered(t *testing.T) {
	rec := newRecorder(nil)
	rc := newReceiver(t, rec, receiver.WithOrdering(receiver.Ordering{Key: func(e *receiver.Event) string {
		if e.ID == "boom" {
			panic("bad key")
		}
		return "k"
	}}))
	assert.Equal(t, http.StatusOK, serve(rc, keyed("boom", "t.x", "A")).Code)
	assert.Equal(t, http.StatusOK, serve(rc, keyed("fine", "t.x", "A")).Code)
	rec.wait(t, 2)
}

func TestOrderingConfigRefused(t *testing.T) {
	for name, o := range map[string]receiver.Ordering{
		"no key":     {},
		"short hold": {Key: headerKey, Hold: time.Millisecond},
		"short poll": {Key: headerKey, Poll: time.Microsecond},
	} {
		_, err := receiver.New(newTestProvider(t), newRecorder(nil), receiver.WithOrdering(o))
		assert.Error(t, err, name)
	}
}

func TestOrderingAbandonedEventsLeaveTheirLines(t *testing.T) {
	// The in-memory queue shut down with events still waiting their turn:
	// they are dead-lettered, and their lines are emptied.
	st := receiver.NewMemoryOrder(0)
	release := make(chan struct{})
	h := receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	rc, err := receiver.New(newTestProvider(t), h, receiver.WithOrdering(receiver.Ordering{Key: headerKey, Store: st}))
	require.NoError(t, err)
	for i := range 3 {
		require.Equal(t, http.StatusOK, serve(rc, keyed("a"+strconv.Itoa(i), "t.x", "A")).Code)
	}
	require.Equal(t, 3, st.Len())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.Error(t, rc.Shutdown(ctx), "events left at the deadline")
	close(release)
	require.Eventually(t, func() bool { return st.Len() == 0 }, 5*time.Second, 5*time.Millisecond, "lines emptied")
	dls, err := rc.DeadLetters().List(context.Background(), 0)
	require.NoError(t, err)
	assert.Len(t, dls, 3)
}

// lineLog is an order store that records the tokens each line holds.
type lineLog struct {
	*receiver.MemoryOrder
	mu   sync.Mutex
	held map[string]map[string]bool // line → tokens joined and not left
}

func (s *lineLog) Join(ctx context.Context, key, token string, hold time.Duration) error {
	s.mu.Lock()
	if s.held == nil {
		s.held = map[string]map[string]bool{}
	}
	if s.held[key] == nil {
		s.held[key] = map[string]bool{}
	}
	s.held[key][token] = true
	s.mu.Unlock()
	return s.MemoryOrder.Join(ctx, key, token, hold)
}

func (s *lineLog) Leave(ctx context.Context, key, token string) error {
	s.mu.Lock()
	delete(s.held[key], token)
	s.mu.Unlock()
	return s.MemoryOrder.Leave(ctx, key, token)
}

func (s *lineLog) left() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, tokens := range s.held {
		n += len(tokens)
	}
	return n
}

// copyDupQueue finds every fan-out copy stored already (queued by an
// earlier split, as after a crash mid-split), and queues events as
// delivered.
type copyDupQueue struct{ *receiver.MemoryQueue }

func (q copyDupQueue) Enqueue(ctx context.Context, e *receiver.Event) error {
	if e.Target != "" {
		return driver.ErrDuplicate
	}
	return q.MemoryQueue.Enqueue(ctx, e)
}

// A fan-out copy the queue finds stored already leaves the line it joined
// under its new token: nothing is left in any line to hold back the key's
// later copies until the hold lapses.
func TestOrderingSplitDuplicateLeavesItsLine(t *testing.T) {
	store := &lineLog{MemoryOrder: receiver.NewMemoryOrder(0)}
	mux := receiver.NewMux()
	noop := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil })
	mux.Fanout("t.*", map[string]receiver.Handler{"billing": noop, "crm": noop})
	rc := newReceiver(t, mux, receiver.WithQueue(copyDupQueue{receiver.NewMemoryQueue(4, 16)}),
		receiver.WithOrdering(receiver.Ordering{Key: headerKey, Store: store, Hold: time.Hour, Poll: receiver.MinDeferral}))
	for i := 1; i <= 3; i++ {
		require.Equal(t, http.StatusOK, serve(rc, keyed("e"+strconv.Itoa(i), "t.x", "A")).Code)
	}
	drain(t, rc)
	store.mu.Lock()
	lines := len(store.held)
	store.mu.Unlock()
	assert.Equal(t, 3, lines, "the line of the events as delivered, and one per target")
	assert.Zero(t, store.left(), "tokens left in a line")
}
