package receiver_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

// The fault suite drives receivers over real HTTP servers (httptest, on
// loopback) and counts every delivery: sent, acknowledged (2xx), handled,
// dead-lettered and lost = acknowledged − handled − dead-lettered, which must
// be 0. docs/reliability.md records the counts of a run (go test -v -run
// 'Fault' ./receiver/).

// stageCounter is an Observer counting the stages that end an event.
type stageCounter struct {
	enqueued, handled, dead, retried, rejected atomic.Int64
}

func (s *stageCounter) Observe(_ context.Context, o receiver.Observation) {
	switch o.Stage {
	case receiver.StageEnqueued:
		s.enqueued.Add(1)
	case receiver.StageHandled:
		s.handled.Add(1)
	case receiver.StageDeadLettered:
		s.dead.Add(1)
	case receiver.StageRetried:
		s.retried.Add(1)
	case receiver.StageRejected:
		s.rejected.Add(1)
	}
}

// faultServer serves h over a real loopback server, closed when the test
// ends, and returns a keep-alive client for it.
func faultServer(t *testing.T, h http.Handler, configure func(*http.Server)) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if configure != nil {
		configure(srv.Config)
	}
	srv.Start()
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32, DisableCompression: true},
	}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	return srv, client
}

// postTest sends a delivery signed for testProvider and returns the status
// and Retry-After.
func postTest(client *http.Client, url, id, typ string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("X-Sig", sign(body))
	req.Header.Set("X-Id", id)
	req.Header.Set("X-Type", typ)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// TestFaultOverload sends deliveries faster than the handlers can run, for a
// bounded period, into a small queue. Once the queue is full the receiver
// answers 503 with Retry-After; every acknowledged event is handled or
// dead-lettered by Shutdown; goroutines and heap stay bounded; and a
// refused delivery is accepted when the sender retries.
func TestFaultOverload(t *testing.T) {
	const (
		senders  = 8
		period   = time.Second
		bodySize = 32 << 10 // large enough that an unbounded backlog would show in the heap
	)
	obs := &stageCounter{}
	var calls atomic.Int64
	slow := receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		calls.Add(1)
		time.Sleep(10 * time.Millisecond) // slow work: 2 workers take ~200 events/s
		return nil
	})
	rc := newReceiver(t, slow, receiver.Workers(2), receiver.QueueCapacity(8),
		receiver.RetryAfter(3*time.Second), receiver.WithObserver(obs))
	srv, client := faultServer(t, rc, nil)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseG := ms.HeapAlloc, runtime.NumGoroutine()
	var maxHeap uint64
	maxG := baseG
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapAlloc)
			maxG = max(maxG, runtime.NumGoroutine())
		}
	})

	var sent, acked, refused, other atomic.Int64
	var refusedMu sync.Mutex
	var refusedIDs []string
	body := bytes.Repeat([]byte("x"), bodySize)
	deadline := time.Now().Add(period)
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("ov-%d-%d", w, i)
				sent.Add(1)
				code, retryAfter, err := postTest(client, srv.URL, id, "t", body)
				switch {
				case err != nil:
					t.Errorf("post %s: %v", id, err)
					return
				case code == http.StatusOK:
					acked.Add(1)
				case code == http.StatusServiceUnavailable:
					refused.Add(1)
					assert.Equal(t, "3", retryAfter, "503 Retry-After")
					refusedMu.Lock()
					refusedIDs = append(refusedIDs, id)
					refusedMu.Unlock()
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stopSampling)
	sampler.Wait()

	require.NotZero(t, refused.Load(), "overload not reached: none refused")
	require.NotZero(t, acked.Load(), "overload not reached: none acknowledged")
	// The sender retries a few refused deliveries once the backlog cleared:
	// the 503 released their claims, so they are taken now.
	retried := refusedIDs[:min(5, len(refusedIDs))]
	for _, id := range retried {
		var code int
		for range 200 { // the queue drains in well under a second
			var err error
			code, _, err = postTest(client, srv.URL, id, "t", body)
			require.NoError(t, err)
			if code != http.StatusServiceUnavailable {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		assert.Equal(t, http.StatusOK, code, "retry of refused %s: status", id)
		acked.Add(1)
	}
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)), "Shutdown")
	handled, dead := obs.handled.Load(), obs.dead.Load()
	lost := acked.Load() - handled - dead
	t.Logf("overload %v, %d senders: sent %d, acknowledged %d, refused 503 %d, other %d; %d refused resent and acknowledged; handled %d, dead-lettered %d, lost %d; goroutines %d → max %d; heap %.1f MiB → max %.1f MiB",
		period, senders, sent.Load(), acked.Load()-int64(len(retried)), refused.Load(), other.Load(), len(retried), handled, dead, lost,
		baseG, maxG, float64(baseHeap)/(1<<20), float64(maxHeap)/(1<<20))
	assert.Zero(t, other.Load(), "answers neither 200 nor 503")
	assert.Zero(t, lost, "lost; want all acknowledged handled")
	assert.Zero(t, dead, "dead-lettered; want all acknowledged handled")
	assert.Equal(t, acked.Load(), obs.enqueued.Load(), "enqueued, want acknowledged")
	assert.Equal(t, handled, calls.Load(), "handler calls, want handled")
	// Ceilings: senders and their server connections, 2 workers, the
	// sampler, and slack. An unbounded queue of 32 KiB bodies at the rate
	// refused here would hold hundreds of MiB.
	assert.LessOrEqual(t, maxG-baseG, 4*senders+32, "goroutines grew under overload")
	assert.LessOrEqual(t, maxHeap, baseHeap+64<<20, "heap grew from %d bytes under overload, want < 64 MiB growth", baseHeap)
}

