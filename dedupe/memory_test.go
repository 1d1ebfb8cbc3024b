package dedupe_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/dedupe/dedupetest"
)

var (
	_ dedupe.Store            = (*dedupe.Memory)(nil)
	_ dedupe.AdmittedReleaser = (*dedupe.Memory)(nil)
)

func newFakeMemory(t *testing.T, opts ...dedupe.MemoryOption) (*dedupe.Memory, *dedupetest.Clock) {
	t.Helper()
	clock := dedupetest.NewClock()
	m := dedupe.NewMemory(append([]dedupe.MemoryOption{dedupe.WithMemoryClock(clock.Now)}, opts...)...)
	t.Cleanup(func() { _ = m.Close() })
	return m, clock
}

func TestMemoryConformance(t *testing.T) {
	for _, max := range []int{dedupe.DefaultMemoryMaxEntries, 100} {
		t.Run("max="+strconv.Itoa(max), func(t *testing.T) {
			dedupetest.RunHarness(t, func(t *testing.T) dedupetest.Harness {
				m, clock := newFakeMemory(t, dedupe.WithMemoryMaxEntries(max))
				return dedupetest.Harness{Store: m, Advance: clock.Advance}
			})
		})
	}
}

func TestMemoryRealClock(t *testing.T) {
	// The default clock: a short lease lapses in real time.
	m := dedupe.NewMemory()
	defer m.Close()
	ctx := context.Background()
	o, err := m.Claim(ctx, "k", dedupe.NewToken(), 20*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, dedupe.Claimed, o)
	deadline := time.Now().Add(5 * time.Second)
	for {
		o, err := m.Claim(ctx, "k", dedupe.NewToken(), time.Hour)
		require.NoError(t, err)
		if o == dedupe.Claimed {
			break
		}
		require.Equal(t, dedupe.Pending, o)
		require.False(t, time.Now().After(deadline), "a 20ms lease did not lapse within 5s")
		time.Sleep(5 * time.Millisecond)
	}

	// And no sooner: a 1s lease still holds 50ms later.
	_, err = m.Claim(ctx, "held", dedupe.NewToken(), time.Second)
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	o, err = m.Claim(ctx, "held", dedupe.NewToken(), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Pending, o, "a 1s lease lapsed within 50ms")
}

// mustClaim claims key with a new token and reports whether it was Claimed.
func mustClaim(t *testing.T, s dedupe.Store, key string, lease time.Duration) bool {
	t.Helper()
	o, err := s.Claim(context.Background(), key, dedupe.NewToken(), lease)
	require.NoError(t, err, "Claim(%q)", key)
	return o == dedupe.Claimed
}

