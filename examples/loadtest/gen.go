package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
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

// requests is a pool of complete, pre-signed HTTP/1.1 requests, one per
// distinct event: the generator only writes them.
type requests struct {
	reqs [][]byte // each a whole request: request line, headers, body
}

// buildRequests builds count distinct Stripe deliveries of size body bytes
// each, signed at t, as raw HTTP/1.1 requests for path, using every CPU.
// Event IDs are evt_<prefix>_<i>.
func buildRequests(secret, path, prefix string, count, size int, t time.Time) *requests {
	rs := &requests{reqs: make([][]byte, count)}
	workers := runtime.GOMAXPROCS(0)
	per := (count + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, count)
		if lo >= hi {
			continue
		}
		wg.Go(func() {
			arena := make([]byte, 0, (hi-lo)*(size+256+len(path)))
			body := make([]byte, 0, size)
			for i := lo; i < hi; i++ {
				body = append(body[:0], `{"id":"evt_`...)
				body = append(body, prefix...)
				body = append(body, '_')
				body = strconv.AppendInt(body, int64(i), 10)
				body = append(body, `","object":"event","type":"invoice.paid","api_version":"2024-06-20","data":{"object":{"pad":"`...)
				const tail = `"}}}`
				for len(body) < size-len(tail) {
					body = append(body, 'x')
				}
				body = append(body, tail...)
				start := len(arena)
				arena = append(arena, "POST "...)
				arena = append(arena, path...)
				arena = append(arena, " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hookwise-loadtest\r\nContent-Type: application/json; charset=utf-8\r\n"...)
				arena = append(arena, stripe.HeaderSignature...)
				arena = append(arena, ": "...)
				arena = append(arena, stripe.Sign(secret, t, body)...)
				arena = append(arena, "\r\nContent-Length: "...)
				arena = strconv.AppendInt(arena, int64(len(body)), 10)
				arena = append(arena, "\r\n\r\n"...)
				arena = append(arena, body...)
				rs.reqs[i] = arena[start:len(arena):len(arena)]
			}
		})
	}
	wg.Wait()
	return rs
}

// body returns the body of request i (for tests).
func (rs *requests) body(i int) []byte {
	_, b, _ := bytes.Cut(rs.reqs[i], []byte("\r\n\r\n"))
	return b
}

// loopbackOnly refuses a target that is not an http URL on a loopback IP.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Scheme != "http" || ip == nil || !ip.IsLoopback() || u.Port() == "" {
		return fmt.Errorf("-url must be http:// on a loopback IP with a port, such as http://127.0.0.1:8080/…, not %q", raw)
	}
	return nil
}

// conn is one keep-alive HTTP/1.1 connection: one request in flight at a
// time (no pipelining).
type conn struct {
	addr  string
	c     net.Conn
	br    *bufio.Reader
	renew time.Time // when to move the deadline forward
}

// errNoLength is an answer the generator cannot delimit.
var errNoLength = errors.New("answer without Content-Length")

// do writes req and reads the answer's status line and headers, parsing only
// the status code, Content-Length and Connection: close, then discards the
// body. On any error the connection is closed; the next call redials.
func (c *conn) do(req []byte) (int, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		c.c, c.renew = nc, time.Time{}
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 4096)
		} else {
			c.br.Reset(nc)
		}
	}
	code, err := c.roundTrip(req)
	if err != nil {
		c.close()
	}
	return code, err
}

func (c *conn) roundTrip(req []byte) (int, error) {
	// A deadline bounds every exchange; moved forward only now and then, as
	// each move costs a timer update.
	if now := time.Now(); now.After(c.renew) {
		_ = c.c.SetDeadline(now.Add(40 * time.Second))
		c.renew = now.Add(10 * time.Second)
	}
	if _, err := c.c.Write(req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length, closing := -1, false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 { // "\r\n": end of headers
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case asciiEqualFold(name, "Connection"):
			closing = asciiEqualFold(value, "close")
		}
	}
	switch {
	case length < 0 && (code == 204 || code == 304 || code < 200):
	case length < 0:
		return 0, errNoLength
	default:
		if _, err := c.br.Discard(length); err != nil {
			return 0, err
		}
	}
	if closing {
		c.close()
	}
	return code, nil
}

func (c *conn) close() {
	if c.c != nil {
		_ = c.c.Close()
		c.c = nil
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i]|0x20, s[i]|0x20
		if x != y {
			return false
		}
	}
	return true
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

// send writes reqs over conns, one goroutine per connection, until they are
// all sent, d has passed, or ctx ends.
func send(ctx context.Context, conns []*conn, reqs [][]byte, d time.Duration) *loadResult {
	var next atomic.Int64
	var stop atomic.Bool
	type worker struct {
		lat    []time.Duration
		status [600]int
		errs   int
		err    error
	}
	ws := make([]worker, len(conns))
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range ws {
		wg.Go(func() {
			me, c := &ws[w], conns[w]
			me.lat = make([]time.Duration, 0, len(reqs)/len(conns)+1)
			for !stop.Load() && ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) {
					return
				}
				t0 := time.Now()
				code, err := c.do(reqs[i])
				if err != nil || code < 100 || code >= 600 {
					me.errs++
					if me.err == nil {
						me.err = cmpErr(err, code)
					}
					continue
				}
				me.lat = append(me.lat, time.Since(t0))
				me.status[code]++
			}
		})
	}
	wg.Wait()
	r := &loadResult{elapsed: time.Since(start), status: make(map[int]int)}
	for i := range ws {
		w := &ws[i]
		r.latencies = append(r.latencies, w.lat...)
		for code, n := range w.status {
			if n > 0 {
				r.status[code] += n
			}
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

func cmpErr(err error, code int) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("status %d", code)
}

// percentile returns the q-quantile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
