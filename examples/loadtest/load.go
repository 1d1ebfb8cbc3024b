package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookwise/hookwise/providers/stripe"
)

// minBody is the smallest -size: the envelope without padding, with room
// for long event IDs.
const minBody = 160

// delivery is one pre-signed request: a body and its headers, which the
// sender shares read-only across the request it builds.
type delivery struct {
	body   []byte
	header http.Header
}

// presign builds count distinct Stripe deliveries of size bytes each, signed
// at t, in one arena, using every CPU. Event IDs are evt_<prefix>_<i>.
func presign(secret, prefix string, count, size int, t time.Time) []delivery {
	arena := make([]byte, count*size)
	out := make([]delivery, count)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < count; i += workers {
				b := arena[i*size : i*size : (i+1)*size]
				b = append(b, `{"id":"evt_`...)
				b = append(b, prefix...)
				b = append(b, '_')
				b = strconv.AppendInt(b, int64(i), 10)
				b = append(b, `","object":"event","type":"invoice.paid","api_version":"2024-06-20","data":{"object":{"pad":"`...)
				const tail = `"}}}`
				for len(b) < size-len(tail) {
					b = append(b, 'x')
				}
				b = append(b, tail...)
				out[i] = delivery{body: b, header: http.Header{
					"Content-Type":         {"application/json; charset=utf-8"},
					stripe.HeaderSignature: {stripe.Sign(secret, t, b)},
				}}
			}
		})
	}
	wg.Wait()
	return out
}

// loopbackOnly refuses a target that is not an http URL on a loopback IP.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Scheme != "http" || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url must be http:// on a loopback IP such as 127.0.0.1, not %q", raw)
	}
	return nil
}

// newClient returns a keep-alive client with an idle connection for every
// concurrent request.
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        2 * concurrency,
			MaxIdleConnsPerHost: 2 * concurrency,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// loadResult is what the generator measured.
type loadResult struct {
	requests  int
	elapsed   time.Duration
	latencies []time.Duration // sorted
	status    map[int]int
	errors    int
	firstErr  error
}

// acked counts the 2xx answers.
func (r *loadResult) acked() int {
	n := 0
	for code, c := range r.status {
		if code >= 200 && code < 300 {
			n += c
		}
	}
	return n
}

// send posts deliveries to target from concurrency workers until they are
// all sent, the deadline passes, or ctx ends.
func send(ctx context.Context, client *http.Client, target string, ds []delivery, concurrency int, d time.Duration) *loadResult {
	var next atomic.Int64
	deadline := time.Now().Add(d)
	type worker struct {
		lat    []time.Duration
		status map[int]int
		errs   int
		err    error
	}
	ws := make([]worker, concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range ws {
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
				me := &ws[w]
				me.lat = make([]time.Duration, 0, len(ds)/concurrency+1)
				me.status = make(map[int]int)
				for ctx.Err() == nil {
					i := int(next.Add(1)) - 1
					if i >= len(ds) || time.Now().After(deadline) {
						return
					}
					t0 := time.Now()
					code, err := post(ctx, client, target, ds[i])
					if err != nil {
						me.errs++
						if me.err == nil {
							me.err = err
						}
						continue
					}
					me.lat = append(me.lat, time.Since(t0))
					me.status[code]++
				}
			})
		})
	}
	wg.Wait()
	r := &loadResult{elapsed: time.Since(start), status: make(map[int]int)}
	for _, w := range ws {
		r.latencies = append(r.latencies, w.lat...)
		for k, v := range w.status {
			r.status[k] += v
		}
		r.errors += w.errs
		if r.firstErr == nil {
			r.firstErr = w.err
		}
	}
	r.requests = len(r.latencies) + r.errors
	slices.Sort(r.latencies)
	return r
}

func post(ctx context.Context, client *http.Client, target string, d delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header = d.header
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// percentile returns the q-quantile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
