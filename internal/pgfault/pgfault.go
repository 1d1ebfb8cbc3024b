// Package pgfault is a fault-injecting TCP proxy for tests against a real
// PostgreSQL server (internal/pgtest). It sits between clients (pgx) and
// PostgreSQL, parses the frontend/backend protocol (version 3) in both
// directions, follows each connection's prepared statements and portals to
// know the query text of every statement it runs, pairs the server's
// messages with the client's, and injects faults on the statements that
// rules match:
//
//   - CutAfterApply: let the statement run and, once the server has
//     answered it and the ReadyForQuery ending its Sync group (or its
//     simple Query) has come back, close both connections without
//     delivering any of the statement's reply. An autocommit statement is
//     then committed and the client never learns it; a statement inside
//     a transaction block is rolled back with its connection.
//   - HoldReply: deliver the statement's reply (and everything after it on
//     its connection) only after a delay.
//   - DropReply: never deliver the statement's reply; the client connection
//     stays open and silent until the client gives up and closes it.
//
// A statement is an Execute (of the portal of a named or unnamed prepared
// statement; its query is the one the Parse gave) or a simple Query (one
// message, all its statements). Its reply is what the server sends for it:
// the rows and the CommandComplete (or EmptyQueryResponse, PortalSuspended,
// ErrorResponse) of an Execute, everything up to the ReadyForQuery of a
// Query. Notices, notifications and parameter statuses are forwarded in
// place and belong to no reply; nothing is ever delivered out of order.
//
// Pause, Resume and CutAll simulate a network partition and a server
// restart; Stats counts the statements seen and the faults fired, for
// assertions.
//
// Each accepted connection gets its own connection to the server. The
// proxy answers an SSLRequest or a GSSENCRequest with 'N' itself (pgtest's
// servers run without TLS; pgx with sslmode=prefer goes on in plaintext),
// relays a CancelRequest unchanged, and closes a connection whose peer
// sends a malformed message or one over Options.MaxMessageBytes.
//
// What pgx v5 clients see (no retries of their own: a broken connection is
// closed and its error returned; pgxpool discards the connection):
//
//   - CutAfterApply: an "unexpected EOF" error for a statement that the
//     server applied (committed, outside a transaction block). Simple
//     statements without arguments (BEGIN, COMMIT) go as simple Queries:
//     Verbs("COMMIT") matches a transaction's commit.
//   - HoldReply past the context's deadline: the context's error while
//     the server applied the statement; pgx closes the connection.
//   - DropReply: as HoldReply with an infinite delay.
//
// Example:
//
//	func TestInsertCut(t *testing.T) {
//		srv := pgtest.Start(t)
//		p := pgfault.New(t, fmt.Sprintf("127.0.0.1:%d", srv.Port)) // closed when the test ends
//		cut := p.CutAfterApply(pgfault.Contains("INSERT INTO events"), 1)
//		// … a client on p.Addr() runs the INSERT and gets unexpected EOF;
//		// the row is committed.
//		require.Equal(t, 1, cut.Fired())
//	}
package pgfault

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options tunes a Proxy. Zero values take the defaults.
type Options struct {
	// MaxMessageBytes bounds one message, its type and length included
	// (default DefaultMaxMessageBytes, 64 MiB).
	MaxMessageBytes int
	// DialTimeout bounds each connection to the server (default 5s).
	DialTimeout time.Duration
	// CutLinger is how long a cut connection, after the messages before
	// the cut statement's reply and a FIN were sent, waits for the client
	// to close before the proxy closes it (default 2s). Closing at once
	// could reset the connection and discard what must be delivered first.
	CutLinger time.Duration
}

// Proxy is a fault-injecting TCP proxy in front of one PostgreSQL server.
// Its methods are safe for concurrent use.
type Proxy struct {
	target  string
	opts    Options
	ln      net.Listener
	ctx     context.Context // cancelled by Close: ends dials
	cancel  context.CancelFunc
	closing chan struct{}
	wg      sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	conns       map[*pconn]struct{}
	rules       []*Rule // every rule, for Stats
	active      []*Rule // rules that may still match
	statements  int
	verbs       map[string]int
	connections int
	cuts        int
	resume      chan struct{} // non-nil while paused; closed by Resume
}

// Start listens on 127.0.0.1:0 and proxies every accepted connection to
// target (host:port) with the default Options.
func Start(target string) (*Proxy, error) {
	return StartWith(target, Options{})
}

