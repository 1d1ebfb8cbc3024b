package drivertest

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver/driver"
)

// RunDeadLetters runs the dead-letter suite against stores made by newStore,
// one for each subtest. The stores must be new and empty, and take a dead
// letter with a body of MaxBody bytes; with RefusesBeyond or EvictsOldest,
// they must have that bound. newStore may register cleanups.
func RunDeadLetters(t *testing.T, newStore func(t *testing.T) driver.DeadLetterStore, opts ...Option) {
	t.Helper()
	c := newConfig(opts)
	run := runID()
	var wg sync.WaitGroup
	for _, tc := range deadLetterCases {
		wg.Go(func() {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				require.NotNil(t, s, "the constructor returned a nil store")
				tc.f(&denv{t: t, c: c, run: run, s: s, base: time.Now().Add(-time.Hour)})
			})
		})
	}
	wg.Wait()
}

// denv is one subtest of the dead-letter suite.
type denv struct {
	t    *testing.T
	c    config
	run  string
	s    driver.DeadLetterStore
	base time.Time // FailedAt of the first dead letter made
	n    int       // dead letters made so far
}

// tick returns the FailedAt of the next dead letter: a second after the
// previous one. Dead letters are put in the order they failed, as the
// receiver puts them.
func (e *denv) tick() time.Time {
	e.n++
	return e.base.Add(time.Duration(e.n) * time.Second)
}

// letter returns a new dead letter, unique to the run, that failed a second
// after the previous one made.
func (e *denv) letter(name string) driver.DeadLetter {
	failed := e.tick()
	return driver.DeadLetter{
		Event: &driver.Event{
			Provider:   "drivertest",
			ID:         "evt_" + e.run + "_" + name + "_" + serial(),
			Type:       "drivertest.event",
			Version:    "2026-01-01",
			ReceivedAt: failed.Add(-time.Minute),
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       []byte(`{"name":"` + name + `"}`),
			Payload:    []byte(`{"name":"` + name + `"}`),
			Attempt:    5,
			ClaimToken: newToken(),
			Meta:       map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		},
		Reason:   "handler: " + name + " failed",
		FailedAt: failed,
	}
}

// put stores a copy of d, so that the store cannot change the suite's.
func (e *denv) put(d driver.DeadLetter) {
	e.t.Helper()
	d.Event = clone(d.Event)
	require.NoError(e.t, e.s.Put(bg, d), "Put(%s)", d.Key())
}

func (e *denv) list(limit int) []driver.DeadLetter {
	e.t.Helper()
	got, err := e.s.List(bg, limit)
	require.NoError(e.t, err, "List(%d)", limit)
	return got
}

func (e *denv) del(provider, key string) {
	e.t.Helper()
	require.NoError(e.t, e.s.Delete(bg, provider, key), "Delete(%q, %q)", provider, key)
}

// same checks that got holds want, field by field.
func (e *denv) same(want, got driver.DeadLetter, what string) {
	e.t.Helper()
	sameEvent(e.t, e.c, want.Event, got.Event, true, what)
	assert.Equal(e.t, want.Reason, got.Reason, "%s: Reason", what)
	sameTime(e.t, e.c, want.FailedAt, got.FailedAt, what+": FailedAt")
	assert.Equal(e.t, want.Key(), got.Key(), "%s: Key", what)
}

// keys returns the (provider, key) of each dead letter, in order.
func keys(ds []driver.DeadLetter) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		if d.Event == nil {
			out[i] = "<no event>"
			continue
		}
		out[i] = d.Event.Provider + " " + d.Key()
	}
	return out
}

// sameList checks that got holds want, in order.
func (e *denv) sameList(want, got []driver.DeadLetter, what string) {
	e.t.Helper()
	require.Equal(e.t, keys(want), keys(got), "%s: the dead letters listed", what)
	for i := range want {
		e.same(want[i], got[i], what+": dead letter "+strconv.Itoa(i))
	}
}

