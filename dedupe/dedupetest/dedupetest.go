// Package dedupetest is a conformance suite for dedupe.Store
// implementations. A store's tests call Run (stores on real time, such as
// Redis) or RunHarness (stores whose clock the test controls, which then run
// instantly):
//
//	func TestMemory(t *testing.T) {
//		dedupetest.RunHarness(t, func(t *testing.T) dedupetest.Harness {
//			clock := dedupetest.NewClock()
//			s := dedupe.NewMemory(dedupe.WithMemoryClock(clock.Now))
//			t.Cleanup(func() { s.Close() })
//			return dedupetest.Harness{Store: s, Advance: clock.Advance}
//		})
//	}
//
// The suite checks the whole contract of dedupe.Store: claims idempotent per
// token, Pending versus Duplicate, Confirm, the token-conditional Complete
// and Release and their empty-token forms, ReleaseAdmitted when the store
// implements dedupe.AdmittedReleaser, leases and retentions that lapse,
// concurrent claims, argument errors, done contexts and Close.
//
// Subtests run in parallel, each with a store of its own from the
// constructor, and use keys unique to the run, so stores built on one shared
// server do not interfere. On real time the suite takes a little more than
// ShortTTL.
package dedupetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
)

// ShortTTL is the lease or retention the suite waits out. It is long enough
// for a store on real time with millisecond precision (Redis PX) to keep a
// claim across two calls on a loaded machine.
const ShortTTL = time.Second

// longTTL outlasts every subtest.
const longTTL = time.Hour

// margin is how much longer than a ShortTTL the suite waits for it to lapse.
const margin = 250 * time.Millisecond

// Harness is a store under test and, optionally, control of its clock.
type Harness struct {
	Store dedupe.Store
	// Advance moves the store's clock forward by d. When nil, the suite
	// sleeps for d.
	Advance func(d time.Duration)
}

// Run runs the suite against stores on real time, made by newStore for each
// subtest.
func Run(t *testing.T, newStore func(t *testing.T) dedupe.Store) {
	t.Helper()
	RunHarness(t, func(t *testing.T) Harness { return Harness{Store: newStore(t)} })
}

// RunHarness runs the suite against the stores and clocks made by newHarness
// for each subtest. A store with a Close() error method is also checked to
// return dedupe.ErrClosed after Close, so such a store's Close must not close
// anything other subtests share.
func RunHarness(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	run := runID()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if h.Store == nil {
				t.Fatal("dedupetest: harness without a store")
			}
			e := &env{t: t, h: h, ctx: context.Background(), run: run}
			tc.f(e)
		})
	}
}

// Clock is a fake clock for stores that take one. Its zero value is not
// usable; call NewClock. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func runID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type env struct {
	t   *testing.T
	h   Harness
	ctx context.Context
	run string
}

// key returns a key unique to this run and subtest.
func (e *env) key(name string) string {
	return dedupe.Key("dedupetest", e.run+":"+e.t.Name()+":"+name)
}

// wait lets d pass for the store.
func (e *env) wait(d time.Duration) {
	if e.h.Advance != nil {
		e.h.Advance(d)
		return
	}
	time.Sleep(d)
}

// lapse waits for a ShortTTL to lapse.
func (e *env) lapse() {
	if e.h.Advance != nil {
		e.h.Advance(ShortTTL + time.Millisecond)
		return
	}
	time.Sleep(ShortTTL + margin)
}

// within reports whether a ShortTTL started at start is surely still running
// for the store: always on a fake clock; on real time, if most of it is left.
func (e *env) within(start time.Time) bool {
	return e.h.Advance != nil || time.Since(start) < ShortTTL*3/4
}

// tok returns a new claim token.
func tok() string { return dedupe.NewToken() }

func (e *env) claim(key, token string, lease time.Duration, want dedupe.Outcome) {
	e.t.Helper()
	got, err := e.h.Store.Claim(e.ctx, key, token, lease)
	require.NoError(e.t, err, "Claim(%q, %v)", key, lease)
	require.Equal(e.t, want, got, "Claim(%q, %v) = %v, want %v", key, lease, got, want)
}

