package redisq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/internal/faulttest"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
)

// fanoutChildEnv, set, makes the test binary a receiver process
// (fanoutOrderChild) instead of running tests: the kill -9 test starts and
// kills such processes. Its value is the process's consumer name;
// fanoutRedisEnv is the Redis address.
const (
	fanoutChildEnv = "HOOKWISE_REDISQ_FANOUT_CHILD"
	fanoutRedisEnv = "HOOKWISE_REDISQ_FANOUT_REDIS"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(fanoutChildEnv); name != "" {
		os.Exit(fanoutOrderChild(name))
	}
	os.Exit(m.Run())
}

// The fan-out targets of the child, and the type of its events.
var fanoutTargets = []string{"a", "b"}

const fanoutType = "order.changed"

// fanoutHold is the child's Ordering.Hold: longer than the gap between two
// attempts of one event across the kill (the second child's start, plus
// the 1 s visibility timeout and the claim interval before it reclaims the
// entries the first held), short enough that a line entry left behind by
// the kill (a Join whose enqueue never happened) holds its key back only
// briefly.
const fanoutHold = 5 * time.Second

// fanoutProvider takes the event ID from X-Id; every event has fanoutType.
type fanoutProvider struct{}

func (fanoutProvider) Name() string                       { return "kill" }
func (fanoutProvider) Verify(*http.Request, []byte) error { return nil }
func (fanoutProvider) Parse(r *http.Request, _ []byte) (receiver.Envelope, error) {
	return receiver.Envelope{ID: r.Header.Get("X-Id"), Type: fanoutType}, nil
}

// The keys the child's handlers record their runs in: the seqs a target
// ran for a key, in the order run, and the runs of one event's copy.
func fanoutLineKey(key, target string) string { return "kill:line:" + key + ":" + target }
func fanoutRunsKey(id, target string) string  { return "kill:runs:" + id + ":" + target }

// fanoutOrderChild serves a receiver on the Redis of the environment
// (queue, dedupe store, dead letters and ordering lines) whose one route
// fans events out to the targets "a" and "b", ordered by their "key"
// field. Each target records every run in Redis, in one transaction: the
// event's seq pushed on its (key, target) list, and its (ID, target) run
// count incremented. It prints its address and serves until killed.
func fanoutOrderChild(consumer string) int {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv(fanoutRedisEnv), ContextTimeoutEnabled: true})
	record := receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		var p faulttest.OrderedPayload
		if err := json.Unmarshal(e.Body, &p); err != nil {
			return receiver.Permanent(err)
		}
		_, err := rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.RPush(ctx, fanoutLineKey(p.Key, e.Target), p.Seq)
			pipe.Incr(ctx, fanoutRunsKey(e.ID, e.Target))
			return nil
		})
		return err
	})
	mux := receiver.NewMux()
	targets := map[string]receiver.Handler{}
	for _, name := range fanoutTargets {
		targets[name] = record
	}
	mux.Fanout(fanoutType, targets)
	q := New(rdb, Consumer(consumer), VisibilityTimeout(time.Second), PollInterval(20*time.Millisecond), Workers(8))
	return faulttest.ServeChild(receiver.New(fanoutProvider{}, mux,
		receiver.WithStore(dedupe.NewRedis(rdb)),
		receiver.WithQueue(q),
		receiver.WithDeadLetters(NewDeadLetters(rdb)),
		receiver.WithAdmissionLease(time.Second), // a delivery cut by the kill is admitted again after 1 s
		receiver.WithOrdering(receiver.Ordering{Key: flow.FieldKey("key"), Store: NewOrderStore(rdb), Hold: fanoutHold}),
		receiver.Backoff(50*time.Millisecond, 200*time.Millisecond))) // waits for a key's turn of 200 ms at most
}

// startFanoutChild starts a receiver process on the Redis at addr under
// consumer name, and waits for its address.
func startFanoutChild(t *testing.T, redisAddr, consumer string) *faulttest.Child {
	t.Helper()
	return faulttest.StartChild(t, fanoutChildEnv+"="+consumer, fanoutRedisEnv+"="+redisAddr)
}

// fanoutCopy names one fan-out copy of an event.
type fanoutCopy struct{ id, target string }

// heldAtKill is what a killed consumer held: the stream entries pending on
// it (read by it and not acknowledged) when it was killed.
type heldAtKill struct {
	copies map[fanoutCopy]bool // the fan-out copies
	// ran: copies whose handler had recorded a run; left: those of them
	// whose claim token had left its ordering line already (the attempt
	// had returned; its acknowledgement, which carries its dedupe
	// completion, was not sent yet).
	ran, left map[fanoutCopy]bool
	originals int // the events as delivered, to be split
	// split: the IDs of the originals whose token had left their line
	// already (split, their acknowledgement not sent yet).
	split map[string]bool
}

