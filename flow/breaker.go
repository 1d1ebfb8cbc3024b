package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hookwise/hookwise/receiver"
)

// State is a circuit breaker's state.
type State uint8

// The states of a Breaker.
const (
	Closed   State = iota // calls pass; failures are counted
	Open                  // calls are deferred until OpenFor has passed
	HalfOpen              // a few probe calls pass; their outcome closes or reopens the breaker
)

// String returns the state's lower-case name ("half_open").
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "unknown"
}

// Defaults of a BreakerConfig.
const (
	DefaultConsecutiveFailures = 5
	DefaultBreakerWindow       = time.Minute
	DefaultMinCalls            = 10
	DefaultOpenFor             = 30 * time.Second
)

// Reasons given to receiver.Defer by this package's middleware, seen by
// observers as the Reason of receiver.StageDeferred.
const (
	ReasonCircuitOpen = "circuit_open"      // a breaker is open (or half-open with its probes running)
	ReasonConcurrency = "concurrency"       // a limit's MaxInFlight is reached
	ReasonRate        = "rate"              // a limit's PerSecond is spent
	ReasonUnavailable = "limit_unavailable" // a limit's shared store did not answer
)

// BreakerConfig configures a Breaker. The zero value trips after
// DefaultConsecutiveFailures consecutive failures and stays open for
// DefaultOpenFor.
type BreakerConfig struct {
	// Name names the breaker in logs and in OnStateChange (the downstream it
	// protects, "billing-api").
	Name string
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row (0: not by this rule; DefaultConsecutiveFailures when
	// FailureRatio is 0 too).
	ConsecutiveFailures int
	// FailureRatio trips the breaker when, over the last Window, at least
	// MinCalls calls ended and this fraction of them failed (0: not by this
	// rule; at most 1).
	FailureRatio float64
	// Window is the span FailureRatio is measured over (default
	// DefaultBreakerWindow), in ten buckets.
	Window time.Duration
	// MinCalls is the fewest calls in Window for FailureRatio to apply
	// (default DefaultMinCalls).
	MinCalls int
	// OpenFor is how long the breaker stays open before it lets probes
	// through (default DefaultOpenFor).
	OpenFor time.Duration
	// Probes is how many calls may run at once while half-open, and how
	// many of them must succeed to close the breaker (default 1). One
	// failed probe opens it again.
	Probes int
	// IsFailure reports whether a handler's error counts against the
	// downstream. The default counts every error except those matching
	// receiver.ErrPermanent, ErrInvalidPayload, ErrNoHandler (the event's
	// fault, not the downstream's: they count as successes) and
	// ErrDeferred (not counted at all).
	IsFailure func(err error) bool
	// OnStateChange, when set, is called on every transition, with the
	// breaker's lock held: it must be fast and must not call the Breaker.
	// Export the state to metrics from here.
	OnStateChange func(name string, from, to State)
	// Logger logs transitions (default: discard).
	Logger *slog.Logger
}

// Breaker is a circuit breaker around one handler: after too many
// failures it opens, and while it is open the handler is not called —
// every event is deferred (receiver.Defer, ReasonCircuitOpen) until
// OpenFor has passed, without using up its attempts. Then it is half-open:
// up to Probes events run as probes; as many successes close it, one
// failure opens it again for another OpenFor.
//
// A Breaker is a receiver.Handler; register it where the wrapped handler
// would be: mux.Handle("invoice.*", flow.NewBreaker(h, cfg)). It is safe
// for concurrent use. Its state is in this process only.
type Breaker struct {
	h   receiver.Handler
	cfg BreakerConfig
	log *slog.Logger
	now func() time.Time

	mu          sync.Mutex
	state       State
	gen         uint64 // bumped on every transition: outcomes of calls admitted under another state are ignored
	openedAt    time.Time
	consecutive int
	probes      int // probes running (half-open)
	successes   int // successful probes since half-open
	win         window
}

// NewBreaker returns a Breaker around h. It panics when h is nil or cfg is
// invalid (a negative count or duration, FailureRatio outside [0, 1]): a
// programming error, as in Mux.Handle.
func NewBreaker(h receiver.Handler, cfg BreakerConfig) *Breaker {
	switch {
	case h == nil:
		panic("flow: NewBreaker given a nil handler")
	case cfg.ConsecutiveFailures < 0 || cfg.MinCalls < 0 || cfg.Probes < 0 || cfg.Window < 0 || cfg.OpenFor < 0:
		panic("flow: negative BreakerConfig value")
	case cfg.FailureRatio < 0 || cfg.FailureRatio > 1:
		panic("flow: BreakerConfig.FailureRatio outside [0, 1]")
	}
	if cfg.ConsecutiveFailures == 0 && cfg.FailureRatio == 0 {
		cfg.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultBreakerWindow
	}
	if cfg.MinCalls == 0 {
		cfg.MinCalls = DefaultMinCalls
	}
	if cfg.OpenFor == 0 {
		cfg.OpenFor = DefaultOpenFor
	}
	if cfg.Probes == 0 {
		cfg.Probes = 1
	}
	if cfg.IsFailure == nil {
		cfg.IsFailure = defaultIsFailure
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Breaker{h: h, cfg: cfg, log: log.With("breaker", cfg.Name), now: time.Now}
	b.win.span = cfg.Window / windowBuckets
	if b.win.span <= 0 {
		b.win.span = 1
	}
	return b
}

// defaultIsFailure counts every error but those that are the event's fault
// or a deferral.
func defaultIsFailure(err error) bool {
	return err != nil && !errors.Is(err, receiver.ErrPermanent) && !errors.Is(err, receiver.ErrInvalidPayload) &&
		!errors.Is(err, receiver.ErrNoHandler) && !errors.Is(err, receiver.ErrDeferred)
}

// State returns the breaker's state now (an open breaker whose OpenFor has
// passed reports HalfOpen only once a call found it so).
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// HandleEvent calls the wrapped handler when the breaker lets the call
// through, and returns receiver.Defer otherwise.
func (b *Breaker) HandleEvent(ctx context.Context, e *receiver.Event) error {
	return b.call(ctx, e, b.h)
}

// call runs h for e when the breaker lets the call through.
func (b *Breaker) call(ctx context.Context, e *receiver.Event, h receiver.Handler) error {
	gen, probe, wait := b.admit()
	if wait > 0 {
		return receiver.Defer(jitter(wait), ReasonCircuitOpen)
	}
	finished := false
	defer func() {
		if !finished { // the handler panicked: a failure, then the panic goes on
			b.record(gen, probe, errPanicked)
		}
	}()
	err := h.HandleEvent(ctx, e)
	finished = true
	b.record(gen, probe, err)
	return err
}

// errPanicked is the outcome recorded for a handler that panicked.
var errPanicked = errors.New("flow: handler panicked")

// Breakers keeps one Breaker per route of a Mux, for Mux.Use: every pattern
// registered gets its own breaker, made from one configuration, so one
// failing downstream does not pause the others' routes.
//
//	bs := flow.NewBreakers(mux, flow.BreakerConfig{ConsecutiveFailures: 5})
//	mux.Use(bs.Middleware)
//
// A breaker is named by its pattern ("invoice.*"), after cfg.Name and a
// colon when cfg.Name is set: a bounded set, fit for a metric label in
// OnStateChange. Breakers is safe for concurrent use.
type Breakers struct {
	mux *receiver.Mux
	cfg BreakerConfig

	mu sync.Mutex
	by map[string]*Breaker
}

// NewBreakers returns the per-route breakers of mux, each configured by
// cfg. It panics when mux is nil or cfg is invalid, as NewBreaker does.
func NewBreakers(mux *receiver.Mux, cfg BreakerConfig) *Breakers {
	if mux == nil {
		panic("flow: NewBreakers given a nil Mux")
	}
	NewBreaker(receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil }), cfg) // validates cfg
	return &Breakers{mux: mux, cfg: cfg, by: map[string]*Breaker{}}
}