var deadLetterCases = []struct {
	name string
	f    func(e *denv)
}{
	{"Empty", func(e *denv) {
		for _, limit := range []int{-1, 0, 1, 10} {
			assert.Empty(e.t, e.list(limit), "List(%d) of an empty store", limit)
		}
		e.del("drivertest", "evt_missing")
		e.del("drivertest", "~"+newToken())
		e.del("", "")
		assert.Empty(e.t, e.list(0))
	}},
	{"RoundTrip", func(e *denv) {
		d := e.letter("full")
		d.Event.ReceivedAt = time.Now().In(time.FixedZone("UTC+5:30", 5*3600+1800))
		d.FailedAt = time.Now().In(time.FixedZone("UTC-3", -3*3600))
		d.Event.Header = manyHeader()
		d.Event.Meta = fullMeta()
		d.Event.Body = binaryBody()
		d.Event.Payload = []byte(`{"extracted":true,"unicode":"café ☕"}`)
		d.Event.Version = "v1.2.3-beta+build.7"
		d.Reason = "schema: /amount: expected number, got \"x\"\nsecond line\t☕ \x00"
		e.put(d)
		got := e.list(0)
		require.Len(e.t, got, 1)
		e.same(d, got[0], "the dead letter")
	}},
	{"RoundTripNoID", func(e *denv) {
		d := e.letter("noid")
		d.Event.ID = ""
		d.Event.Payload = nil
		d.Event.Header = nil
		d.Event.Meta = nil
		e.put(d)
		got := e.list(0)
		require.Len(e.t, got, 1)
		e.same(d, got[0], "a dead letter without an event ID")
		assert.Equal(e.t, "~"+d.Event.ClaimToken, got[0].Key())
	}},
	{"RoundTripLargeBody", func(e *denv) {
		d := e.letter("large")
		d.Event.Body = bigBody(e.c.maxBody)
		d.Event.Payload = nil
		e.put(d)
		got := e.list(0)
		require.Len(e.t, got, 1)
		e.same(d, got[0], "a dead letter with a large body")
	}},
	{"RoundTripNotUTF8", func(e *denv) {
		d := e.letter("notutf8")
		d.Event.Header, d.Event.Meta = notUTF8()
		e.put(d)
		got := e.list(0)
		require.Len(e.t, got, 1)
		e.same(d, got[0], "a dead letter with header and Meta values that are not UTF-8")
	}},
	{"OldestFirst", func(e *denv) {
		var all []driver.DeadLetter
		for i := range 5 {
			d := e.letter("order" + strconv.Itoa(i))
			e.put(d)
			all = append(all, d)
		}
		e.sameList(all, e.list(0), "List(0)")
		e.sameList(all, e.list(-1), "List(-1)")
		e.sameList(all, e.list(5), "List(5)")
		e.sameList(all, e.list(100), "List(100)")
		e.sameList(all[:1], e.list(1), "List(1)")
		e.sameList(all[:3], e.list(3), "List(3)")
	}},
	{"SameKeyReplaces", func(e *denv) {
		a, b := e.letter("a"), e.letter("b")
		e.put(a)
		e.put(b)
		// a fails again later: the new dead letter replaces the old one and
		// is listed as the newest.
		again := e.letter("a-again")
		again.Event.ID = a.Event.ID
		again.Event.Attempt = 9
		again.Event.Body = []byte(`{"second":true}`)
		again.Reason = "failed again"
		e.put(again)
		e.sameList([]driver.DeadLetter{b, again}, e.list(0), "after a second dead letter of one event")

		// The same for events without IDs: the same claim token replaces.
		n1 := e.letter("noid")
		n1.Event.ID = ""
		e.put(n1)
		n2 := e.letter("noid-again")
		n2.Event.ID = ""
		n2.Event.ClaimToken = n1.Event.ClaimToken
		n2.Reason = "failed again"
		e.put(n2)
		e.sameList([]driver.DeadLetter{b, again, n2}, e.list(0), "after a second dead letter of one event without an ID")
	}},
	{"NoIDsKeptApart", func(e *denv) {
		var all []driver.DeadLetter
		for i := range 3 {
			d := e.letter("noid" + strconv.Itoa(i))
			d.Event.ID = ""
			e.put(d)
			all = append(all, d)
		}
		e.sameList(all, e.list(0), "dead letters of events without IDs")
		e.del(all[1].Event.Provider, all[1].Key())
		e.sameList([]driver.DeadLetter{all[0], all[2]}, e.list(0), "after Delete(provider, \"~\"+token)")
	}},
	{"TargetsKeptApart", func(e *denv) {
		// Fan-out copies of one event, and the event itself, each have a
		// dead letter of their own; so do copies of an event without an ID.
		plain := e.letter("fanout")
		billing := e.letter("fanout-billing")
		billing.Event.ID, billing.Event.Target = plain.Event.ID, "billing"
		crm := e.letter("fanout-crm")
		crm.Event.ID, crm.Event.Target = plain.Event.ID, "crm"
		noID := e.letter("fanout-noid")
		noID.Event.ID, noID.Event.Target = "", "billing"
		all := []driver.DeadLetter{plain, billing, crm, noID}
		for _, d := range all {
			e.put(d)
		}
		e.sameList(all, e.list(0), "dead letters of one event and its fan-out copies")
		assert.Equal(e.t, "~billing~"+plain.Event.ID, billing.Key())
		assert.Equal(e.t, "~billing~~"+noID.Event.ClaimToken, noID.Key())
		again := e.letter("fanout-billing-again")
		again.Event.ID, again.Event.Target = plain.Event.ID, "billing"
		e.put(again)
		e.sameList([]driver.DeadLetter{plain, crm, noID, again}, e.list(0), "after a second dead letter of one fan-out copy")
		e.del(crm.Event.Provider, crm.Key())
		e.sameList([]driver.DeadLetter{plain, noID, again}, e.list(0), "after deleting one fan-out copy's dead letter")
	}},
	{"ProvidersKeptApart", func(e *denv) {
		a := e.letter("shared")
		b := e.letter("shared")
		b.Event.ID = a.Event.ID
		b.Event.Provider = "drivertest-other"
		e.put(a)
		e.put(b)
		e.sameList([]driver.DeadLetter{a, b}, e.list(0), "one event ID from two providers")
		e.del(a.Event.Provider, a.Key())
		e.sameList([]driver.DeadLetter{b}, e.list(0), "after deleting the first provider's")
	}},
	{"Delete", func(e *denv) {
		a, b, c := e.letter("a"), e.letter("b"), e.letter("c")
		for _, d := range []driver.DeadLetter{a, b, c} {
			e.put(d)
		}
		e.del(b.Event.Provider, b.Key())
		e.sameList([]driver.DeadLetter{a, c}, e.list(0), "after Delete")
		e.del(b.Event.Provider, b.Key()) // again: not an error
		e.del("drivertest-other", a.Key())
		e.del(a.Event.Provider, a.Key()+"x")
		e.del(a.Event.Provider, a.Key()[:len(a.Key())-1])
		e.del(a.Event.Provider, "~"+a.Event.ClaimToken) // a has an ID: its key is the ID
		e.sameList([]driver.DeadLetter{a, c}, e.list(0), "after deleting keys that are not stored")
		b2 := e.letter("b-again")
		b2.Event.ID = b.Event.ID
		e.put(b2)
		e.sameList([]driver.DeadLetter{a, c, b2}, e.list(0), "after putting a deleted key again")
		for _, d := range []driver.DeadLetter{a, c, b2} {
			e.del(d.Event.Provider, d.Key())
		}
		assert.Empty(e.t, e.list(0), "after deleting every dead letter")
	}},
	{"OddKeys", func(e *denv) {
		// Event IDs are any printable ASCII not starting with "~", up to
		// 256 bytes: each is its own key.
		ids := []string{
			"a:b", "a", "a:b:c", "{x}", "}{", "%s%d", `"quoted"`, `back\slash`, "x~", "*", "?",
			(e.run + "-" + string(bigASCII(256)))[:256],
		}
		var all []driver.DeadLetter
		for _, id := range ids {
			d := e.letter("odd")
			d.Event.ID = e.run + id
			if len(d.Event.ID) > 256 {
				d.Event.ID = d.Event.ID[:256]
			}
			e.put(d)
			all = append(all, d)
		}
		e.sameList(all, e.list(0), "dead letters with odd IDs")
		for i := 0; i < len(all); i += 2 {
			e.del(all[i].Event.Provider, all[i].Key())
		}
		var left []driver.DeadLetter
		for i := 1; i < len(all); i += 2 {
			left = append(left, all[i])
		}
		e.sameList(left, e.list(0), "after deleting every other one")
	}},
	{"Concurrent", func(e *denv) {
		n := 50
		for _, bound := range []int{e.c.refuses, e.c.evicts} {
			if bound > 0 {
				n = min(n, bound)
			}
		}
		all := make([]driver.DeadLetter, n)
		for i := range all {
			all[i] = e.letter("concurrent")
			if i%5 == 0 {
				all[i].Event.ID = ""
			}
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range all {
			wg.Go(func() {
				d := all[i]
				d.Event = clone(d.Event)
				errs[i] = e.s.Put(bg, d)
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(e.t, err, "concurrent Put %d", i)
		}
		// Puts that overlap may be ordered either way: compare sets.
		got := e.list(0)
		require.ElementsMatch(e.t, keys(all), keys(got), "after concurrent Puts: the dead letters listed")
		byKey := make(map[string]driver.DeadLetter, len(got))
		for _, d := range got {
			byKey[d.Event.Provider+" "+d.Key()] = d
		}
		for i, d := range all {
			e.same(d, byKey[d.Event.Provider+" "+d.Key()], "after concurrent Puts: dead letter "+strconv.Itoa(i))
		}
		for i := range all {
			wg.Go(func() { errs[i] = e.s.Delete(bg, all[i].Event.Provider, all[i].Key()) })
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(e.t, err, "concurrent Delete %d", i)
		}
		assert.Empty(e.t, e.list(0), "after concurrent Deletes")
	}},
	{"Bound", func(e *denv) {
		switch {
		case e.c.refuses > 0:
			e.refuses(e.c.refuses)
		case e.c.evicts > 0:
			e.evicts(e.c.evicts)
		default:
			e.t.Log("the store declares no bound (RefusesBeyond, EvictsOldest)")
		}
	}},
}

// refuses checks a store that refuses dead letters beyond n.
func (e *denv) refuses(n int) {
	e.t.Helper()
	var all []driver.DeadLetter
	for range n {
		d := e.letter("bound")
		e.put(d)
		all = append(all, d)
	}
	over := e.letter("over")
	err := e.s.Put(bg, over)
	require.ErrorIs(e.t, err, driver.ErrDeadLettersFull, "Put beyond the bound of %d", n)
	e.sameList(all, e.list(0), "after a refused Put")
	// A dead letter of an event already kept replaces it: the store does not
	// grow.
	again := e.letter("again")
	again.Event.ID = all[0].Event.ID
	e.put(again)
	all = append(all[1:], again)
	e.sameList(all, e.list(0), "after replacing a dead letter in a full store")
	// Deleting one makes room for one.
	e.del(all[0].Event.Provider, all[0].Key())
	over.FailedAt = e.tick() // it fails again, later
	e.put(over)
	all = append(all[1:], over)
	e.sameList(all, e.list(0), "after Delete made room")
	require.ErrorIs(e.t, e.s.Put(bg, e.letter("over2")), driver.ErrDeadLettersFull, "Put beyond the bound again")
}

// evicts checks a store that evicts the oldest dead letters beyond n.
func (e *denv) evicts(n int) {
	e.t.Helper()
	var all []driver.DeadLetter
	for range n + 2 {
		d := e.letter("bound")
		e.put(d)
		all = append(all, d)
	}
	e.sameList(all[2:], e.list(0), "after two Puts beyond the bound: the oldest two evicted")
	// Replacing a kept one evicts nothing.
	again := e.letter("again")
	again.Event.ID = all[2].Event.ID
	e.put(again)
	e.sameList(append(all[3:], again), e.list(0), "after replacing a dead letter in a full store")
}
