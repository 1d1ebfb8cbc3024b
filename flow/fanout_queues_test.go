package flow_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestFanoutWithRealQueues splits events into three copies with each real
// queue: billing fails twice then succeeds, audit rejects every event
// (permanent failure) and crm succeeds. Each copy keeps its own attempts;
// audit's copies land in that queue's dead-letter store under
// "~audit~ID"; replaying them runs audit alone; a redelivery of an event
// already split runs nothing.
func TestFanoutWithRealQueues(t *testing.T) {
	const billingFails = 2
	ids := []string{"evt_f1", "evt_f2", "evt_f3"}
	for _, kind := range realQueues {
		t.Run(kind.name, func(t *testing.T) {
			c := newSeen()
			var auditUp atomic.Bool
			mux := receiver.NewMux()
			mux.Fanout("invoice.*", map[string]receiver.Handler{
				"billing": receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
					if c.add(e) <= billingFails {
						return errDown
					}
					return nil
				}),
				"audit": receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
					c.add(e)
					if !auditUp.Load() {
						return receiver.Permanent(errors.New("audit rejects the event"))
					}
					return nil
				}),
				"crm": receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { c.add(e); return nil }),
			})
			opts, _ := kind.start(t, 4)
			tr := &trace{}
			rc, _ := newReceiver(t, mux, append(opts, receiver.WithObserver(tr), receiver.MaxAttempts(5),
				receiver.Backoff(time.Millisecond, 5*time.Millisecond))...)
			for _, id := range ids {
				require.Equal(t, 200, deliver(rc, id, "invoice.paid").Code, id)
			}
			drain(t, rc)

			for _, id := range ids {
				assert.Equal(t, []int{1, 2, 3}, c.of("billing", id), "%s: billing's attempts, its own", id)
				assert.Equal(t, []int{1}, c.of("crm", id), "%s: crm ran once, whatever billing did", id)
				assert.Equal(t, []int{1}, c.of("audit", id), "%s: audit's permanent failure, not retried", id)
				assert.Empty(t, c.of("", id), "%s: the event itself reaches no handler", id)
			}
			assert.Equal(t, len(ids), tr.count(receiver.StageSplit))
			assert.Equal(t, 2*len(ids), tr.count(receiver.StageHandled), "billing's and crm's copies")
			assert.Equal(t, billingFails*len(ids), tr.count(receiver.StageRetried), "billing's failures only")
			assert.Equal(t, len(ids), tr.count(receiver.StageDeadLettered), "audit's copies")

			ctx := ctxFor(t, 10*time.Second)
			if kind.name == "redis" {
				assert.IsType(t, &redisq.DeadLetters{}, rc.DeadLetters())
			} else {
				assert.IsType(t, &receiver.MemoryDeadLetters{}, rc.DeadLetters())
			}
			dls, err := rc.DeadLetters().List(ctx, 0)
			require.NoError(t, err)
			require.Len(t, dls, len(ids), "audit's copies, dead-lettered")
			var keys []string
			for _, d := range dls {
				keys = append(keys, d.Key())
				assert.Equal(t, "audit", d.Event.Target)
				assert.Equal(t, 1, d.Event.Attempt)
				assert.Equal(t, "stripe", d.Event.Provider)
				assert.Contains(t, d.Reason, "audit rejects the event")
			}
			assert.ElementsMatch(t, []string{"~audit~evt_f1", "~audit~evt_f2", "~audit~evt_f3"}, keys)

			// Replaying audit's dead letters runs audit alone.
			auditUp.Store(true)
			for _, d := range dls {
				require.NoError(t, rc.Replay(ctx, d))
			}
			drain(t, rc)
			for _, id := range ids {
				assert.Equal(t, []int{1, 1}, c.of("audit", id), "%s: audit ran again on replay, from attempt 1", id)
				assert.Equal(t, []int{1, 2, 3}, c.of("billing", id), "%s: billing not run again", id)
				assert.Equal(t, []int{1}, c.of("crm", id), "%s: crm not run again", id)
			}
			left, err := rc.DeadLetters().List(ctx, 0)
			require.NoError(t, err)
			assert.Empty(t, left, "replayed dead letters are removed")

			// A redelivery of an event already split is a duplicate: no
			// handler runs, no copy is queued.
			runs, dups := c.total(), tr.count(receiver.StageDuplicate)
			for _, id := range ids {
				require.Equal(t, 200, deliver(rc, id, "invoice.paid").Code, id)
			}
			drain(t, rc)
			assert.Equal(t, runs, c.total(), "handler runs after redeliveries")
			assert.Equal(t, dups+len(ids), tr.count(receiver.StageDuplicate))
			assert.Equal(t, len(ids), tr.count(receiver.StageSplit), "no split again")
		})
	}
}

