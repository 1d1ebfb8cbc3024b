package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// defaultMaxConns is the connection cap when MAX_CONNS is unset.
const defaultMaxConns = 1024

// newServer returns the quickstart's HTTP server: every timeout set, for
// webhook deliveries (a few KiB of headers and a body of up to a few MiB,
// sent at once by a provider's servers). README's "Running in production"
// quotes this function.
func newServer(mux http.Handler) *http.Server {
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,  // a slow-header (slowloris) client is cut after 5 s
		ReadTimeout:       15 * time.Second, // the whole request, body included
		WriteTimeout:      20 * time.Second, // from the end of the headers to the end of the answer
		IdleTimeout:       60 * time.Second, // keep-alive between deliveries
		MaxHeaderBytes:    64 << 10,         // 64 KiB; providers send a few KiB
	}
}

// listen opens addr with at most maxConns connections open at once; more
// wait in the kernel's accept backlog until one closes.
func listen(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return limitListener(ln, maxConns), nil
}

// limitListener returns a listener that accepts at most n connections at
// once (as golang.org/x/net/netutil.LimitListener): Accept waits until an
// accepted connection is closed.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Accept waits for a free slot, then for a connection.
func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and frees its slot, once.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// maxConns returns MAX_CONNS, or defaultMaxConns when it is unset.
func maxConns(getenv func(string) string) (int, error) {
	s := getenv("MAX_CONNS")
	if s == "" {
		return defaultMaxConns, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<20 {
		return 0, fmt.Errorf("MAX_CONNS=%q: want a number of connections from 1 to %d", s, 1<<20)
	}
	return n, nil
}

// listenAddr returns $ADDR; when it is unset, ":8080" if every secret is
// set, else "127.0.0.1:8080": a receiver signing with the published
// development secrets is reachable from this host only.
func listenAddr(getenv func(string) string, log *slog.Logger) string {
	if addr := getenv("ADDR"); addr != "" {
		return addr
	}
	for _, ep := range endpoints {
		if getenv(ep.env) == "" {
			if log != nil {
				log.Warn("ADDR not set and a development secret is in use: listening on loopback only; set every secret, or ADDR, to listen on other interfaces", "addr", "127.0.0.1:8080")
			}
			return "127.0.0.1:8080"
		}
	}
	return ":8080"
}

// redactURL returns raw, which may be malformed, with its password (all of
// its user information but the user name) replaced by "xxxxx", and without
// its query and fragment: "redis://user:xxxxx@host:6379/0".
func redactURL(raw string) string {
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		rest = raw
	}
	userinfo, hostpath, hasUser := "", rest, false
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo, hostpath, hasUser = rest[:at], rest[at+1:], true
	}
	if i := strings.IndexAny(hostpath, "?#"); i >= 0 {
		hostpath = hostpath[:i]
	}
	out := hostpath
	if hasUser {
		user, _, hasPassword := strings.Cut(userinfo, ":")
		if !hasPassword || strings.ContainsAny(user, "/?#") {
			out = "xxxxx@" + hostpath // the whole user information may be a password
		} else {
			out = user + ":xxxxx@" + hostpath
		}
	}
	if hasScheme {
		return scheme + "://" + out
	}
	return out
}

// redisURLError reports a REDIS_URL that redis.ParseURL refused, without
// quoting the URL's password: url.Parse's errors quote the whole URL, and
// go-redis's may quote the path, where a password with a "/" ends up.
func redisURLError(raw string, err error) error {
	reason := "not a valid URL"
	var ue *url.Error
	if !errors.As(err, &ue) {
		// "redis: invalid database number: …": keep the kind, drop the quote.
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 {
			if j := strings.Index(msg[i+2:], ": "); j >= 0 {
				msg = msg[:i+2+j]
			}
		}
		reason = msg
	}
	return fmt.Errorf("REDIS_URL=%s: %s (want redis://[user:password@]host:port/db)", redactURL(raw), reason)
}
