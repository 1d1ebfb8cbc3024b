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
// Subtests run in parallel, each with a store of its own from the
// constructor, and use keys unique to the run, so stores built on one shared
// server do not interfere. On real time the suite takes a little more than
// ShortTTL.
package dedupetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

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

func (e *env) claim(key string, lease time.Duration, want bool) {
	e.t.Helper()
	got, err := e.h.Store.Claim(e.ctx, key, lease)
	if err != nil {
		e.t.Fatalf("Claim(%q, %v): %v", key, lease, err)
	}
	if got != want {
		e.t.Fatalf("Claim(%q, %v) = %v, want %v", key, lease, got, want)
	}
}

func (e *env) complete(key string, retention time.Duration) {
	e.t.Helper()
	if err := e.h.Store.Complete(e.ctx, key, retention); err != nil {
		e.t.Fatalf("Complete(%q, %v): %v", key, retention, err)
	}
}

func (e *env) release(key string) {
	e.t.Helper()
	if err := e.h.Store.Release(e.ctx, key); err != nil {
		e.t.Fatalf("Release(%q): %v", key, err)
	}
}

var cases = []struct {
	name string
	f    func(e *env)
}{
	{"ClaimOnce", func(e *env) {
		k := e.key("a")
		e.claim(k, longTTL, true)
		e.claim(k, longTTL, false)
		e.claim(k, longTTL, false)
	}},
	{"ReleaseThenClaim", func(e *env) {
		k := e.key("a")
		e.claim(k, longTTL, true)
		e.release(k)
		e.claim(k, longTTL, true)
		e.claim(k, longTTL, false)
	}},
	{"ReleaseUnknown", func(e *env) {
		k := e.key("never")
		e.release(k)
		e.release(k)
		e.claim(k, longTTL, true)
	}},
	{"LeaseLapses", func(e *env) {
		k := e.key("a")
		start := time.Now()
		e.claim(k, ShortTTL, true)
		got, err := e.h.Store.Claim(e.ctx, k, ShortTTL)
		if err != nil {
			e.t.Fatal(err)
		}
		if got && e.within(start) {
			e.t.Fatal("second Claim within the lease took the key")
		}
		if e.h.Advance != nil {
			e.wait(ShortTTL / 2)
			e.claim(k, ShortTTL, false)
		}
		e.lapse()
		e.claim(k, longTTL, true)
		e.claim(k, longTTL, false)
	}},
	{"CompleteOutlastsLease", func(e *env) {
		k := e.key("a")
		e.claim(k, ShortTTL, true)
		e.complete(k, longTTL)
		e.claim(k, longTTL, false)
		e.lapse()
		e.claim(k, longTTL, false)
	}},
	{"RetentionLapses", func(e *env) {
		k := e.key("a")
		e.claim(k, longTTL, true)
		start := time.Now()
		e.complete(k, ShortTTL)
		got, err := e.h.Store.Claim(e.ctx, k, longTTL)
		if err != nil {
			e.t.Fatal(err)
		}
		if got && e.within(start) {
			e.t.Fatal("Claim within the retention took a done key")
		}
		e.lapse()
		e.claim(k, longTTL, true)
	}},
	{"CompleteWithoutClaim", func(e *env) {
		k := e.key("a")
		e.complete(k, longTTL)
		e.claim(k, longTTL, false)
	}},
	{"CompleteTwice", func(e *env) {
		k := e.key("a")
		e.claim(k, longTTL, true)
		e.complete(k, longTTL)
		e.complete(k, longTTL)
		e.claim(k, longTTL, false)
	}},
	{"ReleaseDone", func(e *env) {
		k := e.key("a")
		e.claim(k, longTTL, true)
		e.complete(k, longTTL)
		e.release(k)
		e.claim(k, longTTL, true)
		e.claim(k, longTTL, false)
	}},
	{"LapsedClaimReclaimedThenCompleted", func(e *env) {
		k := e.key("a")
		e.claim(k, ShortTTL, true)
		e.lapse()
		e.claim(k, longTTL, true) // the first holder crashed
		e.complete(k, longTTL)
		e.claim(k, longTTL, false)
	}},
	{"DistinctKeys", func(e *env) {
		a, b := e.key("a"), e.key("b")
		e.claim(a, longTTL, true)
		e.claim(b, longTTL, true)
		e.complete(a, longTTL)
		e.release(b)
		e.claim(a, longTTL, false)
		e.claim(b, longTTL, true)
		// Keys that differ only slightly are different keys.
		for _, k := range []string{a + " ", a + "\n", a[:len(a)-1], a + "é", dedupe.Key("x", "")} {
			e.claim(k, longTTL, true)
		}
		e.claim(dedupe.Key("x", ""), longTTL, false)
	}},
	{"ConcurrentClaims", func(e *env) {
		const n = 50
		k := e.key("a")
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			mu     sync.Mutex
			wins   int
			errs   []error
			others = make(chan bool, n) // claims of keys of their own
		)
		for i := range n {
			wg.Go(func() {
				<-start
				got, err := e.h.Store.Claim(e.ctx, k, longTTL)
				own, oerr := e.h.Store.Claim(e.ctx, e.key("own"+strconv.Itoa(i)), longTTL)
				mu.Lock()
				defer mu.Unlock()
				if err != nil || oerr != nil {
					errs = append(errs, errors.Join(err, oerr))
				}
				if got {
					wins++
				}
				others <- own
			})
		}
		close(start)
		wg.Wait()
		close(others)
		if len(errs) > 0 {
			e.t.Fatalf("concurrent Claims failed: %v", errs)
		}
		if wins != 1 {
			e.t.Fatalf("%d of %d concurrent Claims of one key won, want exactly 1", wins, n)
		}
		for own := range others {
			if !own {
				e.t.Fatal("a Claim of a key no one else claimed failed")
			}
		}
	}},
	{"ContextDone", func(e *env) {
		k := e.key("a")
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
		defer cancel2()
		for _, c := range []struct {
			ctx  context.Context
			want error
		}{{cancelled, context.Canceled}, {expired, context.DeadlineExceeded}} {
			got, err := e.h.Store.Claim(c.ctx, k, longTTL)
			if !errors.Is(err, c.want) || got {
				e.t.Fatalf("Claim with a done context = %v, %v; want false, %v", got, err, c.want)
			}
			if err := e.h.Store.Complete(c.ctx, k, longTTL); !errors.Is(err, c.want) {
				e.t.Fatalf("Complete with a done context = %v, want %v", err, c.want)
			}
		}
		// Nothing was written: the key is free.
		e.claim(k, longTTL, true)
		if err := e.h.Store.Release(cancelled, k); !errors.Is(err, context.Canceled) {
			e.t.Fatalf("Release with a done context = %v, want %v", err, context.Canceled)
		}
		e.claim(k, longTTL, false)
	}},
	{"InvalidDuration", func(e *env) {
		k := e.key("a")
		for _, d := range []time.Duration{0, -time.Second} {
			if got, err := e.h.Store.Claim(e.ctx, k, d); !errors.Is(err, dedupe.ErrInvalidDuration) || got {
				e.t.Fatalf("Claim(lease %v) = %v, %v; want false, ErrInvalidDuration", d, got, err)
			}
			if err := e.h.Store.Complete(e.ctx, k, d); !errors.Is(err, dedupe.ErrInvalidDuration) {
				e.t.Fatalf("Complete(retention %v) = %v, want ErrInvalidDuration", d, err)
			}
		}
		e.claim(k, longTTL, true)
	}},
	{"SubMillisecondLease", func(e *env) {
		k := e.key("a")
		// Rounded up to 2ms by a store with millisecond precision, not
		// down to 1ms or to 0 (no expiry).
		e.claim(k, 1500*time.Microsecond, true)
		e.wait(100 * time.Millisecond)
		e.claim(k, longTTL, true)
	}},
	{"Close", func(e *env) {
		c, ok := e.h.Store.(interface{ Close() error })
		if !ok {
			return // the store has no Close
		}
		k := e.key("a")
		e.claim(k, longTTL, true)
		if err := c.Close(); err != nil {
			e.t.Fatalf("Close: %v", err)
		}
		if got, err := e.h.Store.Claim(e.ctx, e.key("b"), longTTL); !errors.Is(err, dedupe.ErrClosed) || got {
			e.t.Fatalf("Claim after Close = %v, %v; want false, ErrClosed", got, err)
		}
		if err := e.h.Store.Complete(e.ctx, k, longTTL); !errors.Is(err, dedupe.ErrClosed) {
			e.t.Fatalf("Complete after Close = %v, want ErrClosed", err)
		}
		if err := e.h.Store.Release(e.ctx, k); !errors.Is(err, dedupe.ErrClosed) {
			e.t.Fatalf("Release after Close = %v, want ErrClosed", err)
		}
		if err := c.Close(); err != nil {
			e.t.Fatalf("second Close: %v", err)
		}
	}},
}
