package flow

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/hookwise/hookwise/receiver"
)

// DefaultLimitRetry is how long an event deferred by MaxInFlight waits
// before it is tried again, unless LimitConfig.RetryIn says otherwise.
const DefaultLimitRetry = 100 * time.Millisecond

// LimitConfig configures a Limit. A zero field sets no limit of its kind.
type LimitConfig struct {
	// Name names the limit (the downstream it protects).
	Name string
	// MaxInFlight is the most calls of the handler running at once in this
	// process (0: no limit).
	MaxInFlight int
	// PerSecond is the most calls started per second, on average, in this
	// process (0: no limit), with bursts of up to Burst.
	PerSecond float64
	// Burst is how many calls may start at once after a quiet spell
	// (default: PerSecond rounded up, at least 1).
	Burst int
	// RetryIn is how long an event deferred by MaxInFlight waits before it
	// is tried again (default DefaultLimitRetry). An event deferred by
	// PerSecond waits until a call is allowed.
	RetryIn time.Duration
	// Store keeps the counts (default: this Limit's own, in this process).
	// A store shared by replicas (package flow/redislimit) makes the limits
	// hold across them, for every Limit with the same Name.
	Store LimitStore
	// Logger logs a store's failures (default: discard).
	Logger *slog.Logger
}

// LimitStore keeps the counts of limits. Implementations are safe for
// concurrent use.
type LimitStore interface {
	// Acquire admits one call under cfg (cfg.Name names the shared limit):
	// it returns a release function to call when the call ends, or, when a
	// limit is reached, the wait before another call may be admitted and
	// the reason (ReasonConcurrency or ReasonRate). An error means the
	// store could not tell; the Limit then defers the event by RetryIn with
	// ReasonUnavailable.
	Acquire(ctx context.Context, cfg LimitConfig) (release func(), wait time.Duration, reason string, err error)
}

// Limit bounds the calls of one handler: at most MaxInFlight at once, at
// most PerSecond started per second. A call beyond them is not made and
// not waited for: the event is deferred (receiver.Defer, with
// ReasonConcurrency or ReasonRate), without using up one of its attempts,
// and runs again later; the queue's worker is free meanwhile.
//
// A Limit is a receiver.Handler; register it where the wrapped handler
// would be. It is safe for concurrent use. Its counts are in this process
// (N replicas allow N × MaxInFlight and N × PerSecond), unless
// LimitConfig.Store is shared by the replicas (package flow/redislimit).
type Limit struct {
	h   receiver.Handler
	cfg LimitConfig
	now func() time.Time
	log *slog.Logger

	mu       sync.Mutex
	inFlight int
	tokens   float64
	last     time.Time // when tokens was last refilled
}

// NewLimit returns a Limit around h. It panics when h is nil or a field of
// cfg is negative (or not a number): a programming error.
func NewLimit(h receiver.Handler, cfg LimitConfig) *Limit {
	if h == nil {
		panic("flow: NewLimit given a nil handler")
	}
	if cfg.MaxInFlight < 0 || cfg.PerSecond < 0 || math.IsNaN(cfg.PerSecond) || math.IsInf(cfg.PerSecond, 0) || cfg.Burst < 0 || cfg.RetryIn < 0 {
		panic("flow: invalid LimitConfig value")
	}
	if cfg.Burst == 0 {
		cfg.Burst = max(int(math.Ceil(cfg.PerSecond)), 1)
	}
	if cfg.RetryIn == 0 {
		cfg.RetryIn = DefaultLimitRetry
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limit{h: h, cfg: cfg, now: time.Now, tokens: float64(cfg.Burst), log: log.With("limit", cfg.Name)}
}

// InFlight returns how many calls of the handler are running now in this
// process, under the Limit's own counts (0 with a Store).
func (l *Limit) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// HandleEvent calls the wrapped handler when both limits allow it, and
// returns receiver.Defer otherwise.
func (l *Limit) HandleEvent(ctx context.Context, e *receiver.Event) error {
	if l.cfg.Store != nil {
		release, wait, reason, err := l.cfg.Store.Acquire(ctx, l.cfg)
		switch {
		case err != nil:
			l.log.LogAttrs(ctx, slog.LevelWarn, "limit store unavailable; event deferred", slog.Any("error", err))
			return receiver.Defer(jitter(l.cfg.RetryIn), ReasonUnavailable)
		case release == nil:
			return receiver.Defer(jitter(max(wait, receiver.MinDeferral)), reason)
		}
		defer release()
		return l.h.HandleEvent(ctx, e)
	}
	if err := l.acquire(); err != nil {
		return err
	}
	defer l.release()
	return l.h.HandleEvent(ctx, e)
}

// acquire takes a slot and a token from the Limit's own counts, or returns
// the deferral.
func (l *Limit) acquire() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxInFlight > 0 && l.inFlight >= l.cfg.MaxInFlight {
		return receiver.Defer(jitter(l.cfg.RetryIn), ReasonConcurrency)
	}
	if l.cfg.PerSecond > 0 {
		now := l.now()
		if !l.last.IsZero() {
			l.tokens = min(l.tokens+now.Sub(l.last).Seconds()*l.cfg.PerSecond, float64(l.cfg.Burst))
		}
		l.last = now
		if l.tokens < 1 {
			wait := time.Duration((1 - l.tokens) / l.cfg.PerSecond * float64(time.Second))
			return receiver.Defer(jitter(max(wait, receiver.MinDeferral)), ReasonRate)
		}
		l.tokens--
	}
	l.inFlight++
	return nil
}

func (l *Limit) release() {
	l.mu.Lock()
	l.inFlight--
	l.mu.Unlock()
}
