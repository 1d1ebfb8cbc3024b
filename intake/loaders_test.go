package intake_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/intake"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

// listServer serves body at every path over TLS, with a content type.
func listServer(t *testing.T, body []byte, contentType string) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var githubHooks = pfx("192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20",
	"9.234.98.160/28", "9.234.98.176/28", "9.234.106.48/28", "2a0a:a440::/29", "2606:50c0::/32")

func TestLoadGitHubMeta(t *testing.T) {
	var accept, ua string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept, ua = r.Header.Get("Accept"), r.Header.Get("User-Agent")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(fixture(t, "github_meta.json"))
	}))
	defer srv.Close()

	got, err := intake.LoadGitHubMeta(context.Background(), srv.Client(), srv.URL+"/meta")
	require.NoError(t, err)
	assert.Equal(t, githubHooks, got, "hooks only, not web, api, actions ...")
	assert.Equal(t, "application/vnd.github+json", accept)
	assert.Equal(t, "hookwise-intake", ua)

	set := intake.NewPrefixSet(got...)
	assert.True(t, set.Contains(netip.MustParseAddr("140.82.115.1")))
	assert.True(t, set.Contains(netip.MustParseAddr("2606:50c0::1")))
	assert.False(t, set.Contains(netip.MustParseAddr("4.148.0.1")), "an actions range is not a hooks range")
}

var stripeIPs = []string{"3.18.12.63", "3.69.109.8", "3.120.168.93", "3.130.192.231", "13.235.14.237",
	"13.235.122.149", "18.211.135.69", "35.154.171.200", "35.157.207.129", "52.15.183.38", "54.88.130.119",
	"54.88.130.237", "54.187.174.169", "54.187.205.235", "54.187.216.72"}

func TestLoadStripeIPs(t *testing.T) {
	want := make([]netip.Prefix, len(stripeIPs))
	for i, s := range stripeIPs {
		want[i] = netip.PrefixFrom(netip.MustParseAddr(s), 32)
	}
	for _, tc := range []struct{ file, ctype string }{
		{"stripe_ips_webhooks.json", "application/json"},
		{"stripe_ips_webhooks.txt", "text/plain"},
	} {
		srv := listServer(t, fixture(t, tc.file), tc.ctype)
		got, err := intake.LoadStripeIPs(context.Background(), srv.Client(), srv.URL+"/files/ips/"+tc.file)
		require.NoError(t, err, tc.file)
		assert.Equal(t, want, got, tc.file)
	}
}

func TestParseStripeIPsVariants(t *testing.T) {
	for name, body := range map[string]string{
		"CRLF text":            "3.18.12.63\r\n3.69.109.8\r\n",
		"no final newline":     "3.18.12.63\n3.69.109.8",
		"blank lines":          "\n3.18.12.63\n\n  3.69.109.8  \n\n",
		"BOM":                  "\xef\xbb\xbf3.18.12.63\n3.69.109.8\n",
		"JSON with whitespace": "\n  {\"WEBHOOKS\": [\"3.18.12.63\", \"3.69.109.8\"]}\n",
	} {
		got, err := intake.ParseStripeIPs([]byte(body))
		require.NoError(t, err, name)
		assert.Equal(t, pfx("3.18.12.63/32", "3.69.109.8/32"), got, name)
	}
	got, err := intake.ParseStripeIPs([]byte("2600:1f18::1\n203.0.113.0/28\n"))
	require.NoError(t, err)
	assert.Equal(t, pfx("2600:1f18::1/128", "203.0.113.0/28"), got, "IPv6 and CIDR entries, should Stripe add them")
}

func TestParseListErrors(t *testing.T) {
	secretish := "do-not-echo-me"
	for name, tc := range map[string]struct {
		parse func([]byte) ([]netip.Prefix, error)
		body  string
		err   error
	}{
		"github not JSON":           {intake.ParseGitHubMeta, "<html>", intake.ErrListFormat},
		"github no hooks":           {intake.ParseGitHubMeta, `{"web":["192.30.252.0/22"]}`, intake.ErrListFormat},
		"github hooks not an array": {intake.ParseGitHubMeta, `{"hooks":"192.30.252.0/22"}`, intake.ErrListFormat},
		"github hooks null":         {intake.ParseGitHubMeta, `{"hooks":null}`, intake.ErrListFormat},
		"github bad entry":          {intake.ParseGitHubMeta, `{"hooks":["192.30.252.0/22","` + secretish + `"]}`, intake.ErrListFormat},
		"github bad prefix length":  {intake.ParseGitHubMeta, `{"hooks":["192.30.252.0/33"]}`, intake.ErrListFormat},
		"github zoned entry":        {intake.ParseGitHubMeta, `{"hooks":["fe80::1%eth0"]}`, intake.ErrListFormat},
		"github empty hooks":        {intake.ParseGitHubMeta, `{"hooks":[]}`, intake.ErrEmptyList},
		"stripe JSON no WEBHOOKS":   {intake.ParseStripeIPs, `{"API":["3.18.12.63"]}`, intake.ErrListFormat},
		"stripe JSON broken":        {intake.ParseStripeIPs, `{"WEBHOOKS":["3.18.12.63"`, intake.ErrListFormat},
		"stripe JSON empty":         {intake.ParseStripeIPs, `{"WEBHOOKS":[]}`, intake.ErrEmptyList},
		"stripe text bad line":      {intake.ParseStripeIPs, "3.18.12.63\n" + secretish + "\n", intake.ErrListFormat},
		"stripe text HTML":          {intake.ParseStripeIPs, "<!doctype html><p>" + secretish, intake.ErrListFormat},
		"stripe text empty":         {intake.ParseStripeIPs, "\n\n", intake.ErrEmptyList},
	} {
		got, err := tc.parse([]byte(tc.body))
		assert.ErrorIs(t, err, tc.err, name)
		assert.Nil(t, got, name)
		if err != nil {
			assert.NotContains(t, err.Error(), secretish, name)
		}
	}
}

