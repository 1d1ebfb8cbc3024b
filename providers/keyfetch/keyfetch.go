// Package keyfetch is the default provider.KeyFetcher: it fetches the
// certificates that senders such as Amazon SNS and PayPal name in their
// deliveries, and never anything else.
//
// A Fetcher fetches a URL only when
//
//   - its scheme is https and it carries no user information;
//   - its host matches one of the Fetcher's allowed host patterns (see
//     Config.AllowedHosts);
//   - the answer is 200 without a redirect (redirects are never followed,
//     whatever the injected client says);
//   - the body fits in Config.MaxBytes (64 KiB by default), read within
//     Config.Timeout (10 s by default).
//
// At most Config.MaxInflight distinct URLs (8 by default) are fetched at
// once; a request for another URL while they are in flight fails at once
// with ErrBusy, so that requests naming ever new URLs (the URL comes from
// the unverified request) cannot pile up outbound connections.
//
// Successful bodies are cached by URL for Config.TTL (1 h by default), at
// most Config.MaxEntries entries (64 by default; the oldest entry goes
// first); failures are not cached. Concurrent requests for the same URL
// share one fetch, which runs under the Fetcher's timeout only, so one
// caller's cancelled context does not fail the others.
//
// Every error matches ErrFetch; a URL refused before any request matches
// ErrNotAllowed too, an oversized body ErrTooLarge. Errors never quote the
// URL, which comes from an unverified request.
//
// # Usage
//
// A provider that verifies with fetched keys builds its default Fetcher with
// its own hosts, and takes a provider.KeyFetcher option so that the
// application can inject another:
//
//	f := keyfetch.New(keyfetch.Config{
//		AllowedHosts: []string{"sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"},
//	})
//	pem, err := f.Fetch(ctx, certURL) // refused unless https on an SNS host
//
// Tests serve certificates from an httptest.NewTLSServer and pass its
// client and host: Config{Client: srv.Client(), AllowedHosts:
// []string{srv.Listener.Addr().String()}}.
package keyfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hookwise/hookwise/provider"
)

// Defaults for the zero Config fields.
const (
	DefaultMaxBytes    = 64 << 10
	DefaultTimeout     = 10 * time.Second
	DefaultTTL         = time.Hour
	DefaultMaxEntries  = 64
	DefaultMaxInflight = 8
)

var (
	// ErrFetch is matched by every error a Fetcher returns.
	ErrFetch = errors.New("keyfetch: cannot fetch key")
	// ErrNotAllowed is returned (wrapped, with ErrFetch) for a URL that is
	// not https, carries user information or names a host outside the
	// allow-list; no request is made.
	ErrNotAllowed = errors.New("keyfetch: URL not allowed")
	// ErrTooLarge is returned (wrapped, with ErrFetch) when the body
	// exceeds Config.MaxBytes.
	ErrTooLarge = errors.New("keyfetch: key document too large")
	// ErrBusy is returned (wrapped, with ErrFetch) when Config.MaxInflight
	// other URLs are being fetched.
	ErrBusy = errors.New("keyfetch: too many fetches in flight")
)

// Config configures a Fetcher. Zero fields take the defaults above.
type Config struct {
	// AllowedHosts are host patterns, compared case-insensitively with the
	// URL's host:
	//   - "api.paypal.com": exactly that host, on the default port;
	//   - "*.paypal.com": any host with one or more labels before
	//     ".paypal.com" (not paypal.com itself);
	//   - "sns.*.amazonaws.com": "*" not in the first position matches
	//     exactly one label (sns.us-east-1.amazonaws.com, not
	//     sns.a.b.amazonaws.com);
	//   - "127.0.0.1:8443": a pattern with a port matches that host and
	//     port only; a pattern without one matches only the default port.
	// An empty list allows nothing.
	AllowedHosts []string
	// Client makes the requests; nil means a client with Timeout. A copy
	// is used whose redirects are never followed.
	Client *http.Client
	// MaxBytes bounds a body.
	MaxBytes int64
	// Timeout bounds one fetch, connection to last byte.
	Timeout time.Duration
	// TTL is how long a fetched body is served from the cache.
	TTL time.Duration
	// MaxEntries bounds the cache.
	MaxEntries int
	// MaxInflight bounds the distinct URLs fetched at once.
	MaxInflight int
	// Clock returns the current time (time.Now when nil); tests set it.
	Clock func() time.Time
}

// Fetcher is the default provider.KeyFetcher. It is safe for concurrent use.
type Fetcher struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	cache    map[string]entry
	order    []string // cache keys, oldest first
	inflight map[string]*call
	fetches  int // requests made (for tests)
}

