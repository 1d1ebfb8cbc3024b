// Package hookfiber mounts a Hookwise receiver (or any net/http handler) in
// a Fiber v2 application.
//
// Fiber runs on fasthttp, which reuses a request's memory (its header and
// body buffers, its RequestCtx) for the next request on the same connection
// once the handler returns. A receiver keeps parts of each delivery after
// its answer: the headers and body go into the queued event, the event ID
// may come from a header, and handlers read them asynchronously. Handler
// therefore converts each fasthttp request into a net/http request that owns
// every byte: method, URI, host, remote address, each header name and value
// (all values of a repeated header, in order) and the body are copied. Fiber's
// own adaptor middleware (github.com/gofiber/fiber/v2/middleware/adaptor,
// through fasthttpadaptor.ConvertRequest) does not copy: its header values,
// host and URI are unsafe views of fasthttp's buffers, and a repeated header
// keeps only its last value, so an event handled after the answer can see
// another delivery's headers and ID. This package's tests show it.
//
//	rc, err := receiver.New(p, mux, receiver.WithErrorRenderer(hookfiber.RenderError))
//	app := fiber.New(fiber.Config{ErrorHandler: hookfiber.ErrorHandler(nil)})
//	app.Post("/webhooks/stripe", hookfiber.Handler(rc))
//
// Refusals (401, 413, 503, …) are answered by the receiver itself unless it
// is built with receiver.WithErrorRenderer(RenderError): Handler then
// returns a *RefusalError to Fiber, whose ErrorHandler renders it the
// application's way. The status and reason come from receiver.Classify; the
// Retry-After (503) and Allow (405) headers are set on the response before
// the error is returned. A RefusalError's message is the status text only,
// never the cause, so Fiber's DefaultErrorHandler writes nothing a forger
// could learn from.
//
// Fiber reads the whole body into memory before the handler runs, up to
// fiber.Config.BodyLimit (default 4 MiB), answering 413 itself above it; the
// receiver's own limit (receiver.WithMaxBodyBytes, default 5 MiB) applies
// after. Set BodyLimit at least as large as the receiver's limit.
//
// The net/http request's context is the Fiber context's UserContext
// (c.UserContext()), never the reused *fasthttp.RequestCtx, and is canceled
// when Handler returns.
package hookfiber

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/hookwise/hookwise/receiver"
	"github.com/valyala/fasthttp"
)

// ErrBadRequestURI is returned (wrapped) by ConvertRequest for a request
// target net/http cannot parse. Handler answers it with 400.
var ErrBadRequestURI = errors.New("hookfiber: request URI not parseable")

// Handler returns a Fiber handler that serves each request with h (usually
// a *receiver.Receiver) through a net/http request that owns a copy of
// everything it holds (see ConvertRequest). A refusal rendered by
// RenderError is returned as a *RefusalError for Fiber's ErrorHandler.
func Handler(h http.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithCancel(c.UserContext())
		defer cancel()
		s := &slot{}
		req, err := ConvertRequest(context.WithValue(ctx, slotKey{}, s), c.Context())
		if err != nil {
			return fiber.NewError(http.StatusBadRequest, http.StatusText(http.StatusBadRequest))
		}
		w := &responseWriter{c: c, header: make(http.Header)}
		h.ServeHTTP(w, req)
		if s.rf != nil && !w.wrote {
			rf := *s.rf
			if rf.Allow != "" {
				c.Set(fiber.HeaderAllow, rf.Allow)
			}
			if rf.Status == http.StatusServiceUnavailable {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(receiver.RetryAfterSeconds(rf.RetryAfter)))
			}
			return &RefusalError{Refusal: rf, fe: fiber.NewError(rf.Status, http.StatusText(rf.Status))}
		}
		w.commit(http.StatusOK)
		return nil
	}
}

