package flow_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// redisEnv is one Redis server that replicas of a Stripe receiver share:
// its stream, dedupe keys, ordering lines and dead letters.
type redisEnv struct{ addr string }

func newRedisEnv(t *testing.T) *redisEnv {
	t.Helper()
	return &redisEnv{addr: redistest.Start(t).Addr}
}

// client returns a new client of env, closed when the test ends.
func (env *redisEnv) client(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: env.addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(context.Background()).Err())
	return rdb
}

// replica returns one replica named name: a redisq.Queue on the shared
// stream (its consumer name is the replica's); the options of its
// receiver but the queue (WithQueue(q), or a wrapper of q, is the
// caller's): the Redis dedupe store, the redisq dead letters; and its
// ordering store on the shared lines. Each is on a client of its own, as
// separate processes would have them. visibility is the queue's VisibilityTimeout: how soon
// another replica takes over the entries a stopped one left.
func (env *redisEnv) replica(t *testing.T, name string, workers int, visibility time.Duration) (*redisq.Queue, []receiver.Option, receiver.OrderStore) {
	t.Helper()
	q := redisq.New(env.client(t), redisq.Consumer(name), redisq.Workers(workers),
		redisq.PollInterval(10*time.Millisecond), redisq.CallTimeout(2*time.Second),
		redisq.VisibilityTimeout(visibility))
	opts := []receiver.Option{
		receiver.WithDeadLetters(redisq.NewDeadLetters(env.client(t))),
		receiver.WithStore(dedupe.NewRedis(env.client(t), dedupe.WithRedisTimeout(2*time.Second))),
		receiver.StoreTimeout(2 * time.Second),
		// A fan-out copy queued twice (a split run again after a takeover)
		// may find its twin's claim admitted, not yet confirmed: it then
		// waits this long.
		receiver.WithAdmissionLease(2 * time.Second),
	}
	return q, opts, redisq.NewOrderStore(env.client(t), redisq.OrderTimeout(2*time.Second))
}

// realQueue is a queue the ordering and fan-out tests run with.
type realQueue struct {
	name string
	// start returns the options of a receiver on this kind of queue, and
	// the ordering store to give it (nil: its own MemoryOrder).
	start func(t *testing.T, workers int) ([]receiver.Option, receiver.OrderStore)
}

var realQueues = []realQueue{
	{"memory", func(_ *testing.T, workers int) ([]receiver.Option, receiver.OrderStore) {
		return []receiver.Option{receiver.Workers(workers)}, nil
	}},
	{"redis", func(t *testing.T, workers int) ([]receiver.Option, receiver.OrderStore) {
		q, opts, order := newRedisEnv(t).replica(t, "solo", workers, 2*time.Second)
		return append(opts, receiver.WithQueue(q)), order
	}},
}

// stripeKey orders Stripe events by the object they describe.
var stripeKey = flow.FieldKey("data.object.id")

// objectData is the data of a Stripe event about object id.
func objectData(id string) string { return `{"object":{"id":"` + id + `"}}` }

// ledger records the handler runs of ordered events, per line (an ordering
// key, or a target and a key): the order attempts started in, how many ran
// at once, the attempt numbers, the outcomes, and which replica ran them.
type ledger struct {
	mu       sync.Mutex
	order    map[string][]string // line → event IDs, one per attempt started
	running  map[string]int
	most     map[string]int
	attempts map[string][]int // line + " " + ID → attempt numbers started
	planned  map[string]int   // line + " " + ID → the plan's failures made so far
	stuck    map[string]int   // line + " " + ID → failures while stuck
	cuts     []string         // line + " " + ID of each attempt cut short
	ok       map[string]int   // line + " " + ID → successes
	replicas map[string]int   // replica → attempts started
}

func newLedger() *ledger {
	return &ledger{
		order: map[string][]string{}, running: map[string]int{}, most: map[string]int{}, attempts: map[string][]int{},
		planned: map[string]int{}, stuck: map[string]int{}, ok: map[string]int{}, replicas: map[string]int{},
	}
}