type entry struct {
	body    []byte
	expires time.Time
}

type call struct {
	done chan struct{}
	body []byte
	err  error
}

var _ provider.KeyFetcher = (*Fetcher)(nil)

// New returns a Fetcher for cfg.
func New(cfg Config) *Fetcher {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.AllowedHosts = append([]string(nil), cfg.AllowedHosts...)
	var c http.Client
	if cfg.Client != nil {
		c = *cfg.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Fetcher{
		cfg:      cfg,
		client:   &c,
		cache:    map[string]entry{},
		inflight: map[string]*call{},
	}
}

// Allowed reports whether rawURL may be fetched: https, no user
// information, a host matching the allow-list.
func (f *Fetcher) Allowed(rawURL string) bool {
	return Allowed(rawURL, f.cfg.AllowedHosts)
}

// Allowed reports whether rawURL is an https URL without user information
// whose host matches one of patterns (see Config.AllowedHosts).
func Allowed(rawURL string, patterns []string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	for _, p := range patterns {
		p = strings.ToLower(p)
		ph, pp := p, ""
		if h, pt, err := net.SplitHostPort(p); err == nil {
			ph, pp = h, pt
		}
		if pp == "" && port != "" && port != "443" {
			continue
		}
		if pp != "" && pp != port {
			continue
		}
		if MatchHost(ph, host) {
			return true
		}
	}
	return false
}

// MatchHost reports whether host matches pattern (without ports): see
// Config.AllowedHosts.
func MatchHost(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if host == "" || pattern == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		prefix, ok := strings.CutSuffix(host, "."+rest)
		return ok && prefix != "" && validLabels(prefix)
	}
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if pl[i] == "*" {
			if !validLabels(hl[i]) {
				return false
			}
			continue
		}
		if pl[i] != hl[i] {
			return false
		}
	}
	return true
}

// validLabels reports whether s is one or more non-empty DNS labels of
// letters, digits and hyphens.
func validLabels(s string) bool {
	for _, l := range strings.Split(s, ".") {
		if l == "" {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Fetch returns the body at rawURL, from the cache when fresh. See the
// package documentation for the rules.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) ([]byte, error) {
	if !f.Allowed(rawURL) {
		return nil, fmt.Errorf("%w: %w", ErrFetch, ErrNotAllowed)
	}
	now := f.cfg.Clock()
	f.mu.Lock()
	if e, ok := f.cache[rawURL]; ok && now.Before(e.expires) {
		f.mu.Unlock()
		return e.body, nil
	}
	c, ok := f.inflight[rawURL]
	if !ok {
		if len(f.inflight) >= f.cfg.MaxInflight {
			f.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrFetch, ErrBusy)
		}
		c = &call{done: make(chan struct{})}
		f.inflight[rawURL] = c
		f.fetches++
		go f.run(rawURL, c)
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.body, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrFetch, ctx.Err())
	}
}

// run performs the fetch of c and publishes its result.
func (f *Fetcher) run(rawURL string, c *call) {
	body, err := f.get(rawURL)
	f.mu.Lock()
	delete(f.inflight, rawURL)
	if err == nil {
		f.store(rawURL, body)
	}
	f.mu.Unlock()
	c.body, c.err = body, err
	close(c.done)
}

// store caches body under key; f.mu is held.
func (f *Fetcher) store(key string, body []byte) {
	now := f.cfg.Clock()
	if _, ok := f.cache[key]; !ok {
		// Drop expired entries, then the oldest, to make room.
		if len(f.cache) >= f.cfg.MaxEntries {
			kept := f.order[:0]
			for _, k := range f.order {
				if now.Before(f.cache[k].expires) {
					kept = append(kept, k)
				} else {
					delete(f.cache, k)
				}
			}
			f.order = kept
		}
		for len(f.cache) >= f.cfg.MaxEntries && len(f.order) > 0 {
			delete(f.cache, f.order[0])
			f.order = f.order[1:]
		}
		f.order = append(f.order, key)
	}
	f.cache[key] = entry{body: body, expires: now.Add(f.cfg.TTL)}
}

// get makes one request for rawURL under the Fetcher's timeout.
func (f *Fetcher) get(rawURL string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, ErrNotAllowed)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: request failed", ErrFetch)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", ErrFetch, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading body failed", ErrFetch)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %w", ErrFetch, ErrTooLarge)
	}
	return body, nil
}

// Len returns the number of cached entries.
func (f *Fetcher) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cache)
}