// Middleware is the middleware to give Mux.Use: it runs the matched
// handler through its route's breaker.
func (bs *Breakers) Middleware(next receiver.Handler) receiver.Handler {
	return receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		_, pattern := bs.mux.Handler(e.Type)
		if pattern == "" { // no route: the Mux answers ErrNoHandler
			return next.HandleEvent(ctx, e)
		}
		return bs.breaker(pattern).call(ctx, e, next)
	})
}

// State returns the state of the breaker of the route registered with
// pattern (Closed for a route no event has reached yet).
func (bs *Breakers) State(pattern string) State {
	bs.mu.Lock()
	b := bs.by[pattern]
	bs.mu.Unlock()
	if b == nil {
		return Closed
	}
	return b.State()
}

// breaker returns the breaker of pattern, making it on first use.
func (bs *Breakers) breaker(pattern string) *Breaker {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b, ok := bs.by[pattern]; ok {
		return b
	}
	cfg := bs.cfg
	cfg.Name = pattern
	if bs.cfg.Name != "" {
		cfg.Name = bs.cfg.Name + ":" + pattern
	}
	b := NewBreaker(receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		return errors.New("flow: a route breaker runs the handler it is given")
	}), cfg)
	bs.by[pattern] = b
	return b
}

// admit decides whether a call runs: it returns the generation it runs
// under and whether it is a probe, or how long to defer it.
func (b *Breaker) admit() (gen uint64, probe bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.state == Open {
		until := b.openedAt.Add(b.cfg.OpenFor)
		if now.Before(until) {
			return 0, false, until.Sub(now)
		}
		b.transition(HalfOpen)
	}
	if b.state == HalfOpen {
		if b.probes >= b.cfg.Probes {
			// Probes are running: wait for their outcome, a short while.
			return 0, false, max(min(b.cfg.OpenFor/4, time.Second), receiver.MinDeferral)
		}
		b.probes++
		return b.gen, true, 0
	}
	return b.gen, false, 0
}