func (l *ledger) start(line, id string, attempt int, replica string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.order[line] = append(l.order[line], id)
	l.running[line]++
	l.most[line] = max(l.most[line], l.running[line])
	l.attempts[line+" "+id] = append(l.attempts[line+" "+id], attempt)
	l.replicas[replica]++
}

// Outcomes of an attempt (ledger.end).
const (
	cut     = iota // cut short by a shutdown: its attempt number is not used up
	planned        // a failure the plan asks for
	stuck          // a failure while the target is stuck
	success
)

// end records the end of an attempt. For an attempt that ran to the end, it
// decides whether it is one of the failures the plan asks for (fails of the
// event in all) and returns the outcome.
func (l *ledger) end(line, id string, outcome, fails int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running[line]--
	k := line + " " + id
	if outcome == success && l.planned[k] < fails {
		outcome = planned
	}
	switch outcome {
	case cut:
		l.cuts = append(l.cuts, k)
	case planned:
		l.planned[k]++
	case stuck:
		l.stuck[k]++
	case success:
		l.ok[k]++
	}
	return outcome
}

func (l *ledger) of(line string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.order[line])
}

func (l *ledger) successes(line, id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok[line+" "+id]
}

func (l *ledger) attemptsOf(line, id string) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.attempts[line+" "+id])
}

func (l *ledger) ranOn(replica string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.replicas[replica]
}

// plan is the workload of an ordering test: keys × per events, sent
// round-robin over the keys, each failing a number of times drawn from a
// seeded source before it succeeds.
type plan struct {
	keys, per int
	fails     map[string]int // event ID → failures before it succeeds
}

func newPlan(keys, per int, seed uint64) *plan {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := &plan{keys: keys, per: per, fails: map[string]int{}}
	for i := range per {
		for k := range keys {
			// Two events in three never fail; the others fail once or twice.
			p.fails[p.id(k, i)] = max(r.IntN(6)-3, 0)
		}
	}
	return p
}

func (p *plan) id(k, i int) string  { return fmt.Sprintf("evt_k%d_%02d", k, i) }
func (p *plan) object(k int) string { return fmt.Sprintf("obj_%d", k) }
func (p *plan) total() int          { return p.keys * p.per }

// failing returns how many events the plan fails at least once.
func (p *plan) failing() (n int) {
	for _, f := range p.fails {
		if f > 0 {
			n++
		}
	}
	return n
}

// sends calls send for each event in the order they are sent: round i
// sends event i of every key.
func (p *plan) sends(send func(j, k, i int)) {
	j := 0
	for i := range p.per {
		for k := range p.keys {
			send(j, k, i)
			j++
		}
	}
}

// hooks change what a plan's handler does for some events.
type hooks struct {
	// stuck: the attempt fails (its attempt number used up), whatever the
	// plan says.
	stuck func(e *receiver.Event) bool
	// block: the attempt waits until its context ends (a shutdown), then
	// returns its error.
	block func(e *receiver.Event) bool
}

// handler returns a handler for replica that records its runs in l under
// line(e), pauses a moment (cut short, without success, when its context
// ends: a shutdown), applies hooks, and fails the event as many times as
// the plan says before it succeeds.
func (p *plan) handler(l *ledger, replica string, line func(e *receiver.Event) string, h hooks) receiver.Handler {
	return receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		ln := line(e)
		l.start(ln, e.ID, e.Attempt, replica)
		pause := time.Millisecond
		if h.block != nil && h.block(e) {
			pause = time.Hour
		}
		t := time.NewTimer(pause)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			l.end(ln, e.ID, cut, 0)
			return ctx.Err()
		}
		if h.stuck != nil && h.stuck(e) {
			l.end(ln, e.ID, stuck, 0)
			return errDown
		}
		if l.end(ln, e.ID, success, p.fails[e.ID]) != success {
			return errDown
		}
		return nil
	})
}

