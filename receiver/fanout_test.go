package receiver_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// calls counts handler calls by target and event ID.
type calls struct {
	mu sync.Mutex
	n  map[string]int // target + " " + ID
	at map[string][]int
}

func (c *calls) add(e *receiver.Event) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n, c.at = map[string]int{}, map[string][]int{}
	}
	k := e.Target + " " + e.ID
	c.n[k]++
	c.at[k] = append(c.at[k], e.Attempt)
	return c.n[k]
}

func (c *calls) get(target, id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[target+" "+id]
}

func (c *calls) attempts(target, id string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.at[target+" "+id]...)
}

// stages counts observations by stage.
type stages struct {
	mu sync.Mutex
	n  map[receiver.Stage]int
	by map[receiver.Stage][]receiver.Observation
}

func (s *stages) Observe(_ context.Context, o receiver.Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n, s.by = map[receiver.Stage]int{}, map[receiver.Stage][]receiver.Observation{}
	}
	s.n[o.Stage]++
	s.by[o.Stage] = append(s.by[o.Stage], o)
}

func (s *stages) count(st receiver.Stage) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[st]
}

func drain(t *testing.T, rc *receiver.Receiver) {
	t.Helper()
	require.NoError(t, rc.Drain(ctxTimeout(t, 10*time.Second)))
}

func TestFanoutEachHandlerOnItsOwn(t *testing.T) {
	// billing fails twice, then succeeds; crm succeeds at once and is not
	// run again by billing's retries.
	var c calls
	billing := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		if c.add(e) < 3 {
			return errors.New("billing api down")
		}
		return nil
	})
	crm := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { c.add(e); return nil })
	other := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { c.add(e); return nil })
	mux := receiver.NewMux()
	mux.Fanout("invoice.paid", map[string]receiver.Handler{"billing": billing, "crm": crm})
	mux.Handle("invoice.*", other)
	var obs stages
	rc := newReceiver(t, mux, receiver.Backoff(time.Millisecond, 5*time.Millisecond), receiver.WithObserver(&obs))

	assert.Equal(t, http.StatusOK, serve(rc, request("evt_1", "invoice.paid", []byte(`{"n":1}`))).Code)
	assert.Equal(t, http.StatusOK, serve(rc, request("evt_2", "invoice.created", []byte(`{"n":2}`))).Code)
	drain(t, rc)
	assert.Equal(t, 3, c.get("billing", "evt_1"), "billing: two failures, one success")
	assert.Equal(t, []int{1, 2, 3}, c.attempts("billing", "evt_1"), "billing's attempts are its own")
	assert.Equal(t, 1, c.get("crm", "evt_1"), "crm ran once, whatever billing did")
	assert.Equal(t, 0, c.get("", "evt_1"), "the event itself reaches no handler: its copies do")
	assert.Equal(t, 1, c.get("", "evt_2"), "a route without fan-out is unchanged")
	assert.Equal(t, 1, obs.count(receiver.StageSplit), "one split")
	assert.Equal(t, 3, obs.count(receiver.StageHandled), "two copies and one plain event handled")
	assert.Equal(t, 2, obs.count(receiver.StageRetried), "billing's two failures")

	// A redelivery of the split event is a duplicate: nothing runs again.
	assert.Equal(t, http.StatusOK, serve(rc, request("evt_1", "invoice.paid", []byte(`{"n":1}`))).Code)
	drain(t, rc)
	assert.Equal(t, 3, c.get("billing", "evt_1"))
	assert.Equal(t, 1, c.get("crm", "evt_1"))
}

func TestFanoutDeadLetterAndReplayOneHandler(t *testing.T) {
	var c calls
	var healthy atomic.Bool
	billing := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		c.add(e)
		if !healthy.Load() {
			return receiver.Permanent(errors.New("rejected by billing"))
		}
		return nil
	})
	crm := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { c.add(e); return nil })
	mux := receiver.NewMux()
	mux.Fanout("invoice.*", map[string]receiver.Handler{"billing": billing, "crm": crm})
	rc := newReceiver(t, mux)

	require.Equal(t, http.StatusOK, serve(rc, request("evt_9", "invoice.paid", []byte(`{}`))).Code)
	require.Equal(t, http.StatusOK, serve(rc, request("", "invoice.paid", []byte(`{"noid":true}`))).Code)
	drain(t, rc)
	dls, err := rc.DeadLetters().List(ctxTimeout(t, time.Second), 0)
	require.NoError(t, err)
	require.Len(t, dls, 2, "billing's two copies, dead-lettered; crm's handled")
	keys := []string{dls[0].Key(), dls[1].Key()}
	assert.Contains(t, keys, "~billing~evt_9")
	for _, d := range dls {
		assert.Equal(t, "billing", d.Event.Target)
	}
	assert.Equal(t, 1, c.get("crm", "evt_9"))

	// Replaying billing's dead letters runs billing alone.
	healthy.Store(true)
	for _, d := range dls {
		require.NoError(t, rc.Replay(ctxTimeout(t, time.Second), d))
	}
	drain(t, rc)
	assert.Equal(t, 2, c.get("billing", "evt_9"), "billing ran again on replay")
	assert.Equal(t, 2, c.get("billing", ""), "billing's copy of the event without an ID, too")
	assert.Equal(t, 1, c.get("crm", "evt_9"), "crm not run again by billing's replay")
	assert.Equal(t, 1, c.get("crm", ""))
	left, err := rc.DeadLetters().List(ctxTimeout(t, time.Second), 0)
	require.NoError(t, err)
	assert.Empty(t, left)
}

