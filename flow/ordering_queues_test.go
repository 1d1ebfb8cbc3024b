package flow_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// orderOpts are the retry settings of the ordering tests: quick retries,
// enough attempts for the plan's failures.
func orderOpts(store receiver.OrderStore, tr *trace) []receiver.Option {
	return []receiver.Option{ordering(store), receiver.WithObserver(tr), receiver.MaxAttempts(5),
		receiver.Backoff(time.Millisecond, 10*time.Millisecond)}
}

// TestOrderingWithRealQueues runs per-key ordering with each real queue
// (the Redis one with its ordering lines in Redis): 4 keys × 15 events,
// some failing once or twice (seeded). Per key, attempts start in the
// order sent, one at a time; every event succeeds once, and waiting for a
// turn uses no attempt.
func TestOrderingWithRealQueues(t *testing.T) {
	for _, kind := range realQueues {
		t.Run(kind.name, func(t *testing.T) {
			p := newPlan(4, 15, 13)
			l, tr := newLedger(), &trace{}
			opts, store := kind.start(t, 8)
			rc, _ := newReceiver(t, p.handler(l, "solo", stripeKey, hooks{}), append(opts, orderOpts(store, tr)...)...)
			p.sends(func(_, k, i int) {
				require.Equal(t, 200, deliverWith(rc, secret, p.id(k, i), "invoice.paid", objectData(p.object(k))).Code)
			})
			drain(t, rc)
			for k := range p.keys {
				p.checkLine(t, l, p.object(k), k, true)
			}
			assert.Equal(t, p.total(), tr.count(receiver.StageHandled))
			assert.Zero(t, tr.count(receiver.StageDeadLettered))
			checkWaits(t, tr)
			t.Logf("%d events, %d failing; %d retries, %d waits for a turn", p.total(), p.failing(),
				tr.count(receiver.StageRetried), tr.count(receiver.StageDeferred))
		})
	}
}

// tally counts the fate of a test's events.
type tally struct {
	sent, deliveries, acked, refused, handled, twice, lost int
}

// settle counts, once every event was sent, how many were handled (their
// one line, line(k)), handled twice, and lost (acknowledged, never
// handled).
func (c *tally) settle(p *plan, l *ledger, line func(k int) string) {
	for k := range p.keys {
		for i := range p.per {
			switch n := l.successes(line(k), p.id(k, i)); {
			case n == 0:
				c.lost++
			case n > 1:
				c.twice++
				c.handled++
			default:
				c.handled++
			}
		}
	}
}

func (c *tally) check(t *testing.T, p *plan) {
	t.Helper()
	t.Logf("sent %d (deliveries %d, refused %d), acknowledged %d, handled %d, handled twice %d, lost %d",
		c.sent, c.deliveries, c.refused, c.acked, c.handled, c.twice, c.lost)
	assert.Equal(t, p.total(), c.sent)
	assert.Equal(t, c.sent, c.acked, "every event acknowledged (refused deliveries sent again)")
	assert.Equal(t, c.acked, c.handled, "every acknowledged event handled")
	assert.Zero(t, c.twice, "events handled twice")
	assert.Zero(t, c.lost, "events lost")
}

