// Package hookecho mounts a Hookwise receiver in an echo server.
//
// A receiver is an http.Handler, so echo's own wrapper already mounts it:
//
//	e.POST("/webhooks/stripe", echo.WrapHandler(rc))
//
// That one-liner is enough when refusals may be answered the receiver's way
// (a plain-text status) and no middleware before the route consumes the
// request body: the receiver verifies the signature over the raw bytes,
// exactly as the sender sent them. echo's BodyDump middleware puts back what
// it reads and BodyLimit only counts, so both keep the body intact; c.Bind
// before the receiver would spend it. Handler does what echo.WrapHandler
// does, and more:
//
//   - with ErrorRenderer as the receiver's error renderer, a refused delivery
//     becomes the handler's returned *echo.HTTPError, rendered by the echo
//     server's HTTPErrorHandler like any other error of your application, its
//     Internal error a *RefusalError (Retry-After and Allow headers already
//     set);
//   - a 413 that echo's BodyLimit middleware raised while the receiver read
//     the body is returned as that middleware's own error (413), not as the
//     receiver's 400 for an unreadable body;
//   - the request context answers ctx.Value(key) for a string key from the
//     values middlewares stored with c.Set, so a receiver.Propagator or
//     receiver.Observer on the request path can read them (a tenant, a
//     request ID).
//
// What reaches the asynchronous handler: the event (provider, ID, type,
// headers kept by receiver.WithHeaders, raw body) and whatever a
// receiver.Propagator copied into the event's Meta on the request path.
// Nothing else of the request's context or of the echo.Context does: the
// handler runs after the answer, when echo has already reused the context
// for another request.
//
// Status codes are the receiver's, from its one status table
// (receiver.Classify): 200 accepted, duplicate or handshake; 400 unreadable
// envelope; 401 failed verification (the body never says which check
// failed); 405; 413 oversized; 422 invalid (RejectInvalid); 503 with
// Retry-After when the event cannot be taken now.
package hookecho

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/hookwise/hookwise/receiver"
)

// slotKey is the request-context key of the refusal slot Handler gives
// ErrorRenderer.
type slotKey struct{}

// slot receives the refusal of one request.
type slot struct {
	resp    *echo.Response // the writer Handler gave the receiver
	refused bool
	rf      receiver.Refusal
}

// Handler returns an echo handler that serves h, normally a
// *receiver.Receiver built with ErrorRenderer, for the route it is mounted on:
//
//	e.POST("/webhooks/stripe", hookecho.Handler(rc))
//
// It returns nil when h answered (accepted, duplicate, handshake), and the
// refusal as an *echo.HTTPError when ErrorRenderer recorded one: Code the
// receiver's status, Message its status text (for a 422, the
// application/problem+json document as a json.RawMessage, which echo's
// default error handler sends as application/json), Internal a *RefusalError.
// The request h sees has a context that also answers Value(key) for string
// keys set with c.Set; it lives only as long as the request: do not retain it.
func Handler(h http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := &slot{resp: c.Response()}
		req := c.Request()
		req = req.WithContext(requestContext{Context: req.Context(), c: c, s: s})
		h.ServeHTTP(c.Response(), req)
		if !s.refused {
			return nil
		}
		return httpError(c, s.rf)
	}
}

// httpError turns rf into the echo error Handler returns, with the headers
// the status table asks for already set.
func httpError(c echo.Context, rf receiver.Refusal) error {
	var own *echo.HTTPError
	if errors.As(rf.Err, &own) && own.Code >= http.StatusBadRequest {
		// A middleware's limit hit while the receiver read the body
		// (BodyLimit's 413): echo's own answer.
		return own.WithInternal(&RefusalError{Refusal: rf})
	}
	h := c.Response().Header()
	if rf.Allow != "" {
		h.Set("Allow", rf.Allow)
	}
	if rf.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(receiver.RetryAfterSeconds(rf.RetryAfter)))
	}
	var msg any = http.StatusText(rf.Status)
	if rf.Problem != nil {
		msg = json.RawMessage(rf.Problem)
	}
	return &echo.HTTPError{Code: rf.Status, Message: msg, Internal: &RefusalError{Refusal: rf}}
}

// requestContext is the request's context with echo's values in front of
// its own.
type requestContext struct {
	context.Context
	c echo.Context
	s *slot
}

// Value answers Handler's refusal slot, then a non-nil value set with c.Set
// under a string key, then the request context's value.
func (v requestContext) Value(key any) any {
	if key == (slotKey{}) {
		return v.s
	}
	if k, ok := key.(string); ok {
		if val := v.c.Get(k); val != nil {
			return val
		}
	}
	return v.Context.Value(key)
}

// RefusalError is the Internal error of the *echo.HTTPError Handler returns
// for a refused delivery. Its text names only the status, never the check
// that failed nor anything of the request (echo's error handler in Debug
// mode shows the error's text to the sender); the reason class is in
// Refusal.Reason, and errors.Is and errors.As reach the cause through Unwrap.
type RefusalError struct {
	Refusal receiver.Refusal
}

// Error returns "hookwise: delivery refused: " and the status.
func (e *RefusalError) Error() string {
	return "hookwise: delivery refused: " + strconv.Itoa(e.Refusal.Status) + " " + http.StatusText(e.Refusal.Status)
}

// Unwrap returns the cause of the refusal.
func (e *RefusalError) Unwrap() error { return e.Refusal.Err }

// ErrorRenderer returns an error renderer for receiver.WithErrorRenderer
// that hands refused deliveries to echo instead of writing them:
//
//	rc, err := receiver.New(p, mux, receiver.WithErrorRenderer(hookecho.ErrorRenderer()))
//	e.POST("/webhooks/stripe", hookecho.Handler(rc))
//
// Handler then returns each refusal as an *echo.HTTPError and the server's
// HTTPErrorHandler renders it: customise the answer there, keeping its Code
// and headers, and telling the sender neither the Internal error nor, on a
// 401, RefusalError.Refusal.Reason. On a request that did not come through
// Handler (echo.WrapHandler, or no echo at all) it writes the refusal with
// receiver.WriteRefusal; so it does when an http middleware between Handler
// and the receiver replaced the response writer, so that the middleware sees
// the answer.
func ErrorRenderer() func(http.ResponseWriter, *http.Request, receiver.Refusal) {
	return func(w http.ResponseWriter, r *http.Request, rf receiver.Refusal) {
		s, ok := r.Context().Value(slotKey{}).(*slot)
		if resp, isResp := w.(*echo.Response); !ok || s == nil || !isResp || resp != s.resp {
			// Not through Handler, or an http middleware between Handler and
			// the receiver wraps the writer: answer through w, which that
			// middleware watches.
			receiver.WriteRefusal(w, rf)
			return
		}
		s.refused, s.rf = true, rf
	}
}