// flakyQueue fails the Enqueue calls its fail function picks.
type flakyQueue struct {
	receiver.Queue
	fail func(e *receiver.Event) bool
}

func (q *flakyQueue) Stats(ctx context.Context) (driver.Stats, error) {
	return q.Queue.(driver.StatsReader).Stats(ctx)
}

func (q *flakyQueue) Enqueue(ctx context.Context, e *receiver.Event) error {
	if q.fail(e) {
		return receiver.ErrQueueFull
	}
	return q.Queue.Enqueue(ctx, e)
}

func TestFanoutCopyNotQueuedIsRetriedAlone(t *testing.T) {
	// The second copy cannot be queued twice: the event is deferred and
	// split again, and the first copy is not queued a second time.
	var c calls
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { c.add(e); return nil })
	var crmTries atomic.Int64
	q := &flakyQueue{Queue: receiver.NewMemoryQueue(100, 4), fail: func(e *receiver.Event) bool {
		return e.Target == "crm" && crmTries.Add(1) <= 2
	}}
	mux := receiver.NewMux()
	mux.Fanout("invoice.paid", map[string]receiver.Handler{"billing": h, "crm": h, "analytics": h})
	var obs stages
	rc := newReceiver(t, mux, receiver.WithQueue(q), receiver.Backoff(time.Millisecond, 5*time.Millisecond), receiver.WithObserver(&obs))
	require.Equal(t, http.StatusOK, serve(rc, request("evt_f", "invoice.paid", []byte(`{}`))).Code)
	drain(t, rc)
	for _, target := range []string{"analytics", "billing", "crm"} {
		assert.Equal(t, 1, c.get(target, "evt_f"), target)
	}
	assert.Equal(t, int64(3), crmTries.Load(), "crm's copy queued on the third split")
	assert.Equal(t, 2, obs.count(receiver.StageDeferred), "two deferred splits")
	assert.Equal(t, 1, obs.count(receiver.StageSplit))
}

func TestFanoutTargetGoneIsAcknowledged(t *testing.T) {
	var c calls
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { c.add(e); return nil })
	mux := receiver.NewMux()
	mux.Fanout("invoice.paid", map[string]receiver.Handler{"billing": h})
	err := mux.HandleEvent(context.Background(), &receiver.Event{ID: "x", Type: "invoice.paid", Target: "retired"})
	assert.ErrorIs(t, err, receiver.ErrNoHandler, "a copy for a target no longer registered")
	assert.NotContains(t, err.Error(), "x\"", "no event ID in the error")

	// Without a Receiver, an event without a Target runs every handler, in
	// name order, errors joined.
	var order []string
	boom := errors.New("boom")
	mux2 := receiver.NewMux()
	mux2.Fanout("a.b", map[string]receiver.Handler{
		"zeta":  receiver.HandlerFunc(func(context.Context, *receiver.Event) error { order = append(order, "zeta"); return boom }),
		"alpha": receiver.HandlerFunc(func(context.Context, *receiver.Event) error { order = append(order, "alpha"); return nil }),
	})
	err = mux2.HandleEvent(context.Background(), &receiver.Event{Type: "a.b"})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"alpha", "zeta"}, order)
	assert.Equal(t, []string{"alpha", "zeta"}, mux2.Targets("a.b"))
	assert.Nil(t, mux2.Targets("a.c"))
}

func TestFanoutRegistrationPanics(t *testing.T) {
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil })
	long := make([]byte, receiver.MaxTargetBytes+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, f := range map[string]func(m *receiver.Mux){
		"no targets":     func(m *receiver.Mux) { m.Fanout("a.b", nil) },
		"empty name":     func(m *receiver.Mux) { m.Fanout("a.b", map[string]receiver.Handler{"": h}) },
		"upper case":     func(m *receiver.Mux) { m.Fanout("a.b", map[string]receiver.Handler{"Billing": h}) },
		"space":          func(m *receiver.Mux) { m.Fanout("a.b", map[string]receiver.Handler{"a b": h}) },
		"tilde":          func(m *receiver.Mux) { m.Fanout("a.b", map[string]receiver.Handler{"a~b": h}) },
		"too long":       func(m *receiver.Mux) { m.Fanout("a.b", map[string]receiver.Handler{string(long): h}) },
		"nil handler":    func(m *receiver.Mux) { m.Fanout("a.b", map[string]receiver.Handler{"a": nil}) },
		"overlap":        func(m *receiver.Mux) { m.Handle("a.b", h); m.Fanout("a.b", map[string]receiver.Handler{"a": h}) },
		"bad pattern":    func(m *receiver.Mux) { m.Fanout("a.*.b", map[string]receiver.Handler{"a": h}) },
		"family overlap": func(m *receiver.Mux) { m.Fanout("a", map[string]receiver.Handler{"a": h}); m.Handle("a.*", h) },
	} {
		assert.Panics(t, func() { f(receiver.NewMux()) }, name)
	}
	assert.True(t, receiver.ValidTarget(string(long[:receiver.MaxTargetBytes])), "a name at the bound")
	assert.NotPanics(t, func() {
		receiver.NewMux().Fanout("a.b", map[string]receiver.Handler{"billing-api.v2_x": h, "0": h})
	})
}

func TestDedupeKeyOfACopy(t *testing.T) {
	e := &receiver.Event{Provider: "stripe", ID: "evt_1"}
	assert.Equal(t, dedupe.Key("stripe", "evt_1"), e.DedupeKey(), "an event as delivered: dedupe.Key")
	e.Target = "billing"
	assert.Equal(t, dedupe.Key("stripe", "evt_1")+" billing", e.DedupeKey())
	e.ID = ""
	assert.Empty(t, e.DedupeKey(), "no ID, no key")
}