// TestFaultHandlers counts what becomes of events whose handlers fail in
// each way. HandlerTimeout is a context deadline: a handler that ignores its
// context is not interrupted (Go cannot stop a goroutine), it is waited for.
func TestFaultHandlers(t *testing.T) {
	const (
		events      = 10
		maxAttempts = 3
		timeout     = 100 * time.Millisecond
	)
	tests := []struct {
		name        string
		fn          func(ctx context.Context, e *receiver.Event) error
		wantHandled int64
		wantCalls   int64
		wantReason  string // in every dead letter
	}{
		{"ok", func(context.Context, *receiver.Event) error { return nil }, events, events, ""},
		{"fail always", func(context.Context, *receiver.Event) error { return errors.New("boom") }, 0, events * maxAttempts, "boom"},
		{"permanent", func(context.Context, *receiver.Event) error { return receiver.Permanent(errors.New("bad data")) }, 0, events, "bad data"},
		{"panic", func(context.Context, *receiver.Event) error { panic("kaboom") }, 0, events * maxAttempts, "panicked: kaboom"},
		{"hang past timeout", func(ctx context.Context, _ *receiver.Event) error {
			<-ctx.Done()
			return ctx.Err()
		}, 0, events * maxAttempts, "deadline exceeded"},
		{"flaky, succeeds third", func(_ context.Context, e *receiver.Event) error {
			if e.Attempt < 3 {
				return errors.New("transient")
			}
			return nil
		}, events, events * 3, ""},
		{"ignores timeout, succeeds late", func(context.Context, *receiver.Event) error {
			time.Sleep(2 * timeout)
			return nil
		}, events, events, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &stageCounter{}
			var calls atomic.Int64
			h := receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
				calls.Add(1)
				return tt.fn(ctx, e)
			})
			rc := newReceiver(t, h, receiver.Workers(8), receiver.MaxAttempts(maxAttempts),
				receiver.Backoff(time.Millisecond, 5*time.Millisecond), receiver.HandlerTimeout(timeout),
				receiver.WithObserver(obs))
			srv, client := faultServer(t, rc, nil)
			var acked int64
			for i := range events {
				code, _, err := postTest(client, srv.URL, fmt.Sprintf("f-%d", i), "t", []byte(`{"n":`+strconv.Itoa(i)+`}`))
				require.NoError(t, err)
				if code == http.StatusOK {
					acked++
				}
			}
			require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)), "Shutdown")
			dls, err := rc.DeadLetters().List(context.Background(), 0)
			require.NoError(t, err)
			handled, dead := obs.handled.Load(), int64(len(dls))
			lost := acked - handled - dead
			t.Logf("%s: sent %d, acknowledged %d, handler calls %d, handled %d, dead-lettered %d, lost %d",
				tt.name, events, acked, calls.Load(), handled, dead, lost)
			assert.Equal(t, int64(events), acked, "acknowledged: a handler's fault must not reach the sender")
			assert.Equal(t, tt.wantHandled, handled, "handled")
			assert.Equal(t, events-tt.wantHandled, dead, "dead-lettered")
			assert.Zero(t, lost, "lost")
			assert.Equal(t, dead, obs.dead.Load(), "observed dead letters vs the store's")
			assert.Equal(t, tt.wantCalls, calls.Load(), "handler calls")
			for _, d := range dls {
				assert.Contains(t, d.Reason, tt.wantReason, "dead letter %s reason", d.Event.ID)
			}
		})
	}
}

