package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// TestMain lets the test binary be a server child, as the command is.
func TestMain(m *testing.M) {
	if cfg, ok := os.LookupEnv(childEnv); ok {
		if err := serveChild(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runJSON runs the tool with short, small settings and decodes its report.
func runJSON(t *testing.T, args ...string) report {
	t.Helper()
	args = append([]string{"-duration", "300ms", "-n", "1500", "-c", "4", "-size", "256",
		"-sleep", "5ms", "-sleep-workers", "64", "-drain", "10s", "-rounds", "1", "-json"}, args...)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out.String())
	}
	return rep
}

// checkCounted asserts that every request was acknowledged and every
// acknowledged event handled.
func checkCounted(t *testing.T, r *result) {
	t.Helper()
	if r.Requests == 0 || r.Errors != 0 || r.Status["200"] != r.Requests {
		t.Errorf("%s: requests %d, errors %d (%s), status %v", r.Mode, r.Requests, r.Errors, r.FirstError, r.Status)
	}
	if r.Handled == nil || r.Lost == nil || r.DeadLettered == nil || r.Pending == nil {
		t.Fatalf("%s: counts missing", r.Mode)
	}
	if *r.Lost != 0 || *r.Handled != int64(r.Acknowledged) || *r.DeadLettered != 0 || *r.Pending != 0 {
		t.Errorf("%s: acknowledged %d, handled %d, dead %d, pending %d, lost %d", r.Mode, r.Acknowledged, *r.Handled, *r.DeadLettered, *r.Pending, *r.Lost)
	}
	if r.Acknowledged != r.Requests+warmup(config{concurrency: 4}) {
		t.Errorf("%s: acknowledged %d, want requests %d + warm-up", r.Mode, r.Acknowledged, r.Requests)
	}
	if r.RPS <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms || r.P999ms < r.P99ms {
		t.Errorf("%s: rps %v, p50 %v, p99 %v, p99.9 %v", r.Mode, r.RPS, r.P50ms, r.P99ms, r.P999ms)
	}
	// Handled/s counts completions up to the last one, so it is positive and,
	// as the backlog drains after sending stops, not far above req/s.
	if !r.Drained || r.HandledPS == nil || *r.HandledPS <= 0 || *r.HandledPS > 1.5*r.RPS {
		t.Errorf("%s: drained %v, handled/s %v, req/s %v", r.Mode, r.Drained, ff(r.HandledPS, 0), r.RPS)
	}
	if r.ServerCPUus == nil || *r.ServerCPUus <= 0 {
		t.Errorf("%s: server CPU per event %v", r.Mode, ff(r.ServerCPUus, 1))
	}
}

func TestInProcessModes(t *testing.T) {
	rep := runJSON(t, "-modes", "bare,memory,memory-sleep")
	if len(rep.Results) != 3 {
		t.Fatalf("results = %d, want 3", len(rep.Results))
	}
	for _, r := range rep.Results {
		checkCounted(t, r)
	}
	mem, sleep := rep.Results[1], rep.Results[2]
	if mem.RPSvsBare == nil || mem.HandledVsBare == nil || mem.CPUvsBare == nil || mem.P99vsBare == nil || sleep.P99vsNoSleep == nil {
		t.Errorf("ratios missing: %+v %+v", mem, sleep)
	}
	// The pipeline verifies, dedupes and queues: it costs the server more
	// CPU per event than reading a body does.
	if *mem.CPUvsBare >= 1 {
		t.Errorf("memory server CPU per event %v not above bare's %v", *mem.ServerCPUus, *rep.Results[0].ServerCPUus)
	}
}

func TestRedisModes(t *testing.T) {
	srv := redistest.Start(t)
	rep := runJSON(t, "-redis-url", "redis://"+srv.Addr+"/0", "-modes", "bare,redis,redis-sleep,redis-floor,redis-floor-sleep")
	require.Len(t, rep.Results, 5)
	assert.Nil(t, rep.Results[0].RedisCPUus, "bare uses no Redis")
	for _, r := range rep.Results[1:] {
		checkCounted(t, r)
		// redis-server's CPU time over the measured span, per event: the
		// enqueue alone takes at least a microsecond.
		if assert.NotNil(t, r.RedisCPUus, r.Mode) {
			assert.Greater(t, *r.RedisCPUus, 1.0, r.Mode)
		}
	}
}

func TestParseRedisCPU(t *testing.T) {
	d, err := parseRedisCPU("# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.500000\r\nused_cpu_sys_children:9.000000\r\n")
	require.NoError(t, err)
	assert.Equal(t, 3750*time.Millisecond, d)
	_, err = parseRedisCPU("# CPU\r\nused_cpu_sys:1.25\r\n")
	assert.Error(t, err, "one of the two fields missing")
	_, err = parseRedisCPU("used_cpu_sys:x\r\nused_cpu_user:1\r\n")
	assert.Error(t, err, "not a number")
}

func TestRoundsAndTable(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-modes", "bare,memory", "-rounds", "2", "-duration", "100ms", "-n", "300", "-c", "2", "-size", "200"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"req/s", "handled/s", "srv µs/ev", "gen µs/req", "bare", "memory", "per round", "x bare"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"loopback url", []string{"-url", "http://127.0.0.1:8080/webhooks/stripe"}, true},
		{"ipv6 loopback url", []string{"-url", "http://[::1]:8080/"}, true},
		{"remote url", []string{"-url", "http://203.0.113.7/"}, false},
		{"host name url", []string{"-url", "http://localhost:8080/"}, false},
		{"https url", []string{"-url", "https://127.0.0.1:8443/"}, false},
		{"redis mode without redis", []string{"-modes", "redis"}, false},
		{"floor mode without redis", []string{"-modes", "redis-floor"}, false},
		{"unknown mode", []string{"-modes", "bare,turbo"}, false},
		{"tiny body", []string{"-size", "10"}, false},
		{"blank secret", []string{"-secret", "  "}, false},
		{"zero concurrency", []string{"-c", "0"}, false},
		{"huge count", []string{"-n", "100000000"}, false},
		{"huge body", []string{"-size", "2000000"}, false},
		{"zero drain", []string{"-drain", "0s"}, false},
		{"negative gen-procs", []string{"-gen-procs", "-1"}, false},
		{"gen-procs left alone", []string{"-gen-procs", "0"}, true},
		{"mode twice", []string{"-modes", "bare,bare"}, false},
		{"url without port", []string{"-url", "http://127.0.0.1/"}, false},
		{"stray argument", []string{"extra"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if (err == nil) != tt.ok {
				t.Errorf("parseFlags(%q) = %v, want ok %v", tt.args, err, tt.ok)
			}
		})
	}
}

