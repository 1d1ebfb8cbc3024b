package keyfetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// server starts a loopback TLS server running h and a Fetcher allowed to
// reach it (with its client) under cfg.
func server(t *testing.T, cfg Config, h http.HandlerFunc) (*httptest.Server, *Fetcher) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	cfg.Client = srv.Client()
	cfg.AllowedHosts = append(cfg.AllowedHosts, srv.Listener.Addr().String())
	return srv, New(cfg)
}

func TestFetchServesAndCaches(t *testing.T) {
	var hits atomic.Int32
	now := time.Unix(1_700_000_000, 0)
	srv, f := server(t, Config{TTL: time.Minute, Clock: func() time.Time { return now }}, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("PEM"))
	})
	for range 3 {
		b, err := f.Fetch(context.Background(), srv.URL+"/cert.pem")
		require.NoError(t, err)
		assert.Equal(t, "PEM", string(b))
	}
	assert.EqualValues(t, 1, hits.Load(), "served from the cache")
	now = now.Add(time.Minute)
	_, err := f.Fetch(context.Background(), srv.URL+"/cert.pem")
	require.NoError(t, err)
	assert.EqualValues(t, 2, hits.Load(), "refetched after the TTL")
}

func TestFetchRefusesBeforeAnyRequest(t *testing.T) {
	var hits atomic.Int32
	srv, f := server(t, Config{}, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	host := srv.Listener.Addr().String()
	for _, u := range []string{
		"http://" + host + "/cert.pem",          // not https
		"https://user:pw@" + host + "/cert.pem", // user information
		"https://example.com/cert.pem",          // host not allowed
		"https://127.0.0.1/cert.pem",            // allowed host, other port
		"ftp://" + host + "/x",
		"://bad",
		"",
	} {
		_, err := f.Fetch(context.Background(), u)
		assert.ErrorIs(t, err, ErrNotAllowed, u)
		assert.ErrorIs(t, err, ErrFetch, u)
	}
	assert.Zero(t, hits.Load())
}

func TestFetchDoesNotFollowRedirects(t *testing.T) {
	var target atomic.Int32
	srv, f := server(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			target.Add(1)
			return
		}
		http.Redirect(w, r, "/moved", http.StatusFound)
	})
	_, err := f.Fetch(context.Background(), srv.URL+"/cert.pem")
	require.ErrorIs(t, err, ErrFetch)
	assert.Contains(t, err.Error(), "302")
	assert.Zero(t, target.Load(), "redirect not followed")
	assert.Zero(t, f.Len(), "failures are not cached")
}

func TestFetchSizeCap(t *testing.T) {
	srv, f := server(t, Config{MaxBytes: 100}, func(w http.ResponseWriter, r *http.Request) {
		n := 100
		if r.URL.Path == "/big" {
			n = 101
		}
		_, _ = w.Write([]byte(strings.Repeat("a", n)))
	})
	b, err := f.Fetch(context.Background(), srv.URL+"/ok")
	require.NoError(t, err)
	assert.Len(t, b, 100)
	_, err = f.Fetch(context.Background(), srv.URL+"/big")
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Equal(t, DefaultMaxBytes, int(New(Config{}).cfg.MaxBytes))
}

func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, f := server(t, Config{Timeout: 50 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		// Hold until the test ends: the fetcher must give up on its own
		// timeout. (Returning when the request's context ended raced the
		// client under load into reading an empty answer.)
		<-release
	})
	defer close(release)
	_, err := f.Fetch(context.Background(), srv.URL+"/slow")
	assert.ErrorIs(t, err, ErrFetch)
}

func TestFetchNon200(t *testing.T) {
	srv, f := server(t, Config{}, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	_, err := f.Fetch(context.Background(), srv.URL+"/missing.pem")
	assert.ErrorIs(t, err, ErrFetch)
	assert.NotContains(t, err.Error(), "missing.pem", "errors never quote the URL")
}

func TestFetchCacheBound(t *testing.T) {
	srv, f := server(t, Config{MaxEntries: 3}, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.URL.Path))
	})
	for i := range 10 {
		_, err := f.Fetch(context.Background(), srv.URL+"/"+strings.Repeat("x", i+1))
		require.NoError(t, err)
		assert.LessOrEqual(t, f.Len(), 3)
	}
	assert.Equal(t, 3, f.Len())
	// The newest entries are kept.
	f.mu.Lock()
	_, newest := f.cache[srv.URL+"/"+strings.Repeat("x", 10)]
	_, oldest := f.cache[srv.URL+"/x"]
	f.mu.Unlock()
	assert.True(t, newest)
	assert.False(t, oldest)
}

