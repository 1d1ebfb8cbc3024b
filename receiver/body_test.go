package receiver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// headerOnly opens a connection to srv and sends a signed request's headers
// declaring a body of declared bytes, and none of the body.
func headerOnly(t *testing.T, srv *httptest.Server, id string, declared int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nX-Sig: "+sign([]byte("x"))+"\r\nX-Id: "+id+
		"\r\nX-Type: t\r\nContent-Length: "+strconv.Itoa(declared)+"\r\n\r\n")
	require.NoError(t, err)
	return c
}

// waitInFlight waits until the receiver has reserved want body bytes.
func waitInFlight(t *testing.T, rc *receiver.Receiver, want int64) {
	t.Helper()
	require.Eventually(t, func() bool { return receiver.BodyBytesInFlight(rc) == want }, 10*time.Second, time.Millisecond,
		"body bytes in flight %d, want %d", receiver.BodyBytesInFlight(rc), want)
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestBodyHeaderOnlyFloodHeapBounded opens many connections that declare a
// 5 MiB body and send none: the receiver must not allocate what they
// declare (it used to: 200 of them pinned ~1 GiB), and a real delivery is
// still taken meanwhile.
func TestBodyHeaderOnlyFloodHeapBounded(t *testing.T) {
	const conns = 200
	rec := newRecorder(nil)
	rc := newReceiver(t, rec)
	srv, client := faultServer(t, rc, nil)
	base := heapInuse()
	for i := range conns {
		headerOnly(t, srv, fmt.Sprint("flood-", i), receiver.DefaultMaxBodyBytes)
	}
	waitInFlight(t, rc, conns*receiver.BodyInitialCap)
	grown := int64(heapInuse()) - int64(base)
	t.Logf("%d header-only requests declaring %d bytes each: heap in use grew by %.1f MiB; %d body bytes reserved",
		conns, receiver.DefaultMaxBodyBytes, float64(grown)/(1<<20), receiver.BodyBytesInFlight(rc))
	assert.Less(t, grown, int64(32<<20), "heap growth under a header-only flood")

	code, _, err := postTest(client, srv.URL, "real", "t", []byte(`{"ok":true}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "a real delivery during the flood")
	rec.wait(t, 1)
}

// TestBodyBudgetSpentIs503 spends a small body budget with header-only
// requests: more of them are admitted than their declared sizes would
// allow, then new requests get 503 with Retry-After, and once the holders go
// away deliveries are accepted again.
func TestBodyBudgetSpentIs503(t *testing.T) {
	const budget = 64 << 10
	rec := newRecorder(nil)
	rc := newReceiver(t, rec, receiver.WithMaxBodyBytes(budget), receiver.WithBodyBudget(budget), receiver.RetryAfter(2*time.Second))
	srv, client := faultServer(t, rc, nil)
	holders := budget / receiver.BodyInitialCap
	var conns []net.Conn
	for i := range holders {
		conns = append(conns, headerOnly(t, srv, fmt.Sprint("hold-", i), budget))
	}
	waitInFlight(t, rc, budget)
	require.Greater(t, holders*budget, budget, "the holders declared more than the budget")

	c := headerOnly(t, srv, "one-more", budget)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))

	code, retryAfter, err := postTest(client, srv.URL, "real", "t", bytes.Repeat([]byte("x"), 2*receiver.BodyInitialCap))
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, code, "a delivery while the budget is spent")
	assert.Equal(t, "2", retryAfter)

	for _, c := range conns {
		c.Close()
	}
	waitInFlight(t, rc, 0)
	code, _, err = postTest(client, srv.URL, "real", "t", bytes.Repeat([]byte("x"), 2*receiver.BodyInitialCap))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "the sender's retry once the budget is back")
	rec.wait(t, 1)
}

// TestBodyTrickleAllocatesWhatArrives sends a 5 MiB body slowly: while
// part of it has arrived, the receiver holds about what arrived, not the
// declared size; the whole body then reaches the handler intact.
func TestBodyTrickleAllocatesWhatArrives(t *testing.T) {
	h := &bodyRecorder{}
	rc := newReceiver(t, h)
	srv, _ := faultServer(t, rc, nil)
	body := bytes.Repeat([]byte("0123456789abcdef"), receiver.DefaultMaxBodyBytes/16)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nX-Sig: "+sign(body)+"\r\nX-Id: trickle\r\nX-Type: t\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\n\r\n")
	require.NoError(t, err)
	const sent = 20 << 10
	for i := 0; i < sent; i += 1 << 10 {
		_, err = c.Write(body[i : i+1<<10])
		require.NoError(t, err)
		time.Sleep(time.Millisecond)
	}
	require.Eventually(t, func() bool { return receiver.BodyBytesInFlight(rc) > receiver.BodyInitialCap }, 10*time.Second, time.Millisecond)
	reserved := receiver.BodyBytesInFlight(rc)
	t.Logf("%d of %d bytes sent: %d reserved", sent, len(body), reserved)
	assert.LessOrEqual(t, reserved, int64(2*sent), "reserved more than twice what arrived")

	_, err = c.Write(body[sent:])
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	waitInFlight(t, rc, 0)
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)))
	got, _, ok := h.get("trickle")
	require.True(t, ok, "handled")
	assert.True(t, bytes.Equal(body, got), "body reached the handler intact")
}

// TestBodyLimits reads bodies around the size limit and the buffer's growth
// steps, declared or chunked, in one piece or a byte at a time.
func TestBodyLimits(t *testing.T) {
	const limit = 3*receiver.BodyInitialCap + 5
	h := &bodyRecorder{}
	rc := newReceiver(t, h, receiver.WithMaxBodyBytes(limit))
	modes := []struct {
		name string
		wrap func(io.Reader) io.Reader
		cl   func(n int) int64
	}{
		{"declared", func(r io.Reader) io.Reader { return r }, func(n int) int64 { return int64(n) }},
		{"chunked", func(r io.Reader) io.Reader { return r }, func(int) int64 { return -1 }},
		{"declared-bytewise", iotest.OneByteReader, func(n int) int64 { return int64(n) }},
		{"chunked-halves", iotest.HalfReader, func(int) int64 { return -1 }},
		{"chunked-dataeof", iotest.DataErrReader, func(int) int64 { return -1 }},
	}
	sizes := []int{0, 1, receiver.BodyInitialCap - 1, receiver.BodyInitialCap, receiver.BodyInitialCap + 1,
		2 * receiver.BodyInitialCap, limit - 1, limit, limit + 1, 2 * limit}
	var mu sync.Mutex
	for _, m := range modes {
		for _, n := range sizes {
			body := bytes.Repeat([]byte{'b'}, n)
			id := fmt.Sprintf("%s-%d", m.name, n)
			req := request(id, "t", body)
			req.Body = io.NopCloser(m.wrap(bytes.NewReader(body)))
			req.ContentLength = m.cl(n)
			w := serve(rc, req)
			want := http.StatusOK
			if n > limit {
				want = http.StatusRequestEntityTooLarge
			}
			mu.Lock()
			assert.Equal(t, want, w.Code, "%s: %d bytes", m.name, n)
			mu.Unlock()
			assert.Zero(t, receiver.BodyBytesInFlight(rc), "%s: %d bytes: reservation returned", m.name, n)
		}
	}
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)))
	for _, m := range modes {
		for _, n := range sizes {
			got, _, ok := h.get(fmt.Sprintf("%s-%d", m.name, n))
			if n > limit {
				assert.False(t, ok, "%s: %d bytes handled", m.name, n)
				continue
			}
			if assert.True(t, ok, "%s: %d bytes not handled", m.name, n) {
				assert.Len(t, got, n, "%s", m.name)
			}
		}
	}
}

// TestBodyLengthMismatch refuses bodies shorter or longer than declared.
func TestBodyLengthMismatch(t *testing.T) {
	rc := newReceiver(t, newRecorder(nil))
	for _, tt := range []struct {
		name          string
		declared, got int
	}{
		{"shorter", 100, 99}, {"longer", 100, 101}, {"empty-declared", 0, 1}, {"long-shorter", 3 * receiver.BodyInitialCap, 3*receiver.BodyInitialCap - 1},
	} {
		body := bytes.Repeat([]byte{'x'}, tt.got)
		req := request(tt.name, "t", body)
		req.ContentLength = int64(tt.declared)
		assert.Equal(t, http.StatusBadRequest, serve(rc, req).Code, tt.name)
		assert.Zero(t, receiver.BodyBytesInFlight(rc), tt.name)
	}
	_ = context.Background
}