// TestOrderingTwoReplicasRedis runs two replicas on one Redis (one stream,
// two consumers; shared dedupe keys, ordering lines and dead letters), the
// deliveries of each key alternating between them. Per key, attempts start
// in the order sent and never overlap, across replicas. Then the same with
// one replica shut down mid-run, an attempt in flight and events waiting:
// the other takes its entries over, order still holds, nothing is lost or
// handled twice.
func TestOrderingTwoReplicasRedis(t *testing.T) {
	names := []string{"replica-a", "replica-b"}
	t.Run("both running", func(t *testing.T) {
		env := newRedisEnv(t)
		p := newPlan(4, 15, 21)
		l, tr := newLedger(), &trace{}
		rcs := make([]*receiver.Receiver, len(names))
		for r, name := range names {
			q, opts, store := env.replica(t, name, 4, 2*time.Second)
			rcs[r], _ = newReceiver(t, p.handler(l, name, stripeKey, hooks{}),
				append(append(opts, receiver.WithQueue(q)), orderOpts(store, tr)...)...)
		}
		var c tally
		p.sends(func(_, k, i int) {
			c.sent++
			c.deliveries++
			w := deliverWith(rcs[(k+i)%2], secret, p.id(k, i), "invoice.paid", objectData(p.object(k)))
			if assert.Equal(t, 200, w.Code, "%s", p.id(k, i)) {
				c.acked++
			}
		})
		drain(t, rcs[0])
		for k := range p.keys {
			p.checkLine(t, l, p.object(k), k, true)
		}
		c.settle(p, l, p.object)
		c.check(t, p)
		checkWaits(t, tr)
		for _, name := range names {
			assert.Positive(t, l.ranOn(name), "attempts run by %s", name)
		}
		t.Logf("attempts: %s %d, %s %d; retries %d, waits for a turn %d", names[0], l.ranOn(names[0]), names[1],
			l.ranOn(names[1]), tr.count(receiver.StageRetried), tr.count(receiver.StageDeferred))
	})

	t.Run("one shut down mid-run", func(t *testing.T) {
		env := newRedisEnv(t)
		p := newPlan(4, 15, 34)
		l, tr := newLedger(), &trace{}
		// Once armed, replica A's next attempt waits for A's shutdown:
		// an attempt in flight when A stops, its key's later events
		// waiting behind it.
		var armed atomic.Bool
		blocked := make(chan string, 1)
		block := func(e *receiver.Event) bool {
			if armed.CompareAndSwap(true, false) {
				blocked <- e.ID
				return true
			}
			return false
		}
		rcs := make([]*receiver.Receiver, len(names))
		for r, name := range names {
			h := hooks{}
			if r == 0 {
				h.block = block
			}
			// A short visibility timeout: B takes A's entries over 1 s
			// after A's last heartbeat (the ordering Hold, 10 s, exceeds
			// it).
			q, opts, store := env.replica(t, name, 4, time.Second)
			rcs[r], _ = newReceiver(t, p.handler(l, name, stripeKey, h),
				append(append(opts, receiver.WithQueue(q)), orderOpts(store, tr)...)...)
		}
		var c tally
		var blockedID string
		shut := make(chan error, 1)
		p.sends(func(j, k, i int) {
			switch j {
			case p.total() / 2:
				armed.Store(true)
			case p.total()/2 + 8:
				select {
				case blockedID = <-blocked:
				case <-time.After(10 * time.Second):
					require.FailNow(t, "replica A ran no attempt once armed")
				}
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
					defer cancel()
					shut <- rcs[0].Shutdown(ctx)
				}()
			}
			c.sent++
			c.deliveries++
			w := deliverWith(rcs[(k+i)%2], secret, p.id(k, i), "invoice.paid", objectData(p.object(k)))
			if w.Code != 200 {
				// A closing replica answers 503: the sender retries, and
				// the load balancer sends the retry to the other one.
				require.Equal(t, 503, w.Code, "%s", p.id(k, i))
				require.NotEmpty(t, w.Header().Get("Retry-After"))
				c.refused++
				c.deliveries++
				w = deliverWith(rcs[1], secret, p.id(k, i), "invoice.paid", objectData(p.object(k)))
			}
			if assert.Equal(t, 200, w.Code, "%s", p.id(k, i)) {
				c.acked++
			}
		})
		select {
		case err := <-shut:
			assert.ErrorIs(t, err, context.DeadlineExceeded, "A stopped with an attempt in flight")
		case <-time.After(10 * time.Second):
			require.FailNow(t, "replica A's Shutdown did not return")
		}
		drain(t, rcs[1])

		for k := range p.keys {
			p.checkLine(t, l, p.object(k), k, false)
		}
		c.settle(p, l, p.object)
		c.check(t, p)
		checkWaits(t, tr)
		l.mu.Lock()
		cuts := len(l.cuts)
		l.mu.Unlock()
		assert.Positive(t, cuts, "attempts A's shutdown cut short")
		k, i := 0, 0
		for ; k < p.keys; k++ {
			if i = indexOf(p, k, blockedID); i >= 0 {
				break
			}
		}
		require.Less(t, k, p.keys, "the blocked event %q is one of the plan's", blockedID)
		assert.Equal(t, 1, l.successes(p.object(k), blockedID), "the event cut short on A, taken over by B")
		at := l.attemptsOf(p.object(k), blockedID)
		require.GreaterOrEqual(t, len(at), 2)
		t.Logf("blocked %s: attempts %v; cut short %d; attempts: %s %d, %s %d; refused deliveries %d", blockedID, at, cuts,
			names[0], l.ranOn(names[0]), names[1], l.ranOn(names[1]), c.refused)
	})
}