func TestFetchCoalescesConcurrentRequests(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv, f := server(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		_, _ = w.Write([]byte("PEM"))
	})
	const n = 20
	var wg sync.WaitGroup
	results := make([]string, n)
	for i := range n {
		wg.Go(func() {
			b, err := f.Fetch(context.Background(), srv.URL+"/cert.pem")
			if assert.NoError(t, err) {
				results[i] = string(b)
			}
		})
	}
	require.Eventually(t, func() bool { return hits.Load() == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // let the callers join the flight
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, hits.Load(), "one request for all callers")
	for _, r := range results {
		assert.Equal(t, "PEM", r)
	}
}

func TestFetchCallerCancelDoesNotFailOthers(t *testing.T) {
	release := make(chan struct{})
	srv, f := server(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = w.Write([]byte("PEM"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := f.Fetch(ctx, srv.URL+"/c.pem"); errc <- err }()
	require.Eventually(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.inflight) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)
	close(release)
	b, err := f.Fetch(context.Background(), srv.URL+"/c.pem")
	require.NoError(t, err)
	assert.Equal(t, "PEM", string(b))
	f.mu.Lock()
	assert.Equal(t, 1, f.fetches, "the second caller joined or reused the first fetch")
	f.mu.Unlock()
}

func TestMatchHost(t *testing.T) {
	for _, c := range []struct {
		pattern, host string
		want          bool
	}{
		{"api.paypal.com", "api.paypal.com", true},
		{"api.paypal.com", "API.PayPal.com", true},
		{"api.paypal.com", "xapi.paypal.com", false},
		{"*.paypal.com", "api.paypal.com", true},
		{"*.paypal.com", "api.sandbox.paypal.com", true},
		{"*.paypal.com", "paypal.com", false},
		{"*.paypal.com", "evilpaypal.com", false},
		{"*.paypal.com", "paypal.com.evil.com", false},
		{"*.paypal.com", ".paypal.com", false},
		{"*.paypal.com", "a..paypal.com", false},
		{"sns.*.amazonaws.com", "sns.us-east-1.amazonaws.com", true},
		{"sns.*.amazonaws.com", "sns.a.b.amazonaws.com", false},
		{"sns.*.amazonaws.com", "sns..amazonaws.com", false},
		{"sns.*.amazonaws.com", "sns.us-east-1.amazonaws.com.evil.com", false},
		{"sns.*.amazonaws.com", "s3.us-east-1.amazonaws.com", false},
		{"sns.*.amazonaws.com", "sns.us_east.amazonaws.com", false},
		{"", "x", false},
	} {
		assert.Equal(t, c.want, MatchHost(c.pattern, c.host), "%s ~ %s", c.pattern, c.host)
	}
}

func TestAllowedPorts(t *testing.T) {
	p := []string{"*.paypal.com"}
	assert.True(t, Allowed("https://api.paypal.com/v1/certs/x", p))
	assert.True(t, Allowed("https://api.paypal.com:443/v1/certs/x", p))
	assert.False(t, Allowed("https://api.paypal.com:8443/v1/certs/x", p))
	assert.False(t, Allowed("https://api.paypal.com\\@evil.com/x", p))
	assert.False(t, Allowed("https://evil.com#.paypal.com", p))
}

func FuzzAllowed(f *testing.F) {
	for _, s := range []string{"https://sns.us-east-1.amazonaws.com/x.pem", "https://a@b", "https://[::1]:443/", "https://sns.%2e.amazonaws.com/"} {
		f.Add(s)
	}
	pats := []string{"sns.*.amazonaws.com", "*.paypal.com"}
	f.Fuzz(func(t *testing.T, s string) {
		if Allowed(s, pats) {
			assert.True(t, strings.HasPrefix(s, "https://"), "allowed only https")
		}
	})
}

func TestFetchInflightBound(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	srv, f := server(t, Config{MaxInflight: 2}, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		_, _ = w.Write([]byte("PEM"))
	})
	var wg sync.WaitGroup
	for _, p := range []string{"/a", "/b"} {
		wg.Go(func() {
			_, err := f.Fetch(context.Background(), srv.URL+p)
			assert.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool { return hits.Load() == 2 }, 5*time.Second, time.Millisecond)
	_, err := f.Fetch(context.Background(), srv.URL+"/c")
	assert.ErrorIs(t, err, ErrBusy)
	assert.ErrorIs(t, err, ErrFetch)
	// Joining a URL already in flight is not refused.
	done := make(chan error, 1)
	go func() { _, err := f.Fetch(context.Background(), srv.URL+"/a"); done <- err }()
	time.Sleep(10 * time.Millisecond)
	close(release)
	wg.Wait()
	assert.NoError(t, <-done)
	assert.EqualValues(t, 2, hits.Load())
	_, err = f.Fetch(context.Background(), srv.URL+"/c")
	assert.NoError(t, err, "room again once the fetches end")
}
