package faultcore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// patience bounds waits that succeed at once on an idle machine.
const patience = 10 * time.Second

// lineServer is the target of the tests' proxies: a TCP server on
// 127.0.0.1 that answers each line it reads with "ok <line>".
type lineServer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	conns   []net.Conn
	applied []string
}

func startLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &lineServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go s.serve(c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *lineServer) serve(c net.Conn) {
	defer s.wg.Done()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		s.mu.Lock()
		s.applied = append(s.applied, sc.Text())
		s.mu.Unlock()
		if _, err := fmt.Fprintf(c, "ok %s\n", sc.Text()); err != nil {
			return
		}
	}
}

func (s *lineServer) addr() string { return s.ln.Addr().String() }

// dialled is the number of connections the server has accepted.
func (s *lineServer) dialled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *lineServer) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.applied...)
}

// lineProxy is a minimal protocol on the core: each line a client sends is
// a command, the line the server sends back its reply, paired by order.
type lineProxy struct {
	*Proxy[string]
	lines int // guarded by the core's lock

	mu    sync.Mutex
	conns []*lineConn // every connection served
}

func startLineProxy(t *testing.T, target string, cfg Config) *lineProxy {
	t.Helper()
	cfg.Name = "linetest"
	core, err := Listen[string](target, cfg)
	require.NoError(t, err)
	p := &lineProxy{Proxy: core}
	core.Serve(p.serveConn)
	t.Cleanup(func() { _ = core.Close() })
	return p
}

func (p *lineProxy) serveConn(cc *Conn[string]) (func(), func()) {
	c := &lineConn{Conn: cc, p: p}
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	return c.clientToServer, c.serverToClient
}

// conn returns the i-th connection served.
func (p *lineProxy) conn(i int) *lineConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns[i]
}

func (p *lineProxy) stats() (Stats, int) {
	var lines int
	s := p.Stats(func() { lines = p.lines })
	return s, lines
}

type lineConn struct {
	*Conn[string]
	p *lineProxy

	mu      sync.Mutex
	pending []*Rule[string]
}

func (c *lineConn) clientToServer() {
	l := NewLink(c.Client(), c.Upstream())
	for {
		line, err := l.R.ReadString('\n')
		if err != nil {
			c.WaitResumed()
			return
		}
		rule := c.p.Classify(strings.TrimSuffix(line, "\n"), func() { c.p.lines++ })
		c.mu.Lock()
		c.pending = append(c.pending, rule)
		c.mu.Unlock()
		if !c.WaitResumed() {
			return
		}
		if err := l.Forward([]byte(line)); err != nil {
			return
		}
		if rule != nil && rule.Kind() == KindCutAfterApply {
			_ = l.W.Flush()
			_, _ = io.Copy(io.Discard, l.R)
			return
		}
	}
}

func (c *lineConn) serverToClient() {
	l := NewLink(c.Upstream(), c.Client())
	for {
		line, err := l.R.ReadString('\n')
		if err != nil {
			c.WaitResumed()
			return
		}
		c.mu.Lock()
		var rule *Rule[string]
		if len(c.pending) > 0 {
			rule, c.pending = c.pending[0], c.pending[1:]
		}
		c.mu.Unlock()
		if !c.WaitResumed() {
			return
		}
		if rule != nil && !c.AtReply(rule, l.W, l.R) {
			return
		}
		if err := l.Forward([]byte(line)); err != nil {
			return
		}
	}
}

// client is a test client of a lineProxy.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, patience)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes lines in one write (a pipeline).
func (c *client) send(lines ...string) {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetWriteDeadline(time.Now().Add(patience)))
	_, err := io.WriteString(c.nc, strings.Join(lines, "\n")+"\n")
	require.NoError(c.t, err)
}