// StartWith is Start with options.
func StartWith(target string, o Options) (*Proxy, error) {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.CutLinger <= 0 {
		o.CutLinger = 2 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target:  target,
		opts:    o,
		ln:      ln,
		ctx:     ctx,
		cancel:  cancel,
		closing: make(chan struct{}),
		conns:   make(map[*pconn]struct{}),
		verbs:   make(map[string]int),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// New starts a proxy to target for a test, failing the test if it cannot
// listen, and closes it when the test ends.
func New(tb testing.TB, target string) *Proxy {
	tb.Helper()
	return NewWith(tb, target, Options{})
}

// NewWith is New with options.
func NewWith(tb testing.TB, target string, o Options) *Proxy {
	tb.Helper()
	p, err := StartWith(target, o)
	if err != nil {
		tb.Fatalf("pgfault: %v", err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// Addr is the proxy's listening address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's listening port, for connection URLs.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening, closes every connection and waits until all the
// proxy's goroutines have ended. Closing a closed proxy does nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	conns := p.connList()
	p.mu.Unlock()

	err := p.ln.Close()
	p.cancel()
	for _, c := range conns {
		c.close()
	}
	p.wg.Wait()
	return err
}

// CutAfterApply arms a rule for the next n statements (n >= 1) that match:
// each runs, and once the server has answered it and the ReadyForQuery
// that ends its Sync group (or its simple Query) has come back, both its
// connections are closed and nothing of its reply is delivered. Messages
// the server sent before the statement's reply are delivered first. An
// Execute followed by no Sync is cut as soon as its reply ends.
func (p *Proxy) CutAfterApply(match Matcher, n int) *Rule {
	return p.addRule(KindCutAfterApply, match, 0, n)
}

// HoldReply arms a rule for the next n statements (n >= 1) that match:
// each one's reply (and so everything after it on its connection) is
// delivered d after the server sent its first message. The client's later
// messages are still forwarded meanwhile.
func (p *Proxy) HoldReply(match Matcher, d time.Duration, n int) *Rule {
	return p.addRule(KindHoldReply, match, d, n)
}

// DropReply arms a rule for the next n statements (n >= 1) that match:
// each one's reply is never delivered. Its connection stays open and
// silent, holding that reply and everything after it, until the client
// closes it (pgx does when its context ends). The client's later messages
// are still forwarded to the server.
func (p *Proxy) DropReply(match Matcher, n int) *Rule {
	return p.addRule(KindDropReply, match, 0, n)
}

func (p *Proxy) addRule(k Kind, match Matcher, d time.Duration, n int) *Rule {
	if match == nil {
		panic("pgfault: nil Matcher")
	}
	if n < 1 {
		panic("pgfault: a rule must fire at least once (n >= 1)")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &Rule{id: len(p.rules) + 1, kind: k, match: match, hold: d, remaining: n, n: n, done: make(chan struct{})}
	p.rules = append(p.rules, r)
	p.active = append(p.active, r)
	return r
}

// Pause stops forwarding in both directions until Resume: messages read
// after it wait, a side that closes its connection is not seen by the
// other side, and new connections are accepted but not dialled. With
// Pause, a server restart (or crash) stays invisible to clients until
// CutAll or Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
}

// Resume forwards again what Pause held.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
}

// CutAll closes every current connection, both sides, at once (replies in
// flight are lost), and returns how many it closed. New connections are
// accepted as usual.
func (p *Proxy) CutAll() int {
	p.mu.Lock()
	conns := p.connList()
	p.cuts += len(conns)
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return len(conns)
}

// Stats returns a snapshot of the proxy's counts.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	s := Stats{Statements: p.statements, Verbs: make(map[string]int, len(p.verbs)), Connections: p.connections, Cuts: p.cuts}
	for k, v := range p.verbs {
		s.Verbs[k] = v
	}
	rules := append([]*Rule(nil), p.rules...)
	p.mu.Unlock()
	for _, r := range rules {
		s.Rules = append(s.Rules, r.stats())
	}
	return s
}

// connList returns the current connections; p.mu must be held.
func (p *Proxy) connList() []*pconn {
	out := make([]*pconn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-p.closing:
				return
			case <-time.After(10 * time.Millisecond):
				continue
			}
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = nc.Close()
			return
		}
		p.connections++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(nc)
	}
}

// waitResumed waits while the proxy is paused; false when done or the
// proxy closed first.
func (p *Proxy) waitResumed(done <-chan struct{}) bool {
	p.mu.Lock()
	ch := p.resume
	p.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-done:
		return false
	case <-p.closing:
		return false
	}
}

// classify counts a statement and returns the rule that claims it, if any.
func (p *Proxy) classify(query string) *Rule {
	p.mu.Lock()
	p.statements++
	p.verbs[Verb(query)]++
	active := p.active[:0]
	for _, r := range p.active {
		if r.armed() {
			active = append(active, r)
		}
	}
	clear(p.active[len(active):])
	p.active = active
	rules := append([]*Rule(nil), active...)
	p.mu.Unlock()
	for _, r := range rules {
		if r.match(query) && r.claim() {
			return r
		}
	}
	return nil
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.waitResumed(nil) {
		_ = client.Close()
		return
	}
	d := net.Dialer{Timeout: p.opts.DialTimeout}
	up, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	c := &pconn{p: p, client: client, upstream: up, done: make(chan struct{}), sess: newSession()}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = client.Close()
		_ = up.Close()
		return
	}
	p.conns[c] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	go c.serverToClient()
	c.clientToServer()
}

