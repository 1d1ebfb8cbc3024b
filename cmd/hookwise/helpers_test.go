package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/providers/fixtures"
	"github.com/hookwise/hookwise/providers/paypal"
	"github.com/hookwise/hookwise/providers/sns"
	"github.com/hookwise/hookwise/receiver"
)

// testEnv returns an env writing to buffers, with the real clock and file
// system.
func testEnv() (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		client:   &http.Client{Timeout: 10 * time.Second},
		now:      time.Now,
		readFile: readFileBounded,
		stat:     os.Stat,
	}, &out, &errb
}

// certFetcher serves the development certificate at the development SNS
// certificate URL only.
type certFetcher struct{}

func (certFetcher) Fetch(_ context.Context, url string) ([]byte, error) {
	if url != devSNSCertURL {
		return nil, os.ErrNotExist
	}
	return []byte(devRSACert), nil
}

// receivingProvider is the provider that accepts deliveries signed with the
// development secret of name: the catalog's, except for SNS (whose
// certificate is served locally) and PayPal IPN (whose post-back goes to a
// local server that answers VERIFIED).
func receivingProvider(t testing.TB, name string) provider.Provider {
	t.Helper()
	switch name {
	case "sns":
		p, err := sns.New(sns.WithTopics(schemes["sns"].params["topics"]), sns.WithFetcher(certFetcher{}))
		require.NoError(t, err)
		return p
	case "paypal-ipn":
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("VERIFIED"))
		}))
		t.Cleanup(srv.Close)
		p, err := paypal.NewIPN(paypal.WithIPNEndpoint(srv.URL), paypal.WithIPNClient(srv.Client()))
		require.NoError(t, err)
		return p
	}
	secret, err := devReceiverSecret(name)
	require.NoError(t, err)
	p, err := providers.New(name, receiverConfig(name, secret, schemes[name].mergedParams(nil), ""))
	require.NoError(t, err, name)
	return p
}

// handled records the events a receiver's handler got.
type handled struct {
	mu     sync.Mutex
	events []*receiver.Event
	err    error // returned by the handler
}

func (h *handled) HandleEvent(_ context.Context, e *receiver.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	return h.err
}

func (h *handled) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events)
}

// serve runs a receiver for p over httptest and returns its URL and the
// handler's record; both stop when the test ends.
func serve(t testing.TB, p provider.Provider, opts ...receiver.Option) (string, *handled, *receiver.Receiver) {
	t.Helper()
	h := &handled{}
	rc, err := receiver.New(p, h, opts...)
	require.NoError(t, err)
	srv := httptest.NewServer(rc)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})
	return srv.URL + "/webhooks/" + p.Name(), h, rc
}

// eventually polls cond for up to five seconds.
func eventually(t testing.TB, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// lookupString returns the string (or number) at path in a JSON body, or
// the form field path names.
func lookupString(t testing.TB, body []byte, path fixtures.Path) string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		v, perr := url.ParseQuery(string(body))
		require.NoError(t, perr)
		return v.Get(path[0].Key)
	}
	cur := doc
	for _, s := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[s.Key]
		case []any:
			n := s.N
			if !s.Index {
				n, _ = strconv.Atoi(s.Key)
			}
			require.Less(t, n, len(c))
			cur = c[n]
		default:
			t.Fatalf("path %s does not fit", path)
		}
	}
	switch v := cur.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// serveReceiver serves rc over httptest until the test ends, then shuts
// both down, and returns the endpoint's URL.
func serveReceiver(t testing.TB, rc *receiver.Receiver) string {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})
	return srv.URL + "/webhooks/endpoint"
}

func itoa(n int) string { return strconv.Itoa(n) }
