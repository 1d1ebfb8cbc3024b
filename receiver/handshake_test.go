package receiver_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/receiver"
)

const verifyToken = "meta-verify-token"

// metaProvider is testProvider with handshakes:
//   - a Meta-like GET challenge: hub.mode=subscribe with hub.verify_token
//     equal to verifyToken is answered with hub.challenge in text/plain,
//     with another token 403;
//   - an unsigned POST check (X-Check: 1), answered 204;
//   - a signed POST challenge (X-Challenge), answered with its value only
//     once the request is verified.
//
// It records the bodies it was offered.
type metaProvider struct {
	*testProvider
	mu     sync.Mutex
	bodies [][]byte
}

var _ provider.Handshaker = (*metaProvider)(nil)

func (p *metaProvider) Handshake(r *http.Request, body []byte) *provider.Reply {
	p.mu.Lock()
	p.bodies = append(p.bodies, body)
	p.mu.Unlock()
	switch q := r.URL.Query(); {
	case r.Method == http.MethodGet && q.Get("hub.mode") == "subscribe":
		if subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
			return &provider.Reply{Status: http.StatusForbidden}
		}
		return &provider.Reply{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(q.Get("hub.challenge"))}
	case r.Method == http.MethodPost && r.Header.Get("X-Check") == "1":
		return &provider.Reply{Status: http.StatusNoContent}
	case r.Method == http.MethodPost && r.Header.Get("X-Challenge") != "":
		return &provider.Reply{ContentType: "text/plain", Body: []byte(r.Header.Get("X-Challenge")), VerifyFirst: true}
	}
	return nil
}

func (p *metaProvider) offered() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.bodies...)
}

// countingStore counts the dedupe store's claims.
type countingStore struct {
	dedupe.Store
	claims atomic.Int64
}

func (s *countingStore) Claim(ctx context.Context, key, token string, lease time.Duration) (dedupe.Outcome, error) {
	s.claims.Add(1)
	return s.Store.Claim(ctx, key, token, lease)
}

// countingQueue counts enqueued events.
type countingQueue struct {
	receiver.Queue
	enqueued atomic.Int64
}

func (q *countingQueue) Enqueue(ctx context.Context, e *receiver.Event) error {
	q.enqueued.Add(1)
	return q.Queue.Enqueue(ctx, e)
}

type handshakeRig struct {
	p     *metaProvider
	rc    *receiver.Receiver
	rec   *recorder
	store *countingStore
	queue *countingQueue
}

func newHandshakeRig(t *testing.T, opts ...receiver.Option) *handshakeRig {
	t.Helper()
	g := &handshakeRig{
		p:     &metaProvider{testProvider: newTestProvider(t)},
		rec:   newRecorder(nil),
		store: &countingStore{Store: dedupe.NewMemory()},
		queue: &countingQueue{Queue: receiver.NewMemoryQueue(8, 1)},
	}
	var err error
	g.rc, err = receiver.New(g.p, g.rec, append([]receiver.Option{receiver.WithStore(g.store), receiver.WithQueue(g.queue)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.rc.Shutdown(ctx)
		_ = g.store.Store.(*dedupe.Memory).Close()
	})
	return g
}

// untouched asserts that nothing reached the dedupe store, the queue or the
// handler.
func (g *handshakeRig) untouched(t *testing.T) {
	t.Helper()
	assert.Zero(t, g.store.claims.Load(), "dedupe claims")
	assert.Zero(t, g.queue.enqueued.Load(), "events enqueued")
	assert.Zero(t, g.rec.calls.Load(), "handler calls")
}

func TestHandshakeGETChallenge(t *testing.T) {
	g := newHandshakeRig(t)
	get := func(query string) *httptest.ResponseRecorder {
		return serve(g.rc, httptest.NewRequest(http.MethodGet, "/hook?"+query, nil))
	}

	w := get("hub.mode=subscribe&hub.verify_token=" + verifyToken + "&hub.challenge=1158201444")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "1158201444", w.Body.String())
	assert.Equal(t, "text/plain", w.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))

	w = get("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444")
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.NotContains(t, w.Body.String(), "1158201444")

	// A GET the handshake does not answer is still refused.
	w = get("hello=1")
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))

	for _, b := range g.p.offered() {
		assert.Nil(t, b, "a request other than POST is offered with a nil body")
	}
	assert.Len(t, g.p.offered(), 3)
	g.untouched(t)
}

func TestNonPOSTWithoutHandshakerIs405(t *testing.T) {
	rc := newReceiver(t, newRecorder(nil))
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		w := serve(rc, httptest.NewRequest(m, "/hook?hub.mode=subscribe&hub.challenge=x", nil))
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code, m)
		assert.Equal(t, http.MethodPost, w.Header().Get("Allow"), m)
	}
}

