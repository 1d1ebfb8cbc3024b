package intake

import (
	"container/list"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// DefaultMaxClients is the default bound on per-client buckets.
const DefaultMaxClients = 10000

// RateLimitConfig configures RateLimit.
type RateLimitConfig struct {
	// Rate is the sustained rate in requests per second (required, > 0).
	// 0.5 is one request every two seconds.
	Rate float64
	// Burst is the bucket's size: how many requests may arrive at once
	// after a quiet period (required, >= 1).
	Burst int
	// Status is the refusal status: http.StatusTooManyRequests (429, the
	// default) or http.StatusServiceUnavailable (503). Both carry
	// Retry-After.
	Status int
	// PerClient gives each client address its own bucket instead of one
	// bucket for the endpoint. Requests whose address cannot be resolved
	// share one bucket.
	PerClient bool
	// Resolver finds the client address when PerClient is set. Nil: the TCP
	// peer (RemoteAddr).
	Resolver *Resolver
	// MaxClients bounds the per-client buckets kept (default
	// DefaultMaxClients); beyond it the least recently seen client's bucket
	// is dropped, and that client starts again with a full bucket.
	MaxClients int
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
	// OnRefuse, if set, is called once for each refused request with
	// ReasonRateLimited. It must be safe for concurrent use.
	OnRefuse func(r *http.Request, reason string)
}

// RateLimit returns a handler that passes requests to next at no more than
// cfg.Rate per second on average, with bursts of up to cfg.Burst: a token
// bucket. A request that finds the bucket empty is refused with cfg.Status
// and a Retry-After, in whole seconds rounded up, of when the bucket will
// hold a token again; a refused request takes no token. Errors match
// ErrConfig.
//
// Wrap each endpoint (each receiver) in its own RateLimit: the bucket belongs
// to the handler. Put it inside AllowList so refused senders spend no
// tokens.
func RateLimit(next http.Handler, cfg RateLimitConfig) (http.Handler, error) {
	switch {
	case next == nil:
		return nil, fmt.Errorf("%w: RateLimit needs a next handler", ErrConfig)
	case !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0):
		return nil, fmt.Errorf("%w: Rate must be a positive finite number", ErrConfig)
	case cfg.Burst < 1:
		return nil, fmt.Errorf("%w: Burst must be at least 1", ErrConfig)
	case cfg.Status != 0 && cfg.Status != http.StatusTooManyRequests && cfg.Status != http.StatusServiceUnavailable:
		return nil, fmt.Errorf("%w: Status must be 429 or 503", ErrConfig)
	case cfg.MaxClients < 0:
		return nil, fmt.Errorf("%w: MaxClients must not be negative", ErrConfig)
	}
	if cfg.Status == 0 {
		cfg.Status = http.StatusTooManyRequests
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &limiter{cfg: cfg, next: next}
	if cfg.PerClient {
		l.keys = newLRU(cfg.MaxClients)
	}
	return l, nil
}

// limiter is RateLimit's handler.
type limiter struct {
	cfg  RateLimitConfig
	next http.Handler

	mu   sync.Mutex
	one  bucket // the endpoint's bucket when !PerClient
	keys *lru   // per-client buckets when PerClient
}

func (l *limiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var key netip.Addr
	if l.keys != nil {
		if ip, err := l.cfg.Resolver.ClientIP(r); err == nil {
			key = ip
		}
	}
	wait, ok := l.take(key)
	if !ok {
		refuse(w, r, l.cfg.OnRefuse, ReasonRateLimited, l.cfg.Status, retryAfterSeconds(wait))
		return
	}
	l.next.ServeHTTP(w, r)
}

// take takes a token from key's bucket (the endpoint's when not PerClient),
// or reports how long until one is there.
func (l *limiter) take(key netip.Addr) (time.Duration, bool) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &l.one
	if l.keys != nil {
		b = l.keys.get(key)
	}
	return b.take(now, l.cfg.Rate, float64(l.cfg.Burst))
}

// bucket is a token bucket; a new bucket is full.
type bucket struct {
	started bool
	tokens  float64
	last    time.Time
}

func (b *bucket) take(now time.Time, rate, burst float64) (time.Duration, bool) {
	if !b.started {
		b.started, b.tokens, b.last = true, burst, now
	}
	if el := now.Sub(b.last); el > 0 { // a clock stepping back adds nothing
		b.tokens = math.Min(burst, b.tokens+el.Seconds()*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second)), false
}

// lru holds at most max buckets, dropping the least recently used.
type lru struct {
	max   int
	order *list.List // of *lruEntry, most recent first
	m     map[netip.Addr]*list.Element
}

type lruEntry struct {
	key netip.Addr
	b   bucket
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), m: make(map[netip.Addr]*list.Element)}
}

func (c *lru) get(k netip.Addr) *bucket {
	if e, ok := c.m[k]; ok {
		c.order.MoveToFront(e)
		return &e.Value.(*lruEntry).b
	}
	if c.order.Len() >= c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.m, old.Value.(*lruEntry).key)
	}
	e := c.order.PushFront(&lruEntry{key: k})
	c.m[k] = e
	return &e.Value.(*lruEntry).b
}

func (c *lru) len() int { return c.order.Len() }
