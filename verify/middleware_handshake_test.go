package verify_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/verify"
)

const verifyToken = "meta-verify-token"

// challenger is a Verifier with handshakes: a Meta-like GET challenge
// (hub.verify_token must equal verifyToken, else 403), an unsigned POST check
// (X-Check: 1, answered 204) and a signed POST challenge (X-Challenge,
// answered only once verified). It records the bodies it was offered.
type challenger struct {
	*verify.SchemeVerifier
	offered [][]byte
}

func (c *challenger) Handshake(r *http.Request, body []byte) *verify.Reply {
	c.offered = append(c.offered, body)
	switch q := r.URL.Query(); {
	case r.Method == http.MethodGet && q.Get("hub.mode") == "subscribe":
		if subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
			return &verify.Reply{Status: http.StatusForbidden}
		}
		return &verify.Reply{ContentType: "text/plain", Body: []byte(q.Get("hub.challenge"))}
	case r.Method == http.MethodPost && r.Header.Get("X-Check") == "1":
		return &verify.Reply{Status: http.StatusNoContent}
	case r.Method == http.MethodPost && r.Header.Get("X-Challenge") != "":
		return &verify.Reply{Body: []byte(r.Header.Get("X-Challenge")), VerifyFirst: true}
	}
	return nil
}

type handshakeRig struct {
	c     *challenger
	h     http.Handler
	calls int // of the next handler
}

func newHandshakeRig(t *testing.T, opts ...verify.MiddlewareOption) *handshakeRig {
	t.Helper()
	v, err := verify.NewScheme(verify.Scheme{Hash: sha256.New, Secrets: [][]byte{[]byte("k")}, Header: "X-Sig", Prefix: "sha256="})
	require.NoError(t, err)
	g := &handshakeRig{c: &challenger{SchemeVerifier: v}}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls++
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})
	g.h = verify.Middleware(g.c, opts...)(next)
	return g
}

func (g *handshakeRig) sign(b []byte) string {
	return "sha256=" + hex.EncodeToString(g.c.HMAC().Sign(b))
}

func (g *handshakeRig) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	return w
}

func TestMiddlewareHandshakeGETChallenge(t *testing.T) {
	g := newHandshakeRig(t)
	get := func(query string) *httptest.ResponseRecorder {
		return g.serve(httptest.NewRequest(http.MethodGet, "/hook?"+query, nil))
	}

	w := get("hub.mode=subscribe&hub.verify_token=" + verifyToken + "&hub.challenge=1158201444")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "1158201444", w.Body.String())
	assert.Equal(t, "text/plain", w.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))

	w = get("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444")
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.NotContains(t, w.Body.String(), "1158201444")

	// A GET the handshake does not answer is verified as before: unsigned, 401.
	assert.Equal(t, http.StatusUnauthorized, get("hello=1").Code)

	require.Len(t, g.c.offered, 3)
	for _, b := range g.c.offered {
		assert.Nil(t, b, "a request other than POST is offered with a nil body")
	}
	assert.Zero(t, g.calls, "next handler calls")
}

func TestMiddlewareHandshakePOST(t *testing.T) {
	g := newHandshakeRig(t)

	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("check"))
	r.Header.Set("X-Check", "1") // unsigned
	assert.Equal(t, http.StatusNoContent, g.serve(r).Code)
	require.Len(t, g.c.offered, 1)
	assert.Equal(t, []byte("check"), g.c.offered[0])

	// A signed challenge is answered only once verified.
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	r.Header.Set("X-Challenge", "abc")
	r.Header.Set("X-Sig", g.sign([]byte("other")))
	w := g.serve(r)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.NotContains(t, w.Body.String(), "abc")

	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	r.Header.Set("X-Challenge", "<script>")
	r.Header.Set("X-Sig", g.sign([]byte("{}")))
	w = g.serve(r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "<script>", w.Body.String())
	assert.Equal(t, "text/plain; charset=utf-8", w.Header().Get("Content-Type"), "an echoed challenge is never sniffed as HTML")
	assert.Zero(t, g.calls, "next handler calls")

	// Any other signed POST reaches the next handler.
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	r.Header.Set("X-Sig", g.sign([]byte("{}")))
	assert.Equal(t, http.StatusAccepted, g.serve(r).Code)
	assert.Equal(t, 1, g.calls)
}

func TestMiddlewareHandshakeBodyLimit(t *testing.T) {
	const limit = 16
	g := newHandshakeRig(t, verify.MaxBodyBytes(limit))
	post := func(body []byte, chunked bool) int {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("X-Check", "1")
		if chunked {
			r.ContentLength = -1
		}
		return g.serve(r).Code
	}
	big := bytes.Repeat([]byte("a"), limit+1)
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(big, false))
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(big, true))
	assert.Empty(t, g.c.offered, "an oversized body never reaches Handshake")
	assert.Equal(t, http.StatusNoContent, post(big[:limit], true))
	require.Len(t, g.c.offered, 1)
	assert.Equal(t, big[:limit], g.c.offered[0])
}

func TestMiddlewareWithHandshaker(t *testing.T) {
	v, err := verify.NewScheme(verify.Scheme{Hash: sha256.New, Secrets: [][]byte{[]byte("k")}, Header: "X-Sig"})
	require.NoError(t, err)
	c := &challenger{SchemeVerifier: v}
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	challenge := func(h http.Handler) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/?hub.mode=subscribe&hub.verify_token="+verifyToken+"&hub.challenge=1", nil))
		return w.Code
	}
	// A wrapped verifier hides its Handshake; WithHandshaker brings it back.
	wrapped := verify.VerifierFunc(c.Verify)
	assert.Equal(t, http.StatusUnauthorized, challenge(verify.Middleware(wrapped)(next)))
	assert.Equal(t, http.StatusOK, challenge(verify.Middleware(wrapped, verify.WithHandshaker(c))(next)))
	// WithHandshaker(nil) turns the stage off.
	assert.Equal(t, http.StatusUnauthorized, challenge(verify.Middleware(c, verify.WithHandshaker(nil))(next)))
}
