// Package faultcore is what the fault-injecting TCP proxies for tests,
// internal/faultproxy (Redis) and internal/pgfault (PostgreSQL), have in
// common: the rules (Rule, Kind, All, Any: what a rule matches, how many
// times, its matching and firing counts) and the proxy shell (Proxy: the
// listener and its accept loop, one upstream connection per client
// connection, Pause, Resume, CutAll, Close and the counts they keep; Conn:
// the effects of a rule's fault on one connection).
//
// What a protocol package adds: the framing of its messages, the pairing
// of the server's replies with the commands or statements that rules
// match, when a fault takes effect, and its own Matchers and Stats. A
// Proxy[T]'s rules match values of type T: a command's arguments
// ([]string) for Redis, a statement's query text (string) for PostgreSQL.
//
// A protocol package builds its proxy in two steps, so that the functions
// serving connections may use the package's own Proxy once it is complete:
//
//	core, err := faultcore.Listen[[]string](target, faultcore.Config{Name: "faultproxy"})
//	…
//	p := &Proxy{core: core, …}
//	core.Serve(p.serveConn) // serveConn returns a connection's two loops
package faultcore

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

// Config is what a protocol package sets for its Proxy. Zero durations
// take the defaults.
type Config struct {
	// Name is the protocol package's name, which starts the messages of
	// the panics of Proxy.AddRule ("faultproxy").
	Name string
	// DialTimeout bounds each connection to the target (default 5s).
	DialTimeout time.Duration
	// CutLinger is how long a cut connection, after what had to be
	// delivered before the cut and a FIN were sent, waits for the client
	// to close before the proxy closes it (default 2s). Closing at once
	// could reset the connection and discard what had to be delivered.
	CutLinger time.Duration
}

// Proxy is the shell of a fault-injecting TCP proxy in front of one
// server, its rules matching values of type T. Its methods are safe for
// concurrent use.
type Proxy[T any] struct {
	cfg     Config
	target  string
	ln      net.Listener
	ctx     context.Context // cancelled by Close: ends dials
	cancel  context.CancelFunc
	closing chan struct{}
	wg      sync.WaitGroup
	serveFn func(*Conn[T]) (clientToServer, serverToClient func())

	mu          sync.Mutex
	closed      bool
	serving     bool
	conns       map[*Conn[T]]struct{}
	rules       []*Rule[T] // every rule, for Stats
	active      []*Rule[T] // rules that may still match
	connections int
	cuts        int
	resume      chan struct{} // non-nil while paused; closed by Resume
}

// Listen listens on 127.0.0.1:0 for a proxy to target (host:port). The
// proxy accepts connections once Serve is called; until then clients'
// connections wait in the listener's backlog.
func Listen[T any](target string, cfg Config) (*Proxy[T], error) {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.CutLinger <= 0 {
		cfg.CutLinger = 2 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Proxy[T]{
		cfg:     cfg,
		target:  target,
		ln:      ln,
		ctx:     ctx,
		cancel:  cancel,
		closing: make(chan struct{}),
		conns:   make(map[*Conn[T]]struct{}),
	}, nil
}

// Serve starts accepting connections. For each one the proxy dials the
// target, calls serve with the connection's two sides, and runs the two
// functions serve returns, each in a goroutine of its own: clientToServer
// forwards what the client sends, serverToClient what the server sends.
// The connection is closed, both sides, when either returns. Serve panics
// if called twice; after Close it does nothing.
func (p *Proxy[T]) Serve(serve func(c *Conn[T]) (clientToServer, serverToClient func())) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.serving {
		panic(p.cfg.Name + ": Serve called twice")
	}
	p.serving = true
	if p.closed {
		return
	}
	p.serveFn = serve
	p.wg.Add(1)
	go p.acceptLoop()
}

