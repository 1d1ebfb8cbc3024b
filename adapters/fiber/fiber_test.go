package hookfiber_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	hookfiber "github.com/hookwise/hookwise/adapters/fiber"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const secret = "fiber-test-secret"

// seen is what the asynchronous handler saw of one event.
type seen struct {
	id, delivery, seq, tag string
	body                   []byte
}

// recorder is a receiver whose catch-all handler waits for gate before
// reading anything of the event, so that fasthttp has reused the request's
// memory for later requests by then.
type recorder struct {
	rc   *receiver.Receiver
	gate chan struct{}
	mu   sync.Mutex
	got  []seen
}

func newRecorder(t *testing.T, opts ...receiver.Option) *recorder {
	t.Helper()
	r := &recorder{gate: make(chan struct{})}
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		<-r.gate
		s := seen{id: e.ID, delivery: e.Header.Get("X-GitHub-Delivery"), seq: e.Header.Get("X-Seq"),
			tag: strings.Join(e.Header.Values("X-Tag"), ","), body: append([]byte(nil), e.Body...)}
		r.mu.Lock()
		r.got = append(r.got, s)
		r.mu.Unlock()
		return nil
	}))
	p, err := github.New(secret, github.WithDeliveryIDDedupe())
	require.NoError(t, err)
	rc, err := receiver.New(p, mux, append([]receiver.Option{receiver.Workers(4)}, opts...)...)
	require.NoError(t, err)
	r.rc = rc
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})
	return r
}

// delivery i: a distinct delivery ID, X-Seq and two X-Tag values, and a
// body of a size that varies with i and names all of them.
func delivery(url string, i int) (*http.Request, string) {
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919)
	body, _ := json.Marshal(map[string]any{"seq": i, "delivery": id, "pad": strings.Repeat(string(rune('a'+i%26)), (i*131)%3000)})
	req := github.NewRequest(url, secret, "custom_event", id, body)
	req.Header.Set("X-Seq", fmt.Sprintf("seq-%06d", i))
	req.Header.Add("X-Tag", fmt.Sprintf("first-%06d", i))
	req.Header.Add("X-Tag", fmt.Sprintf("second-%06d", i))
	return req, id
}

// check releases the handlers, waits for them and returns every mismatch
// between what an event's handler saw and what its delivery sent.
func (r *recorder) check(t *testing.T, n int) []string {
	t.Helper()
	close(r.gate)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, r.rc.Drain(ctx))
	r.mu.Lock()
	defer r.mu.Unlock()
	var bad []string
	if len(r.got) != n {
		bad = append(bad, fmt.Sprintf("handled %d events, want %d", len(r.got), n))
	}
	ids := map[string]bool{}
	for _, s := range r.got {
		var b struct {
			Seq      int    `json:"seq"`
			Delivery string `json:"delivery"`
			Pad      string `json:"pad"`
		}
		if err := json.Unmarshal(s.body, &b); err != nil {
			bad = append(bad, "body not JSON: "+err.Error())
			continue
		}
		if ids[s.id] {
			bad = append(bad, "id seen twice: "+s.id)
		}
		ids[s.id] = true
		want := fmt.Sprintf("seq-%06d", b.Seq)
		wantTag := fmt.Sprintf("first-%06d,second-%06d", b.Seq, b.Seq)
		if s.id != b.Delivery || s.delivery != b.Delivery || s.seq != want || s.tag != wantTag || len(b.Pad) != (b.Seq*131)%3000 {
			bad = append(bad, fmt.Sprintf("event %d: id %q header %q seq %q tag %q", b.Seq, s.id, s.delivery, s.seq, s.tag))
		}
	}
	return bad
}

const backToBack = 300

// listen serves app on a loopback listener and returns its base URL.
func listen(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// sendAll sends n deliveries back to back over one keep-alive connection.
func sendAll(t *testing.T, base string, n int) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for i := range n {
		req, _ := delivery(base+"/hook", i)
		res, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, "delivery %d", i)
	}
}

func TestBackToBackOverListenerEachEventKeepsItsOwnHeadersAndBody(t *testing.T) {
	r := newRecorder(t)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/hook", hookfiber.Handler(r.rc))
	sendAll(t, listen(t, app), backToBack)
	assert.Empty(t, r.check(t, backToBack))
}

func TestBackToBackThroughAppTestEachEventKeepsItsOwnHeadersAndBody(t *testing.T) {
	r := newRecorder(t)
	app := fiber.New()
	app.Post("/hook", hookfiber.Handler(r.rc))
	for i := range backToBack {
		req, _ := delivery("http://example.test/hook", i)
		res, err := app.Test(req, -1)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, "delivery %d", i)
	}
	assert.Empty(t, r.check(t, backToBack))
}
