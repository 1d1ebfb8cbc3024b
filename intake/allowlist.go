package intake

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The reasons a request is refused: a bounded set, usable as a metric label.
const (
	ReasonNotAllowed     = "not_allowed"      // 403: the client address is not on the allow-list
	ReasonBadAddress     = "bad_address"      // 403: the client address cannot be read (ErrBadAddress)
	ReasonHeaderTooLarge = "header_too_large" // 403: the forwarding header is over MaxHeaderBytes
	ReasonTooManyHops    = "too_many_hops"    // 403: the forwarding header is over MaxHops
	ReasonUnloaded       = "unloaded"         // 503: the allow-list has never been loaded
	ReasonRateLimited    = "rate_limited"     // 429 or 503: the endpoint's (or client's) bucket is empty
)

// reasonOf maps a ClientIP error to its reason.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrHeaderTooLarge):
		return ReasonHeaderTooLarge
	case errors.Is(err, ErrTooManyHops):
		return ReasonTooManyHops
	default:
		return ReasonBadAddress
	}
}

// DefaultUnloadedRetryAfter is the Retry-After of the 503 AllowList answers
// while its List is unloaded.
const DefaultUnloadedRetryAfter = 30 * time.Second

// AllowListConfig configures AllowList.
type AllowListConfig struct {
	// List is the allow-list (required). Replace its set with List.Store or
	// a Refresher while the handler serves.
	List *List
	// Resolver finds the client address. Nil: the TCP peer (RemoteAddr),
	// with every forwarding header ignored.
	Resolver *Resolver
	// UnloadedRetryAfter is the Retry-After of the 503 answered while List
	// is unloaded (default DefaultUnloadedRetryAfter, rounded up to whole
	// seconds).
	UnloadedRetryAfter time.Duration
	// OnRefuse, if set, is called once for each refused request with its
	// reason (one of the Reason constants), before the answer is written.
	// It must be safe for concurrent use. A *Counter's Observe fits.
	OnRefuse func(r *http.Request, reason string)
}

// AllowList returns a handler that passes a request to next only when its
// client address (cfg.Resolver) is in cfg.List. Otherwise it answers 403
// Forbidden, with a body of the status text and nothing more, and next never
// sees the request. While cfg.List is unloaded it answers 503 with
// Retry-After instead, so a sender retries rather than giving up. Errors
// match ErrConfig.
//
// An allow-list is defence in depth: it narrows who can reach the signature
// check; it never replaces it. Keep the receiver's verification on.
func AllowList(next http.Handler, cfg AllowListConfig) (http.Handler, error) {
	if next == nil {
		return nil, fmt.Errorf("%w: AllowList needs a next handler", ErrConfig)
	}
	if cfg.List == nil {
		return nil, fmt.Errorf("%w: AllowListConfig.List is required", ErrConfig)
	}
	if cfg.UnloadedRetryAfter < 0 {
		return nil, fmt.Errorf("%w: UnloadedRetryAfter must not be negative", ErrConfig)
	}
	if cfg.UnloadedRetryAfter == 0 {
		cfg.UnloadedRetryAfter = DefaultUnloadedRetryAfter
	}
	retry := retryAfterSeconds(cfg.UnloadedRetryAfter)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := cfg.List.Load()
		if set == nil {
			refuse(w, r, cfg.OnRefuse, ReasonUnloaded, http.StatusServiceUnavailable, retry)
			return
		}
		ip, err := cfg.Resolver.ClientIP(r)
		if err != nil {
			refuse(w, r, cfg.OnRefuse, reasonOf(err), http.StatusForbidden, "")
			return
		}
		if !set.Contains(ip) {
			refuse(w, r, cfg.OnRefuse, ReasonNotAllowed, http.StatusForbidden, "")
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

// refuse reports reason and answers status with the status text as body.
func refuse(w http.ResponseWriter, r *http.Request, on func(*http.Request, string), reason string, status int, retryAfter string) {
	if on != nil {
		on(r, reason)
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	http.Error(w, http.StatusText(status), status)
}

// retryAfterSeconds renders d as a Retry-After delay: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// Counter counts refusals by reason. Its Observe method fits the OnRefuse
// field of AllowListConfig and RateLimitConfig; one Counter may serve
// several handlers. The zero value is ready; a Counter is safe for
// concurrent use.
type Counter struct {
	mu sync.Mutex
	m  map[string]uint64
}

// Observe counts one refusal with reason.
func (c *Counter) Observe(_ *http.Request, reason string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]uint64)
	}
	c.m[reason]++
	c.mu.Unlock()
}

// Count is the number of refusals observed with reason.
func (c *Counter) Count(reason string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[reason]
}

// Snapshot returns a copy of the counts by reason.
func (c *Counter) Snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}
