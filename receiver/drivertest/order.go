package drivertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver/driver"
)

// RunOrderStore runs the conformance suite of driver.OrderStore: a line per
// key, first joined first served; Turn is true for the first token and for
// a token not in the line; Leave removes one token anywhere in the line and
// leaving a missing one is not an error; joining again renews in place;
// entries not renewed within their hold are dropped, while Turn renews the
// caller's entry, first or waiting; keys are kept apart; and, under
// concurrent use, tokens of one key that wait for their turn run one at a
// time in the order they joined. With StoreBound(n), the store refuses the
// entry beyond n with an error matching driver.ErrQueueFull.
//
// Keys given to the store are what the receiver gives it: 64 lower-case
// hexadecimal characters (a hash of the ordering key).
func RunOrderStore(t *testing.T, newStore func(t *testing.T) driver.OrderStore, opts ...Option) {
	t.Helper()
	c := newConfig(opts)
	run := runID()
	for _, tc := range orderCases {
		if tc.bound && c.orderMax == 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			tc.f(&oenv{t: t, c: c, s: newStore(t), run: run})
		})
	}
}

// StoreBound declares that an OrderStore holds at most n entries, and
// refuses more with an error matching driver.ErrQueueFull.
func StoreBound(n int) Option { return func(c *config) { c.orderMax = n } }

type oenv struct {
	t   *testing.T
	c   config
	s   driver.OrderStore
	run string
	n   int
}

// key returns a new key, unique to the run: 64 hexadecimal characters
// (a hash of the run, the subtest's count and a serial, so that no two
// subtests share one, whatever their numbers).
func (e *oenv) key() string {
	e.n++
	sum := sha256.Sum256([]byte(e.run + "/" + strconv.Itoa(e.n) + "/" + serial()))
	return hex.EncodeToString(sum[:])
}

const longHold = time.Minute

func (e *oenv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *oenv) join(key, tok string, hold time.Duration) {
	e.t.Helper()
	require.NoError(e.t, e.s.Join(e.ctx(), key, tok, hold), "Join %s", tok)
}

func (e *oenv) turn(key, tok string, hold time.Duration) bool {
	e.t.Helper()
	ok, err := e.s.Turn(e.ctx(), key, tok, hold)
	require.NoError(e.t, err, "Turn %s", tok)
	return ok
}

func (e *oenv) leave(key, tok string) {
	e.t.Helper()
	require.NoError(e.t, e.s.Leave(e.ctx(), key, tok), "Leave %s", tok)
}

// turns returns Turn of each token, in order.
func (e *oenv) turns(key string, toks ...string) []bool {
	e.t.Helper()
	out := make([]bool, len(toks))
	for i, tok := range toks {
		out[i] = e.turn(key, tok, longHold)
	}
	return out
}