func TestMemoryEviction(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, m *dedupe.Memory, clock *dedupetest.Clock)
	}{
		{"full of live claims refuses new keys", func(t *testing.T, m *dedupe.Memory, _ *dedupetest.Clock) {
			for i := range 10 {
				require.True(t, mustClaim(t, m, "k"+strconv.Itoa(i), time.Hour), "claim %d failed", i)
			}
			o, err := m.Claim(ctx, "new", dedupe.NewToken(), time.Hour)
			require.ErrorIs(t, err, dedupe.ErrFull, "Claim in a full store")
			require.Zero(t, o)
			require.ErrorIs(t, m.Complete(ctx, "new", "", time.Hour), dedupe.ErrFull, "Complete of a new key in a full store")
			// Keys already held still work.
			require.False(t, mustClaim(t, m, "k3", time.Hour), "a live claim was taken again")
			require.NoError(t, m.Complete(ctx, "k3", "", time.Hour))
			// Now one entry is done, and a new key evicts it.
			require.True(t, mustClaim(t, m, "new", time.Hour), "new key not claimed after a key was completed")
			// k3 was evicted: once there is room, it can be claimed again.
			require.NoError(t, m.Release(ctx, "k0", ""))
			assert.True(t, mustClaim(t, m, "k3", time.Hour), "evicted done key still held")
		}},
		{"oldest done evicted first", func(t *testing.T, m *dedupe.Memory, _ *dedupetest.Clock) {
			for i := range 10 {
				mustClaim(t, m, "k"+strconv.Itoa(i), time.Hour)
			}
			for _, i := range []int{7, 2, 5} {
				require.NoError(t, m.Complete(ctx, "k"+strconv.Itoa(i), "", time.Hour))
			}
			require.True(t, mustClaim(t, m, "n1", time.Hour), "n1 not claimed")
			// k7 was evicted; k2 and k5 are still done. Claiming k7 now
			// evicts k2.
			for _, c := range []struct {
				key  string
				want bool
			}{{"k5", false}, {"k2", false}, {"k7", true}, {"k5", false}, {"k2", true}} {
				require.Equal(t, c.want, mustClaim(t, m, c.key, time.Hour), "Claim(%s)", c.key)
			}
			// k5 was evicted too, and no done entry is left to make room.
			_, err := m.Claim(ctx, "k5", dedupe.NewToken(), time.Hour)
			assert.ErrorIs(t, err, dedupe.ErrFull)
		}},
		{"lapsed claim evicted when full", func(t *testing.T, m *dedupe.Memory, clock *dedupetest.Clock) {
			mustClaim(t, m, "short", time.Second)
			for i := range 9 {
				mustClaim(t, m, "k"+strconv.Itoa(i), time.Hour)
			}
			_, err := m.Claim(ctx, "new", dedupe.NewToken(), time.Hour)
			require.ErrorIs(t, err, dedupe.ErrFull)
			clock.Advance(2 * time.Second)
			require.True(t, mustClaim(t, m, "new", time.Hour), "lapsed claim not reclaimed")
			assert.Equal(t, 10, m.Len())
		}},
		{"lapsed entries swept lazily", func(t *testing.T, m *dedupe.Memory, clock *dedupetest.Clock) {
			for i := range 3 {
				mustClaim(t, m, "a"+strconv.Itoa(i), time.Second)
				tok := dedupe.NewToken()
				c := "c" + strconv.Itoa(i)
				_, err := m.Claim(ctx, c, tok, time.Second)
				require.NoError(t, err)
				ok, err := m.Confirm(ctx, c, tok, time.Second)
				require.NoError(t, err)
				require.True(t, ok)
				require.NoError(t, m.Complete(ctx, "d"+strconv.Itoa(i), "", time.Second))
			}
			require.Equal(t, 9, m.Len())
			clock.Advance(2 * time.Second)
			// Each operation sweeps two lapsed entries of each kind.
			require.NoError(t, m.Release(ctx, "other", ""))
			require.Equal(t, 3, m.Len(), "Len after one sweep")
			mustClaim(t, m, "x", time.Hour)
			require.Equal(t, 1, m.Len(), "Len after two sweeps")
		}},
		{"live admitted and confirmed claims never evicted", func(t *testing.T, m *dedupe.Memory, clock *dedupetest.Clock) {
			toks := map[string]string{}
			for i := range 10 {
				k := "k" + strconv.Itoa(i)
				toks[k] = dedupe.NewToken()
				o, err := m.Claim(ctx, k, toks[k], time.Minute)
				require.NoError(t, err)
				require.Equal(t, dedupe.Claimed, o)
				if i%2 == 0 {
					ok, err := m.Confirm(ctx, k, toks[k], time.Hour)
					require.NoError(t, err)
					require.True(t, ok)
				}
			}
			clock.Advance(59 * time.Second)
			_, err := m.Claim(ctx, "new", dedupe.NewToken(), time.Minute)
			require.ErrorIs(t, err, dedupe.ErrFull)
			require.ErrorIs(t, m.Complete(ctx, "new", dedupe.NewToken(), time.Hour), dedupe.ErrFull)
			for k, tok := range toks {
				o, err := m.Claim(ctx, k, tok, time.Minute)
				require.NoError(t, err)
				require.Equal(t, dedupe.Claimed, o, "%s still held by its token", k)
			}
			// The admitted claims lapse; the confirmed ones hold.
			clock.Advance(2 * time.Second)
			for i := range 5 {
				require.True(t, mustClaim(t, m, "new"+strconv.Itoa(i), time.Minute), "new key %d", i)
			}
			_, err = m.Claim(ctx, "new5", dedupe.NewToken(), time.Minute)
			require.ErrorIs(t, err, dedupe.ErrFull)
			for i := 0; i < 10; i += 2 {
				o, err := m.Claim(ctx, "k"+strconv.Itoa(i), dedupe.NewToken(), time.Minute)
				require.NoError(t, err)
				require.Equal(t, dedupe.Duplicate, o, "confirmed k%d", i)
			}
		}},
		{"lapsed confirmed claim evicted when full", func(t *testing.T, m *dedupe.Memory, clock *dedupetest.Clock) {
			tok := dedupe.NewToken()
			_, err := m.Claim(ctx, "short", tok, time.Hour)
			require.NoError(t, err)
			ok, err := m.Confirm(ctx, "short", tok, time.Second)
			require.NoError(t, err)
			require.True(t, ok)
			for i := range 9 {
				mustClaim(t, m, "k"+strconv.Itoa(i), time.Hour)
			}
			_, err = m.Claim(ctx, "new", dedupe.NewToken(), time.Hour)
			require.ErrorIs(t, err, dedupe.ErrFull)
			clock.Advance(2 * time.Second)
			require.True(t, mustClaim(t, m, "new", time.Hour), "lapsed confirmed claim not reclaimed")
			require.Equal(t, 10, m.Len())
			ok, err = m.Confirm(ctx, "short", tok, time.Hour)
			require.NoError(t, err)
			require.False(t, ok, "a lapsed claim cannot be confirmed")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, clock := newFakeMemory(t, dedupe.WithMemoryMaxEntries(10))
			tc.run(t, m, clock)
		})
	}
}

