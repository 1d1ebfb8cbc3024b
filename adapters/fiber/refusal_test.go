package hookfiber_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	hookfiber "github.com/hookwise/hookwise/adapters/fiber"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

type problem struct{}

func (problem) Error() string        { return "payload: /id: required" }
func (problem) Is(target error) bool { return target == receiver.ErrInvalidPayload }
func (problem) ProblemJSON() []byte  { return []byte(`{"title":"invalid payload"}`) }

// rejectFlagged refuses payloads with "invalid": true.
type rejectFlagged struct{}

func (rejectFlagged) Validate(_ context.Context, e *receiver.Event) error {
	if bytes.Contains(e.Body, []byte(`"invalid":true`)) {
		return problem{}
	}
	return nil
}

// endpoint is a receiver mounted in a Fiber app, counting handled events.
type endpoint struct {
	app     *fiber.App
	rc      *receiver.Receiver
	handled atomic.Int64
}

func newEndpoint(t *testing.T, render bool, errorHandler fiber.ErrorHandler) *endpoint {
	t.Helper()
	ep := &endpoint{}
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		ep.handled.Add(1)
		return nil
	}))
	p, err := github.New(secret)
	require.NoError(t, err)
	opts := []receiver.Option{receiver.WithMaxBodyBytes(1 << 10), receiver.RetryAfter(7 * time.Second),
		receiver.WithValidator(rejectFlagged{}, receiver.RejectInvalid)}
	if render {
		opts = append(opts, receiver.WithErrorRenderer(hookfiber.RenderError))
	}
	ep.rc, err = receiver.New(p, mux, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ep.rc.Shutdown(context.Background()) })
	cfg := fiber.Config{BodyLimit: 4 << 10, DisableStartupMessage: true}
	if errorHandler != nil {
		cfg.ErrorHandler = errorHandler
	}
	ep.app = fiber.New(cfg)
	ep.app.All("/hook", hookfiber.Handler(ep.rc))
	return ep
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (ep *endpoint) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	res, err := ep.app.Test(req, -1)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{res.StatusCode, res.Header, string(b)}
}

func (ep *endpoint) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ep.rc.Drain(ctx))
}

// TestDeliveriesAnsweredAsTheStatusTableSays runs signed, duplicate,
// forged, oversized, invalid, wrong-method and refused-while-closed
// deliveries through each rendering: the receiver's own, RenderError with
// Fiber's DefaultErrorHandler, and RenderError with hookfiber.ErrorHandler.
func TestDeliveriesAnsweredAsTheStatusTableSays(t *testing.T) {
	modes := []struct {
		name    string
		render  bool
		handler fiber.ErrorHandler
		problem bool // a 422 carries the problem+json body
	}{
		{"receiver renders", false, nil, true},
		{"fiber default error handler", true, nil, false},
		{"hookfiber error handler", true, hookfiber.ErrorHandler(nil), true},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ep := newEndpoint(t, m.render, m.handler)
			body := []byte(`{"zen":"Keep it logically awesome."}`)
			id := github.NewDeliveryID()
			a := ep.do(t, github.NewRequest("http://example.test/hook", secret, "custom_event", id, body))
			assert.Equal(t, http.StatusOK, a.status, "signed")
			a = ep.do(t, github.NewRequest("http://example.test/hook", secret, "custom_event", id, body))
			assert.Equal(t, http.StatusOK, a.status, "duplicate")
			ep.drain(t)
			assert.Equal(t, int64(1), ep.handled.Load(), "a duplicate is not handled again")

			a = ep.do(t, github.NewRequest("http://example.test/hook", "wrong-secret", "custom_event", github.NewDeliveryID(), []byte(`{"a":1}`)))
			assert.Equal(t, http.StatusUnauthorized, a.status, "forged")
			assert.Equal(t, "Unauthorized", strings.TrimSpace(a.body), "a 401 says nothing more")

			big := []byte(`{"pad":"` + strings.Repeat("x", 2<<10) + `"}`)
			a = ep.do(t, github.NewRequest("http://example.test/hook", secret, "custom_event", github.NewDeliveryID(), big))
			assert.Equal(t, http.StatusRequestEntityTooLarge, a.status, "over the receiver's limit")

			a = ep.do(t, github.NewRequest("http://example.test/hook", secret, "custom_event", github.NewDeliveryID(), []byte(`{"invalid":true}`)))
			assert.Equal(t, http.StatusUnprocessableEntity, a.status, "invalid")
			if m.problem {
				assert.Equal(t, "application/problem+json", a.header.Get("Content-Type"))
				assert.JSONEq(t, `{"title":"invalid payload"}`, a.body)
			}

			get, err := http.NewRequest(http.MethodGet, "http://example.test/hook", nil)
			require.NoError(t, err)
			a = ep.do(t, get)
			assert.Equal(t, http.StatusMethodNotAllowed, a.status, "GET")
			assert.Equal(t, "POST", a.header.Get("Allow"))

			ep.drain(t)
			assert.Equal(t, int64(1), ep.handled.Load(), "only the signed delivery was handled")

			require.NoError(t, ep.rc.Shutdown(context.Background()))
			a = ep.do(t, github.NewRequest("http://example.test/hook", secret, "custom_event", github.NewDeliveryID(), []byte(`{"late":1}`)))
			assert.Equal(t, http.StatusServiceUnavailable, a.status, "closed")
			assert.Equal(t, "7", a.header.Get("Retry-After"))
		})
	}
}