// heldBy returns what consumer holds.
func heldBy(t *testing.T, rdb *redis.Client, consumer string) heldAtKill {
	t.Helper()
	ctx := context.Background()
	pending, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: DefaultStream, Group: DefaultGroup, Consumer: consumer, Start: "-", End: "+", Count: 100_000,
	}).Result()
	require.NoError(t, err)
	h := heldAtKill{copies: map[fanoutCopy]bool{}, ran: map[fanoutCopy]bool{}, left: map[fanoutCopy]bool{}, split: map[string]bool{}}
	order := NewOrderStore(rdb)
	inLine := func(key, target, token string) bool {
		line, _ := order.keys(fanoutOrderLine(key, target))
		err := rdb.ZScore(ctx, line, token).Err()
		if errors.Is(err, redis.Nil) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	for _, p := range pending {
		msgs, err := rdb.XRange(ctx, DefaultStream, p.ID, p.ID).Result()
		require.NoError(t, err)
		if len(msgs) == 0 {
			continue // acknowledged and deleted
		}
		e, err := decode(msgs[0].Values)
		require.NoError(t, err)
		var body faulttest.OrderedPayload
		require.NoError(t, json.Unmarshal(e.Body, &body))
		if e.Target == "" {
			h.originals++
			if !inLine(body.Key, "", e.ClaimToken) {
				h.split[e.ID] = true
			}
			continue
		}
		c := fanoutCopy{e.ID, e.Target}
		h.copies[c] = true
		n, err := rdb.Get(ctx, fanoutRunsKey(c.id, c.target)).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			require.NoError(t, err)
		}
		if n == 0 {
			continue
		}
		h.ran[c] = true
		if !inLine(body.Key, e.Target, e.ClaimToken) {
			h.left[c] = true
		}
	}
	return h
}

