package nethttp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/adaptertest"
	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// chiRouter mounts rc the chi way, behind chi's usual middlewares.
func chiRouter(rc http.Handler, mw ...func(http.Handler) http.Handler) chi.Router {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.RealIP, middleware.Recoverer, middleware.RequestSize(1<<20))
	r.Use(mw...)
	r.Post("/webhooks/github", rc.ServeHTTP)
	return r
}

func TestChiStatusTable(t *testing.T) {
	const url = "http://example.com/webhooks/github"
	rc, h := newReceiver(t, receiver.WithMaxBodyBytes(1024))
	r := chiRouter(rc)

	t.Run("signed", func(t *testing.T) {
		assert.Equal(t, http.StatusOK, serve(r, signed(url, issue(1))).Code)
	})
	t.Run("duplicate", func(t *testing.T) {
		assert.Equal(t, http.StatusOK, serve(r, signed(url, issue(1))).Code)
	})
	t.Run("forged", func(t *testing.T) {
		req := signed(url, issue(2))
		req.Header.Set(github.HeaderSignature256, github.Sign("a guess", []byte(issue(2))))
		w := serve(r, req)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Equal(t, "Unauthorized\n", w.Body.String())
	})
	t.Run("oversized", func(t *testing.T) {
		assert.Equal(t, http.StatusRequestEntityTooLarge, serve(r, signed(url, padded(1025))).Code)
		assert.Equal(t, http.StatusOK, serve(r, signed(url, padded(1024))).Code)
	})
	t.Run("other method", func(t *testing.T) {
		// chi answers a method the route lacks itself (405, Allow: POST).
		w := serve(r, httptest.NewRequest(http.MethodGet, "/webhooks/github", nil))
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
		assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))
	})
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 2, "the signed delivery once, the delivery at the limit once")
}

func TestChiRequestSizeMiddlewareIs413(t *testing.T) {
	// chi's RequestSize wraps the body in http.MaxBytesReader: a chunked
	// body over its limit is refused 413 by the receiver's table.
	rc, h := newReceiver(t)
	r := chi.NewRouter()
	r.Use(middleware.RequestSize(512))
	r.Post("/webhooks/github", rc.ServeHTTP)
	req := signed("http://example.com/webhooks/github", padded(2048))
	req.ContentLength = -1
	req.Body = io.NopCloser(bytes.NewReader([]byte(padded(2048))))
	assert.Equal(t, http.StatusRequestEntityTooLarge, serve(r, req).Code)
	drain(t, rc)
	assert.Empty(t, h.List())
}

func TestChiRawBodyIntact(t *testing.T) {
	rc, h := newReceiver(t)
	r := chiRouter(rc, middleware.CleanPath, middleware.Compress(5), middleware.NoCache)
	srv := httptest.NewServer(r)
	defer srv.Close()
	req := signed(srv.URL+"/webhooks/github", rawBody)
	req.RequestURI = ""
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, []byte(rawBody), events[0].Body, "the handler gets the raw body byte for byte")
}

func TestChiOneRoutePerProviderFromTheCatalog(t *testing.T) {
	receivers := map[string]http.Handler{}
	recorded := map[string]*adaptertest.Handled{}
	for _, name := range []string{"github", "stripe"} {
		p, err := providers.New(name, providers.Config{Secrets: []string{secret}})
		require.NoError(t, err)
		h := &adaptertest.Handled{}
		mux := receiver.NewMux()
		mux.Handle("*", receiver.HandlerFunc(h.Add))
		rc, err := receiver.New(p, mux)
		require.NoError(t, err)
		t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
		receivers[name], recorded[name] = rc, h
	}
	r := chi.NewRouter()
	r.Post("/webhooks/{provider}", func(w http.ResponseWriter, req *http.Request) {
		rc, ok := receivers[chi.URLParam(req, "provider")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		rc.ServeHTTP(w, req)
	})

	assert.Equal(t, http.StatusOK, serve(r, signed("http://example.com/webhooks/github", issue(1))).Code)
	stripeBody := []byte(`{"id":"evt_1","object":"event","type":"invoice.paid"}`)
	req := stripe.NewRequest("http://example.com/webhooks/stripe", secret, time.Now(), stripeBody)
	assert.Equal(t, http.StatusOK, serve(r, req).Code)
	// A GitHub delivery sent to the Stripe route is not Stripe's.
	assert.Equal(t, http.StatusUnauthorized, serve(r, signed("http://example.com/webhooks/stripe", issue(1))).Code)
	assert.Equal(t, http.StatusNotFound, serve(r, signed("http://example.com/webhooks/gitlab", issue(1))).Code)

	for name, rc := range receivers {
		drain(t, rc.(*receiver.Receiver))
		require.Len(t, recorded[name].List(), 1, name)
	}
	assert.Equal(t, "invoice.paid", recorded["stripe"].List()[0].Type)
}