// read reads one reply within d.
func (c *client) read(d time.Duration) (string, error) {
	require.NoError(c.t, c.nc.SetReadDeadline(time.Now().Add(d)))
	s, err := c.br.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

// expect reads one reply within patience and checks that it is want.
func (c *client) expect(want string, msgAndArgs ...any) {
	c.t.Helper()
	got, err := c.read(patience)
	require.NoError(c.t, err)
	assert.Equal(c.t, want, got, msgAndArgs...)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// setup starts a line server and a proxy in front of it.
func setup(t *testing.T, cfg Config) (*lineServer, *lineProxy) {
	t.Helper()
	srv := startLineServer(t)
	return srv, startLineProxy(t, srv.addr(), cfg)
}

func eq(s string) func(string) bool { return func(q string) bool { return q == s } }

func TestForwardPipeline(t *testing.T) {
	srv, p := setup(t, Config{})
	c := dial(t, p.Addr())

	var lines []string
	for i := range 200 {
		lines = append(lines, fmt.Sprint("cmd", i))
	}
	c.send(lines...)
	for _, l := range lines {
		got, err := c.read(patience)
		require.NoError(t, err)
		require.Equal(t, "ok "+l, got, "replies come back in order")
	}
	assert.Equal(t, lines, srv.got())
	st, n := p.stats()
	assert.Equal(t, 200, n, "Classify's count ran for each line")
	assert.Equal(t, 1, st.Connections)
	assert.Zero(t, st.Cuts)
	assert.Empty(t, st.Rules)
	assert.Equal(t, 1, p.Live())
	assert.Equal(t, p.Addr(), fmt.Sprintf("127.0.0.1:%d", p.Port()))
}

// A cut: the replies before the cut command's are delivered, then EOF;
// the cut command was applied, the later one was not forwarded.
func TestCut(t *testing.T) {
	srv, p := setup(t, Config{})
	r := p.AddRule(KindCutAfterApply, eq("b"), 0, 1)
	c := dial(t, p.Addr())

	c.send("a", "b", "c")
	c.expect("ok a")
	_, err := c.read(patience)
	assert.ErrorIs(t, err, io.EOF, "the connection ends instead of b's reply")
	select {
	case <-r.Done():
	case <-time.After(patience):
		t.Fatal("the rule is not done")
	}
	assert.Equal(t, []string{"a", "b"}, srv.got(), "b applied, c never forwarded")
	assert.True(t, p.conn(0).Cutting())
	assert.Equal(t, 1, r.Fired())
	assert.Equal(t, 1, r.Matched())
	st, _ := p.stats()
	assert.Equal(t, 1, st.Cuts)
	assert.Equal(t, []RuleStats{{ID: 1, Kind: KindCutAfterApply, Matched: 1, Fired: 1, Remaining: 0}}, st.Rules)

	require.NoError(t, c.nc.Close())
	require.Eventually(t, func() bool { return p.Live() == 0 }, patience, 5*time.Millisecond,
		"the client's close ends the cut connection")

	c2 := dial(t, p.Addr())
	c2.send("b")
	c2.expect("ok b", "the rule fired once and disarmed")
	assert.False(t, p.conn(1).Cutting())
}

// A cut connection whose client never closes is closed after CutLinger.
func TestCutLinger(t *testing.T) {
	_, p := setup(t, Config{CutLinger: 200 * time.Millisecond})
	p.AddRule(KindCutAfterApply, eq("a"), 0, 1)
	c := dial(t, p.Addr())

	start := time.Now()
	c.send("a")
	_, err := c.read(patience)
	assert.ErrorIs(t, err, io.EOF)
	require.Eventually(t, func() bool { return p.Live() == 0 }, patience, 5*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "the proxy waited CutLinger for the client")
}

func TestHold(t *testing.T) {
	srv, p := setup(t, Config{})
	const hold = 300 * time.Millisecond
	r := p.AddRule(KindHoldReply, eq("b"), hold, 1)
	c := dial(t, p.Addr())

	start := time.Now()
	c.send("a", "b", "c")
	c.expect("ok a")
	assert.Less(t, time.Since(start), hold, "the reply before the held one is not held")
	c.expect("ok b")
	assert.GreaterOrEqual(t, time.Since(start), hold)
	c.expect("ok c")
	assert.Equal(t, 1, r.Fired())
	assert.Equal(t, []string{"a", "b", "c"}, srv.got())
}

// A held reply is not delivered while the proxy is paused; Close ends the
// hold at once.
func TestHoldThenPauseThenClose(t *testing.T) {
	_, p := setup(t, Config{})
	r := p.AddRule(KindHoldReply, eq("a"), 200*time.Millisecond, 1)
	c := dial(t, p.Addr())

	c.send("a")
	require.Eventually(t, func() bool { return r.Fired() == 1 }, patience, time.Millisecond)
	p.Pause()
	_, err := c.read(500 * time.Millisecond)
	assert.True(t, isTimeout(err), "held past its delay while paused: got %v", err)

	start := time.Now()
	require.NoError(t, p.Close())
	assert.Less(t, time.Since(start), time.Second)
	_, err = c.read(patience)
	assert.ErrorIs(t, err, io.EOF)
	require.NoError(t, p.Close(), "closing a closed proxy does nothing")
}

// A dropped reply: nothing more is delivered, later commands are still
// applied, and the client's close ends the connection.
func TestDrop(t *testing.T) {
	srv, p := setup(t, Config{})
	r := p.AddRule(KindDropReply, eq("b"), 0, 1)
	c := dial(t, p.Addr())

	c.send("a", "b", "c")
	c.expect("ok a")
	_, err := c.read(300 * time.Millisecond)
	assert.True(t, isTimeout(err), "silent, not closed: got %v", err)
	assert.Equal(t, []string{"a", "b", "c"}, srv.got())
	assert.Equal(t, 1, r.Fired())
	assert.Equal(t, 1, p.Live())

	require.NoError(t, c.nc.Close())
	require.Eventually(t, func() bool { return p.Live() == 0 }, patience, 5*time.Millisecond)
	st, _ := p.stats()
	assert.Zero(t, st.Cuts)
}

func TestPauseResume(t *testing.T) {
	srv, p := setup(t, Config{})
	c := dial(t, p.Addr())
	c.send("before")
	c.expect("ok before")

	p.Pause()
	p.Pause() // pausing a paused proxy changes nothing
	c.send("during")
	c2 := dial(t, p.Addr())
	_, err := c.read(300 * time.Millisecond)
	assert.True(t, isTimeout(err), "nothing forwarded while paused: got %v", err)
	assert.Equal(t, []string{"before"}, srv.got())
	st, _ := p.stats()
	assert.Equal(t, 2, st.Connections, "a new connection is accepted")
	assert.Equal(t, 1, srv.dialled(), "but not dialled")

	p.Resume()
	p.Resume()
	c.expect("ok during")
	c2.send("new")
	c2.expect("ok new")
	assert.Equal(t, 2, srv.dialled())
}

func TestCutAll(t *testing.T) {
	srv, p := setup(t, Config{})
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	for _, c := range []*client{a, b} {
		c.send("x")
		c.expect("ok x")
	}

	assert.Equal(t, 2, p.CutAll())
	for _, c := range []*client{a, b} {
		_, err := c.read(patience)
		assert.Error(t, err)
	}
	assert.Equal(t, 0, p.Live())
	c := dial(t, p.Addr())
	c.send("y")
	c.expect("ok y", "new connections are accepted as usual")
	assert.Equal(t, []string{"x", "x", "y"}, srv.got())
	assert.Equal(t, 3, srv.dialled())
	st, _ := p.stats()
	assert.Equal(t, 2, st.Cuts)
	assert.Equal(t, 3, st.Connections)
}

// A connection whose target cannot be dialled is closed.
func TestDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	target := ln.Addr().String()
	require.NoError(t, ln.Close())
	p := startLineProxy(t, target, Config{DialTimeout: time.Second})

	c := dial(t, p.Addr())
	_, err = c.read(patience)
	assert.Error(t, err)
	assert.False(t, isTimeout(err), "closed, not silent: got %v", err)
	st, _ := p.stats()
	assert.Equal(t, 1, st.Connections)
	assert.Equal(t, 0, p.Live())
}

// Rules claim matches in the order they were added, n each; Disarm stops
// a rule from matching.
func TestRulesClaimInOrder(t *testing.T) {
	_, p := setup(t, Config{})
	first := p.AddRule(KindHoldReply, eq("x"), time.Millisecond, 2)
	second := p.AddRule(KindHoldReply, eq("x"), time.Millisecond, 5)
	other := p.AddRule(KindHoldReply, eq("y"), time.Millisecond, 3)
	assert.Equal(t, []int{1, 2, 3}, []int{first.ID(), second.ID(), other.ID()})
	c := dial(t, p.Addr())

	c.send("x", "x", "x", "y")
	for _, want := range []string{"ok x", "ok x", "ok x", "ok y"} {
		c.expect(want)
	}
	other.Disarm()
	c.send("y")
	c.expect("ok y")

	assert.Equal(t, 2, first.Matched())
	assert.Equal(t, 2, first.Fired())
	assert.Equal(t, 1, second.Matched())
	assert.Equal(t, 1, other.Matched(), "a disarmed rule matches no more")
	select {
	case <-first.Done():
	default:
		t.Fatal("a rule that fired n times is done")
	}
	select {
	case <-second.Done():
		t.Fatal("a rule that fired fewer than n times is not done")
	default:
	}
	st, _ := p.stats()
	assert.Equal(t, []RuleStats{
		{ID: 1, Kind: KindHoldReply, Matched: 2, Fired: 2, Remaining: 0},
		{ID: 2, Kind: KindHoldReply, Matched: 1, Fired: 1, Remaining: 4},
		{ID: 3, Kind: KindHoldReply, Matched: 1, Fired: 1, Remaining: 0},
	}, st.Rules)
}

// Classify is safe for concurrent use: a rule claims exactly n values.
func TestClassifyConcurrent(t *testing.T) {
	p, err := Listen[string]("127.0.0.1:1", Config{Name: "linetest"})
	require.NoError(t, err)
	defer p.Close()
	r := p.AddRule(KindDropReply, func(string) bool { return true }, 0, 50)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed int
		counted int
	)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if p.Classify("v", func() { counted++ }) == r {
					mu.Lock()
					claimed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 50, claimed)
	assert.Equal(t, 50, r.Matched())
	assert.Equal(t, 800, counted)
	assert.Nil(t, p.Classify("v", nil))
}