func TestRequestsDistinctSignedAndSized(t *testing.T) {
	rs := buildRequests("whsec_x", "/hooks", "t", 50, 300, time.Now())
	p, err := stripe.New("whsec_x")
	require.NoError(t, err)
	seen := map[string]bool{}
	for i, req := range rs.reqs {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(req)))
		require.NoError(t, err, "request %d", i)
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		assert.Equal(t, "/hooks", r.URL.Path)
		assert.Equal(t, body, rs.body(i))
		assert.Len(t, body, 300)
		assert.True(t, json.Valid(body))
		var v struct{ ID string }
		require.NoError(t, json.Unmarshal(body, &v))
		assert.False(t, seen[v.ID], "duplicate id %s", v.ID)
		seen[v.ID] = true
		assert.NoError(t, p.Verify(r, body), "request %d signature", i)
	}
}

// TestConnParsesAnswers drives conn against scripted answers: status,
// Content-Length, a body to skip, Connection: close, and refusals.
func TestConnParsesAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	answers := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 401 Unauthorized\r\ncontent-length: 5\r\n\r\nnope\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\nx\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	}
	go func() {
		i := 0
		for i < len(answers) {
			c, err := l.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			for i < len(answers) {
				r, err := http.ReadRequest(br)
				if err != nil {
					break
				}
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(c, answers[i])
				i++
				if i == 4 { // after Connection: close
					break
				}
			}
			c.Close()
		}
	}()
	c := &conn{addr: l.Addr().String()}
	req := []byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	for _, want := range []int{200, 401, 204, 503} {
		code, err := c.do(req)
		require.NoError(t, err)
		assert.Equal(t, want, code)
	}
	assert.Nil(t, c.c, "Connection: close closes")
	_, err = c.do(req) // redials; chunked answers are not delimited
	assert.ErrorIs(t, err, errNoLength)
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 1000; i++ {
		ds = append(ds, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 500, 0.99: 990, 0.999: 999, 1: 1000} {
		if got := percentile(ds, q); got != want {
			t.Errorf("percentile(%v) = %d, want %d", q, got, want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Errorf("percentile of nothing is not 0")
	}
}

func TestExternalURL(t *testing.T) {
	p, err := stripe.New("whsec_external")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := receiver.New(p, receiver.NewMux())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	defer rc.Shutdown(context.Background())
	rep := runJSON(t, "-url", srv.URL, "-secret", "whsec_external")
	if len(rep.Results) != 1 {
		t.Fatalf("results = %d", len(rep.Results))
	}
	r := rep.Results[0]
	if r.Mode != "external" || r.Requests == 0 || r.Status["200"] != r.Requests || r.Handled != nil || r.Lost != nil {
		t.Errorf("external result = %+v", r)
	}
	// A wrong secret is refused: the signing is real.
	rep = runJSON(t, "-url", srv.URL, "-secret", "whsec_wrong", "-n", "20")
	if r := rep.Results[0]; r.Status["401"] != r.Requests {
		t.Errorf("wrong secret: status %v", r.Status)
	}
}

// TestCatchUp leaves a backlog on purpose: 4 workers whose handlers sleep
// 25 ms finish at most 160 events per second, while 4 connections are
// acknowledged far faster, even on a loaded machine under the race detector
// (at 300 a second, 2 s of sending still leaves more than minCatchUpBacklog;
// at 5,000, the 800 events drain in 5 s). Catch-up/s times only the drain
// after sending stopped, so it must come near that capacity and never above
// it (counting the events handled while sending too, it would be above it);
// bare handles each event inline and leaves nothing to catch up.
func TestCatchUp(t *testing.T) {
	rep := runJSON(t, "-modes", "bare,memory-sleep", "-sleep", "25ms", "-sleep-workers", "4", "-n", "800", "-duration", "2s")
	require.Len(t, rep.Results, 2)
	bare, slow := rep.Results[0], rep.Results[1]
	checkCounted(t, bare)
	checkCounted(t, slow)
	assert.Nil(t, bare.CatchUpPS, "bare leaves no backlog")
	require.NotNil(t, slow.CatchUpPS, "no catch-up rate though the workers fall behind")
	const capacity = 4 / 0.025
	assert.LessOrEqual(t, *slow.CatchUpPS, 1.01*capacity, "faster than 8 workers sleeping 5 ms can be")
	assert.GreaterOrEqual(t, *slow.CatchUpPS, 0.5*capacity, "the drain alone runs near the workers' capacity")
	require.NotNil(t, slow.CatchUpVsBare)
	assert.InDelta(t, *slow.CatchUpPS / *bare.HandledPS, *slow.CatchUpVsBare, 0.01)
}

// TestCatchUpNeedsABacklog: below minCatchUpBacklog events left, or with a
// backlog not drained, a round reports no catch-up rate.
func TestCatchUpNeedsABacklog(t *testing.T) {
	assert.Zero(t, catchUp(minCatchUpBacklog-1, minCatchUpBacklog-1, time.Second, true))
	assert.InDelta(t, float64(minCatchUpBacklog)/2, catchUp(minCatchUpBacklog, minCatchUpBacklog, 2*time.Second, true), 1e-9)
	assert.Zero(t, catchUp(5000, 4000, time.Second, false), "not drained")
	assert.Zero(t, catchUp(5000, 5000, 0, true), "no time measured")
}
