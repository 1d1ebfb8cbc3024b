// Package faultproxy is a fault-injecting TCP proxy for tests against a real
// redis-server. It sits between Redis clients (go-redis) and Redis, parses
// RESP2/RESP3 in both directions to pair every reply with its command, and
// injects faults on the commands that rules match:
//
//   - CutAfterApply: forward the command, wait for Redis's reply (the command
//     is applied), then close the connection without delivering that reply.
//   - HoldReply: deliver the reply (and every later reply on its connection)
//     only after a delay.
//   - DropReply: never deliver the reply; the connection stalls until the
//     client gives up and closes it.
//
// Pause, Resume and CutAll simulate a network partition and a Redis restart;
// Stats counts the commands seen and the faults fired, for assertions.
//
// Each accepted connection gets its own connection to the target. Replies
// come back in command order per connection, pipelines included; RESP3 push
// frames (">") are forwarded in place and never taken for a reply. Nothing
// is ever delivered out of order. Frames larger than Options.MaxFrameBytes
// or nested deeper than Options.MaxDepth close the connection.
//
// What go-redis v9 clients see (defaults: MaxRetries 3, and a read timeout
// or a dropped connection is retried on a new connection):
//
//   - CutAfterApply: the command is applied, the client reads EOF and
//     re-sends the command; the caller gets the retry's reply (a SET NX
//     answers false, having found its own key; an INCR or EVALSHA is applied
//     twice). With retries off (MaxRetries -1) the caller gets io.EOF. A
//     pipeline is re-sent whole: commands before the cut run twice.
//   - HoldReply past ReadTimeout: the attempt times out and is retried like
//     a cut (the held reply is discarded with its connection). With retries
//     off, or a context deadline (ContextTimeoutEnabled), the caller gets a
//     timeout error while Redis has applied the command.
//   - DropReply: as HoldReply with an infinite delay: go-redis times out
//     (ReadTimeout, default 3s), closes the connection and retries; an XADD
//     leaves two stream entries.
//
// Limits: replies are paired with commands by order, so connections in
// RESP2 pub/sub mode, MONITOR or CLIENT REPLY OFF/SKIP confuse the pairing
// (forwarding still works; rules may fire on the wrong reply). Inside
// MULTI, a rule sees the +QUEUED reply of the matched command.
//
// Example:
//
//	func TestClaimSurvivesCut(t *testing.T) {
//		srv := redistest.Start(t)
//		p := faultproxy.New(t, srv.Addr) // closed when the test ends
//		rdb := redis.NewClient(&redis.Options{Addr: p.Addr()})
//		defer rdb.Close()
//
//		cut := p.CutAfterApply(faultproxy.Command("SET"), 1)
//		ok, err := rdb.SetNX(ctx, "k", "v", time.Hour).Result()
//		// go-redis retried the SET on a new connection: ok is false, err nil,
//		// and Redis holds k (written by the first, cut, attempt).
//		require.Equal(t, 1, cut.Fired())
//		require.Equal(t, 2, p.Stats().Commands["SET"])
//	}
package faultproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Options tunes a Proxy. Zero values take the defaults.
type Options struct {
	// MaxFrameBytes bounds one command or reply, all its elements included
	// (default DefaultMaxFrameBytes, 64 MiB).
	MaxFrameBytes int
	// MaxDepth bounds the nesting of aggregates in a reply (default
	// DefaultMaxDepth, 64).
	MaxDepth int
	// DialTimeout bounds each connection to the target (default 5s).
	DialTimeout time.Duration
	// CutLinger is how long a cut connection, after its earlier replies and
	// a FIN were sent, waits for the client to close before the proxy
	// closes it (default 2s). Closing at once could reset the connection
	// and discard the replies that must be delivered before the cut.
	CutLinger time.Duration
}

