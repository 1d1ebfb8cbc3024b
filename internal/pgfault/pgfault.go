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
	"io"
	"maps"
	"testing"
	"time"

	"github.com/hookwise/hookwise/internal/faultcore"
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
	core *faultcore.Proxy[string]
	opts Options

	// Guarded by the core's lock (Classify, Stats).
	statements int
	verbs      map[string]int
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
	core, err := faultcore.Listen[string](target, faultcore.Config{Name: "pgfault", DialTimeout: o.DialTimeout, CutLinger: o.CutLinger})
	if err != nil {
		return nil, err
	}
	p := &Proxy{core: core, opts: o, verbs: make(map[string]int)}
	core.Serve(p.serveConn)
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
	return faultcore.StartTest(tb, "pgfault", func() (*Proxy, error) { return StartWith(target, o) })
}

// Addr is the proxy's listening address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.core.Addr() }

// Port is the proxy's listening port, for connection URLs.
func (p *Proxy) Port() int { return p.core.Port() }

// Close stops listening, closes every connection and waits until all the
// proxy's goroutines have ended. Closing a closed proxy does nothing.
func (p *Proxy) Close() error { return p.core.Close() }

// CutAfterApply arms a rule for the next n statements (n >= 1) that match:
// each runs, and once the server has answered it and the ReadyForQuery
// that ends its Sync group (or its simple Query) has come back, both its
// connections are closed and nothing of its reply is delivered. Messages
// the server sent before the statement's reply are delivered first. An
// Execute followed by no Sync is cut as soon as its reply ends.
func (p *Proxy) CutAfterApply(match Matcher, n int) *Rule {
	return p.core.AddRule(KindCutAfterApply, match, 0, n)
}

// HoldReply arms a rule for the next n statements (n >= 1) that match:
// each one's reply (and so everything after it on its connection) is
// delivered d after the server sent its first message. The client's later
// messages are still forwarded meanwhile.
func (p *Proxy) HoldReply(match Matcher, d time.Duration, n int) *Rule {
	return p.core.AddRule(KindHoldReply, match, d, n)
}

// DropReply arms a rule for the next n statements (n >= 1) that match:
// each one's reply is never delivered. Its connection stays open and
// silent, holding that reply and everything after it, until the client
// closes it (pgx does when its context ends). The client's later messages
// are still forwarded to the server.
func (p *Proxy) DropReply(match Matcher, n int) *Rule {
	return p.core.AddRule(KindDropReply, match, 0, n)
}

// Pause stops forwarding in both directions until Resume: messages read
// after it wait, a side that closes its connection is not seen by the
// other side, and new connections are accepted but not dialled. With
// Pause, a server restart (or crash) stays invisible to clients until
// CutAll or Resume.
func (p *Proxy) Pause() { p.core.Pause() }

// Resume forwards again what Pause held.
func (p *Proxy) Resume() { p.core.Resume() }

// CutAll closes every current connection, both sides, at once (replies in
// flight are lost), and returns how many it closed. New connections are
// accepted as usual.
func (p *Proxy) CutAll() int { return p.core.CutAll() }

// Stats returns a snapshot of the proxy's counts.
func (p *Proxy) Stats() Stats {
	var s Stats
	cs := p.core.Stats(func() { s.Statements, s.Verbs = p.statements, maps.Clone(p.verbs) })
	s.Rules, s.Connections, s.Cuts = cs.Rules, cs.Connections, cs.Cuts
	return s
}

// classify counts a statement and returns the rule that claims it, if any.
func (p *Proxy) classify(query string) *Rule {
	return p.core.Classify(query, func() {
		p.statements++
		p.verbs[Verb(query)]++
	})
}

func (p *Proxy) serveConn(cc *faultcore.Conn[string]) (clientToServer, serverToClient func()) {
	c := &pconn{Conn: cc, p: p, sess: newSession()}
	return c.clientToServer, c.serverToClient
}

// pconn is one proxied connection: a client and its upstream, and the
// session that follows its statements.
type pconn struct {
	*faultcore.Conn[string]
	p    *Proxy
	sess *session
}

func (c *pconn) clientToServer() {
	l := faultcore.NewLink(c.Client(), c.Upstream())
	fr := newFrameReader(l.R, c.p.opts.MaxMessageBytes)
	for started := false; !started; {
		f, err := fr.readStartup()
		if err != nil {
			c.WaitResumed() // a paused proxy holds connection ends too
			return
		}
		if !c.WaitResumed() {
			return
		}
		switch code := startupCode(f); {
		case code == sslRequestCode || code == gssEncRequestCode:
			// No encryption: the client goes on in plaintext on this
			// connection, or opens another.
			if _, err := c.Client().Write([]byte{'N'}); err != nil {
				return
			}
			continue
		case code == cancelRequestCode:
			// A connection of its own, which the server closes once it
			// has read the request.
			if _, err := c.Upstream().Write(f.raw); err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, l.R)
			return
		case isProtocol3(code):
			c.sess.startup()
			started = true
		default:
			return // a protocol version this proxy does not speak
		}
		if err := l.Forward(f.raw); err != nil {
			return
		}
	}
	for {
		f, err := fr.readMessage()
		if err != nil {
			c.WaitResumed()
			return
		}
		if err := c.sess.fromClient(f, c.p.classify); err != nil {
			return
		}
		if !c.WaitResumed() {
			return
		}
		if err := l.Forward(f.raw); err != nil {
			if c.Cutting() {
				// Keep reading so that the client's later bytes do not turn
				// the cut's close into a reset.
				_, _ = io.Copy(io.Discard, l.R)
			}
			return
		}
	}
}

func (c *pconn) serverToClient() {
	l := faultcore.NewLink(c.Upstream(), c.Client())
	fr := newFrameReader(l.R, c.p.opts.MaxMessageBytes)
	var cutting *entry // the statement a CutAfterApply rule claimed, once its reply began
	for {
		f, err := fr.readMessage()
		if err != nil {
			c.WaitResumed() // a paused proxy holds connection ends too
			return
		}
		r := c.sess.fromServer(f)
		if !c.WaitResumed() {
			return
		}
		if cutting != nil {
			// Nothing more reaches the client; the connection is cut once
			// the statement's Sync group was answered (committed, outside a
			// transaction block).
			if r.ready || (r.stmt == cutting && r.end && !r.syncPending) {
				c.Cut(cutting.rule)
				return
			}
			continue
		}
		if r.stmt != nil && r.first && r.stmt.rule != nil {
			rule := r.stmt.rule
			if rule.Kind() == KindCutAfterApply && !r.ready && !(r.end && !r.syncPending) {
				// The cut waits for the end of the statement's Sync group.
				if err := l.W.Flush(); err != nil {
					return
				}
				cutting = r.stmt
				continue
			}
			// Cut now, held, or dropped (the server's messages read and
			// discarded until the connection ends).
			if !c.AtReply(rule, l.W, l.R) {
				return
			}
		}
		if err := l.Forward(f.raw); err != nil {
			return
		}
	}
}