// fanoutOrderLine is the receiver's ordering line key (receiver.lineKey,
// for the child's endpoint, the provider's name) of the events of key as
// delivered (target ""), or of their copies for target.
func fanoutOrderLine(key, target string) string {
	h := sha256.New()
	h.Write([]byte(fanoutProvider{}.Name()))
	h.Write([]byte{0})
	h.Write([]byte(key))
	if target != "" {
		h.Write([]byte{0})
		h.Write([]byte(target))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lineRuns splits the seqs a line ran, in the order run, into the first
// run of each seq, and the seqs run again: right after their previous run
// (in order) or after some later seq ran (out of order).
func lineRuns(ran []int) (firsts, inOrder, outOfOrder []int) {
	seen := map[int]bool{}
	for i, seq := range ran {
		switch {
		case !seen[seq]:
			seen[seq] = true
			firsts = append(firsts, seq)
		case ran[i-1] == seq:
			inOrder = append(inOrder, seq)
		default:
			outOfOrder = append(outOfOrder, seq)
		}
	}
	return firsts, inOrder, outOfOrder
}

// A receiver process with fan-out to two targets and per-key ordering on
// Redis, killed with SIGKILL mid-load and replaced by another (another
// consumer name, so the entries the first held are reclaimed after the
// visibility timeout). Asserted: no acknowledged event is lost for either
// target; the only copies handled twice are ones the killed process had run
// and not acknowledged (an at-least-once re-run, which a non-transactional
// handler sees); each target ran each key's events the first time in the
// order they were sent and acknowledged (an event as delivered that the
// killed process had split but not acknowledged is split again, and the
// copies queued again are refused as duplicates); and a copy run again
// runs right after the run the kill cut short, never after later copies of
// its line: an attempt leaves its line only with its acknowledgement (which
// also carries its dedupe completion), so a copy run but not acknowledged
// when the kill came is reclaimed still first in its line.
func TestKill9FanoutKeepsOrderPerTarget(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "no")
	rdb := newClient(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	first := startFanoutChild(t, srv.Addr, "kill-1")
	var addr atomic.Pointer[string]
	addr.Store(&first.Addr)
	l := faulttest.NewOrderedLoad(func() string { return "http://" + *addr.Load() + "/" },
		func(h http.Header, id string, _ []byte) { h.Set("X-Id", id) })

	// 20 keys of 15 events, each key's next event sent 150 ms after the
	// previous one's acknowledgement: the handlers keep up with the load
	// closely enough that the kill, after a third of the events, finds
	// copies run, running and waiting their turn.
	const nKeys, perKey, pause = 20, 15, 150 * time.Millisecond
	const total = nKeys * perKey
	keys := faulttest.Keys(nKeys)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, keys, perKey, pause) }()
	for l.Acked.Load() < total/3 {
		require.NoError(t, ctx.Err(), "a third of the events acknowledged")
		time.Sleep(5 * time.Millisecond)
	}
	first.Kill()
	killedAt := time.Since(start)
	ackedAtKill := l.Acked.Load()
	time.Sleep(100 * time.Millisecond) // Redis has run every command the dead process sent
	atKill := heldBy(t, rdb, "kill-1")
	runKeys, err := rdb.Keys(ctx, "kill:runs:*").Result()
	require.NoError(t, err)
	runsAtKill := len(runKeys)

	second := startFanoutChild(t, srv.Addr, "kill-2")
	addr.Store(&second.Addr)
	require.NoError(t, <-done)
	loadDone := time.Since(start)
	stats := New(rdb) // not started: reads the shared stream's depth
	require.Eventually(t, func() bool {
		st, err := stats.Stats(ctx)
		return err == nil && st.Depth == 0
	}, 30*time.Second, 20*time.Millisecond, "stream and delayed set empty")
	settled := time.Since(start)

	lost := map[string]int{}
	var handled, outOfOrder int
	var twice, rerunInOrder, rerunOutOfOrder []fanoutCopy
	for _, k := range keys {
		ackedSeqs := l.AckedSeqs(k)
		for _, seq := range ackedSeqs {
			for _, target := range fanoutTargets {
				c := fanoutCopy{faulttest.OrderedID(k, seq), target}
				n, err := rdb.Get(ctx, fanoutRunsKey(c.id, c.target)).Int()
				if errors.Is(err, redis.Nil) {
					n, err = 0, nil
				}
				require.NoError(t, err)
				if n == 0 {
					lost[target]++
				} else {
					handled++
				}
				if n > 1 {
					twice = append(twice, c)
				}
			}
		}
		for _, target := range fanoutTargets {
			vals, err := rdb.LRange(ctx, fanoutLineKey(k, target), 0, -1).Result()
			require.NoError(t, err)
			ran := make([]int, len(vals))
			for i, v := range vals {
				ran[i], err = strconv.Atoi(v)
				require.NoError(t, err)
			}
			firsts, inOrder, outOf := lineRuns(ran)
			if !assert.Equal(t, ackedSeqs, firsts, "key %s, target %s: first runs in the acknowledged order (ran %v)", k, target, ran) {
				outOfOrder++
			}
			for _, seq := range inOrder {
				rerunInOrder = append(rerunInOrder, fanoutCopy{faulttest.OrderedID(k, seq), target})
			}
			for _, seq := range outOf {
				rerunOutOfOrder = append(rerunOutOfOrder, fanoutCopy{faulttest.OrderedID(k, seq), target})
			}
		}
	}
	dead, err := NewDeadLetters(rdb).List(ctx, 0)
	require.NoError(t, err)

	t.Logf("sent %d requests (refused %d, statuses %v), acknowledged %d events of %d; copies handled %d of %d, twice %d %v",
		l.Sent.Load(), l.Refused.Load(), l.Statuses(), l.Acked.Load(), total, handled, len(fanoutTargets)*total, len(twice), twice)
	t.Logf("killed at %v after %d acknowledged, %d copies run; held by the killed process: %d copies (run already %d, of which finished and out of their line %d), %d events as delivered (split and out of their line %d)",
		killedAt.Round(time.Millisecond), ackedAtKill, runsAtKill, len(atKill.copies), len(atKill.ran), len(atKill.left), atKill.originals, len(atKill.split))
	t.Logf("per target: lost %v; lines whose first runs are out of order %d; copies run again right after their first run %d %v, after later copies of their line %d %v",
		lost, outOfOrder, len(rerunInOrder), rerunInOrder, len(rerunOutOfOrder), rerunOutOfOrder)
	t.Logf("dead letters %d; load done at %v, settled at %v (ordering hold %v)",
		len(dead), loadDone.Round(time.Millisecond), settled.Round(time.Millisecond), fanoutHold)

	assert.EqualValues(t, total, l.Acked.Load(), "events acknowledged")
	for _, target := range fanoutTargets {
		assert.Zero(t, lost[target], "acknowledged events lost for target %s", target)
	}
	assert.Equal(t, len(fanoutTargets)*total, handled, "copies handled")
	assert.Zero(t, outOfOrder, "lines whose first runs differ from the acknowledged order")
	assert.Equal(t, len(twice), len(rerunInOrder)+len(rerunOutOfOrder), "each copy handled twice is run again once")
	assert.LessOrEqual(t, len(twice), len(atKill.ran), "copies handled twice: at most those the killed process had run and not acknowledged")
	for _, c := range twice {
		assert.True(t, atKill.ran[c], "%v handled twice: the killed process had run it and not acknowledged it", c)
	}
	// The line is left with the acknowledgement (redisq.OrderStore.Leave,
	// deferred): a copy run but not acknowledged is still first in its line,
	// so it runs again before the later copies of its line.
	assert.Empty(t, rerunOutOfOrder, "copies run again after later copies of their line")
	assert.Positive(t, runsAtKill, "copies run before the kill")
	assert.Empty(t, dead, "dead letters")
}