// Proxy is a fault-injecting TCP proxy in front of one Redis server. Its
// methods are safe for concurrent use.
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
	commands    map[string]int
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
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
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
		target:   target,
		opts:     o,
		ln:       ln,
		ctx:      ctx,
		cancel:   cancel,
		closing:  make(chan struct{}),
		conns:    make(map[*pconn]struct{}),
		commands: make(map[string]int),
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
		tb.Fatalf("faultproxy: %v", err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// Addr is the proxy's listening address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

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

// CutAfterApply arms a rule for the next n commands (n >= 1) that match:
// each is forwarded to Redis and, once Redis has replied (the command is
// applied), its connection is closed without delivering that reply. Replies
// to earlier commands on the connection are delivered first; later commands
// the client sends on it are not forwarded.
func (p *Proxy) CutAfterApply(match Matcher, n int) *Rule {
	return p.addRule(KindCutAfterApply, match, 0, n)
}

// HoldReply arms a rule for the next n commands (n >= 1) that match: each
// one's reply (and so every later reply on its connection) is delivered d
// after Redis sent it. Later commands are still forwarded meanwhile.
func (p *Proxy) HoldReply(match Matcher, d time.Duration, n int) *Rule {
	return p.addRule(KindHoldReply, match, d, n)
}

// DropReply arms a rule for the next n commands (n >= 1) that match: each
// one's reply is never delivered. Its connection stalls, holding that reply
// and every later one, until the client closes it (go-redis does on its read
// timeout). Later commands are still forwarded to Redis and applied.
func (p *Proxy) DropReply(match Matcher, n int) *Rule {
	return p.addRule(KindDropReply, match, 0, n)
}

func (p *Proxy) addRule(k Kind, match Matcher, d time.Duration, n int) *Rule {
	if match == nil {
		panic("faultproxy: nil Matcher")
	}
	if n < 1 {
		panic("faultproxy: a rule must fire at least once (n >= 1)")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &Rule{id: len(p.rules) + 1, kind: k, match: match, hold: d, remaining: n, n: n, done: make(chan struct{})}
	p.rules = append(p.rules, r)
	p.active = append(p.active, r)
	return r
}

// Pause stops forwarding in both directions until Resume: commands and
// replies read after it wait, a side that closes its connection is not
// seen by the other side, and new connections are accepted but not
// dialled. With Pause, a Redis restart (or crash) stays invisible to
// clients until CutAll or Resume.
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
	s := Stats{Commands: make(map[string]int, len(p.commands)), Connections: p.connections, Cuts: p.cuts}
	for k, v := range p.commands {
		s.Commands[k] = v
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

// classify counts cmd and returns the rule that claims it, if any.
func (p *Proxy) classify(cmd []string) *Rule {
	p.mu.Lock()
	p.commands[cmd[0]]++
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
		if r.match(cmd) && r.claim() {
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
	c := &pconn{p: p, client: client, upstream: up, done: make(chan struct{})}
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

	mu      sync.Mutex
	pending []*Rule // one entry per command awaiting its reply; nil: no fault
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

func (c *pconn) push(r *Rule) {
	c.mu.Lock()
	c.pending = append(c.pending, r)
	c.mu.Unlock()
}

// pop returns the rule of the oldest command awaiting its reply.
func (c *pconn) pop() *Rule {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return nil // a reply to no command we saw: forward it
	}
	r := c.pending[0]
	c.pending[0] = nil
	c.pending = c.pending[1:]
	return r
}

// noReplyTracking lists commands whose confirmations are not ordinary
// replies (RESP3 sends them as push frames).
var noReplyTracking = map[string]bool{
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true,
	"UNSUBSCRIBE": true, "PUNSUBSCRIBE": true, "SUNSUBSCRIBE": true,
}

func (c *pconn) clientToServer() {
	defer c.close()
	br := bufio.NewReaderSize(c.client, 64<<10)
	bw := bufio.NewWriterSize(c.upstream, 64<<10)
	rr := newRespReader(br, c.p.opts.MaxFrameBytes, c.p.opts.MaxDepth)
	for {
		args, raw, err := rr.readCommand()
		if err != nil {
			c.p.waitResumed(c.done) // a paused proxy holds connection ends too
			return
		}
		var rule *Rule
		if len(args) > 0 {
			rule = c.p.classify(args)
			if !noReplyTracking[args[0]] {
				c.push(rule)
			}
		}
		if !c.p.waitResumed(c.done) {
			return
		}
		if _, err := bw.Write(raw); err != nil {
			return
		}
		cut := rule != nil && rule.kind == KindCutAfterApply
		if br.Buffered() == 0 || cut {
			if err := bw.Flush(); err != nil {
				return
			}
		}
		if cut {
			// Forward nothing more: the connection ends when the reply
			// arrives. Keep reading so that the client's later bytes do not
			// turn the close into a reset.
			_, _ = io.Copy(io.Discard, br)
			return
		}
	}
}

func (c *pconn) serverToClient() {
	defer c.p.wg.Done()
	defer c.close()
	br := bufio.NewReaderSize(c.upstream, 64<<10)
	bw := bufio.NewWriterSize(c.client, 64<<10)
	rr := newRespReader(br, c.p.opts.MaxFrameBytes, c.p.opts.MaxDepth)
	for {
		f, err := rr.readReply()
		if err != nil {
			c.p.waitResumed(c.done) // a paused proxy holds connection ends too
			return
		}
		var rule *Rule
		if f.kind != '>' {
			rule = c.pop()
		}
		if !c.p.waitResumed(c.done) {
			return
		}
		if rule != nil {
			if err := bw.Flush(); err != nil {
				return
			}
			switch rule.kind {
			case KindCutAfterApply:
				c.cut(rule)
				return
			case KindDropReply:
				rule.fire()
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

// cut ends the connection after the replies already flushed: it closes the
// upstream, sends the client a FIN, and closes the client when the client
// closes its side or after CutLinger.
func (c *pconn) cut(rule *Rule) {
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