func TestLoadRefusesHTTPUnlessAllowed(t *testing.T) {
	body := fixture(t, "stripe_ips_webhooks.txt")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()

	_, err := intake.LoadStripeIPs(context.Background(), srv.Client(), srv.URL)
	assert.ErrorIs(t, err, intake.ErrInsecureURL)
	for _, u := range []string{"ftp://example.com/x", "https:///nohost", "://bad", "/relative"} {
		_, err = intake.LoadGitHubMeta(context.Background(), nil, u)
		assert.ErrorIs(t, err, intake.ErrInsecureURL, u)
	}

	got, err := intake.LoadStripeIPs(context.Background(), srv.Client(), srv.URL, intake.AllowInsecureHTTP())
	require.NoError(t, err)
	assert.Len(t, got, len(stripeIPs))
}

func TestLoadStatusAndTransportErrors(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "rate limited", http.StatusForbidden)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	_, err := intake.LoadGitHubMeta(context.Background(), srv.Client(), srv.URL)
	assert.ErrorIs(t, err, intake.ErrFetch)
	assert.Contains(t, err.Error(), "status 403")

	// The default client does not trust the test server's certificate.
	_, err = intake.LoadGitHubMeta(context.Background(), nil, srv.URL)
	assert.ErrorIs(t, err, intake.ErrFetch)

	// The deadline is the context's.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ok := listServer(t, fixture(t, "github_meta.json"), "application/json")
	_, err = intake.LoadGitHubMeta(ctx, ok.Client(), ok.URL)
	assert.ErrorIs(t, err, intake.ErrFetch)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestLoadTimeoutFromContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold the answer until the test ends: the client must give up on
		// its own deadline. (Returning when the request's context ends raced
		// the client under load: an early empty answer read as a malformed
		// list.)
		<-release
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := intake.LoadGitHubMeta(ctx, srv.Client(), srv.URL)
	assert.ErrorIs(t, err, intake.ErrFetch)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestLoadBodyBound(t *testing.T) {
	line := []byte("3.18.12.63\n")
	exact := bytes.Repeat([]byte("\n"), intake.DefaultMaxListBytes-len(line))
	exact = append(exact, line...)
	require.Len(t, exact, intake.DefaultMaxListBytes)

	srv := listServer(t, exact, "text/plain")
	got, err := intake.LoadStripeIPs(context.Background(), srv.Client(), srv.URL)
	require.NoError(t, err, "exactly the bound is read")
	assert.Len(t, got, 1)

	over := listServer(t, append([]byte("\n"), exact...), "text/plain")
	_, err = intake.LoadStripeIPs(context.Background(), over.Client(), over.URL)
	assert.ErrorIs(t, err, intake.ErrListTooLarge)

	// A smaller bound by option.
	meta := fixture(t, "github_meta.json")
	small := listServer(t, meta, "application/json")
	_, err = intake.LoadGitHubMeta(context.Background(), small.Client(), small.URL, intake.MaxListBytes(int64(len(meta)-1)))
	assert.ErrorIs(t, err, intake.ErrListTooLarge)
	_, err = intake.LoadGitHubMeta(context.Background(), small.Client(), small.URL, intake.MaxListBytes(int64(len(meta))))
	assert.NoError(t, err)
}

func TestLoadRedirects(t *testing.T) {
	meta := fixture(t, "github_meta.json")
	other := listServer(t, meta, "application/json")

	var hops int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/meta":
			_, _ = w.Write(meta)
		case r.URL.Path == "/moved":
			http.Redirect(w, r, "/meta", http.StatusMovedPermanently)
		case r.URL.Path == "/elsewhere":
			http.Redirect(w, r, other.URL+"/meta", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/loop"):
			hops++
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer srv.Close()
	// One client that trusts both test certificates: the refusal must come
	// from the loader's rule, not from TLS.
	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(other.Certificate())

	got, err := intake.LoadGitHubMeta(context.Background(), client, srv.URL+"/moved")
	require.NoError(t, err, "a same-host redirect is followed")
	assert.Equal(t, githubHooks, got)

	_, err = intake.LoadGitHubMeta(context.Background(), client, other.URL+"/meta")
	require.NoError(t, err, "the client trusts the other server")
	_, err = intake.LoadGitHubMeta(context.Background(), client, srv.URL+"/elsewhere")
	assert.ErrorIs(t, err, intake.ErrRedirect)
	assert.ErrorIs(t, err, intake.ErrFetch)

	_, err = intake.LoadGitHubMeta(context.Background(), client, srv.URL+"/loop")
	assert.ErrorIs(t, err, intake.ErrRedirect)
	assert.Equal(t, 6, hops, "the first request and 5 redirects")

	// The caller's own CheckRedirect still runs, after the loader's.
	var called bool
	own := *client
	own.CheckRedirect = func(*http.Request, []*http.Request) error { called = true; return nil }
	_, err = intake.LoadGitHubMeta(context.Background(), &own, srv.URL+"/moved")
	require.NoError(t, err)
	assert.True(t, called)
}