// gateQueue holds the first Enqueue of a copy for target until release is
// closed, telling hit; it keeps a copy of that event.
type gateQueue struct {
	driver.Queue
	target  string
	once    sync.Once
	hit     chan struct{}
	release chan struct{}
	held    receiver.Event
}

func (g *gateQueue) Enqueue(ctx context.Context, e *receiver.Event) error {
	if e.Target == g.target {
		first := false
		g.once.Do(func() { first = true })
		if first {
			g.held = *e
			close(g.hit)
			<-g.release
		}
	}
	return g.Queue.Enqueue(ctx, e)
}

func (g *gateQueue) Stats(ctx context.Context) (driver.Stats, error) {
	return g.Queue.(driver.StatsReader).Stats(ctx)
}

// TestFanoutReplicaStoppedMidSplit stops a replica in the middle of a
// split, billing's copy queued and crm's not: the event stays pending on
// the stopped replica's consumer, the other replica takes it over and
// splits it again, queueing billing's copy a second time, and the copies'
// dedupe keys keep every target to one run. Then the event is queued again
// with a fresh claim token (what a takeover that lost the token would do):
// it is a duplicate, and nothing runs.
func TestFanoutReplicaStoppedMidSplit(t *testing.T) {
	env := newRedisEnv(t)
	c := newSeen()
	mux := func() *receiver.Mux {
		h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { c.add(e); return nil })
		m := receiver.NewMux()
		m.Fanout("invoice.*", map[string]receiver.Handler{"billing": h, "crm": h, "ledger": h})
		return m
	}
	tr := &trace{}
	const visibility = time.Second
	qa, optsA, _ := env.replica(t, "replica-a", 2, visibility)
	gate := &gateQueue{Queue: qa, target: "crm", hit: make(chan struct{}), release: make(chan struct{})}
	rcA, _ := newReceiver(t, mux(), append(optsA, receiver.WithQueue(gate), receiver.WithObserver(tr))...)
	require.Equal(t, 200, deliver(rcA, "evt_split", "invoice.paid").Code)
	select {
	case <-gate.hit:
	case <-time.After(10 * time.Second):
		t.Fatal("replica A never split the event")
	}

	// Replica A stops while its split is under way: Shutdown's deadline
	// passes, and the copy it was queueing finds the queue closed.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := rcA.Shutdown(ctx)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "the split was in flight")
	close(gate.release)
	waitUntil(t, "replica A defers its split", func() bool {
		for _, s := range tr.of(receiver.StageDeferred) {
			if s.reason == receiver.ReasonSplit {
				return true
			}
		}
		return false
	})
	assert.Zero(t, tr.count(receiver.StageSplit), "no split finished on replica A")

	// Replica B takes the event over once its visibility timeout passed.
	qb, optsB, _ := env.replica(t, "replica-b", 2, visibility)
	rcB, _ := newReceiver(t, mux(), append(optsB, receiver.WithQueue(qb), receiver.WithObserver(tr))...)
	drain(t, rcB)
	for _, target := range []string{"billing", "crm", "ledger"} {
		assert.Equal(t, []int{1}, c.of(target, "evt_split"), "%s: runs", target)
	}
	assert.Equal(t, 3, c.total(), "handler runs in all")
	assert.Equal(t, 1, tr.count(receiver.StageSplit), "the split replica B finished")
	var dupCopies []string
	for _, s := range tr.of(receiver.StageDuplicate) {
		dupCopies = append(dupCopies, s.tgt)
	}
	assert.Equal(t, []string{"billing"}, dupCopies, "billing's copy, queued by both splits, ran once")

	// The event queued again under a fresh claim token is a duplicate.
	again := gate.held
	again.Target, again.Attempt, again.ClaimToken, again.Payload = "", 1, dedupe.NewToken(), nil
	require.NoError(t, qb.Enqueue(ctxFor(t, 5*time.Second), &again))
	drain(t, rcB)
	assert.Equal(t, 3, c.total(), "handler runs after the event was queued again")
	assert.Equal(t, 1, tr.count(receiver.StageSplit), "not split again")
	assert.Len(t, tr.of(receiver.StageDuplicate), 2, "the event itself, found done")
	dls, err := rcB.DeadLetters().List(ctxFor(t, 5*time.Second), 0)
	require.NoError(t, err)
	assert.Empty(t, dls)
}