const faultStripeSecret = "whsec_fault_suite"

// bodyRecorder is a handler keeping each handled event's body by ID.
type bodyRecorder struct {
	mu     sync.Mutex
	bodies map[string][]byte
	header map[string]http.Header
}

func (b *bodyRecorder) HandleEvent(_ context.Context, e *receiver.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bodies == nil {
		b.bodies, b.header = map[string][]byte{}, map[string]http.Header{}
	}
	b.bodies[e.ID], b.header[e.ID] = e.Body, e.Header
	return nil
}

func (b *bodyRecorder) get(id string) ([]byte, http.Header, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	body, ok := b.bodies[id]
	return body, b.header[id], ok
}

// wireProbe records how each request arrived (Content-Length and
// Transfer-Encoding as the server parsed them), keyed by X-Case.
type wireProbe struct {
	next http.Handler
	mu   sync.Mutex
	seen map[string]*http.Request
}

func (p *wireProbe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.seen == nil {
		p.seen = map[string]*http.Request{}
	}
	p.seen[r.Header.Get("X-Case")] = &http.Request{ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding}
	p.mu.Unlock()
	p.next.ServeHTTP(w, r)
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestFaultHostileInput sends unusual and hostile requests to a Stripe
// receiver over a real server whose clock is fixed. Signatures are always
// checked over the bytes on the wire: Hookwise never decompresses a
// Content-Encoding: gzip body (no sender we support compresses, and
// inflating before verifying would let forged input cost memory and CPU), so
// a compressed delivery verifies only if it was signed compressed, and then
// reaches the handler compressed (or fails the envelope parse when the
// provider reads the envelope from the body).
func TestFaultHostileInput(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	sp, err := stripe.New(faultStripeSecret, stripe.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	rec := &bodyRecorder{}
	rc, err := receiver.New(sp, rec)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(ctxTimeout(t, 10*time.Second)) })
	probe := &wireProbe{next: rc}
	srv, client := faultServer(t, probe, func(s *http.Server) { s.MaxHeaderBytes = 4 << 10 })

	event := func(id, data string) []byte {
		return []byte(`{"id":"` + id + `","object":"event","type":"invoice.paid","data":` + data + `}`)
	}
	emoji := event("evt_emoji", `{"note":"🎉 paid ✓ — ok","name":"Zoë 中文"}`)
	nonUTF8 := event("evt_latin1", "{\"note\":\"caf\xe9 \xff\xfe\"}")
	plain := event("evt_plain", `{"a":1}`)
	zipped := gzipped(t, plain)
	tests := []struct {
		name    string
		body    []byte
		sigBody []byte    // signed instead of body, when set
		sigTime time.Time // zero: now
		modify  func(r *http.Request)
		want    int
		// handledID, when set, must reach the handler with body exactly.
		handledID string
	}{
		{name: "chunked, no Content-Length", body: event("evt_chunked", `{"a":1}`), want: 200, handledID: "evt_chunked",
			modify: func(r *http.Request) {
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(event("evt_chunked", `{"a":1}`))))
				r.ContentLength = -1
			}},
		{name: "gzip signed over wire bytes", body: zipped, want: 400,
			modify: func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }},
		{name: "gzip signed over decompressed", body: zipped, sigBody: plain, want: 401,
			modify: func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }},
		{name: "emoji payload", body: emoji, want: 200, handledID: "evt_emoji"},
		{name: "emoji in the event ID", body: event("evt_emoji_😀", `{}`), want: 400},
		{name: "non-UTF-8 payload", body: nonUTF8, want: 200, handledID: "evt_latin1"},
		{name: "duplicate signature headers, forged first", body: event("evt_dup1", `{}`), want: 401,
			modify: func(r *http.Request) {
				r.Header[stripe.HeaderSignature] = []string{stripe.Sign("whsec_forged", now, event("evt_dup1", `{}`)), r.Header.Get(stripe.HeaderSignature)}
			}},
		{name: "duplicate signature headers, valid first", body: event("evt_dup2", `{}`), want: 200, handledID: "evt_dup2",
			modify: func(r *http.Request) {
				r.Header[stripe.HeaderSignature] = []string{r.Header.Get(stripe.HeaderSignature), stripe.Sign("whsec_forged", now, event("evt_dup2", `{}`))}
			}},
		{name: "oversized headers", body: event("evt_bighdr", `{}`), want: 431,
			modify: func(r *http.Request) { r.Header.Set("X-Pad", strings.Repeat("a", 16<<10)) }},
		{name: "timestamp at past edge", body: event("evt_t1", `{}`), sigTime: now.Add(-stripe.DefaultTolerance), want: 200, handledID: "evt_t1"},
		{name: "timestamp at future edge", body: event("evt_t2", `{}`), sigTime: now.Add(stripe.DefaultTolerance), want: 200, handledID: "evt_t2"},
		{name: "timestamp 1s past edge", body: event("evt_t3", `{}`), sigTime: now.Add(-stripe.DefaultTolerance - time.Second), want: 401},
		{name: "timestamp 1s future of edge", body: event("evt_t4", `{}`), sigTime: now.Add(stripe.DefaultTolerance + time.Second), want: 401},
		{name: "timestamp a year old", body: event("evt_t5", `{}`), sigTime: now.AddDate(-1, 0, 0), want: 401},
		{name: "timestamp a year ahead", body: event("evt_t6", `{}`), sigTime: now.AddDate(1, 0, 0), want: 401},
		{name: "timestamp zero", body: event("evt_t7", `{}`), sigTime: time.Unix(0, 0), want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := tt.sigTime
			if ts.IsZero() {
				ts = now
			}
			sigBody := tt.body
			if tt.sigBody != nil {
				sigBody = tt.sigBody
			}
			req := stripe.NewRequest(srv.URL, faultStripeSecret, ts, tt.body)
			req.Header.Set(stripe.HeaderSignature, stripe.Sign(faultStripeSecret, ts, sigBody))
			req.Header.Set("X-Case", tt.name)
			if tt.modify != nil {
				tt.modify(req)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode, "status")
			if tt.handledID == "" {
				return
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				got, _, ok := rec.get(tt.handledID)
				if ok {
					assert.Equal(t, tt.body, got, "handled body, want the bytes sent")
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("event %s not handled", tt.handledID)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	probe.mu.Lock()
	chunked := probe.seen["chunked, no Content-Length"]
	_, bigSeen := probe.seen["oversized headers"]
	probe.mu.Unlock()
	if assert.NotNil(t, chunked, "the chunked case did not arrive") {
		assert.Equal(t, int64(-1), chunked.ContentLength, "the chunked case did not arrive chunked")
		assert.Equal(t, []string{"chunked"}, chunked.TransferEncoding, "the chunked case did not arrive chunked")
	}
	assert.False(t, bigSeen, "a request over MaxHeaderBytes reached the handler")
}

// TestFaultGzipReachesHandlerCompressed shows the other side of the gzip
// decision with a provider that reads the envelope from headers: a body
// signed compressed is verified, acknowledged, and handed to the handler as
// sent, still compressed, with its Content-Encoding header.
func TestFaultGzipReachesHandlerCompressed(t *testing.T) {
	rec := &bodyRecorder{}
	rc := newReceiver(t, rec)
	srv, client := faultServer(t, rc, nil)
	zipped := gzipped(t, []byte(`{"hello":"world"}`))
	req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(zipped))
	require.NoError(t, err)
	req.Header.Set("X-Sig", sign(zipped))
	req.Header.Set("X-Id", "gz")
	req.Header.Set("X-Type", "t")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "status")
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)))
	body, header, ok := rec.get("gz")
	require.True(t, ok, "gz not handled")
	assert.Equal(t, zipped, body, "handled body, want the compressed bytes")
	assert.Equal(t, "gzip", header.Get("Content-Encoding"))
}