// StartTest returns the proxy start returns, closed when the test ends; it
// fails the test, naming the package pkg, if start fails.
func StartTest[P io.Closer](tb testing.TB, pkg string, start func() (P, error)) P {
	tb.Helper()
	p, err := start()
	if err != nil {
		tb.Fatalf("%s: %v", pkg, err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// Addr is the proxy's listening address, 127.0.0.1:port.
func (p *Proxy[T]) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's listening port.
func (p *Proxy[T]) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening, closes every connection and waits until all the
// proxy's goroutines have ended. Closing a closed proxy does nothing.
func (p *Proxy[T]) Close() error {
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
		c.Close()
	}
	p.wg.Wait()
	return err
}

// AddRule arms a rule of kind k for the next n values (n >= 1) that match
// accepts; hold is a HoldReply rule's delay. It panics if match is nil or
// n < 1.
func (p *Proxy[T]) AddRule(k Kind, match func(T) bool, hold time.Duration, n int) *Rule[T] {
	if match == nil {
		panic(p.cfg.Name + ": nil Matcher")
	}
	if n < 1 {
		panic(p.cfg.Name + ": a rule must fire at least once (n >= 1)")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &Rule[T]{id: len(p.rules) + 1, kind: k, match: match, hold: hold, remaining: n, n: n, done: make(chan struct{})}
	p.rules = append(p.rules, r)
	p.active = append(p.active, r)
	return r
}

// Classify counts a value read from a client, by calling count under the
// proxy's lock (so that Stats's read sees it in the same snapshot), and
// returns the rule that claims it: the first rule, in the order added,
// still armed, whose Matcher accepts arg. Nil when none does.
func (p *Proxy[T]) Classify(arg T, count func()) *Rule[T] {
	p.mu.Lock()
	if count != nil {
		count()
	}
	active := p.active[:0]
	for _, r := range p.active {
		if r.armed() {
			active = append(active, r)
		}
	}
	clear(p.active[len(active):])
	p.active = active
	rules := append([]*Rule[T](nil), active...)
	p.mu.Unlock()
	for _, r := range rules {
		if r.match(arg) && r.claim() {
			return r
		}
	}
	return nil
}

// Pause stops forwarding in both directions until Resume, for the
// connections' loops that call Conn.WaitResumed; new connections are
// accepted but not dialled.
func (p *Proxy[T]) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
}

// Resume forwards again what Pause held.
func (p *Proxy[T]) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
}

// CutAll closes every current connection, both sides, at once (what is in
// flight is lost), and returns how many it closed. New connections are
// accepted as usual.
func (p *Proxy[T]) CutAll() int {
	p.mu.Lock()
	conns := p.connList()
	p.cuts += len(conns)
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return len(conns)
}

// Live is the number of connections open now (those whose both sides the
// proxy holds).
func (p *Proxy[T]) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Stats is a snapshot of the counts a Proxy keeps.
type Stats struct {
	// Rules holds every rule ever added, in the order added.
	Rules []RuleStats
	// Connections counts the client connections accepted.
	Connections int
	// Cuts counts connections closed by Conn.Cut and CutAll.
	Cuts int
}

// Stats returns a snapshot of the proxy's counts. read, if not nil, runs
// under the proxy's lock, to copy the counts that Classify's count
// functions keep into the same snapshot.
func (p *Proxy[T]) Stats(read func()) Stats {
	p.mu.Lock()
	s := Stats{Connections: p.connections, Cuts: p.cuts}
	if read != nil {
		read()
	}
	rules := append([]*Rule[T](nil), p.rules...)
	p.mu.Unlock()
	for _, r := range rules {
		s.Rules = append(s.Rules, r.stats())
	}
	return s
}

// connList returns the current connections; p.mu must be held.
func (p *Proxy[T]) connList() []*Conn[T] {
	out := make([]*Conn[T], 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

func (p *Proxy[T]) acceptLoop() {
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
func (p *Proxy[T]) waitResumed(done <-chan struct{}) bool {
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

func (p *Proxy[T]) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.waitResumed(nil) {
		_ = client.Close()
		return
	}
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	up, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	c := &Conn[T]{p: p, client: client, upstream: up, done: make(chan struct{})}
	clientToServer, serverToClient := p.serveFn(c)
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
	go func() {
		defer p.wg.Done()
		defer c.Close()
		serverToClient()
	}()
	defer c.Close()
	clientToServer()
}

// Conn is one proxied connection: a client and its connection to the
// server. Its methods are safe for concurrent use.
type Conn[T any] struct {
	p        *Proxy[T]
	client   net.Conn
	upstream net.Conn
	done     chan struct{}
	once     sync.Once
	cutting  atomic.Bool
}

// Client is the client's side of the connection.
func (c *Conn[T]) Client() net.Conn { return c.client }

// Upstream is the proxy's connection to the server.
func (c *Conn[T]) Upstream() net.Conn { return c.upstream }

// Close closes both sides, once.
func (c *Conn[T]) Close() {
	c.once.Do(func() {
		_ = c.client.Close()
		_ = c.upstream.Close()
		close(c.done)
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	})
}

// WaitResumed waits while the proxy is paused: a loop calls it after each
// read, before it forwards what it read (a paused proxy holds connection
// ends too: a loop whose read failed calls it before returning). False
// when the connection or the proxy was closed first.
func (c *Conn[T]) WaitResumed() bool { return c.p.waitResumed(c.done) }

// Cut fires r, a CutAfterApply rule, and ends the connection after what
// was already flushed to the client: it closes the upstream, sends the
// client a FIN, and closes the client when the client closes its side or
// after Config.CutLinger. Cutting reports true from its start.
func (c *Conn[T]) Cut(r *Rule[T]) {
	c.cutting.Store(true)
	r.fire()
	c.p.mu.Lock()
	c.p.cuts++
	c.p.mu.Unlock()
	_ = c.upstream.Close()
	if tc, ok := c.client.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		c.Close()
		return
	}
	t := time.NewTimer(c.p.cfg.CutLinger)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
}

// Cutting reports whether Cut has been called: the upstream's close is
// then the cut's, not the server's.
func (c *Conn[T]) Cutting() bool { return c.cutting.Load() }

// AtReply applies r's fault where the reply to what r claimed begins, once
// the loop calling it has read the reply's first frame and has not
// forwarded it: it flushes w, so that what came before reaches the client,
// then cuts the connection (CutAfterApply, see Cut) or withholds the reply
// (HoldReply, DropReply), and reports whether to forward the reply now.
//
// HoldReply: it waits r's delay and, after it, while the proxy is paused;
// false when the connection or the proxy was closed first. DropReply: it
// returns false once the connection is closed (by the client, CutAll or
// Close); its caller delivers nothing more to the client. If drain is not
// nil, it is read and discarded meanwhile, so that the server is never
// blocked writing.
func (c *Conn[T]) AtReply(r *Rule[T], w *bufio.Writer, drain io.Reader) bool {
	if err := w.Flush(); err != nil {
		return false
	}
	switch r.kind {
	case KindCutAfterApply:
		c.Cut(r)
		return false
	case KindHoldReply:
		r.fire()
		t := time.NewTimer(r.hold)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return false
		}
		return c.WaitResumed()
	case KindDropReply:
		r.fire()
		if drain != nil {
			_, _ = io.Copy(io.Discard, drain)
		}
		<-c.done
		return false
	}
	return true
}

// Link is one direction of a connection: R reads what one side sends, W
// writes to the other side. Both buffer 64 KiB.
type Link struct {
	R *bufio.Reader
	W *bufio.Writer
}

// NewLink links from to to.
func NewLink(from io.Reader, to io.Writer) Link {
	return Link{R: bufio.NewReaderSize(from, 64<<10), W: bufio.NewWriterSize(to, 64<<10)}
}

// Forward writes raw, and flushes unless more input is buffered already:
// frames read together (a pipeline) are forwarded together.
func (l Link) Forward(raw []byte) error {
	if _, err := l.W.Write(raw); err != nil {
		return err
	}
	if l.R.Buffered() == 0 {
		return l.W.Flush()
	}
	return nil
}
