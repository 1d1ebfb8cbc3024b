package intake

import "net/http"

// LimiterClients is the number of per-client buckets h (a RateLimit handler
// with PerClient) holds.
func LimiterClients(h http.Handler) int {
	l := h.(*limiter)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.len()
}