// TestFaultBlankSecrets checks that every constructor refuses an empty or
// whitespace-only secret with an error matching verify.ErrNoSecret, and never
// echoes the secret.
func TestFaultBlankSecrets(t *testing.T) {
	for _, secret := range []string{"", " ", "\t\n  \r"} {
		for name, build := range map[string]func() error{
			"stripe":           func() error { _, err := stripe.New(secret); return err },
			"stripe rotated":   func() error { _, err := stripe.New("whsec_ok", stripe.WithSecrets(secret)); return err },
			"github":           func() error { _, err := github.New(secret); return err },
			"slack":            func() error { _, err := slack.New(secret); return err },
			"standardwebhooks": func() error { _, err := standardwebhooks.New(secret); return err },
			"verify.NewHMAC":   func() error { _, err := verify.NewHMAC(sha256.New, []byte(secret)); return err },
		} {
			t.Run(fmt.Sprintf("%s/%q", name, secret), func(t *testing.T) {
				err := build()
				require.ErrorIs(t, err, verify.ErrNoSecret)
				assert.NotContains(t, err.Error(), "whsec_ok", "error text contains a secret")
			})
		}
	}
	_, err := receiver.New(nil, receiver.NewMux())
	assert.Error(t, err, "receiver.New(nil provider) succeeded")
}