// record counts a call's outcome.
func (b *Breaker) record(gen uint64, probe bool, err error) {
	deferred := errors.Is(err, receiver.ErrDeferred)
	failed := !deferred && b.cfg.IsFailure(err)
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.gen { // admitted under an earlier state: its outcome is stale
		return
	}
	now := b.now()
	if probe {
		b.probes--
		switch {
		case deferred:
		case failed:
			b.trip(now)
		default:
			b.successes++
			if b.successes >= b.cfg.Probes {
				b.transition(Closed)
			}
		}
		return
	}
	if deferred {
		return
	}
	b.win.add(now, failed)
	if !failed {
		b.consecutive = 0
		return
	}
	b.consecutive++
	if b.cfg.ConsecutiveFailures > 0 && b.consecutive >= b.cfg.ConsecutiveFailures {
		b.trip(now)
		return
	}
	if b.cfg.FailureRatio > 0 {
		calls, fails := b.win.sum(now)
		if calls >= b.cfg.MinCalls && float64(fails) >= b.cfg.FailureRatio*float64(calls) {
			b.trip(now)
		}
	}
}

// trip opens the breaker; b.mu is held.
func (b *Breaker) trip(now time.Time) {
	b.openedAt = now
	b.transition(Open)
}

// transition moves to state to, resetting the counts; b.mu is held.
func (b *Breaker) transition(to State) {
	from := b.state
	b.state = to
	b.gen++
	b.consecutive, b.probes, b.successes = 0, 0, 0
	b.win = window{span: b.win.span}
	switch to {
	case Open:
		b.log.LogAttrs(context.Background(), slog.LevelWarn, "circuit breaker opened; deferring events",
			slog.String("from", from.String()), slog.Duration("open_for", b.cfg.OpenFor))
	case HalfOpen:
		b.log.LogAttrs(context.Background(), slog.LevelInfo, "circuit breaker half-open; probing")
	case Closed:
		b.log.LogAttrs(context.Background(), slog.LevelInfo, "circuit breaker closed")
	}
	if b.cfg.OnStateChange != nil {
		b.cfg.OnStateChange(b.cfg.Name, from, to)
	}
}

// windowBuckets is how many buckets a failure-ratio window has.
const windowBuckets = 10

// window counts calls and failures over the last windowBuckets spans.
type window struct {
	span    time.Duration
	buckets [windowBuckets]struct {
		epoch        int64 // the span number the counts belong to
		calls, fails int
	}
}

func (w *window) add(now time.Time, failed bool) {
	n := now.UnixNano() / int64(w.span)
	b := &w.buckets[n%windowBuckets]
	if b.epoch != n {
		b.epoch, b.calls, b.fails = n, 0, 0
	}
	b.calls++
	if failed {
		b.fails++
	}
}

func (w *window) sum(now time.Time) (calls, fails int) {
	n := now.UnixNano() / int64(w.span)
	for _, b := range w.buckets {
		if b.epoch > n-windowBuckets && b.epoch <= n {
			calls, fails = calls+b.calls, fails+b.fails
		}
	}
	return calls, fails
}

// jitter spreads a wait by up to a quarter more, so that events deferred
// together do not all come back at once.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + rand.N(d/4+1)
}

// String describes the breaker (its name and state).
func (b *Breaker) String() string { return fmt.Sprintf("flow.Breaker(%s, %s)", b.cfg.Name, b.State()) }
