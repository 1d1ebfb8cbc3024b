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
	"io"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/hookwise/hookwise/internal/faultcore"
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
	core     *faultcore.Proxy[[]string]
	opts     Options
	commands map[string]int // guarded by the core's lock (Classify, Stats)
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
	core, err := faultcore.Listen[[]string](target, faultcore.Config{Name: "faultproxy", DialTimeout: o.DialTimeout, CutLinger: o.CutLinger})
	if err != nil {
		return nil, err
	}
	p := &Proxy{core: core, opts: o, commands: make(map[string]int)}
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
	return faultcore.StartTest(tb, "faultproxy", func() (*Proxy, error) { return StartWith(target, o) })
}

// Addr is the proxy's listening address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.core.Addr() }

// Close stops listening, closes every connection and waits until all the
// proxy's goroutines have ended. Closing a closed proxy does nothing.
func (p *Proxy) Close() error { return p.core.Close() }

// CutAfterApply arms a rule for the next n commands (n >= 1) that match:
// each is forwarded to Redis and, once Redis has replied (the command is
// applied), its connection is closed without delivering that reply. Replies
// to earlier commands on the connection are delivered first; later commands
// the client sends on it are not forwarded.
func (p *Proxy) CutAfterApply(match Matcher, n int) *Rule {
	return p.core.AddRule(KindCutAfterApply, match, 0, n)
}

// HoldReply arms a rule for the next n commands (n >= 1) that match: each
// one's reply (and so every later reply on its connection) is delivered d
// after Redis sent it. Later commands are still forwarded meanwhile.
func (p *Proxy) HoldReply(match Matcher, d time.Duration, n int) *Rule {
	return p.core.AddRule(KindHoldReply, match, d, n)
}

// DropReply arms a rule for the next n commands (n >= 1) that match: each
// one's reply is never delivered. Its connection stalls, holding that reply
// and every later one, until the client closes it (go-redis does on its read
// timeout). Later commands are still forwarded to Redis and applied.
func (p *Proxy) DropReply(match Matcher, n int) *Rule {
	return p.core.AddRule(KindDropReply, match, 0, n)
}

// Pause stops forwarding in both directions until Resume: commands and
// replies read after it wait, a side that closes its connection is not
// seen by the other side, and new connections are accepted but not
// dialled. With Pause, a Redis restart (or crash) stays invisible to
// clients until CutAll or Resume.
func (p *Proxy) Pause() { p.core.Pause() }

// Resume forwards again what Pause held.
func (p *Proxy) Resume() { p.core.Resume() }

// CutAll closes every current connection, both sides, at once (replies in
// flight are lost), and returns how many it closed. New connections are
// accepted as usual.
func (p *Proxy) CutAll() int { return p.core.CutAll() }

// Stats returns a snapshot of the proxy's counts.
func (p *Proxy) Stats() Stats {
	var commands map[string]int
	cs := p.core.Stats(func() { commands = maps.Clone(p.commands) })
	return Stats{Commands: commands, Rules: cs.Rules, Connections: cs.Connections, Cuts: cs.Cuts}
}

// classify counts cmd and returns the rule that claims it, if any.
func (p *Proxy) classify(cmd []string) *Rule {
	return p.core.Classify(cmd, func() { p.commands[cmd[0]]++ })
}

func (p *Proxy) serveConn(cc *faultcore.Conn[[]string]) (clientToServer, serverToClient func()) {
	c := &pconn{Conn: cc, p: p}
	return c.clientToServer, c.serverToClient
}

// pconn is one proxied connection: a client and its upstream, and the
// rules of the commands awaiting their replies.
type pconn struct {
	*faultcore.Conn[[]string]
	p *Proxy

	mu      sync.Mutex
	pending []*Rule // one entry per command awaiting its reply; nil: no fault
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
	l := faultcore.NewLink(c.Client(), c.Upstream())
	rr := newRespReader(l.R, c.p.opts.MaxFrameBytes, c.p.opts.MaxDepth)
	for {
		args, raw, err := rr.readCommand()
		if err != nil {
			c.WaitResumed() // a paused proxy holds connection ends too
			return
		}
		var rule *Rule
		if len(args) > 0 {
			rule = c.p.classify(args)
			if !noReplyTracking[args[0]] {
				c.push(rule)
			}
		}
		if !c.WaitResumed() {
			return
		}
		if err := l.Forward(raw); err != nil {
			return
		}
		if rule != nil && rule.Kind() == KindCutAfterApply {
			if err := l.W.Flush(); err != nil {
				return
			}
			// Forward nothing more: the connection ends when the reply
			// arrives. Keep reading so that the client's later bytes do not
			// turn the close into a reset.
			_, _ = io.Copy(io.Discard, l.R)
			return
		}
	}
}

func (c *pconn) serverToClient() {
	l := faultcore.NewLink(c.Upstream(), c.Client())
	rr := newRespReader(l.R, c.p.opts.MaxFrameBytes, c.p.opts.MaxDepth)
	for {
		f, err := rr.readReply()
		if err != nil {
			c.WaitResumed() // a paused proxy holds connection ends too
			return
		}
		var rule *Rule
		if f.kind != '>' {
			rule = c.pop()
		}
		if !c.WaitResumed() {
			return
		}
		if rule != nil && !c.AtReply(rule, l.W, nil) {
			return
		}
		if err := l.Forward(f.raw); err != nil {
			return
		}
	}
}