// ConvertRequest returns a net/http server request for fctx with context
// ctx, owning copies of the method, request URI, host, remote address,
// every header (all values of a repeated one, in order) and the body, so
// that nothing in it changes when fasthttp reuses fctx. It returns an error
// wrapping ErrBadRequestURI when the request target does not parse.
func ConvertRequest(ctx context.Context, fctx *fasthttp.RequestCtx) (*http.Request, error) {
	uri := string(fctx.RequestURI())
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequestURI, err)
	}
	body := bytes.Clone(fctx.PostBody())
	if body == nil {
		body = []byte{}
	}
	req := &http.Request{
		Method:        string(fctx.Method()),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header),
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          string(fctx.Host()),
		RemoteAddr:    fctx.RemoteAddr().String(),
		RequestURI:    uri,
		TLS:           fctx.TLSConnectionState(),
	}
	if !fctx.Request.Header.IsHTTP11() {
		req.Proto, req.ProtoMinor = "HTTP/1.0", 0
	}
	if len(body) > 0 {
		req.Body = &bodyReader{Reader: bytes.NewReader(body)}
	}
	fctx.Request.Header.VisitAll(func(k, v []byte) {
		name := http.CanonicalHeaderKey(string(k))
		switch name {
		case "Host", "Transfer-Encoding":
			// Host is req.Host; fasthttp has already decoded a chunked body.
			return
		}
		req.Header[name] = append(req.Header[name], string(v))
	})
	return req.WithContext(ctx), nil
}

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

// RenderError is a receiver error renderer (receiver.WithErrorRenderer)
// that hands the refusal to Handler, which returns it to Fiber as a
// *RefusalError. Called for a request that did not come through Handler, it
// writes the refusal the receiver's default way (receiver.WriteRefusal).
func RenderError(w http.ResponseWriter, r *http.Request, rf receiver.Refusal) {
	if s, ok := r.Context().Value(slotKey{}).(*slot); ok {
		s.rf = &rf
		return
	}
	receiver.WriteRefusal(w, rf)
}

// RefusalError is a delivery the receiver refused, returned by Handler to
// Fiber's ErrorHandler when the receiver renders errors with RenderError.
// errors.As finds the *fiber.Error in it (its Code is Refusal.Status, its
// Message the status text), so fiber.DefaultErrorHandler answers the right
// status.
type RefusalError struct {
	// Refusal is what the receiver refused, with its status and bounded
	// reason from receiver.Classify. Its Err is for logs only.
	Refusal receiver.Refusal
	fe      *fiber.Error
}

// Error returns the status text alone (never the cause: a 401 must not say
// which check failed).
func (e *RefusalError) Error() string { return e.fe.Message }

// Unwrap returns the *fiber.Error carrying the status.
func (e *RefusalError) Unwrap() error { return e.fe }

// ErrorHandler returns a Fiber ErrorHandler that renders a *RefusalError as
// the receiver would (status text as plain text; a 422's problem+json body)
// and hands every other error to next (fiber.DefaultErrorHandler when nil).
func ErrorHandler(next fiber.ErrorHandler) fiber.ErrorHandler {
	if next == nil {
		next = fiber.DefaultErrorHandler
	}
	return func(c *fiber.Ctx, err error) error {
		var re *RefusalError
		if !errors.As(err, &re) {
			return next(c, err)
		}
		c.Status(re.Refusal.Status)
		if len(re.Refusal.Problem) > 0 {
			c.Set(fiber.HeaderContentType, "application/problem+json")
			return c.Send(re.Refusal.Problem)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.SendString(re.Error())
	}
}

type slotKey struct{}

// slot receives the refusal RenderError is given for one request.
type slot struct{ rf *receiver.Refusal }

// responseWriter writes a net/http handler's answer into the Fiber
// response: headers and status on the first Write or WriteHeader, the body
// copied into fasthttp's response buffer.
type responseWriter struct {
	c      *fiber.Ctx
	header http.Header
	wrote  bool
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.wrote || status < 100 || status > 999 {
		return
	}
	w.commit(status)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.commit(http.StatusOK)
	}
	w.c.Response().AppendBody(p)
	return len(p), nil
}

// commit copies the headers and status into the Fiber response once.
func (w *responseWriter) commit(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	res := w.c.Response()
	for k, vs := range w.header {
		if k == "Content-Length" || k == "Transfer-Encoding" {
			continue // fasthttp frames the body itself
		}
		for _, v := range vs {
			res.Header.Add(k, v)
		}
	}
	if ct := w.header.Get("Content-Type"); ct == "" {
		res.Header.SetContentType("text/plain; charset=utf-8")
	}
	res.SetStatusCode(status)
}