func TestAddRulePanics(t *testing.T) {
	p, err := Listen[string]("127.0.0.1:1", Config{Name: "linetest"})
	require.NoError(t, err)
	defer p.Close()
	assert.PanicsWithValue(t, "linetest: nil Matcher", func() { p.AddRule(KindCutAfterApply, nil, 0, 1) })
	assert.PanicsWithValue(t, "linetest: a rule must fire at least once (n >= 1)", func() { p.AddRule(KindCutAfterApply, eq("x"), 0, 0) })
	p.Serve(func(*Conn[string]) (func(), func()) { return func() {}, func() {} })
	assert.PanicsWithValue(t, "linetest: Serve called twice", func() {
		p.Serve(func(*Conn[string]) (func(), func()) { return func() {}, func() {} })
	})
}

// A Matcher type of a protocol package, as faultproxy's and pgfault's.
type argsMatcher func(args []string) bool

func TestAllAny(t *testing.T) {
	first := func(s string) argsMatcher { return func(a []string) bool { return len(a) > 0 && a[0] == s } }
	long := argsMatcher(func(a []string) bool { return len(a) > 2 })
	all := All(first("SET"), long)
	anyOf := Any(first("GET"), long)
	var _ argsMatcher = all // the protocol package's type, not func([]string) bool

	for _, tc := range []struct {
		args     []string
		all, any bool
	}{
		{[]string{"SET", "k", "v"}, true, true},
		{[]string{"SET", "k"}, false, false},
		{[]string{"GET", "k"}, false, true},
		{[]string{"DEL", "a", "b"}, false, true},
		{nil, false, false},
	} {
		assert.Equal(t, tc.all, all(tc.args), "All %v", tc.args)
		assert.Equal(t, tc.any, anyOf(tc.args), "Any %v", tc.args)
	}
	assert.True(t, All[argsMatcher]()(nil), "All of none matches everything")
	assert.False(t, Any[argsMatcher]()(nil), "Any of none matches nothing")
}

func TestKindString(t *testing.T) {
	assert.Equal(t, "CutAfterApply", KindCutAfterApply.String())
	assert.Equal(t, "HoldReply", KindHoldReply.String())
	assert.Equal(t, "DropReply", KindDropReply.String())
	assert.Equal(t, "Kind(?)", Kind(0).String())
}

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	fatal    string
	cleanups []func()
}

func (f *fatalTB) Helper()                           {}
func (f *fatalTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
func (f *fatalTB) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

type closer struct{ closed bool }

func (c *closer) Close() error { c.closed = true; return nil }

func TestStartTest(t *testing.T) {
	tb := &fatalTB{TB: t}
	c := StartTest(tb, "linetest", func() (*closer, error) { return &closer{}, nil })
	assert.Empty(t, tb.fatal)
	require.Len(t, tb.cleanups, 1)
	tb.cleanups[0]()
	assert.True(t, c.closed, "closed when the test ends")

	tb = &fatalTB{TB: t}
	StartTest(tb, "linetest", func() (*closer, error) { return nil, errors.New("no port") })
	assert.Equal(t, "linetest: no port", tb.fatal)
}