// TestOverFibersBodyLimitIs413 sends, over a real listener, a body above
// fiber.Config.BodyLimit: fasthttp refuses it with 413 before the receiver
// runs (app.Test reports the closed connection as an error instead).
func TestOverFibersBodyLimitIs413(t *testing.T) {
	ep := newEndpoint(t, true, hookfiber.ErrorHandler(nil))
	base := listen(t, ep.app)
	huge := []byte(`{"pad":"` + strings.Repeat("x", 8<<10) + `"}`)
	res, err := http.DefaultClient.Do(github.NewRequest(base+"/hook", secret, "custom_event", github.NewDeliveryID(), huge))
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	ep.drain(t)
	assert.Zero(t, ep.handled.Load())
}

func TestRefusalErrorIsAFiberErrorWithoutTheCause(t *testing.T) {
	var got error
	ep := newEndpoint(t, true, func(c *fiber.Ctx, err error) error {
		got = err
		return fiber.DefaultErrorHandler(c, err)
	})
	a := ep.do(t, github.NewRequest("http://example.test/hook", "wrong-secret", "custom_event", github.NewDeliveryID(), []byte(`{"a":1}`)))
	assert.Equal(t, http.StatusUnauthorized, a.status)
	var re *hookfiber.RefusalError
	require.ErrorAs(t, got, &re)
	assert.Equal(t, receiver.ReasonSignature, re.Refusal.Reason)
	var fe *fiber.Error
	require.ErrorAs(t, got, &fe)
	assert.Equal(t, http.StatusUnauthorized, fe.Code)
	assert.Equal(t, "Unauthorized", got.Error())
}

func TestRenderErrorOutsideHandlerWritesTheDefaultAnswer(t *testing.T) {
	rec := &recorderWriter{header: http.Header{}}
	req, err := http.NewRequest(http.MethodPost, "http://example.test/", nil)
	require.NoError(t, err)
	hookfiber.RenderError(rec, req, receiver.Refusal{Status: http.StatusServiceUnavailable, Reason: receiver.ReasonClosed, RetryAfter: 3 * time.Second})
	assert.Equal(t, http.StatusServiceUnavailable, rec.status)
	assert.Equal(t, "3", rec.header.Get("Retry-After"))
}

type recorderWriter struct {
	header http.Header
	status int
}

func (w *recorderWriter) Header() http.Header         { return w.header }
func (w *recorderWriter) WriteHeader(s int)           { w.status = s }
func (w *recorderWriter) Write(p []byte) (int, error) { return len(p), nil }

// readInto parses raw into fctx's request the way fasthttp's server does,
// reusing fctx's buffers.
func readInto(t *testing.T, fctx *fasthttp.RequestCtx, raw string) {
	t.Helper()
	fctx.Request.Reset()
	require.NoError(t, fctx.Request.Read(bufio.NewReader(strings.NewReader(raw))))
}

func rawDelivery(i int) string {
	body := fmt.Sprintf(`{"n":%d}`, i)
	return fmt.Sprintf("POST /hook?n=%d HTTP/1.1\r\nHost: h%d.example\r\nX-Id: id-%04d\r\nX-Tag: a-%04d\r\nX-Tag: b-%04d\r\nContent-Length: %d\r\n\r\n%s",
		i, i, i, i, i, len(body), body)
}

