package inspector

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookwise/hookwise/internal/textcut"
	"github.com/hookwise/hookwise/receiver"
)

// Defaults of Options.
const (
	// DefaultCapacity is the number of deliveries kept.
	DefaultCapacity = 500
	// DefaultMaxEntryBytes bounds the payload text kept per delivery.
	DefaultMaxEntryBytes = 16 << 10
	// DefaultMaxTotalBytes bounds the size of all deliveries kept.
	DefaultMaxTotalBytes = 4 << 20
	// DefaultMaxDeadLetters is the number of dead letters listed per store.
	DefaultMaxDeadLetters = 100
	// DefaultPollInterval is how often the page asks for new deliveries.
	DefaultPollInterval = time.Second
	// MinTokenBytes is the shortest token New accepts.
	MinTokenBytes = 16
	// TokenHeader is the request header that carries the token (the page
	// sends it); "Authorization: Bearer <token>" is accepted too.
	TokenHeader = "X-Hookwise-Token"
)

// Errors of New.
var (
	// ErrWeakToken: Options.Token is shorter than MinTokenBytes.
	ErrWeakToken = errors.New("inspector: the token must be at least 16 bytes")
	// ErrNoStore: a DeadLetterSource without a Store.
	ErrNoStore = errors.New("inspector: dead-letter source without a store")
)

// DeadLetterSource is a dead-letter store the page lists, and how to replay
// its dead letters.
type DeadLetterSource struct {
	// Name is shown on the page ("stripe", "billing"); default "dead letters".
	Name string
	// Store is listed with List (the first Options.MaxDeadLetters, oldest
	// first).
	Store receiver.DeadLetterStore
	// Replay, when set, puts a replay button on each dead letter: a
	// receiver's Replay method (rc.Replay), or a receiver.Replayer's, which
	// queue the event again and delete the dead letter.
	Replay func(ctx context.Context, d receiver.DeadLetter) error
}