// failOnce fails the first Enqueue of a copy for target.
type failOnce struct {
	driver.Queue
	target string
	once   sync.Once
}

func (f *failOnce) Enqueue(ctx context.Context, e *receiver.Event) error {
	if e.Target == f.target {
		failed := false
		f.once.Do(func() { failed = true })
		if failed {
			return receiver.ErrQueueFull
		}
	}
	return f.Queue.Enqueue(ctx, e)
}

func (f *failOnce) Stats(ctx context.Context) (driver.Stats, error) {
	return f.Queue.(driver.StatsReader).Stats(ctx)
}

// TestFanoutSplitsOfEventsWithoutClaimToken splits two events queued
// without a claim token (stream entries written before claim tokens, or by
// a tool that sets none) one after the other, the first split failing
// half-way: the second event's copies are all queued, whatever the first's
// split left behind.
func TestFanoutSplitsOfEventsWithoutClaimToken(t *testing.T) {
	env := newRedisEnv(t)
	c := newSeen()
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error { c.add(e); return nil })
	mux := receiver.NewMux()
	mux.Fanout("invoice.*", map[string]receiver.Handler{"billing": h, "crm": h})
	q, opts, _ := env.replica(t, "solo", 1, 2*time.Second)
	ctx := ctxFor(t, 10*time.Second)
	for _, id := range []string{"evt_old1", "evt_old2"} {
		e := &receiver.Event{Provider: "stripe", ID: id, Type: "invoice.paid", Body: []byte(`{"id":"` + id + `","type":"invoice.paid","data":{}}`),
			Attempt: 1, ReceivedAt: time.Now()}
		require.NoError(t, q.Enqueue(ctx, e))
	}
	tr := &trace{}
	rc, _ := newReceiver(t, mux, append(opts, receiver.WithQueue(&failOnce{Queue: q, target: "crm"}), receiver.WithObserver(tr),
		receiver.Backoff(300*time.Millisecond, time.Second))...)
	drain(t, rc)
	for _, id := range []string{"evt_old1", "evt_old2"} {
		for _, target := range []string{"billing", "crm"} {
			assert.Equal(t, []int{1}, c.of(target, id), "%s %s: runs", target, id)
		}
	}
	assert.Equal(t, 2, tr.count(receiver.StageSplit))
	var dups []string
	for _, s := range tr.of(receiver.StageDuplicate) {
		dups = append(dups, s.tgt+" "+s.id)
	}
	assert.Equal(t, []string{"billing evt_old1"}, dups, "the first event's billing copy, queued by both its splits, ran once")
}