var orderCases = []struct {
	name  string
	bound bool // runs only with StoreBound
	f     func(e *oenv)
}{
	{name: "NotInLine", f: func(e *oenv) {
		k := e.key()
		assert.True(e.t, e.turn(k, newToken(), longHold), "Turn of a token never joined, on an empty line")
		e.join(k, "a", longHold)
		assert.Equal(e.t, []bool{true, true}, e.turns(k, "a", "stranger"), "Turn of the first token and of one not in the line")
		e.leave(k, "missing") // not an error
		e.leave(e.key(), "a")
	}},
	{name: "FirstJoinedFirstServed", f: func(e *oenv) {
		k := e.key()
		for _, tok := range []string{"a", "b", "c", "d"} {
			e.join(k, tok, longHold)
		}
		assert.Equal(e.t, []bool{false, false, false, true}, e.turns(k, "d", "c", "b", "a"))
		e.leave(k, "a")
		assert.Equal(e.t, []bool{true, false, false}, e.turns(k, "b", "c", "d"), "after the first left")
		e.leave(k, "c") // from the middle
		assert.Equal(e.t, []bool{true, false}, e.turns(k, "b", "d"), "after one in the middle left")
		e.leave(k, "b")
		assert.Equal(e.t, []bool{true}, e.turns(k, "d"), "after the rest left")
		e.leave(k, "d")
		e.leave(k, "d") // again: not an error
		e.join(k, "e", longHold)
		assert.Equal(e.t, []bool{true}, e.turns(k, "e"), "a token joining an emptied line")
	}},
	{name: "JoinAgainKeepsPlace", f: func(e *oenv) {
		k := e.key()
		e.join(k, "a", longHold)
		e.join(k, "b", longHold)
		e.join(k, "a", longHold)
		assert.Equal(e.t, []bool{true, false}, e.turns(k, "a", "b"))
		e.leave(k, "a")
		assert.Equal(e.t, []bool{true}, e.turns(k, "b"), "a token joined twice leaves once")
	}},
	{name: "KeysKeptApart", f: func(e *oenv) {
		k1, k2 := e.key(), e.key()
		e.join(k1, "a", longHold)
		e.join(k1, "b", longHold)
		e.join(k2, "x", longHold)
		e.join(k2, "y", longHold)
		assert.Equal(e.t, []bool{true, false}, e.turns(k1, "a", "b"))
		assert.Equal(e.t, []bool{true, false}, e.turns(k2, "x", "y"))
		e.leave(k2, "a") // a is not in k2's line: nothing changes
		e.leave(k1, "x")
		assert.Equal(e.t, []bool{true, false, true, false}, append(e.turns(k1, "a", "b"), e.turns(k2, "x", "y")...))
	}},
	{name: "HoldLapses", f: func(e *oenv) {
		// The first entry is never renewed: once its hold passed, the
		// next token's turn comes. The hold is long against a stall of a
		// loaded machine (race detector, parallel packages) between the
		// Join and the first check, which must come within it.
		const hold = time.Second
		k := e.key()
		e.join(k, "lost", hold)
		e.join(k, "b", longHold)
		e.join(k, "c", longHold)
		assert.Equal(e.t, []bool{false, false}, e.turns(k, "b", "c"), "within the first entry's hold")
		time.Sleep(hold + 300*time.Millisecond)
		assert.Equal(e.t, []bool{true, false}, e.turns(k, "b", "c"), "after the first entry's hold passed")
		assert.True(e.t, e.turn(k, "lost", longHold), "a token dropped from the line may run")
	}},
	{name: "TurnRenews", f: func(e *oenv) {
		// Turn renews the caller's entry, first or waiting: an event that
		// keeps asking stays in line however long it waits. It renews
		// every eighth of the hold, so that only a stall of most of a hold
		// (a loaded machine) could let an entry lapse.
		const hold = time.Second
		k := e.key()
		e.join(k, "first", hold)
		e.join(k, "waiting", hold)
		e.join(k, "last", longHold)
		deadline := time.Now().Add(2 * hold)
		for time.Now().Before(deadline) {
			assert.True(e.t, e.turn(k, "first", hold), "the first token, renewing")
			assert.False(e.t, e.turn(k, "waiting", hold), "a waiting token, renewing")
			time.Sleep(hold / 8)
		}
		assert.False(e.t, e.turn(k, "last", longHold), "the last token, while the others renew")
		e.leave(k, "first")
		assert.Equal(e.t, []bool{true, false}, e.turns(k, "waiting", "last"), "after the first left")
	}},
	{name: "JoinRenews", f: func(e *oenv) {
		// Checked past the first Join's hold and well within the second's
		// (a stall of up to 0.7 s between them still passes).
		const hold = 2 * time.Second
		k := e.key()
		e.join(k, "a", hold)
		e.join(k, "b", longHold)
		time.Sleep(hold / 2)
		e.join(k, "a", hold)
		time.Sleep(hold/2 + 300*time.Millisecond)
		assert.False(e.t, e.turn(k, "b", longHold), "a renewed by a second Join is still first")
	}},
	{name: "OneAtATimeInOrder", f: func(e *oenv) {
		// Workers poll Turn for tokens of a few keys, given to them out of
		// order: per key, no two run at once, and they run in the order
		// they joined.
		const keys, perKey, workers = 4, 12, 6
		ks := make([]string, keys)
		var all []struct{ k, tok string }
		for i := range ks {
			ks[i] = e.key()
		}
		for j := range perKey {
			for _, k := range ks {
				tok := "t" + strconv.Itoa(j)
				e.join(k, tok, longHold)
				all = append(all, struct{ k, tok string }{k, tok})
			}
		}
		work := make(chan struct{ k, tok string }, len(all))
		for i := len(all) - 1; i >= 0; i-- { // newest first
			work <- all[i]
		}
		var mu sync.Mutex
		running := map[string]int{}
		order := map[string][]string{}
		ctx := e.ctx()
		var wg sync.WaitGroup
		var failed error
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var w struct{ k, tok string }
					select {
					case w = <-work:
					case <-ctx.Done():
						return
					default:
						return
					}
					ok, err := e.s.Turn(ctx, w.k, w.tok, longHold)
					if err != nil {
						mu.Lock()
						failed = err
						mu.Unlock()
						return
					}
					if !ok {
						work <- w // not its turn: back of the queue
						time.Sleep(time.Millisecond)
						continue
					}
					mu.Lock()
					running[w.k]++
					if running[w.k] > 1 {
						failed = errors.New("two tokens of one key ran at once")
					}
					order[w.k] = append(order[w.k], w.tok)
					mu.Unlock()
					time.Sleep(time.Millisecond)
					mu.Lock()
					running[w.k]--
					mu.Unlock()
					if err := e.s.Leave(ctx, w.k, w.tok); err != nil {
						mu.Lock()
						failed = err
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		require.NoError(e.t, failed)
		want := make([]string, perKey)
		for j := range want {
			want[j] = "t" + strconv.Itoa(j)
		}
		for _, k := range ks {
			assert.Equal(e.t, want, order[k], "order of one key's tokens")
		}
	}},
	{name: "Bound", bound: true, f: func(e *oenv) {
		k1, k2 := e.key(), e.key()
		for i := range e.c.orderMax {
			k := k1
			if i%2 == 1 {
				k = k2
			}
			e.join(k, "t"+strconv.Itoa(i), longHold)
		}
		err := e.s.Join(e.ctx(), e.key(), "beyond", longHold)
		assert.ErrorIs(e.t, err, driver.ErrQueueFull, "Join beyond the bound")
		e.leave(k1, "t0")
		assert.NoError(e.t, e.s.Join(e.ctx(), k1, "again", longHold), "Join after one left")
	}},
}
