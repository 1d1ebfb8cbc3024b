// Package hookgin mounts a Hookwise receiver in a gin engine.
//
// A receiver is an http.Handler, so gin's own wrapper already mounts it:
//
//	r.POST("/webhooks/stripe", gin.WrapH(rc))
//
// That one-liner is enough when no middleware before the route reads the
// request body: the receiver must verify the signature over the raw bytes,
// exactly as the sender sent them. Handler does what gin.WrapH does, and more:
//
//   - it hands the receiver the raw body even when a middleware before it
//     consumed the body with c.ShouldBindBodyWith, which keeps the bytes it
//     read under gin.BodyBytesKey (c.Bind and c.ShouldBind keep nothing, so
//     never call them before the receiver);
//   - it lets the request context answer ctx.Value(key) for a string key from
//     the values middlewares stored with c.Set, as gin.Context.Value does, so a
//     receiver.Propagator or receiver.Observer on the request path can read
//     them (a tenant, a request ID);
//   - with ErrorRenderer as the receiver's error renderer, refused deliveries
//     are answered the gin way: c.AbortWithStatusJSON, and the refusal on
//     c.Errors for gin's logger and your middlewares.
//
// What reaches the asynchronous handler: the event (provider, ID, type,
// headers kept by receiver.WithHeaders, raw body) and whatever a
// receiver.Propagator copied into the event's Meta on the request path.
// Nothing else of the request's context or of the gin.Context does: the
// handler runs after the answer, when gin has already reused the context for
// another request.
//
// Status codes are the receiver's, from its one status table
// (receiver.Classify): 200 accepted, duplicate or handshake; 400 unreadable
// envelope; 401 failed verification (the body never says which check
// failed); 405; 413 oversized; 422 invalid (RejectInvalid); 503 with
// Retry-After when the event cannot be taken now.
package hookgin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/hookwise/hookwise/receiver"
)

// ginKey is the request-context key under which Handler leaves the
// gin.Context for ErrorRenderer.
type ginKey struct{}

// Handler returns a gin handler that serves h, normally a *receiver.Receiver,
// for the route it is mounted on:
//
//	r.POST("/webhooks/stripe", hookgin.Handler(rc))
//
// Before it calls h it restores the raw body a middleware read with
// c.ShouldBindBodyWith (gin.BodyBytesKey), and it gives the request a context
// that also answers Value(key) for string keys set with c.Set, then the
// request context's own values. That context lives only as long as the
// request: do not retain it.
func Handler(h http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		req := c.Request
		if cached, ok := c.Get(gin.BodyBytesKey); ok {
			if body, ok := cached.([]byte); ok {
				req.Body = io.NopCloser(bytes.NewReader(body))
				req.ContentLength = int64(len(body))
			}
		}
		req = req.WithContext(requestContext{Context: req.Context(), c: c})
		h.ServeHTTP(c.Writer, req)
	}
}

// requestContext is the request's context with gin's keys in front of its
// values, as gin.Context.Value looks them up.
type requestContext struct {
	context.Context
	c *gin.Context
}

// Value answers the gin.Context for ErrorRenderer, then a value set with
// c.Set under a string key, then the request context's value.
func (v requestContext) Value(key any) any {
	if key == (ginKey{}) {
		return v.c
	}
	if k, ok := key.(string); ok {
		if val, ok := v.c.Get(k); ok {
			return val
		}
	}
	return v.Context.Value(key)
}

// RefusalError is a refused delivery on c.Errors (as a private gin error, so
// gin's logger prints it and no renderer shows it to the sender). Its text
// names only the status, never the check that failed nor anything of the
// request; the reason class is in Refusal.Reason, and errors.Is and errors.As
// reach the cause through Unwrap.
type RefusalError struct {
	Refusal receiver.Refusal
}

// Error returns "hookwise: delivery refused: " and the status.
func (e *RefusalError) Error() string {
	return "hookwise: delivery refused: " + strconv.Itoa(e.Refusal.Status) + " " + http.StatusText(e.Refusal.Status)
}

