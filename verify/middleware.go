package verify

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// DefaultMaxBodyBytes is Middleware's body limit unless MaxBodyBytes sets one.
const DefaultMaxBodyBytes = 5 << 20

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*middleware)

type middleware struct {
	max    int64
	reject func(w http.ResponseWriter, r *http.Request, status int, err error)
	hs     Handshaker // the handshake stage, nil for none
	hsSet  bool       // hs set by WithHandshaker
}

// MaxBodyBytes sets the largest body Middleware reads (default
// DefaultMaxBodyBytes); a larger one is answered 413.
func MaxBodyBytes(n int64) MiddlewareOption { return func(m *middleware) { m.max = n } }

// OnReject replaces the answer to a rejected request. The default answers
// the status (401, 413 or 400) with its status text and nothing else: a 401
// never says which check failed.
func OnReject(f func(w http.ResponseWriter, r *http.Request, status int, err error)) MiddlewareOption {
	return func(m *middleware) { m.reject = f }
}

// Middleware returns net/http middleware (chi-compatible) that passes on only
// the requests v verifies. It reads the body once through a limit, verifies
// the raw bytes, and hands the next handler a request whose Body reads those
// same bytes. Use it to add verification to handlers of your own; a
// receiver.Receiver verifies by itself.
//
// When v implements Handshaker (or WithHandshaker sets one), Middleware
// first runs the handshake stage, as a Receiver does: a request other than
// POST is offered to Handshake with a nil body, a POST with its body read
// through the limit, and a non-nil Reply is sent instead of calling next.
// Signed challenges a provider answers only from Parse (Envelope.Reply)
// are not answered here: they reach next once verified, like events.
func Middleware(v Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	m := &middleware{max: DefaultMaxBodyBytes, reject: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
		http.Error(w, http.StatusText(status), status)
	}}
	for _, o := range opts {
		o(m)
	}
	if !m.hsSet {
		m.hs, _ = v.(Handshaker)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost && m.handshake(w, r, v, nil) {
				return
			}
			if r.ContentLength > m.max {
				m.reject(w, r, http.StatusRequestEntityTooLarge, &http.MaxBytesError{Limit: m.max})
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.max))
			if err != nil {
				status := http.StatusBadRequest
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					status = http.StatusRequestEntityTooLarge
				}
				m.reject(w, r, status, err)
				return
			}
			if r.Method == http.MethodPost && m.handshake(w, r, v, body) {
				return
			}
			if err := v.Verify(r, body); err != nil {
				m.reject(w, r, http.StatusUnauthorized, err)
				return
			}
			r2 := r.Clone(r.Context())
			r2.Body = io.NopCloser(bytes.NewReader(body))
			r2.ContentLength = int64(len(body))
			next.ServeHTTP(w, r2)
		})
	}
}