// Options configure an Inspector. Only Token is required.
type Options struct {
	// Token guards everything but the static page and its assets: the
	// page asks for it and sends it in TokenHeader. At least MinTokenBytes;
	// use a random one (openssl rand -hex 32).
	Token string
	// Capacity is the number of deliveries kept (default DefaultCapacity);
	// the oldest goes first.
	Capacity int
	// MaxEntryBytes bounds the payload text kept per delivery (default
	// DefaultMaxEntryBytes, at least 256): longer payloads are cut.
	MaxEntryBytes int
	// MaxTotalBytes bounds the approximate size of all deliveries kept
	// (default DefaultMaxTotalBytes): the oldest go first.
	MaxTotalBytes int64
	// DeadLetters are the dead-letter stores listed on the page.
	DeadLetters []DeadLetterSource
	// MaxDeadLetters is the number of dead letters listed per source
	// (default DefaultMaxDeadLetters).
	MaxDeadLetters int
	// RedactHeaders are header names redacted besides SignatureHeaders and
	// the general rule (a name containing signature, token, auth, secret,
	// key, hmac, password, cookie, credential, session…): the header of a
	// generic token provider with an unusual name, say.
	RedactHeaders []string
	// RedactFields are JSON and form field names redacted besides the
	// general rule (a name containing secret, password, token, signature,
	// clientState, apiKey, privateKey, authorization, credential…),
	// compared without case, "-", "_" and ".".
	RedactFields []string
	// PollInterval is how often the page asks for new deliveries (default
	// DefaultPollInterval, at least 250 ms).
	PollInterval time.Duration
	// Logger receives replays and refused replays (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Inspector is an http.Handler serving a page of recent deliveries, their
// redacted headers and payloads, and dead letters with a replay button. Feed
// it with Observer (or ObserverFor, one per receiver); mount it under a path
// ending in "/":
//
//	mux.Handle("/_hookwise/", ins)
//
// It is meant for loopback or an internal network: everything but the
// static page requires the token. It is safe for concurrent use.
type Inspector struct {
	opts  Options
	red   *redactor
	ring  *ring
	now   func() time.Time
	log   *slog.Logger
	token [sha256.Size]byte

	mu  sync.Mutex
	dls []DeadLetterSource // Options.DeadLetters, then AddDeadLetters
}

var _ http.Handler = (*Inspector)(nil)

// New returns an Inspector.
func New(opts Options) (*Inspector, error) {
	if len(opts.Token) < MinTokenBytes {
		return nil, ErrWeakToken
	}
	for _, s := range opts.DeadLetters {
		if s.Store == nil {
			return nil, ErrNoStore
		}
	}
	if opts.Capacity <= 0 {
		opts.Capacity = DefaultCapacity
	}
	if opts.MaxEntryBytes <= 0 {
		opts.MaxEntryBytes = DefaultMaxEntryBytes
	}
	opts.MaxEntryBytes = max(opts.MaxEntryBytes, 256)
	if opts.MaxTotalBytes <= 0 {
		opts.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if opts.MaxDeadLetters <= 0 {
		opts.MaxDeadLetters = DefaultMaxDeadLetters
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	opts.PollInterval = max(opts.PollInterval, 250*time.Millisecond)
	ins := &Inspector{
		opts:  opts,
		red:   newRedactor(opts.RedactHeaders, opts.RedactFields),
		ring:  newRing(opts.Capacity, opts.MaxTotalBytes),
		now:   opts.Now,
		log:   opts.Logger,
		token: sha256.Sum256([]byte(opts.Token)),
		dls:   append([]DeadLetterSource(nil), opts.DeadLetters...),
	}
	if ins.now == nil {
		ins.now = time.Now
	}
	if ins.log == nil {
		ins.log = slog.New(slog.DiscardHandler)
	}
	return ins, nil
}

// Observer returns the receiver.Observer to give a receiver
// (receiver.WithObserver): its deliveries are listed under the provider's
// name. One Inspector takes the observations of any number of receivers.
func (ins *Inspector) Observer() receiver.Observer { return observer{ins: ins} }

// ObserverFor is Observer listing the deliveries under name instead, to
// tell apart receivers of the same provider.
func (ins *Inspector) ObserverFor(name string) receiver.Observer {
	return observer{ins: ins, label: name}
}

// AddDeadLetters lists one more dead-letter store on the page: for a
// receiver created after the Inspector (its observer comes from the
// Inspector), ins.AddDeadLetters(inspector.DeadLetterSource{Name: "stripe",
// Store: rc.DeadLetters(), Replay: rc.Replay}). It returns ErrNoStore for a
// source without a store.
func (ins *Inspector) AddDeadLetters(src DeadLetterSource) error {
	if src.Store == nil {
		return ErrNoStore
	}
	ins.mu.Lock()
	defer ins.mu.Unlock()
	ins.dls = append(ins.dls, src)
	return nil
}

// sources returns the dead-letter sources.
func (ins *Inspector) sources() []DeadLetterSource {
	ins.mu.Lock()
	defer ins.mu.Unlock()
	return ins.dls[:len(ins.dls):len(ins.dls)]
}

// Stats reports what the Inspector holds.
func (ins *Inspector) Stats() Stats { return ins.ring.stats() }

//go:embed assets
var assets embed.FS

// routes, matched against the end of the request path, so that the
// Inspector works mounted under any prefix, with or without
// http.StripPrefix.
var routes = []struct {
	suffix string
	method string
	auth   bool
	serve  func(ins *Inspector, w http.ResponseWriter, r *http.Request)
}{
	{"/static/app.js", http.MethodGet, false, asset("assets/app.js", "text/javascript; charset=utf-8")},
	{"/static/app.css", http.MethodGet, false, asset("assets/app.css", "text/css; charset=utf-8")},
	{"/api/deliveries", http.MethodGet, true, (*Inspector).deliveries},
	{"/api/delivery", http.MethodGet, true, (*Inspector).delivery},
	{"/api/deadletters", http.MethodGet, true, (*Inspector).deadLetters},
	{"/api/deadletter", http.MethodGet, true, (*Inspector).deadLetter},
	{"/api/replay", http.MethodPost, true, (*Inspector).replay},
}

// ServeHTTP serves the page, its assets and its API.
func (ins *Inspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	path := r.URL.Path
	for _, rt := range routes {
		if !strings.HasSuffix(path, rt.suffix) {
			continue
		}
		if r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
			h.Set("Allow", rt.method)
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		if rt.auth && !ins.authorized(r) {
			h.Set("WWW-Authenticate", `Bearer realm="hookwise-inspector"`)
			writeError(w, http.StatusUnauthorized, "token required")
			return
		}
		rt.serve(ins, w, r)
		return
	}
	if !strings.HasSuffix(path, "/") {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	asset("assets/index.html", "text/html; charset=utf-8")(ins, w, r)
}

func asset(name, contentType string) func(*Inspector, http.ResponseWriter, *http.Request) {
	return func(_ *Inspector, w http.ResponseWriter, _ *http.Request) {
		b, err := assets.ReadFile(name)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "missing asset")
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(b)
	}
}

// authorized compares the request's token with the Inspector's in constant
// time (as SHA-256 digests, so not even the length leaks).
func (ins *Inspector) authorized(r *http.Request) bool {
	tok := r.Header.Get(TokenHeader)
	if tok == "" {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			tok = a[7:]
		}
	}
	if tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], ins.token[:]) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // escapes <, > and & as \u003c…: inert even if sniffed
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (ins *Inspector) deliveries(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	list, version, oldest := ins.ring.since(after)
	if list == nil {
		list = []summary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"version":          version,
		"oldest":           oldest,
		"capacity":         ins.opts.Capacity,
		"poll_ms":          ins.opts.PollInterval.Milliseconds(),
		"deliveries":       list,
		"deadletter_count": len(ins.sources()),
	})
}