// wantRequest lists what request i must still say after its RequestCtx was reused.
func requestSays(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return fmt.Sprintf("%s %s %s id=%s tag=%v body=%s", r.Method, r.Host, r.URL.RequestURI(), r.Header.Get("X-Id"), r.Header.Values("X-Tag"), b)
}

func conversionSurvivesReuse(t *testing.T, convert func(*fasthttp.RequestCtx) *http.Request) []string {
	t.Helper()
	var fctx fasthttp.RequestCtx
	var reqs []*http.Request
	var bad []string
	for i := range 20 {
		readInto(t, &fctx, rawDelivery(i))
		reqs = append(reqs, convert(&fctx))
	}
	for i, r := range reqs {
		want := fmt.Sprintf("POST h%d.example /hook?n=%d id=id-%04d tag=[a-%04d b-%04d] body={\"n\":%d}", i, i, i, i, i, i)
		if got := requestSays(r); got != want {
			bad = append(bad, fmt.Sprintf("request %d now says %q", i, got))
		}
	}
	return bad
}

// TestConversionSurvivesReuse converts requests read one after another
// into the same RequestCtx, as fasthttp's server does on a keep-alive
// connection, and checks each converted request afterwards. Against
// fasthttpadaptor.ConvertRequest (what Fiber's adaptor middleware uses) it
// fails: every earlier request reads the last one's X-Id and host, and
// one X-Tag value of two is lost.
func TestConversionSurvivesReuse(t *testing.T) {
	ours := conversionSurvivesReuse(t, func(fctx *fasthttp.RequestCtx) *http.Request {
		r, err := hookfiber.ConvertRequest(context.Background(), fctx)
		require.NoError(t, err)
		return r
	})
	assert.Empty(t, ours)

	stock := conversionSurvivesReuse(t, func(fctx *fasthttp.RequestCtx) *http.Request {
		var r http.Request
		require.NoError(t, fasthttpadaptor.ConvertRequest(fctx, &r, true))
		return &r
	})
	assert.NotEmpty(t, stock, "the non-copying conversion is expected to fail this check")
	t.Logf("fasthttpadaptor.ConvertRequest: %d of 20 requests changed; first: %v", len(stock), stock[:min(1, len(stock))])
}

func TestConvertRequestRefusesAnUnparseableURI(t *testing.T) {
	var fctx fasthttp.RequestCtx
	fctx.Request.Header.SetMethod(http.MethodPost)
	fctx.Request.Header.SetRequestURI("/%zz")
	_, err := hookfiber.ConvertRequest(context.Background(), &fctx)
	require.ErrorIs(t, err, hookfiber.ErrBadRequestURI)
}

// FuzzConvertRequest feeds raw HTTP requests (untrusted input) through
// fasthttp's parser and ConvertRequest: no panic, and the converted request
// holds the body and every header value fasthttp parsed, unchanged after
// the RequestCtx is reused.
func FuzzConvertRequest(f *testing.F) {
	for i := range 3 {
		f.Add(rawDelivery(i))
	}
	f.Add("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	f.Add("POST http://other.example/abs?q=1 HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
	f.Add("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		var fctx fasthttp.RequestCtx
		if fctx.Request.Read(bufio.NewReader(strings.NewReader(raw))) != nil {
			return
		}
		wantBody := string(fctx.Request.Body())
		want := map[string][]string{}
		fctx.Request.Header.VisitAll(func(k, v []byte) {
			name := http.CanonicalHeaderKey(string(k))
			if name != "Host" && name != "Transfer-Encoding" {
				want[name] = append(want[name], string(v))
			}
		})
		r, err := hookfiber.ConvertRequest(context.Background(), &fctx)
		if err != nil {
			require.ErrorIs(t, err, hookfiber.ErrBadRequestURI)
			return
		}
		fctx.Request.Reset()
		_ = fctx.Request.Read(bufio.NewReader(strings.NewReader(rawDelivery(99))))
		got, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		assert.Equal(t, wantBody, string(got))
		assert.Equal(t, int64(len(wantBody)), r.ContentLength)
		for k, vs := range want {
			assert.Equal(t, vs, r.Header[k], k)
		}
		_, _ = json.Marshal(r.Header)
	})
}
