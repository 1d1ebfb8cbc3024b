package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/receiver"
)

const listenHelp = `usage: hookwise listen [-addr A] PROVIDER[=SECRET] …

Runs a local receiver, for development behind a tunnel: POST
/webhooks/PROVIDER for each provider named, verified with SECRET (the
receiving side's: a public key for Discord and SendGrid, a PEM certificate
for PayPal; @FILE reads a file) or, without one, with the provider's
development secret (the one "hookwise send" signs with; published, so
listen stays on loopback unless -addr says otherwise). Every delivery is
printed with its verdict: accepted, duplicate, rejected with its status and
reason (for a 401, with the likely cause, as "hookwise verify" finds it),
handled. The handler accepts every event; -fail makes it fail, to watch
retries and dead letters.

flags:
`

// listenMaxBody bounds the body listen buffers to diagnose a rejection.
const listenMaxBody = receiver.DefaultMaxBodyBytes

func cmdListen(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("listen", listenHelp, e)
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	publicURL := fs.String("public-url", "", "the public base URL the tunnel exposes (https://abc.example.dev), for providers that sign the URL")
	dump := fs.String("dump", "", "save every delivery as a raw HTTP request in this directory (for hookwise verify -request)")
	bodies := fs.Bool("body", false, "print each accepted delivery's body")
	fail := fs.Bool("fail", false, "make the handler fail every event (retries, then a dead letter)")
	var params multi
	fs.Var(&params, "param", "PROVIDER.key=value: a provider parameter of the catalog (repeatable)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return exitWith(exitUsage, errors.New("listen: name at least one provider"))
	}
	perProvider := map[string]map[string]string{}
	for _, p := range params {
		name, kv, ok := strings.Cut(p, ".")
		if !ok {
			return exitWith(exitUsage, errors.New("listen: -param wants PROVIDER.key=value"))
		}
		n, err := canonicalName(name)
		if err != nil {
			return err
		}
		m, err := parseParams([]string{kv})
		if err != nil {
			return err
		}
		if perProvider[n] == nil {
			perProvider[n] = map[string]string{}
		}
		for k, v := range m {
			perProvider[n][k] = v
		}
	}
	out := &printer{w: e.stdout}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	mux := http.NewServeMux()
	var receivers []*receiver.Receiver
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, rc := range receivers {
			_ = rc.Shutdown(sctx)
		}
	}()
	for _, arg := range pos {
		rawName, secret, hasSecret := strings.Cut(arg, "=")
		name, err := canonicalName(rawName)
		if err != nil {
			return err
		}
		s := schemes[name]
		if hasSecret {
			if secret, err = readSecret(secret, e.readFile); err != nil {
				return err
			}
		} else if !s.noSecret {
			if secret, err = devReceiverSecret(name); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "hookwise: %s: no secret given: accepting deliveries signed with its published development secret\n", name)
		}
		path := "/webhooks/" + name
		u := ""
		if *publicURL != "" {
			u = strings.TrimSuffix(*publicURL, "/") + path
		}
		prms := s.mergedParams(perProvider[name])
		p, err := providers.New(name, receiverConfig(name, secret, prms, u))
		if err != nil {
			return exitWith(exitUsage, fmt.Errorf("listen: %s: %s", name, redact(err, secret)))
		}
		var h receiver.Handler = receiver.HandlerFunc(func(_ context.Context, ev *receiver.Event) error {
			if *fail {
				return errors.New("hookwise listen -fail: the handler fails on purpose")
			}
			out.line("%s  %-9s %s %s attempt %d", name, "handled", ev.ID, ev.Type, ev.Attempt)
			return nil
		})
		rc, err := receiver.New(p, h, receiver.WithLogger(logger),
			receiver.WithObserver(receiver.ObserverFunc(func(ctx context.Context, o receiver.Observation) { out.observe(ctx, name, o) })),
			receiver.Backoff(100*time.Millisecond, time.Second), receiver.MaxAttempts(3))
		if err != nil {
			return err
		}
		receivers = append(receivers, rc)
		l := &listener{name: name, rc: rc, out: out, dump: *dump, bodies: *bodies,
			diag: diagnosis{name: name, secret: secret, params: prms, url: u}, now: e.now}
		mux.Handle(path, l)
		fmt.Fprintf(e.stderr, "hookwise: %s: POST %s\n", name, path)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return exitWith(exitIO, fmt.Errorf("listen: %w", err))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 20 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10}
	fmt.Fprintf(e.stderr, "hookwise: listening on http://%s\n", ln.Addr())
	if e.ready != nil {
		e.ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return exitWith(exitIO, fmt.Errorf("listen: %w", err))
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// printer writes whole lines, one at a time, stamped.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, time.Now().Format("15:04:05.000")+"  "+format+"\n", args...)
}

