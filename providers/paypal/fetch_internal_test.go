package paypal

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/keyfetch"
)

func TestCheckCertURL(t *testing.T) {
	for _, u := range []string{
		"https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-5edc0ebc",
		"https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-5edc0ebc",
		"https://api-m.paypal.com/v1/notifications/certs/CERT-1",
		"https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1",
		"https://api.paypal.com:443/v1/notifications/certs/CERT-1",
	} {
		assert.NoError(t, checkCertURL(u, CertHosts), u)
	}
	for _, u := range []string{
		"http://api.paypal.com/v1/notifications/certs/CERT-1",
		"https://evil.com/v1/notifications/certs/CERT-1",
		"https://api.paypal.com.evil.com/v1/notifications/certs/CERT-1",
		"https://evilpaypal.com/v1/notifications/certs/CERT-1",
		"https://www.paypal.com/v1/notifications/certs/CERT-1",
		"https://api.paypal.com@evil.com/v1/notifications/certs/CERT-1",
		"https://user:pw@api.paypal.com/v1/notifications/certs/CERT-1",
		"https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
		"https://api.paypal.com/v1/notifications/certs/",
		"https://api.paypal.com/v1/notifications/certs/../../oauth2/token",
		"https://api.paypal.com/v1/notifications/certs/%2e%2e/x",
		"https://api.paypal.com/v1/other/CERT-1",
		"https://api.paypal.com/v1/notifications/certs/CERT-1?x=1",
		"https://api.paypal.com/v1/notifications/certs/CERT-1#x",
		"https://127.0.0.1/v1/notifications/certs/CERT-1",
		"https://[::1]/v1/notifications/certs/CERT-1",
		"file:///etc/passwd",
		"https:api.paypal.com/v1/notifications/certs/CERT-1",
		"", " ", "\x00",
	} {
		assert.ErrorIs(t, checkCertURL(u, CertHosts), ErrCertURL, u)
	}
}

// fetchFunc is a provider.KeyFetcher of a function.
type fetchFunc func(ctx context.Context, url string) ([]byte, error)

func (f fetchFunc) Fetch(ctx context.Context, url string) ([]byte, error) { return f(ctx, url) }

// The default fetcher (keyfetch) behind the certificate cache, against a
// loopback TLS server standing in for PayPal's API host: a certificate is
// fetched once and cached, a redirect is not followed, an oversized answer
// and a slow one fail, a URL off the allowed host is never requested.
func TestDefaultFetcherThroughCache(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	good := ca.leaf(t, "messageverificationcerts.paypal.com", now.Add(-time.Hour), now.Add(72*time.Hour))
	var hits, redirectTargetHits atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case certPath + "CERT-ok":
			_, _ = w.Write([]byte(good))
		case certPath + "CERT-big":
			_, _ = w.Write([]byte(good + strings.Repeat("x", MaxCertBytes)))
		case certPath + "CERT-redirect":
			http.Redirect(w, r, certPath+"CERT-target", http.StatusFound)
		case certPath + "CERT-target":
			redirectTargetHits.Add(1)
			_, _ = w.Write([]byte(good))
		case certPath + "CERT-slow":
			select { // held until the test ends, never cut short by the request's context
			case <-release:
			case <-time.After(5 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release) // before Close: the held handler returns
	host := srv.Listener.Addr().String()
	f := keyfetch.New(keyfetch.Config{AllowedHosts: []string{host}, Client: srv.Client(), MaxBytes: MaxCertBytes, Timeout: 200 * time.Millisecond})
	c := newCertCache(f, ca.pool)
	c.hosts = []string{host}
	ctx := context.Background()
	base := "https://" + host + certPath

	for i := 0; i < 5; i++ {
		_, err := c.get(ctx, base+"CERT-ok", now)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, hits.Load(), "fetched once")
	for _, name := range []string{"CERT-big", "CERT-redirect", "CERT-slow", "CERT-missing"} {
		start := time.Now()
		_, err := c.get(ctx, base+name, now)
		assert.ErrorIs(t, err, ErrCertFetch, name)
		assert.Less(t, time.Since(start), 4*time.Second, name)
	}
	assert.Zero(t, redirectTargetHits.Load(), "the redirect was followed")
	hits.Store(0)
	_, err := c.get(ctx, strings.Replace(base, "https://", "http://", 1)+"CERT-ok", now)
	assert.ErrorIs(t, err, ErrCertURL)
	_, err = c.get(ctx, "https://"+host+"/other/CERT-ok", now)
	assert.ErrorIs(t, err, ErrCertURL)
	assert.Zero(t, hits.Load())

	// The production default allows PayPal's hosts only.
	d := defaultFetcher()
	_, err = d.Fetch(ctx, base+"CERT-ok")
	assert.ErrorIs(t, err, keyfetch.ErrNotAllowed)
	assert.Zero(t, hits.Load())
}

// testCA issues signing certificates for the cache tests.
type testCA struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
	pool *x509.CertPool
}

var internalKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func newTestCA(t *testing.T) *testCA {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &internalKey.PublicKey, internalKey)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &testCA{cert: c, key: internalKey, pool: pool}
}

func (ca *testCA) leaf(t *testing.T, cn string, from, to time.Time) string {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &internalKey.PublicKey, ca.key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestCertCache(t *testing.T) {
	ca := newTestCA(t)
	now := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	good := ca.leaf(t, "messageverificationcerts.paypal.com", now.Add(-time.Hour), now.Add(72*time.Hour))
	var calls atomic.Int64
	fail := errors.New("boom")
	fetch := fetchFunc(func(_ context.Context, u string) ([]byte, error) {
		calls.Add(1)
		if strings.HasSuffix(u, "/CERT-bad") {
			return nil, fail
		}
		return []byte(good), nil
	})
	c := newCertCache(fetch, ca.pool)
	ctx := context.Background()
	u := "https://api.paypal.com/v1/notifications/certs/CERT-1"

	for i := 0; i < 10; i++ {
		_, err := c.get(ctx, u, now.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, calls.Load(), "cached")
	_, err := c.get(ctx, u, now.Add(MaxCacheAge+time.Minute))
	require.NoError(t, err)
	assert.EqualValues(t, 2, calls.Load(), "fetched again after MaxCacheAge")
	_, err = c.get(ctx, u, now.Add(72*time.Hour+time.Minute))
	assert.ErrorIs(t, err, ErrCert, "expired: fetched again and refused")
	assert.EqualValues(t, 3, calls.Load())

	bad := "https://api.paypal.com/v1/notifications/certs/CERT-bad"
	calls.Store(0)
	for i := 0; i < 5; i++ {
		_, err = c.get(ctx, bad, now.Add(time.Duration(i)*time.Second))
		assert.ErrorIs(t, err, ErrCertFetch)
		assert.NotContains(t, err.Error(), "boom", "the fetcher's error is not quoted")
	}
	assert.EqualValues(t, 1, calls.Load(), "a failed URL is not fetched again within the backoff")
	_, err = c.get(ctx, bad, now.Add(FailedFetchBackoff+time.Second))
	assert.Error(t, err)
	assert.EqualValues(t, 2, calls.Load(), "fetched again after the backoff")

	// Disallowed URLs never reach the fetcher.
	calls.Store(0)
	_, err = c.get(ctx, "https://evil.example/v1/notifications/certs/CERT-1", now)
	assert.ErrorIs(t, err, ErrCertURL)
	assert.Zero(t, calls.Load())

	// The cache is bounded.
	for i := 0; i < 3*MaxCachedCerts; i++ {
		_, err := c.get(ctx, u+"-"+string(rune('a'+i%26))+strings.Repeat("x", i), now)
		require.NoError(t, err)
	}
	c.mu.Lock()
	assert.LessOrEqual(t, len(c.entries), MaxCachedCerts)
	c.mu.Unlock()

	// Failures are bounded too.
	c2 := newCertCache(fetchFunc(func(context.Context, string) ([]byte, error) { return nil, fail }), ca.pool)
	for i := 0; i < 10*MaxCachedCerts; i++ {
		_, _ = c2.get(ctx, u+strings.Repeat("y", i), now)
	}
	assert.LessOrEqual(t, len(c2.failed), 4*MaxCachedCerts)
}

func TestCertCacheOversizedAnswer(t *testing.T) {
	ca := newTestCA(t)
	c := newCertCache(fetchFunc(func(context.Context, string) ([]byte, error) {
		return make([]byte, MaxCertBytes+1), nil
	}), ca.pool)
	_, err := c.get(context.Background(), "https://api.paypal.com/v1/notifications/certs/CERT-1", time.Now())
	assert.ErrorIs(t, err, ErrCertFetch)
}

func TestCertCacheOneFetchAtATime(t *testing.T) {
	ca := newTestCA(t)
	release := make(chan struct{})
	var inFlight, maxInFlight atomic.Int64
	c := newCertCache(fetchFunc(func(ctx context.Context, _ string) ([]byte, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("no")
	}), ca.pool)
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, _ = c.get(ctx, "https://api.paypal.com/v1/notifications/certs/CERT-"+strings.Repeat("z", i+1), time.Now())
			done <- struct{}{}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	for i := 0; i < 8; i++ {
		<-done
	}
	assert.EqualValues(t, 1, maxInFlight.Load(), "fetches run one at a time")
}
