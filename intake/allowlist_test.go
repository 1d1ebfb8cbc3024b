package intake_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/intake"
)

// okHandler stands for the receiver: it counts the requests it sees.
func okHandler(n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	})
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAllowList(t *testing.T) {
	var seen atomic.Int64
	var c intake.Counter
	list := intake.NewList(intake.NewPrefixSet(pfx("140.82.112.0/20", "2606:50c0::/32")...))
	res := mustResolver(t, intake.ResolverConfig{TrustedProxies: pfx("10.0.0.0/8")})
	h, err := intake.AllowList(okHandler(&seen), intake.AllowListConfig{List: list, Resolver: res, OnRefuse: c.Observe})
	require.NoError(t, err)

	cases := []struct {
		name   string
		r      *http.Request
		status int
		reason string
	}{
		{"listed peer", request("140.82.115.1:443", nil), 200, ""},
		{"listed IPv6 peer", request("[2606:50c0::9]:443", nil), 200, ""},
		{"listed IPv4-mapped peer", request("[::ffff:140.82.115.1]:443", nil), 200, ""},
		{"listed client behind trusted proxy", request("10.1.1.1:80", xff("140.82.115.1")), 200, ""},
		{"unlisted peer", request("203.0.113.9:443", nil), 403, intake.ReasonNotAllowed},
		{"unlisted peer spoofing a listed address", request("203.0.113.9:443", xff("140.82.115.1")), 403, intake.ReasonNotAllowed},
		{"unlisted client behind trusted proxy", request("10.1.1.1:80", xff("203.0.113.9")), 403, intake.ReasonNotAllowed},
		{"listed address left of an unlisted client", request("10.1.1.1:80", xff("140.82.115.1, 203.0.113.9")), 403, intake.ReasonNotAllowed},
		{"the proxy itself is not listed", request("10.1.1.1:80", nil), 403, intake.ReasonNotAllowed},
		{"malformed entry", request("10.1.1.1:80", xff("140.82.115.1, nope")), 403, intake.ReasonBadAddress},
		{"header too large", request("10.1.1.1:80", xff(strings.Repeat(" ", 5000)+"140.82.115.1")), 403, intake.ReasonHeaderTooLarge},
		{"too many hops", request("10.1.1.1:80", xff(strings.Repeat("10.0.0.1,", 40)+"10.0.0.1")), 403, intake.ReasonTooManyHops},
	}
	var refused int64
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := seen.Load()
			w := serve(h, tc.r)
			assert.Equal(t, tc.status, w.Code)
			if tc.status == 200 {
				assert.Equal(t, before+1, seen.Load())
				return
			}
			refused++
			assert.Equal(t, before, seen.Load(), "a refused request never reaches the receiver")
			assert.Equal(t, "Forbidden\n", w.Body.String(), "the body says no more than the status text")
			assert.Empty(t, w.Header().Get("Retry-After"))
		})
	}
	snap := c.Snapshot()
	assert.Equal(t, uint64(5), snap[intake.ReasonNotAllowed])
	assert.Equal(t, uint64(1), snap[intake.ReasonBadAddress])
	assert.Equal(t, uint64(1), snap[intake.ReasonHeaderTooLarge])
	assert.Equal(t, uint64(1), c.Count(intake.ReasonTooManyHops))
	var total uint64
	for _, v := range snap {
		total += v
	}
	assert.Equal(t, uint64(refused), total)
}

func TestAllowListUnloadedAnswers503(t *testing.T) {
	var seen atomic.Int64
	var c intake.Counter
	list := intake.NewList(nil)
	h, err := intake.AllowList(okHandler(&seen), intake.AllowListConfig{List: list, OnRefuse: c.Observe})
	require.NoError(t, err)

	w := serve(h, request("140.82.115.1:443", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "30", w.Header().Get("Retry-After"))
	assert.Equal(t, "Service Unavailable\n", w.Body.String())
	assert.Equal(t, uint64(1), c.Count(intake.ReasonUnloaded))
	assert.Zero(t, seen.Load())

	// Once a set is stored, the same request passes; a swap takes effect at once.
	list.Store(intake.NewPrefixSet(pfx("140.82.112.0/20")...))
	assert.Equal(t, http.StatusOK, serve(h, request("140.82.115.1:443", nil)).Code)
	list.Store(intake.NewPrefixSet(pfx("192.30.252.0/22")...))
	assert.Equal(t, http.StatusForbidden, serve(h, request("140.82.115.1:443", nil)).Code)

	// An empty set refuses everyone: fail closed.
	list.Store(intake.NewPrefixSet())
	assert.Equal(t, http.StatusForbidden, serve(h, request("192.30.252.1:443", nil)).Code)
}

func TestAllowListConfig(t *testing.T) {
	var n atomic.Int64
	_, err := intake.AllowList(okHandler(&n), intake.AllowListConfig{})
	assert.ErrorIs(t, err, intake.ErrConfig)
	_, err = intake.AllowList(nil, intake.AllowListConfig{List: intake.NewList(nil)})
	assert.ErrorIs(t, err, intake.ErrConfig)
	_, err = intake.AllowList(okHandler(&n), intake.AllowListConfig{List: intake.NewList(nil), UnloadedRetryAfter: -1})
	assert.ErrorIs(t, err, intake.ErrConfig)

	h, err := intake.AllowList(okHandler(&n), intake.AllowListConfig{List: intake.NewList(nil), UnloadedRetryAfter: 1500 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, "2", serve(h, request("1.2.3.4:1", nil)).Header().Get("Retry-After"), "1.5 s rounds up")
}

// TestAllowListOverHTTP runs the middleware in a real server: RemoteAddr is
// the loopback peer, which a forged X-Forwarded-For cannot change.
func TestAllowListOverHTTP(t *testing.T) {
	var seen atomic.Int64
	list := intake.NewList(intake.NewPrefixSet(pfx("140.82.112.0/20")...))
	h, err := intake.AllowList(okHandler(&seen), intake.AllowListConfig{List: list})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-For", "140.82.115.1")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "Forbidden\n", string(body))
	assert.Zero(t, seen.Load())

	list.Store(intake.NewPrefixSet(pfx("127.0.0.0/8")...))
	resp, err = srv.Client().Post(srv.URL, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(1), seen.Load())
}