func (ins *Inspector) delivery(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad id")
		return
	}
	d, ok := ins.ring.get(id)
	if !ok {
		writeError(w, http.StatusNotFound, "no such delivery (evicted?)")
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// storeTimeout bounds each dead-letter store call.
const storeTimeout = 5 * time.Second

type deadLetterSummary struct {
	Provider string    `json:"provider"`
	Key      string    `json:"key"`
	EventID  string    `json:"event_id,omitempty"`
	Type     string    `json:"type,omitempty"`
	Attempts int       `json:"attempts"`
	Reason   string    `json:"reason"`
	FailedAt time.Time `json:"failed_at"`
}

type deadLetterSource struct {
	Index  int                 `json:"index"`
	Name   string              `json:"name"`
	Replay bool                `json:"replay"`
	Error  string              `json:"error,omitempty"`
	Items  []deadLetterSummary `json:"items"`
}

func sourceName(srcs []DeadLetterSource, i int) string {
	if n := srcs[i].Name; n != "" {
		return n
	}
	if len(srcs) == 1 {
		return "dead letters"
	}
	return "dead letters " + strconv.Itoa(i+1)
}

func (ins *Inspector) list(ctx context.Context, src DeadLetterSource) ([]receiver.DeadLetter, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	list, err := src.Store.List(ctx, ins.opts.MaxDeadLetters)
	if len(list) > ins.opts.MaxDeadLetters {
		list = list[:ins.opts.MaxDeadLetters]
	}
	return list, err
}

func (ins *Inspector) deadLetters(w http.ResponseWriter, r *http.Request) {
	srcs := ins.sources()
	out := make([]deadLetterSource, len(srcs))
	for i, src := range srcs {
		s := deadLetterSource{Index: i, Name: textcut.Cut(sourceName(srcs, i), maxFieldBytes), Replay: src.Replay != nil, Items: []deadLetterSummary{}}
		list, err := ins.list(r.Context(), src)
		if err != nil {
			s.Error = "could not list: " + textcut.Cut(err.Error(), maxErrBytes)
		}
		for _, d := range list {
			if d.Event == nil {
				continue
			}
			s.Items = append(s.Items, deadLetterSummary{
				Provider: textcut.Cut(d.Event.Provider, maxFieldBytes), Key: d.Key(),
				EventID: textcut.Cut(d.Event.ID, maxFieldBytes), Type: textcut.Cut(d.Event.Type, maxFieldBytes),
				Attempts: d.Event.Attempt, Reason: textcut.Cut(d.Reason, maxErrBytes), FailedAt: d.FailedAt,
			})
		}
		out[i] = s
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

// find returns the dead letter of source i stored under provider and key,
// among those the page lists.
func (ins *Inspector) find(ctx context.Context, srcs []DeadLetterSource, i int, provider, key string) (receiver.DeadLetter, int, string) {
	if i < 0 || i >= len(srcs) {
		return receiver.DeadLetter{}, http.StatusNotFound, "no such source"
	}
	list, err := ins.list(ctx, srcs[i])
	if err != nil {
		return receiver.DeadLetter{}, http.StatusServiceUnavailable, "could not list dead letters"
	}
	for _, d := range list {
		if d.Event != nil && d.Event.Provider == provider && d.Key() == key {
			return d, http.StatusOK, ""
		}
	}
	return receiver.DeadLetter{}, http.StatusNotFound, "no such dead letter (replayed or deleted?)"
}

func (ins *Inspector) deadLetter(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	i, err := strconv.Atoi(q.Get("source"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad source")
		return
	}
	srcs := ins.sources()
	d, status, msg := ins.find(r.Context(), srcs, i, q.Get("provider"), q.Get("key"))
	if status != http.StatusOK {
		writeError(w, status, msg)
		return
	}
	ev := d.Event
	out := detail{}
	out.Provider, out.EventID, out.Type = textcut.Cut(ev.Provider, maxFieldBytes), textcut.Cut(ev.ID, maxFieldBytes), textcut.Cut(ev.Type, maxFieldBytes)
	out.Receiver, out.Stage, out.Err, out.Attempt, out.First = sourceName(srcs, i), "dead_lettered", textcut.Cut(d.Reason, maxErrBytes), ev.Attempt, ev.ReceivedAt
	out.Steps = []step{}
	out.Headers, out.HeadersOmitted = ins.red.renderHeaders(ev.Header)
	doc := []byte(ev.Payload)
	if doc == nil {
		doc = ev.Body
	}
	p := ins.red.renderPayload(doc, ev.Header.Get("Content-Type"), ins.opts.MaxEntryBytes)
	out.Payload, out.PayloadKind, out.PayloadTruncated, out.PayloadBytes = p.Text, p.Kind, p.Truncated, len(doc)
	writeJSON(w, http.StatusOK, out)
}

// maxReplayRequestBytes bounds a replay request's body.
const maxReplayRequestBytes = 4096

// replay replays one dead letter. It needs the token header (a browser
// never attaches one to a cross-site request without a preflight the
// Inspector does not grant) and a JSON body, so a form on another site
// cannot trigger it.
func (ins *Inspector) replay(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "JSON body required")
		return
	}
	var req struct {
		Source   int    `json:"source"`
		Provider string `json:"provider"`
		Key      string `json:"key"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReplayRequestBytes+1))
	if err != nil || len(body) > maxReplayRequestBytes || json.Unmarshal(body, &req) != nil {
		writeError(w, http.StatusBadRequest, "bad replay request")
		return
	}
	srcs := ins.sources()
	d, status, msg := ins.find(r.Context(), srcs, req.Source, req.Provider, req.Key)
	if status != http.StatusOK {
		writeError(w, status, msg)
		return
	}
	rp := srcs[req.Source].Replay
	if rp == nil {
		writeError(w, http.StatusForbidden, "this source has no replay")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	if err := rp(ctx, d); err != nil {
		ins.log.LogAttrs(r.Context(), slog.LevelWarn, "inspector: replay failed", slog.String("provider", d.Event.Provider),
			slog.String("id", d.Event.ID), slog.String("error", textcut.Cut(err.Error(), maxErrBytes)))
		writeError(w, http.StatusServiceUnavailable, "replay failed: "+textcut.Cut(err.Error(), maxErrBytes))
		return
	}
	ins.log.LogAttrs(r.Context(), slog.LevelInfo, "inspector: dead letter replayed", slog.String("provider", d.Event.Provider),
		slog.String("id", d.Event.ID), slog.String("type", d.Event.Type))
	writeJSON(w, http.StatusOK, map[string]any{"replayed": true, "event_id": d.Event.ID})
}