// Unwrap returns the cause of the refusal.
func (e *RefusalError) Unwrap() error { return e.Refusal.Err }

// Body is the JSON body Render answers a refusal with:
// {"error":"Unauthorized"}, the status text and nothing else, so a 401
// never says which check failed.
type Body struct {
	Error string `json:"error"`
}

// Render is the default gin rendering of a refused delivery: a 422 with
// its application/problem+json body as it is, any other status as
// c.AbortWithStatusJSON(status, Body{status text}).
func Render(c *gin.Context, rf receiver.Refusal) {
	if rf.Problem != nil {
		c.Data(rf.Status, "application/problem+json", rf.Problem)
		c.Abort()
		return
	}
	c.AbortWithStatusJSON(rf.Status, Body{Error: http.StatusText(rf.Status)})
}

// ErrorRenderer returns an error renderer for receiver.WithErrorRenderer
// that answers refused deliveries through render, the gin way (nil: Render):
//
//	rc, err := receiver.New(p, mux, receiver.WithErrorRenderer(hookgin.ErrorRenderer(nil)))
//	r.POST("/webhooks/stripe", hookgin.Handler(rc))
//
// Whatever render does, the answer keeps the receiver's status table: the
// Retry-After header of a 503 and the Allow header of a 405 are set before
// render runs, the status written is always rf.Status (a render that asks for
// another one, even a 2xx, gets rf.Status), and a render that writes nothing
// still answers rf.Status. The refusal is added to c.Errors as a
// *RefusalError and the chain is aborted. A render must not tell the sender
// rf.Reason on a 401 nor rf.Err ever: Reason is for metrics and logs.
//
// On a request that did not come through Handler (gin.WrapH, or no gin at
// all) there is no gin.Context to render with, and the refusal is written
// by receiver.WriteRefusal; so it is when an http middleware between Handler
// and the receiver replaced the response writer, so that the middleware sees
// the answer.
func ErrorRenderer(render func(c *gin.Context, rf receiver.Refusal)) func(http.ResponseWriter, *http.Request, receiver.Refusal) {
	if render == nil {
		render = Render
	}
	return func(w http.ResponseWriter, r *http.Request, rf receiver.Refusal) {
		c, ok := r.Context().Value(ginKey{}).(*gin.Context)
		if !ok || c == nil || !isWriter(w, c.Writer) {
			// Not through Handler, or an http middleware between Handler and
			// the receiver wraps the writer: answer through w, which that
			// middleware watches.
			receiver.WriteRefusal(w, rf)
			return
		}
		h := c.Writer.Header()
		if rf.Allow != "" {
			h.Set("Allow", rf.Allow)
		}
		if rf.Status == http.StatusServiceUnavailable {
			h.Set("Retry-After", strconv.Itoa(receiver.RetryAfterSeconds(rf.RetryAfter)))
		}
		_ = c.Error(&RefusalError{Refusal: rf})
		writer := c.Writer
		writer.WriteHeader(rf.Status) // recorded, not yet written: a bare Write answers rf.Status too
		c.Writer = statusGuard{ResponseWriter: writer, status: rf.Status}
		defer func() { c.Writer = writer }()
		render(c, rf)
		c.Abort()
		if !writer.Written() {
			writer.WriteHeader(rf.Status)
			writer.WriteHeaderNow()
		}
	}
}

// isWriter reports whether w is gin's writer gw itself.
func isWriter(w http.ResponseWriter, gw gin.ResponseWriter) bool {
	other, ok := w.(gin.ResponseWriter)
	return ok && other == gw
}

// statusGuard writes status whatever status it is asked to write.
type statusGuard struct {
	gin.ResponseWriter
	status int
}

// WriteHeader writes g.status instead of code.
func (g statusGuard) WriteHeader(int) { g.ResponseWriter.WriteHeader(g.status) }