// pconn is one proxied connection: a client and its upstream.
type pconn struct {
	p        *Proxy
	client   net.Conn
	upstream net.Conn
	done     chan struct{}
	once     sync.Once
	sess     *session
	cut      atomic.Bool // a CutAfterApply rule is closing the connection
}

// close closes both sides, once.
func (c *pconn) close() {
	c.once.Do(func() {
		_ = c.client.Close()
		_ = c.upstream.Close()
		close(c.done)
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	})
}

func (c *pconn) clientToServer() {
	defer c.close()
	br := bufio.NewReaderSize(c.client, 64<<10)
	bw := bufio.NewWriterSize(c.upstream, 64<<10)
	fr := newFrameReader(br, c.p.opts.MaxMessageBytes)
	for started := false; !started; {
		f, err := fr.readStartup()
		if err != nil {
			c.p.waitResumed(c.done) // a paused proxy holds connection ends too
			return
		}
		if !c.p.waitResumed(c.done) {
			return
		}
		switch code := startupCode(f); {
		case code == sslRequestCode || code == gssEncRequestCode:
			// No encryption: the client goes on in plaintext on this
			// connection, or opens another.
			if _, err := c.client.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		case code == cancelRequestCode:
			// A connection of its own, which the server closes once it
			// has read the request.
			if _, err := c.upstream.Write(f.raw); err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, br)
			return
		case isProtocol3(code):
			c.sess.startup()
			started = true
		default:
			return // a protocol version this proxy does not speak
		}
		if _, err := bw.Write(f.raw); err != nil {
			return
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
	for {
		f, err := fr.readMessage()
		if err != nil {
			c.p.waitResumed(c.done)
			return
		}
		if err := c.sess.fromClient(f, c.p.classify); err != nil {
			return
		}
		if !c.p.waitResumed(c.done) {
			return
		}
		_, err = bw.Write(f.raw)
		if err == nil && br.Buffered() == 0 {
			err = bw.Flush()
		}
		if err != nil {
			if c.cut.Load() {
				// Keep reading so that the client's later bytes do not turn
				// the cut's close into a reset.
				_, _ = io.Copy(io.Discard, br)
			}
			return
		}
	}
}

func (c *pconn) serverToClient() {
	defer c.p.wg.Done()
	defer c.close()
	br := bufio.NewReaderSize(c.upstream, 64<<10)
	bw := bufio.NewWriterSize(c.client, 64<<10)
	fr := newFrameReader(br, c.p.opts.MaxMessageBytes)
	var cutting *entry // the statement a CutAfterApply rule claimed, once its reply began
	for {
		f, err := fr.readMessage()
		if err != nil {
			c.p.waitResumed(c.done) // a paused proxy holds connection ends too
			return
		}
		r := c.sess.fromServer(f)
		if !c.p.waitResumed(c.done) {
			return
		}
		if cutting != nil {
			// Nothing more reaches the client; the connection is cut once
			// the statement's Sync group was answered (committed, outside a
			// transaction block).
			if r.ready || (r.stmt == cutting && r.end && !r.syncPending) {
				c.cutNow(cutting.rule)
				return
			}
			continue
		}
		if r.stmt != nil && r.first && r.stmt.rule != nil {
			rule := r.stmt.rule
			if err := bw.Flush(); err != nil {
				return
			}
			switch rule.kind {
			case KindCutAfterApply:
				cutting = r.stmt
				if r.ready || (r.end && !r.syncPending) {
					c.cutNow(rule)
					return
				}
				continue
			case KindDropReply:
				rule.fire()
				_, _ = io.Copy(io.Discard, br) // until the connection ends
				<-c.done
				return
			case KindHoldReply:
				rule.fire()
				t := time.NewTimer(rule.hold)
				select {
				case <-t.C:
				case <-c.done:
					t.Stop()
					return
				}
				if !c.p.waitResumed(c.done) {
					return
				}
			}
		}
		if _, err := bw.Write(f.raw); err != nil {
			return
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

// cutNow ends the connection after the messages already flushed: it closes
// the upstream, sends the client a FIN, and closes the client when the
// client closes its side or after CutLinger.
func (c *pconn) cutNow(rule *Rule) {
	c.cut.Store(true)
	rule.fire()
	c.p.mu.Lock()
	c.p.cuts++
	c.p.mu.Unlock()
	_ = c.upstream.Close()
	if tc, ok := c.client.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		c.close()
		return
	}
	t := time.NewTimer(c.p.opts.CutLinger)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
}