// claimWithin checks that Claim answers want if a ShortTTL started at start
// is surely still running; on real time, a late answer may differ.
func (e *env) claimWithin(start time.Time, key, token string, lease time.Duration, want dedupe.Outcome) {
	e.t.Helper()
	got, err := e.h.Store.Claim(e.ctx, key, token, lease)
	require.NoError(e.t, err, "Claim(%q, %v)", key, lease)
	if e.within(start) {
		require.Equal(e.t, want, got, "Claim(%q, %v) within a ShortTTL = %v, want %v", key, lease, got, want)
	}
}

func (e *env) confirm(key, token string, lease time.Duration, want bool) {
	e.t.Helper()
	got, err := e.h.Store.Confirm(e.ctx, key, token, lease)
	require.NoError(e.t, err, "Confirm(%q, %v)", key, lease)
	require.Equal(e.t, want, got, "Confirm(%q, %v)", key, lease)
}

func (e *env) complete(key, token string, retention time.Duration) {
	e.t.Helper()
	require.NoError(e.t, e.h.Store.Complete(e.ctx, key, token, retention), "Complete(%q, %v)", key, retention)
}

func (e *env) release(key, token string) {
	e.t.Helper()
	require.NoError(e.t, e.h.Store.Release(e.ctx, key, token), "Release(%q)", key)
}

const (
	claimed   = dedupe.Claimed
	pending   = dedupe.Pending
	duplicate = dedupe.Duplicate
)