// observe prints the pipeline's later stages (the request-path verdict is
// printed by the listener, which knows the answer).
func (p *printer) observe(ctx context.Context, name string, o receiver.Observation) {
	id, typ := "", ""
	if o.Event != nil {
		id, typ = o.Event.ID, o.Event.Type
	}
	if box, ok := ctx.Value(verdictKey{}).(*verdictBox); ok {
		switch o.Stage {
		case receiver.StageRejected, receiver.StageDuplicate, receiver.StageEnqueued, receiver.StageInvalid, receiver.StageHandshake:
			box.mu.Lock()
			box.stage, box.id, box.typ = o.Stage, id, typ
			box.reason = o.Reason
			if o.Err != nil {
				box.reason += ": " + o.Err.Error()
			}
			if o.HasSkew {
				box.skew = fmt.Sprintf(", signed %s before it arrived", o.Skew.Round(time.Millisecond))
			}
			box.mu.Unlock()
			return
		}
	}
	switch o.Stage {
	case receiver.StageDuplicate:
		p.line("%s  %-9s %s %s: already handled, skipped", name, "skipped", id, typ)
	case receiver.StageRetried:
		p.line("%s  %-9s %s %s: %v", name, "retrying", id, typ, o.Err)
	case receiver.StageDeadLettered:
		p.line("%s  %-9s %s %s: %v", name, "dead", id, typ, o.Err)
	case receiver.StageInvalid:
		p.line("%s  %-9s %s %s: %v", name, "invalid", id, typ, o.Err)
	}
}

// listener serves one provider's route: it buffers the body (bounded) so
// that a rejected delivery can be diagnosed and dumped, then hands the
// request to the receiver and prints its verdict.
type listener struct {
	name   string
	rc     *receiver.Receiver
	out    *printer
	dump   string
	bodies bool
	diag   diagnosis
	now    func() time.Time
	seq    atomic.Int64
	busy   atomic.Bool // one diagnosis at a time: a flood is not diagnosed
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, listenMaxBody+1))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	box := &verdictBox{}
	r = r.WithContext(context.WithValue(r.Context(), verdictKey{}, box))
	l.rc.ServeHTTP(rec, r)
	box.mu.Lock()
	stage, id, typ, reason, skew := box.stage, box.id, box.typ, box.reason, box.skew
	box.mu.Unlock()
	n := l.seq.Add(1)
	if l.dump != "" {
		path := filepath.Join(l.dump, fmt.Sprintf("%s-%d-%d.http", l.name, time.Now().Unix(), n))
		if err := os.WriteFile(path, rawRequest(r, body), 0o600); err == nil {
			l.out.line("%s  saved     %s", l.name, path)
		}
	}
	switch {
	case stage == receiver.StageEnqueued:
		l.out.line("%s  %-9s %d %s %s (queued for the handler%s)", l.name, "accepted", rec.status, id, typ, skew)
	case stage == receiver.StageDuplicate:
		l.out.line("%s  %-9s %d %s %s (already taken: not handled again)", l.name, "duplicate", rec.status, id, typ)
	case rec.status >= 300:
		l.out.line("%s  %-9s %d %s %s: %s", l.name, "rejected", rec.status, r.Method, r.URL.RequestURI(), reason)
	case stage == receiver.StageHandshake:
		l.out.line("%s  %-9s %d %s %s (a handshake, answered)", l.name, "answered", rec.status, r.Method, r.URL.RequestURI())
	default:
		l.out.line("%s  %-9s %d %s %s", l.name, "answered", rec.status, r.Method, r.URL.RequestURI())
	}
	if l.bodies && rec.status < 300 {
		l.out.line("%s  body      %s", l.name, truncate(string(body), 2048))
	}
	if rec.status == http.StatusUnauthorized && int64(len(body)) <= listenMaxBody && l.busy.CompareAndSwap(false, true) {
		defer l.busy.Store(false)
		c := &capture{method: r.Method, target: r.RequestURI, host: r.Host, header: r.Header.Clone(), body: body}
		d := l.diag
		d.now, d.cap = l.now(), c
		v := diagnose(d)
		for i, f := range v.Causes {
			label := "cause"
			if i > 0 {
				label = "also"
			}
			l.out.line("%s  %-9s [%s] %s", l.name, label, f.Code, f.Message)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// rawRequest renders a received request as verify -request reads it.
func rawRequest(r *http.Request, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.RequestURI, r.Host)
	for _, k := range sortedKeys(r.Header) {
		if strings.EqualFold(k, "Content-Length") {
			continue
		}
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes()
}

// verdictKey keys the verdictBox a listener puts in each request's
// context, which the observer fills on the request path.
type verdictKey struct{}

type verdictBox struct {
	mu                    sync.Mutex
	stage                 receiver.Stage
	id, typ, reason, skew string
}

// statusRecorder notes the status the receiver answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