func TestMemoryNeverExceedsBound(t *testing.T) {
	for _, max := range []int{1, 7, 3000, 20_000} {
		t.Run(strconv.Itoa(max), func(t *testing.T) {
			m, clock := newFakeMemory(t, dedupe.WithMemoryMaxEntries(max))
			ctx := context.Background()
			var full int
			for i := range 2 * max {
				k := "k" + strconv.Itoa(i)
				o, err := m.Claim(ctx, k, dedupe.NewToken(), time.Minute)
				if errors.Is(err, dedupe.ErrFull) {
					full++
					continue
				}
				require.NoError(t, err, "Claim(%s)", k)
				require.Equal(t, dedupe.Claimed, o, "Claim(%s)", k)
				if i%2 == 0 {
					require.NoError(t, m.Complete(ctx, k, "", time.Hour))
				}
				if i%97 == 0 {
					clock.Advance(time.Second)
				}
			}
			assert.LessOrEqual(t, m.Len(), max, "Len above the bound")
			if max >= 3000 {
				assert.GreaterOrEqual(t, m.Len(), max*9/10, "want the store nearly full")
			}
			assert.NotEqual(t, 2*max, full, "every Claim failed")
		})
	}
}

func TestMemoryConcurrentMixed(t *testing.T) {
	const max = 5000
	m, clock := newFakeMemory(t, dedupe.WithMemoryMaxEntries(max))
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				k := strconv.Itoa((g*7919 + i) % 6000)
				tok := dedupe.NewToken()
				o, err := m.Claim(ctx, k, tok, time.Second)
				if err != nil && !assert.ErrorIs(t, err, dedupe.ErrFull) {
					return
				}
				switch {
				case o == dedupe.Claimed && i%3 == 0:
					err = m.Release(ctx, k, tok)
				case o == dedupe.Claimed && i%3 == 1:
					_, err = m.Confirm(ctx, k, tok, time.Minute)
				case o == dedupe.Claimed:
					err = m.Complete(ctx, k, tok, time.Minute)
				}
				if err != nil && !assert.ErrorIs(t, err, dedupe.ErrFull) {
					return
				}
				if i%500 == 0 {
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, m.Len(), max, "Len above the bound")
}

func TestMemoryHugeDurations(t *testing.T) {
	m, clock := newFakeMemory(t)
	ctx := context.Background()
	require.True(t, mustClaim(t, m, "a", math.MaxInt64), "Claim failed")
	require.NoError(t, m.Complete(ctx, "b", "", math.MaxInt64))
	clock.Advance(100_000 * time.Hour)
	for _, k := range []string{"a", "b"} {
		assert.False(t, mustClaim(t, m, k, time.Hour), "%s: a lease or retention of MaxInt64 lapsed (overflow)", k)
	}
}

func TestMemoryOptionPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"zero max", func() { dedupe.WithMemoryMaxEntries(0) }},
		{"nil clock", func() { dedupe.WithMemoryClock(nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Panics(t, tc.f)
		})
	}
}

// TestMemoryNoGoroutines checks that a Memory store starts no goroutine.
func TestMemoryNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	m := dedupe.NewMemory()
	ctx := context.Background()
	for i := range 1000 {
		k := strconv.Itoa(i)
		mustClaim(t, m, k, time.Millisecond)
		require.NoError(t, m.Complete(ctx, k, "", time.Millisecond))
	}
	require.NoError(t, m.Close())
	waitGoroutines(t, before)
}

// waitGoroutines waits until at most n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMemoryKeepsNoKey pins that an entry keeps a fixed-size hash of its
// key, not the key: 2,000 done entries of 8 KiB keys hold far less than the
// keys' 16 MB, and keys that differ only in their last byte stay distinct.
func TestMemoryKeepsNoKey(t *testing.T) {
	const n, size = 2000, 8 << 10
	ctx := context.Background()
	long := func(i int) string {
		b := make([]byte, size)
		for j := range b {
			b[j] = 'k'
		}
		return string(strconv.AppendInt(b[:size-8], int64(i), 10))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := dedupe.NewMemory()
	defer m.Close()
	for i := range n {
		require.NoError(t, m.Complete(ctx, long(i), "", time.Hour))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, held, int64(n*size/8), "the store holds %d bytes for %d entries of %d-byte keys", held, n, size)
	assert.Equal(t, n, m.Len())
	for _, i := range []int{0, 1, n - 1} {
		o, err := m.Claim(ctx, long(i), "tok", time.Minute)
		require.NoError(t, err)
		assert.Equal(t, dedupe.Duplicate, o, "key %d", i)
	}
	o, err := m.Claim(ctx, long(n), "tok", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Claimed, o, "a key differing in its last bytes is new")
	runtime.KeepAlive(m)
}