// collapse drops consecutive repeats: the attempts of one event, in a line
// where it is the only one running, become one entry.
func collapse(ids []string) []string { return slices.Compact(slices.Clone(ids)) }

// checkLine asserts the runs of line, that of key k: attempts started in
// the order sent (each event's attempts one after the other), never two at
// once, each event failed as planned and succeeded once, its first attempt
// numbered 1 (waiting for its turn used none) and its success numbered
// after its failures. exact also asserts every attempt number, 1, 2, …
// (false when a shutdown may cut an attempt short: the number is used
// again).
func (p *plan) checkLine(t *testing.T, l *ledger, line string, k int, exact bool) {
	t.Helper()
	want := make([]string, 0, p.per)
	for i := range p.per {
		want = append(want, p.id(k, i))
	}
	got := l.of(line)
	assert.Equal(t, want, collapse(got), "%s: events in the order sent, each event's attempts together", line)
	l.mu.Lock()
	most := l.most[line]
	l.mu.Unlock()
	assert.Equal(t, 1, most, "%s: attempts running at once", line)
	for _, id := range want {
		assert.Equal(t, 1, l.successes(line, id), "%s %s: successes", line, id)
		l.mu.Lock()
		fails, stuckFails := l.planned[line+" "+id], l.stuck[line+" "+id]
		l.mu.Unlock()
		assert.Equal(t, p.fails[id], fails, "%s %s: failures made", line, id)
		used := fails + stuckFails + 1
		at := l.attemptsOf(line, id)
		if assert.NotEmpty(t, at, "%s %s: attempts", line, id) {
			assert.Equal(t, 1, at[0], "%s %s: attempt number of its first run (waiting uses none)", line, id)
			assert.Equal(t, used, at[len(at)-1], "%s %s: attempt number of its success", line, id)
		}
		if exact {
			wantAt := make([]int, 0, used)
			for n := range used {
				wantAt = append(wantAt, n+1)
			}
			assert.Equal(t, wantAt, at, "%s %s: attempt numbers", line, id)
		}
	}
}

// trace records what observers see, copying the fields it needs at once
// (the in-memory queue's workers change an event after it is observed).
type trace struct {
	mu  sync.Mutex
	obs []seenStage
}

type seenStage struct {
	stage           receiver.Stage
	reason, id, tgt string
	attempt         int
}

func (tr *trace) Observe(_ context.Context, o receiver.Observation) {
	s := seenStage{stage: o.Stage, reason: o.Reason}
	if o.Event != nil {
		s.id, s.tgt, s.attempt = o.Event.ID, o.Event.Target, o.Event.Attempt
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.obs = append(tr.obs, s)
}

func (tr *trace) of(stage receiver.Stage) []seenStage {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []seenStage
	for _, s := range tr.obs {
		if s.stage == stage {
			out = append(out, s)
		}
	}
	return out
}

func (tr *trace) count(stage receiver.Stage) int { return len(tr.of(stage)) }

// checkWaits asserts that every wait for a turn was reported as such, with
// no attempt used up.
func checkWaits(t *testing.T, tr *trace) {
	t.Helper()
	waits := tr.of(receiver.StageDeferred)
	assert.NotEmpty(t, waits, "later events waited for their turn")
	for _, s := range waits {
		assert.Equal(t, receiver.ReasonOrdered, s.reason, "%s: deferral reason", s.id)
		assert.Equal(t, 1, s.attempt, "%s: attempt number while waiting for its turn", s.id)
	}
}

// ordering is the ordering configuration of the tests: Stripe events by
// object, on store (nil: the receiver's own), polled often.
func ordering(store receiver.OrderStore) receiver.Option {
	return receiver.WithOrdering(receiver.Ordering{Key: stripeKey, Store: store, Hold: 10 * time.Second, Poll: receiver.MinDeferral})
}
