package paypal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/keyfetch"
)

// Bounds of certificate fetching.
const (
	// MaxCertBytes bounds a fetched certificate bundle (the default
	// fetcher's limit; checked again on what any fetcher returns).
	MaxCertBytes = 64 << 10
	// DefaultFetchTimeout bounds one fetch.
	DefaultFetchTimeout = 10 * time.Second
	// MaxCachedCerts bounds the certificates cached (one per URL).
	MaxCachedCerts = 32
	// MaxCacheAge bounds how long a fetched certificate is used before it
	// is fetched again (less when it expires sooner).
	MaxCacheAge = 24 * time.Hour
	// FailedFetchBackoff is how long a URL whose fetch or validation failed
	// is not fetched again.
	FailedFetchBackoff = time.Minute
)

// CertHosts are the hosts PAYPAL-CERT-URL may name.
var CertHosts = []string{"api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com"}

// CertNames are the names a fetched signing certificate must carry (subject
// common name or DNS SAN).
var CertNames = []string{"messageverificationcerts.paypal.com", "messageverificationcerts.sandbox.paypal.com"}

const certPath = "/v1/notifications/certs/"

// Errors of certificate fetching; each is wrapped in verify.ErrVerification
// by Verify.
var (
	ErrCertURL   = errors.New("paypal: certificate URL not allowed")
	ErrCertFetch = errors.New("paypal: certificate fetch failed")
	ErrCert      = errors.New("paypal: certificate not trusted")
)

// checkCertURL accepts only https URLs on hosts (CertHosts) under certPath,
// without another port, user info, query or fragment.
func checkCertURL(raw string, hosts []string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		u.Opaque != "" || strings.Contains(raw, "?") || strings.Contains(raw, "#") {
		return ErrCertURL
	}
	host := u.Host
	if h, p, err := net.SplitHostPort(u.Host); err == nil && p == "443" {
		host = h
	}
	ok := false
	for _, h := range hosts {
		if host == h {
			ok = true
		}
	}
	if !ok || !strings.HasPrefix(u.Path, certPath) || len(u.Path) == len(certPath) ||
		strings.Contains(u.Path, "..") || u.RawPath != "" {
		return ErrCertURL
	}
	return nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// defaultFetcher returns the fetcher used without WithFetcher: a
// keyfetch.Fetcher allowed CertHosts only (https, no redirects, at most
// MaxCertBytes within DefaultFetchTimeout).
func defaultFetcher() provider.KeyFetcher {
	return keyfetch.New(keyfetch.Config{AllowedHosts: CertHosts, MaxBytes: MaxCertBytes, Timeout: DefaultFetchTimeout})
}

type cachedCert struct {
	cert  *x509.Certificate
	until time.Time
}

// certCache holds fetched, validated certificates by URL and the URLs whose
// fetch failed recently; fetches run one at a time.
type certCache struct {
	fetch   provider.KeyFetcher
	hosts   []string // allowed hosts (CertHosts; tests use loopback)
	roots   *x509.CertPool
	sem     chan struct{} // one fetch at a time
	mu      sync.Mutex
	entries map[string]cachedCert
	failed  map[string]time.Time
	fetches int // for tests
}

func newCertCache(f provider.KeyFetcher, roots *x509.CertPool) *certCache {
	return &certCache{
		fetch: f, hosts: CertHosts, roots: roots, sem: make(chan struct{}, 1),
		entries: map[string]cachedCert{}, failed: map[string]time.Time{},
	}
}

// lookup returns the cached certificate for u, or an error when u failed
// recently, or neither.
func (c *certCache) lookup(u string, now time.Time) (*x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[u]; ok {
		if now.Before(e.until) && !now.Before(e.cert.NotBefore) {
			return e.cert, nil
		}
		delete(c.entries, u)
	}
	if at, ok := c.failed[u]; ok {
		if now.Sub(at) < FailedFetchBackoff && !now.Before(at) {
			return nil, fmt.Errorf("%w: failed recently", ErrCertFetch)
		}
		delete(c.failed, u)
	}
	return nil, nil
}

func (c *certCache) get(ctx context.Context, u string, now time.Time) (*x509.Certificate, error) {
	if err := checkCertURL(u, c.hosts); err != nil {
		return nil, err
	}
	if cert, err := c.lookup(u, now); cert != nil || err != nil {
		return cert, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
	defer cancel()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: timed out waiting", ErrCertFetch)
	}
	defer func() { <-c.sem }()
	if cert, err := c.lookup(u, now); cert != nil || err != nil {
		return cert, err
	}
	c.mu.Lock()
	c.fetches++
	c.mu.Unlock()
	cert, err := c.fetchAndValidate(ctx, u, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if len(c.failed) >= 4*MaxCachedCerts {
			clear(c.failed)
		}
		c.failed[u] = now
		return nil, err
	}
	for len(c.entries) >= MaxCachedCerts { // drop the entry expiring first
		first := ""
		for k, e := range c.entries {
			if first == "" || e.until.Before(c.entries[first].until) {
				first = k
			}
		}
		delete(c.entries, first)
	}
	until := now.Add(MaxCacheAge)
	if cert.NotAfter.Before(until) {
		until = cert.NotAfter
	}
	c.entries[u] = cachedCert{cert: cert, until: until}
	return cert, nil
}

func (c *certCache) fetchAndValidate(ctx context.Context, u string, now time.Time) (*x509.Certificate, error) {
	data, err := c.fetch.Fetch(ctx, u)
	if err != nil {
		// The fetcher's error is not quoted: it may name the URL, which
		// comes from the unverified request.
		return nil, fmt.Errorf("%w: fetcher failed", ErrCertFetch)
	}
	if len(data) > MaxCertBytes {
		return nil, fmt.Errorf("%w: answer too large", ErrCertFetch)
	}
	return validate(data, c.roots, now)
}

// validate parses a fetched bundle (the leaf first, then intermediates) and
// checks the leaf's name, validity period and chain to roots (nil: the
// system roots).
func validate(data []byte, roots *x509.CertPool, now time.Time) (*x509.Certificate, error) {
	certs, err := parsePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCert, err.Error())
	}
	leaf := certs[0]
	if !namesPayPal(leaf) {
		return nil, fmt.Errorf("%w: not issued to a PayPal message verification host", ErrCert)
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%w: outside its validity period", ErrCert)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, fmt.Errorf("%w: chain does not verify", ErrCert)
	}
	return leaf, nil
}

func namesPayPal(c *x509.Certificate) bool {
	for _, n := range CertNames {
		if strings.EqualFold(c.Subject.CommonName, n) {
			return true
		}
		for _, d := range c.DNSNames {
			if strings.EqualFold(d, n) {
				return true
			}
		}
	}
	return false
}