var cases = []struct {
	name string
	f    func(e *env)
}{
	{"ClaimOnce", func(e *env) {
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		// A re-run of a's own claim (a client resending the command).
		e.claim(k, a, longTTL, claimed)
		e.claim(k, b, longTTL, pending)
		e.claim(k, c, longTTL, pending)
		e.claim(k, a, longTTL, claimed)
	}},
	{"PendingThenDuplicate", func(e *env) {
		k, a, b := e.key("k"), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		e.claim(k, b, longTTL, pending)
		e.confirm(k, a, longTTL, true)
		e.claim(k, b, longTTL, duplicate)
		e.claim(k, a, longTTL, claimed)
	}},
	{"ReclaimKeepsLease", func(e *env) {
		admitted, confirmed, a, b := e.key("admitted"), e.key("confirmed"), tok(), tok()
		e.claim(admitted, a, longTTL, claimed)
		e.claim(confirmed, a, ShortTTL, claimed)
		e.confirm(confirmed, a, longTTL, true)
		// Re-runs with a shorter lease do not shorten the claims.
		e.claim(admitted, a, ShortTTL, claimed)
		e.claim(confirmed, a, ShortTTL, claimed)
		e.lapse()
		e.claim(admitted, b, longTTL, pending)
		e.claim(confirmed, b, longTTL, duplicate)
		e.claim(admitted, a, longTTL, claimed)
		e.claim(confirmed, a, longTTL, claimed)
	}},
	{"ConfirmExtendsLease", func(e *env) {
		k, a, b := e.key("k"), tok(), tok()
		e.claim(k, a, ShortTTL, claimed)
		e.confirm(k, a, longTTL, true)
		e.confirm(k, a, longTTL, true) // confirming again is harmless
		e.lapse()
		e.claim(k, b, longTTL, duplicate)
		e.claim(k, a, longTTL, claimed)
		e.confirm(k, a, longTTL, true)
	}},
	{"ConfirmNotHeld", func(e *env) {
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		e.confirm(k, a, longTTL, false) // absent: nothing is created
		e.claim(k, b, longTTL, claimed)
		e.confirm(k, a, longTTL, false) // another token's claim: untouched
		e.claim(k, c, longTTL, pending)
		e.complete(k, b, longTTL)
		e.confirm(k, b, longTTL, false) // done
		e.confirm(k, a, longTTL, false)
		e.claim(k, c, longTTL, duplicate)

		r := e.key("released")
		e.claim(r, a, longTTL, claimed)
		e.release(r, a)
		e.confirm(r, a, longTTL, false)
		e.claim(r, b, longTTL, claimed)
	}},
	{"AdmissionLapses", func(e *env) {
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		start := time.Now()
		e.claim(k, a, ShortTTL, claimed)
		e.claimWithin(start, k, b, ShortTTL, pending)
		if e.h.Advance != nil {
			e.wait(ShortTTL / 2)
			e.claim(k, b, ShortTTL, pending)
		}
		e.lapse()
		// a's delivery never confirmed (its outcome was unknown): the
		// sender's retry is admitted.
		e.claim(k, b, longTTL, claimed)
		// a's late calls leave b's claim alone.
		e.confirm(k, a, longTTL, false)
		e.complete(k, a, longTTL)
		e.release(k, a)
		e.claim(k, c, longTTL, pending)
		e.confirm(k, b, longTTL, true)
		e.claim(k, c, longTTL, duplicate)
	}},
	{"ConfirmedLeaseLapses", func(e *env) {
		k, a, b := e.key("k"), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		start := time.Now()
		e.confirm(k, a, ShortTTL, true)
		e.claimWithin(start, k, b, longTTL, duplicate)
		e.lapse()
		// The holder crashed before it completed: a redelivery is taken.
		e.claim(k, b, longTTL, claimed)
		e.confirm(k, a, longTTL, false)
	}},
	{"CompleteOwnClaim", func(e *env) {
		admitted, confirmed, a, b := e.key("admitted"), e.key("confirmed"), tok(), tok()
		e.claim(admitted, a, longTTL, claimed)
		e.complete(admitted, a, longTTL)
		e.claim(confirmed, a, ShortTTL, claimed)
		e.confirm(confirmed, a, ShortTTL, true)
		e.complete(confirmed, a, longTTL)
		e.lapse() // the retention outlasts the lease
		for _, k := range []string{admitted, confirmed} {
			e.claim(k, a, longTTL, duplicate)
			e.claim(k, b, longTTL, duplicate)
			e.confirm(k, a, longTTL, false)
		}
	}},
	{"CompleteAbsent", func(e *env) {
		k, lapsed, a, b := e.key("k"), e.key("lapsed"), tok(), tok()
		e.complete(k, a, longTTL)
		e.claim(k, a, longTTL, duplicate)
		e.claim(k, b, longTTL, duplicate)
		// A claim that lapsed is as good as absent.
		e.claim(lapsed, b, ShortTTL, claimed)
		e.lapse()
		e.complete(lapsed, a, longTTL)
		e.claim(lapsed, b, longTTL, duplicate)
	}},
	{"CompleteOtherTokensClaim", func(e *env) {
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		e.complete(k, b, longTTL) // not b's: nothing changes
		e.claim(k, c, longTTL, pending)
		e.confirm(k, a, longTTL, true)
		e.complete(k, b, longTTL)
		e.claim(k, a, longTTL, claimed)
		// Still a's claim, not done: a can release it.
		e.release(k, a)
		e.claim(k, c, longTTL, claimed)
	}},
	{"LateCompleteAfterReclaim", func(e *env) {
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		e.claim(k, a, ShortTTL, claimed)
		e.lapse()
		e.claim(k, b, longTTL, claimed)
		// a's Complete comes late: it must not mark b's delivery done.
		e.complete(k, a, longTTL)
		e.claim(k, c, longTTL, pending)
		e.release(k, b)
		e.claim(k, c, longTTL, claimed)
	}},
	{"DoneStaysDone", func(e *env) {
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		e.complete(k, a, longTTL)
		e.complete(k, a, longTTL) // completing again is harmless
		e.claim(k, a, longTTL, duplicate)
		e.confirm(k, a, longTTL, false)
		e.release(k, a)
		e.release(k, b)
		e.claim(k, b, longTTL, duplicate)
		// A later Complete with a token does not shorten the retention.
		e.complete(k, b, ShortTTL)
		e.lapse()
		e.claim(k, c, longTTL, duplicate)
	}},
	{"RetentionLapses", func(e *env) {
		k, a, b := e.key("k"), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		start := time.Now()
		e.complete(k, a, ShortTTL)
		e.claimWithin(start, k, b, longTTL, duplicate)
		e.lapse()
		e.claim(k, b, longTTL, claimed)
	}},
	{"CompleteEmptyToken", func(e *env) {
		admitted, confirmed, done, a, b := e.key("admitted"), e.key("confirmed"), e.key("done"), tok(), tok()
		e.claim(admitted, a, longTTL, claimed)
		e.complete(admitted, "", longTTL)
		e.claim(confirmed, a, longTTL, claimed)
		e.confirm(confirmed, a, longTTL, true)
		e.complete(confirmed, "", longTTL)
		e.complete(e.key("absent"), "", longTTL)
		for _, k := range []string{admitted, confirmed, e.key("absent")} {
			e.claim(k, a, longTTL, duplicate)
			e.claim(k, b, longTTL, duplicate)
		}
		// Unconditional: it sets the retention of a done key too.
		e.complete(done, a, longTTL)
		e.complete(done, "", ShortTTL)
		e.lapse()
		e.claim(done, b, longTTL, claimed)
	}},
	{"ReleaseOwnClaim", func(e *env) {
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		e.release(k, a)
		e.claim(k, b, longTTL, claimed)
		e.confirm(k, b, longTTL, true)
		e.release(k, b)
		e.claim(k, c, longTTL, claimed)
		e.release(k, c)
		e.release(k, c) // releasing again is harmless
		e.claim(k, a, longTTL, claimed)
	}},
	{"ReleaseOtherTokensClaim", func(e *env) {
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		e.release(k, b)
		e.claim(k, c, longTTL, pending)
		e.confirm(k, a, longTTL, true)
		e.release(k, b)
		e.claim(k, c, longTTL, duplicate)
	}},
	{"ReleaseEmptyToken", func(e *env) {
		k, a, b, c, d := e.key("k"), tok(), tok(), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		e.release(k, "")
		e.claim(k, b, longTTL, claimed)
		e.confirm(k, b, longTTL, true)
		e.release(k, "")
		e.claim(k, c, longTTL, claimed)
		e.complete(k, c, longTTL)
		e.release(k, "") // even a done key
		e.claim(k, d, longTTL, claimed)
	}},
	{"ReleaseUnknown", func(e *env) {
		k, a := e.key("never"), tok()
		e.release(k, a)
		e.release(k, "")
		e.claim(k, a, longTTL, claimed)
	}},
	{"ReleaseAdmitted", func(e *env) {
		r, ok := e.h.Store.(dedupe.AdmittedReleaser)
		if !ok {
			return // the store does not implement it
		}
		rel := func(key, token string) {
			e.t.Helper()
			require.NoError(e.t, r.ReleaseAdmitted(e.ctx, key, token), "ReleaseAdmitted(%q)", key)
		}
		k, a, b, c := e.key("k"), tok(), tok(), tok()
		e.claim(k, a, longTTL, claimed)
		rel(k, b) // another token's claim stays
		e.claim(k, c, longTTL, pending)
		rel(k, a) // its own admitted claim goes
		e.claim(k, b, longTTL, claimed)
		e.confirm(k, b, longTTL, true)
		rel(k, b) // a confirmed claim stays, even its own
		e.claim(k, c, longTTL, duplicate)
		e.complete(k, b, longTTL)
		rel(k, b) // so does a done key
		e.claim(k, c, longTTL, duplicate)
		n := e.key("never")
		rel(n, a) // an absent key stays absent
		e.claim(n, a, longTTL, claimed)
		require.ErrorIs(e.t, r.ReleaseAdmitted(e.ctx, n, ""), dedupe.ErrInvalidToken, "ReleaseAdmitted with an empty token")
		cancelled, cancel := context.WithCancel(e.ctx)
		cancel()
		require.ErrorIs(e.t, r.ReleaseAdmitted(cancelled, n, a), context.Canceled, "ReleaseAdmitted with a done context")
		e.claim(n, b, longTTL, pending) // neither changed anything
	}},
	{"DistinctKeys", func(e *env) {
		a, b, t1, t2 := e.key("a"), e.key("b"), tok(), tok()
		e.claim(a, t1, longTTL, claimed)
		e.claim(b, t1, longTTL, claimed)
		e.complete(a, t1, longTTL)
		e.release(b, t1)
		e.claim(a, t2, longTTL, duplicate)
		e.claim(b, t2, longTTL, claimed)
		// Keys that differ only slightly are different keys.
		for _, k := range []string{a + " ", a + "\n", a[:len(a)-1], a + "é", a + "\x00", dedupe.Key("x", "")} {
			e.claim(k, t1, longTTL, claimed)
			e.claim(k, t2, longTTL, pending)
		}
	}},
	{"OddKeys", func(e *env) {
		// Keys come from untrusted event IDs: braces, bytes that are not
		// UTF-8, and very long keys work and stay distinct.
		long := strings.Repeat("x", 64<<10)
		keys := []string{
			e.key("{a}"), e.key("{b}"), e.key("{"), e.key("}{"), e.key("\xff\xfe"),
			e.key(long), e.key(long + "y"), e.key(""),
		}
		a, b := tok(), tok()
		for _, k := range keys {
			e.claim(k, a, longTTL, claimed)
		}
		for i, k := range keys {
			if i%2 == 0 {
				e.complete(k, a, longTTL)
			}
		}
		for i, k := range keys {
			want := pending
			if i%2 == 0 {
				want = duplicate
			}
			e.claim(k, b, longTTL, want)
		}
		// ReleaseAdmitted finds each odd key too: a's admitted claims go,
		// the done keys stay.
		if r, ok := e.h.Store.(dedupe.AdmittedReleaser); ok {
			for i, k := range keys {
				require.NoError(e.t, r.ReleaseAdmitted(e.ctx, k, a), "ReleaseAdmitted(key %d)", i)
				want := claimed
				if i%2 == 0 {
					want = duplicate
				}
				e.claim(k, b, longTTL, want)
			}
		}
	}},
	{"ConcurrentClaims", func(e *env) {
		const n = 50
		k := e.key("k")
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			mu       sync.Mutex
			outcomes = map[dedupe.Outcome]int{}
			errs     []error
		)
		for i := range n {
			wg.Go(func() {
				<-start
				got, err := e.h.Store.Claim(e.ctx, k, tok(), longTTL)
				own, oerr := e.h.Store.Claim(e.ctx, e.key("own"+strconv.Itoa(i)), tok(), longTTL)
				mu.Lock()
				defer mu.Unlock()
				for _, err := range []error{err, oerr} {
					if err != nil {
						errs = append(errs, err)
					}
				}
				outcomes[got]++
				if own != claimed {
					outcomes[0]++ // a Claim of a key no one else claimed failed
				}
			})
		}
		close(start)
		wg.Wait()
		require.Empty(e.t, errs, "concurrent Claims failed")
		assert.Equal(e.t, map[dedupe.Outcome]int{claimed: 1, pending: n - 1}, outcomes,
			"exactly one of %d concurrent tokens claims the key, every other finds it pending", n)
	}},
	{"ConcurrentSameToken", func(e *env) {
		// Copies of one claim (a client resending it) all hold the key.
		const n = 20
		k, a := e.key("k"), tok()
		var wg sync.WaitGroup
		got := make([]dedupe.Outcome, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { got[i], errs[i] = e.h.Store.Claim(e.ctx, k, a, longTTL) })
		}
		wg.Wait()
		for i := range n {
			require.NoError(e.t, errs[i])
			assert.Equal(e.t, claimed, got[i], "claim %d of one token", i)
		}
		e.claim(k, tok(), longTTL, pending)
	}},
	{"ContextDone", func(e *env) {
		k, a, b := e.key("k"), tok(), tok()
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
		defer cancel2()
		for _, c := range []struct {
			ctx  context.Context
			want error
		}{{cancelled, context.Canceled}, {expired, context.DeadlineExceeded}} {
			got, err := e.h.Store.Claim(c.ctx, k, a, longTTL)
			require.ErrorIs(e.t, err, c.want, "Claim with a done context")
			require.Zero(e.t, got, "Claim with a done context")
			require.ErrorIs(e.t, e.h.Store.Complete(c.ctx, k, a, longTTL), c.want, "Complete with a done context")
			require.ErrorIs(e.t, e.h.Store.Complete(c.ctx, k, "", longTTL), c.want, "Complete with a done context")
		}
		// Nothing was written: the key is free.
		e.claim(k, a, longTTL, claimed)
		ok, err := e.h.Store.Confirm(cancelled, k, a, longTTL)
		require.ErrorIs(e.t, err, context.Canceled, "Confirm with a done context")
		require.False(e.t, ok)
		require.ErrorIs(e.t, e.h.Store.Release(cancelled, k, a), context.Canceled, "Release with a done context")
		require.ErrorIs(e.t, e.h.Store.Release(cancelled, k, ""), context.Canceled, "Release with a done context")
		e.claim(k, b, longTTL, pending) // still admitted, not confirmed
	}},
	{"InvalidArguments", func(e *env) {
		k, a, b := e.key("k"), tok(), tok()
		got, err := e.h.Store.Claim(e.ctx, k, "", longTTL)
		require.ErrorIs(e.t, err, dedupe.ErrInvalidToken, "Claim with an empty token")
		require.Zero(e.t, got)
		ok, err := e.h.Store.Confirm(e.ctx, k, "", longTTL)
		require.ErrorIs(e.t, err, dedupe.ErrInvalidToken, "Confirm with an empty token")
		require.False(e.t, ok)
		for _, d := range []time.Duration{0, -time.Second} {
			got, err := e.h.Store.Claim(e.ctx, k, a, d)
			require.ErrorIs(e.t, err, dedupe.ErrInvalidDuration, "Claim(lease %v)", d)
			require.Zero(e.t, got)
			for _, t := range []string{a, ""} {
				require.ErrorIs(e.t, e.h.Store.Complete(e.ctx, k, t, d), dedupe.ErrInvalidDuration, "Complete(retention %v)", d)
			}
		}
		e.claim(k, a, longTTL, claimed) // nothing was written
		for _, d := range []time.Duration{0, -time.Second} {
			ok, err := e.h.Store.Confirm(e.ctx, k, a, d)
			require.ErrorIs(e.t, err, dedupe.ErrInvalidDuration, "Confirm(lease %v)", d)
			require.False(e.t, ok)
		}
		e.claim(k, b, longTTL, pending) // not confirmed
	}},
	{"SubMillisecondLease", func(e *env) {
		k, a, b := e.key("k"), tok(), tok()
		// Rounded up to 2ms by a store with millisecond precision, not
		// down to 1ms or to 0 (no expiry).
		e.claim(k, a, 1500*time.Microsecond, claimed)
		e.wait(100 * time.Millisecond)
		e.claim(k, b, longTTL, claimed)
		e.confirm(k, b, 1500*time.Microsecond, true)
		e.wait(100 * time.Millisecond)
		e.claim(k, a, longTTL, claimed)
	}},
	{"Close", func(e *env) {
		c, ok := e.h.Store.(interface{ Close() error })
		if !ok {
			return // the store has no Close
		}
		k, a := e.key("k"), tok()
		e.claim(k, a, longTTL, claimed)
		require.NoError(e.t, c.Close())
		got, err := e.h.Store.Claim(e.ctx, e.key("b"), a, longTTL)
		require.ErrorIs(e.t, err, dedupe.ErrClosed, "Claim after Close")
		require.Zero(e.t, got)
		confirmed, err := e.h.Store.Confirm(e.ctx, k, a, longTTL)
		require.ErrorIs(e.t, err, dedupe.ErrClosed, "Confirm after Close")
		require.False(e.t, confirmed)
		require.ErrorIs(e.t, e.h.Store.Complete(e.ctx, k, a, longTTL), dedupe.ErrClosed, "Complete after Close")
		require.ErrorIs(e.t, e.h.Store.Release(e.ctx, k, a), dedupe.ErrClosed, "Release after Close")
		if r, ok := e.h.Store.(dedupe.AdmittedReleaser); ok {
			require.ErrorIs(e.t, r.ReleaseAdmitted(e.ctx, k, a), dedupe.ErrClosed, "ReleaseAdmitted after Close")
		}
		require.NoError(e.t, c.Close(), "second Close")
	}},
}
