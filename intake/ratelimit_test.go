package intake_test

import (
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/intake"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRateLimitBucket(t *testing.T) {
	clock := newClock()
	var seen atomic.Int64
	var c intake.Counter
	h, err := intake.RateLimit(okHandler(&seen), intake.RateLimitConfig{Rate: 2, Burst: 3, Now: clock.Now, OnRefuse: c.Observe})
	require.NoError(t, err)
	r := func() *http.Request { return request("192.0.2.1:1", nil) }

	for i := 0; i < 3; i++ {
		assert.Equal(t, http.StatusOK, serve(h, r()).Code, "burst %d", i)
	}
	w := serve(h, r())
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"), "0.5 s to the next token, rounded up")
	assert.Equal(t, "Too Many Requests\n", w.Body.String())
	assert.Equal(t, int64(3), seen.Load())

	// A refused request takes no token: half a second later one is there.
	clock.Add(500 * time.Millisecond)
	assert.Equal(t, http.StatusOK, serve(h, r()).Code)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, r()).Code)

	// The bucket refills to Burst, not beyond.
	clock.Add(time.Hour)
	for i := 0; i < 3; i++ {
		assert.Equal(t, http.StatusOK, serve(h, r()).Code)
	}
	assert.Equal(t, http.StatusTooManyRequests, serve(h, r()).Code)

	// A clock stepping back adds no tokens.
	clock.Add(-time.Minute)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, r()).Code)
	assert.Equal(t, uint64(4), c.Count(intake.ReasonRateLimited))
	assert.Equal(t, int64(7), seen.Load())
}

func TestRateLimitRetryAfterFromBucket(t *testing.T) {
	for _, tc := range []struct {
		rate    float64
		advance time.Duration
		want    string
	}{
		{rate: 0.1, want: "10"},                                  // 10 s a token
		{rate: 0.1, advance: 2500 * time.Millisecond, want: "8"}, // 7.5 s left, rounded up
		{rate: 1.0 / 3600, want: "3600"},                         // one an hour
		{rate: 1000, want: "1"},                                  // 1 ms left: at least 1
	} {
		clock := newClock()
		var n atomic.Int64
		h, err := intake.RateLimit(okHandler(&n), intake.RateLimitConfig{Rate: tc.rate, Burst: 1, Now: clock.Now, Status: http.StatusServiceUnavailable})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, serve(h, request("192.0.2.1:1", nil)).Code)
		clock.Add(tc.advance)
		w := serve(h, request("192.0.2.1:1", nil))
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, tc.want, w.Header().Get("Retry-After"), "rate %v", tc.rate)
	}
}

func TestRateLimitPerClient(t *testing.T) {
	clock := newClock()
	var seen atomic.Int64
	res := mustResolver(t, intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8")})
	h, err := intake.RateLimit(okHandler(&seen), intake.RateLimitConfig{Rate: 1, Burst: 1, PerClient: true, Resolver: res, Now: clock.Now})
	require.NoError(t, err)

	assert.Equal(t, http.StatusOK, serve(h, request("192.0.2.1:1", nil)).Code)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request("192.0.2.1:2", nil)).Code, "same client, other port")
	assert.Equal(t, http.StatusOK, serve(h, request("192.0.2.2:1", nil)).Code, "another client has its own bucket")
	assert.Equal(t, http.StatusOK, serve(h, request("10.1.1.1:1", xff("192.0.2.3"))).Code, "keyed by the resolved client")
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request("10.2.2.2:1", xff("192.0.2.3"))).Code, "through another proxy, same client")
	assert.Equal(t, http.StatusOK, serve(h, request("[::ffff:192.0.2.4]:1", nil)).Code)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request("192.0.2.4:1", nil)).Code, "mapped and plain IPv4 are one client")

	// Unresolvable clients share one bucket.
	assert.Equal(t, http.StatusOK, serve(h, request("10.1.1.1:1", xff("bogus"))).Code)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request("garbage", nil)).Code)
	assert.Equal(t, 5, intake.LimiterClients(h))
}

func TestRateLimitClientCap(t *testing.T) {
	clock := newClock()
	var seen atomic.Int64
	h, err := intake.RateLimit(okHandler(&seen), intake.RateLimitConfig{Rate: 1.0 / 60, Burst: 1, PerClient: true, MaxClients: 2, Now: clock.Now})
	require.NoError(t, err)
	a, b, c := "192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"

	require.Equal(t, http.StatusOK, serve(h, request(a, nil)).Code)
	require.Equal(t, http.StatusOK, serve(h, request(b, nil)).Code)
	assert.Equal(t, 2, intake.LimiterClients(h))
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request(a, nil)).Code, "a is now most recent")

	// c evicts the least recently seen bucket, b's; the set stays at the cap.
	require.Equal(t, http.StatusOK, serve(h, request(c, nil)).Code)
	assert.Equal(t, 2, intake.LimiterClients(h))
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request(a, nil)).Code, "a's bucket was kept")
	assert.Equal(t, http.StatusOK, serve(h, request(b, nil)).Code, "b was evicted and starts full")
	assert.Equal(t, 2, intake.LimiterClients(h))

	// Many clients never grow the set past the cap.
	for i := 0; i < 100; i++ {
		serve(h, request("198.51.100."+string(rune('0'+i%10))+":1", nil))
	}
	assert.Equal(t, 2, intake.LimiterClients(h))

	def, err := intake.RateLimit(okHandler(&seen), intake.RateLimitConfig{Rate: 1, Burst: 1, PerClient: true, Now: clock.Now})
	require.NoError(t, err)
	for i := 0; i < intake.DefaultMaxClients+10; i++ {
		serve(def, request(fmtAddr(i), nil))
	}
	assert.Equal(t, intake.DefaultMaxClients, intake.LimiterClients(def))
}

func fmtAddr(i int) string {
	return "[2001:db8::" + hex4(i) + "]:1"
}

func hex4(i int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[i>>12&15], digits[i>>8&15], digits[i>>4&15], digits[i&15]})
}

func TestRateLimitConcurrent(t *testing.T) {
	clock := newClock()
	var seen atomic.Int64
	h, err := intake.RateLimit(okHandler(&seen), intake.RateLimitConfig{Rate: 1, Burst: 50, Now: clock.Now})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var refused atomic.Int64
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if serve(h, request("192.0.2.1:1", nil)).Code != http.StatusOK {
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(50), seen.Load(), "exactly Burst pass with the clock still")
	assert.Equal(t, int64(150), refused.Load())
}

func TestRateLimitConfig(t *testing.T) {
	var n atomic.Int64
	for name, cfg := range map[string]intake.RateLimitConfig{
		"no rate":       {Burst: 1},
		"negative rate": {Rate: -1, Burst: 1},
		"NaN rate":      {Rate: math.NaN(), Burst: 1},
		"inf rate":      {Rate: math.Inf(1), Burst: 1},
		"no burst":      {Rate: 1},
		"bad status":    {Rate: 1, Burst: 1, Status: http.StatusForbidden},
		"negative cap":  {Rate: 1, Burst: 1, MaxClients: -1},
	} {
		_, err := intake.RateLimit(okHandler(&n), cfg)
		assert.ErrorIs(t, err, intake.ErrConfig, name)
	}
	_, err := intake.RateLimit(nil, intake.RateLimitConfig{Rate: 1, Burst: 1})
	assert.ErrorIs(t, err, intake.ErrConfig)
}