// indexOf returns the index of id among key k's events, or -1.
func indexOf(p *plan, k int, id string) int {
	for i := range p.per {
		if p.id(k, i) == id {
			return i
		}
	}
	return -1
}

// TestFanoutOrderingTwoReplicasRedis fans events out to three targets on
// two replicas sharing Redis, with per-key ordering: per target and key,
// copies start in the order sent and never overlap. Billing is stuck on
// key 0's first event for a while: its later copies of key 0 wait, while
// crm and ledger finish key 0, and billing finishes the other keys.
func TestFanoutOrderingTwoReplicasRedis(t *testing.T) {
	env := newRedisEnv(t)
	p := newPlan(3, 10, 55)
	l, tr := newLedger(), &trace{}
	targets := []string{"billing", "crm", "ledger"}
	line := func(e *receiver.Event) string { return e.Target + "/" + stripeKey(e) }
	var billingStuck atomic.Bool
	billingStuck.Store(true)
	stuckID := p.id(0, 0)
	names := []string{"replica-a", "replica-b"}
	rcs := make([]*receiver.Receiver, len(names))
	for r, name := range names {
		hs := map[string]receiver.Handler{}
		for _, target := range targets {
			h := hooks{}
			if target == "billing" {
				h.stuck = func(e *receiver.Event) bool { return e.ID == stuckID && billingStuck.Load() }
			}
			hs[target] = p.handler(l, name, line, h)
		}
		mux := receiver.NewMux()
		mux.Fanout("invoice.*", hs)
		q, opts, store := env.replica(t, name, 6, 2*time.Second)
		rcs[r], _ = newReceiver(t, mux, append(opts, receiver.WithQueue(q), ordering(store), receiver.WithObserver(tr),
			receiver.MaxAttempts(1000), receiver.Backoff(5*time.Millisecond, 40*time.Millisecond))...)
	}
	var c tally
	p.sends(func(_, k, i int) {
		c.sent++
		c.deliveries++
		if assert.Equal(t, 200, deliverWith(rcs[(k+i)%2], secret, p.id(k, i), "invoice.paid", objectData(p.object(k))).Code) {
			c.acked++
		}
	})
	done := func(target string, k int) bool {
		for i := range p.per {
			if l.successes(target+"/"+p.object(k), p.id(k, i)) != 1 {
				return false
			}
		}
		return true
	}
	waitUntil(t, "crm and ledger finish every key, billing every key but key 0, while billing is stuck on key 0", func() bool {
		for k := range p.keys {
			for _, target := range targets {
				if !(target == "billing" && k == 0) && !done(target, k) {
					return false
				}
			}
		}
		return true
	})
	assert.Equal(t, []string{stuckID}, collapse(l.of("billing/"+p.object(0))), "billing's later copies of key 0 wait behind its stuck one")
	billingStuck.Store(false)
	drain(t, rcs[0])

	for _, target := range targets {
		for k := range p.keys {
			p.checkLine(t, l, target+"/"+p.object(k), k, true)
		}
	}
	l.mu.Lock()
	stuckFails := l.stuck["billing/"+p.object(0)+" "+stuckID]
	l.mu.Unlock()
	assert.Positive(t, stuckFails, "billing failed while stuck")
	assert.Equal(t, p.total(), tr.count(receiver.StageSplit), "events split")
	assert.Equal(t, len(targets)*p.total(), tr.count(receiver.StageHandled), "copies handled")
	assert.Zero(t, tr.count(receiver.StageDeadLettered))
	checkWaits(t, tr)
	for _, target := range targets {
		var tc tally
		tc.sent, tc.deliveries, tc.acked = c.sent, c.deliveries, c.acked
		tc.settle(p, l, func(k int) string { return target + "/" + p.object(k) })
		t.Logf("%s:", target)
		tc.check(t, p)
	}
	for _, name := range names {
		assert.Positive(t, l.ranOn(name), "attempts run by %s", name)
	}
	t.Logf("billing stuck %d attempts; retries %d, waits for a turn %d", stuckFails,
		tr.count(receiver.StageRetried), tr.count(receiver.StageDeferred))
}
