package intake

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Loader fetches a list of prefixes, e.g. a closure over LoadGitHubMeta or
// LoadStripeIPs.
type Loader func(ctx context.Context) ([]netip.Prefix, error)

// Defaults of RefresherConfig.
const (
	DefaultRefreshInterval = time.Hour
	DefaultRefreshTimeout  = 30 * time.Second
)

// RefresherConfig configures a Refresher.
type RefresherConfig struct {
	// List receives each good set (required).
	List *List
	// Load fetches the prefixes (required).
	Load Loader
	// Interval is the time between loads in Run (default
	// DefaultRefreshInterval).
	Interval time.Duration
	// Timeout bounds one load (default DefaultRefreshTimeout).
	Timeout time.Duration
	// Logger receives a line per failed load (the error, never the body),
	// default slog.Default().
	Logger *slog.Logger
	// OnResult, if set, is called after each load with its error (nil on
	// success).
	OnResult func(err error)
}

// Refresher keeps a List up to date from a Loader. A successful load
// replaces the List's set atomically; a failed one (network, status, format,
// empty list) leaves the last good set in place, so a provider's outage
// never empties the allow-list. Until the first success the List stays as it
// was (unloaded, if it was created so, and AllowList answers 503).
type Refresher struct {
	cfg RefresherConfig

	mu      sync.Mutex
	lastOK  time.Time
	lastErr error
}

// NewRefresher validates cfg. Errors match ErrConfig.
func NewRefresher(cfg RefresherConfig) (*Refresher, error) {
	switch {
	case cfg.List == nil:
		return nil, fmt.Errorf("%w: RefresherConfig.List is required", ErrConfig)
	case cfg.Load == nil:
		return nil, fmt.Errorf("%w: RefresherConfig.Load is required", ErrConfig)
	case cfg.Interval < 0 || cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: Interval and Timeout must not be negative", ErrConfig)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultRefreshInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultRefreshTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Refresher{cfg: cfg}, nil
}

// Refresh loads once and, on success, stores the new set in the List. It
// returns the load's error; on error the List keeps its set.
func (r *Refresher) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	prefixes, err := r.cfg.Load(ctx)
	var set *PrefixSet
	if err == nil {
		set = NewPrefixSet(prefixes...)
		if set.Len() == 0 {
			err = ErrEmptyList
		}
	}
	r.mu.Lock()
	r.lastErr = err
	if err == nil {
		r.lastOK = time.Now()
	}
	r.mu.Unlock()
	if err == nil {
		r.cfg.List.Store(set)
	} else {
		r.cfg.Logger.Warn("intake: allow-list refresh failed; keeping the last good list", slog.Any("error", err))
	}
	if r.cfg.OnResult != nil {
		r.cfg.OnResult(err)
	}
	return err
}

// Run refreshes at once, then every Interval, until ctx is done; it returns
// ctx's error.
func (r *Refresher) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			_ = r.Refresh(ctx)
			t.Reset(r.cfg.Interval)
		}
	}
}

// Status returns when the last successful load finished (zero if none) and
// the last load's error (nil after a success).
func (r *Refresher) Status() (lastSuccess time.Time, lastErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastOK, r.lastErr
}
