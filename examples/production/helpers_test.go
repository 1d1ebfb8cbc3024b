package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/hookwise/hookwise/internal/redistest"
)

// Secrets of the tests (never of a deployment: the program has none).
const (
	githubSecret   = "test-github-secret-9f2c"
	stripeSecret   = "whsec_test_stripe_secret_41d7"
	standardSecret = "whsec_aG9va3dpc2UtcHJvZHVjdGlvbi10ZXN0LXNlY3JldA==" // base64("hookwise-production-test-secret")
)

// syncBuffer is an io.Writer the program writes to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON lines written so far, decoded.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "not a JSON line: %s", sc.Text())
		out = append(out, m)
	}
	return out
}

// app is one run() of the program, in this process.
type app struct {
	t              *testing.T
	base, admin    string // http://127.0.0.1:port
	stdout, stderr *syncBuffer
	stop           context.CancelFunc // the shutdown signal
	done           chan error
}

// baseEnv is a complete environment for a Redis server at redisAddr, on
// free loopback ports.
func baseEnv(t *testing.T, redisAddr string) map[string]string {
	return map[string]string{
		"REDIS_URL":               "redis://" + redisAddr + "/0",
		"GITHUB_WEBHOOK_SECRET":   githubSecret,
		"STRIPE_WEBHOOK_SECRET":   stripeSecret,
		"STANDARD_WEBHOOK_SECRET": standardSecret,
		"ADDR":                    fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)),
		"ADMIN_ADDR":              fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)),
		"POD_NAME":                "replica-0",
		"LOG_LEVEL":               "debug",
		"SHUTDOWN_DRAIN":          "0s",
		"SHUTDOWN_TIMEOUT":        "5s",
	}
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// start runs the program with env and waits until /readyz answers 200.
func start(t *testing.T, env map[string]string) *app {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &app{
		t:      t,
		base:   "http://" + env["ADDR"],
		admin:  "http://" + env["ADMIN_ADDR"],
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		stop:   cancel,
		done:   make(chan error, 1),
	}
	go func() { a.done <- run(ctx, envFunc(env), a.stdout, a.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-a.done:
		case <-time.After(20 * time.Second):
			t.Error("run did not return")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-a.done:
			a.done <- err
			require.NoError(t, err, "run returned before it was ready; logs:\n%s", a.stderr.String())
		default:
		}
		if code, _ := get(a.admin + "/readyz"); code == http.StatusOK {
			return a
		}
		require.True(t, time.Now().Before(deadline), "not ready after 10 s; logs:\n%s", a.stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
}

// wait returns run's error once it returned.
func (a *app) wait() error {
	a.t.Helper()
	select {
	case err := <-a.done:
		a.done <- err // for Cleanup
		return err
	case <-time.After(20 * time.Second):
		a.t.Fatalf("run did not return within 20 s; logs:\n%s", a.stderr.String())
		return nil
	}
}

// send posts a signed request and returns the status.
func send(t *testing.T, r *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// handled waits until the program's output has n lines and returns them.
func (a *app) handled(n int) []map[string]any {
	a.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		lines := a.stdout.lines(a.t)
		if len(lines) >= n {
			return lines
		}
		require.True(a.t, time.Now().Before(deadline), "%d of %d events handled after 15 s; logs:\n%s", len(lines), n, a.stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape reads /metrics into metric families.
func (a *app) scrape() map[string]*dto.MetricFamily {
	a.t.Helper()
	code, body := get(a.admin + "/metrics")
	require.Equal(a.t, http.StatusOK, code, body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(a.t, err)
	return mfs
}

// value returns the one series of family name whose labels include want
// (a counter's or gauge's value, a histogram's count), or -1 when there is
// none or more than one.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	vs := matching(mfs, name, want)
	if len(vs) != 1 {
		return -1
	}
	return vs[0]
}

// sum adds the series of family name whose labels include want.
func sum(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var total float64
	for _, v := range matching(mfs, name, want) {
		total += v
	}
	return total
}

func matching(mfs map[string]*dto.MetricFamily, name string, want map[string]string) []float64 {
	mf, ok := mfs[name]
	if !ok {
		return nil
	}
	var out []float64
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			out = append(out, m.GetCounter().GetValue())
		case m.Gauge != nil:
			out = append(out, m.GetGauge().GetValue())
		case m.Histogram != nil:
			out = append(out, float64(m.GetHistogram().GetSampleCount()))
		}
	}
	return out
}

// collector is a fake OTLP/HTTP trace collector.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	srv   *httptest.Server
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				c.spans = append(c.spans, ss.GetSpans()...)
			}
		}
		c.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) all() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...)
}