func TestHandshakeUnsignedPOSTAnsweredBeforeVerification(t *testing.T) {
	g := newHandshakeRig(t)
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("check"))
	r.Header.Set("X-Check", "1") // no signature
	w := serve(g.rc, r)
	assert.Equal(t, http.StatusNoContent, w.Code)
	require.Len(t, g.p.offered(), 1)
	assert.Equal(t, []byte("check"), g.p.offered()[0])
	g.untouched(t)

	// A POST the handshake does not answer goes through verification.
	r = httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("{}"))
	r.Header.Set("X-Type", "t")
	assert.Equal(t, http.StatusUnauthorized, serve(g.rc, r).Code)
	g.untouched(t)
}

func TestHandshakeVerifyFirst(t *testing.T) {
	g := newHandshakeRig(t)

	forged := request("", "t", []byte("{}"))
	forged.Header.Set("X-Sig", sign([]byte("other")))
	forged.Header.Set("X-Challenge", "abc")
	w := serve(g.rc, forged)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.NotContains(t, w.Body.String(), "abc")

	signed := request("", "t", []byte("{}"))
	signed.Header.Set("X-Challenge", "abc")
	w = serve(g.rc, signed)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "abc", w.Body.String())
	g.untouched(t)

	// A signed event still reaches the handler once.
	require.Equal(t, http.StatusOK, serve(g.rc, request("evt_1", "t", []byte("{}"))).Code)
	g.rec.wait(t, 1)
	assert.Equal(t, int64(1), g.queue.enqueued.Load())
}

func TestHandshakeBodyLimit(t *testing.T) {
	const limit = 16
	g := newHandshakeRig(t, receiver.WithMaxBodyBytes(limit))
	post := func(body []byte, chunked bool) int {
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		r.Header.Set("X-Check", "1")
		if chunked {
			r.ContentLength = -1
			r.Body = readerOnly{bytes.NewReader(body)}
		}
		return serve(g.rc, r).Code
	}
	big := bytes.Repeat([]byte("a"), limit+1)
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(big, false))
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(big, true))
	assert.Empty(t, g.p.offered(), "an oversized body never reaches Handshake")

	within := big[:limit]
	assert.Equal(t, http.StatusNoContent, post(within, true))
	require.Len(t, g.p.offered(), 1)
	assert.Equal(t, within, g.p.offered()[0])
	g.untouched(t)
}

func TestSlackSSLCheckThroughReceiver(t *testing.T) {
	p, err := slack.New("slack-secret")
	require.NoError(t, err)
	rec := newRecorder(nil)
	rc, err := receiver.New(p, rec)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})

	r := httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader("ssl_check=1&token=abc"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := serve(rc, r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, w.Body.String())

	w = serve(rc, httptest.NewRequest(http.MethodGet, "/slack?ssl_check=1", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)

	// An unsigned request that is not an SSL check is refused.
	r = httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader("command=%2Fdeploy&trigger_id=1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	assert.Equal(t, http.StatusUnauthorized, serve(rc, r).Code)
	assert.Zero(t, rec.calls.Load())
}

// typedWrapper wraps a Mux and passes TypeHandler through.
type typedWrapper struct{ m *receiver.Mux }

func (w typedWrapper) HandleEvent(ctx context.Context, e *receiver.Event) error {
	return w.m.HandleEvent(ctx, e)
}
func (w typedWrapper) Handles(eventType string) bool { return w.m.Handles(eventType) }

// plainWrapper wraps a Mux without TypeHandler.
type plainWrapper struct{ m *receiver.Mux }

func (w plainWrapper) HandleEvent(ctx context.Context, e *receiver.Event) error {
	return w.m.HandleEvent(ctx, e)
}

func TestOptionalEventsFollowTypeHandler(t *testing.T) {
	var _ receiver.TypeHandler = (*receiver.Mux)(nil)
	for _, tt := range []struct {
		name    string
		wrap    func(*receiver.Mux) receiver.Handler
		handled bool
	}{
		{"mux", func(m *receiver.Mux) receiver.Handler { return m }, true},
		{"wrapper with Handles", func(m *receiver.Mux) receiver.Handler { return typedWrapper{m} }, true},
		{"wrapper without Handles", func(m *receiver.Mux) receiver.Handler { return plainWrapper{m} }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(nil)
			m := receiver.NewMux()
			m.Handle("ping", rec)
			rc := newReceiver(t, tt.wrap(m))
			require.Equal(t, http.StatusOK, serve(rc, request("p1", "ping", []byte("{}"))).Code)
			if tt.handled {
				rec.wait(t, 1)
			}
			require.NoError(t, rc.Shutdown(ctxTimeout(t, 10*time.Second)))
			assert.Equal(t, tt.handled, rec.calls.Load() == 1)
		})
	}
}

func TestReceiverAliasesAreTheProviderContract(t *testing.T) {
	var env receiver.Envelope = provider.Envelope{ID: "x", Reply: &provider.Reply{Status: 200}}
	var p receiver.Provider = &metaProvider{testProvider: newTestProvider(t)}
	var _ provider.Provider = p
	assert.Equal(t, "x", env.ID)
	assert.Same(t, provider.ErrMalformedEnvelope, receiver.ErrMalformedEnvelope)
}