// TestFaultSlowClient shows the http.Server timeouts a deployment must set,
// since Hookwise reads the body inside the handler: ReadHeaderTimeout bounds
// a client trickling its headers (the server closes the connection without
// an answer), and ReadTimeout bounds the whole request, so a client
// trickling its body is cut off: the body read fails and the receiver
// answers 400 without running a handler.
func TestFaultSlowClient(t *testing.T) {
	const (
		headerTimeout = 300 * time.Millisecond
		readTimeout   = 600 * time.Millisecond
		bound         = 5 * time.Second // generous: cut off after ~0.3-0.6s
	)
	rec := newRecorder(nil)
	rc := newReceiver(t, rec)
	srv, _ := faultServer(t, rc, func(s *http.Server) {
		s.ReadHeaderTimeout = headerTimeout
		s.ReadTimeout = readTimeout
	})
	// Both trickles take ~3s, far beyond the timeouts, so a late-starting
	// server goroutine cannot let them finish in time.
	body := []byte(`{"slow":true,"pad":"` + strings.Repeat("x", 40) + `"}`)
	tests := []struct {
		name   string
		head   string // sent at once
		trickl string // then one byte every 50ms
		want   int    // 0: connection closed without an answer
	}{
		{"slow body", "POST / HTTP/1.1\r\nHost: x\r\nX-Sig: " + sign(body) + "\r\nX-Id: slow\r\nX-Type: t\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n", string(body), 400},
		{"slow headers", "POST / HTTP/1.1\r\nHost: x\r\n", "X-Id: slow2\r\nX-Type: t\r\nX-Pad: " + strings.Repeat("a", 40) + "\r\n\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			start := time.Now()
			_, err = io.WriteString(conn, tt.head)
			require.NoError(t, err)
			var trickler sync.WaitGroup
			defer trickler.Wait()
			defer conn.Close() // ends the trickler before it is waited for
			trickler.Go(func() {
				for i := 0; i < len(tt.trickl); i++ {
					time.Sleep(50 * time.Millisecond)
					if _, err := conn.Write([]byte{tt.trickl[i]}); err != nil {
						return
					}
				}
			})
			_ = conn.SetReadDeadline(time.Now().Add(bound))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			elapsed := time.Since(start)
			got := 0
			if err == nil {
				got = resp.StatusCode
				resp.Body.Close()
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("no answer and no close within %v", bound)
			}
			t.Logf("%s: status %d (0 = closed) after %v", tt.name, got, elapsed.Round(time.Millisecond))
			// net/http either closes a connection whose headers time out or,
			// when the timeout fires mid-line, answers 400 first: both cut it.
			assert.True(t, got == tt.want || (tt.want == 0 && got == http.StatusBadRequest),
				"status = %d (err %v), want %d", got, err, tt.want)
			assert.Less(t, elapsed, bound, "cut off too late")
		})
	}
	assert.Zero(t, rec.calls.Load(), "handler ran for cut-off requests")
}
